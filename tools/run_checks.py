# SPDX-License-Identifier: GPL-2.0
"""The static checks of tools/run.py (the check job): GCC with W=1 and
sparse on the series' C files, the Coccinelle rule, the unit tests of the
tools, kernel-doc and docutils on the touched files, the Rust checks and
compile-fail cases, and the exported series.
"""

import os
import re
import subprocess
import tempfile
import time

import compile_fail
import series_check
import series_core
import uml_user
from run_builds import RUSTC_REPORT, compiler_reports
from run_common import (BUILD, KERNEL_ENV, KSRC, KUNIT_BUILD, TOP,
			X86_KUNITCONFIGS, Progress, banner, make, run)

GCC_BUILD = os.path.join(BUILD, 'gcc-x86_64')
# Files of the series GCC does not build here: UML's (built with clang for
# UML by every other step), vfio-cdx's (arm64 only; built with clang for
# arm64 by 'each commit builds'), and those of user space and Rust.
GCC_SKIPPED = ('tools/', 'rust/', 'arch/x86/um/', 'arch/um/',
	       'drivers/vfio/cdx/')


def gcc_files():
	"""The kernel's C sources and headers the series adds or changes, but
	GCC_SKIPPED's."""
	names = series_core.git('diff', '--name-only', 'base', 'series').split()
	return [n for n in names if n.endswith(('.c', '.h'))
		and not n.startswith(GCC_SKIPPED)]


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


# An ops table with one PASID callback of the two, which the rule of a line
# whose ops have them must report.
COCCI_UNPAIRED = """static const struct vfio_device_ops unpaired_ops = {
	.bind_iommufd = vfio_iommufd_physical_bind,
	.unbind_iommufd = vfio_iommufd_physical_unbind,
	.attach_ioas = vfio_iommufd_physical_attach_ioas,
	.detach_ioas = vfio_iommufd_physical_detach_ioas,
	.pasid_attach_ioas = vfio_iommufd_physical_pasid_attach_ioas,
};
"""


def step_cocci(results):
	"""The Coccinelle rule finds vfio-cdx on each line's base, nothing on
	its tip (the 6.12.y line, which does not take the rule, is checked
	with the mainline's); where the line's ops have the PASID callbacks
	(7.3), it reports an ops table with one of the pair, and its advice
	names the vfio-pci core drivers without them and neither vfio-pci nor
	a sample."""
	for line in series_core.LINES:
		banner('Coccinelle: vfio_device_ops with incomplete iommufd ops, '
		       f'the {line.name} line')
		base = series_check.cocci_report('base', line)
		tip = series_check.cocci_report('series', line)
		pasid = has_pasid_ops(line)
		if not pasid:
			# The rule's advice is on the PASID callbacks, which the
			# line's ops do not have.
			print('  no PASID callbacks in the line\'s vfio_device_ops: '
			      'the rule\'s advice on them is left out')
			base, tip = ([l for l in r if series_check.COCCI_ADVISORY
				      not in l] for r in (base, tip))
		for rev, lines in (('pristine base', base), ('patched tree', tip)):
			print(f'  {rev}: {len(lines)} report(s)')
			for text in lines:
				print(f'    {text}')
		advice = [l for l in tip if series_check.COCCI_ADVISORY in l]
		tally = series_core.Tally()
		tally.result(any(l.startswith('drivers/vfio/cdx/main.c:') and
				 'vfio_cdx_ops' in l and 'detach_ioas' in l
				 for l in base),
			     'reports vfio_cdx_ops on the pristine base')
		tally.result(len(advice) == len(tip),
			     'reports nothing on the patched tree'
			     + (f' but its {len(advice)} pieces of advice'
				if advice else ''))
		if pasid:
			cocci_pasid(tally, series_check.cocci_rule(line), advice)
		results.add('coccinelle' if line is series_core.PRIMARY else
			    f'{line.name}: coccinelle', tally.passed, tally.failed)


def has_pasid_ops(line):
	"""Whether the line's vfio_device_ops has the PASID callbacks (7.3
	has, 6.12 has not)."""
	return 'pasid_attach_ioas' in series_core.git(
		'show', 'base:include/linux/vfio.h', cwd=line.ksrc)


def cocci_pasid(tally, rule, advice):
	"""The PASID half of a line's rule (its text): it reports an ops table with
	one PASID callback of the two, and advises on vfio-pci core drivers
	(drivers/vfio/pci/*/) only, not on vfio-pci or the samples, whose ops
	have both."""
	unpaired = series_check.run_cocci(rule, {'unpaired.c': COCCI_UNPAIRED})
	for text in unpaired:
		print(f'  an ops table with pasid_attach_ioas alone: {text}')
	tally.result(any('unpaired_ops sets pasid_attach_ioas but not '
			 'pasid_detach_ioas' in l for l in unpaired),
		     'reports an ops table with one PASID callback')
	tally.result(bool(advice) and all(
		re.match(r'drivers/vfio/pci/[^/]+/', l) for l in advice),
		     f'advises on {len(advice)} ops tables of variant drivers, '
		     'none of vfio-pci or the samples')


