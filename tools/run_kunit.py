# SPDX-License-Identifier: GPL-2.0
"""KUnit runs of tools/run.py: the kunit.py command line, a run of the
suites under UML or on x86_64 (QEMU), and how its JSON and KTAP log are
counted: a row per suite, the skips, the conformance matrix and the kernel
log's check.
"""

import json
import os
import re
import subprocess
import sys
import time

import x86_guest
from run_common import (BUILD, KERNEL_ENV, KSRC, KUNITCONFIGS, KUNIT_BUILD,
			MAKE_OPTIONS, TOP, X86_BUILD, X86_KUNITCONFIGS,
			Progress, banner, run)
from run_logcheck import step_kernel_log
from run_matrix import (DRIVER_KINDS, KUNIT_CASES, not_for, print_matrix,
			vfio_iommufd_leaves)

KUNIT_JSON = os.path.join(BUILD, 'kunit-results.json')

# The suites the run must show; one that is missing fails the run.
EXPECTED_SUITES = ['vfio_registration', 'vfio_iommufd', 'rust_doctests_kernel']


def kunit_cmd(action, *extra, build_dir=KUNIT_BUILD,
	      kunitconfigs=KUNITCONFIGS, arch='um', make_options=MAKE_OPTIONS):
	cmd = [sys.executable, 'tools/testing/kunit/kunit.py', action,
	       f'--arch={arch}', f'--build_dir={build_dir}', *extra]
	if arch == 'x86_64':
		# Two vCPUs under TCG: QEMU's default is one.
		cmd.append(f'--qemu_args=-smp {x86_guest.CPUS}')
	cmd += [f'--kunitconfig={k}' for k in kunitconfigs]
	cmd += [f'--make_options={o}' for o in make_options]
	return cmd


def kunit_build(build_dir, kunitconfigs, log, arch='um', ksrc=KSRC,
		make_options=MAKE_OPTIONS, env=KERNEL_ENV):
	"""kunit.py build of the tree ksrc in build_dir, with kunitconfigs,
	make_options and env, its output appended to log, saying every 30 s
	how far it has come; True if it built."""
	cmd = kunit_cmd('build', f'--jobs={os.cpu_count()}', build_dir=build_dir,
			kunitconfigs=kunitconfigs, arch=arch,
			make_options=make_options)
	progress = Progress(build_dir)
	progress.start()
	with open(log, 'a') as out:
		res = run(cmd, cwd=ksrc, env=env, stdout=out,
			  stderr=subprocess.STDOUT)
	progress.stop.set()
	return res.returncode == 0


def step_x86_kunit(results):
	"""Build the x86_64 kernel and run the same suites on it with kunit.py,
	under QEMU (TCG) with two vCPUs. kunit.py's JSON and output go beside
	its build (X86_BUILD-results.json, X86_BUILD.log)."""
	banner(f'KUnit on x86_64 under QEMU (TCG, {x86_guest.CPUS} vCPUs; a clean '
	       'build takes about 12 minutes)')
	kunit_step(results, X86_BUILD, f'{X86_BUILD}-results.json',
		   X86_KUNITCONFIGS, timeout=900, prefix='x86_64: ',
		   log_label='kernel log (x86_64, KUnit)',
		   log=f'{X86_BUILD}.log', arch='x86_64')


def kunit_step(results, build_dir, json_path, kunitconfigs, timeout,
	       prefix='', log_label='kernel log', log=None, arch='um',
	       ksrc=KSRC, make_options=MAKE_OPTIONS, env=KERNEL_ENV,
	       expected_suites=EXPECTED_SUITES, kinds=DRIVER_KINDS,
	       cases=KUNIT_CASES, kernel_args=()):
	"""Run kunit.py (run_kunit) and count its results, each suite row's
	label starting with prefix: the suites, kunit.py's exit if no suite
	row failed already, and the kernel log's check as row log_label.
	A caller may give another tree (ksrc) with its make_options and env,
	the suites its run must show, the drivers and cases of its matrix
	(kinds, cases) and the arguments its kernel boots with
	(kernel_args)."""
	before = len(results.rows)
	returncode, results_json, log_lines = run_kunit(
		build_dir, json_path, kunitconfigs, timeout, log=log, arch=arch,
		ksrc=ksrc, make_options=make_options, env=env,
		kernel_args=kernel_args)
	kunit_counts(results, results_json, log_lines, prefix=prefix,
		     expected_suites=expected_suites, kinds=kinds,
		     cases=cases)
	if returncode and not any(r[2] for r in results.rows[before:]):
		results.add(f'{prefix}kunit.py', 0, 1, f'exited {returncode}')
	# The functions of WARNINGs are looked up in the tree that was built
	step_kernel_log(results, os.path.join(build_dir, 'test.log'), log_label,
			ksrc)


def run_kunit(build_dir, json_path, kunitconfigs, timeout, log=None,
	      arch='um', ksrc=KSRC, make_options=MAKE_OPTIONS, env=KERNEL_ENV,
	      kernel_args=()):
	"""kunit.py run of the tree ksrc in build_dir, with make_options and
	env, its kernel booted with kernel_args too; (its exit code, its JSON
	or None, the lines of build_dir/test.log). Its output goes to log, if
	given. On x86_64 its QEMU runs with TCG only."""
	cmd = kunit_cmd('run', f'--jobs={os.cpu_count()}', f'--json={json_path}',
			f'--timeout={timeout}',
			*(f'--kernel_args={a}' for a in kernel_args),
			build_dir=build_dir,
			kunitconfigs=kunitconfigs, arch=arch,
			make_options=make_options)
	if arch == 'x86_64':
		# TCG only (x86_guest.tcg_qemu()): 7.3's kunit.py asks for KVM
		qemu = x86_guest.tcg_qemu(os.path.join(BUILD, 'qemu-tcg'),
					  env['PATH'])
		env = dict(env, PATH=f'{qemu}:{env["PATH"]}')
	if os.path.exists(json_path):
		os.unlink(json_path)
	start = time.time()
	progress = Progress(build_dir)
	progress.start()
	with open(log or os.devnull, 'w') as out:
		res = run(cmd, cwd=ksrc, env=env,
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


def kunit_counts(results, results_json, log_lines=(), prefix='',
		 expected_suites=EXPECTED_SUITES, kinds=DRIVER_KINDS,
		 cases=KUNIT_CASES):
	"""Count kunit.py's JSON (None: there is none) into results.

	The conformance matrix of vfio_iommufd, then a row per suite. A suite
	the run must show (expected_suites) fails when it did not run, when it
	has no case, and for each case that skipped: each is shown, with its
	reason from the KTAP log lines (kunit.py's test.log) if it gave one.
	A skip of another suite is noted, not counted. Each row's label
	starts with prefix.
	"""
	suites = {}
	matrix = None
	if results_json is not None:
		suites = suite_counts(results_json)
		if 'vfio_iommufd' in expected_suites:
			matrix = print_matrix(results_json, kinds, cases)
	reasons = skip_reasons(log_lines)
	print(f'\n  {"suite":<28} passed  failed  skipped')
	for name, (passed, failed, skipped) in suites.items():
		print(f'  {name:<28} {passed:>6}  {failed:>6}  {skipped:>7}')
		if name not in expected_suites:
			results.add(f'{prefix}kunit: {name}', passed, failed,
				    f'({skipped} skipped, not counted)'
				    if skipped else '')
			continue
		counted = skipped_cases(results_json, name, cases)
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
	for name in expected_suites:
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


def skipped_cases(group, suite_name, cases=KUNIT_CASES):
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
			if status == 'SKIP' and not not_for(case, driver, cases)]
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
