#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for the console, TAP and comparison parts of tools/uml_user.py."""

import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_logcheck  # noqa: E402
import uml_user  # noqa: E402
from uml_user import (FAIL, MISSING, PASS, SKIP, XFAIL, XPASS, ERROR,  # noqa: E402
		      ProgramResult, compare, incomplete_reason, parse_console,
		      parse_tap, program_result, read_expected)

# Output of a kselftest harness program, with kernel messages in between.
IOMMUFD_TAP = '''TAP version 13
1..5
# Starting 5 tests from 2 test cases.
#  RUN           iommufd.simple_close ...
#            OK  iommufd.simple_close
ok 1 iommufd.simple_close
#  RUN           iommufd_ioas.mock_domain.area ...
iommufd_mock: mock device created
#            OK  iommufd_ioas.mock_domain.area
ok 2 iommufd_ioas.mock_domain.area
# iommufd.c:120:huge:Expected 0 (0) == ret (-1)
not ok 3 iommufd_ioas.mock_domain_hugepage.huge
ok 4 basic_fail_nth.basic # SKIP fault injection is not enabled in the kernel
ok 5 iommufd_ioas.two.xf # XFAIL known
# FAILED: 3 / 5 tests passed.
# Totals: pass:2 fail:1 xfail:1 xpass:0 skip:1 error:0'''.splitlines()


def harness_totals(tests):
	"""The Totals line the kselftest harness prints for tests."""
	return {st: sum(1 for s in tests.values() if s == st)
		for st in uml_user.TOTALS_STATUSES}


def result(name, tests, exit_code=1):
	"""A program's result as the harness reports it, Totals line and all."""
	return ProgramResult(name, exit_code, 1.0, len(tests), dict(tests),
			     harness_totals(tests))


class TapTest(unittest.TestCase):

	def test_statuses(self):
		tap = parse_tap(IOMMUFD_TAP)
		self.assertEqual(tap.plan, 5)
		self.assertEqual(tap.results, {
			'iommufd.simple_close': PASS,
			'iommufd_ioas.mock_domain.area': PASS,
			'iommufd_ioas.mock_domain_hugepage.huge': FAIL,
			'basic_fail_nth.basic': SKIP,
			'iommufd_ioas.two.xf': XFAIL})

	def test_failure_with_diagnostic(self):
		tap = parse_tap(['not ok 7 a.b #  timeout after 30 s'])
		self.assertEqual(tap.results, {'a.b': FAIL})

	def test_xpass_and_error(self):
		tap = parse_tap(['ok 1 a # XPASS unexpected',
				 'not ok 2 b # error setup'])
		self.assertEqual(tap.results, {'a': XPASS, 'b': ERROR})

	def test_not_tap(self):
		tap = parse_tap(['okay then', 'ok', '# ok 3 x', ' ok 4 y',
				 'WARNING: CPU: 0 PID: 1 at x.c:1'])
		self.assertEqual(tap, (None, {}, None))

	def test_repeated_name_keeps_worse(self):
		tap = parse_tap(['not ok 1 a', 'ok 2 a'])
		self.assertEqual(tap.results, {'a': FAIL})

	def test_missing_results(self):
		run = uml_user.Run('/iommufd', 1, 2.0, ['1..3', 'ok 1 a'])
		res = program_result(run)
		self.assertEqual(res.tests, {'a': PASS, '#2': MISSING,
					     '#3': MISSING})
		self.assertEqual(res.count(MISSING), 2)


class ConsoleTest(unittest.TestCase):

	def test_two_programs(self):
		lines = ['Linux version 6.12.117', 'uml-init: BEGIN /iommufd',
			 'ok 1 a', 'uml-init: END /iommufd exit=0 seconds=3.5',
			 'uml-init: BEGIN /vfio_uapi -v',
			 'not ok 1 b',
			 'uml-init: END /vfio_uapi -v exit=1 seconds=0.2',
			 'uml-init: DONE programs=2 failed=1']
		runs = parse_console(lines)
		self.assertEqual([(r.name, r.exit_code, r.seconds) for r in runs],
				 [('iommufd', 0, 3.5), ('vfio_uapi', 1, 0.2)])
		self.assertEqual(runs[1].lines, ['not ok 1 b'])

	def test_program_that_did_not_end(self):
		runs = parse_console(['uml-init: BEGIN /iommufd_fail_nth',
				      'ok 1 a', 'Kernel panic - not syncing'])
		self.assertEqual(len(runs), 1)
		self.assertIsNone(runs[0].exit_code)
		self.assertFalse(program_result(runs[0]).finished)