def step_tool_tests(results):
	"""The log check and the selftest comparison are only worth something
	if they can fail."""
	banner('Unit tests of the kernel log check and the user space tools')
	import unittest
	for name, label in (('test_run_logcheck', 'log check unit tests'),
			    ('test_run_kunit', 'KUnit count unit tests'),
			    ('test_run_user', 'user space count unit tests'),
			    ('test_run_user_boots', 'user space boot unit tests'),
			    ('test_run_builds', 'build unit tests'),
			    ('test_run_mainline', 'mainline UML unit tests'),
			    ('test_run_stable', '6.12.y stable line unit tests'),
			    ('test_run_sanitizers',
			     'memory-checking kernel unit tests'),
			    ('test_run_common', 'closing line unit tests'),
			    ('test_series', 'series unit tests'),
			    ('test_uml_user', 'uml_user unit tests'),
			    ('test_compile_fail', 'compile-fail unit tests'),
			    ('test_x86_guest', 'x86_guest unit tests'),
			    ('test_run_nested',
			     'make nested and bench unit tests')):
		suite = unittest.defaultTestLoader.loadTestsFromName(name)
		outcome = unittest.TextTestRunner(verbosity=1).run(suite)
		# A skipped test is no pass, nor is an expected failure.
		failed = len(outcome.failures) + len(outcome.errors) + \
			len(outcome.skipped) + len(outcome.expectedFailures) + \
			len(outcome.unexpectedSuccesses)
		results.add(label, outcome.testsRun - failed, failed)


def doc_warnings(rev, path):
	"""Warnings of kernel-doc -Wall (C) or docutils (reST) on rev:path."""
	text = series_core.git('show', f'{rev}:{path}', raw=True, check=False)
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
	paths = series_core.git('diff', '--name-only', '--diff-filter=AM',
				'base', 'series').splitlines()
	paths = [p for p in paths if os.path.splitext(p)[1] in ('.c', '.h', '.rst')]
	tally = series_core.Tally()
	for path in paths:
		before = doc_warnings('base', path)
		after = doc_warnings('series', path)
		tally.result(len(after) <= len(before),
			     f'{path}: {len(after)} warnings ({len(before)} on the '
			     'base)', ''.join(f'    {l}\n' for l in after))
	results.add('documentation', tally.passed, tally.failed)


# The project's Rust files in the kernel tree, and its Rust samples.
RUST_ABSTRACTIONS = ['rust/kernel/vfio.rs', 'rust/kernel/vfio/pci.rs']
RUST_SAMPLES = ['samples/rust/rust_vfio_phys.rs',
		'samples/rust/rust_vfio_emul.rs',
		'samples/rust/rust_vfio_pci_edu.rs']
RUST_FILES = RUST_ABSTRACTIONS + RUST_SAMPLES


def step_rust(results):
	"""rustfmt, clippy and rustdoc clean; no unsafe in the samples."""
	banner('Rust: rustfmtcheck, CLIPPY=1, rustdoc, unsafe in samples')
	tally = series_core.Tally()
	result = tally.result

	result(make(KUNIT_BUILD, 'rustfmtcheck',
		    log=os.path.join(BUILD, 'rust-rustfmt.log')),
	       'make LLVM=-19 rustfmtcheck')

	def without_warnings(what, *args):
		"""make *args; it must succeed and print no rustc/clippy warning."""
		log = os.path.join(BUILD, f'rust-{what}.log')
		if os.path.exists(log):
			os.unlink(log)
		ok = make(KUNIT_BUILD, *args, log=log)
		with open(log) as f:
			warnings = [l for l in f if RUSTC_REPORT.match(l)]
		result(ok and not warnings, f'make LLVM=-19 {" ".join(args)}: '
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

	Each case of rust-bindings/compile-fail/ is compiled with the UML
	build's recorded command of a Rust sample, after a control (the
	sample itself) that must compile; see tools/compile_fail.py.
	"""
	banner('Rust: compile-fail cases '
	       f'({os.path.relpath(compile_fail.CASES_DIR, TOP)}/)')
	try:
		control, cases = compile_fail.run_cases(
			KSRC, KUNIT_BUILD,
			work=os.path.join(BUILD, 'compile-fail-work'),
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
	"""Each line's submissions, on the line's own base."""
	for line in series_core.LINES:
		banner(f'Series, the {line.name} line: export, git am on '
		       f'{line.pkg} {line.version}, checkpatch --strict')
		passed, failed = series_check.check_series(line)
		results.add('series' if line is series_core.PRIMARY else
			    f'{line.name}: series', passed, failed)
