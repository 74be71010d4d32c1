# SPDX-License-Identifier: GPL-2.0
"""The memory-checking kernel of tools/run.py (KASAN, UBSAN, kmemleak): the
KUnit suites built with them, then the VFIO test programs and a kmemleak
scan as its user space.
"""

import os

import uml_user
from run_common import BUILD, KSRC, KUNITCONFIGS_UML, TOP, banner
from run_kunit import kunit_step
from run_logcheck import step_kernel_log
from run_user import (USER_BUILD, boot_programs, build_programs,
		      count_program, program_name)

SANITIZERS_BUILD = os.path.join(BUILD, 'sanitizers-uml')
SANITIZERS_JSON = os.path.join(BUILD, 'sanitizers-kunit-results.json')
SANITIZERS_CONFIG = os.path.join(TOP, 'kunit', 'uml-sanitizers.config')
KMEMLEAK_SCAN = os.path.join(TOP, 'tools', 'kmemleak-scan.c')


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
