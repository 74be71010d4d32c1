# SPDX-License-Identifier: GPL-2.0
"""The 6.12.y stable line of tools/run.py (linux/6.12.y/): what proves its
submissions, the two fixes the mainline line sends upstream and the three
that only 6.12.y needs, on Linux 6.12.117, built with Debian 12's LLVM (14)
and without Rust. Its git am and checkpatch are the series step's.

  0001 vfio-cdx's detach_ioas      each commit builds, vfio-cdx for arm64
                                   (CDX has no COMPILE_TEST on 6.12)
  0002 the static BLOCKED domain   iommufd's selftests under UML on the tip
                                   and on the tip without 0002: the tests
                                   that pass only with it are counted, and
                                   there must be some
  0003 UML's FP state on a host    every UML boot of user space; the path
       with a larger XSTATE        it adds is taken only on a host whose
                                   XSTATE is larger than UML's FP area
                                   (AMX): the run says whether this one is
  0004 selftests/iommu builds      iommufd's selftests built from the tree
  0005 virtio-iommu finalises a    the uAPI test of the device cdev (the
       paging domain at            mainline tree's vfio_cdev_uapi_test, a
       allocation                  user space program) on vfio-pci with
                                   QEMU's edu device behind virtio-iommu,
                                   on the tip and on the tip without 0005:
                                   the tests that found the bug pass on
                                   the tip and fail without it

The UML kernel and the x86_64 kernel are built with kunit.py (its configs:
kunit/6.12.y.config, kunit/user.config and the arch's root file system);
a kernel "without" a fix is the tip with that commit reverted, built
incrementally in the same build directory. The tip's boots' kernel logs
are checked; those without a fix are shown, not counted.
"""

import os
import shutil
import subprocess
import time

import series_core
import uml_user
import x86_guest
from run_builds import any_built, build_cdx_arm64, cdx_rebuild_needed
from run_common import (BUILD, KERNEL_ENV_6_12, KSRC, MAKE_OPTIONS_6_12, TOP,
			VFIO_UAPI_FOLDER, VFIO_UAPI_PROGRAM, banner, make, run)
from run_kunit import kunit_build, kunit_cmd
from run_logcheck import show_kernel_log, step_kernel_log
from run_user import (boot_programs, count_program, iommufd_rows,
		      passed_only_on, x86_boot)

LINE = series_core.line_named('6.12.y')
PREFIX = f'{LINE.name}: '
WORK = os.path.join(BUILD, f'stable-{LINE.name}')
UML_BUILD = os.path.join(WORK, 'uml')
X86_BUILD = os.path.join(WORK, 'x86_64')
ARM64_BUILD = os.path.join(WORK, 'arm64-cdx')
CONFIG = os.path.join(TOP, 'kunit', f'{LINE.name}.config')
UML_KUNITCONFIGS = [CONFIG, os.path.join(TOP, 'kunit', 'user.config'),
		    uml_user.USER_CONFIG]
X86_KUNITCONFIGS = [CONFIG, os.path.join(TOP, 'kunit', 'user.config'),
		    os.path.join(TOP, 'kunit', 'x86_64.config')]
EXPECTED = os.path.join(LINE.folder, 'iommufd-selftests-uml.expected')
# The line's commits by what they fix: the entries' numbers.
BLOCKED_FIX, VIRTIO_FIX = '0002', '0005'
# The uAPI tests on vfio-pci that 0005's virtio-iommu bug made fail: an
# HWPT of the device's own, a replace onto an IOAS with mappings.
VIRTIO_TESTS = ('vfio_physical.vfio_pci.qemu_order_hwpt',
		'vfio_dma.vfio_pci.replace_moves_dma')
BUILD_OPTIONS = dict(ksrc=LINE.ksrc, make_options=MAKE_OPTIONS_6_12,
		     env=KERNEL_ENV_6_12)


def git(*args):
	return series_core.git(*args, cwd=LINE.ksrc)


def commit_of(number):
	"""The line's commit of entry number, in a tree whose commits are the
	line's entries (prepare_line() makes one per entry)."""
	numbers = [e.name[:4] for e in series_core.entries(LINE)]
	commits = git('rev-list', '--reverse', 'base..series').split()
	if len(commits) != len(numbers):
		raise uml_user.Error(f'{LINE.ksrc} has {len(commits)} commits on '
				     f'base, the line {len(numbers)} entries: run '
				     'tools/series.py prepare')
	return commits[numbers.index(number)]


def image(build_dir, arch):
	return os.path.join(build_dir, 'linux') if arch == 'um' else \
		os.path.join(build_dir, 'arch', 'x86', 'boot', 'bzImage')


