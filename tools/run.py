#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The project's two jobs, as the README's two commands run them.

  main   install the toolchain, build the patched kernel (UML, LLVM=1,
         CONFIG_RUST=y) and run the KUnit suites; show kunit.py's results,
         a table per suite and the kernel log check. Then its user space
         tests, and the same on x86_64 under QEMU: KUnit on 2 vCPUs, and
         vfio-pci with QEMU's edu device behind intel-iommu and
         virtio-iommu.
  check  everything 'main' does, plus the static checks: the Coccinelle
         rule on the pristine and the patched tree, 'git am' of the
         exported series on the pristine base, checkpatch --strict on
         every patch, and GCC with W=1 and sparse on the series' C files.

Both end with one line 'N passed, N failed' over every step, and exit
non-zero on any failure, on a suite that did not run or skipped a case, on
a rule of a matrix without the cases it must have, on a test program that
timed out or whose results disagree with its own Totals line, and on any
kernel WARNING, BUG, lockdep, KASAN, UBSAN, RCU stall, hung task or
kmemleak report that a test did not announce.
"""

import argparse
import collections
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
import x86_guest  # noqa: E402

TOP = series.TOP
BUILD = series.BUILD
KSRC = series.KSRC
KUNIT_BUILD = os.path.join(BUILD, 'kunit-uml')
KUNIT_JSON = os.path.join(BUILD, 'kunit-results.json')
ARM64_BUILD = os.path.join(BUILD, 'arm64-cdx')
ARM64_CONFIG = os.path.join(TOP, 'linux', 'cdx-arm64.config')
BINDGEN = os.path.expanduser('~/.cache/vfio-contract/bindgen-0.65.1/bin/bindgen')

# Every --kunitconfig of the run; paths in the kernel tree are relative to it.
# The same kernel boots user space for the uAPI tests (user.config, and the
# arch's root file system: uml-user.config, x86_64.config).
KUNITCONFIGS_ANY_ARCH = [os.path.join(TOP, 'kunit', '.kunitconfig'),
			 'drivers/vfio/tests/.kunitconfig',
			 os.path.join(TOP, 'kunit', 'user.config')]
KUNITCONFIGS_UML = KUNITCONFIGS_ANY_ARCH + [uml_user.USER_CONFIG]
KUNITCONFIGS = KUNITCONFIGS_UML + [os.path.join(TOP, 'kunit',
						'uml-modules.config')]

# The same suites on x86_64, under QEMU with two vCPUs, and its user space:
# q35 guests with a virtual IOMMU and the edu device on vfio-pci.
X86_BUILD = os.path.join(BUILD, 'kunit-x86_64')
X86_JSON = os.path.join(BUILD, 'kunit-x86_64-results.json')
X86_KUNITCONFIGS = KUNITCONFIGS_ANY_ARCH + [
	os.path.join(TOP, 'kunit', 'x86_64.config')]
X86_KERNEL = os.path.join(X86_BUILD, 'arch', 'x86', 'boot', 'bzImage')
X86_USER_BUILD = os.path.join(BUILD, 'x86_64-user')
PRISTINE_X86_BUILD = os.path.join(BUILD, 'pristine-x86_64')
X86_EXPECTED = os.path.join(TOP, 'linux', 'iommufd-selftests-x86_64.expected')

# User space under UML: headers, test programs, roots and console logs.
USER_BUILD = os.path.join(BUILD, 'uml-user')
# The base that iommufd's selftests are compared against: the pristine base
# plus the series' fixes, the submissions BASELINE_SUBMISSIONS that lead
# linux/submissions, without the project's seams, samples and tests. On the
# pristine base alone no mock device can be created under UML (the bug the
# BLOCKED default domain fix mends), so most tests fail there. Its source is
# a worktree of build/linux at the fixes' last commit; its UML kernel is the
# one the commit builds make there, kept in BASELINE_UML (with the commit
# in BASELINE_UML/commit), so that it is not built a second time.
PRISTINE_SRC = os.path.join(BUILD, 'pristine-src')
PRISTINE_BUILD = os.path.join(BUILD, 'pristine-uml')
BASELINE_UML = os.path.join(BUILD, 'baseline-uml')
BASELINE_SUBMISSIONS = ('vfio-cdx', 'iommu-blocked-default-domain',
			'stable-6.12.y')
BASELINE_LABEL = 'base + fixes'
VFIO_UAPI_FOLDER = 'tools/testing/selftests/vfio'
VFIO_UAPI_PROGRAM = 'vfio_cdev_uapi_test'
# The stress test of the device cdev, in the same folder; it runs after the
# uAPI test in the same boot.
VFIO_STRESS_PROGRAM = 'vfio_cdev_stress_test'
# The fault injection test of the device cdev, in the same folder; it runs
# after the stress test. Each test (a sequence on one device) logs
# '# <file>:<line>:<test>:<driver>: N fault sites (...); S s'.
VFIO_FAIL_NTH_PROGRAM = 'vfio_cdev_fail_nth'
FAIL_NTH_SITES = re.compile(r':(\w+):([\w-]+): (\d+) fault sites\b.*; '
			    r'([\d.]+) s$')
# The uAPI test's fixtures are named after what they hold; its variants
# after the sample driver, as in the vfio_iommufd KUnit suite.
UAPI_DRIVERS = {'c_physical': 'c-physical', 'c_emulated': 'c-emulated',
		'rust_physical': 'rust-physical',
		'rust_emulated': 'rust-emulated', 'vfio_pci': 'vfio-pci'}
# Where there is no edu device (under UML) the VFIO test programs run
# without their vfio_pci variant, rather than count its skips.
VFIO_UML_ARGS = ['-V', 'vfio_pci']

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
	      kunitconfigs=KUNITCONFIGS, arch='um'):
	cmd = [sys.executable, 'tools/testing/kunit/kunit.py', action,
	       f'--arch={arch}', f'--build_dir={build_dir}', *extra]
	if arch == 'x86_64':
		# Two vCPUs under TCG: QEMU's default is one.
		cmd.append(f'--qemu_args=-smp {x86_guest.CPUS}')
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


def cdx_inputs():
	"""The tree's files the last arm64 build of drivers/vfio/cdx/main.o
	read, from its .cmd file (empty if there is none)."""
	cmd = os.path.join(ARM64_BUILD, 'drivers', 'vfio', 'cdx', '.main.o.cmd')
	if not os.path.exists(cmd):
		return set()
	with open(cmd) as f:
		paths = re.findall(r'(?:^|\s)' + re.escape(KSRC) + r'/(\S+)',
				   f.read())
	return set(paths)


def cdx_rebuild_needed(names):
	"""Whether a commit changing the tree's files names may change the
	arm64 build of vfio-cdx: it changes a file that build read, or a
	Kconfig or Makefile (which may change what it reads)."""
	inputs = cdx_inputs()
	return not inputs or any(
		n in inputs or os.path.basename(n).startswith(('Kconfig',
							      'Makefile'))
		for n in names)


def step_commits_build(results):
	"""Every commit of the series builds: UML, and arm64 for vfio-cdx.

	The series' commits but the last are built here, incrementally in the
	same build directory; the last is the one kunit.py builds and runs.
	Each starts from the configuration kunit.py makes for the last commit,
	so that olddefconfig keeps every option the commit already knows (an
	option an earlier commit did not have would otherwise stay off). A
	commit that changes only files no kernel build reads (NOT_BUILT) builds
	as its parent did, so it is not built again; vfio-cdx is built for
	arm64 again only by a commit that changes a file its last build read,
	or a Kconfig or Makefile (cdx_rebuild_needed()). The UML kernel of the
	fixes' last commit is kept as the base + fixes' (keep_baseline_kernel()).
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
	shutil.rmtree(BASELINE_UML, ignore_errors=True)
	try:
		baseline = baseline_commit(commits)
	except uml_user.Error as e:
		print(f'  {e}: the {BASELINE_LABEL} will be built on its own')
		baseline = None
	tally = series.Tally()
	try:
		for n, commit in enumerate(commits, 1):
			subject = series.git('log', '-1', '--format=%s', commit)
			if n > 1 and not builds_read(commit):
				ok, how = True, 'changes no file a build reads: as ' \
					'its parent'
			else:
				ok, how = build_commit(commit, n == 1,
						       n < len(commits), tip_config,
						       log)
			if commit == baseline and ok and not tally.failed:
				keep_baseline_kernel(commit)
			tally.result(ok, f'{n}/{len(commits)} builds: {subject} '
				     f'({how})', f'  see {log}')
	finally:
		series.git('checkout', '-q', 'series')
	results.add('each commit builds', tally.passed, tally.failed)