class CompareTest(unittest.TestCase):

	def setUp(self):
		self.pristine = {'iommufd': result('iommufd', {
			'a': PASS, 'huge': FAIL, 'mock': FAIL})}
		self.patched = {'iommufd': result('iommufd', {
			'a': PASS, 'huge': FAIL, 'mock': PASS})}
		self.expected = {('iommufd', 'huge'):
				 uml_user.Expected(True, 'MAP_HUGETLB fails')}

	def test_clean(self):
		c = compare(self.pristine, self.patched, self.expected)
		self.assertTrue(c.ok)
		self.assertEqual(c.stale, [])
		self.assertEqual(c.rows, [('iommufd', (1, 2, 0), (2, 1, 0))])

	def set_status(self, test, status):
		"""A patched iommufd whose test has status, Totals and all."""
		tests = dict(self.patched['iommufd'].tests)
		if status is None:
			del tests[test]
		else:
			tests[test] = status
		self.patched['iommufd'] = result('iommufd', tests)

	def test_regression(self):
		self.set_status('a', FAIL)
		c = compare(self.pristine, self.patched, self.expected)
		self.assertFalse(c.ok)
		self.assertEqual(len(c.regressions), 1)

	def test_listed_regression_still_fails(self):
		self.set_status('a', FAIL)
		self.expected[('iommufd', 'a')] = uml_user.Expected(True, 'x')
		c = compare(self.pristine, self.patched, self.expected)
		self.assertFalse(c.ok)
		self.assertEqual(len(c.regressions), 1)

	def test_unlisted_failure(self):
		del self.expected[('iommufd', 'huge')]
		c = compare(self.pristine, self.patched, self.expected)
		self.assertFalse(c.ok)
		self.assertEqual(len(c.unexpected), 1)

	def test_skip_is_no_pass(self):
		fail_nth = result('iommufd_fail_nth', {'basic': SKIP,
						       'map': SKIP}, exit_code=0)
		self.pristine['iommufd_fail_nth'] = fail_nth
		self.patched['iommufd_fail_nth'] = fail_nth
		c = compare(self.pristine, self.patched, self.expected)
		self.assertFalse(c.ok)
		self.assertEqual(len(c.unexpected), 2)
		self.assertEqual(c.rows[1], ('iommufd_fail_nth', (0, 0, 2),
					     (0, 0, 2)))

	def test_stale_entry(self):
		self.expected[('iommufd', 'mock')] = uml_user.Expected(True, 'x')
		self.expected[('iommufd', 'gone')] = uml_user.Expected(True, 'x')
		c = compare(self.pristine, self.patched, self.expected)
		self.assertTrue(c.ok)
		self.assertEqual(len(c.stale), 2)

	def test_missing_test_on_patched(self):
		self.set_status('a', None)
		c = compare(self.pristine, self.patched, self.expected)
		self.assertEqual(len(c.regressions), 1)

	def test_program_that_did_not_end(self):
		self.patched['iommufd'] = self.patched['iommufd']._replace(
			exit_code=None)
		c = compare(self.pristine, self.patched, self.expected)
		self.assertFalse(c.ok)
		self.assertEqual(len(c.incomplete), 1)

	def test_program_that_did_not_run(self):
		del self.patched['iommufd']
		c = compare(self.pristine, self.patched, self.expected)
		self.assertFalse(c.ok)

	def test_crash_exit_code(self):
		self.patched['iommufd'] = self.patched['iommufd']._replace(
			exit_code=139)
		c = compare(self.pristine, self.patched, self.expected)
		self.assertFalse(c.ok)

	def test_patched_only_program(self):
		self.patched['vfio_uapi'] = result('vfio_uapi', {'u1': PASS,
								 'u2': FAIL})
		c = compare(self.pristine, self.patched, self.expected)
		self.assertEqual(len(c.unexpected), 1)
		self.assertIn(('vfio_uapi', None, (1, 1, 0)), c.rows)

	def test_read_expected(self):
		with tempfile.NamedTemporaryFile('w', suffix='.expected') as f:
			f.write('# comment\n\niommufd a.b fails MAP_HUGETLB: no '
				'hugetlbfs # under UML\n')
			f.flush()
			self.assertEqual(read_expected(f.name), {
				('iommufd', 'a.b'): uml_user.Expected(
					True, 'MAP_HUGETLB: no hugetlbfs # under UML')})
			f.write('iommufd c.d maybe why\n')
			f.flush()
			with self.assertRaises(ValueError):
				read_expected(f.name)


