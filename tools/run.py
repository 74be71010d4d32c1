#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The project's two jobs, as the README's two commands run them.

  main   install the toolchain, build the patched kernel (UML, LLVM=1,
         CONFIG_RUST=y) and run the KUnit suites; show kunit.py's results,
         a table per suite and the kernel log check.
  check  everything 'main' does, plus the static checks: the Coccinelle
         rule on the pristine and the patched tree, 'git am' of the
         exported series on the pristine base, and checkpatch --strict on
         every patch.

Both end with one line 'N passed, N failed' over every step, and exit
non-zero on any failure, on a suite that did not run, and on any kernel
WARNING, BUG or lockdep report that a test did not announce.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compile_fail  # noqa: E402
import series  # noqa: E402
import uml_user  # noqa: E402

TOP = series.TOP
BUILD = series.BUILD
KSRC = series.KSRC
KUNIT_BUILD = os.path.join(BUILD, 'kunit-uml')
KUNIT_JSON = os.path.join(BUILD, 'kunit-results.json')
ARM64_BUILD = os.path.join(BUILD, 'arm64-cdx')
ARM64_CONFIG = os.path.join(TOP, 'linux', 'cdx-arm64.config')
BINDGEN = os.path.expanduser('~/.cache/vfio-contract/bindgen-0.65.1/bin/bindgen')

# Every --kunitconfig of the run; paths in the kernel tree are relative to it.
# The same kernel boots user space for the uAPI tests (uml-user.config).
KUNITCONFIGS = [os.path.join(TOP, 'kunit', '.kunitconfig'),
		'drivers/vfio/tests/.kunitconfig', uml_user.USER_CONFIG]

# User space under UML: headers, test programs, roots and console logs.
USER_BUILD = os.path.join(BUILD, 'uml-user')
# The base that iommufd's selftests are compared against, and its UML kernel:
# the pristine base plus the series' fixes of the base that running them
# under UML needs, without the project's seams, samples and tests. On the
# pristine base alone no mock device can be created under UML (the bug patch
# 0004 fixes), so most tests fail there.
PRISTINE_SRC = os.path.join(BUILD, 'pristine-src')
PRISTINE_BUILD = os.path.join(BUILD, 'pristine-uml')
BASELINE_FIXES = ('iommu-static-blocked-default-domain',
		  'um-x86-xstate-host-size', 'selftests-iommu-build-6.12')
BASELINE_LABEL = 'base + fixes'
VFIO_UAPI_FOLDER = 'tools/testing/selftests/vfio'
VFIO_UAPI_PROGRAM = 'vfio_cdev_uapi_test'
# The stress test of the device cdev, in the same folder; it runs after the
# uAPI test in the same boot.
VFIO_STRESS_PROGRAM = 'vfio_cdev_stress_test'
# The uAPI test's fixtures are named after what they hold; its variants
# after the sample driver, as in the vfio_iommufd KUnit suite.
UAPI_DRIVERS = {'c_physical': 'c-physical', 'c_emulated': 'c-emulated',
		'rust_physical': 'rust-physical',
		'rust_emulated': 'rust-emulated'}

# The suites the run must show; one that is missing fails the run.
EXPECTED_SUITES = ['vfio_registration', 'vfio_iommufd', 'rust_doctests_kernel']

# Debian's rustc-web and friends: the rustup toolchain that may come first on
# PATH has no rust-src. Every Rust tool the kernel build runs is named, and
# /usr/bin also goes first on PATH for anything a Makefile finds by name.
MAKE_OPTIONS = ['LLVM=1', 'RUSTC=/usr/bin/rustc', 'HOSTRUSTC=/usr/bin/rustc',
		'RUSTDOC=/usr/bin/rustdoc', 'RUSTFMT=/usr/bin/rustfmt',
		'CLIPPY_DRIVER=/usr/bin/clippy-driver', f'BINDGEN={BINDGEN}']
KERNEL_ENV = dict(os.environ, PATH='/usr/bin:/bin:' + os.environ['PATH'])


class Results:
	"""What each step passed and failed, for the closing line."""

	def __init__(self):
		self.rows = []

	def add(self, step, passed, failed, note=''):
		self.rows.append((step, passed, failed, note))

	def table(self):
		width = max(len(r[0]) for r in self.rows)
		print(f'\n  {"step":<{width}}  passed  failed')
		for step, passed, failed, note in self.rows:
			print(f'  {step:<{width}}  {passed:>6}  {failed:>6}  {note}')

	def closing_line(self):
		passed = sum(r[1] for r in self.rows)
		failed = sum(r[2] for r in self.rows)
		print(f'\n{passed} passed, {failed} failed')
		return 1 if failed else 0


def banner(msg):
	print(f'\n==> {msg}', flush=True)


