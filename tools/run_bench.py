# SPDX-License-Identifier: GPL-2.0
"""The bench job of tools/run.py (make bench): the iommufd callbacks'
benchmark at boot, then the DMA benchmark, tools/vfio-dma-bench.c, as user
space; then, in an x86_64 guest, the Rust vfio-pci variant driver against
vfio-pci on QEMU's edu device, tools/vfio-pci-bench.c; the kernel logs of
the boots checked.
"""

import glob
import os
import re
import subprocess
import sys

import uml_user
import x86_guest
from run_common import (BUILD, KERNEL_ENV, KSRC, KUNIT_BUILD, TOP,
			VFIO_UAPI_FOLDER, X86_BUILD, X86_KUNITCONFIGS, Results,
			banner, run, step_toolchain, step_tree)
from run_kunit import kunit_build, kunit_cmd
from run_logcheck import step_kernel_log
from run_user import X86_KERNEL, build_rebind

BENCH_WORK = os.path.join(BUILD, 'bench-work')
DMA_BENCH_SOURCE = os.path.join(TOP, 'tools', 'vfio-dma-bench.c')
# What it includes from the kernel tree: the helpers of the VFIO cdev
# selftests, which the series adds (in the uAPI test's commit)
DMA_BENCH_HEADER = 'vfio_cdev_util.h'
DMA_BENCH_LINE = re.compile(r'vfio_dma_bench: (.*)$')
PCI_BENCH_SOURCE = os.path.join(TOP, 'tools', 'vfio-pci-bench.c')
PCI_BENCH_LINE = re.compile(r'vfio_pci_bench: (.*)$')
# The Rust variant driver's cost against vfio-pci must stay within this
PCI_BENCH_MAX_RATIO = 1.02


def bench(cycles, rounds, dma_iterations, dma_rounds, pci_cycles=200,
	  pci_rounds=9, pci_dmas=3):
	"""Build the kernel, boot it with the benchmark on, print its lines;
	then boot it with tools/vfio-dma-bench.c as user space, the same; then
	the vfio-pci benchmark in an x86_64 guest (pci_bench()), whose ratios
	must be at most PCI_BENCH_MAX_RATIO. Exits non-zero on a failure, a
	ratio above that or a kernel log with problems."""
	step_toolchain()
	step_tree()
	banner('Kernel build')
	res = run(kunit_cmd('build', f'--jobs={os.cpu_count()}'), cwd=KSRC,
		  env=KERNEL_ENV, stdout=subprocess.DEVNULL)
	if res.returncode:
		sys.exit('kernel build failed')
	banner(f'Benchmark: {rounds} rounds of {cycles} attach/replace/detach '
	       'cycles per driver')
	res = run([os.path.join(KUNIT_BUILD, 'linux'), 'mem=1G', 'console=tty',
		   'kunit.filter_glob=none', 'kunit_shutdown=halt',
		   f'vfio_iommufd_bench.cycles={cycles}',
		   f'vfio_iommufd_bench.rounds={rounds}'],
		  capture_output=True, text=True, errors='replace')
	lines = [l.split(': ', 1)[1] for l in res.stdout.splitlines()
		 if l.startswith('vfio_iommufd_bench: ')]
	for line in lines:
		print(f'  {line}')
	if not any(l.startswith('ratio') for l in lines):
		sys.exit('the benchmark printed no ratio')
	os.makedirs(BENCH_WORK, exist_ok=True)
	console = os.path.join(BENCH_WORK, 'iommufd-bench.log')
	with open(console, 'w') as f:
		f.write(res.stdout + res.stderr)

	banner(f'DMA: {dma_rounds} rounds of {dma_iterations} preads of 64 bytes '
	       'per emulated sample and region, from user space')
	try:
		boot, lines = dma_bench(os.path.join(KUNIT_BUILD, 'linux'),
					dma_iterations, dma_rounds)
	except uml_user.Error as e:
		sys.exit(f'DMA benchmark: {e}')
	print(f'  booted in {boot.seconds:.0f} s, console in '
	      f'{os.path.relpath(boot.log, TOP)}')
	for line in lines:
		print(f'  {line}')
	dma_failed = not any(l.startswith('ratio total') for l in lines) or \
		any(l.startswith('error') for l in lines)

	banner(f'vfio-pci: {pci_rounds} rounds of {pci_cycles} attach/replace/'
	       f'detach cycles and {pci_dmas} edu DMA round trips per driver, '
	       'rust_vfio_pci_edu against vfio-pci, in an x86_64 guest')
	results = Results()
	try:
		pci_boot, pci_lines = pci_bench(pci_cycles, pci_rounds, pci_dmas)
		print(f'  booted in {pci_boot.seconds:.0f} s, console in '
		      f'{os.path.relpath(pci_boot.log, TOP)}')
		for line in pci_lines:
			print(f'  {line}')
		pci_ratio_rows(results, pci_lines)
		step_kernel_log(results, pci_boot.log,
				'kernel log (bench: vfio-pci)')
	except uml_user.Error as e:
		results.add('bench: vfio-pci', 0, 1, str(e))
	for log, label in ((console, 'kernel log (bench: iommufd callbacks)'),
			   (boot.log, 'kernel log (bench: DMA)')):
		step_kernel_log(results, log, label)
	results.table()
	if dma_failed:
		sys.exit('the DMA benchmark failed or printed no ratio')
	sys.exit(results.closing_line())


