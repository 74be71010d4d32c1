# SPDX-License-Identifier: GPL-2.0
"""The user space boots of tools/run.py: the static test programs of a
tree, the UML boots and the x86_64 guests that run them, and how their
results are counted: the uAPI, stress and fault injection tests of the
device cdev, and iommufd's selftests against a kernel without the
fixes.
"""

import os
import re
import shutil

import series_core
import uml_user
import x86_guest
from run_common import (BASE_KUNITCONFIGS, BUILD, KSRC, TOP,
			VFIO_FAIL_NTH_PROGRAM, VFIO_STRESS_PROGRAM,
			VFIO_UAPI_FOLDER, VFIO_UAPI_PROGRAM, VFIO_UPSTREAM_ARGS,
			VFIO_UPSTREAM_EXPECTED, VFIO_UPSTREAM_FAULTS,
			VFIO_UPSTREAM_PROGRAMS, X86_BUILD, X86_CONFIG, banner)
from run_kunit import kunit_build
from run_logcheck import step_kernel_log
from run_matrix import (DRIVER_KINDS, UAPI_RULE_CASES, UAPI_TESTS,
			X86_DRIVER_KINDS, print_uapi_matrix,
			print_vfio_upstream_matrix)

# User space under UML: headers, test programs, roots and console logs.
USER_BUILD = os.path.join(BUILD, 'uml-user')
# User space on x86_64: q35 guests with a virtual IOMMU and the edu device
# on vfio-pci, booting the x86_64 KUnit build's kernel; iommufd's selftests'
# failures expected there.
X86_KERNEL = os.path.join(X86_BUILD, 'arch', 'x86', 'boot', 'bzImage')
X86_USER_BUILD = os.path.join(BUILD, 'x86_64-user')
X86_EXPECTED = os.path.join(TOP, 'linux', 'iommufd-selftests-x86_64.expected')
# The pristine base for x86_64, built only if one of iommufd's selftests
# fails in a guest and is not listed in X86_EXPECTED, from a git worktree
# of the tree at tag 'base'.
X86_PRISTINE_SRC = os.path.join(BUILD, 'pristine-src')
X86_PRISTINE_BUILD = os.path.join(BUILD, 'pristine-x86_64')
# The Rust vfio-pci variant driver for the edu device
# (samples/rust/rust_vfio_pci_edu.rs), which each guest boots a second time
# for: tools/pci-rebind.c binds the device to it through driver_override,
# then the same VFIO tests run on it as on vfio-pci, in their variant of
# its own (each variant requires the device bound to its driver).
RUST_VARIANT = 'rust_vfio_pci_edu'
RUST_VARIANT_TESTS = 'rust_vfio_pci'
REBIND_SOURCE = os.path.join(TOP, 'tools', 'pci-rebind.c')
# The line each test of VFIO_FAIL_NTH_PROGRAM logs (see run_common).
FAIL_NTH_SITES = re.compile(r':(\w+):([\w-]+): (\d+) fault sites\b.*; '
			    r'([\d.]+) s$')
# Where there is no edu device (under UML) the VFIO test programs run
# without their variants on it, rather than count their skips.
VFIO_UML_ARGS = ['-V', 'vfio_pci', '-V', 'rust_vfio_pci']