def run(cmd, cwd=TOP, **kw):
	return subprocess.run(cmd, cwd=cwd, **kw)


def step_toolchain():
	banner('Toolchain')
	log = os.path.join(BUILD, 'toolchain.log')
	os.makedirs(BUILD, exist_ok=True)
	res = run(['tools/install-toolchain.sh'], env=dict(os.environ, LOG=log))
	if res.returncode:
		sys.exit(f'toolchain install failed, see {log}')


def step_tree():
	banner('Kernel tree: base and series')
	series.prepare(None)


class Progress(threading.Thread):
	"""Say every 30 s how far a silent kernel build has come."""

	def __init__(self, build_dir):
		super().__init__(daemon=True)
		self.build_dir = build_dir
		self.stop = threading.Event()
		self.start_time = time.time()

	def objects(self):
		"""Objects (re)built since the build started."""
		count = 0
		for root, _, files in os.walk(self.build_dir):
			for f in files:
				if f.endswith('.o') and os.stat(os.path.join(
						root, f)).st_mtime >= self.start_time:
					count += 1
		return count

	def run(self):
		while not self.stop.wait(30):
			print(f'  ... {time.time() - self.start_time:.0f} s, '
			      f'{self.objects()} objects compiled', flush=True)


def kunit_cmd(action, *extra, build_dir=KUNIT_BUILD,
	      kunitconfigs=KUNITCONFIGS):
	cmd = [sys.executable, 'tools/testing/kunit/kunit.py', action,
	       '--arch=um', f'--build_dir={build_dir}', *extra]
	cmd += [f'--kunitconfig={k}' for k in kunitconfigs]
	cmd += [f'--make_options={o}' for o in MAKE_OPTIONS]
	return cmd


def make(build_dir, *args, arch='um', log=None):
	"""make in the kernel tree; output to log, True on success."""
	cmd = ['make', '-s', f'ARCH={arch}', f'O={build_dir}',
	       f'-j{os.cpu_count()}', *MAKE_OPTIONS, *args]
	with open(log or os.devnull, 'a') as out:
		return run(cmd, cwd=KSRC, env=KERNEL_ENV, stdout=out,
			   stderr=subprocess.STDOUT).returncode == 0


def build_cdx_arm64(log):
	"""Compile drivers/vfio/cdx/ for arm64, warnings as errors.

	CDX is arm64-only and has no COMPILE_TEST, so UML cannot build it.
	"""
	obj = os.path.join(ARM64_BUILD, 'drivers', 'vfio', 'cdx', 'main.o')
	if os.path.exists(obj):
		os.unlink(obj)
	return make(ARM64_BUILD, f'KCONFIG_ALLCONFIG={ARM64_CONFIG}',
		    'allnoconfig', arch='arm64', log=log) and \
		make(ARM64_BUILD, 'KCFLAGS=-Werror', 'drivers/vfio/cdx/',
		     arch='arm64', log=log) and os.path.exists(obj)


def step_commits_build(results):
	"""Every commit of the series builds: UML, and arm64 for vfio-cdx.

	The series' commits but the last are built here, incrementally in the
	same build directory; the last is the one kunit.py builds and runs.
	Each starts from the configuration kunit.py makes for the last commit,
	so that olddefconfig keeps every option the commit already knows (an
	option an earlier commit did not have would otherwise stay off).
	"""
	banner('Each commit of the series builds (UML, and arm64 for vfio-cdx)')
	log = os.path.join(BUILD, 'commits-build.log')
	open(log, 'w').close()
	res = run(kunit_cmd('config'), cwd=KSRC, env=KERNEL_ENV,
		  stdout=subprocess.DEVNULL)
	if res.returncode:
		results.add('each commit builds', 0, 1, 'kunit.py config failed')
		return
	tip_config = os.path.join(BUILD, 'tip.config')
	shutil.copyfile(os.path.join(KUNIT_BUILD, '.config'), tip_config)
	commits = series.git('rev-list', '--reverse', 'base..series').split()
	tally = series.Tally()
	try:
		for n, commit in enumerate(commits, 1):
			subject = series.git('log', '-1', '--format=%s', commit)
			series.git('checkout', '-q', '--detach', commit)
			start = time.time()
			progress = Progress(KUNIT_BUILD)
			progress.start()
			ok = build_cdx_arm64(log)
			if n < len(commits):
				shutil.copyfile(tip_config,
						os.path.join(KUNIT_BUILD, '.config'))
				ok = ok and make(KUNIT_BUILD, 'olddefconfig', log=log) \
					and make(KUNIT_BUILD, 'all', log=log)
			progress.stop.set()
			tally.result(ok, f'{n}/{len(commits)} builds: {subject} '
				     f'({time.time() - start:.0f} s)', f'  see {log}')
	finally:
		series.git('checkout', '-q', 'series')
	results.add('each commit builds', tally.passed, tally.failed)