def build_commit(commit, first, uml, tip_config, log):
	"""Build commit: vfio-cdx for arm64 if it is the first or changes a
	file that build read, and for UML (unless kunit.py builds it, uml
	false) from tip_config. Returns whether it built, and how long it
	took."""
	series.git('checkout', '-q', '--detach', commit)
	start = time.time()
	progress = Progress(KUNIT_BUILD)
	progress.start()
	changed = series.git('diff', '--name-only', f'{commit}^', commit).split()
	arm64 = first or cdx_rebuild_needed(changed)
	ok = build_cdx_arm64(log) if arm64 else True
	if uml:
		shutil.copyfile(tip_config, os.path.join(KUNIT_BUILD, '.config'))
		ok = ok and make(KUNIT_BUILD, 'olddefconfig', log=log) \
			and make(KUNIT_BUILD, 'all', log=log)
	progress.stop.set()
	return ok, f'{time.time() - start:.0f} s' + \
		('' if arm64 else '; vfio-cdx for arm64 as its parent: no file '
		 'its build reads changed')


# Files of the tree no kernel build reads: documentation, user space tools
# and their tests, Coccinelle rules, the maintainers file.
NOT_BUILT = ('Documentation/', 'tools/', 'scripts/coccinelle/', 'MAINTAINERS')


def any_built(names):
	"""Whether any of the tree's files names may be read by a build."""
	return any(not n.startswith(NOT_BUILT) for n in names)


def builds_read(commit):
	"""Whether commit changes a file a kernel build may read."""
	return any_built(series.git('diff', '--name-only', f'{commit}^',
				    commit).split())


def step_kunit(results):
	"""Build the UML kernel and run the suites with kunit.py."""
	banner('KUnit under UML (build and run; a clean build takes minutes)')
	kunit_step(results, KUNIT_BUILD, KUNIT_JSON, KUNITCONFIGS, timeout=600)


def kunit_step(results, build_dir, json_path, kunitconfigs, timeout,
	       prefix='', log_label='kernel log', log=None, arch='um',
	       ksrc=KSRC):
	"""Run kunit.py (run_kunit) and count its results, each suite row's
	label starting with prefix: the suites, kunit.py's exit if no suite
	row failed already, and the kernel log's check as row log_label."""
	before = len(results.rows)
	returncode, results_json, log_lines = run_kunit(
		build_dir, json_path, kunitconfigs, timeout, log=log, arch=arch,
		ksrc=ksrc)
	kunit_counts(results, results_json, log_lines, prefix=prefix)
	if returncode and not any(r[2] for r in results.rows[before:]):
		results.add(f'{prefix}kunit.py', 0, 1, f'exited {returncode}')
	step_kernel_log(results, os.path.join(build_dir, 'test.log'), log_label)


def run_kunit(build_dir, json_path, kunitconfigs, timeout, log=None,
	      arch='um', ksrc=KSRC):
	"""kunit.py run of the tree ksrc in build_dir; (its exit code, its
	JSON or None, the lines of build_dir/test.log). Its output goes to log,
	if given."""
	cmd = kunit_cmd('run', f'--jobs={os.cpu_count()}', f'--json={json_path}',
			f'--timeout={timeout}', build_dir=build_dir,
			kunitconfigs=kunitconfigs, arch=arch)
	if os.path.exists(json_path):
		os.unlink(json_path)
	start = time.time()
	progress = Progress(build_dir)
	progress.start()
	with open(log or os.devnull, 'w') as out:
		res = run(cmd, cwd=ksrc, env=KERNEL_ENV,
			  stdout=out if log else None,
			  stderr=subprocess.STDOUT if log else None)
	progress.stop.set()
	print(f'  kunit.py exited {res.returncode} after '
	      f'{time.time() - start:.0f} s' +
	      (f' (output in {os.path.relpath(log, TOP)})' if log else ''))

	results_json = None
	if os.path.exists(json_path):
		with open(json_path) as f:
			results_json = json.load(f)
	log_lines = []
	test_log = os.path.join(build_dir, 'test.log')
	if os.path.exists(test_log):
		with open(test_log, errors='replace') as f:
			log_lines = f.read().splitlines()
	return res.returncode, results_json, log_lines


def kunit_counts(results, results_json, log_lines=(), prefix=''):
	"""Count kunit.py's JSON (None: there is none) into results.

	The conformance matrix of vfio_iommufd, then a row per suite. A suite
	the run must show (EXPECTED_SUITES) fails when it did not run, when it
	has no case, and for each case that skipped: each is shown, with its
	reason from the KTAP log lines (kunit.py's test.log) if it gave one.
	A skip of another suite is noted, not counted. Each row's label
	starts with prefix.
	"""
	suites = {}
	matrix = None
	if results_json is not None:
		suites = suite_counts(results_json)
		matrix = print_matrix(results_json)
	reasons = skip_reasons(log_lines)
	print(f'\n  {"suite":<28} passed  failed  skipped')
	for name, (passed, failed, skipped) in suites.items():
		print(f'  {name:<28} {passed:>6}  {failed:>6}  {skipped:>7}')
		if name not in EXPECTED_SUITES:
			results.add(f'{prefix}kunit: {name}', passed, failed,
				    f'({skipped} skipped, not counted)'
				    if skipped else '')
			continue
		counted = skipped_cases(results_json, name)
		for case in counted:
			reason = reasons.get(case.split('/')[-1])
			print(f'  {name}: SKIP counted as failed: {case}'
			      + (f' ({reason})' if reason else ''))
		# vfio_iommufd's skips of cases not for a driver's kind are
		# expected: skipped_cases() leaves them out
		expected = skipped - len(counted) if name == 'vfio_iommufd' else 0
		skipped -= expected
		note = f'({skipped} skipped, counted as failed)' if skipped else ''
		if expected:
			note = (note + ' ' if note else '') + \
				f'({expected} skipped: cases not for the kind)'
		if not passed + failed + skipped:
			failed, note = 1, 'no case'
		results.add(f'{prefix}kunit: {name}', passed, failed + skipped, note)
	for name in EXPECTED_SUITES:
		if name not in suites:
			print(f'  {name:<28} did not run')
			results.add(f'{prefix}kunit: {name}', 0, 1, 'did not run')
	for line in matrix or ():
		print(f'  conformance matrix: {line}')
	if matrix is not None:
		results.add(f'{prefix}kunit: vfio_iommufd matrix', 0 if matrix else 1,
			    len(matrix), '; '.join(matrix))


# A case that skipped, in KTAP: 'ok <n> <name> # SKIP <reason>'.
KTAP_SKIP = re.compile(r'^\s*(?:\[[^]]*\]\s*)?ok \d+ (.*?) # SKIP\b ?(.*)$')


def skip_reasons(lines):
	"""{case name: reason} of the KTAP result lines that skipped."""
	reasons = {}
	for line in lines:
		m = KTAP_SKIP.match(line)
		if m:
			reasons[m.group(1).strip()] = m.group(2).strip()
	return reasons


def skipped_cases(group, suite_name):
	"""Names of the cases of suite suite_name that skipped, in kunit.py's
	JSON group."""
	def leaves(g):
		for case in g['test_cases']:
			yield case
		for sub in g['sub_groups']:
			yield from leaves(sub)

	if suite_name == 'vfio_iommufd':
		return [f'{case}/{driver}' if driver else case
			for case, driver, status in vfio_iommufd_leaves(group)
			if status == 'SKIP' and not not_for(case, driver)]
	return [case['name'] for suite in group['sub_groups']
		if suite['name'] == suite_name
		for case in leaves(suite) if case['status'] == 'SKIP'] + \
		[case['name'] for case in group['test_cases']	# a whole suite
		 if case['name'] == suite_name and case['status'] == 'SKIP']


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

# The sample drivers of both matrices, in their order, and their kind.
DRIVER_KINDS = {'c-physical': 'physical', 'c-emulated': 'emulated',
		'rust-physical': 'physical', 'rust-emulated': 'emulated'}

# The cases of the vfio_iommufd suite (KUNIT_CASE_PARAM, the driver under
# test their parameter) in kunit/drivers/vfio/tests/vfio_iommufd_kunit.c,
# each with the rule of the contract it checks (the rule codes stay out of
# the kernel's names) and the kinds of device it is for: on a driver of
# another kind it must skip. A case added to or dropped from the suite must
# be added or dropped here too.
BOTH = ('physical', 'emulated')
KUNIT_CASES = {
	'attach_detach_assert_dev_set_lock': ('O1', BOTH),
	'attach_unbound_warns': ('O2', ('physical',)),
	'detach_unbound_warns': ('O2', ('physical',)),
	'attach_ioas_writes_back_pt_id': ('O3', BOTH),
	'attach_hwpt_keeps_its_id': ('O3', ('physical',)),
	'attach_unknown_id_fails': ('O4', BOTH),
	'attach_device_id_fails': ('O4', ('physical',)),
	'emulated_attach_hwpt_fails': ('O4', ('emulated',)),
	'attach_when_attached_replaces': ('O5', BOTH),
	'replace_with_same_table_is_noop': ('O5', BOTH),
	'failed_replace_keeps_table': ('O6', BOTH),
	'detach_when_detached_is_noop': ('O7', BOTH),
	'detach_frees_auto_hwpt': ('O8', BOTH),
	'attached_objects_are_busy': ('O9', BOTH),
	'unbind_attached_detaches': ('O10', BOTH),
	'emulated_bind_unmaps_nothing': ('O11', ('emulated',)),
	'emulated_detach_unmaps_all': ('O11', ('emulated',)),
	'emulated_unbind_unmaps_all': ('O11', ('emulated',)),
	'emulated_replace_unmaps_old_ioas': ('O11', ('emulated',)),
	'group_peers_share_hwpt': ('O12', ('physical',)),
	'devices_race_attach_replace_detach': ('O5', BOTH),
}
# The cases each driver must have, per kind and rule (a rule with none does
# not apply to the kind: '-' in the matrix): 16 per driver.
KUNIT_RULE_CASES = {
	kind: dict(collections.Counter(rule for rule, kinds in
				       KUNIT_CASES.values() if kind in kinds))
	for kind in BOTH}