def build_programs(ksrc, work, log, vfio, vfio_args=VFIO_UML_ARGS,
		   vfio_env=None, upstream=False):
	"""Static test programs of ksrc, in the order a boot runs them, as
	uml_user.make_root() takes them: if vfio, the uAPI, stress and fault
	injection tests of the device cdev, each with vfio_args, then if
	upstream VFIO_UPSTREAM_PROGRAMS with VFIO_UPSTREAM_ARGS, those of
	VFIO_UPSTREAM_FAULTS with the init's 'iommu-faults', all of them with
	the environment vfio_env; iommufd's selftests."""
	include = uml_user.install_headers(ksrc, os.path.join(work, 'headers'),
					   log)
	iommu = uml_user.build_selftests(ksrc, include,
					 os.path.join(work, 'iommu'), log=log)
	programs = [iommu[name] for name in uml_user.IOMMU_PROGRAMS]
	if vfio:
		names = (VFIO_UAPI_PROGRAM, VFIO_STRESS_PROGRAM,
			 VFIO_FAIL_NTH_PROGRAM)
		theirs = VFIO_UPSTREAM_PROGRAMS if upstream else ()
		built = uml_user.build_selftests(
			ksrc, include, os.path.join(work, 'vfio'),
			folder=VFIO_UAPI_FOLDER, programs=names + theirs, log=log)
		env = dict(vfio_env or {})
		programs[0:0] = [uml_user.Program(built[name], list(vfio_args),
						  env=env) for name in names] + \
			[uml_user.Program(
				built[name], list(VFIO_UPSTREAM_ARGS.get(name, [])),
				env=env, words=('iommu-faults',)
				if name in VFIO_UPSTREAM_FAULTS else ())
			 for name in theirs]
	return programs


def program_path(program):
	"""The path of a program as build_programs() gives it: a path, or a
	uml_user.Program."""
	return program[0] if isinstance(program, tuple) else program


def program_name(program):
	return os.path.basename(program_path(program))


def boot_programs(linux, work, programs, args, log, files=()):
	"""Boot linux with programs as user space, and files (paths) copied
	to the root beside them; the uml_user.Boot."""
	init = uml_user.build_init(os.path.join(work, 'init'), log)
	uml_user.make_root(os.path.join(work, 'root'), init, programs)
	for path in files:
		shutil.copy(path, os.path.join(work, 'root'))
	boot = uml_user.boot_uml(linux, os.path.join(work, 'root'),
				 os.path.join(work, 'console.log'), args=args)
	print(f'  booted {os.path.relpath(linux, TOP)}: {boot.seconds:.0f} s, '
	      f'{"timed out" if boot.timed_out else f"exit {boot.exit_code}"}, '
	      f'console in {os.path.relpath(boot.log, TOP)}')
	return boot


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


def step_uapi_results(results, programs, prefix='', kinds=DRIVER_KINDS,
		      tests=UAPI_TESTS, rule_cases=UAPI_RULE_CASES):
	"""Count the uAPI test's results; a test that did not pass fails (an
	XFAIL or XPASS too). Then the matrix: each rule that applies to a
	driver of kinds must have rule_cases' number of tests, tests giving
	each test's rule."""
	result = programs.get(VFIO_UAPI_PROGRAM)
	matrix = result and print_uapi_matrix(
		result, programs.get(VFIO_STRESS_PROGRAM), kinds=kinds,
		title=f'{prefix}uAPI matrix', tests=tests, rule_cases=rule_cases)
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


def passed_only_on(tip, other, names=uml_user.IOMMU_PROGRAMS):
	"""The tests of programs names that pass on the kernel tip and not on
	other (a kernel without the fixes), 'program test' each. A program
	must have run on both: one that did not run on other compares
	nothing, and gains nothing."""
	return [f'{name} {test}' for name in names
		if name in tip and name in other
		for test, status in tip[name].tests.items()
		if status in uml_user.PASSED and other[name].tests.get(
			test, uml_user.MISSING) not in uml_user.PASSED]


def iommufd_rows(results, patched, pristine, expected, prefix, base_label):
	"""Count iommufd's selftests on patched against the base's
	(pristine) and the expected failures (the file expected): a row per
	program, each with its regressions, unlisted failures, stale entries
	and incomplete runs; a row for the base's incomplete runs, which
	compare nothing. Returns the comparison."""
	patched = {n: r for n, r in patched.items()
		   if n in uml_user.IOMMU_PROGRAMS}
	comparison = uml_user.compare(pristine, patched,
				      uml_user.read_expected(expected))
	for line in uml_user.format_comparison(comparison, base_label):
		print(line)
	for name in uml_user.IOMMU_PROGRAMS:
		result = patched.get(name)
		if result is None:
			results.add(f'{prefix}selftest: {name}', 0, 1, 'did not run')
			continue
		passed = result.count(*uml_user.PASSED)
		found = [f for f in comparison.regressions + comparison.unexpected
			 + comparison.stale if name in f.split(':')[0].split()]
		found += [f for f in comparison.incomplete
			  if re.match(rf'patched: {name}\b(?!_)', f)]
		listed = len(result.tests) - passed
		results.add(f'{prefix}selftest: {name}', passed, len(found),
			    f'({listed} listed failures not counted)'
			    if listed else '')
	base_runs = [f for f in comparison.incomplete
		     if f.startswith('pristine: ')]
	if base_runs:
		results.add(f'{prefix}selftests: {base_label}', 0, len(base_runs),
			    '; '.join(base_runs))
	return comparison


