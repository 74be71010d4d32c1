# SPDX-License-Identifier: GPL-2.0
"""The memory-checking kernel of tools/run.py (KASAN, UBSAN, kmemleak): the
UML kernel's suites built with them, then the VFIO test programs and a
kmemleak scan as its user space, on two processors (UML's SMP, as the main
UML run: KASAN's shadow is one host mapping the processors' host threads
share).
"""

import os

import run_mainline
import uml_user
from run_common import (BUILD, KSRC, KUNITCONFIGS_UML, TOP,
			VFIO_STRESS_PROGRAM, banner)
from run_kunit import EXPECTED_SUITES, kunit_step
from run_logcheck import step_kernel_log
from run_matrix import DRIVER_KINDS
from run_user import (USER_BUILD, boot_programs, build_programs,
		      program_name, step_fail_nth_results, step_stress_results,
		      step_uapi_results)

SANITIZERS_BUILD = os.path.join(BUILD, 'sanitizers-uml')
SANITIZERS_CONFIG = os.path.join(TOP, 'kunit', 'uml-sanitizers.config')
KMEMLEAK_SCAN = os.path.join(TOP, 'tools', 'kmemleak-scan.c')
# Seconds the stress test may run in the memory-checking boot, instead of
# the init's 300: under KASAN on two processors its eight tests took 20 to
# 55 s each (4 Dec 2026, other builds sharing the cores), and the init
# killed it in the eighth after 300 s.
STRESS_TIMEOUT = 600


def step_sanitizers(results, kinds=DRIVER_KINDS):
	"""The same series built with KASAN, UBSAN and kmemleak: KUnit, then the
	VFIO test programs and a kmemleak scan as user space, counted as the
	UML step counts them, with the conformance and uAPI matrices of the
	drivers kinds; every row's label starts with 'sanitizers: '."""
	banner('The memory-checking kernel (KASAN, UBSAN, kmemleak): KUnit, '
	       'then the VFIO test programs and a kmemleak scan')
	prefix = 'sanitizers: '
	kunit_step(results, SANITIZERS_BUILD,
		   os.path.join(BUILD, 'sanitizers-kunit-results.json'),
		   KUNITCONFIGS_UML + [SANITIZERS_CONFIG], timeout=900,
		   prefix=prefix, log_label='kernel log (sanitizers, KUnit)',
		   log=os.path.join(BUILD, 'sanitizers-kunit.log'),
		   expected_suites=EXPECTED_SUITES, kinds=kinds,
		   kernel_args=run_mainline.KERNEL_ARGS)

	work = os.path.join(USER_BUILD, 'sanitizers')
	ulog = os.path.join(work, 'build.log')
	try:
		os.makedirs(work, exist_ok=True)
		open(ulog, 'w').close()
		programs = [p._replace(timeout=STRESS_TIMEOUT)
			    if program_name(p) == VFIO_STRESS_PROGRAM else p
			    for p in build_programs(KSRC, work, ulog, vfio=True)
			    if program_name(p).startswith('vfio_')]
		scan = uml_user.build_static(KMEMLEAK_SCAN,
					     os.path.join(work, 'kmemleak-scan'),
					     ulog)
		# The KUnit suites run again at boot (kunit.enable=1), so that the
		# scan also sees what their devices, made and dropped, leaked.
		boot = boot_programs(os.path.join(SANITIZERS_BUILD, 'linux'), work,
				     programs + [scan],
				     [*run_mainline.KERNEL_ARGS,
				      'vfio_sample_devices.count=1',
				      'kunit.enable=1'], ulog)
	except uml_user.Error as e:
		results.add(f'{prefix}user space', 0, 1, str(e))
		return
	lines = boot.log_lines()
	ran = uml_user.results_by_program(lines)
	step_uapi_results(results, ran, prefix, kinds)
	step_stress_results(results, ran, prefix)
	step_fail_nth_results(results, ran, lines, prefix)
	scans = [r for r in uml_user.parse_console(lines)
		 if r.name == 'kmemleak-scan']
	ok = bool(scans) and scans[-1].exit_code == 0
	results.add(f'{prefix}kmemleak scan', 1 if ok else 0, 0 if ok else 1,
		    '' if ok else ('did not run' if not scans else
				   f'exit {scans[-1].exit_code}'))
	step_kernel_log(results, boot.log, 'kernel log (sanitizers, user space)')