def vfio_iommufd_leaves(group):
	"""(case, driver, status) of each result of the vfio_iommufd suite in
	kunit.py's JSON group; driver None for a case without parameters."""
	for suite in group['sub_groups']:
		if suite['name'] != 'vfio_iommufd':
			continue
		for case in suite['sub_groups']:
			for leaf in case['test_cases']:
				yield case['name'], leaf['name'], leaf['status']
		for case in suite['test_cases']:
			yield case['name'], None, case['status']


def not_for(case, driver):
	"""Whether the vfio_iommufd case is not for the driver's kind (and so
	must skip on it)."""
	known = KUNIT_CASES.get(case)
	kind = DRIVER_KINDS.get(driver)
	return known is not None and kind is not None and kind not in known[1]


# The tests of vfio_cdev_uapi_test and vfio_cdev_stress_test, named after
# what they check, each with the rule of the contract it checks (the rule
# codes stay out of the tests' names). A test added or renamed must be
# added here too, or the matrix reports it.
UAPI_TESTS = {
	'bind_closed_fd': 'U1',
	'bind_negative_fd': 'U1',
	'bind_not_iommufd': 'U1',
	'bind_short_argsz': 'U1',
	'bind_unknown_flags': 'U1',
	'bind_twice': 'U2',
	'second_open_bind': 'U2',
	'ioctl_before_bind': 'U3',
	'attach_short_argsz': 'U4',
	'attach_unknown_flags': 'U4',
	'detach_short_argsz': 'U4',
	'detach_unknown_flags': 'U4',
	'attach_device_id': 'U5',
	'attach_hwpt': 'U5',
	'attach_ioas': 'U5',
	'attach_unknown_id': 'U5',
	'failed_replace_keeps_attachment': 'U5',
	'replace': 'U5',
	'replace_moves_dma': 'U5',
	'replace_same': 'U5',
	'unreadable_args': 'U5',
	'writeback_fault_attached_detaches': 'U5',
	'writeback_fault_detaches': 'U5',
	'detach_not_attached': 'U6',
	'detach_twice': 'U6',
	'close_attached': 'U7',
	'close_attached_hwpt': 'U7',
	'rebind_dma': 'U7',
	'qemu_order': 'U8',
	'qemu_order_hwpt': 'U8',
	'race_then_close_attached': 'U9',
	'race_then_detach': 'U9',
	'second_fd_cannot_act': 'S1',
	'unbound_fd_only_binds': 'S1',
	'foreign_device_id_unknown': 'S2',
	'foreign_ids_unknown': 'S2',
	'no_dma_after_detach': 'S3',
	'cdev_blocks_group': 'S4',
	'group_blocks_cdev': 'S4',
}

# The same for the uAPI matrix: the tests of vfio_cdev_uapi_test (fixture
# vfio_cdev for every device, vfio_physical and vfio_emulated for one kind)
# and, for U9, of vfio_cdev_stress_test, in
# kunit/tools/testing/selftests/vfio/, as the console log
# build/uml-user/patched/console.log of the run of 2 Dec 2026 has them (134
# and 8 tests: 34 + 2 per physical driver, 33 + 2 per emulated one).
UAPI_RULE_CASES = {
	'physical': {'U1': 5, 'U2': 2, 'U3': 1, 'U4': 4, 'U5': 10, 'U6': 2,
		     'U7': 2, 'U8': 2, 'U9': 2, 'S1': 2, 'S2': 2, 'S4': 2},
	'emulated': {'U1': 5, 'U2': 2, 'U3': 1, 'U4': 4, 'U5': 10, 'U6': 2,
		     'U7': 1, 'U8': 1, 'U9': 2, 'S1': 2, 'S2': 2, 'S3': 1,
		     'S4': 2},
	# vfio-pci with QEMU's edu device, in the x86_64 guests: the physical
	# device's tests of fixtures vfio_cdev and vfio_physical, and those of
	# vfio_dma, whose proof is the device's DMA (37 tests), and the stress
	# test's two.
	'pci': {'U1': 5, 'U2': 2, 'U3': 1, 'U4': 4, 'U5': 11, 'U6': 2,
		'U7': 3, 'U8': 2, 'U9': 2, 'S1': 2, 'S2': 2, 'S3': 1, 'S4': 2},
}
# The drivers of the x86_64 guests' uAPI matrix: the samples and vfio-pci.
X86_DRIVER_KINDS = dict(DRIVER_KINDS, **{'vfio-pci': 'pci'})


def print_rule_matrix(title, source, cells, mark, expected,
		      kinds=DRIVER_KINDS):
	"""A table with a row per driver and a column per rule of the contract.

	cells: {driver: {rule: [status, ...]}}; mark(statuses) is the cell's
	text. expected: {kind: {rule: number of cases}}, the kind of a driver
	is kinds'. A rule that does not apply to a driver's kind and has
	no case is '-'; one that applies and has no case is 'MISS', one with
	another number of cases than expected 'n/m' (n cases, m expected).
	Returns those problems, one line each (a driver that lost its row
	gives one per rule that applies); a driver kinds does not know
	is one problem.
	"""
	drivers = list(kinds) + [d for d in cells if d not in kinds]
	rules = sorted({r for row in cells.values() for r in row} |
		       {r for kind in expected.values() for r in kind},
		       key=lambda r: (RULE_ORDER.find(r[0]),
				      int(r[1:]) if r[1:].isdigit() else 0))
	print(f'\n  {title} ({source}; pass = every case of the rule passed, '
	      '- = rule does not apply, MISS = no case of a rule that applies, '
	      'n/m = n cases, m expected)')
	print('  ' + f'{"driver":<14}' + ''.join(f'{r:>6}' for r in rules))
	problems = []
	for drv in drivers:
		row = cells.get(drv, {})
		if drv not in kinds:
			problems.append(f'{drv}: a driver of no known kind')
		want = expected.get(kinds.get(drv), {})
		marks = []
		for r in rules:
			got, need = len(row.get(r, [])), want.get(r, 0)
			if got == need:
				marks.append(mark(row[r]) if got else '-')
				continue
			marks.append('MISS' if not got else f'{got}/{need}')
			if drv in kinds:
				problems.append(f'{drv} {r}: {got} cases, {need} '
						'expected')
		print('  ' + f'{drv:<14}' + ''.join(f'{m:>6}' for m in marks))
	return problems


def print_matrix(group):
	"""The conformance matrix of the vfio_iommufd suite.

	Its cases are KUNIT_CASES, each run on every driver under test; a rule
	passes for a driver when all its cases for the driver's kind passed.
	Returns print_rule_matrix()'s problems (cells without the cases
	KUNIT_RULE_CASES expects), and one for each case KUNIT_CASES does not
	know and each case that did not skip on a driver it is not for.
	"""
	cells, problems = {}, []
	for case, driver, status in vfio_iommufd_leaves(group):
		if case not in KUNIT_CASES:
			if f'unknown case {case}' not in problems:
				problems.append(f'unknown case {case}')
			continue
		if not_for(case, driver):
			if status != 'SKIP':
				problems.append(f'{case} on {driver}: {status}, where a '
						'case not for its kind skips')
			continue
		cells.setdefault(driver, {}).setdefault(
			KUNIT_CASES[case][0], []).append(status)

	def mark(statuses):
		if all(st == 'PASS' for st in statuses):
			return 'pass'
		if all(st == 'SKIP' for st in statuses):
			return 'skip'
		return 'FAIL'
	problems[0:0] = print_rule_matrix('Conformance matrix', 'vfio_iommufd',
					  cells, mark, KUNIT_RULE_CASES)
	return problems

# A report the kernel prints for a bug: WARN, BUG, lockdep, KASAN, UBSAN, RCU
# stalls, hung tasks, soft and hard lockups, kmemleak's suspected leaks.
REPORT = re.compile(r'(WARNING:|BUG:|Oops|Kernel panic|kernel BUG at|UBSAN:|'
		    r'KASAN:|general protection fault|INFO: task .* blocked|'
		    r'blocked for more than \d+ seconds|'
		    r'INFO: rcu|rcu: INFO:|rcu_\w+ (?:self-)?detected stall|'
		    r'detected stalls on CPU|'
		    r'soft lockup|hard LOCKUP|'
		    r'kmemleak: .*new suspected memory leak|'
		    r'unreferenced object 0x|'
		    r'inconsistent lock state|possible recursive locking|'
		    r'possible circular locking|suspicious RCU usage)')
