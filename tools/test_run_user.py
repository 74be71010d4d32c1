#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for how tools/run.py counts the user space tests
(run_user.py): the uAPI test's rows and matrix (run_matrix.py), the stress
test's and the fault injection test's results, each checked against its
program's Totals line.

They start from tools/testdata/vfio-user-console.log and
vfio-fail-nth-console.log (see testutil.py), a boot of the 7.3 line's tip
with a device of each of the four samples (DRIVER_KINDS), and break
copies of them the ways a run can go wrong, among them a copy without the
Rust samples' tests.
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
import run_matrix  # noqa: E402
import run_user  # noqa: E402
import uml_user  # noqa: E402
from run_common import Results, VFIO_STRESS_PROGRAM  # noqa: E402
from run_user import step_stress_results  # noqa: E402
from testutil import (edit_console, harness_totals,  # noqa: E402
		      quietly, read_testdata, rust_test)
from uml_user import ProgramResult, MISSING, PASS, FAIL, SKIP  # noqa: E402


# The stress test's names: <fixture>.<variant>.<test>
STRESS_TESTS = [f'vfio_cdev_stress.{v}.{t}'
		for v in ('c_physical', 'c_emulated', 'rust_physical',
			  'rust_emulated')
		for t in ('race_then_detach', 'race_then_close_attached')]


class StressResultsTest(unittest.TestCase):
	"""step_stress_results(): every test must pass; a skip is no pass."""

	def rows(self, programs):
		results = Results()
		with contextlib.redirect_stdout(io.StringIO()):
			step_stress_results(results, programs)
		return [(step, passed, failed) for step, passed, failed, _ in
			results.rows]

	def program(self, statuses, exit_code=0, totals=True):
		tests = dict(zip(STRESS_TESTS, statuses))
		return {VFIO_STRESS_PROGRAM: ProgramResult(
			VFIO_STRESS_PROGRAM, exit_code, 12.0, len(STRESS_TESTS),
			tests, harness_totals(tests) if totals else None)}

	def test_all_pass(self):
		self.assertEqual(self.rows(self.program([PASS] * 8)),
				 [(f'stress: {VFIO_STRESS_PROGRAM}', 8, 0)])

	def test_failure(self):
		statuses = [PASS] * 8
		statuses[3] = FAIL
		self.assertEqual(self.rows(self.program(statuses, exit_code=1)),
				 [(f'stress: {VFIO_STRESS_PROGRAM}', 7, 1)])

	def test_skip_fails(self):
		statuses = [PASS] * 6 + [SKIP] * 2
		self.assertEqual(self.rows(self.program(statuses)),
				 [(f'stress: {VFIO_STRESS_PROGRAM}', 6, 2)])

	def test_did_not_run(self):
		self.assertEqual(self.rows({}),
				 [(f'stress: {VFIO_STRESS_PROGRAM}', 0, 1)])

	def test_crashed(self):
		statuses = [PASS] * 2 + [MISSING] * 6
		self.assertEqual(self.rows(self.program(statuses, exit_code=None)),
				 [(f'stress: {VFIO_STRESS_PROGRAM}', 2, 6)])

	def test_no_tests(self):
		programs = {VFIO_STRESS_PROGRAM: ProgramResult(
			VFIO_STRESS_PROGRAM, 0, 1.0, None, {})}
		self.assertEqual(self.rows(programs),
				 [(f'stress: {VFIO_STRESS_PROGRAM}', 0, 1)])


# The fault injection test's part of a console: two tests per device,
# each with a line of the fault sites of its sequence and its time
FAIL_NTH_CONSOLE = 'vfio-fail-nth-console.log'
FAIL_NTH_SITES = [('vfio-sample-phys', 'qemu_order', 63, 0.19),
		  ('vfio-sample-phys', 'close_attached', 60, 0.21),
		  ('vfio-sample-emul', 'qemu_order', 46, 0.14),
		  ('vfio-sample-emul', 'close_attached', 45, 0.15),
		  ('rust-vfio-phys', 'qemu_order', 64, 0.22),
		  ('rust-vfio-phys', 'close_attached', 61, 0.21),
		  ('rust-vfio-emul', 'qemu_order', 46, 0.14),
		  ('rust-vfio-emul', 'close_attached', 45, 0.15)]