class KunitconfigTest(unittest.TestCase):

	def test_filter(self):
		with tempfile.NamedTemporaryFile('w') as f:
			f.write('# c\nCONFIG_RUST=y\nCONFIG_VFIO=y\n'
				'CONFIG_SAMPLE_RUST_VFIO=y\n# CONFIG_X is not set\n'
				'CONFIG_VFIO_KUNIT_TEST=y\nCONFIG_VFIO=y\n'
				'CONFIG_TRUSTED_KEYS=y\n')
			f.flush()
			text = uml_user.filter_kunitconfig(
				[f.name], exists=lambda s: s != 'VFIO_KUNIT_TEST',
				rust=False)
		self.assertEqual(text, 'CONFIG_VFIO=y\n# CONFIG_X is not set\n'
				 'CONFIG_TRUSTED_KEYS=y\n')


class TotalsTest(unittest.TestCase):
	"""The harness's Totals line, against the result lines."""

	def test_parsed(self):
		self.assertEqual(parse_tap(IOMMUFD_TAP).totals, {
			PASS: 2, FAIL: 1, XFAIL: 1, XPASS: 0, SKIP: 1, ERROR: 0})

	def test_agrees(self):
		res = program_result(uml_user.Run('/iommufd', 1, 2.0, IOMMUFD_TAP))
		self.assertEqual(res.totals[PASS], 2)
		self.assertIsNone(uml_user.totals_mismatch(res))
		self.assertIsNone(incomplete_reason('patched', res))

	def test_result_line_lost(self):
		lines = [l for l in IOMMUFD_TAP if not l.startswith('ok 2 ')]
		res = program_result(uml_user.Run('/iommufd', 1, 2.0, lines))
		self.assertEqual(res.count(MISSING), 1)
		self.assertEqual(incomplete_reason('patched', res),
				 'patched: iommufd: "# Totals: pass:2 fail:1 '
				 'xfail:1 xpass:0 skip:1 error:0", but its result '
				 'lines give pass:1 fail:1 xfail:1 xpass:0 skip:1 '
				 'error:0')

	def test_no_totals_line(self):
		lines = [l for l in IOMMUFD_TAP if not l.startswith('# Totals')]
		res = program_result(uml_user.Run('/iommufd', 1, 2.0, lines))
		self.assertIsNone(res.totals)
		self.assertEqual(incomplete_reason('patched', res),
				 'patched: iommufd: no "# Totals:" line')

	def test_compare_fails_on_a_mismatch(self):
		tests = {'a': PASS, 'b': PASS}
		tip = ProgramResult('iommufd', 0, 1.0, 2, tests,
				    harness_totals({'a': PASS}))
		c = compare({}, {'iommufd': tip}, {})
		self.assertFalse(c.ok)
		self.assertEqual(len(c.incomplete), 1)


class IncompleteReasonTest(unittest.TestCase):

	def reason(self, **changes):
		res = result('vfio_cdev_uapi_test', {'a': PASS, 'b': FAIL})
		return incomplete_reason('patched', res._replace(**changes))

	def test_complete(self):
		self.assertIsNone(self.reason())
		self.assertIsNone(self.reason(exit_code=0))

	def test_timed_out(self):
		self.assertEqual(self.reason(exit_code=None, seconds=300.0,
					     timed_out=True),
				 'patched: vfio_cdev_uapi_test timed out after '
				 '300 s, killed')

	def test_did_not_end(self):
		self.assertEqual(self.reason(exit_code=None),
				 'patched: vfio_cdev_uapi_test did not end (crash '
				 'or timeout)')

	def test_crash_exit_code(self):
		self.assertEqual(self.reason(exit_code=139),
				 'patched: vfio_cdev_uapi_test exited 139')
		self.assertEqual(self.reason(exit_code=4),
				 'patched: vfio_cdev_uapi_test exited 4')

	def test_no_test(self):
		self.assertEqual(self.reason(tests={}, totals=harness_totals({})),
				 'patched: vfio_cdev_uapi_test reported no test')