def build_without(number, build_dir, arch, log):
	"""The tip without entry number's commit (reverted in the work tree),
	built incrementally in build_dir; the path of a copy of its kernel,
	or None if it did not build. The tree goes back to the tip."""
	kept = os.path.join(build_dir, f'without-{number}')
	try:
		git('checkout', '-q', '-f', 'series')
		git('revert', '--no-commit', commit_of(number))
		ok = make(build_dir, 'olddefconfig', 'all', arch=arch, log=log,
			  **BUILD_OPTIONS)
	finally:
		git('reset', '-q', '--hard', 'series')
	if not ok:
		return None
	shutil.copy2(image(build_dir, arch), kept)
	return kept


def tip_and_without(number, build_dir, arch, log):
	"""The tip's kernel just built in build_dir, kept as build_dir/tip,
	and the tip without entry number's commit (build_without())."""
	tip = os.path.join(build_dir, 'tip')
	shutil.copy2(image(build_dir, arch), tip)
	return tip, build_without(number, build_dir, arch, log)


def boot_both(boot, work, tip, without, number):
	"""boot(folder, kernel) of the tip and, if it built, of the tip
	without entry number: (the tip's results by program, its Boot, the
	other's results, its Boot or None)."""
	tip_boot = boot(os.path.join(work, 'tip'), tip)
	other, other_boot = {}, None
	if without:
		other_boot = boot(os.path.join(work, f'without-{number}'), without)
		other = uml_user.results_by_program(other_boot.log_lines())
	return (uml_user.results_by_program(tip_boot.log_lines()), tip_boot,
		other, other_boot)


def build_commits(results, log):
	"""Each of the line's commits but the last builds for UML,
	incrementally in UML_BUILD from the tip's configuration, and vfio-cdx
	for arm64 where a commit changes what its build reads."""
	commits = git('rev-list', '--reverse', 'base..series').split()
	tip_config = os.path.join(WORK, 'tip.config')
	shutil.copyfile(os.path.join(UML_BUILD, '.config'), tip_config)
	tally = series_core.Tally()
	try:
		for n, commit in enumerate(commits, 1):
			subject = git('log', '-1', '--format=%s', commit)
			changed = git('diff', '--name-only', f'{commit}^',
				      commit).split()
			git('checkout', '-q', '--detach', commit)
			start = time.time()
			ok = True
			arm64 = n == 1 or cdx_rebuild_needed(changed, ARM64_BUILD,
							     LINE.ksrc)
			if arm64:
				ok = build_cdx_arm64(log, ARM64_BUILD, **BUILD_OPTIONS)
			if n < len(commits) and any_built(changed):
				shutil.copyfile(tip_config,
						os.path.join(UML_BUILD, '.config'))
				ok = ok and make(UML_BUILD, 'olddefconfig', 'all',
						 log=log, **BUILD_OPTIONS)
			how = f'{time.time() - start:.0f} s' + \
				('; vfio-cdx for arm64' if arm64 else '')
			if n == len(commits):
				how += '; UML by kunit.py'
			tally.result(ok, f'{PREFIX}{n}/{len(commits)} builds: '
				     f'{subject} ({how})',
				     f'  see {os.path.relpath(log, TOP)}')
	finally:
		git('checkout', '-q', 'series')
	results.add(f'{PREFIX}each commit builds', tally.passed, tally.failed)


def host_xstate():
	"""Whether the host's CPU has AMX, whose XSTATE exceeds UML's FP
	area: 0003's path is taken only there."""
	with open('/proc/cpuinfo') as f:
		return 'amx_tile' in f.read().split()


def step_uml(results, log):
	"""The BLOCKED default domain fix (0002) and the selftests' build fix
	(0004) under UML, on the tip and on the tip without 0002."""
	if not kunit_build(UML_BUILD, UML_KUNITCONFIGS, log, **BUILD_OPTIONS):
		results.add(f'{PREFIX}UML kernel builds', 0, 1,
			    f'see {os.path.relpath(log, TOP)}')
		return
	tip_linux, without = tip_and_without(BLOCKED_FIX, UML_BUILD, 'um', log)
	amx = host_xstate()
	print(f'  UML user space on this host: its CPU '
	      f'{"has" if amx else "has no"} AMX, so the larger '
	      f'XSTATE path of 0003 is {"" if amx else "not "}taken')
	try:
		work = os.path.join(WORK, 'uml-user')
		include = uml_user.install_headers(
			LINE.ksrc, os.path.join(work, 'headers'), log)
		built = uml_user.build_selftests(
			LINE.ksrc, include, os.path.join(work, 'iommu'), log=log)
		results.add(f'{PREFIX}selftests/iommu builds', 1, 0)
		programs = [built[n] for n in uml_user.IOMMU_PROGRAMS]
		tip, boot, other, other_boot = boot_both(
			lambda folder, linux: boot_programs(linux, folder, programs,
							    [], log),
			work, tip_linux, without, BLOCKED_FIX)
	except uml_user.Error as e:
		results.add(f'{PREFIX}UML user space', 0, 1, str(e))
		return
	print(f'\n  iommufd selftests on {LINE.name} under UML, the tip and the '
	      f'tip without {BLOCKED_FIX} (failures listed in '
	      f'{os.path.relpath(EXPECTED, TOP)} with their reasons are not '
	      'counted)')
	iommufd_rows(results, tip, other, EXPECTED, PREFIX,
		     f'without {BLOCKED_FIX}')
	gained = passed_only_on(tip, other)
	results.add(f'{PREFIX}selftests only the BLOCKED domain fix makes pass',
		    int(bool(gained)), int(not gained),
		    f'({len(gained)} tests)' if gained else
		    f'none: is {BLOCKED_FIX} still needed?' if without else
		    f'the tip without {BLOCKED_FIX} did not build')
	step_kernel_log(results, boot.log, f'{PREFIX}kernel log (UML)',
			LINE.ksrc)
	if other_boot:
		show_kernel_log(other_boot.log, f'{PREFIX}without {BLOCKED_FIX}',
				LINE.ksrc)