# 'FILE' or 'FILE:FUNCTION': the WARNING must come from that file (and that
# function, when one is named).
EXPECT_BEGIN = re.compile(r'vfio-kunit: expected WARNING from (\S+) begins')
EXPECT_END = re.compile(r'vfio-kunit: expected WARNING ends')
# A fault an IOMMU driver reports for a device's DMA: Intel VT-d's
# "DMAR: [DMA Write NO_PASID] Request device [00:03.0] fault addr ..." with
# its "DMAR: DRHD: handling fault status reg N", virtio-iommu's
# "virtio_iommu virtio0: mapping fault from EP 24 at 0x1000800 [w]". None
# may come but between the lines the uAPI test writes to /dev/kmsg around
# the DMA it makes fault, and there at least one must.
IOMMU_FAULT = re.compile(r'DMAR: \[(?:DMA|INTR-REMAP)|DMAR: DRHD: handling '
			 r'fault|\bfault from EP \d+')
FAULTS_BEGIN = re.compile(r'vfio-selftest: expected IOMMU fault begins')
FAULTS_END = re.compile(r'vfio-selftest: expected IOMMU fault ends')
# 'WARNING: CPU: 0 PID: 1 at FILE:LINE FUNCTION+0x45/0x80 [module]'; without
# symbols the function is an address.
WARNING_AT = re.compile(r'WARNING: .*? at (\S+):(\d+) (\S+)')
# The kernel tree whose sources name the function of a WARNING's line.
SOURCE_TREE = KSRC


def enclosing_function(path, line, ksrc=None):
	"""The C function of the kernel tree whose body holds line `line` of
	`path`, or None: the definition before the nearest '{' that starts a
	line above it, unless a '}' that starts a line closes it first (kernel
	style puts both braces of a function body in column 0)."""
	try:
		with open(os.path.join(ksrc or SOURCE_TREE, path),
			  errors='replace') as f:
			lines = f.read().splitlines()
	except OSError:
		return None
	i = min(line, len(lines)) - 1
	while i >= 0 and not lines[i].startswith('{'):
		if lines[i].startswith('}') and i < line - 1:
			return None
		i -= 1
	start = i - 1
	while start > 0 and lines[start][:1] in (' ', '\t'):
		start -= 1
	if start < 0:
		return None
	m = re.search(r'([A-Za-z_]\w*)\s*\(', ' '.join(lines[start:i]))
	return m.group(1) if m else None


def warning_from(announced):
	"""(file, function or None) of an announcement's 'FILE[:FUNCTION]'."""
	path, _, function = announced.rpartition(':')
	if path and re.fullmatch(r'[A-Za-z_]\w*', function):
		return path, function
	return announced, None


def warning_matches(announced, line):
	"""Whether the WARNING report line is what announced announces: from
	its file and, when it names one, its function: the report's symbol
	(or a compiler's copy of it, FUNCTION.isra.0, .constprop.0, .cold, ...),
	or the function of the kernel tree whose body holds the report's line,
	as the symbol is the caller when the function was inlined."""
	m = WARNING_AT.search(line)
	if not m:
		return False
	path, function = warning_from(announced)
	if m.group(1) != path:
		return False
	if function is None:
		return True
	symbol = m.group(3).split('+')[0]
	return (symbol == function or symbol.startswith(f'{function}.') or
		enclosing_function(path, int(m.group(2))) == function)


def check_kernel_log(lines):
	"""Unexpected reports, and brackets that did not see what they announced.

	Each begin line of a bracket announces one WARNING from a source file,
	'FILE', or from a function of it, 'FILE:FUNCTION'; a "WARNING: ... at
	<file>:<line> <function>+0x..." report counts for an announcement of
	that file (and function, if it names one; those are matched first),
	and at the end every announcement must have its report. An IOMMU
	fault report (IOMMU_FAULT) is expected between the two lines of a
	FAULTS_BEGIN/FAULTS_END bracket, which must have at least one.
	Returns (announced warnings and IOMMU faults seen, list of problems).
	"""
	problems = []
	seen = 0
	expected = None		# (line of the first begin, files still expected)
	faults = None		# (line of the begin, IOMMU faults seen in it)
	for n, line in enumerate(lines, 1):
		if FAULTS_BEGIN.search(line):
			if faults is not None:
				problems.append(f'line {n}: IOMMU fault bracket '
						'begins twice')
			faults = (n, 0)
			continue
		if FAULTS_END.search(line):
			if faults is None:
				problems.append(f'line {n}: IOMMU fault bracket end '
						'without begin')
			elif not faults[1]:
				problems.append(f'line {faults[0]}: announced IOMMU '
						'faults did not come')
			faults = None
			continue
		if IOMMU_FAULT.search(line):
			if faults is None:
				problems.append(f'line {n}: {line.strip()}')
			else:
				faults = (faults[0], faults[1] + 1)
				seen += 1
			continue
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
			matches = [f for f in expected[1] if warning_matches(f, line)]
			match = next((f for f in matches if warning_from(f)[1]),
				     matches[0] if matches else None)
		if match:
			expected[1].remove(match)
			seen += 1
		else:
			problems.append(f'line {n}: {line.strip()}')
	if expected is not None:
		problems.append(f'line {expected[0]}: bracket never ended')
	if faults is not None:
		problems.append(f'line {faults[0]}: IOMMU fault bracket never ended')
	return seen, problems


def step_kernel_log(results, path, label='kernel log'):
	if not os.path.exists(path):
		results.add(label, 0, 1, f'no {os.path.basename(path)}')
		return
	with open(path, errors='replace') as f:
		seen, problems = check_kernel_log(f.read().splitlines())
	for p in problems:
		print(f'  {label}: {p}')
	print(f'  {label}: {seen} announced WARNINGs and IOMMU faults seen '
	      f'where expected, {len(problems)} problems')
	results.add(label, 0 if problems else 1, 1 if problems else 0,
		    f'({seen} announced reports)')


def build_programs(ksrc, work, log, vfio, vfio_args=VFIO_UML_ARGS):
	"""Static test programs of ksrc, in the order a boot runs them, as
	uml_user.make_root() takes them: if vfio, the uAPI, stress and fault
	injection tests of the device cdev, each with vfio_args; iommufd's
	selftests."""
	include = uml_user.install_headers(ksrc, os.path.join(work, 'headers'),
					   log)
	iommu = uml_user.build_selftests(ksrc, include,
					 os.path.join(work, 'iommu'), log=log)
	programs = [iommu[name] for name in uml_user.IOMMU_PROGRAMS]
	if vfio:
		names = (VFIO_UAPI_PROGRAM, VFIO_STRESS_PROGRAM,
			 VFIO_FAIL_NTH_PROGRAM)
		built = uml_user.build_selftests(
			ksrc, include, os.path.join(work, 'vfio'),
			folder=VFIO_UAPI_FOLDER, programs=names, log=log)
		programs[0:0] = [(built[name], list(vfio_args))
				 for name in names]
	return programs


def program_path(program):
	"""The path of a program as build_programs() gives it: a path, or a
	(path, arguments) pair."""
	return program[0] if isinstance(program, tuple) else program


def program_name(program):
	return os.path.basename(program_path(program))


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


def baseline_commit(commits=None):
	"""The series' commit that ends the fixes, BASELINE_SUBMISSIONS, which
	must be the first submissions of linux/submissions; commits are the
	series' commits, if the caller has them."""
	subs = series.submissions()
	if tuple(s.name for s in subs[:len(BASELINE_SUBMISSIONS)]) != \
			BASELINE_SUBMISSIONS:
		raise uml_user.Error(f'{", ".join(BASELINE_SUBMISSIONS)} do not '
				     'lead linux/submissions')
	numbers = [e.name[:4] for e in series.entries()]
	commits = commits or series.git('rev-list', '--reverse',
					'base..series').split()
	return commits[numbers.index(subs[len(BASELINE_SUBMISSIONS) - 1].last)]


def keep_baseline_kernel(commit):
	"""Keep the UML kernel just built for commit (KUNIT_BUILD/linux) as the
	base + fixes' (BASELINE_UML)."""
	os.makedirs(BASELINE_UML, exist_ok=True)
	shutil.copy2(os.path.join(KUNIT_BUILD, 'linux'),
		     os.path.join(BASELINE_UML, 'linux'))
	with open(os.path.join(BASELINE_UML, 'commit'), 'w') as f:
		f.write(commit + '\n')


def kept_baseline_kernel(commit):
	"""BASELINE_UML's kernel if the commit builds kept it for commit."""
	try:
		with open(os.path.join(BASELINE_UML, 'commit')) as f:
			kept = f.read().strip()
	except FileNotFoundError:
		return None
	linux = os.path.join(BASELINE_UML, 'linux')
	return linux if kept == commit and os.path.exists(linux) else None


