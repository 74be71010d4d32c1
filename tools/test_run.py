#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for the kernel log check of tools/run.py."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import check_kernel_log  # noqa: E402

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


if __name__ == '__main__':
	unittest.main()
