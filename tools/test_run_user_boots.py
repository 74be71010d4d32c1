#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for what the boots of tools/run.py run (run_user.py):
build_programs(), the programs of a boot with their arguments,
environment and init words, and step_x86_user(), which programs each
x86_64 guest runs and how its rows are counted, upstream's VFIO
selftests against their list of expected failures included. The builds
and boots are stand-ins.
"""

import contextlib
import io
import os
import sys
import tempfile
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_common  # noqa: E402
import run_user  # noqa: E402
import uml_user  # noqa: E402
from run_common import Results  # noqa: E402
from testutil import harness_totals  # noqa: E402
from uml_user import Program, ProgramResult, PASS, FAIL, SKIP  # noqa: E402


class BuildProgramsTest(unittest.TestCase):
	"""build_programs(): the programs a boot runs, in order, each with
	its arguments, environment and init words; the builds are
	stand-ins."""

	def build(self, **kw):
		def build_selftests(ksrc, include, out, folder=None,
				    programs=uml_user.IOMMU_PROGRAMS, log=None):
			return {name: f'/out/{name}' for name in programs}

		with mock.patch.object(uml_user, 'install_headers',
				       return_value='/inc'), \
				mock.patch.object(uml_user, 'build_selftests',
						  build_selftests):
			return run_user.build_programs('/ksrc', '/work', 'log',
						       vfio=True, **kw)

	def test_uml(self):
		programs = self.build()
		self.assertEqual([run_user.program_name(p) for p in programs],
				 ['vfio_cdev_uapi_test', 'vfio_cdev_stress_test',
				  'vfio_cdev_fail_nth', *uml_user.IOMMU_PROGRAMS])
		self.assertEqual(programs[0], Program('/out/vfio_cdev_uapi_test',
						      ['-V', 'vfio_pci', '-V',
						       'rust_vfio_pci'], None, {},
						      ()))

	def test_upstream(self):
		env = {'VFIO_SELFTESTS_BDF': '0000:00:10.0'}
		programs = self.build(vfio_args=(), vfio_env=env, upstream=True)
		theirs = {run_user.program_name(p): p for p in programs[3:-2]}
		self.assertEqual(list(theirs), list(run_common.VFIO_UPSTREAM_PROGRAMS))
		self.assertEqual(theirs['vfio_pci_driver_test'],
				 ('/out/vfio_pci_driver_test', ['-v', 'iommufd'], None,
				  env, ('iommu-faults',)))
		self.assertEqual(theirs['vfio_dma_mapping_test'],
				 ('/out/vfio_dma_mapping_test', [], None, env, ()))
		self.assertEqual(programs[2], Program('/out/vfio_cdev_fail_nth',
						      [], None, env, ()))


class X86UserTest(unittest.TestCase):
	"""step_x86_user(): which programs each guest runs, with which
	arguments, the rows' labels, and when the pristine base is built; the
	boots and builds are stand-ins."""

	OURS = ['/p/vfio_cdev_uapi_test', '/p/vfio_cdev_stress_test',
		'/p/vfio_cdev_fail_nth']
	UPSTREAM = [f'/p/{n}' for n in run_common.VFIO_UPSTREAM_PROGRAMS]
	IOMMU = ['/p/iommufd', '/p/iommufd_fail_nth']
	ENV = {'VFIO_SELFTESTS_BDF': '0000:00:10.0'}
	REBIND = Program('/p/pci-rebind', ['0000:00:10.0', 'rust_vfio_pci_edu'])

	def run_step(self, selftests=PASS, failed_boot=(), listed='',
		     upstream=None, upstream_listed=''):
		"""Run the step with every boot's selftests giving selftests,
		upstream's VFIO selftests upstream ({guest: status}, else
		PASS), the boots of the IOMMUs failed_boot failing, listed and
		upstream_listed the expected failures' files; (rows, boots: a
		list of (kernel, iommu, programs, args), the bases built)."""
		boots, bases = [], []
		upstream = upstream or {}

		def x86_boot(work, kernel, programs, iommu, log, args=()):
			boots.append((kernel, iommu, programs, list(args)))
			if iommu in failed_boot and kernel != 'base.bz':
				raise uml_user.Error('QEMU failed')
			return mock.Mock(log='console.log', iommu=iommu,
					 log_lines=lambda: [iommu])

		def results_by_program(lines):
			tests = {'fixture.variant.test': selftests}
			ran = {n: ProgramResult(n, 0, 1.0, 1, tests,
						harness_totals(tests))
			       for n in uml_user.IOMMU_PROGRAMS}
			if lines:
				tests = {'fixture.variant.test':
					 upstream.get(lines[0], PASS)}
				ran.update({n: ProgramResult(
					n, 0, 1.0, 1, tests, harness_totals(tests))
					for n in run_common.VFIO_UPSTREAM_PROGRAMS})
			return ran

		def build_programs(ksrc, work, log, vfio, vfio_args=(),
				   vfio_env=None, upstream=False):
			env = dict(vfio_env or {})
			return ([Program(p, list(vfio_args), env=env)
				 for p in self.OURS] if vfio else []) + \
				([Program(p, [], env=env) for p in self.UPSTREAM]
				 if upstream else []) + self.IOMMU

		def pristine_x86(log):
			bases.append(log)
			return '/base-src', 'base.bz'

		results = Results()
		with tempfile.TemporaryDirectory() as work, \
				tempfile.NamedTemporaryFile('w') as expected, \
				tempfile.NamedTemporaryFile('w') as theirs, \
				mock.patch.object(run_user, 'build_programs',
						  build_programs), \
				mock.patch.object(run_user, 'x86_boot', x86_boot), \
				mock.patch.object(run_user, 'build_rebind',
						  lambda out, log: self.REBIND), \
				mock.patch.object(run_user, 'pristine_x86',
						  pristine_x86), \
				mock.patch.object(run_user, 'step_kernel_log'), \
				mock.patch.object(run_user.uml_user,
						  'results_by_program',
						  results_by_program), \
				mock.patch.object(run_user, 'X86_USER_BUILD', work), \
				mock.patch.object(run_user, 'X86_KERNEL', 'tip.bz'), \
				mock.patch.object(run_user, 'X86_EXPECTED',
						  expected.name), \
				mock.patch.object(run_user, 'VFIO_UPSTREAM_EXPECTED',
						  theirs.name), \
				contextlib.redirect_stdout(io.StringIO()):
			expected.write('# expected failures\n' + listed)
			expected.flush()
			theirs.write('# expected failures\n' + upstream_listed)
			theirs.flush()
			run_user.step_x86_user(results)
		return [r[:3] for r in results.rows], boots, bases

	def test_samples_beside_both_iommus(self):
		rows, boots, bases = self.run_step()
		main = [b for b in boots if b[3]]
		self.assertEqual([b[1] for b in main],
				 ['intel-iommu', 'virtio-iommu'])
		for kernel, _, programs, args in main:
			self.assertEqual(kernel, 'tip.bz')
			self.assertEqual(args, ['vfio_sample_devices.count=1'])
			self.assertEqual(programs[:2],
					 [(p, ['-V', 'rust_vfio_pci'], None,
					   self.ENV, ()) for p in self.OURS[:2]])
			self.assertEqual(programs[2], (self.OURS[2],
						       ['-v', 'vfio_pci'], None,
						       self.ENV, ()))
			theirs = 3 + len(self.UPSTREAM)
			self.assertEqual(programs[3:theirs],
					 [(p, [], None, self.ENV, ())
					  for p in self.UPSTREAM])
			self.assertEqual(programs[theirs:], self.IOMMU)
		self.assertEqual(bases, [])
		labels = [r[0] for r in rows]
		for iommu in ('intel-iommu', 'virtio-iommu'):
			self.assertIn((f'x86_64 {iommu}: selftest: iommufd', 1, 0),
				      rows)
			self.assertIn(f'x86_64 {iommu}: uapi: vfio_cdev_uapi_test',
				      labels)
			for name in run_common.VFIO_UPSTREAM_PROGRAMS:
				self.assertIn((f'x86_64 {iommu}: vfio selftest: '
					       f'{name}', 1, 0), rows)

	def test_rust_variant_after_each_guest(self):
		"""Each guest boots again for the Rust variant driver: the edu
		device rebound to it first, then the edu device's tests alone."""
		rows, boots, _ = self.run_step()
		self.assertEqual([(b[1], bool(b[3])) for b in boots],
				 [('intel-iommu', True), ('intel-iommu', False),
				  ('virtio-iommu', True), ('virtio-iommu', False)])
		for kernel, iommu, programs, args in boots[1::2]:
			self.assertEqual((kernel, args), ('tip.bz', []))
			self.assertEqual(programs[0], self.REBIND)
			self.assertEqual(programs[1:4],
					 [(p, ['-v', 'rust_vfio_pci'], None,
					   self.ENV, ()) for p in self.OURS])
			self.assertEqual(programs[4:], [(p, [], None, self.ENV, ())
							for p in self.UPSTREAM])
			label = f'x86_64 {iommu} rust_vfio_pci_edu: '
			labels = [r[0] for r in rows]
			self.assertIn(f'{label}bound through driver_override',
				      labels)
			self.assertIn(f'{label}uapi: vfio_cdev_uapi_test', labels)
			for name in run_common.VFIO_UPSTREAM_PROGRAMS:
				self.assertIn((f'{label}vfio selftest: {name}', 1, 0),
					      rows)

	def test_upstream_failures_listed_per_guest(self):
		"""A failure of upstream's VFIO selftests is not counted in a
		guest it is listed for; unlisted, it fails; listed where it
		passes, it fails too (the list must stay true)."""
		name = run_common.VFIO_UPSTREAM_PROGRAMS[0]
		rows, _, _ = self.run_step(
			upstream={'intel-iommu': SKIP, 'virtio-iommu': PASS},
			upstream_listed=f'{name} fixture.variant.test intel-iommu '
			'a reason\n')
		self.assertIn((f'x86_64 intel-iommu: vfio selftest: {name}', 0, 0),
			      rows)
		self.assertIn((f'x86_64 virtio-iommu: vfio selftest: {name}', 1,
			       0), rows)
		other = run_common.VFIO_UPSTREAM_PROGRAMS[1]
		self.assertIn((f'x86_64 intel-iommu: vfio selftest: {other}', 0,
			       1), rows)
		rows, _, _ = self.run_step(
			upstream_listed=f'{name} fixture.variant.test '
			'intel-iommu,virtio-iommu a reason\n')
		for iommu in ('intel-iommu', 'virtio-iommu'):
			self.assertIn((f'x86_64 {iommu}: vfio selftest: {name}', 1,
				       1), rows)

	def test_upstream_expected_format(self):
		with tempfile.NamedTemporaryFile('w') as f:
			f.write('# c\n\nprog a.b.c intel-iommu why it fails\n')
			f.flush()
			self.assertEqual(run_user.read_upstream_expected(f.name),
					 {('prog', 'a.b.c'): (['intel-iommu'],
							      'why it fails')})
			for bad in ('prog a.b.c why\n', 'prog a.b.c kvm why\n'):
				f.seek(0)
				f.truncate()
				f.write(bad)
				f.flush()
				with self.assertRaises(ValueError):
					run_user.read_upstream_expected(f.name)

	def test_failed_selftest_builds_the_base(self):
		rows, boots, bases = self.run_step(selftests=FAIL)
		self.assertEqual(len(bases), 1)
		self.assertEqual(boots[-1][:2], ('base.bz', 'virtio-iommu'))
		self.assertEqual(boots[-1][2], self.IOMMU)
		self.assertIn(('x86_64 virtio-iommu: selftest: iommufd', 0, 1), rows)

	def test_listed_failure_builds_no_base(self):
		"""A failure listed with its reason is not counted, and the
		base, which would only say whether it fails there too, is not
		built."""
		listed = ''.join(f'{p} fixture.variant.test fails a reason\n'
				 for p in uml_user.IOMMU_PROGRAMS)
		rows, boots, bases = self.run_step(selftests=FAIL, listed=listed)
		self.assertEqual(bases, [])
		self.assertEqual(len(boots), 4)
		self.assertIn(('x86_64 virtio-iommu: selftest: iommufd', 0, 0), rows)

	def test_guest_that_did_not_boot(self):
		rows, boots, bases = self.run_step(failed_boot=('intel-iommu',))
		self.assertIn(('x86_64 intel-iommu: user space', 0, 1), rows)
		self.assertIn(('x86_64 intel-iommu: selftest: iommufd', 0, 1), rows)
		self.assertIn(('x86_64 virtio-iommu: selftest: iommufd', 1, 0), rows)
		# Its selftests did not run: the base is built to compare with
		self.assertEqual(len(bases), 1)


if __name__ == '__main__':
	unittest.main()
