#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for how tools/run.py counts the KUnit suites (run_kunit.py):
the rows of the suites from kunit.py's JSON, skips counted as failures,
and the conformance matrix of vfio_iommufd (run_matrix.py).

They start from tools/testdata/kunit-results.json and
kunit-vfio-test.log (see testutil.py), a run of the 7.3 line on the four
sample drivers (DRIVER_KINDS) with the PASID cases, and break copies of
them the ways a run can go wrong, among them a copy without the Rust
samples' rows.
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_kunit  # noqa: E402
import run_matrix  # noqa: E402
from run_common import Results  # noqa: E402
from testutil import TESTDATA, quietly, read_testdata  # noqa: E402


# --- Counting the KUnit suites (kunit.py's JSON) ------------------------------

def real_kunit_json():
	with open(os.path.join(TESTDATA, 'kunit-results.json')) as f:
		return json.load(f)


# The vfio suites' part of the same run's test.log.
KUNIT_LOG = 'kunit-vfio-test.log'


def suite(group, name):
	return next(s for s in group['sub_groups'] if s['name'] == name)


def vfio_iommufd_case(group, case):
	"""The results (one per driver) of a case of the vfio_iommufd suite."""
	return next(c for c in suite(group, 'vfio_iommufd')['sub_groups']
		    if c['name'] == case)['test_cases']


def drop_cases(group, drop):
	"""Drop the vfio_iommufd results whose case and driver drop(case,
	driver) is true for."""
	for case in suite(group, 'vfio_iommufd')['sub_groups']:
		case['test_cases'] = [r for r in case['test_cases']
				      if not drop(case['name'], r['name'])]
	return group


class SuiteCountsTest(unittest.TestCase):
	"""suite_counts(): (passed, failed, skipped) per suite."""

	def test_real_json(self):
		self.assertEqual(run_kunit.suite_counts(real_kunit_json()), {
			'rust_kernel_fmt': (1, 0, 0),
			'rust_spinlock_irq_condvar': (1, 0, 0),
			'rust_doctests_kernel': (360, 0, 0),
			'vfio_registration': (5, 0, 0),
			'vfio_iommufd': (82, 0, 38)})

	def test_statuses_and_nesting(self):
		group = {'name': 'all', 'test_cases': [
			{'name': 'empty_ok', 'status': 'PASS'},
			{'name': 'empty_crashed', 'status': 'ERROR'}],
			'sub_groups': [{'name': 's', 'test_cases': [
				{'name': 'a', 'status': 'PASS'},
				{'name': 'b', 'status': 'SKIP'}], 'sub_groups': [
				{'name': 'p', 'sub_groups': [], 'test_cases': [
					{'name': 'c', 'status': 'FAIL'},
					{'name': 'd', 'status': 'ERROR'},
					{'name': 'e', 'status': 'SKIP'},
					{'name': 'f', 'status': 'PASS'}]}]}]}
		self.assertEqual(run_kunit.suite_counts(group), {
			's': (2, 2, 2), 'empty_ok': (0, 0, 0),
			'empty_crashed': (0, 1, 0)})


# The rows of the conformance matrix of the real run: the physical samples
# (c-physical, rust-physical) have every rule but O11 (emulated devices'),
# the emulated ones (c-emulated, rust-emulated) neither O2, O12 nor the
# PASID rules (physical devices').
C_PHYSICAL_ROW = ('  c-physical      pass  pass  pass  pass  pass  pass  pass  pass'
		  '  pass  pass     -  pass  pass  pass  pass  pass  pass\n')
C_EMULATED_ROW = ('  c-emulated      pass     -  pass  pass  pass  pass  pass  pass'
		  '  pass  pass  pass     -     -     -     -     -     -\n')
RUST_PHYSICAL_ROW = C_PHYSICAL_ROW.replace('  c-physical   ', '  rust-physical')
RUST_EMULATED_ROW = C_EMULATED_ROW.replace('  c-emulated   ', '  rust-emulated')