def step_kunit(results):
	"""Build the UML kernel and run the suites with kunit.py."""
	banner('KUnit under UML (build and run; a clean build takes minutes)')
	cmd = kunit_cmd('run', f'--jobs={os.cpu_count()}', f'--json={KUNIT_JSON}',
			'--timeout=600')
	if os.path.exists(KUNIT_JSON):
		os.unlink(KUNIT_JSON)
	start = time.time()
	progress = Progress(KUNIT_BUILD)
	progress.start()
	res = run(cmd, cwd=KSRC, env=KERNEL_ENV)
	progress.stop.set()
	print(f'  kunit.py exited {res.returncode} after '
	      f'{time.time() - start:.0f} s')

	suites = {}
	if os.path.exists(KUNIT_JSON):
		with open(KUNIT_JSON) as f:
			results_json = json.load(f)
		suites = suite_counts(results_json)
		print_matrix(results_json)
	print(f'\n  {"suite":<28} passed  failed  skipped')
	for name, (passed, failed, skipped) in suites.items():
		print(f'  {name:<28} {passed:>6}  {failed:>6}  {skipped:>7}')
		results.add(f'kunit: {name}', passed, failed,
			    f'({skipped} skipped, not counted)' if skipped else '')
	for name in EXPECTED_SUITES:
		if name not in suites:
			print(f'  {name:<28} did not run')
			results.add(f'kunit: {name}', 0, 1, 'did not run')
	if res.returncode and not any(r[2] for r in results.rows):
		results.add('kunit.py', 0, 1, f'exited {res.returncode}')
	step_kernel_log(results, os.path.join(KUNIT_BUILD, 'test.log'))


def suite_counts(group):
	"""Leaf test counts per suite from kunit.py's JSON."""
	def leaves(g):
		for case in g['test_cases']:
			yield case['status']
		for sub in g['sub_groups']:
			yield from leaves(sub)

	counts = {}
	for suite in group['sub_groups']:
		statuses = list(leaves(suite))
		counts[suite['name']] = (statuses.count('PASS'),
					 len([s for s in statuses
					      if s not in ('PASS', 'SKIP')]),
					 statuses.count('SKIP'))
	for case in group['test_cases']:	# a suite with no cases at all
		counts[case['name']] = (0, 0 if case['status'] == 'PASS' else 1, 0)
	return counts


# The contract's order of rule families: registration, ops, uAPI, security.
RULE_ORDER = 'ROUS'


def print_rule_matrix(title, source, cells, mark):
	"""A table with a row per driver and a column per rule of the contract.

	cells: {driver: {rule: [status, ...]}}; mark(statuses) is the cell's
	text. A rule a driver has no status for is '-' (it does not apply).
	"""
	rules = sorted({r for row in cells.values() for r in row},
		       key=lambda r: (RULE_ORDER.find(r[0]),
				      int(r[1:]) if r[1:].isdigit() else 0))
	print(f'\n  {title} ({source}; pass = every case of the rule passed, '
	      '- = rule does not apply)')
	print('  ' + f'{"driver":<14}' + ''.join(f'{r:>6}' for r in rules))
	for drv, row in cells.items():
		marks = [mark(row[r]) if row.get(r) else '-' for r in rules]
		print('  ' + f'{drv:<14}' + ''.join(f'{m:>6}' for m in marks))


def print_matrix(group):
	"""The conformance matrix of the vfio_iommufd suite.

	Case names of the suite are '<driver> <rule> <what>'; a rule passes for
	a driver when all its cases passed.
	"""
	cells = {}
	for suite in group['sub_groups']:
		if suite['name'] != 'vfio_iommufd':
			continue
		cases = [c for g in suite['sub_groups'] for c in g['test_cases']]
		cases += suite['test_cases']
		for case in cases:
			parts = case['name'].split()
			if len(parts) < 2:
				continue
			cell = cells.setdefault(parts[0], {}).setdefault(parts[1], [])
			cell.append(case['status'])
	if not cells:
		return

	def mark(statuses):
		if all(st == 'PASS' for st in statuses):
			return 'pass'
		if all(st == 'SKIP' for st in statuses):
			return 'skip'
		return 'FAIL'
	print_rule_matrix('Conformance matrix', 'vfio_iommufd', cells, mark)


# A report the kernel prints for a bug: WARN, BUG, lockdep, KASAN, UBSAN, ...
REPORT = re.compile(r'(WARNING:|BUG:|Oops|Kernel panic|kernel BUG at|UBSAN:|'
		    r'KASAN:|general protection fault|INFO: task .* blocked|'
		    r'inconsistent lock state|possible recursive locking|'
		    r'possible circular locking|suspicious RCU usage)')
