#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for the kernel log check of tools/run.py, and for how it
counts: the KUnit suites, both matrices, the uAPI, stress and fault
injection test results and the closing line.

tools/testdata/ holds real output of clean runs: kunit-results.json
(kunit.py's JSON, 3 Dec 2026, one case per behaviour of vfio_iommufd),
kunit-vfio-test.log (the vfio suites' part of build/kunit-uml/test.log, 2
Dec 2026), vfio-user-console.log (the uAPI and the stress test's part of
build/uml-user/patched/console.log, 2 Dec 2026, with the tests' names as
they are since 3 Dec 2026: without rule codes) and
vfio-fail-nth-console.log (vfio_cdev_fail_nth's part of a console of the
same boot with CONFIG_FAIL_PAGE_ALLOC and CONFIG_FAULT_INJECTION_USERCOPY).
The tests break copies of them the ways a run can go wrong.
"""

import contextlib
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_builds  # noqa: E402
import run_common  # noqa: E402
import run_kunit  # noqa: E402
import run_logcheck  # noqa: E402
import run_mainline  # noqa: E402
import run_matrix  # noqa: E402
import run_user  # noqa: E402
import series  # noqa: E402
import uml_user  # noqa: E402
from run_common import Results, VFIO_STRESS_PROGRAM  # noqa: E402
from run_logcheck import check_kernel_log  # noqa: E402
from run_user import step_stress_results  # noqa: E402
from uml_user import ProgramResult, MISSING, PASS, FAIL, SKIP  # noqa: E402
from uml_user import TOTALS_STATUSES  # noqa: E402

TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)),
			'testdata')


def read_testdata(name):
	with open(os.path.join(TESTDATA, name)) as f:
		return f.read().splitlines()


def harness_totals(tests):
	"""The Totals line the kselftest harness prints for tests."""
	return {st: sum(1 for s in tests.values() if s == st)
		for st in TOTALS_STATUSES}


def quietly(function, *args):
	"""function(*args) with its output captured: (return value, output)."""
	out = io.StringIO()
	with contextlib.redirect_stdout(out):
		value = function(*args)
	return value, out.getvalue()

BEGIN = '    # case: vfio-kunit: expected WARNING from drivers/vfio/vfio_main.c begins'
END = '    # case: vfio-kunit: expected WARNING ends'
WARN = 'WARNING: CPU: 0 PID: 1 at drivers/vfio/vfio_main.c:317 0x6000'
OTHER_WARN = 'WARNING: CPU: 0 PID: 1 at drivers/iommu/iommufd/device.c:9 0x6000'
LOCKDEP = 'WARNING: possible circular locking dependency detected'


class IommuFaultLogTest(unittest.TestCase):
	"""IOMMU fault reports: expected between the lines the uAPI test writes
	to /dev/kmsg around the DMA it makes fault, and only there."""

	BEGIN = '[   12.5] vfio-selftest: expected IOMMU fault begins'
	END = '[   12.9] vfio-selftest: expected IOMMU fault ends'
	DMAR = ('[   12.6] DMAR: [DMA Write NO_PASID] Request device [00:03.0] '
		'fault addr 0x1000000 [fault reason 0x02] Present bit in '
		'context entry is clear')
	DRHD = '[   12.6] DMAR: DRHD: handling fault status reg 2'
	VIRTIO = ('[   12.7] virtio_iommu virtio0: mapping fault from EP 24 at '
		  '0x1000800 [w]')

	def test_announced(self):
		self.assertEqual(check_kernel_log(
			[self.BEGIN, self.DRHD, self.DMAR, self.END]), (2, []))
		self.assertEqual(check_kernel_log(
			[self.BEGIN, self.VIRTIO, self.END]), (1, []))

	def test_unannounced(self):
		for line in (self.DMAR, self.DRHD, self.VIRTIO):
			self.assertEqual(check_kernel_log([line]),
					 (0, [f'line 1: {line}']))

	def test_after_the_bracket(self):
		self.assertEqual(check_kernel_log(
			[self.BEGIN, self.DMAR, self.END, self.VIRTIO]),
			(1, [f'line 4: {self.VIRTIO}']))

	def test_announced_fault_did_not_come(self):
		self.assertEqual(check_kernel_log([self.BEGIN, self.END]), (0, [
			'line 1: announced IOMMU faults did not come']))

	def test_bracket_never_ended(self):
		self.assertEqual(check_kernel_log([self.BEGIN, self.DMAR]), (1, [
			'line 1: IOMMU fault bracket never ended']))

	def test_other_reports_still_count(self):
		warn = 'WARNING: CPU: 1 PID: 80 at mm/gup.c:10 f+0x1/0x2'
		self.assertEqual(check_kernel_log(
			[self.BEGIN, self.DMAR, warn, self.END]),
			(1, [f'line 3: {warn}']))


class CompilerReportsTest(unittest.TestCase):
	"""GCC's and sparse's reports, counted for the series' files only."""

	FILES = {'samples/vfio/vfio_sample_phys.c', 'drivers/iommu/iommu.c'}

	def test_series_files_only(self):
		lines = [
			'../samples/vfio/vfio_sample_phys.c:12:5: warning: no '
			'previous prototype for \'f\' [-Wmissing-prototypes]',
			'drivers/iommu/iommu.c:80:1: warning: symbol \'x\' was '
			'not declared. Should it be static?',
			'drivers/iommu/dma-iommu.c:3:1: warning: other file',
			f'{run_common.KSRC}/drivers/iommu/iommu.c:9:2: error: broken',
			'  CC      samples/vfio/vfio_sample_phys.o',
		]
		found = run_builds.compiler_reports(lines, self.FILES)
		self.assertEqual(sorted(found), sorted(self.FILES))
		self.assertEqual(len(found['drivers/iommu/iommu.c']), 2)
		self.assertEqual(len(found['samples/vfio/vfio_sample_phys.c']), 1)

	def test_clean(self):
		self.assertEqual(run_builds.compiler_reports(
			['  CHECK   drivers/iommu/iommu.c'], self.FILES), {})


class SubmissionTest(unittest.TestCase):
	"""Who a submission of linux/submissions is addressed to."""

	FIELDS = {'name': 'vfio-cdx', 'prefix': 'PATCH', 'entries': '0001 0002'}

	def submission(self, **fields):
		with contextlib.redirect_stderr(io.StringIO()):
			return series.Submission(dict(self.FIELDS, **fields), 1,
						 series.PRIMARY,
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
		line = series.line_named('7.3')
		self.assertEqual((line.pkg, line.suite),
				 ('linux-source-7.3', 'trixie-backports'))
		self.assertTrue(line.tarball().startswith(series.CACHE))
		self.assertEqual(series.PRIMARY.tarball(),
				 '/usr/src/linux-source-6.12.tar.xz')
		numbers = [e.name[:4] for e in series.pool()]
		self.assertEqual([e.name[:4] for e in series.entries()], numbers)
		taken = series.entries(line)
		self.assertEqual([e.name[:4] for e in taken][:3],
				 ['0001', '0002', '0003'])
		# the line's own 0003 is not the 6.12.y line's
		own = {e.name[:4]: e for e in taken}['0003']
		self.assertTrue(own.path.startswith(line.folder))
		self.assertNotEqual(own.name, series.entries()[2].name)

	def test_line_variant_of_a_file(self):
		"""A line takes its own variant of a file where it has one."""
		line = series.line_named('7.3')
		with tempfile.TemporaryDirectory() as tmp:
			folder, line.folder = line.folder, tmp
			try:
				os.makedirs(os.path.join(tmp, 'patches'))
				own = os.path.join(tmp, 'patches', 'x.diff')
				open(own, 'w').close()
				self.assertEqual(line.source('linux/patches/x.diff'),
						 own)
				self.assertEqual(line.source('kunit/y.c'),
						 os.path.join(series.TOP, 'kunit/y.c'))
				self.assertEqual(series.PRIMARY.source(
					'linux/patches/x.diff'), os.path.join(
					series.TOP, 'linux/patches/x.diff'))
			finally:
				line.folder = folder

	def test_line_deltas(self):
		"""A line's diffs on top of an entry are its NNNN-*.diff files."""
		line = series.line_named('7.3')
		entry = series.pool()[0]
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
				self.assertEqual(series.PRIMARY.deltas(entry), [])
			finally:
				line.folder = folder

	def test_stable_goes_to_stable_alone(self):
		subs = {s.name: s for s in series.submissions()}
		stable = subs['stable-6.12.y']
		self.assertEqual(stable.to, ['stable@vger.kernel.org'])
		self.assertFalse(stable.maintainers_to)
		self.assertTrue(all(s.maintainers_to for s in subs.values()
				    if s is not stable))


class KbuildTest(unittest.TestCase):
	"""The Kbuild combinations and how their builds are judged."""

	def values(self, asked):
		return dict(dict.fromkeys(run_builds.KBUILD_SYMBOLS, 'y'), **asked)

	def test_every_value_of_every_symbol(self):
		for sym in run_builds.KBUILD_SYMBOLS:
			seen = {self.values(asked)[sym]
				for _, asked in run_builds.KBUILD_COMBINATIONS}
			self.assertEqual(seen, {'y', 'm', 'n'}, sym)

	def test_only_known_symbols(self):
		for what, asked in run_builds.KBUILD_COMBINATIONS:
			self.assertLessEqual(set(asked), set(run_builds.KBUILD_SYMBOLS), what)

	def test_config_values(self):
		with tempfile.NamedTemporaryFile('w', suffix='.config') as f:
			f.write('CONFIG_VFIO_KUNIT_TEST=m\n'
				'# CONFIG_VFIO_IOMMUFD_BENCH is not set\n'
				'CONFIG_SAMPLE_VFIO_PHYSICAL=y\n'
				'CONFIG_SAMPLE_VFIO_PHYSICAL_X=m\n')
			f.flush()
			self.assertEqual(run_builds.config_values(f.name, [
				'VFIO_KUNIT_TEST', 'VFIO_IOMMUFD_BENCH',
				'SAMPLE_VFIO_PHYSICAL', 'SAMPLE_VFIO_EMULATED']),
				{'VFIO_KUNIT_TEST': 'm', 'VFIO_IOMMUFD_BENCH': 'n',
				 'SAMPLE_VFIO_PHYSICAL': 'y',
				 'SAMPLE_VFIO_EMULATED': 'n'})

	def placed(self, values, build_dir):
		"""The objects of values placed where they belong, .ko files made."""
		builtin, modules = set(), set()
		for sym, objects in run_builds.KBUILD_SYMBOLS.items():
			for obj in objects:
				if values[sym] == 'y':
					builtin.add(obj)
				elif values[sym] == 'm':
					modules.add(obj)
					path = os.path.join(build_dir, obj[:-2] + '.ko')
					os.makedirs(os.path.dirname(path), exist_ok=True)
					open(path, 'w').close()
		return builtin, modules

	def test_right_places(self):
		values = self.values(run_builds.KBUILD_COMBINATIONS[1][1])
		with tempfile.TemporaryDirectory() as build:
			builtin, modules = self.placed(values, build)
			self.assertEqual(run_builds.kbuild_problems(values, builtin, modules,
							     build), [])

	def test_wrong_places(self):
		values = self.values({'VFIO_KUNIT_TEST': 'm',
				      'VFIO_IOMMUFD_BENCH': 'n'})
		reg = 'drivers/vfio/tests/vfio_registration_kunit.o'
		bench = 'drivers/vfio/tests/vfio_iommufd_bench.o'
		suite = 'drivers/vfio/tests/vfio_iommufd_kunit.o'
		with tempfile.TemporaryDirectory() as build:
			builtin, modules = self.placed(values, build)
			self.assertEqual(run_builds.kbuild_problems(
				values, builtin | {reg}, modules - {reg}, build),
				[f'{reg} is built in, CONFIG_VFIO_KUNIT_TEST=m'])
			self.assertEqual(run_builds.kbuild_problems(
				values, builtin | {bench}, modules, build),
				[f'{bench} is built in, CONFIG_VFIO_IOMMUFD_BENCH=n'])
			self.assertEqual(run_builds.kbuild_problems(
				values, builtin - {suite}, modules, build),
				[f'{suite} is not built, '
				 'CONFIG_VFIO_IOMMUFD_KUNIT_TEST=y'])
			os.unlink(os.path.join(build, reg[:-2] + '.ko'))
			self.assertEqual(run_builds.kbuild_problems(values, builtin, modules,
							     build),
				[f'{reg[:-2]}.ko missing'])


class ShortcutsTest(unittest.TestCase):
	"""What lets a run skip a build: it must never skip one it needs."""

	def test_files_no_build_reads(self):
		self.assertFalse(run_builds.any_built([
			'Documentation/driver-api/vfio.rst',
			'tools/testing/selftests/vfio/vfio_cdev_uapi_test.c',
			'scripts/coccinelle/api/vfio_iommufd_ops.cocci',
			'MAINTAINERS']))

	def test_files_a_build_reads(self):
		for name in ('drivers/vfio/cdx/main.c', 'samples/vfio/Kconfig',
			     'rust/kernel/vfio.rs', 'scripts/Makefile.build',
			     'include/linux/vfio.h', 'Makefile'):
			self.assertTrue(run_builds.any_built(['Documentation/x.rst', name]),
					name)

	def result(self, statuses, exit_code=0, totals=True):
		tests = dict(statuses)
		counts = {s: sum(1 for v in tests.values() if v == s)
			  for s in uml_user.TOTALS_STATUSES}
		return uml_user.ProgramResult(
			'iommufd', exit_code, 1.0, len(tests), tests,
			counts if totals else None, False)

	def test_all_passed(self):
		ok = self.result([('a', uml_user.PASS), ('b', uml_user.PASS)])
		self.assertTrue(run_user.all_passed({'iommufd': ok}, ['iommufd']))

	def test_not_all_passed(self):
		for bad in (self.result([('a', uml_user.PASS),
					 ('b', uml_user.SKIP)]),
			    self.result([('a', uml_user.FAIL)], exit_code=1),
			    self.result([]),
			    self.result([('a', uml_user.PASS)], exit_code=None)):
			self.assertFalse(run_user.all_passed({'iommufd': bad},
							['iommufd']))
		self.assertFalse(run_user.all_passed({}, ['iommufd']))


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
# each with a line of the fault sites of its sequence
FAIL_NTH_CONSOLE = 'vfio-fail-nth-console.log'
FAIL_NTH_SITES = [('vfio-sample-phys', 'qemu_order', 50),
		  ('vfio-sample-phys', 'close_attached', 50),
		  ('vfio-sample-emul', 'qemu_order', 46),
		  ('vfio-sample-emul', 'close_attached', 45),
		  ('rust-vfio-phys', 'qemu_order', 52),
		  ('rust-vfio-phys', 'close_attached', 51),
		  ('rust-vfio-emul', 'qemu_order', 46),
		  ('rust-vfio-emul', 'close_attached', 45)]


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
			line = (f'# Totals: pass:{8 - fail - skip} fail:{fail} '
				f'xfail:0 xpass:0 skip:{skip} error:0')
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
		self.assertIn('vfio_cdev_fail_nth: 8 of 8 tests passed in 0 s', out)
		for driver, test, sites in FAIL_NTH_SITES:
			self.assertIn(f'    {driver:<18} {test:<16} {sites:>5} fault '
				      'sites   0.01 s\n', out)

	def test_failure(self):
		rows, out = self.rows(fail_nth_console({3: 'not ok'}))
		self.assertEqual(rows, [(self.label, 7, 1)])
		self.assertIn('fail: vfio_cdev_fail_nth.c_emulated.qemu_order', out)

	def test_skip_fails(self):
		rows, _ = self.rows(fail_nth_console({5: 'skip', 6: 'skip'}))
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


# --- Counting the uAPI and stress tests (their TAP on the console) ------------

VFIO_CONSOLE = 'vfio-user-console.log'


def edit_console(lines, drop=lambda name: False, fix_counts=True):
	"""lines without the TAP result lines of the tests drop(name) is true
	for; with fix_counts, each program's plan and Totals line then count
	only the tests that are left, as if the others had never been."""
	out = []
	for line in lines:
		m = uml_user.TAP_RESULT.match(line)
		if m and drop((m.group(3) or '').split(' #')[0].strip()):
			continue
		out.append(line)
	if not fix_counts:
		return out
	fixed, frame = [], []
	for line in out + ['uml-init: BEGIN (end)']:
		if uml_user.BEGIN.search(line):
			tests = uml_user.parse_tap(frame).results
			for l in frame:
				if uml_user.TAP_PLAN.match(l):
					l = f'1..{len(tests)}'
				elif uml_user.TAP_TOTALS.match(l):
					l = '# Totals: ' + uml_user.format_totals(
						harness_totals(tests))
				fixed.append(l)
			frame = []
		frame.append(line)
	return fixed


class UapiResultsTest(unittest.TestCase):
	"""step_uapi_results() and step_stress_results() on copies of a real
	run's console: the rows, the uAPI matrix and its expected counts."""

	def count(self, lines):
		programs = uml_user.results_by_program(lines)
		results = Results()
		_, out = quietly(lambda: (run_user.step_uapi_results(results, programs),
					  step_stress_results(results, programs)))
		code, closing = quietly(results.closing_line)
		return ([(step, p, f) for step, p, f, _ in results.rows], out,
			closing.strip(), code, results.rows)

	def test_real_console(self):
		rows, out, closing, code, _ = self.count(read_testdata(VFIO_CONSOLE))
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 134, 0),
					('uapi: matrix', 1, 0),
					('stress: vfio_cdev_stress_test', 8, 0)])
		self.assertEqual((closing, code), ('143 passed, 0 failed', 0))
		for row in ('  c-physical      pass  pass  pass  pass  pass  pass  '
			    'pass  pass  pass  pass  pass     -  pass\n',
			    '  rust-emulated   pass  pass  pass  pass  pass  pass  '
			    'pass  pass  pass  pass  pass  pass  pass\n'):
			self.assertIn(row, out)

	def test_edit_console_keeps_a_real_console(self):
		lines = read_testdata(VFIO_CONSOLE)
		self.assertEqual(edit_console(lines), lines)

	def test_rust_rows_lost(self):
		lines = edit_console(read_testdata(VFIO_CONSOLE),
				     lambda n: '.rust_' in n and 'stress' not in n)
		rows, out, closing, code, _ = self.count(lines)
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 67, 0),
					('uapi: matrix', 0, 23),
					('stress: vfio_cdev_stress_test', 8, 0)])
		self.assertEqual((closing, code), ('75 passed, 23 failed', 1))
		self.assertIn('  rust-physical   MISS  MISS  MISS  MISS  MISS  MISS'
			      '  MISS  MISS  pass  MISS  MISS     -  MISS\n', out)

	def test_every_u5_test_deleted(self):
		lines = edit_console(read_testdata(VFIO_CONSOLE),
				     lambda n: run_matrix.UAPI_TESTS.get(
					     n.split('.')[-1]) == 'U5')
		rows, out, _, code, _ = self.count(lines)
		self.assertEqual(rows[:2], [('uapi: vfio_cdev_uapi_test', 94, 0),
					    ('uapi: matrix', 0, 4)])
		self.assertEqual(code, 1)
		self.assertIn('uAPI matrix: c-physical U5: 0 cases, 10 expected',
			      out)

	def test_unknown_test_name(self):
		lines = [l.replace(' vfio_cdev.c_emulated.detach_twice',
				   ' vfio_cdev.c_emulated.detach_thrice')
			 for l in read_testdata(VFIO_CONSOLE)]
		rows, out, _, code, _ = self.count(lines)
		self.assertEqual(rows[:2], [('uapi: vfio_cdev_uapi_test', 134, 0),
					    ('uapi: matrix', 0, 2)])
		self.assertIn('uAPI matrix: unknown test detach_thrice', out)
		self.assertIn('uAPI matrix: c-emulated U6: 1 cases, 2 expected', out)
		self.assertEqual(code, 1)

	def test_stress_did_not_run(self):
		lines = read_testdata(VFIO_CONSOLE)
		begin = lines.index('uml-init: BEGIN /vfio_cdev_stress_test')
		rows, out, _, code, _ = self.count(lines[:begin])
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 134, 0),
					('uapi: matrix', 0, 4),
					('stress: vfio_cdev_stress_test', 0, 1)])

	def test_lost_result_line(self):
		lines = edit_console(read_testdata(VFIO_CONSOLE),
				     lambda n: n == 'vfio_cdev.c_physical.'
				     'ioctl_before_bind', fix_counts=False)
		rows, _, _, code, full = self.count(lines)
		self.assertEqual(rows[:2], [('uapi: vfio_cdev_uapi_test', 133, 1),
					    ('uapi: matrix', 0, 1)])
		self.assertEqual(full[0][3], 'patched: vfio_cdev_uapi_test: '
				 '"# Totals: pass:134 fail:0 xfail:0 xpass:0 '
				 'skip:0 error:0", but its result lines give '
				 'pass:133 fail:0 xfail:0 xpass:0 skip:0 error:0')

	def test_no_totals_line(self):
		lines = [l for l in read_testdata(VFIO_CONSOLE)
			 if not l.startswith('# Totals:')]
		rows, _, _, code, full = self.count(lines)
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 134, 1),
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
		return [l.replace('pass:134 ', 'pass:133 ').replace(
			f'{key}:0', f'{key}:1') if l.startswith(
			'# Totals: pass:134') else l for l in lines]

	def test_xfail_is_no_pass(self):
		rows, out, _, code, _ = self.count(self.xfail_console('XFAIL'))
		self.assertEqual(rows[:2], [('uapi: vfio_cdev_uapi_test', 133, 1),
					    ('uapi: matrix', 1, 0)])
		self.assertIn('  c-emulated      pass  pass  pass  FAIL', out)
		self.assertIn('xfail: vfio_cdev.c_emulated.detach_unknown_flags', out)
		self.assertEqual(code, 1)

	def test_xpass_is_no_pass(self):
		rows, _, _, code, _ = self.count(self.xfail_console('XPASS'))
		self.assertEqual(rows[0], ('uapi: vfio_cdev_uapi_test', 133, 1))
		self.assertEqual(code, 1)

	def test_stress_timed_out(self):
		lines = read_testdata(VFIO_CONSOLE)
		begin = lines.index('uml-init: BEGIN /vfio_cdev_stress_test')
		third = next(i for i, l in enumerate(lines)
			     if i > begin and l.startswith('ok 3 '))
		lines = lines[:third + 1] + ['uml-init: /vfio_cdev_stress_test '
					     'still running after 300 s, killing',
					     'uml-init: END /vfio_cdev_stress_test '
					     'exit=timeout seconds=300.0']
		self.assertGreater(third, begin)
		rows, _, _, code, full = self.count(lines)
		self.assertEqual(rows, [('uapi: vfio_cdev_uapi_test', 134, 0),
					('uapi: matrix', 0, 3),
					('stress: vfio_cdev_stress_test', 3, 5)])
		self.assertEqual(full[2][3], 'patched: vfio_cdev_stress_test '
				 'timed out after 300 s, killed')


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


