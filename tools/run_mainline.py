# SPDX-License-Identifier: GPL-2.0
"""The 7.3 line of tools/run.py: the series on Linux 7.3.4 (linux/7.3/),
as far as it has moved there, built with 7.3's toolchain (clang-19, bindgen
0.71.1) and run under UML.

The line's UML kernel is built twice in one build directory: first the
pristine base (tag 'base' of build/linux-7.3), then the line's tip, which
builds incrementally on it (with make check, each commit between them
too), with UML's SMP on two processors. Each boots iommufd's selftests
(tools/testing/selftests/iommu) as user space; the tip also the uAPI,
stress and fault injection tests of the device cdev
(tools/testing/selftests/vfio, beside upstream's libvfio tests), on a
device of each sample driver, C and Rust, and runs its KUnit suites
(kunit.py run): the project's vfio_registration and vfio_iommufd on the C
and the Rust samples, with the conformance matrix of the drivers (the PASID
rules included), and the Rust doctests; the Rust compile-fail cases, the
line's copies in linux/7.3/rust-bindings/compile-fail/, run with the
recorded command of the tip's Rust sample. The tip's selftest results are held
against the pristine base's and against
linux/7.3/iommufd-selftests-uml.expected, as the 6.12.y line's are
(uml_user.compare()), and the tests that pass only with the series are
counted: on the pristine base no mock device can be created under UML, so
a series whose BLOCKED default domain fix were no longer needed on 7.3
would show none, and fail its row. The kernel logs of the tip's boots are
checked; the pristine base's is shown, not counted.
"""

import os
import shutil
import time

import series_core
import series_tree
import uml_user
import x86_guest
from run_builds import any_built
from run_checks import step_rust_compile_fail
from run_common import (BUILD, KERNEL_ENV_7_3, MAKE_OPTIONS_7_3, TOP,
			Progress, banner, run)
from run_kunit import kunit_cmd, kunit_step, step_x86_kunit
from run_logcheck import check_kernel_log, step_kernel_log
from run_matrix import (DRIVER_KINDS, KUNIT_CASES_7_3, UAPI_RULE_CASES_7_3,
			UAPI_TESTS_7_3)
from run_user import (boot_programs, build_programs, iommufd_rows,
		      step_fail_nth_results, step_stress_results,
		      step_uapi_results, step_x86_user)

LINE = series_core.line_named('7.3')
LABEL = f'{LINE.name}: '
BUILD_DIR = os.path.join(BUILD, 'kunit-7.3')
JSON = os.path.join(BUILD, 'kunit-7.3-results.json')
USER_BUILD = os.path.join(BUILD, 'uml-user-7.3')
EXPECTED = os.path.join(LINE.folder, 'iommufd-selftests-uml.expected')
# Every --kunitconfig of the line's UML kernel, of its pristine base and of
# its tip; paths in the kernel tree are relative to it.
PRISTINE_KUNITCONFIGS = [os.path.join(TOP, 'kunit', '7.3-base.config'),
			 os.path.join(TOP, 'kunit', 'user.config'),
			 uml_user.USER_CONFIG]
KUNITCONFIGS = PRISTINE_KUNITCONFIGS + ['drivers/vfio/tests/.kunitconfig',
					os.path.join(TOP, 'kunit', '7.3.config')]
# UML's SMP (kunit/7.3-base.config): two virtual processors, host threads,
# as many as the machine has cores, so that the races of the KUnit suites
# and of the stress test run in the kernel in parallel. SMP needs UML's
# SECCOMP userspace (it refuses ptrace's), which trusts its user space:
# the run's own test programs.
KERNEL_ARGS = ['seccomp=on', 'ncpus=2']
# The line's x86_64 kernel: the same options with x86_64's instead of
# UML's user space (kunit/x86_64.config), its KUnit run under QEMU and its
# q35 guests (tools/x86_guest.py), its user space programs and guests in
# X86_USER_BUILD; and the pristine base for x86_64, built only if one of
# iommufd's selftests fails in a guest, from a git worktree of the line's
# tree at tag 'base' (so the tree's files keep their time stamps).
X86_CONFIG = os.path.join(TOP, 'kunit', 'x86_64.config')
X86_BUILD = os.path.join(BUILD, 'kunit-x86_64-7.3')
X86_KUNITCONFIGS = [k for k in KUNITCONFIGS if k != uml_user.USER_CONFIG] + \
	[X86_CONFIG]
