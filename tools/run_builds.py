# SPDX-License-Identifier: GPL-2.0
"""The kernel builds of tools/run.py besides kunit.py's: vfio-cdx for
arm64, which files a build reads, and the project's tristate symbols built
in, as modules and off in combinations (Kbuild); how a compiler's reports
are read.
"""

import os
import re
import shutil
import subprocess
import time

import run_bench
import run_logcheck
import run_user
import series_core
import uml_user
from run_common import (BUILD, KERNEL_ENV, KSRC, KUNIT_BUILD, MAKE_OPTIONS,
			TOP, banner, make, run)

# vfio-cdx, built for arm64 by build_cdx_arm64().
ARM64_BUILD = os.path.join(BUILD, 'arm64-cdx')
ARM64_CONFIG = os.path.join(TOP, 'linux', 'cdx-arm64.config')


def build_cdx_arm64(log, build_dir=ARM64_BUILD, ksrc=KSRC,
		    make_options=MAKE_OPTIONS, env=KERNEL_ENV):
	"""Compile drivers/vfio/cdx/ of the tree ksrc for arm64 in build_dir,
	warnings as errors.

	CDX is arm64-only; on 6.12 it has no COMPILE_TEST, so UML cannot
	build it.
	"""
	obj = os.path.join(build_dir, 'drivers', 'vfio', 'cdx', 'main.o')
	if os.path.exists(obj):
		os.unlink(obj)
	opts = dict(arch='arm64', log=log, ksrc=ksrc, make_options=make_options,
		    env=env)
	return make(build_dir, f'KCONFIG_ALLCONFIG={ARM64_CONFIG}',
		    'allnoconfig', **opts) and \
		make(build_dir, 'KCFLAGS=-Werror', 'drivers/vfio/cdx/',
		     **opts) and os.path.exists(obj)


def cdx_inputs(build_dir=ARM64_BUILD, ksrc=KSRC):
	"""The tree's files the last arm64 build of drivers/vfio/cdx/main.o
	read, from its .cmd file (empty if there is none)."""
	cmd = os.path.join(build_dir, 'drivers', 'vfio', 'cdx', '.main.o.cmd')
	if not os.path.exists(cmd):
		return set()
	with open(cmd) as f:
		paths = re.findall(r'(?:^|\s)' + re.escape(ksrc) + r'/(\S+)',
				   f.read())
	return set(paths)


def cdx_rebuild_needed(names, build_dir=ARM64_BUILD, ksrc=KSRC):
	"""Whether a commit changing the tree's files names may change the
	arm64 build of vfio-cdx: it changes a file that build read, or a
	Kconfig or Makefile (which may change what it reads)."""
	inputs = cdx_inputs(build_dir, ksrc)
	return not inputs or any(
		n in inputs or os.path.basename(n).startswith(('Kconfig',
							      'Makefile'))
		for n in names)


# Files of the tree no kernel build reads: documentation, user space tools
# and their tests, Coccinelle rules, the maintainers file.
NOT_BUILT = ('Documentation/', 'tools/', 'scripts/coccinelle/', 'MAINTAINERS')


def any_built(names):
	"""Whether any of the tree's files names may be read by a build."""
	return any(not n.startswith(NOT_BUILT) for n in names)


def builds_read(commit):
	"""Whether commit changes a file a kernel build may read."""
	return any_built(series_core.git('diff', '--name-only', f'{commit}^',
					 commit).split())