# --- The kernel log check: announcements with a function, more reports ------

KUNIT_LOG = 'kunit-vfio-test.log'


class WarningAtTest(unittest.TestCase):
	"""Both formats of a WARNING report's origin."""

	def test_6_12(self):
		self.assertEqual(run_logcheck.warning_at(
			'WARNING: CPU: 0 PID: 1 at drivers/vfio/vfio_main.c:349 '
			'__vfio_register_dev+0x11b/0x1a0'),
			('drivers/vfio/vfio_main.c', 349,
			 '__vfio_register_dev+0x11b/0x1a0'))

	def test_7_x(self):
		self.assertEqual(run_logcheck.warning_at(
			'WARNING: drivers/vfio/vfio_main.c:351 at '
			'__vfio_register_dev+0xea/0x170, CPU#0: kunit_try_catch/37'),
			('drivers/vfio/vfio_main.c', 351,
			 '__vfio_register_dev+0xea/0x170'))

	def test_not_a_location(self):
		self.assertIsNone(run_logcheck.warning_at(
			'WARNING: bad unlock balance detected!'))

	def test_7_x_announced(self):
		"""A 7.x report matches its announcement, and only that."""
		lines = ['vfio-kunit: expected WARNING from '
			 'drivers/vfio/vfio_main.c:__vfio_register_dev begins',
			 'WARNING: drivers/vfio/vfio_main.c:351 at '
			 '__vfio_register_dev+0xea/0x170, CPU#0: kunit_try_catch/37',
			 'vfio-kunit: expected WARNING ends']
		self.assertEqual(check_kernel_log(lines), (1, []))
		wrong = [lines[0].replace('vfio_main.c', 'iommufd.c')] + lines[1:]
		self.assertEqual(len(check_kernel_log(wrong)[1]), 2)