X86_KERNEL = os.path.join(X86_BUILD, 'arch', 'x86', 'boot', 'bzImage')
X86_USER_BUILD = os.path.join(BUILD, 'x86_64-user-7.3')
X86_EXPECTED = os.path.join(LINE.folder, 'iommufd-selftests-x86_64.expected')
X86_PRISTINE_SRC = os.path.join(BUILD, 'pristine-src-7.3')
X86_PRISTINE_BUILD = os.path.join(BUILD, 'pristine-x86_64-7.3')
X86_PRISTINE_KUNITCONFIGS = [k for k in PRISTINE_KUNITCONFIGS
			     if k != uml_user.USER_CONFIG] + [X86_CONFIG]
# The line's uAPI test on 7.3: iommufd's mock devices have a firmware node
# of their own (iommu_mock_device_add()), so the samples' devices and
# iommufd's selftests share the guest with either IOMMU.
X86_MOCK_IOMMUS = tuple(x86_guest.IOMMUS)
# The suites the line's run must show.
EXPECTED_SUITES = ['vfio_registration', 'vfio_iommufd', 'rust_doctests_kernel']


def build_pristine(log):
	"""Build the pristine 7.3 base in BUILD_DIR (kunit.py build at tag
	'base', the tree going back to the line's tip afterwards); its UML
	kernel's path, or None if it did not build."""
	ksrc = LINE.ksrc
	series_core.git('checkout', '-q', '--detach', 'base', cwd=ksrc)
	try:
		cmd = kunit_cmd('build', f'--jobs={os.cpu_count()}',
				build_dir=BUILD_DIR,
				kunitconfigs=PRISTINE_KUNITCONFIGS,
				make_options=MAKE_OPTIONS_7_3)
		progress = Progress(BUILD_DIR)
		progress.start()
		with open(log, 'a') as out:
			res = run(cmd, cwd=ksrc, env=KERNEL_ENV_7_3, stdout=out,
				  stderr=out)
		progress.stop.set()
	finally:
		series_core.git('checkout', '-q', 'series', cwd=ksrc)
	if res.returncode:
		return None
	pristine = os.path.join(USER_BUILD, 'linux-pristine')
	os.replace(os.path.join(BUILD_DIR, 'linux'), pristine)
	return pristine


def build_commits(results, log):
	"""Each of the line's commits but the last (which kunit.py builds)
	builds: incrementally in BUILD_DIR after the pristine base, each from
	the configuration kunit.py makes for the tip, so that olddefconfig
	keeps every option the commit already knows; a commit that changes
	no file a build reads builds as its parent did and is not built
	again."""
	ksrc = LINE.ksrc
	commits = series_core.git('rev-list', '--reverse', 'base..series',
				  cwd=ksrc).split()
	tally = series_core.Tally()
	with open(log, 'a') as out:
		res = run(kunit_cmd('config', build_dir=BUILD_DIR,
				    kunitconfigs=KUNITCONFIGS,
				    make_options=MAKE_OPTIONS_7_3),
			  cwd=ksrc, env=KERNEL_ENV_7_3, stdout=out, stderr=out)
	if res.returncode:
		results.add(f'{LABEL}each commit builds', 0, 1,
			    'kunit.py config failed')
		return
	tip_config = os.path.join(USER_BUILD, 'tip.config')
	shutil.copyfile(os.path.join(BUILD_DIR, '.config'), tip_config)
	try:
		for n, commit in enumerate(commits[:-1], 1):
			subject = series_core.git('log', '-1', '--format=%s',
						  commit, cwd=ksrc)
			changed = series_core.git('diff', '--name-only',
						  f'{commit}^', commit,
						  cwd=ksrc).split()
			if not any_built(changed):
				tally.result(True, f'{n}/{len(commits)} builds: '
					     f'{subject} (changes no file a build reads)')
				continue
			series_core.git('checkout', '-q', '--detach', commit,
					cwd=ksrc)
			shutil.copyfile(tip_config, os.path.join(BUILD_DIR,
								 '.config'))
			start = time.time()
			with open(log, 'a') as out:
				ok = run(['make', '-s', 'ARCH=um', f'O={BUILD_DIR}',
					  f'-j{os.cpu_count()}', *MAKE_OPTIONS_7_3,
					  'olddefconfig', 'all'], cwd=ksrc,
					 env=KERNEL_ENV_7_3, stdout=out,
					 stderr=out).returncode == 0
			tally.result(ok, f'{n}/{len(commits)} builds: {subject} '
				     f'({time.time() - start:.0f} s)',
				     f'  see {os.path.relpath(log, TOP)}')
	finally:
		series_core.git('checkout', '-q', 'series', cwd=ksrc)
	results.add(f'{LABEL}each commit builds', tally.passed, tally.failed,
		    f'(the last, {len(commits)}/{len(commits)}, by kunit.py)')