class PassedTest(unittest.TestCase):
	"""Only PASS is a pass: not XFAIL, XPASS, SKIP, ERROR, MISSING."""

	def test_passed(self):
		self.assertEqual(uml_user.PASSED, (PASS,))
		res = program_result(uml_user.Run('/iommufd', 1, 2.0, IOMMUFD_TAP))
		self.assertEqual(res.count(*uml_user.PASSED), 2)

	def test_program_result(self):
		run = uml_user.Run('/vfio_cdev_uapi_test', 0, 1.5,
				   ['1..4', 'ok 1 a', 'ok 2 b # XFAIL known',
				    'ok 3 c # XPASS', '# Totals: pass:1 fail:0 '
				    'xfail:1 xpass:1 skip:0 error:0'])
		self.assertEqual(program_result(run), ProgramResult(
			'vfio_cdev_uapi_test', 0, 1.5, 4,
			{'a': PASS, 'b': XFAIL, 'c': XPASS, '#4': MISSING},
			{PASS: 1, FAIL: 0, XFAIL: 1, XPASS: 1, SKIP: 0, ERROR: 0},
			False))

	def test_unlisted_xfail_on_patched(self):
		pristine = {'iommufd': result('iommufd', {'a': PASS, 'x': FAIL})}
		patched = {'iommufd': result('iommufd', {'a': PASS, 'x': XFAIL})}
		c = compare(pristine, patched, {})
		self.assertFalse(c.ok)
		self.assertEqual(c.unexpected,
				 ['iommufd x: xfail on patched, not listed'])
		self.assertEqual(c.rows, [('iommufd', (1, 1, 0), (1, 1, 0))])

	def test_listed_xfail_on_patched(self):
		pristine = {'iommufd': result('iommufd', {'a': PASS, 'x': FAIL})}
		patched = {'iommufd': result('iommufd', {'a': PASS, 'x': XFAIL})}
		c = compare(pristine, patched,
			    {('iommufd', 'x'): uml_user.Expected(True, 'UML')})
		self.assertTrue(c.ok)
		self.assertEqual(c.stale, [])

	def test_xfail_on_pristine_is_no_pass(self):
		pristine = {'iommufd': result('iommufd', {'a': PASS, 'x': XFAIL})}
		patched = {'iommufd': result('iommufd', {'a': PASS, 'x': FAIL})}
		c = compare(pristine, patched,
			    {('iommufd', 'x'): uml_user.Expected(True, 'UML')})
		self.assertTrue(c.ok)
		self.assertEqual(c.regressions, [])


class TimeoutConsoleTest(unittest.TestCase):
	"""'uml-init: END <command> exit=timeout' is a program the init
	killed."""

	LINES = ['uml-init: BEGIN /vfio_cdev_stress_test -v',
		 '1..8', 'ok 1 vfio_cdev_stress.c_physical.race_then_detach',
		 'uml-init: /vfio_cdev_stress_test -v still running after 300 s, '
		 'killing its process group and every other process',
		 'uml-init: END /vfio_cdev_stress_test -v exit=timeout '
		 'seconds=300.2',
		 'uml-init: BEGIN /iommufd', '1..1', 'ok 1 a',
		 '# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0',
		 'uml-init: END /iommufd exit=0 seconds=1.0',
		 'uml-init: DONE programs=2 failed=1']

	def test_parse_console(self):
		runs = parse_console(self.LINES)
		self.assertEqual([(r.name, r.exit_code, r.seconds, r.timed_out)
				  for r in runs],
				 [('vfio_cdev_stress_test', None, 300.2, True),
				  ('iommufd', 0, 1.0, False)])

	def test_program_result(self):
		results = uml_user.results_by_program(self.LINES)
		stress = results['vfio_cdev_stress_test']
		self.assertTrue(stress.timed_out)
		self.assertFalse(stress.finished)
		self.assertEqual((stress.count(PASS), stress.count(MISSING)), (1, 7))
		self.assertEqual(incomplete_reason('patched', stress),
				 'patched: vfio_cdev_stress_test timed out after '
				 '300 s, killed')
		self.assertIsNone(incomplete_reason('patched',
						    results['iommufd']))

	def test_compare(self):
		results = uml_user.results_by_program(self.LINES)
		c = compare({}, {'vfio_cdev_stress_test':
				 results['vfio_cdev_stress_test']}, {})
		self.assertIn('patched: vfio_cdev_stress_test timed out after '
			      '300 s, killed', c.incomplete)