def build_bench(source, work, ksrc, log):
	"""Build the benchmark source statically in work, against the uAPI
	headers of ksrc and the helpers of its VFIO cdev selftests (-I to
	VFIO_UAPI_FOLDER of ksrc, for DMA_BENCH_HEADER) with libvfio's
	objects; its path. Raises uml_user.Error if ksrc lacks the header or
	the program did not build."""
	util = os.path.join(ksrc, VFIO_UAPI_FOLDER)
	if not os.path.isfile(os.path.join(util, DMA_BENCH_HEADER)):
		raise uml_user.Error(
			f'{os.path.join(util, DMA_BENCH_HEADER)} is missing, which '
			f'{os.path.basename(source)} includes: {ksrc} '
			'is not a tree with the series applied (make tree)')
	include = uml_user.install_headers(ksrc, os.path.join(work, 'headers'),
					   log)
	# The header takes libvfio's iommufd helpers: its objects, as the
	# folder's Makefile builds them.
	libvfio = os.path.join(work, 'vfio')
	uml_user.build_selftests(ksrc, include, libvfio, folder=VFIO_UAPI_FOLDER,
				 programs=(), log=log)
	objects = sorted(glob.glob(os.path.join(libvfio, 'libvfio', '**', '*.o'),
				   recursive=True))
	prog = os.path.join(work, os.path.basename(source)[:-2])
	cmd = ['gcc', '-static', '-O2', '-Wall',
	       '-I', os.path.join(ksrc, 'tools', 'include'), '-isystem', include,
	       '-I', util, '-I', os.path.join(util, 'lib', 'include'),
	       '-o', prog, source, *objects, '-luuid']
	with open(log, 'a') as out:
		out.write(f'$ {" ".join(cmd)}\n')
		out.flush()
		res = run(cmd, stdout=out, stderr=subprocess.STDOUT)
	if res.returncode:
		raise uml_user.Error(f'{source} did not build, see {log}')
	return prog