def with_functions(lines, wrong=False):
	"""lines with each announcement as 'FILE:FUNCTION', the function of the
	first WARNING from FILE in its bracket that no earlier announcement
	took (or, with wrong, another function)."""
	out = list(lines)
	taken = set()
	for n, line in enumerate(lines):
		m = run_logcheck.EXPECT_BEGIN.search(line)
		if not m:
			continue
		for k in range(n, len(lines)):
			report = run_logcheck.warning_at(lines[k])
			if report and k not in taken and report[0] == m.group(1):
				break
		taken.add(k)
		function = report[2].split('+')[0]
		if wrong:
			function = 'vfio_iommufd_other'
		out[n] = line.replace(f'from {m.group(1)} ',
				      f'from {m.group(1)}:{function} ')
	return out


ATTACH_WARN = ('WARNING: CPU: 0 PID: 264 at drivers/vfio/iommufd.c:147 '
	       'vfio_iommufd_physical_attach_ioas+0xcb/0xd0')
DETACH_WARN = ('WARNING: CPU: 0 PID: 264 at drivers/vfio/iommufd.c:165 '
	       'vfio_iommufd_physical_detach_ioas+0xa5/0xb0 [vfio]')


def begin(what):
	return f'    # vfio_conf_test: vfio-kunit: expected WARNING from {what} begins'