def pristine_kernel(log, arch='um'):
	"""The base + fixes (baseline_commit()) for UML or x86_64 (arch): its
	source in PRISTINE_SRC, and the path of its kernel image.

	PRISTINE_SRC is a git worktree of build/linux; like the series' tree, it
	is moved with 'git reset --hard', so a file that did not change keeps
	its time stamp and is not built again. The UML kernel is the one the
	commit builds kept (kept_baseline_kernel()) if they ran; otherwise, and
	for x86_64, it is built here, with the patched kernel's options minus
	those the base + fixes does not have and Rust.
	"""
	tip = baseline_commit()
	series.git('worktree', 'prune')
	if not os.path.isdir(PRISTINE_SRC):
		series.git('worktree', 'add', '--detach', PRISTINE_SRC, tip)
	series.git('reset', '-q', '--hard', tip, cwd=PRISTINE_SRC)
	kept = kept_baseline_kernel(tip) if arch == 'um' else None
	if kept:
		print(f'  the {BASELINE_LABEL}: the UML kernel the commit builds '
		      f'made at {series.git("log", "-1", "--format=%h %s", tip)}')
		return kept
	symbols = uml_user.kconfig_symbols(KSRC, tip)
	config = os.path.join(BUILD, f'pristine-{arch}.kunitconfig')
	with open(config, 'w') as f:
		f.write(uml_user.filter_kunitconfig(
			[os.path.join(KSRC, k) for k in
			 (KUNITCONFIGS if arch == 'um' else X86_KUNITCONFIGS)],
			exists=lambda sym: sym in symbols, rust=False))
	build_dir = PRISTINE_BUILD if arch == 'um' else PRISTINE_X86_BUILD
	cmd = kunit_cmd('build', f'--jobs={os.cpu_count()}',
			build_dir=build_dir, kunitconfigs=[config], arch=arch)
	progress = Progress(build_dir)
	progress.start()
	with open(log, 'a') as out:
		res = run(cmd, cwd=PRISTINE_SRC, env=KERNEL_ENV, stdout=out,
			  stderr=subprocess.STDOUT)
	progress.stop.set()
	if res.returncode:
		raise uml_user.Error(f'pristine kernel build failed, see {log}')
	if arch == 'um':
		return os.path.join(PRISTINE_BUILD, 'linux')
	return os.path.join(build_dir, 'arch', 'x86', 'boot', 'bzImage')


def print_uapi_matrix(*results, kinds=DRIVER_KINDS, title='uAPI matrix'):
	"""The uAPI matrix of vfio_cdev_uapi_test and vfio_cdev_stress_test.

	Test names are '<fixture>.<variant>.<test>', each test a rule of
	UAPI_TESTS; a rule passes for a driver when all its tests passed. A
	result may be None (did not run). The rows are the drivers of kinds.
	Returns print_rule_matrix()'s problems, and one per test UAPI_TESTS
	does not know.
	"""
	cells = {drv: {} for drv in kinds}
	unknown = []
	for result in filter(None, results):
		for name, status in result.tests.items():
			parts = name.split('.')
			if len(parts) != 3 or parts[1] not in UAPI_DRIVERS:
				continue
			rule = UAPI_TESTS.get(parts[2])
			if rule is None:
				if f'unknown test {parts[2]}' not in unknown:
					unknown.append(f'unknown test {parts[2]}')
				continue
			cells[UAPI_DRIVERS[parts[1]]].setdefault(
				rule, []).append(status)
	return print_rule_matrix(
		title, f'{VFIO_UAPI_PROGRAM}, U9 {VFIO_STRESS_PROGRAM}',
		cells,
		lambda sts: 'pass' if all(st in uml_user.PASSED for st in sts)
		else 'FAIL', UAPI_RULE_CASES, kinds) + unknown


def step_uapi_results(results, programs, prefix='', kinds=DRIVER_KINDS):
	"""Count the uAPI test's results; a test that did not pass fails (an
	XFAIL or XPASS too). Then the matrix: each rule that applies to a
	driver of kinds must have UAPI_RULE_CASES' number of tests."""
	result = programs.get(VFIO_UAPI_PROGRAM)
	matrix = result and print_uapi_matrix(
		result, programs.get(VFIO_STRESS_PROGRAM), kinds=kinds,
		title=f'{prefix}uAPI matrix')
	count_program(results, programs, VFIO_UAPI_PROGRAM,
		      f'{prefix}uapi: {VFIO_UAPI_PROGRAM}')
	if result is None:
		return
	for line in matrix:
		print(f'  {prefix}uAPI matrix: {line}')
	results.add(f'{prefix}uapi: matrix', 0 if matrix else 1, len(matrix),
		    '; '.join(matrix))


def step_stress_results(results, programs, prefix=''):
	"""Count the stress test's results; a test that did not pass fails.

	Its tests are '<fixture>.<variant>.<test>', one variant per sample
	driver. A skip counts as a failure: the boot creates every device.
	"""
	count_program(results, programs, VFIO_STRESS_PROGRAM,
		      f'{prefix}stress: {VFIO_STRESS_PROGRAM}')


def fail_nth_sites(lines):
	"""The fault sites of each device's sequences, as lines to print, from
	the fault injection test's lines of the console log lines."""
	out = []
	for prog in uml_user.parse_console(lines):
		if prog.name != VFIO_FAIL_NTH_PROGRAM:
			continue
		for line in prog.lines:
			m = FAIL_NTH_SITES.search(line)
			if m:
				out.append(f'    {m.group(2):<18} {m.group(1):<16} '
					   f'{m.group(3):>5} fault sites '
					   f'{float(m.group(4)):>6.2f} s')
	return out


def step_fail_nth_results(results, programs, lines, prefix=''):
	"""Count the fault injection test's results; a test that did not pass
	fails, a skip too: the boot creates every device and injects faults.
	Prints the fault sites of each device's sequences.
	"""
	count_program(results, programs, VFIO_FAIL_NTH_PROGRAM,
		      f'{prefix}fail_nth: {VFIO_FAIL_NTH_PROGRAM}',
		      details=fail_nth_sites(lines))


def step_iommufd_results(results, patched, pristine, arch='um'):
	"""iommufd's selftests: the patched kernel against the base + fixes,
	under UML or on x86_64 (arch), each with its own expected failures."""
	expected = uml_user.EXPECTED if arch == 'um' else X86_EXPECTED
	where, prefix = ('under UML', '') if arch == 'um' else \
		('on x86_64', 'x86_64: ')
	patched = {n: r for n, r in patched.items()
		   if n in uml_user.IOMMU_PROGRAMS}
	comparison = uml_user.compare(pristine, patched,
				      uml_user.read_expected(expected))
	print(f'\n  iommufd selftests {where}, the {BASELINE_LABEL} (the '
	      f'submissions {", ".join(BASELINE_SUBMISSIONS)}) and the patched '
	      'kernel (failures '
	      f'listed in {os.path.relpath(expected, TOP)} with their '
	      'reasons are not counted)')
	for line in uml_user.format_comparison(comparison, BASELINE_LABEL):
		print(line)
	for name in uml_user.IOMMU_PROGRAMS:
		result = patched.get(name)
		if result is None:
			results.add(f'{prefix}selftest: {name}', 0, 1, 'did not run')
			continue
		passed = result.count(*uml_user.PASSED)
		found = [f for f in comparison.regressions + comparison.unexpected
			 + comparison.incomplete if name in f.split(':')[0].split()]
		listed = len(result.tests) - passed
		results.add(f'{prefix}selftest: {name}', passed, len(found),
			    f'({listed} listed failures not counted)'
			    if listed else '')
	if comparison.incomplete and not any(
			r[0].startswith(f'{prefix}selftest:') and r[2]
			for r in results.rows):
		results.add(f'{prefix}selftests', 0, 1,
			    '; '.join(comparison.incomplete))


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
	step_fail_nth_results(results, patched, boot.log_lines())
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
		pristine_boot = None
	step_iommufd_results(results, patched, pristine)
	if pristine_boot:
		step_kernel_log(results, pristine_boot.log,
				f'kernel log ({BASELINE_LABEL})')



def step_x86_kunit(results):
	"""Build the x86_64 kernel and run the same suites on it with kunit.py,
	under QEMU (TCG) with two vCPUs."""
	banner(f'KUnit on x86_64 under QEMU (TCG, {x86_guest.CPUS} vCPUs; a clean '
	       'build takes about 10 minutes)')
	kunit_step(results, X86_BUILD, X86_JSON, X86_KUNITCONFIGS, timeout=900,
		   prefix='x86_64: ', log_label='kernel log (x86_64, KUnit)',
		   log=os.path.join(BUILD, 'kunit-x86_64.log'), arch='x86_64')


def all_passed(programs, names):
	"""Whether each of the programs names ran to its end and passed every
	test (a skip, xfail or xpass is no pass)."""
	for name in names:
		result = programs.get(name)
		if result is None or not result.tests or \
				uml_user.incomplete_reason('patched', result) or \
				result.count(*uml_user.PASSED) != len(result.tests):
			return False
	return True


