#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for how tools/run.py counts the KUnit suites (run_kunit.py):
the rows of the suites from kunit.py's JSON, skips counted as failures,
and the conformance matrix of vfio_iommufd (run_matrix.py).

They start from tools/testdata/kunit-results.json (see testutil.py) and
break copies of it the ways a run can go wrong.
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_kunit  # noqa: E402
import run_matrix  # noqa: E402
from run_common import Results  # noqa: E402
from testutil import TESTDATA, quietly  # noqa: E402


# --- Counting the KUnit suites (kunit.py's JSON) ------------------------------

def real_kunit_json():
	with open(os.path.join(TESTDATA, 'kunit-results.json')) as f:
		return json.load(f)


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
			'rust_doctests_kernel': (118, 0, 0),
			'vfio_registration': (5, 0, 0),
			'vfio_iommufd': (64, 0, 20)})

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


class KunitCountsTest(unittest.TestCase):
	"""kunit_counts(): the rows of the suites and of the conformance
	matrix, on copies of a real run's JSON."""

	def count(self, group, log_lines=()):
		results = Results()
		_, out = quietly(run_kunit.kunit_counts, results, group, log_lines)
		code, closing = quietly(results.closing_line)
		return ([(step, p, f) for step, p, f, _ in results.rows], out,
			closing.strip(), code)

	def test_real_json(self):
		rows, out, closing, code = self.count(real_kunit_json())
		self.assertEqual(rows, [('kunit: rust_doctests_kernel', 118, 0),
					('kunit: vfio_registration', 5, 0),
					('kunit: vfio_iommufd', 64, 0),
					('kunit: vfio_iommufd matrix', 1, 0)])
		self.assertEqual((closing, code), ('188 passed, 0 failed', 0))
		self.assertIn('  c-emulated      pass     -  pass  pass  pass  pass'
			      '  pass  pass  pass  pass  pass     -\n', out)

	def test_suite_that_only_skips_fails(self):
		group = real_kunit_json()
		reg = suite(group, 'vfio_registration')['sub_groups'][0]
		for case in reg['test_cases']:
			case['status'] = 'SKIP'
		log = ['        ok 1 complete ops # SKIP no mock IOMMU',
		       '        ok 2 no bind_iommufd # SKIP']
		rows, out, closing, code = self.count(group, log)
		self.assertEqual(rows[1], ('kunit: vfio_registration', 0, 5))
		self.assertEqual((closing, code), ('183 passed, 5 failed', 1))
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
		self.assertEqual(rows[2:], [('kunit: vfio_iommufd', 63, 1),
					    ('kunit: vfio_iommufd matrix', 1, 0)])
		self.assertEqual(code, 1)
		self.assertIn('  c-physical      skip  pass', out)
		self.assertIn('vfio_iommufd: SKIP counted as failed: '
			      'attach_detach_assert_dev_set_lock/c-physical', out)

	def test_skips_of_cases_not_for_the_kind_pass(self):
		rows, out, _, _ = self.count(real_kunit_json())
		self.assertEqual(rows[2], ('kunit: vfio_iommufd', 64, 0))
		self.assertIn('vfio_iommufd                     64       0       20',
			      out)

	def test_case_not_for_the_kind_that_runs(self):
		group = real_kunit_json()
		result = next(r for r in vfio_iommufd_case(
			group, 'group_peers_share_hwpt') if r['name'] == 'c-emulated')
		result['status'] = 'PASS'
		rows, out, closing, code = self.count(group)
		self.assertEqual(rows[2:], [('kunit: vfio_iommufd', 65, 0),
					    ('kunit: vfio_iommufd matrix', 0, 1)])
		self.assertIn('conformance matrix: group_peers_share_hwpt on '
			      'c-emulated: PASS, where a case not for its kind '
			      'skips', out)
		self.assertEqual(code, 1)

	def test_skip_of_other_suite_not_counted(self):
		group = real_kunit_json()
		group['sub_groups'].append({'name': 'other', 'sub_groups': [],
					    'test_cases': [
			{'name': 'x', 'status': 'PASS'},
			{'name': 'y', 'status': 'SKIP'}]})
		rows, _, closing, code = self.count(group)
		self.assertEqual(rows[3], ('kunit: other', 1, 0))
		self.assertEqual((closing, code), ('189 passed, 0 failed', 0))

	def test_required_suite_without_cases(self):
		group = real_kunit_json()
		suite(group, 'vfio_registration')['sub_groups'][0]['test_cases'] = []
		rows, _, closing, code = self.count(group)
		self.assertEqual(rows[1], ('kunit: vfio_registration', 0, 1))
		self.assertEqual((closing, code), ('183 passed, 1 failed', 1))

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
		self.assertEqual(rows, [('kunit: vfio_registration', 5, 0),
					('kunit: vfio_iommufd', 64, 0),
					('kunit: rust_doctests_kernel', 0, 1),
					('kunit: vfio_iommufd matrix', 1, 0)])
		self.assertEqual((closing, code), ('70 passed, 1 failed', 1))

	def test_no_json(self):
		rows, _, closing, code = self.count(None)
		self.assertEqual(rows, [(f'kunit: {name}', 0, 1)
					for name in run_kunit.EXPECTED_SUITES])
		self.assertEqual((closing, code), ('0 passed, 3 failed', 1))

	def test_every_o9_case_deleted(self):
		group = drop_cases(real_kunit_json(), lambda case, driver:
				   run_matrix.KUNIT_CASES[case][0] == 'O9')
		rows, out, closing, code = self.count(group)
		self.assertEqual(rows[2:], [('kunit: vfio_iommufd', 60, 0),
					    ('kunit: vfio_iommufd matrix', 0, 4)])
		self.assertEqual((closing, code), ('183 passed, 4 failed', 1))
		self.assertIn('  c-physical      pass  pass  pass  pass  pass  pass'
			      '  pass  pass  MISS  pass     -  pass\n', out)
		self.assertIn('conformance matrix: rust-emulated O9: 0 cases, '
			      '1 expected\n', out)

	def test_rust_rows_lost(self):
		group = drop_cases(real_kunit_json(), lambda case, driver:
				   driver.startswith('rust-'))
		rows, out, closing, code = self.count(group)
		self.assertEqual(rows[2:], [('kunit: vfio_iommufd', 32, 0),
					    ('kunit: vfio_iommufd matrix', 0, 21)])
		self.assertEqual(code, 1)
		self.assertIn('  rust-physical   MISS  MISS  MISS  MISS  MISS  MISS'
			      '  MISS  MISS  MISS  MISS     -  MISS\n', out)

	def test_rust_rows_skipped_with_reason(self):
		group = real_kunit_json()
		for case in suite(group, 'vfio_iommufd')['sub_groups']:
			for result in case['test_cases']:
				if result['name'].startswith('rust-'):
					result['status'] = 'SKIP'
		rows, out, _, code = self.count(group, [
			'        ok 3 rust-physical # SKIP the Rust samples are only '
			'reachable with them and this suite built in'])
		self.assertEqual(rows[2], ('kunit: vfio_iommufd', 32, 32))
		self.assertIn('SKIP counted as failed: attach_detach_assert_dev_set_'
			      'lock/rust-physical (the Rust samples are only '
			      'reachable with them and this suite built in)', out)
		self.assertEqual(code, 1)

	def test_one_case_missing(self):
		group = drop_cases(real_kunit_json(), lambda case, driver:
				   case == 'attach_hwpt_keeps_its_id' and
				   driver == 'c-physical')
		rows, out, _, code = self.count(group)
		self.assertEqual(rows[3], ('kunit: vfio_iommufd matrix', 0, 1))
		self.assertIn('  c-physical      pass  pass   1/2', out)

	def test_unknown_case(self):
		group = real_kunit_json()
		suite(group, 'vfio_iommufd')['sub_groups'].append(
			{'name': 'attach_twice', 'sub_groups': [], 'test_cases': [
				{'name': 'c-emulated', 'status': 'PASS'}]})
		rows, out, _, code = self.count(group)
		self.assertEqual(rows[2:], [('kunit: vfio_iommufd', 65, 0),
					    ('kunit: vfio_iommufd matrix', 0, 1)])
		self.assertIn('conformance matrix: unknown case attach_twice', out)

	def test_unknown_driver(self):
		group = real_kunit_json()
		vfio_iommufd_case(group, 'attach_detach_assert_dev_set_lock').append(
			{'name': 'go-physical', 'status': 'PASS'})
		rows, out, _, code = self.count(group)
		self.assertEqual(rows[3], ('kunit: vfio_iommufd matrix', 0, 1))
		self.assertIn('go-physical: a driver of no known kind', out)

	def test_failed_case_counts_in_the_suite(self):
		group = real_kunit_json()
		next(r for r in vfio_iommufd_case(group, 'emulated_replace_unmaps_'
						  'old_ioas')
		     if r['name'] == 'rust-emulated')['status'] = 'FAIL'
		rows, out, closing, code = self.count(group)
		self.assertEqual(rows[2:], [('kunit: vfio_iommufd', 63, 1),
					    ('kunit: vfio_iommufd matrix', 1, 0)])
		self.assertEqual((closing, code), ('187 passed, 1 failed', 1))
		self.assertIn('  rust-emulated   pass     -  pass  pass  pass  pass'
			      '  pass  pass  pass  pass  FAIL     -\n', out)

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
