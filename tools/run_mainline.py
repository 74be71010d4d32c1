# SPDX-License-Identifier: GPL-2.0
"""The mainline line under UML (tools/run.py): the series on Linux 7.3.4
(linux/), built with clang-19 and bindgen 0.71.1.

The UML kernel is built twice in one build directory: first the pristine
base (tag 'base' of the line's tree), then the line's tip, which builds
incrementally on it (with make check, each commit between them too; on 7.3
vfio-cdx is compile-tested under UML), with UML's SMP on two processors. Each boots iommufd's selftests
(tools/testing/selftests/iommu) as user space; the tip also the uAPI,
stress and fault injection tests of the device cdev
(tools/testing/selftests/vfio, beside upstream's libvfio tests), on a
device of each sample driver, C and Rust, and runs its KUnit suites
(kunit.py run): the project's vfio_registration and vfio_iommufd on the C
and the Rust samples, with the conformance matrix of the drivers (the PASID
rules included), and the Rust doctests; then the Rust compile-fail cases
(rust-bindings/compile-fail/), run with the recorded command of the tip's
Rust sample. The tip's selftest results are held against the pristine
base's and against linux/iommufd-selftests-uml.expected
(uml_user.compare()), and the tests that pass only with the series are
counted: on the pristine base no mock device can be created under UML, so
a series whose BLOCKED default domain fix were no longer needed would show
none, and fail its row. The kernel logs of the tip's boots are checked;
the pristine base's is shown, not counted.
"""

import os
import shutil
import time

import series_core
import uml_user
from run_builds import any_built
from run_checks import step_rust_compile_fail
from run_common import (BASE_KUNITCONFIGS, BUILD, KERNEL_ENV, KUNIT_BUILD,
			KUNITCONFIGS, MAKE_OPTIONS, TOP, banner, make, run)
from run_kunit import kunit_build, kunit_cmd, kunit_step
from run_logcheck import show_kernel_log, step_kernel_log
from run_user import (boot_programs, build_programs, iommufd_rows,
		      passed_only_on, step_fail_nth_results,
		      step_stress_results, step_uapi_results)

LINE = series_core.PRIMARY
BUILD_DIR = KUNIT_BUILD
JSON = os.path.join(BUILD, 'kunit-results.json')
USER_BUILD = os.path.join(BUILD, 'uml-user')
EXPECTED = os.path.join(LINE.folder, 'iommufd-selftests-uml.expected')
# Every --kunitconfig of the pristine base's UML kernel.
PRISTINE_KUNITCONFIGS = BASE_KUNITCONFIGS + [uml_user.USER_CONFIG]
# UML's SMP (kunit/base.config): two virtual processors, host threads,
# as many as the machine has cores, so that the races of the KUnit suites
# and of the stress test run in the kernel in parallel. SMP needs UML's
# SECCOMP userspace (it refuses ptrace's), which trusts its user space:
# the run's own test programs.
KERNEL_ARGS = ['seccomp=on', 'ncpus=2']
# The suites the line's run must show.
EXPECTED_SUITES = ['vfio_registration', 'vfio_iommufd', 'rust_doctests_kernel']


def build_pristine(log):
	"""Build the pristine 7.3 base in BUILD_DIR (kunit.py build at tag
	'base', the tree going back to the line's tip afterwards); its UML
	kernel's path, or None if it did not build."""
	ksrc = LINE.ksrc
	series_core.git('checkout', '-q', '--detach', 'base', cwd=ksrc)
	try:
		built = kunit_build(BUILD_DIR, PRISTINE_KUNITCONFIGS, log)
	finally:
		series_core.git('checkout', '-q', 'series', cwd=ksrc)
	if not built:
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
				    make_options=MAKE_OPTIONS),
			  cwd=ksrc, env=KERNEL_ENV, stdout=out, stderr=out)
	if res.returncode:
		results.add('each commit builds', 0, 1,
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
			ok = make(BUILD_DIR, 'olddefconfig', 'all', log=log)
			tally.result(ok, f'{n}/{len(commits)} builds: {subject} '
				     f'({time.time() - start:.0f} s)',
				     f'  see {os.path.relpath(log, TOP)}')
	finally:
		series_core.git('checkout', '-q', 'series', cwd=ksrc)
	results.add('each commit builds', tally.passed, tally.failed,
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
	"""The mainline line: its pristine base and its tip under UML; with
	each_commit, each commit between them builds too."""
	banner(f'UML: {LINE.pkg} {LINE.version} and the series '
	       '(linux/submissions), clang-19 and bindgen 0.71.1; the pristine '
	       'base, then the tip: KUnit, the VFIO tests and iommufd\'s '
	       'selftests (a clean build takes about 8 minutes)')
	os.makedirs(USER_BUILD, exist_ok=True)
	log = os.path.join(USER_BUILD, 'build.log')
	open(log, 'w').close()
	pristine, pristine_boot = {}, None
	try:
		linux = build_pristine(log)
		if linux is None:
			results.add('pristine base builds', 0, 1,
				    f'see {os.path.relpath(log, TOP)}')
		else:
			results.add('pristine base builds', 1, 0)
			pristine, pristine_boot = boot_selftests(
				linux, os.path.join(USER_BUILD, 'pristine'), log)
	except uml_user.Error as e:
		results.add('selftests: pristine base', 0, 1, str(e))
	if each_commit:
		build_commits(results, log)

	kunit_step(results, BUILD_DIR, JSON, KUNITCONFIGS, timeout=600,
		   log_label='kernel log (KUnit)',
		   log=os.path.join(BUILD, 'kunit.log'),
		   expected_suites=EXPECTED_SUITES, kernel_args=KERNEL_ARGS)
	# With the recorded command of the tip's Rust sample.
	step_rust_compile_fail(results)
	try:
		patched, boot = boot_selftests(
			os.path.join(BUILD_DIR, 'linux'),
			os.path.join(USER_BUILD, 'tip'), log, vfio=True)
	except uml_user.Error as e:
		results.add('selftests', 0, 1, str(e))
		return
	step_uapi_results(results, patched)
	step_stress_results(results, patched)
	step_fail_nth_results(results, patched, boot.log_lines())
	iommufd_results(results, patched, pristine)
	step_kernel_log(results, boot.log, 'kernel log (selftests)',
			LINE.ksrc)
	if pristine_boot:
		# The base lacks the line's fixes: UML's boot-time lockdep
		# report that the linker script fix (0004) mends is one of the
		# things its log shows.
		show_kernel_log(pristine_boot.log, 'pristine base', LINE.ksrc)


def iommufd_results(results, patched, pristine):
	"""iommufd's selftests on the line's tip against its pristine base
	and EXPECTED; then the tests that pass only with the series."""
	print(f'\n  iommufd selftests on {LINE.name} under UML, the pristine '
	      f'base and the line\'s tip (failures listed in '
	      f'{os.path.relpath(EXPECTED, TOP)} with their reasons are not '
	      'counted)')
	iommufd_rows(results, patched, pristine, EXPECTED, '',
		     'pristine base')
	gained = passed_only_on(patched, pristine)
	print(f'\n  {len(gained)} of the tests pass on the tip and not on the '
	      'pristine base: the BLOCKED default domain fix is still needed '
	      f'on {LINE.name}' if gained else
	      '\n  no test passes only with the series: is the BLOCKED default '
	      f'domain fix still needed on {LINE.name}?')
	results.add('selftests the fixes make pass', int(bool(gained)),
		    int(not gained), f'({len(gained)} tests)' if gained else
		    'none: the fix may be no longer needed, or the pristine '
		    'base did not run')

