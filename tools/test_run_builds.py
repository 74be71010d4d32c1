#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for the builds of tools/run.py (run_builds.py): how a
compiler's reports are read for the series' files, the Kbuild combinations
and how their builds are judged, the unload test's rows, and what lets a
run skip a build (a commit that changes no file a build reads; user space
that all passed, run_user.all_passed()).
"""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_builds  # noqa: E402
import run_common  # noqa: E402
import run_user  # noqa: E402
import testutil  # noqa: E402
import uml_user  # noqa: E402


class CompilerReportsTest(unittest.TestCase):
	"""GCC's and sparse's reports, counted for the series' files only."""

	FILES = {'samples/vfio/vfio_sample_phys.c', 'drivers/iommu/iommu.c'}

	def test_series_files_only(self):
		lines = [
			'../samples/vfio/vfio_sample_phys.c:12:5: warning: no '
			'previous prototype for \'f\' [-Wmissing-prototypes]',
			'drivers/iommu/iommu.c:80:1: warning: symbol \'x\' was '
			'not declared. Should it be static?',
			'drivers/iommu/dma-iommu.c:3:1: warning: other file',
			f'{run_common.KSRC}/drivers/iommu/iommu.c:9:2: error: broken',
			'  CC      samples/vfio/vfio_sample_phys.o',
		]
		found = run_builds.compiler_reports(lines, self.FILES)
		self.assertEqual(sorted(found), sorted(self.FILES))
		self.assertEqual(len(found['drivers/iommu/iommu.c']), 2)
		self.assertEqual(len(found['samples/vfio/vfio_sample_phys.c']), 1)

	def test_clean(self):
		self.assertEqual(run_builds.compiler_reports(
			['  CHECK   drivers/iommu/iommu.c'], self.FILES), {})


class UnloadTestTest(unittest.TestCase):
	"""The unload test's rows, from a real console log of its boot
	(testdata/vfio-unload-console.log)."""

	LOG = os.path.join(testutil.TESTDATA, 'vfio-unload-console.log')
	LABEL = 'unload test'

	def rows(self, lines):
		results = run_common.Results()
		programs = uml_user.results_by_program(lines)
		testutil.quietly(run_user.count_program, results, programs,
				 'vfio-unload-test', self.LABEL)
		return {row[0]: row[1:3] for row in results.rows}

	def test_real_log(self):
		with open(self.LOG) as f:
			lines = f.read().splitlines()
		self.assertEqual(self.rows(lines), {self.LABEL: (8, 0)})

	def test_a_failed_test_fails_the_row(self):
		with open(self.LOG) as f:
			lines = [l.replace('ok 3 unload_leaked', 'not ok 3 unload_leaked')
				 for l in f.read().splitlines()]
		self.assertEqual(self.rows(lines)[self.LABEL][1], 1)

	def test_no_boot_fails(self):
		self.assertEqual(self.rows([]), {self.LABEL: (0, 1)})

	def test_module_not_built(self):
		results = run_common.Results()
		testutil.quietly(run_builds.unload_test, results, None)
		self.assertEqual([row[1:3] for row in results.rows], [(0, 1)])