def boot_selftests(linux, work, log, vfio=False):
	"""The selftests of the line's tree booted on linux: iommufd's, and
	if vfio the uAPI, stress and fault injection tests of the device cdev
	on a device of each sample driver. (Results by program, the boot.)"""
	programs = build_programs(LINE.ksrc, work, log, vfio=vfio)
	boot = boot_programs(linux, work, programs, KERNEL_ARGS +
			     (['vfio_sample_devices.count=1'] if vfio else []),
			     log)
	return uml_user.results_by_program(boot.log_lines()), boot


def step_mainline(results, each_commit=False):
	"""The 7.3 line: its pristine base and its tip under UML; with
	each_commit, each commit between them builds too."""
	banner(f'The {LINE.name} line: {LINE.pkg} {LINE.version} and the series\' '
	       'submissions moved to it (linux/7.3/submissions), clang-19 and '
	       'bindgen 0.71.1, under UML')
	series_tree.prepare_line(LINE)
	os.makedirs(USER_BUILD, exist_ok=True)
	log = os.path.join(USER_BUILD, 'build.log')
	open(log, 'w').close()
	pristine, pristine_boot = {}, None
	try:
		linux = build_pristine(log)
		if linux is None:
			results.add(f'{LABEL}pristine base builds', 0, 1,
				    f'see {os.path.relpath(log, TOP)}')
		else:
			results.add(f'{LABEL}pristine base builds', 1, 0)
			pristine, pristine_boot = boot_selftests(
				linux, os.path.join(USER_BUILD, 'pristine'), log)
	except uml_user.Error as e:
		results.add(f'{LABEL}selftests: pristine base', 0, 1, str(e))
	if each_commit:
		build_commits(results, log)

	kunit_step(results, BUILD_DIR, JSON, KUNITCONFIGS, timeout=600,
		   prefix=LABEL, log_label=f'{LABEL}kernel log (KUnit)',
		   log=os.path.join(BUILD, 'kunit-7.3.log'), ksrc=LINE.ksrc,
		   make_options=MAKE_OPTIONS_7_3, env=KERNEL_ENV_7_3,
		   expected_suites=EXPECTED_SUITES, kinds=DRIVER_KINDS,
		   cases=KUNIT_CASES_7_3, kernel_args=KERNEL_ARGS)
	# The line's own copies of the compile-fail cases (c"..." names, no
	# THIS_MODULE), with the recorded command of the tip's Rust sample.
	step_rust_compile_fail(results, ksrc=LINE.ksrc, kbuild=BUILD_DIR,
			       cases_dir=os.path.join(LINE.folder, 'rust-bindings',
						      'compile-fail'),
			       env=KERNEL_ENV_7_3, prefix=LABEL,
			       work='compile-fail-work-7.3')
	try:
		patched, boot = boot_selftests(
			os.path.join(BUILD_DIR, 'linux'),
			os.path.join(USER_BUILD, 'tip'), log, vfio=True)
	except uml_user.Error as e:
		results.add(f'{LABEL}selftests', 0, 1, str(e))
		return
	step_uapi_results(results, patched, LABEL, DRIVER_KINDS,
			  UAPI_TESTS_7_3, UAPI_RULE_CASES_7_3)
	step_stress_results(results, patched, LABEL)
	step_fail_nth_results(results, patched, boot.log_lines(), LABEL)
	iommufd_results(results, patched, pristine)
	step_kernel_log(results, boot.log, f'{LABEL}kernel log (selftests)',
			LINE.ksrc)
	if pristine_boot:
		pristine_log(pristine_boot.log)