def x86_boot(work, kernel, programs, iommu, log, args=()):
	"""Boot kernel on a q35 guest with iommu and the edu device, programs
	as its user space; the Boot."""
	init = uml_user.build_init(os.path.join(work, 'init'), log)
	root = os.path.join(work, 'root')
	uml_user.make_root(root, init, programs)
	initrd = x86_guest.make_initramfs(root, os.path.join(work,
							     'initramfs.cpio'))
	boot = x86_guest.boot_qemu(kernel, initrd,
				   os.path.join(work, 'console.log'), iommu,
				   args=args)
	print(f'  booted {os.path.relpath(kernel, TOP)} with {iommu} (TCG): '
	      f'{boot.seconds:.0f} s, '
	      f'{"timed out" if boot.timed_out else f"exit {boot.exit_code}"}, '
	      f'console in {os.path.relpath(boot.log, TOP)}')
	return boot


def step_x86_user(results):
	"""User space on the x86_64 kernel, a guest per virtual IOMMU: the uAPI,
	stress (two vCPUs) and fault injection tests on vfio-pci with the edu
	device in each; where the mock IOMMU probes devices (virtio-iommu) the
	uAPI and stress tests on the samples too, and iommufd's selftests,
	compared with the base + fixes built for x86_64 if one fails."""
	banner('User space on x86_64 (q35 under TCG): vfio-pci and the edu '
	       'device behind intel-iommu and virtio-iommu; iommufd\'s '
	       'selftests against the ' + BASELINE_LABEL)
	os.makedirs(X86_USER_BUILD, exist_ok=True)
	log = os.path.join(X86_USER_BUILD, 'build.log')
	open(log, 'w').close()
	try:
		programs = build_programs(KSRC, os.path.join(X86_USER_BUILD,
							     'programs'),
					  log, vfio=True, vfio_args=())
	except uml_user.Error as e:
		results.add('x86_64: user space', 0, 1, str(e))
		return
	# The uAPI, stress and fault injection tests, then iommufd's selftests
	# (build_programs() order). Next to an IOMMU the mock IOMMU cannot
	# share the guest with, only vfio-pci is tested, and iommufd's
	# selftests run in the other guest. The samples' fault injection runs
	# under UML.
	uapi, stress, fail_nth = (program_path(p) for p in programs[:3])
	selftests = programs[-len(uml_user.IOMMU_PROGRAMS):]
	only_pci = ['-v', 'vfio_pci']
	patched = {}
	for iommu, spec in x86_guest.IOMMUS.items():
		prefix = f'x86_64 {iommu}: '
		work = os.path.join(X86_USER_BUILD, iommu)
		os.makedirs(work, exist_ok=True)
		if spec.mock:
			guest = [uapi, stress, (fail_nth, only_pci)] + selftests
			kinds = X86_DRIVER_KINDS
		else:
			guest = [(p, only_pci) for p in (uapi, stress, fail_nth)]
			kinds = {'vfio-pci': 'pci'}
		try:
			boot = x86_boot(work, X86_KERNEL, guest, iommu, log,
					['vfio_sample_devices.count=1']
					if spec.mock else [])
		except uml_user.Error as e:
			results.add(f'{prefix}user space', 0, 1, str(e))
			continue
		ran = uml_user.results_by_program(boot.log_lines())
		step_uapi_results(results, ran, prefix, kinds)
		step_stress_results(results, ran, prefix)
		step_fail_nth_results(results, ran, boot.log_lines(), prefix)
		if spec.mock:
			patched = ran
		step_kernel_log(results, boot.log, f'kernel log (x86_64 {iommu})')

	if all_passed(patched, uml_user.IOMMU_PROGRAMS):
		# The comparison asks that what passes on the base passes here, and
		# that what fails here fails there too: nothing to ask of the base.
		print('\n  every selftest passed on the patched kernel: the '
		      f'{BASELINE_LABEL} for x86_64 is not built')
		step_iommufd_results(results, patched, {}, arch='x86_64')
		return
	try:
		work = os.path.join(X86_USER_BUILD, 'pristine')
		os.makedirs(work, exist_ok=True)
		kernel = pristine_kernel(log, arch='x86_64')
		programs = build_programs(PRISTINE_SRC, work, log, vfio=False)
		boot = x86_boot(work, kernel, programs, 'virtio-iommu', log)
		pristine = uml_user.results_by_program(boot.log_lines())
	except uml_user.Error as e:
		results.add(f'x86_64: selftests: {BASELINE_LABEL}', 0, 1, str(e))
		pristine, boot = {}, None
	step_iommufd_results(results, patched, pristine, arch='x86_64')
	if boot:
		step_kernel_log(results, boot.log,
				f'kernel log (x86_64, {BASELINE_LABEL})')

SANITIZERS_BUILD = os.path.join(BUILD, 'sanitizers-uml')
SANITIZERS_JSON = os.path.join(BUILD, 'sanitizers-kunit-results.json')
SANITIZERS_CONFIG = os.path.join(TOP, 'kunit', 'uml-sanitizers.config')
KMEMLEAK_SCAN = os.path.join(TOP, 'tools', 'kmemleak-scan.c')


def count_program(results, programs, name, label, kernel='patched',
		  details=()):
	"""One row for a test program of a boot: a test that did not pass
	fails it, and so do a skip, a Totals line that disagrees, a timeout or
	a program that did not run. Prints its summary, details and failures.
	"""
	result = programs.get(name)
	if result is None:
		results.add(label, 0, 1, 'did not run')
		return
	passed = result.count(*uml_user.PASSED)
	failed = len(result.tests) - passed
	seconds = '' if result.seconds is None else f' in {result.seconds:.0f} s'
	print(f'\n  {name}: {passed} of {len(result.tests)} tests passed'
	      f'{seconds}')
	for line in details:
		print(line)
	for test, status in result.tests.items():
		if status not in uml_user.PASSED:
			print(f'  {status}: {test}')
	problem = uml_user.incomplete_reason(kernel, result)
	results.add(label, passed, failed or (1 if problem else 0),
		    problem or '')


def step_sanitizers(results):
	"""The same series built with KASAN, UBSAN and kmemleak: KUnit, then the
	VFIO test programs and a kmemleak scan as user space."""
	banner('The memory-checking kernel (KASAN, UBSAN, kmemleak): KUnit, '
	       'then the VFIO test programs and a kmemleak scan')
	kunit_step(results, SANITIZERS_BUILD, SANITIZERS_JSON,
		   KUNITCONFIGS_UML + [SANITIZERS_CONFIG], timeout=900,
		   prefix='sanitizers: ',
		   log_label='kernel log (sanitizers, KUnit)',
		   log=os.path.join(BUILD, 'sanitizers-kunit.log'))

	work = os.path.join(USER_BUILD, 'sanitizers')
	ulog = os.path.join(work, 'build.log')
	try:
		os.makedirs(work, exist_ok=True)
		open(ulog, 'w').close()
		programs = [p for p in build_programs(KSRC, work, ulog, vfio=True)
			    if program_name(p).startswith('vfio_')]
		scan = os.path.join(work, 'kmemleak-scan')
		uml_user._run(['gcc', '-static', '-O2', '-Wall', '-o', scan,
			       KMEMLEAK_SCAN], ulog)
		# The KUnit suites run again at boot (kunit.enable=1), so that the
		# scan also sees what their devices, made and dropped, leaked.
		boot = boot_programs(os.path.join(SANITIZERS_BUILD, 'linux'), work,
				     programs + [scan],
				     ['vfio_sample_devices.count=1',
				      'kunit.enable=1'], ulog)
	except uml_user.Error as e:
		results.add('sanitizers: user space', 0, 1, str(e))
		return
	ran = uml_user.results_by_program(boot.log_lines())
	for path in programs:
		name = program_name(path)
		count_program(results, ran, name, f'sanitizers: {name}',
			      kernel='sanitizers')
	scans = [r for r in uml_user.parse_console(boot.log_lines())
		 if r.name == 'kmemleak-scan']
	ok = bool(scans) and scans[-1].exit_code == 0
	results.add('sanitizers: kmemleak scan', 1 if ok else 0, 0 if ok else 1,
		    '' if ok else ('did not run' if not scans else
				   f'exit {scans[-1].exit_code}'))
	step_kernel_log(results, boot.log, 'kernel log (sanitizers, user space)')


GCC_BUILD = os.path.join(BUILD, 'gcc-x86_64')
# A rustc or clippy report: 'warning: TEXT', 'error[E0425]: TEXT'.
RUSTC_REPORT = re.compile(r'(warning|error)(\[|:)')
# A compiler's or sparse's report: 'FILE:LINE[:COL]: warning|error: TEXT'.
COMPILER_REPORT = re.compile(r'^(?:\.\./)*(\S+?):(\d+):(?:\d+:)? '
			     r'(warning|error): (.*)$')
# Files of the series GCC does not build here: UML's (built with clang for
# UML by every other step), vfio-cdx's (arm64 only; built with clang for
# arm64 by 'each commit builds'), and those of user space and Rust.
GCC_SKIPPED = ('tools/', 'rust/', 'arch/x86/um/', 'arch/um/',
	       'drivers/vfio/cdx/')


def gcc_files():
	"""The kernel's C sources and headers the series adds or changes, but
	GCC_SKIPPED's."""
	names = series.git('diff', '--name-only', 'base', 'series').split()
	return [n for n in names if n.endswith(('.c', '.h'))
		and not n.startswith(GCC_SKIPPED)]


