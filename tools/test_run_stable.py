#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for the 6.12.y stable line's proof in tools/run.py
(run_stable.py): the tests only a fix makes pass (the rule of both lines,
run_user.passed_only_on()), the rows of the virtio-iommu fix on x86_64
(virtio_rows()) and the line's commit of an entry (commit_of(), on a small
git tree of its own: nothing is built).
"""

import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_stable  # noqa: E402
import series_core  # noqa: E402
from run_common import Results, VFIO_UAPI_PROGRAM  # noqa: E402
from run_user import passed_only_on  # noqa: E402
from testutil import harness_totals, quietly  # noqa: E402
from uml_user import (ProgramResult, FAIL, MISSING, PASS, SKIP,  # noqa: E402
		      XFAIL)


def program(name, exit_code=0, **tests):
	"""A program's results, with the Totals line its harness prints."""
	return ProgramResult(name, exit_code, 1.0, len(tests), tests,
			     harness_totals(tests))


def iommufd(**tests):
	return program('iommufd', **tests)


class PassedOnlyOnTest(unittest.TestCase):
	"""run_user.passed_only_on(), the rule of both lines' gained tests:
	the tests that pass on the tip and not on a kernel without a fix,
	of programs that ran on both."""

	def test_passes_only_on_tip(self):
		tip = {'iommufd': iommufd(a=PASS, b=PASS, c=FAIL, d=PASS, e=PASS)}
		other = {'iommufd': iommufd(a=FAIL, b=PASS, c=FAIL, d=SKIP,
					    e=XFAIL)}
		self.assertEqual(passed_only_on(tip, other),
				 ['iommufd a', 'iommufd d', 'iommufd e'])

	def test_test_missing_without_the_fix(self):
		tip = {'iommufd': iommufd(a=PASS, b=PASS)}
		other = {'iommufd': iommufd(a=MISSING)}
		self.assertEqual(passed_only_on(tip, other),
				 ['iommufd a', 'iommufd b'])

	def test_program_that_did_not_run_without_the_fix(self):
		"""A program that did not run on the other kernel compares
		nothing: its passes are not counted as gained."""
		tip = {'iommufd': iommufd(a=PASS),
		       'iommufd_fail_nth': program('iommufd_fail_nth', b=PASS,
						   c=FAIL)}
		other = {'iommufd': iommufd(a=FAIL)}
		self.assertEqual(passed_only_on(tip, other), ['iommufd a'])
		self.assertEqual(passed_only_on(tip, {}), [])

	def test_nothing_gained(self):
		tip = {'iommufd': iommufd(a=PASS, b=FAIL)}
		self.assertEqual(passed_only_on(tip, dict(tip)), [])
		self.assertEqual(passed_only_on({}, tip), [])

	def test_only_the_named_programs(self):
		tip = {'iommufd': iommufd(a=PASS),
		       VFIO_UAPI_PROGRAM: program(VFIO_UAPI_PROGRAM,
						  **{'vfio_cdev.vfio_pci.x': PASS})}
		other = {'iommufd': iommufd(a=FAIL),
			 VFIO_UAPI_PROGRAM: program(VFIO_UAPI_PROGRAM,
						    **{'vfio_cdev.vfio_pci.x': FAIL})}
		self.assertEqual(passed_only_on(tip, other), ['iommufd a'])
		self.assertEqual(passed_only_on(tip, other,
						names=(VFIO_UAPI_PROGRAM,)),
				 [f'{VFIO_UAPI_PROGRAM} vfio_cdev.vfio_pci.x'])


# The uAPI test on vfio-pci: the two tests the virtio-iommu bug made fail,
# and two it did not touch.
QEMU_ORDER_HWPT, REPLACE_MOVES_DMA = run_stable.VIRTIO_TESTS
UNTOUCHED = ('vfio_cdev.vfio_pci.bind_short_argsz',
	     'vfio_dma.vfio_pci.no_dma_after_detach')


def uapi(**statuses):
	"""{program: results} of the uAPI test: every test passed but those
	statuses names ({test: status}; MISSING: no result line)."""
	tests = {name: PASS for name in UNTOUCHED + run_stable.VIRTIO_TESTS}
	tests.update(statuses)
	failed = any(s != PASS for s in tests.values())
	return {VFIO_UAPI_PROGRAM: program(VFIO_UAPI_PROGRAM, int(failed),
					   **tests)}


