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
		"""The primary line is 7.3 at linux/, whose base a suite of
		trixie-backports pins, and takes every entry of linux/series/;
		the 6.12.y stable line at linux/6.12.y/, on the machine's own
		linux-source-6.12, takes entries 0001-0005, its own 0003-0005."""
		self.assertEqual([l.name for l in series_core.LINES],
				 ['7.3', '6.12.y'])
		primary = series_core.PRIMARY
		self.assertIs(primary, series_core.line_named('7.3'))
		self.assertEqual((primary.rel, primary.pkg, primary.suite),
				 ('linux', 'linux-source-7.3', 'trixie-backports'))
		self.assertEqual((primary.ksrc, primary.export_dir), (
			os.path.join(series_core.BUILD, 'linux-7.3'),
			os.path.join(series_core.BUILD, 'series')))
		self.assertTrue(primary.tarball().startswith(series_core.CACHE))
		self.assertIsNone(primary.own_series())
		numbers = [e.name[:4] for e in series_core.pool()]
		self.assertEqual([e.name[:4] for e in series_core.entries()],
				 numbers)
		self.assertTrue(all(e.path.startswith(series_core.SERIES_DIR)
				    for e in series_core.entries()))

		stable = series_core.line_named('6.12.y')
		self.assertEqual((stable.rel, stable.pkg, stable.suite),
				 (os.path.join('linux', '6.12.y'),
				  'linux-source-6.12', None))
		self.assertEqual((stable.ksrc, stable.export_dir), (
			os.path.join(series_core.BUILD, 'linux-6.12.y'),
			os.path.join(series_core.BUILD, 'series-6.12.y')))
		self.assertEqual(stable.tarball(),
				 '/usr/src/linux-source-6.12.tar.xz')
		taken = series_core.entries(stable)
		self.assertEqual([e.name[:4] for e in taken],
				 ['0001', '0002', '0003', '0004', '0005'])
		self.assertLess(len(taken), len(numbers))
		# 0001 and 0002 are the primary line's; 0003-0005 its own
		primary_entries = {e.name[:4]: e for e in series_core.entries()}
		for entry in taken:
			own = entry.name[:4] >= '0003'
			self.assertEqual(entry.path.startswith(
				stable.folder + os.sep), own, entry.path)
			self.assertEqual(entry.name == primary_entries[
				entry.name[:4]].name, not own, entry.name)

	def test_lines_of(self):
		"""--line names one line, none every line; a caller in Python
		without arguments gets the primary line."""
		self.assertEqual(series_core.lines_of(None), [series_core.PRIMARY])

		class Args:
			line = None
		self.assertEqual(series_core.lines_of(Args), series_core.LINES)
		Args.line = '6.12.y'
		self.assertEqual(series_core.lines_of(Args),
				 [series_core.line_named('6.12.y')])

	def test_line_variant_of_a_file(self):
		"""A line takes its own variant of a file where it has one; the
		primary line's files are the repository's."""
		line = series_core.line_named('6.12.y')
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

	def test_stable_files(self):
		"""The 6.12.y line takes the primary line's two fixes unchanged
		(no variant of their files under linux/6.12.y/) and its own
		entries' files from linux/6.12.y/."""
		line = series_core.line_named('6.12.y')
		for entry in series_core.entries(line):
			for _, arg in entry.changes:
				src = line.source(arg)
				self.assertTrue(os.path.isfile(src), src)
				self.assertEqual(src, os.path.join(series_core.TOP, arg))
				self.assertEqual(arg.startswith(line.rel + '/'),
						 entry.name[:4] >= '0003', arg)

	def test_line_deltas(self):
		"""A line's diffs on top of an entry are its NNNN-*.diff files;
		the primary line's series/ is the pool, which has none."""
		line = series_core.line_named('6.12.y')
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
		"""The 6.12.y line's stable-6.12.y submission goes to the stable
		list with the maintainers on Cc; every other submission, of
		either line, goes to the maintainers."""
		stable_line = series_core.line_named('6.12.y')
		subs = {s.name: s for s in series_core.submissions(stable_line)}
		stable = subs['stable-6.12.y']
		self.assertEqual(stable.numbers, ['0003', '0004', '0005'])
		self.assertEqual(stable.to, ['stable@vger.kernel.org'])
		self.assertFalse(stable.maintainers_to)
		self.assertEqual(stable.folder, os.path.join(
			stable_line.export_dir, '03-stable-6.12.y'))
		self.assertTrue(all(s.maintainers_to for s in subs.values()
				    if s is not stable))
		primary = series_core.submissions()
		self.assertNotIn('stable-6.12.y', [s.name for s in primary])
		self.assertTrue(all(s.maintainers_to and not s.to
				    for s in primary))


if __name__ == '__main__':
	unittest.main()