FAIL_NTH_TESTS = len(FAIL_NTH_SITES)
# The markers uml-init writes around the programs, with their arguments.
UAPI_BEGIN = 'uml-init: BEGIN /vfio_cdev_uapi_test -V vfio_pci'
STRESS_BEGIN = 'uml-init: BEGIN /vfio_cdev_stress_test -V vfio_pci'


def fail_nth_console(statuses=None):
	"""The real console of vfio_cdev_fail_nth, with the tests numbered in
	statuses ({n: 'not ok' or 'skip'}) turned into failures or skips, and
	its Totals line and exit code to match."""
	lines = read_testdata(FAIL_NTH_CONSOLE)
	statuses = statuses or {}
	out = []
	for line in lines:
		m = uml_user.TAP_RESULT.match(line)
		n = int(m.group(2)) if m else None
		if statuses.get(n) == 'not ok':
			line = 'not ' + line
		elif statuses.get(n) == 'skip':
			line += ' # SKIP no VFIO device'
		elif line.startswith('# Totals:'):
			fail = sum(1 for s in statuses.values() if s == 'not ok')
			skip = sum(1 for s in statuses.values() if s == 'skip')
			line = (f'# Totals: pass:{FAIL_NTH_TESTS - fail - skip} '
				f'fail:{fail} xfail:0 xpass:0 skip:{skip} error:0')
		elif line.startswith('uml-init: END') and 'not ok' in \
				statuses.values():
			line = line.replace('exit=0', 'exit=1')
		out.append(line)
	return out


class FailNthResultsTest(unittest.TestCase):
	"""step_fail_nth_results(): every test must pass, a skip is no pass;
	the fault sites of each sequence are printed."""

	def rows(self, lines):
		results = Results()
		programs = uml_user.results_by_program(lines)
		_, out = quietly(run_user.step_fail_nth_results, results, programs,
				 lines)
		return [(step, passed, failed) for step, passed, failed, _ in
			results.rows], out

	label = f'fail_nth: {run_common.VFIO_FAIL_NTH_PROGRAM}'

	def test_real_console(self):
		rows, out = self.rows(fail_nth_console())
		self.assertEqual(rows, [(self.label, 8, 0)])
		self.assertIn('vfio_cdev_fail_nth: 8 of 8 tests passed in 2 s', out)
		for driver, test, sites, seconds in FAIL_NTH_SITES:
			self.assertIn(f'    {driver:<18} {test:<16} {sites:>5} fault '
				      f'sites {seconds:>6.2f} s\n', out)

	def test_failure(self):
		rows, out = self.rows(fail_nth_console({3: 'not ok'}))
		self.assertEqual(rows, [(self.label, 7, 1)])
		self.assertIn('fail: vfio_cdev_fail_nth.c_emulated.qemu_order', out)

	def test_skip_fails(self):
		rows, _ = self.rows(fail_nth_console({3: 'skip', 4: 'skip'}))
		self.assertEqual(rows, [(self.label, 6, 2)])

	def test_did_not_run(self):
		rows, _ = self.rows(read_testdata(VFIO_CONSOLE))
		self.assertEqual(rows, [(self.label, 0, 1)])

	def test_crashed(self):
		lines = fail_nth_console()
		rows, _ = self.rows(lines[:lines.index(
			'ok 2 vfio_cdev_fail_nth.c_physical.close_attached') + 1])
		self.assertEqual(rows, [(self.label, 2, 6)])

	def test_totals_that_disagree(self):
		lines = [l.replace('pass:8 ', 'pass:7 ') for l in
			 fail_nth_console()]
		rows, _ = self.rows(lines)
		self.assertEqual(rows, [(self.label, 8, 1)])

	def test_sites_of_other_programs_not_printed(self):
		lines = [l.replace('/vfio_cdev_fail_nth', '/other')
			 for l in fail_nth_console()]
		rows, out = self.rows(lines + read_testdata(VFIO_CONSOLE))
		self.assertEqual(rows, [(self.label, 0, 1)])
		self.assertNotIn('fault sites', out)


