#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for how tools/run.py counts the user space tests
(run_user.py): the uAPI test's rows and matrix (run_matrix.py), the stress
test's and the fault injection test's results, each checked against its
program's Totals line.

They start from tools/testdata/vfio-user-console.log and
vfio-fail-nth-console.log (see testutil.py), a boot of the 7.3 line's tip
with a device of each of the four samples (DRIVER_KINDS), and break
copies of them the ways a run can go wrong, among them a copy without the
Rust samples' tests.
"""

import contextlib
import io
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_common  # noqa: E402
import run_matrix  # noqa: E402
import run_user  # noqa: E402
import uml_user  # noqa: E402
from run_common import Results, VFIO_STRESS_PROGRAM  # noqa: E402
from run_user import step_stress_results  # noqa: E402
from testutil import (edit_console, harness_totals,  # noqa: E402
		      quietly, read_testdata, rust_test)
from uml_user import ProgramResult, MISSING, PASS, FAIL, SKIP  # noqa: E402


# The stress test's names: <fixture>.<variant>.<test>
STRESS_TESTS = [f'vfio_cdev_stress.{v}.{t}'
		for v in ('c_physical', 'c_emulated', 'rust_physical',
			  'rust_emulated')
		for t in ('race_then_detach', 'race_then_close_attached')]


class StressResultsTest(unittest.TestCase):
	"""step_stress_results(): every test must pass; a skip is no pass."""

	def rows(self, programs):
		results = Results()
		with contextlib.redirect_stdout(io.StringIO()):
			step_stress_results(results, programs)
		return [(step, passed, failed) for step, passed, failed, _ in
			results.rows]

	def program(self, statuses, exit_code=0, totals=True):
		tests = dict(zip(STRESS_TESTS, statuses))
		return {VFIO_STRESS_PROGRAM: ProgramResult(
			VFIO_STRESS_PROGRAM, exit_code, 12.0, len(STRESS_TESTS),
			tests, harness_totals(tests) if totals else None)}

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


# The fault injection test's part of a console: two tests per device,
# each with a line of the fault sites of its sequence and its time
FAIL_NTH_CONSOLE = 'vfio-fail-nth-console.log'
FAIL_NTH_SITES = [('vfio-sample-phys', 'qemu_order', 63, 0.19),
		  ('vfio-sample-phys', 'close_attached', 60, 0.21),
		  ('vfio-sample-emul', 'qemu_order', 46, 0.14),
		  ('vfio-sample-emul', 'close_attached', 45, 0.15),
		  ('rust-vfio-phys', 'qemu_order', 64, 0.22),
		  ('rust-vfio-phys', 'close_attached', 61, 0.21),
		  ('rust-vfio-emul', 'qemu_order', 46, 0.14),
		  ('rust-vfio-emul', 'close_attached', 45, 0.15)]
FAIL_NTH_TESTS = len(FAIL_NTH_SITES)
# The markers uml-init writes around the programs, with their arguments.
UAPI_BEGIN = 'uml-init: BEGIN /vfio_cdev_uapi_test -V vfio_pci'
STRESS_BEGIN = 'uml-init: BEGIN /vfio_cdev_stress_test -V vfio_pci'


def fail_nth_console(statuses=None):
	"""The real console of vfio_cdev_fail_nth, with the tests numbered in
	statuses ({n: 'not ok' or 'skip'}) turned into failures or skips, and
	its Totals line and exit code to match."""
	lines = read_testdata(FAIL_NTH_CONSOLE)
	statuses = statuses or {}
	out = []
	for line in lines:
		m = uml_user.TAP_RESULT.match(line)
		n = int(m.group(2)) if m else None
		if statuses.get(n) == 'not ok':
			line = 'not ' + line
		elif statuses.get(n) == 'skip':
			line += ' # SKIP no VFIO device'
		elif line.startswith('# Totals:'):
			fail = sum(1 for s in statuses.values() if s == 'not ok')
			skip = sum(1 for s in statuses.values() if s == 'skip')
			line = (f'# Totals: pass:{FAIL_NTH_TESTS - fail - skip} '
				f'fail:{fail} xfail:0 xpass:0 skip:{skip} error:0')
		elif line.startswith('uml-init: END') and 'not ok' in \
				statuses.values():
			line = line.replace('exit=0', 'exit=1')
		out.append(line)
	return out


class FailNthResultsTest(unittest.TestCase):
	"""step_fail_nth_results(): every test must pass, a skip is no pass;
	the fault sites of each sequence are printed."""

	def rows(self, lines):
		results = Results()
		programs = uml_user.results_by_program(lines)
		_, out = quietly(run_user.step_fail_nth_results, results, programs,
				 lines)
		return [(step, passed, failed) for step, passed, failed, _ in
			results.rows], out

	label = f'fail_nth: {run_common.VFIO_FAIL_NTH_PROGRAM}'

	def test_real_console(self):
		rows, out = self.rows(fail_nth_console())
		self.assertEqual(rows, [(self.label, 8, 0)])
		self.assertIn('vfio_cdev_fail_nth: 8 of 8 tests passed in 2 s', out)
		for driver, test, sites, seconds in FAIL_NTH_SITES:
			self.assertIn(f'    {driver:<18} {test:<16} {sites:>5} fault '
				      f'sites {seconds:>6.2f} s\n', out)

	def test_failure(self):
		rows, out = self.rows(fail_nth_console({3: 'not ok'}))
		self.assertEqual(rows, [(self.label, 7, 1)])
		self.assertIn('fail: vfio_cdev_fail_nth.c_emulated.qemu_order', out)

	def test_skip_fails(self):
		rows, _ = self.rows(fail_nth_console({3: 'skip', 4: 'skip'}))
		self.assertEqual(rows, [(self.label, 6, 2)])

	def test_did_not_run(self):
		rows, _ = self.rows(read_testdata(VFIO_CONSOLE))
		self.assertEqual(rows, [(self.label, 0, 1)])

	def test_crashed(self):
		lines = fail_nth_console()
		rows, _ = self.rows(lines[:lines.index(
			'ok 2 vfio_cdev_fail_nth.c_physical.close_attached') + 1])
		self.assertEqual(rows, [(self.label, 2, 6)])

	def test_totals_that_disagree(self):
		lines = [l.replace('pass:8 ', 'pass:7 ') for l in
			 fail_nth_console()]
		rows, _ = self.rows(lines)
		self.assertEqual(rows, [(self.label, 8, 1)])

	def test_sites_of_other_programs_not_printed(self):
		lines = [l.replace('/vfio_cdev_fail_nth', '/other')
			 for l in fail_nth_console()]
		rows, out = self.rows(lines + read_testdata(VFIO_CONSOLE))
		self.assertEqual(rows, [(self.label, 0, 1)])
		self.assertNotIn('fault sites', out)


# --- Counting the uAPI and stress tests (their TAP on the console) ------------

VFIO_CONSOLE = 'vfio-user-console.log'


# The rows of the uAPI matrix of the real boot: the physical samples
# (c-physical, rust-physical) have every rule but P5 (a driver without the
# PASID callbacks') and S3 (emulated devices'), the emulated ones
# (c-emulated, rust-emulated) P5 and S3 but not the PASID rules of
# physical devices.
C_PHYSICAL_ROW = ('  c-physical      pass  pass  pass  pass     -  pass  pass  pass'
		  '  pass  pass  pass  pass  pass  pass  pass  pass  pass     -'
		  '  pass     -     -     -\n')
C_EMULATED_ROW = ('  c-emulated         -     -     -     -  pass     -  pass  pass'
		  '  pass  pass  pass  pass  pass  pass  pass  pass  pass  pass'
		  '  pass  pass  pass  pass\n')
RUST_PHYSICAL_ROW = C_PHYSICAL_ROW.replace('  c-physical   ', '  rust-physical')
RUST_EMULATED_ROW = C_EMULATED_ROW.replace('  c-emulated   ', '  rust-emulated')


class UapiResultsTest(unittest.TestCase):
	"""step_uapi_results() and step_stress_results() on copies of a real
	run's console: the rows, the uAPI matrix and its expected counts."""

	def count(self, lines, kinds=run_matrix.DRIVER_KINDS):
		"""The rows of lines counted with the drivers kinds, the output,
		the closing line, the exit code and the rows with their notes."""
		programs = uml_user.results_by_program(lines)
		results = Results()

		def steps():
			run_user.step_uapi_results(results, programs, kinds=kinds)
			step_stress_results(results, programs)
		_, out = quietly(steps)
		code, closing = quietly(results.closing_line)
		return ([(step, p, f) for step, p, f, _ in results.rows], out,
			closing.strip(), code, results.rows)

	def test_real_console(self):
		rows, out, closing, code, _ = self.count(read_testdata(VFIO_CONSOLE))
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 168, 0),
					('uapi: matrix', 1, 0),
					('stress: vfio_cdev_stress_test', 8, 0)])
		self.assertEqual((closing, code), ('177 passed, 0 failed', 0))
		self.assertIn('  driver            P1    P2    P3    P4    P5    P6'
			      '    U1    U2    U3    U4    U5    U6    U7    U8    U9'
			      '    S1    S2    S3    S4    D1    D2    D3\n', out)
		for row in (C_PHYSICAL_ROW, C_EMULATED_ROW, RUST_PHYSICAL_ROW,
			    RUST_EMULATED_ROW):
			self.assertIn(row, out)

	def test_markers_with_arguments(self):
		"""uml-init's markers carry the programs' arguments; the
		programs are still known by name."""
		lines = read_testdata(VFIO_CONSOLE)
		self.assertIn(UAPI_BEGIN, lines)
		self.assertIn(STRESS_BEGIN, lines)
		self.assertEqual(list(uml_user.results_by_program(lines)),
				 ['vfio_cdev_uapi_test', VFIO_STRESS_PROGRAM])

	def test_edit_console_keeps_a_real_console(self):
		lines = read_testdata(VFIO_CONSOLE)
		self.assertEqual(edit_console(lines), lines)

	def test_rust_rows_missing(self):
		"""The real boot without the Rust samples' tests, as with the C
		samples' devices only, counted with the line's four drivers:
		each rule that applies to a Rust sample's kind fails the
		matrix."""
		rows, out, closing, code, _ = self.count(
			edit_console(read_testdata(VFIO_CONSOLE), rust_test))
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 84, 0),
					('uapi: matrix', 0, 34),
					('stress: vfio_cdev_stress_test', 4, 0)])
		self.assertEqual((closing, code), ('88 passed, 34 failed', 1))
		self.assertIn(C_PHYSICAL_ROW, out)
		self.assertIn('  rust-physical   MISS  MISS  MISS  MISS     -  MISS'
			      '  MISS  MISS  MISS  MISS  MISS  MISS  MISS  MISS  MISS'
			      '  MISS  MISS     -  MISS     -     -     -\n', out)
		self.assertIn('uAPI matrix: rust-emulated P5: 0 cases, 1 expected',
			      out)

	def test_driver_rows_lost(self):
		lines = edit_console(read_testdata(VFIO_CONSOLE),
				     lambda n: '.c_emulated.' in n and
				     'stress' not in n)
		rows, out, closing, code, _ = self.count(lines)
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 128, 0),
					('uapi: matrix', 0, 16),
					('stress: vfio_cdev_stress_test', 8, 0)])
		self.assertEqual((closing, code), ('136 passed, 16 failed', 1))
		self.assertIn(RUST_EMULATED_ROW, out)
		self.assertIn('  c-emulated         -     -     -     -  MISS     -'
			      '  MISS  MISS  MISS  MISS  MISS  MISS  MISS  MISS  pass'
			      '  MISS  MISS  MISS  MISS  MISS  MISS  MISS\n', out)

	def test_every_u5_test_deleted(self):
		lines = edit_console(read_testdata(VFIO_CONSOLE),
				     lambda n: run_matrix.UAPI_TESTS.get(
					     n.split('.')[-1]) == 'U5')
		rows, out, _, code, _ = self.count(lines)
		self.assertEqual(rows[:2], [('uapi: vfio_cdev_uapi_test', 128, 0),
					    ('uapi: matrix', 0, 4)])
		self.assertEqual(code, 1)
		for driver in run_matrix.DRIVER_KINDS:
			self.assertIn(f'uAPI matrix: {driver} U5: 0 cases, 10 '
				      'expected', out)

	def test_every_pasid_test_deleted(self):
		"""The PASID rules: P1-P4 and P6 on the physical samples, whose
		mock devices have PASIDs, P5 on the emulated ones, which have
		no PASID callbacks; without their tests each fails the
		matrix."""
		lines = edit_console(read_testdata(VFIO_CONSOLE),
				     lambda n: run_matrix.UAPI_TESTS.get(
					     n.split('.')[-1], '').startswith('P'))
		rows, out, _, code, _ = self.count(lines)
		self.assertEqual(rows[:2], [('uapi: vfio_cdev_uapi_test', 148, 0),
					    ('uapi: matrix', 0, 12)])
		self.assertEqual(code, 1)
		for lang in ('c', 'rust'):
			self.assertIn(f'  {lang + "-physical":<14}  MISS  MISS  MISS'
				      '  MISS     -  MISS  pass', out)
			self.assertIn(f'  {lang + "-emulated":<14}     -     -     -'
				      '     -  MISS     -  pass', out)
			for kind, rule, tests in (('physical', 'P1', 2),
						  ('physical', 'P2', 2),
						  ('physical', 'P3', 2),
						  ('physical', 'P4', 1),
						  ('physical', 'P6', 2),
						  ('emulated', 'P5', 1)):
				self.assertIn(f'uAPI matrix: {lang}-{kind} {rule}: 0 '
					      f'cases, {tests} expected\n', out)

	def test_pasid_test_fails(self):
		"""A PASID test that fails fails its program's row and shows in
		its rule's cell; the matrix counts the tests, which are all
		there."""
		name = 'vfio_pasid.c_physical.pasid_replace'
		end = UAPI_BEGIN.replace('BEGIN', 'END')
		lines = [f'not {l}' if l.startswith('ok ') and
			 l.endswith(f' {name}') else
			 l.replace('pass:168 fail:0', 'pass:167 fail:1')
			 .replace('exit=0', 'exit=1') if l.startswith(end) or
			 l.startswith('# Totals: pass:168 ') else l
			 for l in read_testdata(VFIO_CONSOLE)]
		rows, out, _, code, full = self.count(lines)
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 167, 1),
					('uapi: matrix', 1, 0),
					('stress: vfio_cdev_stress_test', 8, 0)])
		self.assertEqual(full[0][3], '')
		self.assertIn('  c-physical      pass  FAIL  pass  pass     -  pass',
			      out)
		self.assertIn(f'  fail: {name}\n', out)
		self.assertEqual(code, 1)

	def test_unknown_test_name(self):
		lines = [l.replace(' vfio_cdev.c_emulated.detach_twice',
				   ' vfio_cdev.c_emulated.detach_thrice')
			 for l in read_testdata(VFIO_CONSOLE)]
		rows, out, _, code, _ = self.count(lines)
		self.assertEqual(rows[:2], [('uapi: vfio_cdev_uapi_test', 168, 0),
					    ('uapi: matrix', 0, 2)])
		self.assertIn('uAPI matrix: unknown test detach_thrice', out)
		self.assertIn('uAPI matrix: c-emulated U6: 1 cases, 2 expected', out)
		self.assertEqual(code, 1)

	def test_stress_did_not_run(self):
		lines = read_testdata(VFIO_CONSOLE)
		begin = lines.index(STRESS_BEGIN)
		rows, out, _, code, _ = self.count(lines[:begin])
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 168, 0),
					('uapi: matrix', 0, 4),
					('stress: vfio_cdev_stress_test', 0, 1)])
		for driver in run_matrix.DRIVER_KINDS:
			self.assertIn(f'uAPI matrix: {driver} U9: 0 cases, 2 '
				      'expected', out)

	def test_lost_result_line(self):
		lines = edit_console(read_testdata(VFIO_CONSOLE),
				     lambda n: n == 'vfio_cdev.c_physical.'
				     'ioctl_before_bind', fix_counts=False)
		rows, _, _, code, full = self.count(lines)
		self.assertEqual(rows[:2], [('uapi: vfio_cdev_uapi_test', 167, 1),
					    ('uapi: matrix', 0, 1)])
		self.assertEqual(full[0][3], 'patched: vfio_cdev_uapi_test: '
				 '"# Totals: pass:168 fail:0 xfail:0 xpass:0 '
				 'skip:0 error:0", but its result lines give '
				 'pass:167 fail:0 xfail:0 xpass:0 skip:0 error:0')

	def test_no_totals_line(self):
		lines = [l for l in read_testdata(VFIO_CONSOLE)
			 if not l.startswith('# Totals:')]
		rows, _, _, code, full = self.count(lines)
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 168, 1),
					('uapi: matrix', 1, 0),
					('stress: vfio_cdev_stress_test', 8, 1)])
		self.assertEqual(full[0][3], 'patched: vfio_cdev_uapi_test: no '
				 '"# Totals:" line')
		self.assertEqual(code, 1)

	def test_totals_that_disagree(self):
		lines = [l.replace('pass:8 ', 'pass:7 skip:1 ')
			 .replace('skip:0 error', 'error') if l.startswith(
			 '# Totals: pass:8 ') else l
			 for l in read_testdata(VFIO_CONSOLE)]
		rows, _, _, code, _ = self.count(lines)
		self.assertEqual(rows[2], ('stress: vfio_cdev_stress_test', 8, 1))
		self.assertEqual(code, 1)

	def xfail_console(self, directive):
		lines = read_testdata(VFIO_CONSOLE)
		name = 'vfio_cdev.c_emulated.detach_unknown_flags'
		lines = [f'{l} # {directive} known' if l.startswith('ok ')
			 and l.endswith(f' {name}') else l for l in lines]
		key = directive.lower()
		return [l.replace('pass:168 ', 'pass:167 ').replace(
			f'{key}:0', f'{key}:1') if l.startswith(
			'# Totals: pass:168 ') else l for l in lines]

	def test_xfail_is_no_pass(self):
		rows, out, _, code, _ = self.count(self.xfail_console('XFAIL'))
		self.assertEqual(rows[:2], [('uapi: vfio_cdev_uapi_test', 167, 1),
					    ('uapi: matrix', 1, 0)])
		self.assertIn('  c-emulated         -     -     -     -  pass     -'
			      '  pass  pass  pass  FAIL  pass', out)
		self.assertIn('xfail: vfio_cdev.c_emulated.detach_unknown_flags', out)
		self.assertEqual(code, 1)

	def test_xpass_is_no_pass(self):
		rows, _, _, code, _ = self.count(self.xfail_console('XPASS'))
		self.assertEqual(rows[0], ('uapi: vfio_cdev_uapi_test', 167, 1))
		self.assertEqual(code, 1)

	def test_stress_timed_out(self):
		lines = read_testdata(VFIO_CONSOLE)
		begin = lines.index(STRESS_BEGIN)
		third = next(i for i, l in enumerate(lines)
			     if i > begin and l.startswith('ok 3 '))
		lines = lines[:third + 1] + [
			'uml-init: /vfio_cdev_stress_test -V vfio_pci still running '
			'after 300 s, killing its process group and every other '
			'process',
			'uml-init: END /vfio_cdev_stress_test -V vfio_pci '
			'exit=timeout seconds=300.0']
		self.assertGreater(third, begin)
		rows, out, _, code, full = self.count(lines)
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 168, 0),
					('uapi: matrix', 0, 3),
					('stress: vfio_cdev_stress_test', 3, 5)])
		self.assertIn('uAPI matrix: c-emulated U9: 1 cases, 2 expected', out)
		for driver in ('rust-physical', 'rust-emulated'):
			self.assertIn(f'uAPI matrix: {driver} U9: 0 cases, 2 '
				      'expected', out)
		self.assertEqual(full[2][3], 'patched: vfio_cdev_stress_test '
				 'timed out after 300 s, killed')


if __name__ == '__main__':
	unittest.main()