EXPECT_BEGIN = re.compile(r'vfio-kunit: expected WARNING from (\S+) begins')
EXPECT_END = re.compile(r'vfio-kunit: expected WARNING ends')


def check_kernel_log(lines):
	"""Unexpected reports, and brackets that did not see what they announced.

	Each begin line of a bracket announces one WARNING from a source file;
	a "WARNING: ... at <file>:<line>" report counts for an announcement of
	that file, and at the end every announcement must have its report.
	Returns (announced warnings seen, list of problems).
	"""
	problems = []
	seen = 0
	expected = None		# (line of the first begin, files still expected)
	for n, line in enumerate(lines, 1):
		m = EXPECT_BEGIN.search(line)
		if m:
			if expected is None:
				expected = (n, [])
			expected[1].append(m.group(1))
			continue
		if EXPECT_END.search(line):
			if expected is None:
				problems.append(f'line {n}: bracket end without begin')
			elif expected[1]:
				problems.append(f'line {expected[0]}: announced WARNINGs '
						f'from {", ".join(expected[1])} did not come')
			expected = None
			continue
		if not REPORT.search(line):
			continue
		match = None
		if expected is not None and line.lstrip().startswith('WARNING:'):
			match = next((f for f in expected[1] if f' at {f}:' in line), None)
		if match:
			expected[1].remove(match)
			seen += 1
		else:
			problems.append(f'line {n}: {line.strip()}')
	if expected is not None:
		problems.append(f'line {expected[0]}: bracket never ended')
	return seen, problems


def step_kernel_log(results, path, label='kernel log'):
	if not os.path.exists(path):
		results.add(label, 0, 1, f'no {os.path.basename(path)}')
		return
	with open(path, errors='replace') as f:
		seen, problems = check_kernel_log(f.read().splitlines())
	for p in problems:
		print(f'  {label}: {p}')
	print(f'  {label}: {seen} announced WARNINGs seen where expected, '
	      f'{len(problems)} problems')
	results.add(label, 0 if problems else 1, 1 if problems else 0,
		    f'({seen} announced WARNINGs)')


def build_programs(ksrc, work, log, vfio):
	"""Static test programs of ksrc, in the order a boot runs them."""
	include = uml_user.install_headers(ksrc, os.path.join(work, 'headers'),
					   log)
	iommu = uml_user.build_selftests(ksrc, include,
					 os.path.join(work, 'iommu'), log=log)
	programs = [iommu[name] for name in uml_user.IOMMU_PROGRAMS]
	if vfio:
		names = (VFIO_UAPI_PROGRAM, VFIO_STRESS_PROGRAM)
		built = uml_user.build_selftests(
			ksrc, include, os.path.join(work, 'vfio'),
			folder=VFIO_UAPI_FOLDER, programs=names, log=log)
		programs[0:0] = [built[name] for name in names]
	return programs


def boot_programs(linux, work, programs, args, log):
	"""Boot linux with programs as user space; its console log's lines."""
	init = uml_user.build_init(os.path.join(work, 'init'), log)
	uml_user.make_root(os.path.join(work, 'root'), init, programs)
	boot = uml_user.boot_uml(linux, os.path.join(work, 'root'),
				 os.path.join(work, 'console.log'), args=args)
	print(f'  booted {os.path.relpath(linux, TOP)}: {boot.seconds:.0f} s, '
	      f'{"timed out" if boot.timed_out else f"exit {boot.exit_code}"}, '
	      f'console in {os.path.relpath(boot.log, TOP)}')
	return boot


def pristine_kernel(log):
	"""The base plus BASELINE_FIXES, built for UML.

	A git worktree of build/linux, at the fixes' commits made on 'base' as
	the series' are; like the series' tree, it is moved with 'git reset
	--hard', so a file the fixes did not change keeps its time stamp and is
	not built again. Its options are the patched kernel's minus those the
	base does not have and Rust.
	"""
	fixes = [e for e in series.entries() if any(
		e.name.endswith(f'-{slug}.commit') for slug in BASELINE_FIXES)]
	if len(fixes) != len(BASELINE_FIXES):
		raise uml_user.Error(f'not all of {BASELINE_FIXES} in the series')
	tip = series.build_commits(fixes)
	series.git('worktree', 'prune')
	if not os.path.isdir(PRISTINE_SRC):
		series.git('worktree', 'add', '--detach', PRISTINE_SRC, tip)
	series.git('reset', '-q', '--hard', tip, cwd=PRISTINE_SRC)
	symbols = uml_user.kconfig_symbols(KSRC, 'base')
	config = os.path.join(BUILD, 'pristine.kunitconfig')
	with open(config, 'w') as f:
		f.write(uml_user.filter_kunitconfig(
			[os.path.join(KSRC, k) for k in KUNITCONFIGS],
			exists=lambda sym: sym in symbols, rust=False))
	cmd = kunit_cmd('build', f'--jobs={os.cpu_count()}',
			build_dir=PRISTINE_BUILD, kunitconfigs=[config])
	with open(log, 'a') as out:
		res = run(cmd, cwd=PRISTINE_SRC, env=KERNEL_ENV, stdout=out,
			  stderr=subprocess.STDOUT)
	if res.returncode:
		raise uml_user.Error(f'pristine kernel build failed, see {log}')
	return os.path.join(PRISTINE_BUILD, 'linux')