def pci_bench(cycles, rounds, dmas, work=os.path.join(BENCH_WORK, 'pci'),
	      ksrc=KSRC):
	"""Boot the x86_64 kernel (X86_KERNEL, built first if missing) on a
	guest with intel-iommu and the edu device, with tools/vfio-pci-bench.c
	as its user space. Returns the Boot and the program's lines without
	their prefix, plus a line 'error: ...' if it did not exit 0; raises
	uml_user.Error if the kernel or the program did not build."""
	log = os.path.join(work, 'build.log')
	os.makedirs(work, exist_ok=True)
	open(log, 'w').close()
	if not os.path.exists(X86_KERNEL) and not kunit_build(
			X86_BUILD, X86_KUNITCONFIGS, log, arch='x86_64'):
		raise uml_user.Error(f'the x86_64 kernel did not build, see {log}')
	prog = build_bench(PCI_BENCH_SOURCE, work, ksrc, log)
	# The rebind program runs first, a no-op that checks the edu device is
	# on vfio-pci, and is then at /pci-rebind for the benchmark.
	rebind = build_rebind(os.path.join(work, 'pci-rebind'), log)
	rebind = rebind._replace(args=[x86_guest.EDU_BDF, 'vfio-pci'])
	init = uml_user.build_init(os.path.join(work, 'init'), log)
	root = os.path.join(work, 'root')
	uml_user.make_root(root, init, [
		rebind, uml_user.Program(prog, [x86_guest.EDU_BDF, '/pci-rebind',
						str(cycles), str(rounds),
						str(dmas)], timeout=1800)])
	initrd = x86_guest.make_initramfs(root,
					  os.path.join(work, 'initramfs.cpio'))
	boot = x86_guest.boot_qemu(X86_KERNEL, initrd,
				   os.path.join(work, 'console.log'),
				   'intel-iommu', timeout=2400)
	lines = [m.group(1).rstrip() for m in
		 map(PCI_BENCH_LINE.search, boot.log_lines()) if m]
	runs = uml_user.parse_console(boot.log_lines())
	if [r.exit_code for r in runs] != [0, 0]:
		lines.append(f'error: the boot did not run both programs to exit 0 '
			     f'(boot: {"timed out" if boot.timed_out else boot.exit_code}'
			     f', console in {os.path.relpath(boot.log, TOP)})')
	return boot, lines


def pci_ratio_rows(results, lines):
	"""A row per ratio of vfio-pci-bench's lines: passed if at most
	PCI_BENCH_MAX_RATIO."""
	for measure in ('attach', 'dma'):
		found = [l for l in lines if l.startswith(f'ratio {measure} ')]
		ratio = float(found[0].split()[2]) if found else None
		ok = ratio is not None and ratio <= PCI_BENCH_MAX_RATIO
		results.add(f'bench: rust_vfio_pci_edu/vfio-pci {measure} at most '
			    f'{PCI_BENCH_MAX_RATIO}', int(ok), int(not ok),
			    'no ratio' if ratio is None else f'{ratio:.3f}')


def dma_bench(linux, iterations, rounds, work=BENCH_WORK, ksrc=KSRC):
	"""Boot linux with tools/vfio-dma-bench.c as its user space.

	The program is built with build_bench() in work; the boot creates one
	device of each sample driver. Returns the Boot and the program's lines
	without their prefix, plus a line 'error: ...' if it did not exit 0;
	raises uml_user.Error if ksrc lacks the header or the program did not
	build.
	"""
	log = os.path.join(work, 'build.log')
	os.makedirs(work, exist_ok=True)
	open(log, 'w').close()
	prog = build_bench(DMA_BENCH_SOURCE, work, ksrc, log)
	init = uml_user.build_init(os.path.join(work, 'init'), log)
	root = os.path.join(work, 'root')
	uml_user.make_root(root, init, [(prog, ['-n', str(iterations),
						 '-r', str(rounds)])])
	# UML's kernel drives its user space, another host process, through
	# ptrace. On an idle host each switch between the two waits for a
	# sleeping CPU to wake, and a pread takes 64 us instead of 6 us, most
	# of it the same for both drivers; one CPU for both avoids that.
	cpus = os.sched_getaffinity(0)
	os.sched_setaffinity(0, {max(cpus)})
	try:
		boot = uml_user.boot_uml(linux, root,
					 os.path.join(work, 'console.log'),
					 args=['vfio_sample_devices.count=1'],
					 timeout=300)
	finally:
		os.sched_setaffinity(0, cpus)
	lines = [m.group(1).rstrip() for m in
		 map(DMA_BENCH_LINE.search, boot.log_lines()) if m]
	runs = uml_user.parse_console(boot.log_lines())
	if [r.exit_code for r in runs] != [0]:
		lines.append(f'error: vfio-dma-bench did not exit 0 (boot: '
			     f'{"timed out" if boot.timed_out else boot.exit_code}'
			     f', console in {os.path.relpath(boot.log, TOP)})')
	return boot, lines