def virtio_rows(results, tip, other):
	"""0005 on vfio-pci behind virtio-iommu: VIRTIO_TESTS pass on the tip
	and fail (a test's own failure, not a skip or a crash) without it; the
	tip's run passes as count_program() counts a program."""
	count_program(results, tip, VFIO_UAPI_PROGRAM,
		      f'{PREFIX}x86_64 virtio-iommu: {VFIO_UAPI_PROGRAM}')
	test = tip.get(VFIO_UAPI_PROGRAM)
	if test is None:
		return
	was = other.get(VFIO_UAPI_PROGRAM)
	tally = series_core.Tally()
	for name in VIRTIO_TESTS:
		on_tip = test.tests.get(name, uml_user.MISSING)
		without = was.tests.get(name, uml_user.MISSING) if was else None
		tally.result(on_tip in uml_user.PASSED and
			     without == uml_user.FAIL,
			     f'{PREFIX}{name}: {on_tip} on the tip, '
			     f'{without or "not run"} without {VIRTIO_FIX}')
	results.add(f'{PREFIX}tests only the virtio-iommu fix makes pass',
		    tally.passed, tally.failed)


def step_x86(results, log):
	"""The virtio-iommu fix (0005) on x86_64: the uAPI test on vfio-pci
	with the edu device behind virtio-iommu, on the tip and without
	0005."""
	if not kunit_build(X86_BUILD, X86_KUNITCONFIGS, log, arch='x86_64',
			   **BUILD_OPTIONS):
		results.add(f'{PREFIX}x86_64 kernel builds', 0, 1,
			    f'see {os.path.relpath(log, TOP)}')
		return
	tip_image, without = tip_and_without(VIRTIO_FIX, X86_BUILD, 'x86_64',
					     log)
	work = os.path.join(WORK, 'x86_64-user')
	try:
		include = uml_user.install_headers(
			KSRC, os.path.join(work, 'headers'), log)
		built = uml_user.build_selftests(
			KSRC, include, os.path.join(work, 'vfio'),
			folder=VFIO_UAPI_FOLDER, programs=(VFIO_UAPI_PROGRAM,),
			log=log)
		program = uml_user.Program(
			built[VFIO_UAPI_PROGRAM], ['-v', 'vfio_pci'],
			env={'VFIO_SELFTESTS_BDF': x86_guest.EDU_BDF})
		tip, boot, other, other_boot = boot_both(
			lambda folder, bzimage: x86_boot(folder, bzimage, [program],
							 'virtio-iommu', log),
			work, tip_image, without, VIRTIO_FIX)
	except uml_user.Error as e:
		results.add(f'{PREFIX}x86_64 user space', 0, 1, str(e))
		return
	virtio_rows(results, tip, other)
	step_kernel_log(results, boot.log,
			f'{PREFIX}kernel log (x86_64 virtio-iommu)', LINE.ksrc)
	if other_boot:
		show_kernel_log(other_boot.log, f'{PREFIX}without {VIRTIO_FIX}',
				LINE.ksrc)


def step_stable(results, each_commit=False):
	"""The 6.12.y line's proof; with each_commit, each commit builds."""
	banner(f'The {LINE.name} stable line: {LINE.pkg} {LINE.version} and its '
	       f'submissions ({LINE.rel}/submissions), LLVM 14, without Rust: '
	       'each fix shown by a build or a boot')
	os.makedirs(WORK, exist_ok=True)
	log = os.path.join(WORK, 'build.log')
	open(log, 'w').close()
	res = run(kunit_cmd('config', build_dir=UML_BUILD,
			    kunitconfigs=UML_KUNITCONFIGS,
			    make_options=MAKE_OPTIONS_6_12),
		  cwd=LINE.ksrc, env=KERNEL_ENV_6_12, stdout=subprocess.DEVNULL)
	if res.returncode:
		results.add(f'{PREFIX}kunit.py config', 0, 1, 'failed')
		return
	if each_commit:
		build_commits(results, log)
	step_uml(results, log)
	step_x86(results, log)