def read_upstream_expected(path=None):
	"""The failures of upstream's VFIO selftests expected in the guests,
	from path (VFIO_UPSTREAM_EXPECTED unless told): {(program, test):
	(guests, reason)}. One line per test, '<program> <test> <guests>
	<reason...>', guests being x86_guest.IOMMUS keys joined by commas;
	lines starting with '#' are comments."""
	path = path or VFIO_UPSTREAM_EXPECTED
	expected = {}
	for n, fields in uml_user.expected_lines(path):
		guests = fields[2].split(',') if len(fields) == 4 else []
		if not guests or not set(guests) <= set(x86_guest.IOMMUS):
			raise ValueError(f'{path}:{n}: want "<program> <test> '
					 '<guest>[,<guest>] <reason>"')
		expected[(fields[0], fields[1])] = (guests, fields[3])
	return expected


def upstream_rows(results, ran, iommu, expected, prefix):
	"""Count upstream's VFIO selftests in the guest with iommu (ran: its
	results by program) against expected (read_upstream_expected()'s): a
	row per program. A test that does not pass fails unless listed for
	that guest (a skip is no pass); a listed test that passes or does not
	exist, and a program that did not run to its end, fail too. Returns
	{program: (passed, tests, listed)} for the matrix."""
	cells = {}
	for name in VFIO_UPSTREAM_PROGRAMS:
		label = f'{prefix}vfio selftest: {name}'
		result = ran.get(name)
		if result is None:
			results.add(label, 0, 1, 'did not run')
			continue
		listed = {t for (prog, t), (guests, _) in expected.items()
			  if prog == name and iommu in guests}
		passed = result.count(*uml_user.PASSED)
		found = [f'{st}: {t}' for t, st in result.tests.items()
			 if st not in uml_user.PASSED and t not in listed]
		found += [f'listed but {result.tests[t]}: {t}'
			  if t in result.tests else f'listed, no such test: {t}'
			  for t in sorted(listed)
			  if result.tests.get(t) in uml_user.PASSED + (None,)]
		problem = uml_user.incomplete_reason('patched', result)
		if problem:
			found.append(problem)
		print(f'\n  {name} ({iommu}): {passed} of {len(result.tests)} '
		      f'tests passed, {len(listed)} listed in '
		      f'{os.path.relpath(VFIO_UPSTREAM_EXPECTED, TOP)}')
		for line in found:
			print(f'  {line}')
		results.add(label, passed, len(found),
			    '; '.join(found) or (f'({len(listed)} listed failures '
						 'not counted)' if listed else ''))
		cells[name] = (passed, len(result.tests), len(listed))
	return cells


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


def build_rebind(out, log):
	"""Compile tools/pci-rebind.c into the static binary out; returns
	a Program that binds the edu device to RUST_VARIANT."""
	return uml_user.Program(uml_user.build_static(REBIND_SOURCE, out, log),
				[x86_guest.EDU_BDF, RUST_VARIANT])


