#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for the series tool's core (series_core.py): the lines, the
entries each takes and a line's own variants of files, and the
submissions of linux/submissions with who each is addressed to.

They read the project's own linux/ folder; nothing is built.
"""

import contextlib
import io
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import series_core  # noqa: E402


class SubmissionTest(unittest.TestCase):
	"""Who a submission of linux/submissions is addressed to."""

	FIELDS = {'name': 'vfio-cdx', 'prefix': 'PATCH', 'entries': '0001 0002'}

	def submission(self, **fields):
		with contextlib.redirect_stderr(io.StringIO()):
			return series_core.Submission(dict(self.FIELDS, **fields),
						      1, series_core.PRIMARY,
						      ['0001', '0002', '0003'])

	def test_takes_its_range(self):
		self.assertEqual(self.submission().numbers, ['0001', '0002'])
		self.assertEqual(self.submission(entries='0002 0003').numbers,
				 ['0002', '0003'])

	def test_range_must_exist_and_ascend(self):
		for entries in ('0003 0002', '0001 0009', '0000 0001'):
			with self.subTest(entries=entries), \
					self.assertRaises(SystemExit):
				self.submission(entries=entries)

	def test_cover_letter_needed(self):
		with self.assertRaises(SystemExit):
			self.submission(name='no-such-submission')

	def test_maintainers_to_by_default(self):
		self.assertTrue(self.submission().maintainers_to)
		self.assertTrue(self.submission(maintainers='to').maintainers_to)

	def test_maintainers_cc(self):
		sub = self.submission(to='stable@vger.kernel.org', maintainers='cc')
		self.assertFalse(sub.maintainers_to)
		self.assertEqual(sub.to, ['stable@vger.kernel.org'])

	def test_cc_needs_an_address_to(self):
		with self.assertRaises(SystemExit):
			self.submission(maintainers='cc')

	def test_unknown_value(self):
		with self.assertRaises(SystemExit):
			self.submission(to='stable@vger.kernel.org', maintainers='bcc')

	def test_lines(self):
		"""The 6.12.y line takes every entry; the 7.3 line its own
		entries where it has them, from its own base, which a suite of
		trixie-backports pins."""
		line = series_core.line_named('7.3')
		self.assertEqual((line.pkg, line.suite),
				 ('linux-source-7.3', 'trixie-backports'))
		self.assertTrue(line.tarball().startswith(series_core.CACHE))
		self.assertEqual(series_core.PRIMARY.tarball(),
				 '/usr/src/linux-source-6.12.tar.xz')
		numbers = [e.name[:4] for e in series_core.pool()]
		self.assertEqual([e.name[:4] for e in series_core.entries()],
				 numbers)
		taken = series_core.entries(line)
		self.assertEqual([e.name[:4] for e in taken][:3],
				 ['0001', '0002', '0003'])
		# the line's own 0003 is not the 6.12.y line's
		own = {e.name[:4]: e for e in taken}['0003']
		self.assertTrue(own.path.startswith(line.folder))
		self.assertNotEqual(own.name, series_core.entries()[2].name)

	def test_line_variant_of_a_file(self):
		"""A line takes its own variant of a file where it has one."""
		line = series_core.line_named('7.3')
		with tempfile.TemporaryDirectory() as tmp:
			folder, line.folder = line.folder, tmp
			try:
				os.makedirs(os.path.join(tmp, 'patches'))
				own = os.path.join(tmp, 'patches', 'x.diff')
				open(own, 'w').close()
				self.assertEqual(line.source('linux/patches/x.diff'),
						 own)
				self.assertEqual(line.source('kunit/y.c'), os.path.join(
					series_core.TOP, 'kunit/y.c'))
				self.assertEqual(series_core.PRIMARY.source(
					'linux/patches/x.diff'), os.path.join(
					series_core.TOP, 'linux/patches/x.diff'))
			finally:
				line.folder = folder

	def test_line_deltas(self):
		"""A line's diffs on top of an entry are its NNNN-*.diff files."""
		line = series_core.line_named('7.3')
		entry = series_core.pool()[0]
		with tempfile.TemporaryDirectory() as tmp:
			folder, line.folder = line.folder, tmp
			try:
				os.makedirs(os.path.join(tmp, 'series'))
				for name in ('0001-b.diff', '0001-a.diff', '0002-a.diff',
					     '0001-a.commit'):
					open(os.path.join(tmp, 'series', name), 'w').close()
				self.assertEqual(
					[os.path.basename(d) for d in line.deltas(entry)],
					['0001-a.diff', '0001-b.diff'])
				self.assertEqual(series_core.PRIMARY.deltas(entry), [])
			finally:
				line.folder = folder

	def test_stable_goes_to_stable_alone(self):
		subs = {s.name: s for s in series_core.submissions()}
		stable = subs['stable-6.12.y']
		self.assertEqual(stable.to, ['stable@vger.kernel.org'])
		self.assertFalse(stable.maintainers_to)
		self.assertTrue(all(s.maintainers_to for s in subs.values()
				    if s is not stable))


if __name__ == '__main__':
	unittest.main()
