#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for the console, TAP and comparison parts of tools/uml_user.py."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uml_user  # noqa: E402
from uml_user import (FAIL, MISSING, PASS, SKIP, XFAIL, XPASS, ERROR,  # noqa: E402
		      ProgramResult, compare, parse_console, parse_tap,
		      program_result, read_expected)

# Output of a kselftest harness program, with kernel messages in between.
IOMMUFD_TAP = '''TAP version 13
1..5
# Starting 5 tests from 2 test cases.
#  RUN           iommufd.simple_close ...
#            OK  iommufd.simple_close
ok 1 iommufd.simple_close
#  RUN           iommufd_ioas.mock_domain.area ...
iommufd_mock: mock device created
#            OK  iommufd_ioas.mock_domain.area
ok 2 iommufd_ioas.mock_domain.area
# iommufd.c:120:huge:Expected 0 (0) == ret (-1)
not ok 3 iommufd_ioas.mock_domain_hugepage.huge
ok 4 basic_fail_nth.basic # SKIP fault injection is not enabled in the kernel
ok 5 iommufd_ioas.two.xf # XFAIL known
# FAILED: 3 / 5 tests passed.
# Totals: pass:2 fail:1 xfail:1 xpass:0 skip:1 error:0'''.splitlines()


def result(name, tests, exit_code=1):
	return ProgramResult(name, exit_code, 1.0, len(tests), dict(tests))


class TapTest(unittest.TestCase):

	def test_statuses(self):
		tap = parse_tap(IOMMUFD_TAP)
		self.assertEqual(tap.plan, 5)
		self.assertEqual(tap.results, {
			'iommufd.simple_close': PASS,
			'iommufd_ioas.mock_domain.area': PASS,
			'iommufd_ioas.mock_domain_hugepage.huge': FAIL,
			'basic_fail_nth.basic': SKIP,
			'iommufd_ioas.two.xf': XFAIL})

	def test_failure_with_diagnostic(self):
		tap = parse_tap(['not ok 7 a.b #  timeout after 30 s'])
		self.assertEqual(tap.results, {'a.b': FAIL})

	def test_xpass_and_error(self):
		tap = parse_tap(['ok 1 a # XPASS unexpected',
				 'not ok 2 b # error setup'])
		self.assertEqual(tap.results, {'a': XPASS, 'b': ERROR})

	def test_not_tap(self):
		tap = parse_tap(['okay then', 'ok', '# ok 3 x', ' ok 4 y',
				 'WARNING: CPU: 0 PID: 1 at x.c:1'])
		self.assertEqual(tap, (None, {}))

	def test_repeated_name_keeps_worse(self):
		tap = parse_tap(['not ok 1 a', 'ok 2 a'])
		self.assertEqual(tap.results, {'a': FAIL})

	def test_missing_results(self):
		run = uml_user.Run('/iommufd', 1, 2.0, ['1..3', 'ok 1 a'])
		res = program_result(run)
		self.assertEqual(res.tests, {'a': PASS, '#2': MISSING,
					     '#3': MISSING})
		self.assertEqual(res.count(MISSING), 2)


class ConsoleTest(unittest.TestCase):

	def test_two_programs(self):
		lines = ['Linux version 6.12.117', 'uml-init: BEGIN /iommufd',
			 'ok 1 a', 'uml-init: END /iommufd exit=0 seconds=3.5',
			 'uml-init: BEGIN /vfio_uapi -v',
			 'not ok 1 b',
			 'uml-init: END /vfio_uapi -v exit=1 seconds=0.2',
			 'uml-init: DONE programs=2 failed=1']
		runs = parse_console(lines)
		self.assertEqual([(r.name, r.exit_code, r.seconds) for r in runs],
				 [('iommufd', 0, 3.5), ('vfio_uapi', 1, 0.2)])
		self.assertEqual(runs[1].lines, ['not ok 1 b'])

	def test_program_that_did_not_end(self):
		runs = parse_console(['uml-init: BEGIN /iommufd_fail_nth',
				      'ok 1 a', 'Kernel panic - not syncing'])
		self.assertEqual(len(runs), 1)
		self.assertIsNone(runs[0].exit_code)
		self.assertFalse(program_result(runs[0]).finished)


