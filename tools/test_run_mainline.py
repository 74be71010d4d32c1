#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for the 7.3 line of tools/run.py (run_mainline.py): the
selftests only the series makes pass, and the rows of the line's
iommufd selftests.
"""

import contextlib
import io
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_mainline  # noqa: E402
import run_matrix  # noqa: E402
import uml_user  # noqa: E402
from run_common import Results  # noqa: E402
from uml_user import ProgramResult, PASS, FAIL, SKIP  # noqa: E402


class MainlineTest(unittest.TestCase):
	"""The 7.3 line's count of the selftests only the series makes pass,
	which fails its row when there are none."""

	@staticmethod
	def result(**tests):
		return ProgramResult('iommufd', 0, 1.0, len(tests), tests)

	def test_only_with_series(self):
		pristine = {'iommufd': self.result(a=FAIL, b=PASS, c=SKIP)}
		patched = {'iommufd': self.result(a=PASS, b=PASS, c=PASS, d=PASS)}
		self.assertEqual(run_mainline.only_with_series(pristine, patched),
				 ['iommufd a', 'iommufd c', 'iommufd d'])

	def test_row_fails_when_nothing_gained(self):
		pristine = {'iommufd': self.result(a=PASS)}
		patched = {'iommufd': self.result(a=PASS)}
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
		rows = {r[0]: r for r in results.rows}
		gained = rows['7.3: selftests the fixes make pass']
		self.assertEqual(gained[1:3], (0, 1))
		# iommufd_fail_nth did not run on the tip: a failure too
		self.assertEqual(rows['7.3: selftest: iommufd_fail_nth'][2], 1)


class MainlineX86Test(unittest.TestCase):
	"""The 7.3 line's x86_64 run: its configs and its lists."""

	def test_configs(self):
		for configs in (run_mainline.X86_KUNITCONFIGS,
				run_mainline.X86_PRISTINE_KUNITCONFIGS):
			self.assertNotIn(uml_user.USER_CONFIG, configs)
			self.assertEqual(configs[-1], run_mainline.X86_CONFIG)
		self.assertIn('drivers/vfio/tests/.kunitconfig',
			      run_mainline.X86_KUNITCONFIGS)
		self.assertNotIn('drivers/vfio/tests/.kunitconfig',
				 run_mainline.X86_PRISTINE_KUNITCONFIGS)

	def test_vfio_pci_row(self):
		# The guests' uAPI matrix has a vfio-pci row on the 7.3 line too
		self.assertEqual(run_matrix.UAPI_RULE_CASES_7_3['pci'],
				 run_matrix.UAPI_RULE_CASES['pci'])
		self.assertEqual(set(run_mainline.X86_MOCK_IOMMUS),
				 {'intel-iommu', 'virtio-iommu'})


if __name__ == '__main__':
	unittest.main()