# --- Counting the uAPI and stress tests (their TAP on the console) ------------

VFIO_CONSOLE = 'vfio-user-console.log'


# The rows of the uAPI matrix of the real boot: the physical samples
# (c-physical, rust-physical) have every rule but P5 (a driver without the
# PASID callbacks') and S3 (emulated devices'), the emulated ones
# (c-emulated, rust-emulated) P5 and S3 but not the PASID rules of
# physical devices.
C_PHYSICAL_ROW = ('  c-physical      pass  pass  pass  pass     -  pass  pass  pass'
		  '  pass  pass  pass  pass  pass  pass  pass  pass  pass     -'
		  '  pass\n')
C_EMULATED_ROW = ('  c-emulated         -     -     -     -  pass     -  pass  pass'
		  '  pass  pass  pass  pass  pass  pass  pass  pass  pass  pass'
		  '  pass\n')
RUST_PHYSICAL_ROW = C_PHYSICAL_ROW.replace('  c-physical   ', '  rust-physical')
RUST_EMULATED_ROW = C_EMULATED_ROW.replace('  c-emulated   ', '  rust-emulated')


class UapiResultsTest(unittest.TestCase):
	"""step_uapi_results() and step_stress_results() on copies of a real
	run's console: the rows, the uAPI matrix and its expected counts."""

	def count(self, lines, kinds=run_matrix.DRIVER_KINDS):
		"""The rows of lines counted with the drivers kinds, the output,
		the closing line, the exit code and the rows with their notes."""
		programs = uml_user.results_by_program(lines)
		results = Results()

		def steps():
			run_user.step_uapi_results(results, programs, kinds=kinds)
			step_stress_results(results, programs)
		_, out = quietly(steps)
		code, closing = quietly(results.closing_line)
		return ([(step, p, f) for step, p, f, _ in results.rows], out,
			closing.strip(), code, results.rows)

	def test_real_console(self):
		rows, out, closing, code, _ = self.count(read_testdata(VFIO_CONSOLE))
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 156, 0),
					('uapi: matrix', 1, 0),
					('stress: vfio_cdev_stress_test', 8, 0)])
		self.assertEqual((closing, code), ('165 passed, 0 failed', 0))
		self.assertIn('  driver            P1    P2    P3    P4    P5    P6'
			      '    U1    U2    U3    U4    U5    U6    U7    U8    U9'
			      '    S1    S2    S3    S4\n', out)
		for row in (C_PHYSICAL_ROW, C_EMULATED_ROW, RUST_PHYSICAL_ROW,
			    RUST_EMULATED_ROW):
			self.assertIn(row, out)

	def test_markers_with_arguments(self):
		"""uml-init's markers carry the programs' arguments; the
		programs are still known by name."""
		lines = read_testdata(VFIO_CONSOLE)
		self.assertIn(UAPI_BEGIN, lines)
		self.assertIn(STRESS_BEGIN, lines)
		self.assertEqual(list(uml_user.results_by_program(lines)),
				 ['vfio_cdev_uapi_test', VFIO_STRESS_PROGRAM])

	def test_edit_console_keeps_a_real_console(self):
		lines = read_testdata(VFIO_CONSOLE)
		self.assertEqual(edit_console(lines), lines)

	def test_rust_rows_missing(self):
		"""The real boot without the Rust samples' tests, as with the C
		samples' devices only, counted with the line's four drivers:
		each rule that applies to a Rust sample's kind fails the
		matrix."""
		rows, out, closing, code, _ = self.count(
			edit_console(read_testdata(VFIO_CONSOLE), rust_test))
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 78, 0),
					('uapi: matrix', 0, 31),
					('stress: vfio_cdev_stress_test', 4, 0)])
		self.assertEqual((closing, code), ('82 passed, 31 failed', 1))
		self.assertIn(C_PHYSICAL_ROW, out)
		self.assertIn('  rust-physical   MISS  MISS  MISS  MISS     -  MISS'
			      '  MISS  MISS  MISS  MISS  MISS  MISS  MISS  MISS  MISS'
			      '  MISS  MISS     -  MISS\n', out)
		self.assertIn('uAPI matrix: rust-emulated P5: 0 cases, 1 expected',
			      out)

	def test_driver_rows_lost(self):
		lines = edit_console(read_testdata(VFIO_CONSOLE),
				     lambda n: '.c_emulated.' in n and
				     'stress' not in n)
		rows, out, closing, code, _ = self.count(lines)
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 122, 0),
					('uapi: matrix', 0, 13),
					('stress: vfio_cdev_stress_test', 8, 0)])
		self.assertEqual((closing, code), ('130 passed, 13 failed', 1))
		self.assertIn(RUST_EMULATED_ROW, out)
		self.assertIn('  c-emulated         -     -     -     -  MISS     -'
			      '  MISS  MISS  MISS  MISS  MISS  MISS  MISS  MISS  pass'
			      '  MISS  MISS  MISS  MISS\n', out)

	def test_every_u5_test_deleted(self):
		lines = edit_console(read_testdata(VFIO_CONSOLE),
				     lambda n: run_matrix.UAPI_TESTS.get(
					     n.split('.')[-1]) == 'U5')
		rows, out, _, code, _ = self.count(lines)
		self.assertEqual(rows[:2], [('uapi: vfio_cdev_uapi_test', 116, 0),
					    ('uapi: matrix', 0, 4)])
		self.assertEqual(code, 1)
		for driver in run_matrix.DRIVER_KINDS:
			self.assertIn(f'uAPI matrix: {driver} U5: 0 cases, 10 '
				      'expected', out)

	def test_every_pasid_test_deleted(self):
		"""The PASID rules: P1-P4 and P6 on the physical samples, whose
		mock devices have PASIDs, P5 on the emulated ones, which have
		no PASID callbacks; without their tests each fails the
		matrix."""
		lines = edit_console(read_testdata(VFIO_CONSOLE),
				     lambda n: run_matrix.UAPI_TESTS.get(
					     n.split('.')[-1], '').startswith('P'))
		rows, out, _, code, _ = self.count(lines)
		self.assertEqual(rows[:2], [('uapi: vfio_cdev_uapi_test', 136, 0),
					    ('uapi: matrix', 0, 12)])
		self.assertEqual(code, 1)
		for lang in ('c', 'rust'):
			self.assertIn(f'  {lang + "-physical":<14}  MISS  MISS  MISS'
				      '  MISS     -  MISS  pass', out)
			self.assertIn(f'  {lang + "-emulated":<14}     -     -     -'
				      '     -  MISS     -  pass', out)
			for kind, rule, tests in (('physical', 'P1', 2),
						  ('physical', 'P2', 2),
						  ('physical', 'P3', 2),
						  ('physical', 'P4', 1),
						  ('physical', 'P6', 2),
						  ('emulated', 'P5', 1)):
				self.assertIn(f'uAPI matrix: {lang}-{kind} {rule}: 0 '
					      f'cases, {tests} expected\n', out)

	def test_pasid_test_fails(self):
		"""A PASID test that fails fails its program's row and shows in
		its rule's cell; the matrix counts the tests, which are all
		there."""
		name = 'vfio_pasid.c_physical.pasid_replace'
		end = UAPI_BEGIN.replace('BEGIN', 'END')
		lines = [f'not {l}' if l.startswith('ok ') and
			 l.endswith(f' {name}') else
			 l.replace('pass:156 fail:0', 'pass:155 fail:1')
			 .replace('exit=0', 'exit=1') if l.startswith(end) or
			 l.startswith('# Totals: pass:156 ') else l
			 for l in read_testdata(VFIO_CONSOLE)]
		rows, out, _, code, full = self.count(lines)
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 155, 1),
					('uapi: matrix', 1, 0),
					('stress: vfio_cdev_stress_test', 8, 0)])
		self.assertEqual(full[0][3], '')
		self.assertIn('  c-physical      pass  FAIL  pass  pass     -  pass',
			      out)
		self.assertIn(f'  fail: {name}\n', out)
		self.assertEqual(code, 1)

	def test_unknown_test_name(self):
		lines = [l.replace(' vfio_cdev.c_emulated.detach_twice',
				   ' vfio_cdev.c_emulated.detach_thrice')
			 for l in read_testdata(VFIO_CONSOLE)]
		rows, out, _, code, _ = self.count(lines)
		self.assertEqual(rows[:2], [('uapi: vfio_cdev_uapi_test', 156, 0),
					    ('uapi: matrix', 0, 2)])
		self.assertIn('uAPI matrix: unknown test detach_thrice', out)
		self.assertIn('uAPI matrix: c-emulated U6: 1 cases, 2 expected', out)
		self.assertEqual(code, 1)

	def test_stress_did_not_run(self):
		lines = read_testdata(VFIO_CONSOLE)
		begin = lines.index(STRESS_BEGIN)
		rows, out, _, code, _ = self.count(lines[:begin])
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 156, 0),
					('uapi: matrix', 0, 4),
					('stress: vfio_cdev_stress_test', 0, 1)])
		for driver in run_matrix.DRIVER_KINDS:
			self.assertIn(f'uAPI matrix: {driver} U9: 0 cases, 2 '
				      'expected', out)

	def test_lost_result_line(self):
		lines = edit_console(read_testdata(VFIO_CONSOLE),
				     lambda n: n == 'vfio_cdev.c_physical.'
				     'ioctl_before_bind', fix_counts=False)
		rows, _, _, code, full = self.count(lines)
		self.assertEqual(rows[:2], [('uapi: vfio_cdev_uapi_test', 155, 1),
					    ('uapi: matrix', 0, 1)])
		self.assertEqual(full[0][3], 'patched: vfio_cdev_uapi_test: '
				 '"# Totals: pass:156 fail:0 xfail:0 xpass:0 '
				 'skip:0 error:0", but its result lines give '
				 'pass:155 fail:0 xfail:0 xpass:0 skip:0 error:0')

	def test_no_totals_line(self):
		lines = [l for l in read_testdata(VFIO_CONSOLE)
			 if not l.startswith('# Totals:')]
		rows, _, _, code, full = self.count(lines)
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 156, 1),
					('uapi: matrix', 1, 0),
					('stress: vfio_cdev_stress_test', 8, 1)])
		self.assertEqual(full[0][3], 'patched: vfio_cdev_uapi_test: no '
				 '"# Totals:" line')
		self.assertEqual(code, 1)

	def test_totals_that_disagree(self):
		lines = [l.replace('pass:8 ', 'pass:7 skip:1 ')
			 .replace('skip:0 error', 'error') if l.startswith(
			 '# Totals: pass:8 ') else l
			 for l in read_testdata(VFIO_CONSOLE)]
		rows, _, _, code, _ = self.count(lines)
		self.assertEqual(rows[2], ('stress: vfio_cdev_stress_test', 8, 1))
		self.assertEqual(code, 1)

	def xfail_console(self, directive):
		lines = read_testdata(VFIO_CONSOLE)
		name = 'vfio_cdev.c_emulated.detach_unknown_flags'
		lines = [f'{l} # {directive} known' if l.startswith('ok ')
			 and l.endswith(f' {name}') else l for l in lines]
		key = directive.lower()
		return [l.replace('pass:156 ', 'pass:155 ').replace(
			f'{key}:0', f'{key}:1') if l.startswith(
			'# Totals: pass:156 ') else l for l in lines]

	def test_xfail_is_no_pass(self):
		rows, out, _, code, _ = self.count(self.xfail_console('XFAIL'))
		self.assertEqual(rows[:2], [('uapi: vfio_cdev_uapi_test', 155, 1),
					    ('uapi: matrix', 1, 0)])
		self.assertIn('  c-emulated         -     -     -     -  pass     -'
			      '  pass  pass  pass  FAIL  pass', out)
		self.assertIn('xfail: vfio_cdev.c_emulated.detach_unknown_flags', out)
		self.assertEqual(code, 1)

	def test_xpass_is_no_pass(self):
		rows, _, _, code, _ = self.count(self.xfail_console('XPASS'))
		self.assertEqual(rows[0], ('uapi: vfio_cdev_uapi_test', 155, 1))
		self.assertEqual(code, 1)

	def test_stress_timed_out(self):
		lines = read_testdata(VFIO_CONSOLE)
		begin = lines.index(STRESS_BEGIN)
		third = next(i for i, l in enumerate(lines)
			     if i > begin and l.startswith('ok 3 '))
		lines = lines[:third + 1] + [
			'uml-init: /vfio_cdev_stress_test -V vfio_pci still running '
			'after 300 s, killing its process group and every other '
			'process',
			'uml-init: END /vfio_cdev_stress_test -V vfio_pci '
			'exit=timeout seconds=300.0']
		self.assertGreater(third, begin)
		rows, out, _, code, full = self.count(lines)
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 156, 0),
					('uapi: matrix', 0, 3),
					('stress: vfio_cdev_stress_test', 3, 5)])
		self.assertIn('uAPI matrix: c-emulated U9: 1 cases, 2 expected', out)
		for driver in ('rust-physical', 'rust-emulated'):
			self.assertIn(f'uAPI matrix: {driver} U9: 0 cases, 2 '
				      'expected', out)
		self.assertEqual(full[2][3], 'patched: vfio_cdev_stress_test '
				 'timed out after 300 s, killed')