class VirtioRowsTest(unittest.TestCase):
	"""virtio_rows(): the uAPI test on the tip passes, and the tests of
	the virtio-iommu bug pass on the tip and fail without 0005."""

	PROGRAM_ROW = f'6.12.y: x86_64 virtio-iommu: {VFIO_UAPI_PROGRAM}'
	FIX_ROW = '6.12.y: tests only the virtio-iommu fix makes pass'

	def rows(self, tip, other):
		results = Results()
		_, out = quietly(run_stable.virtio_rows, results, tip, other)
		return [r[:3] for r in results.rows], out

	def test_fix_shown(self):
		rows, out = self.rows(uapi(), uapi(**{QEMU_ORDER_HWPT: FAIL,
						       REPLACE_MOVES_DMA: FAIL}))
		self.assertEqual(rows, [(self.PROGRAM_ROW, 4, 0),
					(self.FIX_ROW, 2, 0)])
		self.assertIn(f'ok - 6.12.y: {QEMU_ORDER_HWPT}: pass on the tip, '
			      'fail without 0005\n', out)

	def test_passes_without_the_fix(self):
		"""A test that passes without 0005 does not show its bug."""
		rows, out = self.rows(uapi(), uapi(**{QEMU_ORDER_HWPT: FAIL}))
		self.assertEqual(rows, [(self.PROGRAM_ROW, 4, 0),
					(self.FIX_ROW, 1, 1)])
		self.assertIn(f'not ok - 6.12.y: {REPLACE_MOVES_DMA}: pass on the '
			      'tip, pass without 0005\n', out)

	def test_missing_without_the_fix(self):
		"""A test without a result line (a crash) shows nothing."""
		rows, out = self.rows(uapi(), uapi(**{QEMU_ORDER_HWPT: FAIL,
						       REPLACE_MOVES_DMA: MISSING}))
		self.assertEqual(rows[1], (self.FIX_ROW, 1, 1))
		self.assertIn(f'not ok - 6.12.y: {REPLACE_MOVES_DMA}: pass on the '
			      'tip, missing without 0005\n', out)

	def test_without_the_fix_did_not_run(self):
		for other in ({}, {'iommufd': iommufd(a=PASS)}):
			with self.subTest(other=other):
				rows, out = self.rows(uapi(), other)
				self.assertEqual(rows, [(self.PROGRAM_ROW, 4, 0),
							(self.FIX_ROW, 0, 2)])
				self.assertIn(f'not ok - 6.12.y: {QEMU_ORDER_HWPT}: '
					      'pass on the tip, not run without '
					      '0005\n', out)

	def test_fails_on_the_tip(self):
		failed = uapi(**{QEMU_ORDER_HWPT: FAIL, UNTOUCHED[0]: FAIL})
		rows, out = self.rows(failed, uapi(**{QEMU_ORDER_HWPT: FAIL,
						      REPLACE_MOVES_DMA: FAIL}))
		self.assertEqual(rows, [(self.PROGRAM_ROW, 2, 2),
					(self.FIX_ROW, 1, 1)])
		self.assertIn(f'not ok - 6.12.y: {QEMU_ORDER_HWPT}: fail on the '
			      'tip, fail without 0005\n', out)

	def test_missing_on_the_tip(self):
		tip = uapi()
		del tip[VFIO_UAPI_PROGRAM].tests[REPLACE_MOVES_DMA]
		rows, out = self.rows(tip, uapi(**{QEMU_ORDER_HWPT: FAIL,
						   REPLACE_MOVES_DMA: FAIL}))
		self.assertEqual(rows[1], (self.FIX_ROW, 1, 1))
		self.assertIn(f'{REPLACE_MOVES_DMA}: missing on the tip', out)

	def test_tip_did_not_run(self):
		rows, _ = self.rows({}, uapi(**{QEMU_ORDER_HWPT: FAIL}))
		self.assertEqual(rows, [(self.PROGRAM_ROW, 0, 1)])

	def test_tip_without_tests(self):
		results = Results()
		quietly(run_stable.virtio_rows, results, {
			VFIO_UAPI_PROGRAM: ProgramResult(VFIO_UAPI_PROGRAM, 0, 1.0,
							 None, {})}, {})
		self.assertEqual(results.rows[0][1:], (
			0, 1, f'patched: {VFIO_UAPI_PROGRAM} reported no test'))
		self.assertEqual(results.rows[1][1:3], (0, 2))


def git(tree, *args):
	return subprocess.run(['git', *args], cwd=tree, check=True,
			      capture_output=True, text=True,
			      env=dict(os.environ, GIT_AUTHOR_NAME='t',
				       GIT_AUTHOR_EMAIL='t@example.org',
				       GIT_COMMITTER_NAME='t',
				       GIT_COMMITTER_EMAIL='t@example.org')
			      ).stdout.strip()


class CommitOfTest(unittest.TestCase):
	"""commit_of(): the line's commit of an entry number, in a tree whose
	'series' branch has one commit per entry after tag 'base'."""

	def test_commits_by_number(self):
		line = run_stable.LINE
		numbers = [e.name[:4] for e in series_core.entries(line)]
		self.assertEqual(numbers, ['0001', '0002', '0003', '0004', '0005'])
		with tempfile.TemporaryDirectory() as tree:
			git(tree, 'init', '-q', '-b', 'series')
			git(tree, 'commit', '-q', '--allow-empty', '-m', 'base')
			git(tree, 'tag', 'base')
			commits = {}
			for number in numbers:
				git(tree, 'commit', '-q', '--allow-empty', '-m',
				    f'entry {number}')
				commits[number] = git(tree, 'rev-parse', 'HEAD')
			# another branch checked out: the commits are series'
			git(tree, 'checkout', '-q', '-b', 'other', 'base')
			saved, line.ksrc = line.ksrc, tree
			try:
				found = {n: run_stable.commit_of(n) for n in numbers}
			finally:
				line.ksrc = saved
		self.assertEqual(found, commits)
		self.assertEqual(found[run_stable.BLOCKED_FIX], commits['0002'])
		self.assertEqual(found[run_stable.VIRTIO_FIX], commits['0005'])


if __name__ == '__main__':
	unittest.main()