def print_uapi_matrix(*results):
	"""The uAPI matrix of vfio_cdev_uapi_test and vfio_cdev_stress_test.

	Test names are '<fixture>.<variant>.<rule>_<what>'; a rule passes for a
	driver when all its tests passed. A result may be None (did not run).
	"""
	cells = {drv: {} for drv in UAPI_DRIVERS.values()}
	for result in filter(None, results):
		for name, status in result.tests.items():
			parts = name.split('.')
			if len(parts) != 3 or parts[1] not in UAPI_DRIVERS:
				continue
			rule = parts[2].split('_')[0].upper()
			cells[UAPI_DRIVERS[parts[1]]].setdefault(
				rule, []).append(status)
	print_rule_matrix(
		'uAPI matrix', f'{VFIO_UAPI_PROGRAM}, U9 {VFIO_STRESS_PROGRAM}',
		cells,
		lambda sts: 'pass' if all(st in uml_user.PASSED for st in sts)
		else 'FAIL')


def step_uapi_results(results, programs):
	"""Count the uAPI test's results; a test that did not pass fails."""
	result = programs.get(VFIO_UAPI_PROGRAM)
	label = f'uapi: {VFIO_UAPI_PROGRAM}'
	if result is None:
		results.add(label, 0, 1, 'did not run')
		return
	print_uapi_matrix(result, programs.get(VFIO_STRESS_PROGRAM))
	passed = result.count(*uml_user.PASSED)
	failed = len(result.tests) - passed
	for name, status in result.tests.items():
		if status not in uml_user.PASSED:
			print(f'  {status}: {name}')
	problem = uml_user.incomplete_reason('patched', result)
	if problem and not failed:
		failed = 1
	results.add(label, passed, failed, problem or '')


def step_stress_results(results, programs):
	"""Count the stress test's results; a test that did not pass fails.

	Its tests are '<fixture>.<variant>.<test>', one variant per sample
	driver. A skip counts as a failure: the boot creates every device.
	"""
	result = programs.get(VFIO_STRESS_PROGRAM)
	label = f'stress: {VFIO_STRESS_PROGRAM}'
	if result is None:
		results.add(label, 0, 1, 'did not run')
		return
	passed = result.count(*uml_user.PASSED)
	failed = len(result.tests) - passed
	seconds = '' if result.seconds is None else f' in {result.seconds:.0f} s'
	print(f'\n  {VFIO_STRESS_PROGRAM}: {passed} of {len(result.tests)} '
	      f'tests passed{seconds}')
	for name, status in result.tests.items():
		if status not in uml_user.PASSED:
			print(f'  {status}: {name}')
	problem = uml_user.incomplete_reason('patched', result)
	if problem and not failed:
		failed = 1
	results.add(label, passed, failed, problem or '')


def step_iommufd_results(results, patched, pristine):
	"""iommufd's selftests: the patched kernel against the base + fixes."""
	patched = {n: r for n, r in patched.items()
		   if n in uml_user.IOMMU_PROGRAMS}
	comparison = uml_user.compare(pristine, patched,
				      uml_user.read_expected())
	print(f'\n  iommufd selftests under UML, the {BASELINE_LABEL} (patches '
	      f'{", ".join(BASELINE_FIXES)}) and the patched kernel (failures '
	      'listed in linux/iommufd-selftests-uml.expected with their '
	      'reasons are not counted)')
	for line in uml_user.format_comparison(comparison, BASELINE_LABEL):
		print(line)
	for name in uml_user.IOMMU_PROGRAMS:
		result = patched.get(name)
		if result is None:
			results.add(f'selftest: {name}', 0, 1, 'did not run')
			continue
		passed = result.count(*uml_user.PASSED)
		found = [f for f in comparison.regressions + comparison.unexpected
			 + comparison.incomplete if name in f.split(':')[0].split()]
		listed = len(result.tests) - passed
		results.add(f'selftest: {name}', passed, len(found),
			    f'({listed} listed UML failures not counted)')
	if comparison.incomplete and not any(
			r[0].startswith('selftest:') and r[2] for r in results.rows):
		results.add('selftests', 0, 1, '; '.join(comparison.incomplete))