class MakeRootTest(unittest.TestCase):

	def test_list_with_timeouts(self):
		with tempfile.TemporaryDirectory() as tmp:
			progs = []
			for name in ('init', 'a', 'b', 'c', 'd', 'e', 'f'):
				path = os.path.join(tmp, name)
				with open(path, 'w') as f:
					f.write('#!/bin/sh\n')
				progs.append(path)
			root = os.path.join(tmp, 'root')
			commands = uml_user.make_root(root, progs[0], [
				progs[1], (progs[2], ['-v', '-n', '3']),
				(progs[3], [], 600),
				(progs[4], ['x'], None, {'V': '0000:00:10.0'}),
				(progs[5], [], 9, {'A': '1', 'B': '2'}),
				uml_user.Program(progs[6], timeout=600,
						 words=('iommu-faults',))])
			self.assertEqual(commands, ['/a', '/b -v -n 3', '/c',
						    '/d x', '/e', '/f'])
			with open(os.path.join(root, uml_user.LIST_FILE)) as f:
				self.assertEqual(f.read(), '/a\n/b -v -n 3\n'
						 'timeout=600 /c\n'
						 'V=0000:00:10.0 /d x\n'
						 'timeout=9 A=1 B=2 /e\n'
						 'timeout=600 iommu-faults /f\n')