# A C file in kernel style: line 9 is in the second function.
FAKE_IOMMUFD_C = """int vfio_iommufd_physical_attach_ioas(struct vfio_device *vdev,
				     u32 *pt_id)
{
	return 0;
}
void vfio_iommufd_physical_detach_ioas(struct vfio_device *vdev)
{
	lockdep_assert_held(&vdev->dev_set->lock);
	WARN_ON(!vdev->iommufd_device);
}
"""


class AnnouncedFunctionTest(unittest.TestCase):
	def setUp(self):
		# No source tree: a report matches by its symbol only.
		self.tree = tempfile.TemporaryDirectory()
		self.saved = run_logcheck.SOURCE_TREE
		run_logcheck.SOURCE_TREE = self.tree.name

	def tearDown(self):
		run_logcheck.SOURCE_TREE = self.saved
		self.tree.cleanup()

	def write_source(self, path, text):
		full = os.path.join(self.tree.name, path)
		os.makedirs(os.path.dirname(full), exist_ok=True)
		with open(full, 'w') as f:
			f.write(text)

	def test_line_names_the_function_when_inlined(self):
		self.write_source('drivers/vfio/iommufd.c', FAKE_IOMMUFD_C)
		inlined = ('WARNING: CPU: 0 PID: 1 at drivers/vfio/iommufd.c:9 '
			   'vfio_conf_detach_unbound+0x85/0x1f0')
		self.assertEqual(check_kernel_log([
			begin('drivers/vfio/iommufd.c:'
			      'vfio_iommufd_physical_detach_ioas'),
			inlined, END]), (1, []))
		self.assertEqual(len(check_kernel_log([
			begin('drivers/vfio/iommufd.c:'
			      'vfio_iommufd_physical_attach_ioas'),
			inlined, END])[1]), 2)

	def test_enclosing_function(self):
		self.write_source('f.c', FAKE_IOMMUFD_C)
		found = [run_logcheck.enclosing_function('f.c', n)
			 for n in range(1, FAKE_IOMMUFD_C.count('\n') + 1)]
		attach = 'vfio_iommufd_physical_attach_ioas'
		detach = 'vfio_iommufd_physical_detach_ioas'
		# Headers are outside, braces inside, the body's lines inside.
		self.assertEqual(found, [None, None, attach, attach, attach,
					 None, detach, detach, detach, detach])
		self.assertIsNone(run_logcheck.enclosing_function('missing.c', 3))


	def test_real_log(self):
		self.assertEqual(check_kernel_log(read_testdata(KUNIT_LOG)), (18, []))

	def test_real_log_with_functions(self):
		lines = with_functions(read_testdata(KUNIT_LOG))
		self.assertEqual(sum(1 for l in lines if 'iommufd.c:vfio_'
				     'iommufd_physical_attach_ioas begins' in l), 4)
		self.assertEqual(check_kernel_log(lines), (18, []))

	def test_real_log_with_wrong_functions(self):
		# 18 reports, and 16 brackets whose announcements did not come
		# (two brackets announce two WARNINGs each).
		seen, problems = check_kernel_log(with_functions(
			read_testdata(KUNIT_LOG), wrong=True))
		self.assertEqual((seen, len(problems)), (0, 34))

	def test_function(self):
		self.assertEqual(check_kernel_log([
			begin('drivers/vfio/iommufd.c:'
			      'vfio_iommufd_physical_attach_ioas'),
			ATTACH_WARN, END]), (1, []))

	def test_other_function_of_the_file(self):
		seen, problems = check_kernel_log([
			begin('drivers/vfio/iommufd.c:'
			      'vfio_iommufd_physical_attach_ioas'),
			DETACH_WARN, END])
		self.assertEqual(seen, 0)
		self.assertEqual(problems, [
			f'line 2: {DETACH_WARN}',
			'line 1: announced WARNINGs from drivers/vfio/iommufd.c:'
			'vfio_iommufd_physical_attach_ioas did not come'])

	def test_same_function_other_file(self):
		_, problems = check_kernel_log([
			begin('drivers/vfio/vfio_main.c:'
			      'vfio_iommufd_physical_attach_ioas'),
			ATTACH_WARN, END])
		self.assertEqual(len(problems), 2)

	def test_compiler_copy_of_the_function(self):
		warn = ATTACH_WARN.replace('_ioas+', '_ioas.isra.0+')
		self.assertEqual(check_kernel_log([
			begin('drivers/vfio/iommufd.c:'
			      'vfio_iommufd_physical_attach_ioas'),
			warn, END]), (1, []))
		prefix = ATTACH_WARN.replace('_ioas+', '_ioas_more+')
		self.assertEqual(check_kernel_log([
			begin('drivers/vfio/iommufd.c:'
			      'vfio_iommufd_physical_attach_ioas'),
			prefix, END])[0], 0)

	def test_no_symbol_in_the_report(self):
		_, problems = check_kernel_log([
			begin('drivers/vfio/vfio_main.c:__vfio_register_dev'),
			WARN, END])
		self.assertEqual(len(problems), 2)

	def test_file_only_still_accepted(self):
		self.assertEqual(check_kernel_log([
			begin('drivers/vfio/iommufd.c'), DETACH_WARN, END]), (1, []))

	def test_function_matched_before_file(self):
		self.assertEqual(check_kernel_log([
			begin('drivers/vfio/iommufd.c'),
			begin('drivers/vfio/iommufd.c:'
			      'vfio_iommufd_physical_detach_ioas'),
			DETACH_WARN, ATTACH_WARN, END]), (2, []))