class CompareTest(unittest.TestCase):

	def setUp(self):
		self.pristine = {'iommufd': result('iommufd', {
			'a': PASS, 'huge': FAIL, 'mock': FAIL})}
		self.patched = {'iommufd': result('iommufd', {
			'a': PASS, 'huge': FAIL, 'mock': PASS})}
		self.expected = {('iommufd', 'huge'):
				 uml_user.Expected(True, 'MAP_HUGETLB fails')}

	def test_clean(self):
		c = compare(self.pristine, self.patched, self.expected)
		self.assertTrue(c.ok)
		self.assertEqual(c.stale, [])
		self.assertEqual(c.rows, [('iommufd', (1, 2, 0), (2, 1, 0))])

	def test_regression(self):
		self.patched['iommufd'].tests['a'] = FAIL
		c = compare(self.pristine, self.patched, self.expected)
		self.assertFalse(c.ok)
		self.assertEqual(len(c.regressions), 1)

	def test_listed_regression_still_fails(self):
		self.patched['iommufd'].tests['a'] = FAIL
		self.expected[('iommufd', 'a')] = uml_user.Expected(True, 'x')
		c = compare(self.pristine, self.patched, self.expected)
		self.assertFalse(c.ok)
		self.assertEqual(len(c.regressions), 1)

	def test_unlisted_failure(self):
		del self.expected[('iommufd', 'huge')]
		c = compare(self.pristine, self.patched, self.expected)
		self.assertFalse(c.ok)
		self.assertEqual(len(c.unexpected), 1)

	def test_skip_is_no_pass(self):
		fail_nth = result('iommufd_fail_nth', {'basic': SKIP,
						       'map': SKIP}, exit_code=0)
		self.pristine['iommufd_fail_nth'] = fail_nth
		self.patched['iommufd_fail_nth'] = fail_nth
		c = compare(self.pristine, self.patched, self.expected)
		self.assertFalse(c.ok)
		self.assertEqual(len(c.unexpected), 2)
		self.assertEqual(c.rows[1], ('iommufd_fail_nth', (0, 0, 2),
					     (0, 0, 2)))

	def test_stale_entry(self):
		self.expected[('iommufd', 'mock')] = uml_user.Expected(True, 'x')
		self.expected[('iommufd', 'gone')] = uml_user.Expected(True, 'x')
		c = compare(self.pristine, self.patched, self.expected)
		self.assertTrue(c.ok)
		self.assertEqual(len(c.stale), 2)

	def test_missing_test_on_patched(self):
		del self.patched['iommufd'].tests['a']
		c = compare(self.pristine, self.patched, self.expected)
		self.assertEqual(len(c.regressions), 1)

	def test_program_that_did_not_end(self):
		self.patched['iommufd'] = self.patched['iommufd']._replace(
			exit_code=None)
		c = compare(self.pristine, self.patched, self.expected)
		self.assertFalse(c.ok)
		self.assertEqual(len(c.incomplete), 1)

	def test_program_that_did_not_run(self):
		del self.patched['iommufd']
		c = compare(self.pristine, self.patched, self.expected)
		self.assertFalse(c.ok)

	def test_crash_exit_code(self):
		self.patched['iommufd'] = self.patched['iommufd']._replace(
			exit_code=139)
		c = compare(self.pristine, self.patched, self.expected)
		self.assertFalse(c.ok)

	def test_patched_only_program(self):
		self.patched['vfio_uapi'] = result('vfio_uapi', {'u1': PASS,
								 'u2': FAIL})
		c = compare(self.pristine, self.patched, self.expected)
		self.assertEqual(len(c.unexpected), 1)
		self.assertIn(('vfio_uapi', None, (1, 1, 0)), c.rows)

	def test_read_expected(self):
		with tempfile.NamedTemporaryFile('w', suffix='.expected') as f:
			f.write('# comment\n\niommufd a.b fails MAP_HUGETLB: no '
				'hugetlbfs # under UML\n')
			f.flush()
			self.assertEqual(read_expected(f.name), {
				('iommufd', 'a.b'): uml_user.Expected(
					True, 'MAP_HUGETLB: no hugetlbfs # under UML')})
			f.write('iommufd c.d maybe why\n')
			f.flush()
			with self.assertRaises(ValueError):
				read_expected(f.name)


class KunitconfigTest(unittest.TestCase):

	def test_filter(self):
		with tempfile.NamedTemporaryFile('w') as f:
			f.write('# c\nCONFIG_RUST=y\nCONFIG_VFIO=y\n'
				'CONFIG_SAMPLE_RUST_VFIO=y\n# CONFIG_X is not set\n'
				'CONFIG_VFIO_KUNIT_TEST=y\nCONFIG_VFIO=y\n'
				'CONFIG_TRUSTED_KEYS=y\n')
			f.flush()
			text = uml_user.filter_kunitconfig(
				[f.name], exists=lambda s: s != 'VFIO_KUNIT_TEST',
				rust=False)
		self.assertEqual(text, 'CONFIG_VFIO=y\n# CONFIG_X is not set\n'
				 'CONFIG_TRUSTED_KEYS=y\n')


if __name__ == '__main__':
	unittest.main()