def step_user(results):
	"""Boot the patched kernel's user space: uAPI test, iommufd selftests."""
	banner('User space under UML: the VFIO uAPI test and iommufd\'s '
	       f'selftests, on the patched kernel and the {BASELINE_LABEL}')
	os.makedirs(USER_BUILD, exist_ok=True)
	log = os.path.join(USER_BUILD, 'build.log')
	open(log, 'w').close()
	try:
		work = os.path.join(USER_BUILD, 'patched')
		programs = build_programs(KSRC, work, log, vfio=True)
		boot = boot_programs(os.path.join(KUNIT_BUILD, 'linux'), work,
				     programs, ['vfio_sample_devices.count=1'], log)
	except uml_user.Error as e:
		results.add('uapi: user space', 0, 1, str(e))
		return
	patched = uml_user.results_by_program(boot.log_lines())
	step_uapi_results(results, patched)
	step_stress_results(results, patched)
	step_kernel_log(results, boot.log, 'kernel log (user space)')

	try:
		work = os.path.join(USER_BUILD, 'pristine')
		linux = pristine_kernel(log)
		programs = build_programs(PRISTINE_SRC, work, log, vfio=False)
		pristine_boot = boot_programs(linux, work, programs, [], log)
		pristine = uml_user.results_by_program(pristine_boot.log_lines())
	except uml_user.Error as e:
		results.add(f'selftests: {BASELINE_LABEL}', 0, 1, str(e))
		pristine = {}
	step_iommufd_results(results, patched, pristine)


def step_cocci(results):
	"""The Coccinelle rule finds vfio-cdx on the base, nothing on the tip."""
	banner('Coccinelle: vfio_device_ops with incomplete iommufd ops')
	base = series.cocci_report('base')
	tip = series.cocci_report('series')
	for rev, lines in (('pristine base', base), ('patched tree', tip)):
		print(f'  {rev}: {len(lines)} report(s)')
		for line in lines:
			print(f'    {line}')
	tally = series.Tally()
	tally.result(any(l.startswith('drivers/vfio/cdx/main.c:') and
			 'vfio_cdx_ops' in l and 'detach_ioas' in l for l in base),
		     'reports vfio_cdx_ops on the pristine base')
	tally.result(not tip, 'reports nothing on the patched tree')
	results.add('coccinelle', tally.passed, tally.failed)


def step_tool_tests(results):
	"""The log check and the selftest comparison are only worth something
	if they can fail."""
	banner('Unit tests of the kernel log check and the user space tools')
	import unittest
	for name, label in (('test_run', 'log check unit tests'),
			    ('test_uml_user', 'uml_user unit tests'),
			    ('test_compile_fail', 'compile-fail unit tests')):
		suite = unittest.defaultTestLoader.loadTestsFromName(name)
		outcome = unittest.TextTestRunner(verbosity=1).run(suite)
		failed = len(outcome.failures) + len(outcome.errors)
		results.add(label, outcome.testsRun - failed, failed)


def doc_warnings(rev, path):
	"""Warnings of kernel-doc -Wall (C) or docutils (reST) on rev:path."""
	text = series.git('show', f'{rev}:{path}', raw=True, check=False)
	if not text:
		return []
	suffix = os.path.splitext(path)[1]
	with tempfile.NamedTemporaryFile('w', suffix=suffix, dir=BUILD) as f:
		f.write(text)
		f.flush()
		if suffix == '.rst':
			cmd = ['/usr/bin/python3', '-m', 'docutils', '--report=2',
			       f.name, os.devnull]
		else:
			cmd = ['scripts/kernel-doc', '-none', '-Wall', f.name]
		res = run(cmd, cwd=KSRC, capture_output=True, text=True)
	return [l.replace(f.name, path) for l in
		(res.stdout + res.stderr).splitlines() if l.strip()]


def step_docs(results):
	"""The series adds no kernel-doc or reST warning to the files it touches."""
	banner('Documentation: kernel-doc -Wall and docutils on touched files')
	paths = series.git('diff', '--name-only', '--diff-filter=AM', 'base',
			   'series').splitlines()
	paths = [p for p in paths if os.path.splitext(p)[1] in ('.c', '.h', '.rst')]
	tally = series.Tally()
	for path in paths:
		before = doc_warnings('base', path)
		after = doc_warnings('series', path)
		tally.result(len(after) <= len(before),
			     f'{path}: {len(after)} warnings ({len(before)} on the '
			     'base)', ''.join(f'    {l}\n' for l in after))
	results.add('documentation', tally.passed, tally.failed)


# The project's Rust files in the kernel tree, and its Rust samples.
RUST_FILES = ['rust/kernel/vfio.rs', 'samples/rust/rust_vfio_phys.rs',
	      'samples/rust/rust_vfio_emul.rs']
RUST_SAMPLES = RUST_FILES[1:]