def rust_variant_rows(results, work, vfio, upstream, rebind, iommu,
		      upstream_expected, log):
	"""Boot the guest with iommu again, the edu device bound to the Rust
	variant driver by rebind before the VFIO programs (vfio: the uAPI,
	stress and fault injection tests; upstream: upstream's selftests) run
	on it; their rows, labelled with the guest and the driver. Returns
	upstream's cells for the matrix, or None if the boot failed."""
	label = f'x86_64 {iommu} {RUST_VARIANT}: '
	try:
		boot = x86_boot(work, X86_KERNEL, [rebind] + vfio + upstream,
				iommu, log)
	except uml_user.Error as e:
		results.add(f'{label}user space', 0, 1, str(e))
		return None
	ran = uml_user.results_by_program(boot.log_lines())
	rebound = ran.get(os.path.basename(rebind.path))
	bound = rebound is not None and rebound.exit_code == 0
	results.add(f'{label}bound through driver_override', int(bound),
		    int(not bound), '' if bound else
		    'pci-rebind failed: the tests would not run on it')
	step_uapi_results(results, ran, label, {'rust-vfio-pci': 'pci'})
	step_stress_results(results, ran, label)
	step_fail_nth_results(results, ran, boot.log_lines(), label)
	cells = upstream_rows(results, ran, iommu, upstream_expected, label)
	step_kernel_log(results, boot.log,
			f'kernel log (x86_64 {iommu}, {RUST_VARIANT})')
	return cells


def all_listed(patched, expected):
	"""Whether every test of iommufd's selftests that did not pass in the
	guests (patched: {guest: results}) is one of the expected failures
	(read_expected()'s), each program having run to its end."""
	return all(name in ran and ran[name].count(*uml_user.PASSED) +
		   sum((name, t) in expected for t, st in ran[name].tests.items()
		       if st not in uml_user.PASSED) == len(ran[name].tests)
		   and not uml_user.incomplete_reason('patched', ran[name])
		   for ran in patched.values() for name in uml_user.IOMMU_PROGRAMS)


def pristine_x86(log):
	"""The pristine base built for x86_64 in X86_PRISTINE_BUILD, from
	X86_PRISTINE_SRC (a git worktree of the tree at tag 'base', so the
	tree's files keep their time stamps): that tree and its kernel image.
	Raises uml_user.Error if it does not build."""
	series_core.git('worktree', 'prune')
	if not os.path.isdir(X86_PRISTINE_SRC):
		series_core.git('worktree', 'add', '--detach', X86_PRISTINE_SRC,
				'base')
	series_core.git('reset', '-q', '--hard', 'base', cwd=X86_PRISTINE_SRC)
	if not kunit_build(X86_PRISTINE_BUILD, BASE_KUNITCONFIGS + [X86_CONFIG],
			   log, arch='x86_64', ksrc=X86_PRISTINE_SRC):
		raise uml_user.Error('the pristine base for x86_64 did not build, '
				     f'see {log}')
	return X86_PRISTINE_SRC, os.path.join(X86_PRISTINE_BUILD, 'arch', 'x86',
					      'boot', 'bzImage')