class KbuildTest(unittest.TestCase):
	"""The Kbuild combinations and how their builds are judged."""

	def values(self, asked):
		return run_builds.kbuild_values(asked)

	def test_every_value_of_every_symbol(self):
		for sym in run_builds.KBUILD_SYMBOLS:
			seen = {self.values(asked)[sym]
				for _, asked in run_builds.KBUILD_COMBINATIONS}
			self.assertEqual(seen, {'m', 'n'} if sym in
					 run_builds.KBUILD_MODULE_ONLY else
					 {'y', 'm', 'n'}, sym)

	def test_module_only_never_built_in(self):
		for what, asked in run_builds.KBUILD_COMBINATIONS:
			for sym in run_builds.KBUILD_MODULE_ONLY:
				self.assertNotEqual(self.values(asked)[sym], 'y',
						    what)

	def test_unload_combination_has_the_module(self):
		_, asked = run_builds.KBUILD_COMBINATIONS[
			run_builds.UNLOAD_COMBINATION]
		self.assertEqual(self.values(asked)['VFIO_RUST_UNLOAD_TEST'], 'm')

	def test_only_known_symbols(self):
		for what, asked in run_builds.KBUILD_COMBINATIONS:
			self.assertLessEqual(set(asked), set(run_builds.KBUILD_SYMBOLS), what)

	def test_config_values(self):
		with tempfile.NamedTemporaryFile('w', suffix='.config') as f:
			f.write('CONFIG_VFIO_KUNIT_TEST=m\n'
				'# CONFIG_VFIO_IOMMUFD_BENCH is not set\n'
				'CONFIG_SAMPLE_VFIO_PHYSICAL=y\n'
				'CONFIG_SAMPLE_VFIO_PHYSICAL_X=m\n')
			f.flush()
			self.assertEqual(run_builds.config_values(f.name, [
				'VFIO_KUNIT_TEST', 'VFIO_IOMMUFD_BENCH',
				'SAMPLE_VFIO_PHYSICAL', 'SAMPLE_VFIO_EMULATED']),
				{'VFIO_KUNIT_TEST': 'm', 'VFIO_IOMMUFD_BENCH': 'n',
				 'SAMPLE_VFIO_PHYSICAL': 'y',
				 'SAMPLE_VFIO_EMULATED': 'n'})

	def placed(self, values, build_dir):
		"""The objects of values placed where they belong, .ko files made."""
		builtin, modules = set(), set()
		for sym, objects in run_builds.KBUILD_SYMBOLS.items():
			for obj in objects:
				if values[sym] == 'y':
					builtin.add(obj)
				elif values[sym] == 'm':
					modules.add(obj)
					path = os.path.join(build_dir, obj[:-2] + '.ko')
					os.makedirs(os.path.dirname(path), exist_ok=True)
					open(path, 'w').close()
		return builtin, modules

	def test_right_places(self):
		values = self.values(run_builds.KBUILD_COMBINATIONS[1][1])
		with tempfile.TemporaryDirectory() as build:
			builtin, modules = self.placed(values, build)
			self.assertEqual(run_builds.kbuild_problems(values, builtin, modules,
							     build), [])

	def test_wrong_places(self):
		values = self.values({'VFIO_KUNIT_TEST': 'm',
				      'VFIO_IOMMUFD_BENCH': 'n'})
		reg = 'drivers/vfio/tests/vfio_registration_kunit.o'
		bench = 'drivers/vfio/tests/vfio_iommufd_bench.o'
		suite = 'drivers/vfio/tests/vfio_iommufd_kunit.o'
		with tempfile.TemporaryDirectory() as build:
			builtin, modules = self.placed(values, build)
			self.assertEqual(run_builds.kbuild_problems(
				values, builtin | {reg}, modules - {reg}, build),
				[f'{reg} is built in, CONFIG_VFIO_KUNIT_TEST=m'])
			self.assertEqual(run_builds.kbuild_problems(
				values, builtin | {bench}, modules, build),
				[f'{bench} is built in, CONFIG_VFIO_IOMMUFD_BENCH=n'])
			self.assertEqual(run_builds.kbuild_problems(
				values, builtin - {suite}, modules, build),
				[f'{suite} is not built, '
				 'CONFIG_VFIO_IOMMUFD_KUNIT_TEST=y'])
			os.unlink(os.path.join(build, reg[:-2] + '.ko'))
			self.assertEqual(run_builds.kbuild_problems(values, builtin, modules,
							     build),
				[f'{reg[:-2]}.ko missing'])


class ShortcutsTest(unittest.TestCase):
	"""What lets a run skip a build: it must never skip one it needs."""

	def test_files_no_build_reads(self):
		self.assertFalse(run_builds.any_built([
			'Documentation/driver-api/vfio.rst',
			'tools/testing/selftests/vfio/vfio_cdev_uapi_test.c',
			'scripts/coccinelle/api/vfio_iommufd_ops.cocci',
			'MAINTAINERS']))

	def test_files_a_build_reads(self):
		for name in ('drivers/vfio/cdx/main.c', 'samples/vfio/Kconfig',
			     'rust/kernel/vfio.rs', 'scripts/Makefile.build',
			     'include/linux/vfio.h', 'Makefile'):
			self.assertTrue(run_builds.any_built(['Documentation/x.rst', name]),
					name)

	def result(self, statuses, exit_code=0, totals=True):
		tests = dict(statuses)
		counts = {s: sum(1 for v in tests.values() if v == s)
			  for s in uml_user.TOTALS_STATUSES}
		return uml_user.ProgramResult(
			'iommufd', exit_code, 1.0, len(tests), tests,
			counts if totals else None, False)

	def test_all_passed(self):
		ok = self.result([('a', uml_user.PASS), ('b', uml_user.PASS)])
		self.assertTrue(run_user.all_passed({'iommufd': ok}, ['iommufd']))

	def test_not_all_passed(self):
		for bad in (self.result([('a', uml_user.PASS),
					 ('b', uml_user.SKIP)]),
			    self.result([('a', uml_user.FAIL)], exit_code=1),
			    self.result([]),
			    self.result([('a', uml_user.PASS)], exit_code=None)):
			self.assertFalse(run_user.all_passed({'iommufd': bad},
							['iommufd']))
		self.assertFalse(run_user.all_passed({}, ['iommufd']))


if __name__ == '__main__':
	unittest.main()
