#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for the kernel log check of tools/run.py, and for how it
counts the stress test's results."""

import contextlib
import io
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import check_kernel_log  # noqa: E402
from run import Results, VFIO_STRESS_PROGRAM, step_stress_results  # noqa: E402
from uml_user import ProgramResult, MISSING, PASS, FAIL, SKIP  # noqa: E402

BEGIN = '    # case: vfio-kunit: expected WARNING from drivers/vfio/vfio_main.c begins'
END = '    # case: vfio-kunit: expected WARNING ends'
WARN = 'WARNING: CPU: 0 PID: 1 at drivers/vfio/vfio_main.c:317 0x6000'
OTHER_WARN = 'WARNING: CPU: 0 PID: 1 at drivers/iommu/iommufd/device.c:9 0x6000'
LOCKDEP = 'WARNING: possible circular locking dependency detected'


class KernelLogTest(unittest.TestCase):

	def check(self, *lines):
		return check_kernel_log(list(lines))

	def test_clean_log(self):
		self.assertEqual(self.check('ok 1 - a', 'ok 2 - b'), (0, []))

	def test_announced_warning(self):
		seen, problems = self.check(BEGIN, '---[ cut here ]---', WARN, END)
		self.assertEqual((seen, problems), (1, []))

	def test_warning_outside_bracket(self):
		seen, problems = self.check(WARN)
		self.assertEqual(seen, 0)
		self.assertEqual(len(problems), 1)

	def test_warning_from_other_file(self):
		_, problems = self.check(BEGIN, OTHER_WARN, END)
		self.assertEqual(len(problems), 2)

	def test_lockdep_report_in_bracket(self):
		_, problems = self.check(BEGIN, WARN, LOCKDEP, END)
		self.assertEqual(len(problems), 1)

	def test_missing_warning(self):
		_, problems = self.check(BEGIN, END)
		self.assertEqual(len(problems), 1)

	def test_two_warnings(self):
		_, problems = self.check(BEGIN, WARN, WARN, END)
		self.assertEqual(len(problems), 1)

	def test_bug_and_kasan(self):
		_, problems = self.check('BUG: sleeping function called from '
					 'invalid context', 'BUG: KASAN: '
					 'use-after-free in foo')
		self.assertEqual(len(problems), 2)

	def test_two_announced_files(self):
		rust = BEGIN.replace('drivers/vfio/vfio_main.c', 'rust/helpers/vfio.c')
		rust_warn = WARN.replace('drivers/vfio/vfio_main.c', 'rust/helpers/vfio.c')
		self.assertEqual(self.check(rust, BEGIN, WARN, rust_warn, END), (2, []))
		_, problems = self.check(rust, BEGIN, WARN, WARN, END)
		self.assertEqual(len(problems), 2)

	def test_unterminated_bracket(self):
		_, problems = self.check(BEGIN, WARN)
		self.assertEqual(len(problems), 1)


# The stress test's names: <fixture>.<variant>.<test>
STRESS_TESTS = [f'vfio_cdev_stress.{v}.{t}'
		for v in ('c_physical', 'c_emulated', 'rust_physical',
			  'rust_emulated')
		for t in ('u9_race_then_detach', 'u9_race_then_close_attached')]


class StressResultsTest(unittest.TestCase):
	"""step_stress_results(): every test must pass; a skip is no pass."""

	def rows(self, programs):
		results = Results()
		with contextlib.redirect_stdout(io.StringIO()):
			step_stress_results(results, programs)
		return [(step, passed, failed) for step, passed, failed, _ in
			results.rows]

	def program(self, statuses, exit_code=0):
		tests = dict(zip(STRESS_TESTS, statuses))
		return {VFIO_STRESS_PROGRAM: ProgramResult(
			VFIO_STRESS_PROGRAM, exit_code, 12.0, len(STRESS_TESTS),
			tests)}

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


if __name__ == '__main__':
	unittest.main()