def compiler_reports(lines, files):
	"""{file: [report line]} of the files among lines' reports."""
	found = {}
	for line in lines:
		m = COMPILER_REPORT.match(line.strip())
		if not m:
			continue
		path = m.group(1)
		if path.startswith(KSRC + '/'):
			path = path[len(KSRC) + 1:]
		if path in files:
			found.setdefault(path, []).append(line.strip())
	return found


# The project's tristate symbols and the objects each builds; the Kbuild
# step builds the series with them in the combinations KBUILD_COMBINATIONS.
KBUILD_SYMBOLS = {
	'VFIO_KUNIT_TEST': ['drivers/vfio/tests/vfio_registration_kunit.o'],
	'VFIO_IOMMUFD_KUNIT_TEST': ['drivers/vfio/tests/vfio_iommufd_kunit.o'],
	'VFIO_IOMMUFD_BENCH': ['drivers/vfio/tests/vfio_iommufd_bench.o'],
	'SAMPLE_VFIO_PHYSICAL': ['samples/vfio/vfio_sample_phys.o'],
	'SAMPLE_VFIO_EMULATED': ['samples/vfio/vfio_sample_emul.o'],
	'SAMPLE_VFIO_DEVICES': ['samples/vfio/vfio_sample_devices.o'],
	'SAMPLE_RUST_VFIO': ['samples/rust/rust_vfio_phys.o',
			     'samples/rust/rust_vfio_emul.o'],
}
# Each combination: what it covers, then the symbols' values ('y', 'm' or
# 'n'; a symbol not named stays 'y'). Together they hold every value of
# every symbol, and each case the code and the Makefiles tell apart: a test
# or sample built in or a module (the Rust rows of the suite, the bench and
# the devices module need both sides built in), drivers/vfio/tests/ with
# and without VFIO_KUNIT_TEST, and each sample without the other.
KBUILD_COMBINATIONS = (
	('every test and sample a module', dict.fromkeys(KBUILD_SYMBOLS, 'm')),
	('the tests modules, the samples built in',
	 dict(VFIO_KUNIT_TEST='m', VFIO_IOMMUFD_KUNIT_TEST='m',
	      VFIO_IOMMUFD_BENCH='m')),
	('the Rust samples modules, the rest built in',
	 dict(SAMPLE_RUST_VFIO='m')),
	('the suite and the bench without the registration tests',
	 dict(VFIO_KUNIT_TEST='n')),
	('the registration tests alone',
	 dict(dict.fromkeys(KBUILD_SYMBOLS, 'n'), VFIO_KUNIT_TEST='y')),
	('the physical sample and the bench, no other sample',
	 dict(VFIO_KUNIT_TEST='n', VFIO_IOMMUFD_KUNIT_TEST='n',
	      VFIO_IOMMUFD_BENCH='m', SAMPLE_VFIO_EMULATED='n',
	      SAMPLE_VFIO_DEVICES='n', SAMPLE_RUST_VFIO='n')),
	('the emulated sample, no physical one',
	 dict(VFIO_KUNIT_TEST='m', VFIO_IOMMUFD_KUNIT_TEST='n',
	      VFIO_IOMMUFD_BENCH='n', SAMPLE_VFIO_PHYSICAL='n',
	      SAMPLE_VFIO_EMULATED='m', SAMPLE_VFIO_DEVICES='n')),
)
KBUILD_BUILD = os.path.join(BUILD, 'kbuild-uml')
# A warning of a combination's build, besides the C compiler's on a file
# of the series (compiler_reports()): rustc's ('warning:', 'warning[...]:')
# or modpost's. The linker's note on UML's RWX segment and clang's on the
# base's asm-generic/io.h under UML are not the series'.
KBUILD_WARNING = re.compile(RUSTC_REPORT.pattern + r'|(WARNING|ERROR): modpost')


def config_values(path, symbols):
	"""The values ('y', 'm' or 'n') of symbols in the .config path."""
	values = dict.fromkeys(symbols, 'n')
	with open(path) as f:
		for line in f:
			m = re.match(r'CONFIG_(\w+)=([ym])$', line.strip())
			if m and m.group(1) in values:
				values[m.group(1)] = m.group(2)
	return values


def kbuild_objects(build_dir):
	"""The objects built into the kernel (vmlinux.a) and those built as
	modules (modules.order) of the build in build_dir."""
	out = subprocess.run(['ar', 't', 'vmlinux.a'], cwd=build_dir,
			     capture_output=True, text=True, check=True).stdout
	builtin = {os.path.normpath(p) for p in out.split()}
	order = os.path.join(build_dir, 'modules.order')
	if not os.path.exists(order):
		return builtin, set()
	with open(order) as f:
		return builtin, {os.path.normpath(p) for p in f.read().split()}


def kbuild_module(build_dir, obj):
	"""The .ko that Kbuild links from the module object obj."""
	return os.path.join(build_dir, obj[:-2] + '.ko')


def kbuild_problems(values, builtin, modules, build_dir):
	"""What the build of a combination (values) got wrong: an object of a
	'y' symbol not in the kernel, one of an 'm' symbol not a module (or
	its .ko missing), one of an 'n' symbol built."""
	problems = []
	for sym, objects in KBUILD_SYMBOLS.items():
		for obj in objects:
			where = ('built in' if obj in builtin else
				 'a module' if obj in modules else 'not built')
			want = {'y': 'built in', 'm': 'a module',
				'n': 'not built'}[values[sym]]
			if where != want:
				problems.append(f'{obj} is {where}, CONFIG_{sym}='
						f'{values[sym]}')
			elif want == 'a module' and not os.path.exists(
					kbuild_module(build_dir, obj)):
				problems.append(f'{obj[:-2]}.ko missing')
	return problems


def step_kbuild(results):
	"""The series builds and links with the project's tristate symbols in
	each of KBUILD_COMBINATIONS, each object where its symbol says.

	The builds run in a copy of the UML KUnit build (KBUILD_BUILD), which
	has module support, so that a combination rebuilds only the objects
	whose options changed, links the kernel and runs modpost (an
	unexported symbol or a missing namespace import fails it). Kconfig
	must keep the values asked for, and the build must print no warning.
	"""
	banner('Kbuild: the tests and samples built in, as modules and off, '
	       'in combinations')
	log = os.path.join(BUILD, 'kbuild.log')
	open(log, 'w').close()
	shutil.rmtree(KBUILD_BUILD, ignore_errors=True)
	run(['cp', '-a', KUNIT_BUILD, KBUILD_BUILD], check=True)
	config = os.path.join(KBUILD_BUILD, '.config')
	base_config = os.path.join(KBUILD_BUILD, 'base.config')
	shutil.copyfile(config, base_config)
	files = set(series.git('diff', '--name-only', 'base', 'series').split())
	tally = series.Tally()
	for what, asked in KBUILD_COMBINATIONS:
		values = dict.fromkeys(KBUILD_SYMBOLS, 'y')
		values.update(asked)
		start = time.time()
		shutil.copyfile(base_config, config)
		with open(config, 'a') as f:
			for sym, value in values.items():
				f.write(f'CONFIG_{sym}={value}\n' if value != 'n' else
					f'# CONFIG_{sym} is not set\n')
		with open(log, 'a') as f:
			f.write(f'\n### {what}: {values}\n')
		if not make(KBUILD_BUILD, 'olddefconfig', log=log):
			tally.result(False, f'kbuild: {what}', f'  olddefconfig '
				     f'failed, see {log}')
			continue
		kept = config_values(config, KBUILD_SYMBOLS)
		changed = [f'CONFIG_{s}={kept[s]} (asked {values[s]})'
			   for s in values if kept[s] != values[s]]
		if changed:
			tally.result(False, f'kbuild: {what}', '  Kconfig changed '
				     + ', '.join(changed))
			continue
		# A .ko of an earlier combination must not pass for this one's.
		for objects in KBUILD_SYMBOLS.values():
			for obj in objects:
				ko = kbuild_module(KBUILD_BUILD, obj)
				if os.path.exists(ko):
					os.unlink(ko)
		mark = os.path.getsize(log)
		ok = make(KBUILD_BUILD, 'all', log=log)
		with open(log, errors='replace') as f:
			f.seek(mark)
			lines = f.read().splitlines()
		warnings = [l for l in lines if KBUILD_WARNING.match(l)] + [
			r for reports in compiler_reports(lines, files).values()
			for r in reports]
		problems = kbuild_problems(values, *kbuild_objects(KBUILD_BUILD),
					   KBUILD_BUILD) if ok else []
		counts = ', '.join(f'{sum(v == c for v in values.values())} {c}'
				   for c in 'ymn')
		tally.result(ok and not warnings and not problems,
			     f'kbuild: {what} ({counts}; {time.time() - start:.0f} s)',
			     '\n'.join(f'  {l}' for l in
					(([] if ok else [f'make failed, see {log}'])
					 + warnings + problems)))
	results.add('kbuild combinations', tally.passed, tally.failed)


