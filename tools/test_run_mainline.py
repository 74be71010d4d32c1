#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for the mainline line's UML step of tools/run.py
(run_mainline.py): the line it runs, the selftests only the series makes
pass, the rows of the line's iommufd selftests (without a line prefix:
the primary line's rows are the run's own) and the pristine base's log,
shown and not counted.
"""

import contextlib
import io
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_common  # noqa: E402
import run_mainline  # noqa: E402
import run_matrix  # noqa: E402
import series_core  # noqa: E402
import uml_user  # noqa: E402
from run_common import Results  # noqa: E402
from uml_user import ProgramResult, PASS, FAIL  # noqa: E402


class MainlineTest(unittest.TestCase):
	"""The mainline line's count of the selftests only the series makes
	pass, which fails its row when there are none."""

	@staticmethod
	def result(name='iommufd', **tests):
		return ProgramResult(name, 0, 1.0, len(tests), tests,
				     {st: sum(1 for s in tests.values() if s == st)
				      for st in uml_user.TOTALS_STATUSES})

	def test_line(self):
		"""The step runs the primary line, 7.3 at linux/, and holds its
		tip against the line's own list of expected failures."""
		self.assertIs(run_mainline.LINE, series_core.PRIMARY)
		self.assertEqual(run_mainline.LINE.name, '7.3')
		self.assertEqual(run_mainline.EXPECTED, os.path.join(
			series_core.TOP, 'linux', 'iommufd-selftests-uml.expected'))
		expected = uml_user.read_expected(run_mainline.EXPECTED)
		self.assertTrue(expected)
		self.assertEqual({program for program, _ in expected} -
				 set(uml_user.IOMMU_PROGRAMS), set())

	def rows(self, patched, pristine):
		results = Results()
		with tempfile.NamedTemporaryFile('w') as expected, \
				contextlib.redirect_stdout(io.StringIO()):
			expected.write('# nothing expected\n')
			expected.flush()
			saved, run_mainline.EXPECTED = run_mainline.EXPECTED, \
				expected.name
			try:
				run_mainline.iommufd_results(results, patched, pristine)
			finally:
				run_mainline.EXPECTED = saved
		return {r[0]: r for r in results.rows}

	def test_row_fails_when_nothing_gained(self):
		rows = self.rows({'iommufd': self.result(a=PASS)},
				 {'iommufd': self.result(a=PASS)})
		gained = rows['selftests the fixes make pass']
		self.assertEqual(gained[1:3], (0, 1))
		# iommufd_fail_nth did not run on the tip: a failure too
		self.assertEqual(rows['selftest: iommufd_fail_nth'][1:3], (0, 1))
		# the primary line's rows have no line prefix
		self.assertEqual(sorted(rows), ['selftest: iommufd',
						'selftest: iommufd_fail_nth',
						'selftests the fixes make pass'])

	def test_row_passes_with_gained_tests(self):
		patched = {'iommufd': self.result(a=PASS, b=PASS),
			   'iommufd_fail_nth': self.result('iommufd_fail_nth',
							   c=PASS)}
		pristine = {'iommufd': self.result(a=FAIL, b=PASS),
			    'iommufd_fail_nth': self.result('iommufd_fail_nth',
							    c=PASS)}
		rows = self.rows(patched, pristine)
		self.assertEqual(rows['selftests the fixes make pass'][1:],
				 (1, 0, '(1 tests)'))
		self.assertEqual(rows['selftest: iommufd'][1:3], (2, 0))
		self.assertEqual(rows['selftest: iommufd_fail_nth'][1:3], (1, 0))


class X86ConfigsTest(unittest.TestCase):
	"""The x86_64 kernel's options: the UML kernel's but its root file
	system, and x86_64's."""

	def test_configs(self):
		configs = run_common.X86_KUNITCONFIGS
		self.assertNotIn(uml_user.USER_CONFIG, configs)
		self.assertEqual(configs[-1], run_common.X86_CONFIG)
		self.assertEqual([c for c in run_common.KUNITCONFIGS_UML
				  if c != uml_user.USER_CONFIG], configs[:-1])

	def test_vfio_pci_row(self):
		# The guests' uAPI matrix has a vfio-pci row
		self.assertIn('pci', run_matrix.UAPI_RULE_CASES)
		self.assertEqual(run_matrix.X86_DRIVER_KINDS['vfio-pci'], 'pci')


if __name__ == '__main__':
	unittest.main()