class MoreReportsTest(unittest.TestCase):
	"""RCU stalls, hung tasks, kmemleak, KASAN and UBSAN are reports."""

	REPORTS = [
		'rcu: INFO: rcu_sched self-detected stall on CPU',
		'rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:',
		'INFO: rcu_sched detected stalls on CPUs/tasks: { 0-... }',
		'INFO: rcu_tasks detected stalls on tasks:',
		'INFO: task vfio_cdev_stres:123 blocked for more than 120 seconds.',
		'[  250.1] task:kworker/0:1 blocked for more than 122 seconds.',
		'kmemleak: 3 new suspected memory leaks (see '
		'/sys/kernel/debug/kmemleak)',
		'unreferenced object 0x000000006b5e8a00 (size 64):',
		'BUG: KASAN: slab-use-after-free in iopt_unmap_iova_range+0x1/0x2',
		'UBSAN: array-index-out-of-bounds in drivers/vfio/iommufd.c:12:3',
		'watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [init:1]',
		'NMI watchdog: Watchdog detected hard LOCKUP on cpu 1',
	]
	BENIGN = [
		'rcu: Hierarchical RCU implementation.',
		'rcu: RCU calculated value of scheduler-enlistment delay is 25 '
		'jiffies.',
		'kmemleak: Kernel memory leak detector initialized (mem pool '
		'available: 15731)',
		'kmemleak: Automatic memory scanning thread started',
		'kmemleak-scan: 0 suspected leaks',
		'"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this '
		'message.',
		'ok 12 vfio_cdev.c_physical.race_then_detach',
	]

	def test_reports(self):
		seen, problems = check_kernel_log(self.REPORTS)
		self.assertEqual((seen, problems), (0, [
			f'line {n}: {line.strip()}'
			for n, line in enumerate(self.REPORTS, 1)]))

	def test_benign_lines(self):
		self.assertEqual(check_kernel_log(self.BENIGN), (0, []))

	def test_step_rows_have_labels(self):
		import tempfile
		with tempfile.TemporaryDirectory() as tmp:
			clean = os.path.join(tmp, 'clean.log')
			stalled = os.path.join(tmp, 'stalled.log')
			with open(clean, 'w') as f:
				f.write('\n'.join(self.BENIGN))
			with open(stalled, 'w') as f:
				f.write('\n'.join(self.BENIGN + self.REPORTS[:1]))
			results = Results()
			quietly(lambda: (
				run_logcheck.step_kernel_log(results, clean,
						    'kernel log (base + fixes)'),
				run_logcheck.step_kernel_log(results, stalled,
						    'kernel log (bench: DMA)'),
				run_logcheck.step_kernel_log(results, os.path.join(tmp, 'no'),
						    'kernel log (bench: iommufd)')))
		self.assertEqual([r[:3] for r in results.rows], [
			('kernel log (base + fixes)', 1, 0),
			('kernel log (bench: DMA)', 0, 1),
			('kernel log (bench: iommufd)', 0, 1)])


if __name__ == '__main__':
	unittest.main()


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