def pristine_log(path):
	"""Say what the log check finds in the pristine base's boot, without
	counting it: the base lacks the line's fixes, and UML's boot-time
	lockdep report that its linker script fix (0004) mends is one of the
	things it shows."""
	with open(path, errors='replace') as f:
		_, problems = check_kernel_log(f.read().splitlines(), LINE.ksrc)
	for p in problems:
		print(f'  {LABEL}pristine base\'s kernel log, not counted: {p}')


def only_with_series(pristine, patched):
	"""The tests of iommufd's selftests that pass on patched and do not
	on pristine: what the series makes run."""
	return [f'{name} {test}' for name, tip in patched.items()
		for test, status in tip.tests.items()
		if status in uml_user.PASSED and name in pristine and
		pristine[name].tests.get(test, uml_user.MISSING)
		not in uml_user.PASSED]


def iommufd_results(results, patched, pristine):
	"""iommufd's selftests on the line's tip against its pristine base
	and EXPECTED; then the tests that pass only with the series."""
	print(f'\n  iommufd selftests on {LINE.name} under UML, the pristine '
	      f'base and the line\'s tip (failures listed in '
	      f'{os.path.relpath(EXPECTED, TOP)} with their reasons are not '
	      'counted)')
	iommufd_rows(results, patched, pristine, EXPECTED, LABEL,
		     'pristine base')
	gained = only_with_series(pristine, patched)
	print(f'\n  {len(gained)} of the tests pass on the tip and not on the '
	      'pristine base: the BLOCKED default domain fix is still needed '
	      f'on {LINE.name}' if gained else
	      '\n  no test passes only with the series: is the BLOCKED default '
	      f'domain fix still needed on {LINE.name}?')
	results.add(f'{LABEL}selftests the fixes make pass', int(bool(gained)),
		    int(not gained), f'({len(gained)} tests)' if gained else
		    'none: the fix may be no longer needed, or the pristine '
		    'base did not run')


def pristine_x86(log):
	"""The pristine base built for x86_64 in X86_PRISTINE_BUILD, from
	X86_PRISTINE_SRC (a git worktree of the line's tree at tag 'base'):
	that tree and its kernel image. Raises uml_user.Error if it does not
	build."""
	ksrc = LINE.ksrc
	series_core.git('worktree', 'prune', cwd=ksrc)
	if not os.path.isdir(X86_PRISTINE_SRC):
		series_core.git('worktree', 'add', '--detach', X86_PRISTINE_SRC,
				'base', cwd=ksrc)
	series_core.git('reset', '-q', '--hard', 'base', cwd=X86_PRISTINE_SRC)
	cmd = kunit_cmd('build', f'--jobs={os.cpu_count()}',
			build_dir=X86_PRISTINE_BUILD,
			kunitconfigs=X86_PRISTINE_KUNITCONFIGS, arch='x86_64',
			make_options=MAKE_OPTIONS_7_3)
	progress = Progress(X86_PRISTINE_BUILD)
	progress.start()
	with open(log, 'a') as out:
		res = run(cmd, cwd=X86_PRISTINE_SRC, env=KERNEL_ENV_7_3,
			  stdout=out, stderr=out)
	progress.stop.set()
	if res.returncode:
		raise uml_user.Error(f'the pristine {LINE.name} base for x86_64 '
				     f'did not build, see {log}')
	return X86_PRISTINE_SRC, os.path.join(X86_PRISTINE_BUILD, 'arch', 'x86',
					      'boot', 'bzImage')


def step_mainline_x86(results):
	"""The line's tip on x86_64: its KUnit suites under QEMU, and its user
	space in the q35 guests (run_kunit.step_x86_kunit(),
	run_user.step_x86_user() with the line's tree, options and lists)."""
	series_tree.prepare_line(LINE)
	step_x86_kunit(results, ksrc=LINE.ksrc, make_options=MAKE_OPTIONS_7_3,
		       env=KERNEL_ENV_7_3, kunitconfigs=X86_KUNITCONFIGS,
		       prefix=LABEL, build_dir=X86_BUILD, cases=KUNIT_CASES_7_3)
	step_x86_user(results, ksrc=LINE.ksrc, kernel=X86_KERNEL, prefix=LABEL,
		      work=X86_USER_BUILD, tests=UAPI_TESTS_7_3,
		      rule_cases=UAPI_RULE_CASES_7_3,
		      mock_iommus=X86_MOCK_IOMMUS, expected=X86_EXPECTED,
		      base_label='pristine base', base=pristine_x86)