def step_gcc(results):
	"""The series' C files built with GCC, W=1 and sparse (C=2), for
	x86_64 with the x86_64 kernel's options but Rust: a file with a warning
	of either fails."""
	banner('GCC with W=1 and sparse on the C files of the series (x86_64)')
	files = gcc_files()
	log = os.path.join(BUILD, 'gcc-x86_64.log')
	os.makedirs(GCC_BUILD, exist_ok=True)
	with open(os.path.join(GCC_BUILD, '.config'), 'w') as f:
		f.write(uml_user.filter_kunitconfig(
			[os.path.join(KSRC, k) for k in X86_KUNITCONFIGS],
			rust=False))
	base = ['make', '-s', 'ARCH=x86_64', f'O={GCC_BUILD}',
		f'-j{os.cpu_count()}', 'CC=gcc']
	targets = [f[:-2] + '.o' for f in files if f.endswith('.c')]
	start = time.time()
	with open(log, 'w') as out:
		if run(base + ['olddefconfig'], cwd=KSRC, stdout=out,
		       stderr=subprocess.STDOUT).returncode:
			results.add('gcc W=1 + sparse: files of the series', 0, 1,
				    f'olddefconfig failed, see {log}')
			return
		progress = Progress(GCC_BUILD)
		progress.start()
		res = run(base + ['W=1', 'C=2', 'CHECK=sparse', *targets],
			  cwd=KSRC, stdout=out, stderr=subprocess.STDOUT)
		progress.stop.set()
	missing = [t for t in targets
		   if not os.path.exists(os.path.join(GCC_BUILD, t))]
	with open(log, errors='replace') as f:
		reports = compiler_reports(f.read().splitlines(), set(files))
	print(f'  {len(files)} files, {len(targets)} objects, W=1 and sparse: '
	      f'{time.time() - start:.0f} s, output in '
	      f'{os.path.relpath(log, TOP)}')
	for path in files:
		for line in reports.get(path, []):
			print(f'  {line}')
	for t in missing:
		print(f'  not built: {t}')
	bad = len(reports) + len(missing) + (0 if res.returncode == 0 else 1)
	results.add('gcc W=1 + sparse: files of the series',
		    len(files) - len(reports), bad,
		    f'({len(missing)} objects not built, make exited '
		    f'{res.returncode})' if missing or res.returncode else '')


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
			    ('test_compile_fail', 'compile-fail unit tests'),
			    ('test_x86_guest', 'x86_guest unit tests')):
		suite = unittest.defaultTestLoader.loadTestsFromName(name)
		outcome = unittest.TextTestRunner(verbosity=1).run(suite)
		# A skipped test is no pass, nor is an expected failure.
		failed = len(outcome.failures) + len(outcome.errors) + \
			len(outcome.skipped) + len(outcome.expectedFailures) + \
			len(outcome.unexpectedSuccesses)
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
			warnings = [l for l in f if RUSTC_REPORT.match(l)]
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
	results = Results()
	for log, label in ((console, 'kernel log (bench: iommufd callbacks)'),
			   (boot.log, 'kernel log (bench: DMA)')):
		step_kernel_log(results, log, label)
	results.table()
	if not any(l.startswith('ratio total') for l in lines) or \
			any(l.startswith('error') for l in lines):
		sys.exit('the DMA benchmark failed or printed no ratio')
	if results.closing_line():
		sys.exit('the kernel logs of the benchmark show problems')


BENCH_WORK = os.path.join(BUILD, 'bench-work')
DMA_BENCH_SOURCE = os.path.join(TOP, 'tools', 'vfio-dma-bench.c')
# What it includes from the kernel tree: the helpers of the VFIO cdev
# selftests, which the series adds (in the uAPI test's commit)
DMA_BENCH_HEADER = 'vfio_cdev_util.h'
DMA_BENCH_LINE = re.compile(r'vfio_dma_bench: (.*)$')


def dma_bench(linux, iterations, rounds, work=BENCH_WORK, ksrc=KSRC):
	"""Boot linux with tools/vfio-dma-bench.c as its user space.

	The program is built statically in work against the uAPI headers of
	ksrc and the helpers of its VFIO cdev selftests (-I to
	VFIO_UAPI_FOLDER of ksrc, for DMA_BENCH_HEADER); the boot creates one
	device of each sample driver. Returns the Boot and the program's lines
	without their prefix, plus a line 'error: ...' if it did not exit 0;
	raises uml_user.Error if ksrc lacks the header or the program did not
	build.
	"""
	util = os.path.join(ksrc, VFIO_UAPI_FOLDER)
	if not os.path.isfile(os.path.join(util, DMA_BENCH_HEADER)):
		raise uml_user.Error(
			f'{os.path.join(util, DMA_BENCH_HEADER)} is missing, which '
			f'{os.path.basename(DMA_BENCH_SOURCE)} includes: {ksrc} '
			'is not a tree with the series applied (make tree)')
	log = os.path.join(work, 'build.log')
	os.makedirs(work, exist_ok=True)
	open(log, 'w').close()
	include = uml_user.install_headers(ksrc, os.path.join(work, 'headers'),
					   log)
	prog = os.path.join(work, 'vfio-dma-bench')
	cmd = ['gcc', '-static', '-O2', '-Wall', '-isystem', include, '-I', util,
	       '-o', prog, DMA_BENCH_SOURCE]
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


NEWEST = os.path.join(BUILD, 'newest')


def newest_version(pkg):
	"""The newest version of pkg Debian's archive offers (apt-cache)."""
	out = run(['apt-cache', 'madison', pkg], capture_output=True,
		  text=True).stdout
	versions = [line.split('|')[1].strip() for line in out.splitlines()
		    if line.count('|') >= 2]
	newest = None
	for v in versions:
		if newest is None or run(['dpkg', '--compare-versions', v, 'gt',
					  newest]).returncode == 0:
			newest = v
	return newest


def step_newest(results):
	"""The exported series on the newest 6.12.y Debian offers: fetched with
	apt-get download (nothing is installed), applied with git am, built for
	UML and its KUnit suites run; then whether the pin can move."""
	pkg, pinned = series.read_pin()
	run(['apt-get', 'update', '-qq'], stdout=subprocess.DEVNULL,
	    stderr=subprocess.DEVNULL)
	version = newest_version(pkg)
	banner(f'The series on the newest 6.12.y: {pkg} {version} '
	       f'(pinned: {pinned})')
	if version is None:
		results.add('newest: found', 0, 1, f'apt-cache knows no {pkg}')
		return
	ksrc = os.path.join(NEWEST, 'linux')
	log = os.path.join(NEWEST, 'build.log')
	if os.path.isdir(NEWEST):
		shutil.rmtree(NEWEST)
	os.makedirs(NEWEST)
	deb = os.path.join(NEWEST, 'deb')
	with open(log, 'w') as out:
		ok = run(['apt-get', 'download', f'{pkg}={version}'], cwd=NEWEST,
			 stdout=out, stderr=subprocess.STDOUT).returncode == 0
		debs = [f for f in os.listdir(NEWEST) if f.endswith('.deb')]
		ok = ok and len(debs) == 1 and run(
			['dpkg', '-x', debs[0], deb], cwd=NEWEST, stdout=out,
			stderr=subprocess.STDOUT).returncode == 0
	if not ok:
		results.add('newest: fetched', 0, 1, f'see {log}')
		return
	series.unpack_tarball(os.path.join(deb, series.TARBALL.lstrip('/')),
			      ksrc, f'{pkg} {version}')
	ident = series.BASE_IDENTITY

	subs = series.export(None, signoff=bool(series.exporter()))
	patches = [p for sub in subs for p in sub.patches()]
	res = series.git('am', '-q', *patches, cwd=ksrc, env=ident, check=False)
	applied = series.git('rev-list', '--count', 'HEAD', cwd=ksrc)
	applies = res == '' and int(applied) == len(patches) + 1
	results.add(f'newest: {len(patches)} patches apply', int(applies),
		    int(not applies), '' if applies else
		    f'{int(applied) - 1} of {len(patches)} applied')
	if not applies:
		series.git('am', '--abort', cwd=ksrc, check=False)
		print(f'  the pin cannot move to {version}: the series does not '
		      'apply')
		return
	kunit_step(results, os.path.join(NEWEST, 'kunit-uml'),
		   os.path.join(NEWEST, 'kunit-results.json'), KUNITCONFIGS,
		   timeout=600, prefix='newest: ', log_label='newest: kernel log',
		   log=os.path.join(NEWEST, 'kunit.log'), ksrc=ksrc)
	good = not any(r[2] for r in results.rows)
	print(f'\n  the pin {"can" if good else "cannot"} move from {pinned} to '
	      f'{version}' + ('' if good else ': see the failures above'))


def main():
	parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
	parser.add_argument('job', choices=['main', 'check', 'bench', 'newest'])
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
	if args.job == 'newest':
		step_newest(results)
		results.table()
		sys.exit(results.closing_line())
	if args.job == 'check':
		step_commits_build(results)
	step_kunit(results)
	step_user(results)
	step_x86_kunit(results)
	step_x86_user(results)
	if args.job == 'check':
		step_gcc(results)
		step_kbuild(results)
		step_sanitizers(results)
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