# A rustc or clippy report: 'warning: TEXT', 'error[E0425]: TEXT'.
RUSTC_REPORT = re.compile(r'(warning|error)(\[|:)')
# A compiler's or sparse's report: 'FILE:LINE[:COL]: warning|error: TEXT'.
COMPILER_REPORT = re.compile(r'^(?:\.\./)*(\S+?):(\d+):(?:\d+:)? '
			     r'(warning|error): (.*)$')


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
	'SAMPLE_RUST_VFIO_PCI_EDU': ['samples/rust/rust_vfio_pci_edu.o'],
	'VFIO_RUST_UNLOAD_TEST': ['drivers/vfio/tests/vfio_rust_unload_test.o'],
}
# Symbols that can only be a module ('depends on m'): a combination that
# does not name one asks for 'm'.
KBUILD_MODULE_ONLY = ('VFIO_RUST_UNLOAD_TEST',)
# Each combination: what it covers, then the symbols' values ('y', 'm' or
# 'n'; a symbol not named stays 'y', or 'm' if KBUILD_MODULE_ONLY). Together
# they hold every value of every symbol, and each case the code and the
# Makefiles tell apart: a test
# or sample built in or a module (the Rust rows of the suite, the bench and
# the devices module need both sides built in), drivers/vfio/tests/ with
# and without VFIO_KUNIT_TEST, and each sample without the other.
KBUILD_COMBINATIONS = (
	('every test and sample a module', dict.fromkeys(KBUILD_SYMBOLS, 'm')),
	('the tests modules, the samples built in',
	 dict(VFIO_KUNIT_TEST='m', VFIO_IOMMUFD_KUNIT_TEST='m',
	      VFIO_IOMMUFD_BENCH='m')),
	('the Rust samples modules, the rest built in',
	 dict(SAMPLE_RUST_VFIO='m', SAMPLE_RUST_VFIO_PCI_EDU='m')),
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
# The combination whose kernel boots for the unload test (unload_test()):
# every test and sample a module.
UNLOAD_COMBINATION = 0
UNLOAD_SOURCE = os.path.join(TOP, 'tools', 'vfio-unload-test.c')
UNLOAD_WORK = os.path.join(BUILD, 'unload-work')
# Its kernel and module, copied aside before the next combination rebuilds
# them.
UNLOAD_LINUX = os.path.join(BUILD, 'vfio-unload-linux')
UNLOAD_KO = os.path.join(BUILD, 'vfio_rust_unload_test.ko')
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
	files = set(series_core.git('diff', '--name-only', 'base',
				    'series').split())
	tally = series_core.Tally()
	unload_ko = None
	for index, (what, asked) in enumerate(KBUILD_COMBINATIONS):
		values = kbuild_values(asked)
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
		if index == UNLOAD_COMBINATION and ok and not problems:
			unload_ko = UNLOAD_KO
			shutil.copy(kbuild_module(KBUILD_BUILD, KBUILD_SYMBOLS[
				'VFIO_RUST_UNLOAD_TEST'][0]), unload_ko)
			shutil.copy(os.path.join(KBUILD_BUILD, 'linux'),
				    UNLOAD_LINUX)
	results.add('kbuild combinations', tally.passed, tally.failed)
	unload_test(results, unload_ko)


def kbuild_values(asked):
	"""The value of each of KBUILD_SYMBOLS in a combination that asks
	for asked ({symbol: value})."""
	values = {sym: 'm' if sym in KBUILD_MODULE_ONLY else 'y'
		  for sym in KBUILD_SYMBOLS}
	values.update(asked)
	return values


def unload_test(results, ko, linux=UNLOAD_LINUX, work=UNLOAD_WORK):
	"""Unloading a Rust VFIO driver while its device is used: boot the
	UML kernel linux of UNLOAD_COMBINATION with tools/vfio-unload-test.c
	and the module ko (None: the combination did not build it), one row
	for its tests and one for the kernel's log. step_kbuild() copies both
	aside before the next combination rebuilds them.
	"""
	banner('The unload test: a Rust VFIO driver\'s module unloaded while '
	       'its device is used')
	label = 'unload test (UML, Rust driver module)'
	if ko is None:
		results.add(label, 0, 1, 'the module was not built')
		return
	shutil.rmtree(work, ignore_errors=True)
	os.makedirs(work)
	log = os.path.join(work, 'build.log')
	try:
		prog = run_bench.build_bench(UNLOAD_SOURCE, work, KSRC, log)
	except uml_user.Error as e:
		results.add(label, 0, 1, str(e))
		return
	program = uml_user.Program(prog, args=(f'/{os.path.basename(ko)}',),
				   timeout=300)
	boot = run_user.boot_programs(linux, work, [program], [], log,
				      files=[ko])
	programs = uml_user.results_by_program(boot.log_lines())
	run_user.count_program(results, programs, os.path.basename(prog), label)
	run_logcheck.step_kernel_log(results, boot.log,
				     'unload test: kernel log')