def step_x86_user(results):
	"""User space on the x86_64 kernel, a guest per virtual IOMMU: the
	uAPI, stress (two vCPUs) and fault injection tests on vfio-pci with the
	edu device, the uAPI and stress tests on the samples (the mock IOMMU
	shares the guest with either IOMMU: iommufd's mock devices have a
	firmware node of their own), and iommufd's selftests, held against
	X86_EXPECTED; the pristine base is built for x86_64 and its selftests
	compared only if a failure is not listed there."""
	banner('User space on x86_64 (q35 under TCG): vfio-pci and the edu '
	       'device behind intel-iommu and virtio-iommu, the samples, '
	       'iommufd\'s selftests')
	work = X86_USER_BUILD
	os.makedirs(work, exist_ok=True)
	log = os.path.join(work, 'build.log')
	open(log, 'w').close()
	try:
		programs = build_programs(
			KSRC, os.path.join(work, 'programs'), log, vfio=True,
			vfio_args=('-V', RUST_VARIANT_TESTS), upstream=True,
			vfio_env={'VFIO_SELFTESTS_BDF': x86_guest.EDU_BDF})
		upstream_expected = read_upstream_expected()
		rebind = build_rebind(os.path.join(work, 'programs',
						   'pci-rebind'), log)
	except (uml_user.Error, ValueError, OSError) as e:
		results.add('x86_64: user space', 0, 1, str(e))
		return
	# The uAPI, stress and fault injection tests, upstream's VFIO
	# selftests, then iommufd's selftests (build_programs() order). The
	# samples' fault injection runs under UML.
	uapi, stress, fail_nth = programs[:3]
	upstream = programs[3:3 + len(VFIO_UPSTREAM_PROGRAMS)]
	selftests = programs[-len(uml_user.IOMMU_PROGRAMS):]
	fail_nth = fail_nth._replace(args=['-v', 'vfio_pci'])
	patched, upstream_cells = {}, {}
	for iommu in x86_guest.IOMMUS:
		label = f'x86_64 {iommu}: '
		guest_work = os.path.join(work, iommu)
		os.makedirs(guest_work, exist_ok=True)
		guest = [uapi, stress, fail_nth] + upstream + selftests
		try:
			boot = x86_boot(guest_work, X86_KERNEL, guest, iommu, log,
					['vfio_sample_devices.count=1'])
		except uml_user.Error as e:
			results.add(f'{label}user space', 0, 1, str(e))
			patched[iommu] = {}	# its selftests did not run
			continue
		ran = uml_user.results_by_program(boot.log_lines())
		step_uapi_results(results, ran, label, X86_DRIVER_KINDS)
		step_stress_results(results, ran, label)
		step_fail_nth_results(results, ran, boot.log_lines(), label)
		upstream_cells[iommu] = upstream_rows(
			results, ran, iommu, upstream_expected, label)
		patched[iommu] = ran
		step_kernel_log(results, boot.log, f'kernel log (x86_64 {iommu})')

		# The Rust variant driver: the edu device's tests only.
		variant_work = os.path.join(guest_work, RUST_VARIANT)
		os.makedirs(variant_work, exist_ok=True)
		on_edu = [p._replace(args=['-v', RUST_VARIANT_TESTS])
			  for p in (uapi, stress, fail_nth)]
		cells = rust_variant_rows(results, variant_work, on_edu,
					  upstream, rebind, iommu,
					  upstream_expected, log)
		if cells is not None:
			upstream_cells[f'{iommu} rust'] = cells

	for line in print_vfio_upstream_matrix(upstream_cells,
					       VFIO_UPSTREAM_PROGRAMS):
		print(line)

	pristine, boot, base_src = {}, None, None
	base_label = 'pristine base'
	if all_listed(patched, uml_user.read_expected(X86_EXPECTED)):
		# What the base would show: whether a listed failure fails
		# there too. The UML run holds the same tests against its
		# pristine base; here a failure that is not listed builds it.
		print('\n  every selftest passed on the patched kernel or is '
		      f'listed in {os.path.relpath(X86_EXPECTED, TOP)}: the '
		      'pristine base for x86_64 is not built')
	else:
		try:
			base_work = os.path.join(work, 'pristine')
			os.makedirs(base_work, exist_ok=True)
			base_src, base_kernel = pristine_x86(log)
			programs = build_programs(base_src, base_work, log,
						  vfio=False)
			boot = x86_boot(base_work, base_kernel, programs,
					'virtio-iommu', log)
			pristine = uml_user.results_by_program(boot.log_lines())
		except uml_user.Error as e:
			results.add(f'x86_64: selftests: {base_label}', 0, 1,
				    str(e))
	for iommu, ran in patched.items():
		print(f'\n  iommufd selftests on x86_64 with {iommu}, the '
		      f'{base_label} (with virtio-iommu) and the patched kernel '
		      f'(failures listed in {os.path.relpath(X86_EXPECTED, TOP)} '
		      'with their reasons are not counted)')
		iommufd_rows(results, ran, pristine, X86_EXPECTED,
			     f'x86_64 {iommu}: ', base_label)
	if boot:
		step_kernel_log(results, boot.log,
				f'kernel log (x86_64, {base_label})', base_src)