class KunitCountsTest(unittest.TestCase):
	"""kunit_counts(): the rows of the suites and of the conformance
	matrix, on copies of a real run's JSON."""

	def count(self, group, log_lines=(), kinds=run_matrix.DRIVER_KINDS):
		"""(rows, output, closing line, exit code) of group counted with
		the drivers kinds; self.notes: each row's note."""
		results = Results()
		_, out = quietly(run_kunit.kunit_counts, results, group, log_lines,
				 '', run_kunit.EXPECTED_SUITES, kinds)
		code, closing = quietly(results.closing_line)
		self.notes = {step: note for step, _, _, note in results.rows}
		return ([(step, p, f) for step, p, f, _ in results.rows], out,
			closing.strip(), code)

	def test_real_json(self):
		rows, out, closing, code = self.count(real_kunit_json(),
						      read_testdata(KUNIT_LOG))
		self.assertEqual(rows, [('kunit: rust_kernel_fmt', 1, 0),
					('kunit: rust_spinlock_irq_condvar', 1, 0),
					('kunit: rust_doctests_kernel', 360, 0),
					('kunit: vfio_registration', 5, 0),
					('kunit: vfio_iommufd', 82, 0),
					('kunit: vfio_iommufd matrix', 1, 0)])
		self.assertEqual((closing, code), ('450 passed, 0 failed', 0))
		self.assertIn('  driver            O1    O2    O3    O4    O5    O6'
			      '    O7    O8    O9   O10   O11   O12    P1    P2'
			      '    P3    P4    P6\n', out)
		for row in (C_PHYSICAL_ROW, C_EMULATED_ROW, RUST_PHYSICAL_ROW,
			    RUST_EMULATED_ROW):
			self.assertIn(row, out)
		self.assertNotIn('SKIP counted as failed', out)

	def test_rust_rows_missing(self):
		"""The real run without the Rust samples' rows, as on a tree
		without them, counted with the line's four drivers: each rule
		that applies to a Rust sample's kind fails the matrix."""
		group = drop_cases(real_kunit_json(), lambda case, driver:
				   driver in ('rust-physical', 'rust-emulated'))
		rows, out, closing, code = self.count(group)
		self.assertEqual(rows[4:], [('kunit: vfio_iommufd', 41, 0),
					    ('kunit: vfio_iommufd matrix', 0, 26)])
		self.assertEqual((closing, code), ('408 passed, 26 failed', 1))
		self.assertIn(C_PHYSICAL_ROW, out)
		self.assertIn('  rust-physical   MISS  MISS  MISS  MISS  MISS  MISS'
			      '  MISS  MISS  MISS  MISS     -  MISS  MISS  MISS'
			      '  MISS  MISS  MISS\n', out)
		self.assertIn('  rust-emulated   MISS     -  MISS  MISS  MISS  MISS'
			      '  MISS  MISS  MISS  MISS  MISS     -     -     -'
			      '     -     -     -\n', out)
		self.assertIn('conformance matrix: rust-physical P2: 0 cases, '
			      '3 expected\n', out)

	def test_suite_that_only_skips_fails(self):
		group = real_kunit_json()
		reg = suite(group, 'vfio_registration')['sub_groups'][0]
		for case in reg['test_cases']:
			case['status'] = 'SKIP'
		log = ['        ok 1 complete ops # SKIP no mock IOMMU',
		       '        ok 2 no bind_iommufd # SKIP']
		rows, out, closing, code = self.count(group, log)
		self.assertEqual(rows[3], ('kunit: vfio_registration', 0, 5))
		self.assertEqual((closing, code), ('445 passed, 5 failed', 1))
		self.assertIn('vfio_registration: SKIP counted as failed: '
			      'complete ops (no mock IOMMU)\n', out)
		self.assertIn('vfio_registration: SKIP counted as failed: '
			      'no bind_iommufd\n', out)
		self.assertIn('vfio_registration: SKIP counted as failed: '
			      'no detach_ioas\n', out)

	def test_one_skip_fails(self):
		group = real_kunit_json()
		vfio_iommufd_case(group, 'attach_detach_assert_dev_set_lock')[0][
			'status'] = 'SKIP'
		rows, out, closing, code = self.count(group)
		self.assertEqual(rows[4:], [('kunit: vfio_iommufd', 81, 1),
					    ('kunit: vfio_iommufd matrix', 1, 0)])
		self.assertEqual(code, 1)
		self.assertIn('  c-physical      skip  pass', out)
		self.assertIn('vfio_iommufd: SKIP counted as failed: '
			      'attach_detach_assert_dev_set_lock/c-physical', out)

	def test_skips_of_cases_not_for_the_kind_pass(self):
		rows, out, _, _ = self.count(real_kunit_json(),
					     read_testdata(KUNIT_LOG))
		self.assertEqual(rows[4], ('kunit: vfio_iommufd', 82, 0))
		self.assertEqual(self.notes['kunit: vfio_iommufd'],
				 '(38 skipped: cases not for the kind)')
		self.assertIn('vfio_iommufd                     82       0       38',
			      out)

	def test_case_not_for_the_kind_that_runs(self):
		group = real_kunit_json()
		result = next(r for r in vfio_iommufd_case(
			group, 'group_peers_share_hwpt') if r['name'] == 'c-emulated')
		result['status'] = 'PASS'
		rows, out, closing, code = self.count(group)
		self.assertEqual(rows[4:], [('kunit: vfio_iommufd', 83, 0),
					    ('kunit: vfio_iommufd matrix', 0, 1)])
		self.assertIn('conformance matrix: group_peers_share_hwpt on '
			      'c-emulated: PASS, where a case not for its kind '
			      'skips', out)
		self.assertEqual(code, 1)

	def test_pasid_case_that_runs_on_emulated(self):
		"""The PASID cases are for physical devices: an emulated
		device's mock has no PASIDs, so they must skip on it."""
		group = real_kunit_json()
		result = next(r for r in vfio_iommufd_case(
			group, 'pasid_attach_keeps_rid') if r['name'] == 'c-emulated')
		result['status'] = 'PASS'
		rows, out, _, code = self.count(group)
		self.assertEqual(rows[4:], [('kunit: vfio_iommufd', 83, 0),
					    ('kunit: vfio_iommufd matrix', 0, 1)])
		self.assertIn('conformance matrix: pasid_attach_keeps_rid on '
			      'c-emulated: PASS, where a case not for its kind '
			      'skips', out)
		self.assertIn(C_EMULATED_ROW, out)
		self.assertEqual(code, 1)

	def test_skip_of_other_suite_not_counted(self):
		group = real_kunit_json()
		group['sub_groups'].append({'name': 'other', 'sub_groups': [],
					    'test_cases': [
			{'name': 'x', 'status': 'PASS'},
			{'name': 'y', 'status': 'SKIP'}]})
		rows, _, closing, code = self.count(group)
		self.assertEqual(rows[5], ('kunit: other', 1, 0))
		self.assertEqual(self.notes['kunit: other'],
				 '(1 skipped, not counted)')
		self.assertEqual((closing, code), ('451 passed, 0 failed', 0))

	def test_required_suite_without_cases(self):
		group = real_kunit_json()
		suite(group, 'vfio_registration')['sub_groups'][0]['test_cases'] = []
		rows, _, closing, code = self.count(group)
		self.assertEqual(rows[3], ('kunit: vfio_registration', 0, 1))
		self.assertEqual((closing, code), ('445 passed, 1 failed', 1))

	def test_required_suite_reported_as_one_case(self):
		group = real_kunit_json()
		group['sub_groups'].remove(suite(group, 'vfio_registration'))
		group['test_cases'].append({'name': 'vfio_registration',
					    'status': 'PASS'})
		rows, _, _, code = self.count(group)
		self.assertIn(('kunit: vfio_registration', 0, 1), rows)
		self.assertEqual(code, 1)

	def test_suite_that_did_not_run(self):
		group = real_kunit_json()
		group['sub_groups'].remove(suite(group, 'rust_doctests_kernel'))
		rows, _, closing, code = self.count(group)
		self.assertEqual(rows, [('kunit: rust_kernel_fmt', 1, 0),
					('kunit: rust_spinlock_irq_condvar', 1, 0),
					('kunit: vfio_registration', 5, 0),
					('kunit: vfio_iommufd', 82, 0),
					('kunit: rust_doctests_kernel', 0, 1),
					('kunit: vfio_iommufd matrix', 1, 0)])
		self.assertEqual((closing, code), ('90 passed, 1 failed', 1))

	def test_no_json(self):
		rows, _, closing, code = self.count(None)
		self.assertEqual(rows, [(f'kunit: {name}', 0, 1)
					for name in run_kunit.EXPECTED_SUITES])
		self.assertEqual((closing, code), ('0 passed, 3 failed', 1))

	def test_every_o9_case_deleted(self):
		group = drop_cases(real_kunit_json(), lambda case, driver:
				   run_matrix.KUNIT_CASES[case][0] == 'O9')
		rows, out, closing, code = self.count(group)
		self.assertEqual(rows[4:], [('kunit: vfio_iommufd', 78, 0),
					    ('kunit: vfio_iommufd matrix', 0, 4)])
		self.assertEqual((closing, code), ('445 passed, 4 failed', 1))
		self.assertIn('  c-physical      pass  pass  pass  pass  pass  pass'
			      '  pass  pass  MISS  pass     -  pass  pass  pass'
			      '  pass  pass  pass\n', out)
		for driver in run_matrix.DRIVER_KINDS:
			self.assertIn(f'conformance matrix: {driver} O9: 0 cases, '
				      '1 expected\n', out)

	def test_every_pasid_case_deleted(self):
		"""The PASID rules apply to physical devices: without their
		cases each fails the matrix on c-physical and rust-physical,
		not on c-emulated nor rust-emulated."""
		group = drop_cases(real_kunit_json(), lambda case, driver:
				   run_matrix.KUNIT_CASES[case][0][0] == 'P')
		rows, out, closing, code = self.count(group)
		self.assertEqual(rows[4:], [('kunit: vfio_iommufd', 64, 0),
					    ('kunit: vfio_iommufd matrix', 0, 10)])
		self.assertEqual((closing, code), ('431 passed, 10 failed', 1))
		for driver in ('c-physical', 'rust-physical'):
			self.assertIn(f'  {driver:<14}  pass  pass  pass  pass  pass'
				      '  pass  pass  pass  pass  pass     -  pass'
				      '  MISS  MISS  MISS  MISS  MISS\n', out)
		self.assertIn(C_EMULATED_ROW, out)
		self.assertIn(RUST_EMULATED_ROW, out)
		for driver in ('c-physical', 'rust-physical'):
			for rule, cases in (('P1', 2), ('P2', 3), ('P3', 2),
					    ('P4', 1), ('P6', 1)):
				self.assertIn(f'conformance matrix: {driver} {rule}: '
					      f'0 cases, {cases} expected\n', out)

	def test_one_pasid_case_missing(self):
		group = drop_cases(real_kunit_json(), lambda case, driver:
				   case == 'pasids_race_attach_replace_detach')
		rows, out, _, code = self.count(group)
		self.assertEqual(rows[4:], [('kunit: vfio_iommufd', 80, 0),
					    ('kunit: vfio_iommufd matrix', 0, 2)])
		for driver in ('c-physical', 'rust-physical'):
			self.assertIn(f'  {driver:<14}  pass  pass  pass  pass  pass'
				      '  pass  pass  pass  pass  pass     -  pass'
				      '  pass   2/3  pass  pass  pass\n', out)
			self.assertIn(f'conformance matrix: {driver} P2: 2 cases, '
				      '3 expected\n', out)
		self.assertEqual(code, 1)

	def test_driver_rows_lost(self):
		group = drop_cases(real_kunit_json(), lambda case, driver:
				   driver == 'c-emulated')
		rows, out, closing, code = self.count(group)
		self.assertEqual(rows[4:], [('kunit: vfio_iommufd', 66, 0),
					    ('kunit: vfio_iommufd matrix', 0, 10)])
		self.assertEqual(code, 1)
		self.assertIn(C_PHYSICAL_ROW, out)
		self.assertIn(RUST_EMULATED_ROW, out)
		self.assertIn('  c-emulated      MISS     -  MISS  MISS  MISS  MISS'
			      '  MISS  MISS  MISS  MISS  MISS     -     -     -'
			      '     -     -     -\n', out)

	def test_driver_rows_skipped_with_reason(self):
		group = real_kunit_json()
		for case in suite(group, 'vfio_iommufd')['sub_groups']:
			for result in case['test_cases']:
				if result['name'] == 'c-physical':
					result['status'] = 'SKIP'
		rows, out, _, code = self.count(group, [
			'        ok 1 c-physical # SKIP the sample is not built in'])
		self.assertEqual(rows[4], ('kunit: vfio_iommufd', 57, 25))
		self.assertIn('SKIP counted as failed: attach_detach_assert_dev_set_'
			      'lock/c-physical (the sample is not built in)', out)
		self.assertIn('SKIP counted as failed: pasid_attach_keeps_rid/'
			      'c-physical (the sample is not built in)', out)
		self.assertNotIn('emulated_bind_unmaps_nothing/c-physical', out)
		self.assertIn('  c-physical      skip  skip  skip', out)
		self.assertEqual(code, 1)

	def test_one_case_missing(self):
		group = drop_cases(real_kunit_json(), lambda case, driver:
				   case == 'attach_hwpt_keeps_its_id' and
				   driver == 'c-physical')
		rows, out, _, code = self.count(group)
		self.assertEqual(rows[5], ('kunit: vfio_iommufd matrix', 0, 1))
		self.assertIn('  c-physical      pass  pass   1/2', out)

	def test_unknown_case(self):
		group = real_kunit_json()
		suite(group, 'vfio_iommufd')['sub_groups'].append(
			{'name': 'attach_twice', 'sub_groups': [], 'test_cases': [
				{'name': 'c-emulated', 'status': 'PASS'}]})
		rows, out, _, code = self.count(group)
		self.assertEqual(rows[4:], [('kunit: vfio_iommufd', 83, 0),
					    ('kunit: vfio_iommufd matrix', 0, 1)])
		self.assertIn('conformance matrix: unknown case attach_twice', out)

	def test_unknown_driver(self):
		group = real_kunit_json()
		vfio_iommufd_case(group, 'attach_detach_assert_dev_set_lock').append(
			{'name': 'go-physical', 'status': 'PASS'})
		rows, out, _, code = self.count(group)
		self.assertEqual(rows[5], ('kunit: vfio_iommufd matrix', 0, 1))
		self.assertIn('go-physical: a driver of no known kind', out)

	def test_failed_case_counts_in_the_suite(self):
		group = real_kunit_json()
		next(r for r in vfio_iommufd_case(group, 'emulated_replace_unmaps_'
						  'old_ioas')
		     if r['name'] == 'c-emulated')['status'] = 'FAIL'
		rows, out, closing, code = self.count(group)
		self.assertEqual(rows[4:], [('kunit: vfio_iommufd', 81, 1),
					    ('kunit: vfio_iommufd matrix', 1, 0)])
		self.assertEqual((closing, code), ('449 passed, 1 failed', 1))
		self.assertIn('  c-emulated      pass     -  pass  pass  pass  pass'
			      '  pass  pass  pass  pass  FAIL     -     -     -'
			      '     -     -     -\n', out)

	def test_failed_pasid_case(self):
		group = real_kunit_json()
		vfio_iommufd_case(group, 'pasid_failed_replace_keeps_table')[0][
			'status'] = 'FAIL'
		rows, out, closing, code = self.count(group)
		self.assertEqual(rows[4:], [('kunit: vfio_iommufd', 81, 1),
					    ('kunit: vfio_iommufd matrix', 1, 0)])
		self.assertEqual((closing, code), ('449 passed, 1 failed', 1))
		self.assertIn('  c-physical      pass  pass  pass  pass  pass  pass'
			      '  pass  pass  pass  pass     -  pass  pass  FAIL'
			      '  pass  pass  pass\n', out)

	def test_skip_reasons_of_the_real_log(self):
		self.assertEqual(run_kunit.skip_reasons(read_testdata(KUNIT_LOG)),
				 {'c-physical': 'not for physical devices',
				  'c-emulated': 'not for emulated devices',
				  'rust-physical': 'not for physical devices',
				  'rust-emulated': 'not for emulated devices'})

	def test_skip_reasons(self):
		self.assertEqual(run_kunit.skip_reasons([
			'        ok 3 c-physical O2 attach unbound WARNs, -EINVAL '
			'# SKIP no IOMMUFD_TEST',
			'    ok 1 vfio_iommufd # SKIP',
			'        ok 4 c-physical O3 attach',
			'        not ok 5 x # SKIP y']),
			{'c-physical O2 attach unbound WARNs, -EINVAL':
			 'no IOMMUFD_TEST', 'vfio_iommufd': ''})


if __name__ == '__main__':
	unittest.main()