class InitTest(unittest.TestCase):
	"""tools/uml-init.c, compiled and run on the host (not as PID 1: it
	mounts nothing and does not power off)."""

	@classmethod
	def setUpClass(cls):
		cls.tmp = tempfile.TemporaryDirectory()
		cls.init = uml_user.build_init(os.path.join(cls.tmp.name, 'init'))

	@classmethod
	def tearDownClass(cls):
		cls.tmp.cleanup()

	def script(self, name, text):
		path = os.path.join(self.tmp.name, name)
		with open(path, 'w') as f:
			f.write('#!/bin/sh\n' + text)
		os.chmod(path, 0o755)
		return path

	def boot(self, lines, timeout=60):
		listing = os.path.join(self.tmp.name, 'list')
		with open(listing, 'w') as f:
			f.write(''.join(f'{line}\n' for line in lines))
		self.kmsg = os.path.join(self.tmp.name, 'kmsg')
		open(self.kmsg, 'w').close()
		start = time.monotonic()
		res = subprocess.run([self.init], capture_output=True, text=True,
				     env=dict(os.environ, UML_INIT_LIST=listing,
					      UML_INIT_KMSG=self.kmsg),
				     timeout=timeout)
		return res, time.monotonic() - start

	def test_timeout_and_exit(self):
		pidfile = os.path.join(self.tmp.name, 'child.pid')
		sleeper = self.script('sleeper', f'sleep 60 &\necho $! > {pidfile}\n'
				      'echo slept; sleep 60\n')
		exits = self.script('exits', 'echo hello; exit 3\n')
		res, took = self.boot([f'timeout=1 {sleeper}', exits,
				       '# a comment', '', f'{exits} x y'])
		lines = res.stdout.splitlines()
		self.assertLess(took, 15)
		self.assertEqual(res.returncode, 3)
		self.assertIn(f'uml-init: END {exits} exit=3 seconds=0.0', lines)
		self.assertIn(f'uml-init: END {exits} x y exit=3 seconds=0.0', lines)
		end = [l for l in lines if l.startswith(f'uml-init: END {sleeper} ')]
		self.assertEqual(len(end), 1)
		self.assertRegex(end[0], r'^uml-init: END \S+ exit=timeout '
				 r'seconds=1\.\d$')
		self.assertEqual(lines[-1], 'uml-init: DONE programs=3 failed=3')
		runs = parse_console(lines)
		self.assertEqual([(r.name, r.exit_code, r.timed_out, r.lines)
				  for r in runs], [
			('sleeper', None, True, [
				'slept', f'uml-init: {sleeper} still running after '
				'1 s, killing its process group']),
			('exits', 3, False, ['hello']),
			('exits', 3, False, ['hello'])])
		self.assertEqual(incomplete_reason(
			'patched', program_result(runs[0])),
			'patched: sleeper timed out after 1 s, killed')
		# The sleeper's own child, in its process group, is gone too.
		with open(pidfile) as f:
			child = int(f.read())
		for _ in range(50):
			try:
				with open(f'/proc/{child}/stat') as f:
					state = f.read().rsplit(')', 1)[1].split()[0]
			except FileNotFoundError:
				state = 'gone'
			if state in ('Z', 'X', 'gone'):
				break
			time.sleep(0.1)
		self.assertIn(state, ('Z', 'X', 'gone'))

	def test_all_pass(self):
		ok = self.script('ok', 'exit 0\n')
		res, _ = self.boot([ok, f'timeout=0 {ok}', f'timeout=5 {ok} -v'])
		self.assertEqual(res.returncode, 0)
		self.assertEqual([(r.command, r.exit_code) for r in
				  parse_console(res.stdout.splitlines())],
				 [(ok, 0), (ok, 0), (f'{ok} -v', 0)])
		self.assertIn('uml-init: DONE programs=3 failed=0',
			      res.stdout.splitlines())

	def test_bad_lines_and_missing_program(self):
		ok = self.script('ok2', 'exit 0\n')
		res, _ = self.boot(['timeout=soon /bin/true', 'timeout=5',
				    os.path.join(self.tmp.name, 'nothing'), ok])
		lines = res.stdout.splitlines()
		self.assertEqual(res.returncode, 3)
		self.assertEqual(lines[-1], 'uml-init: DONE programs=2 failed=3')
		self.assertEqual([(r.name, r.exit_code) for r in
				  parse_console(lines)],
				 [('nothing', 127), ('ok2', 0)])

	def test_environment(self):
		shows = self.script('shows', 'echo "[$A|$B|$C]"\n')
		res, _ = self.boot([f'A=1 B=x=y {shows} -v', f'C=3 timeout=5 {shows}',
				    'A=1', 'timeout=5 A=1', f'=x {shows}',
				    f'A=1 nonsense {shows}'])
		lines = res.stdout.splitlines()
		self.assertEqual(res.returncode, 4)
		self.assertEqual([(r.command, r.exit_code, r.lines) for r in
				  parse_console(lines)],
				 [(f'{shows} -v', 0, ['[1|x=y|]']),
				  (shows, 0, ['[||3]'])])
		self.assertEqual(len([l for l in lines if 'bad line' in l]), 4)
		with open(self.kmsg) as f:
			self.assertEqual(f.read(), '')

	def test_iommu_faults_announced(self):
		"""'iommu-faults' brackets the program with the lines the kernel
		log check takes IOMMU faults between, written to /dev/kmsg,
		also when the program fails."""
		ok = self.script('faulty', 'exit 1\n')
		res, _ = self.boot([f'iommu-faults timeout=5 {ok}', ok])
		self.assertEqual(res.returncode, 2)
		with open(self.kmsg) as f:
			self.assertEqual(f.read().splitlines(), [
				'vfio-selftest: expected IOMMU fault begins',
				'vfio-selftest: expected IOMMU fault ends'])
		self.assertTrue(run_logcheck.FAULTS_BEGIN.search(
			'vfio-selftest: expected IOMMU fault begins'))
		self.assertTrue(run_logcheck.FAULTS_END.search(
			'vfio-selftest: expected IOMMU fault ends'))

	def test_killed_by_a_signal(self):
		dies = self.script('dies', 'kill -SEGV $$\n')
		res, _ = self.boot([dies])
		self.assertEqual([(r.name, r.exit_code) for r in
				  parse_console(res.stdout.splitlines())],
				 [('dies', 128 + 11)])


if __name__ == '__main__':
	unittest.main()