def step_rust(results):
	"""rustfmt, clippy and rustdoc clean; no unsafe in the samples."""
	banner('Rust: rustfmtcheck, CLIPPY=1, rustdoc, unsafe in samples')
	tally = series.Tally()
	result = tally.result

	result(make(KUNIT_BUILD, 'rustfmtcheck',
		    log=os.path.join(BUILD, 'rust-rustfmt.log')),
	       'make LLVM=1 rustfmtcheck')

	def without_warnings(what, *args):
		"""make *args; it must succeed and print no rustc/clippy warning."""
		log = os.path.join(BUILD, f'rust-{what}.log')
		if os.path.exists(log):
			os.unlink(log)
		ok = make(KUNIT_BUILD, *args, log=log)
		with open(log) as f:
			warnings = [l for l in f if re.match(r'(warning|error)(\[|:)', l)]
		result(ok and not warnings, f'make LLVM=1 {" ".join(args)}: '
		       f'{len(warnings)} warnings or errors (build/rust-{what}.log)',
		       ''.join(f'    {l}' for l in warnings))

	# Rebuild the project's Rust with clippy; any warning in it fails.
	for path in RUST_FILES:
		os.utime(os.path.join(KSRC, path))
	without_warnings('clippy', 'CLIPPY=1')
	without_warnings('rustdoc', 'rustdoc')

	for path in RUST_SAMPLES:
		with open(os.path.join(KSRC, path)) as f:
			count = len(re.findall(r'\bunsafe\b', f.read()))
		result(count == 0, f'{path}: {count} unsafe')
	results.add('rust checks', tally.passed, tally.failed)



def step_rust_compile_fail(results):
	"""Code that breaks a compile-time rule of the Rust API does not compile.

	Each case of rust-bindings/compile-fail/ is compiled with kbuild's
	recorded command of a Rust sample, after a control (the sample itself)
	that must compile; see tools/compile_fail.py.
	"""
	banner('Rust: compile-fail cases (rust-bindings/compile-fail/)')
	try:
		control, cases = compile_fail.run_cases(
			KSRC, KUNIT_BUILD, work=os.path.join(BUILD, 'compile-fail-work'),
			env=KERNEL_ENV)
	except (compile_fail.Error, OSError) as e:
		results.add('rust compile-fail', 0, 1, str(e))
		return
	print(f'  control {control.name}: '
	      f'{"compiles" if control.passed else "BROKEN, " + control.reason}')
	for line in control.errors:
		print(f'      {line}')
	width = max([len(c.name) for c in cases] + [4])
	for case in cases:
		print(f'  {case.name:<{width}}  {"pass" if case.passed else "FAIL"}  '
		      f'{case.rule}')
		if not case.passed:
			print(f'      {case.reason}')
			for line in case.errors:
				print(f'      {line}')
	passed = sum(case.passed for case in cases)
	results.add('rust compile-fail', passed, len(cases) - passed)

def step_series(results):
	banner('Series: export, git am on the base, checkpatch --strict')
	passed, failed = series.check_series()
	results.add('series', passed, failed)


def bench(cycles, rounds, dma_iterations, dma_rounds):
	"""Build the kernel, boot it with the benchmark on, print its lines;
	then boot it with tools/vfio-dma-bench.c as user space, the same."""
	step_toolchain()
	step_tree()
	banner('Kernel build')
	res = run(kunit_cmd('build', f'--jobs={os.cpu_count()}'), cwd=KSRC,
		  env=KERNEL_ENV, stdout=subprocess.DEVNULL)
	if res.returncode:
		sys.exit('kernel build failed')
	banner(f'Benchmark: {rounds} rounds of {cycles} attach/replace/detach '
	       'cycles per driver')
	res = run([os.path.join(KUNIT_BUILD, 'linux'), 'mem=1G', 'console=tty',
		   'kunit.filter_glob=none', 'kunit_shutdown=halt',
		   f'vfio_iommufd_bench.cycles={cycles}',
		   f'vfio_iommufd_bench.rounds={rounds}'],
		  capture_output=True, text=True, errors='replace')
	lines = [l.split(': ', 1)[1] for l in res.stdout.splitlines()
		 if l.startswith('vfio_iommufd_bench: ')]
	for line in lines:
		print(f'  {line}')
	if not any(l.startswith('ratio') for l in lines):
		sys.exit('the benchmark printed no ratio')
	os.makedirs(BENCH_WORK, exist_ok=True)
	console = os.path.join(BENCH_WORK, 'iommufd-bench.log')
	with open(console, 'w') as f:
		f.write(res.stdout + res.stderr)

	banner(f'DMA: {dma_rounds} rounds of {dma_iterations} preads of 64 bytes '
	       'per emulated sample and region, from user space')
	try:
		boot, lines = dma_bench(os.path.join(KUNIT_BUILD, 'linux'),
					dma_iterations, dma_rounds)
	except uml_user.Error as e:
		sys.exit(f'DMA benchmark: {e}')
	print(f'  booted in {boot.seconds:.0f} s, console in '
	      f'{os.path.relpath(boot.log, TOP)}')
	for line in lines:
		print(f'  {line}')
	problems = []
	for log in (console, boot.log):
		with open(log, errors='replace') as f:
			problems += [f'{os.path.relpath(log, TOP)}: {p}' for p in
				     check_kernel_log(f.read().splitlines())[1]]
	for problem in problems:
		print(f'  kernel log: {problem}')
	if not any(l.startswith('ratio total') for l in lines) or \
			any(l.startswith('error') for l in lines):
		sys.exit('the DMA benchmark failed or printed no ratio')
	if problems:
		sys.exit('the kernel logs of the benchmark show problems')


