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
from run_common import (BUILD, KERNEL_ENV, KSRC, KUNITCONFIGS_UML,
			MAKE_OPTIONS, TOP, VFIO_FAIL_NTH_PROGRAM,
			VFIO_STRESS_PROGRAM, VFIO_UAPI_PROGRAM, banner)
from run_kunit import EXPECTED_SUITES, kunit_step
from run_logcheck import step_kernel_log
from run_matrix import (DRIVER_KINDS, KUNIT_CASES, UAPI_RULE_CASES,
			UAPI_TESTS, print_uapi_matrix)
from run_user import (USER_BUILD, boot_programs, build_programs,
		      count_program, fail_nth_sites, program_name)

SANITIZERS_BUILD = os.path.join(BUILD, 'sanitizers-uml')
SANITIZERS_CONFIG = os.path.join(TOP, 'kunit', 'uml-sanitizers.config')
KMEMLEAK_SCAN = os.path.join(TOP, 'tools', 'kmemleak-scan.c')
# Seconds the stress test may run in the memory-checking boot, instead of
# the init's 300: under KASAN on two processors its eight tests took 20 to
# 55 s each (4 Dec 2026, other builds sharing the cores), and the init
# killed it in the eighth after 300 s.
STRESS_TIMEOUT = 600


def step_sanitizers(results, ksrc=KSRC, build_dir=SANITIZERS_BUILD,
		    name='sanitizers',
		    kunitconfigs=KUNITCONFIGS_UML + [SANITIZERS_CONFIG],
		    make_options=MAKE_OPTIONS, env=KERNEL_ENV,
		    kernel_args=tuple(run_mainline.KERNEL_ARGS),
		    kinds=DRIVER_KINDS, cases=KUNIT_CASES, uapi_tests=UAPI_TESTS,
		    uapi_rule_cases=UAPI_RULE_CASES, prefix=''):
	"""The same series built with KASAN, UBSAN and kmemleak: KUnit, then the
	VFIO test programs and a kmemleak scan as user space.

	The defaults are the mainline line's; a caller may give another tree (ksrc),
	its kernel's --kunitconfig files with SANITIZERS_CONFIG, its
	make_options and env, the arguments its kernel boots with for KUnit
	and user space alike (kernel_args), the drivers and cases of its
	conformance matrix (kinds, cases), with uapi_tests and
	uapi_rule_cases the rules of its uAPI matrix, which is then a row of
	its own, and the prefix of its rows. The kernel builds in build_dir;
	name names its kunit.py JSON and output in BUILD and its user space
	in USER_BUILD."""
	banner(f'{prefix}The memory-checking kernel (KASAN, UBSAN, kmemleak): '
	       'KUnit, then the VFIO test programs and a kmemleak scan')
	label = f'{prefix}sanitizers'
	kunit_step(results, build_dir,
		   os.path.join(BUILD, f'{name}-kunit-results.json'),
		   kunitconfigs, timeout=900, prefix=f'{label}: ',
		   log_label=f'{prefix}kernel log (sanitizers, KUnit)',
		   log=os.path.join(BUILD, f'{name}-kunit.log'), ksrc=ksrc,
		   make_options=make_options, env=env,
		   expected_suites=EXPECTED_SUITES, kinds=kinds, cases=cases,
		   kernel_args=kernel_args)

	work = os.path.join(USER_BUILD, name)
	ulog = os.path.join(work, 'build.log')
	try:
		os.makedirs(work, exist_ok=True)
		open(ulog, 'w').close()
		programs = [(*p, STRESS_TIMEOUT)
			    if program_name(p) == VFIO_STRESS_PROGRAM else p
			    for p in build_programs(ksrc, work, ulog, vfio=True)
			    if program_name(p).startswith('vfio_')]
		scan = os.path.join(work, 'kmemleak-scan')
		uml_user._run(['gcc', '-static', '-O2', '-Wall', '-o', scan,
			       KMEMLEAK_SCAN], ulog)
		# The KUnit suites run again at boot (kunit.enable=1), so that the
		# scan also sees what their devices, made and dropped, leaked.
		boot = boot_programs(os.path.join(build_dir, 'linux'), work,
				     programs + [scan], [*kernel_args,
				     'vfio_sample_devices.count=1',
				     'kunit.enable=1'], ulog)
	except uml_user.Error as e:
		results.add(f'{label}: user space', 0, 1, str(e))
		return
	lines = boot.log_lines()
	ran = uml_user.results_by_program(lines)
	for path in programs:
		program = program_name(path)
		count_program(results, ran, program, f'{label}: {program}',
			      kernel=label, details=fail_nth_sites(lines)
			      if program == VFIO_FAIL_NTH_PROGRAM else ())
	if uapi_tests is not None:
		matrix = print_uapi_matrix(
			ran.get(VFIO_UAPI_PROGRAM),
			ran.get(VFIO_STRESS_PROGRAM), kinds=kinds,
			title=f'{label}: uAPI matrix', tests=uapi_tests,
			rule_cases=uapi_rule_cases)
		for line in matrix:
			print(f'  {label}: uAPI matrix: {line}')
		results.add(f'{label}: uapi: matrix', 0 if matrix else 1,
			    len(matrix), '; '.join(matrix))
	scans = [r for r in uml_user.parse_console(lines)
		 if r.name == 'kmemleak-scan']
	ok = bool(scans) and scans[-1].exit_code == 0
	results.add(f'{label}: kmemleak scan', 1 if ok else 0, 0 if ok else 1,
		    '' if ok else ('did not run' if not scans else
				   f'exit {scans[-1].exit_code}'))
	step_kernel_log(results, boot.log,
			f'{prefix}kernel log (sanitizers, user space)', ksrc)