class X86UserTest(unittest.TestCase):
	"""step_x86_user(): which programs each guest runs, with which
	arguments, the rows' labels, and when the pristine base is built; the
	boots and builds are stand-ins."""

	OURS = ['/p/vfio_cdev_uapi_test', '/p/vfio_cdev_stress_test',
		'/p/vfio_cdev_fail_nth']
	UPSTREAM = [f'/p/{n}' for n in run_common.VFIO_UPSTREAM_PROGRAMS]
	IOMMU = ['/p/iommufd', '/p/iommufd_fail_nth']
	ENV = {'VFIO_SELFTESTS_BDF': '0000:00:10.0'}

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
			return ([(p, list(vfio_args), None, env)
				 for p in self.OURS] if vfio else []) + \
				([(p, [], None, env) for p in self.UPSTREAM]
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
		self.assertEqual([b[1] for b in boots],
				 ['intel-iommu', 'virtio-iommu'])
		for kernel, _, programs, args in boots:
			self.assertEqual(kernel, 'tip.bz')
			self.assertEqual(args, ['vfio_sample_devices.count=1'])
			self.assertEqual(programs[:2], [(p, [], None, self.ENV)
							for p in self.OURS[:2]])
			self.assertEqual(programs[2], (self.OURS[2],
						       ['-v', 'vfio_pci'], None,
						       self.ENV))
			self.assertEqual(programs[3:7], [(p, [], None, self.ENV)
							 for p in self.UPSTREAM])
			self.assertEqual(programs[7:], self.IOMMU)
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
		self.assertEqual(len(boots), 2)
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
