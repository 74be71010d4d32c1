#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for the closing line of tools/run.py (run_common.Results):
the sums of the rows and the exit code.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_common import Results  # noqa: E402
from testutil import quietly  # noqa: E402


class ClosingLineTest(unittest.TestCase):
	"""Results.closing_line(): the sums and the exit code."""

	def closing(self, *rows):
		results = Results()
		for row in rows:
			results.add(*row)
		return quietly(results.closing_line)

	def test_sums_and_exit_code(self):
		self.assertEqual(self.closing(('a', 3, 0), ('b', 0, 1, 'x'),
					      ('c', 5, 2)),
				 (1, '\n8 passed, 3 failed\n'))

	def test_all_passed(self):
		self.assertEqual(self.closing(('a', 3, 0), ('b', 1, 0)),
				 (0, '\n4 passed, 0 failed\n'))

	def test_one_failure_is_enough(self):
		self.assertEqual(self.closing(('a', 500, 0), ('b', 0, 1)),
				 (1, '\n500 passed, 1 failed\n'))


if __name__ == '__main__':
	unittest.main()