BENCH_WORK = os.path.join(BUILD, 'bench-work')
DMA_BENCH_SOURCE = os.path.join(TOP, 'tools', 'vfio-dma-bench.c')
DMA_BENCH_LINE = re.compile(r'vfio_dma_bench: (.*)$')


def dma_bench(linux, iterations, rounds, work=BENCH_WORK, ksrc=KSRC):
	"""Boot linux with tools/vfio-dma-bench.c as its user space.

	The program is built statically in work against the uAPI headers of
	ksrc; the boot creates one device of each sample driver. Returns the
	Boot and the program's lines without their prefix, plus a line
	'error: ...' if it did not exit 0; raises uml_user.Error if it did not
	build.
	"""
	log = os.path.join(work, 'build.log')
	os.makedirs(work, exist_ok=True)
	open(log, 'w').close()
	include = uml_user.install_headers(ksrc, os.path.join(work, 'headers'),
					   log)
	prog = os.path.join(work, 'vfio-dma-bench')
	cmd = ['gcc', '-static', '-O2', '-Wall', '-isystem', include, '-o', prog,
	       DMA_BENCH_SOURCE]
	with open(log, 'a') as out:
		out.write(f'$ {" ".join(cmd)}\n')
		out.flush()
		res = run(cmd, stdout=out, stderr=subprocess.STDOUT)
	if res.returncode:
		raise uml_user.Error(f'{DMA_BENCH_SOURCE} did not build, see {log}')
	init = uml_user.build_init(os.path.join(work, 'init'), log)
	root = os.path.join(work, 'root')
	uml_user.make_root(root, init, [(prog, ['-n', str(iterations),
						 '-r', str(rounds)])])
	# UML's kernel drives its user space, another host process, through
	# ptrace. On an idle host each switch between the two waits for a
	# sleeping CPU to wake, and a pread takes 64 us instead of 6 us, most
	# of it the same for both drivers; one CPU for both avoids that.
	cpus = os.sched_getaffinity(0)
	os.sched_setaffinity(0, {max(cpus)})
	try:
		boot = uml_user.boot_uml(linux, root,
					 os.path.join(work, 'console.log'),
					 args=['vfio_sample_devices.count=1'],
					 timeout=300)
	finally:
		os.sched_setaffinity(0, cpus)
	lines = [m.group(1).rstrip() for m in
		 map(DMA_BENCH_LINE.search, boot.log_lines()) if m]
	runs = uml_user.parse_console(boot.log_lines())
	if [r.exit_code for r in runs] != [0]:
		lines.append(f'error: vfio-dma-bench did not exit 0 (boot: '
			     f'{"timed out" if boot.timed_out else boot.exit_code}'
			     f', console in {os.path.relpath(boot.log, TOP)})')
	return boot, lines


def main():
	parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
	parser.add_argument('job', choices=['main', 'check', 'bench'])
	parser.add_argument('--cycles', type=int, default=20000,
			    help='bench: cycles per round')
	parser.add_argument('--rounds', type=int, default=9,
			    help='bench: rounds per driver')
	parser.add_argument('--dma-iterations', type=int, default=50,
			    help='bench: preads per DMA round, device and region')
	parser.add_argument('--dma-rounds', type=int, default=2001,
			    help='bench: DMA rounds per device (up to 4001)')
	args = parser.parse_args()

	if args.job == 'bench':
		bench(args.cycles, args.rounds, args.dma_iterations,
		      args.dma_rounds)
		return

	start = time.time()
	results = Results()
	step_toolchain()
	step_tree()
	if args.job == 'check':
		step_commits_build(results)
	step_kunit(results)
	step_user(results)
	if args.job == 'check':
		step_tool_tests(results)
		step_cocci(results)
		step_docs(results)
		step_rust(results)
		step_rust_compile_fail(results)
		step_series(results)
	results.table()
	print(f'\n  {args.job} took {time.time() - start:.0f} s')
	sys.exit(results.closing_line())


if __name__ == '__main__':
	main()
