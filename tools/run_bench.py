# SPDX-License-Identifier: GPL-2.0
"""The bench job of tools/run.py (make bench): the iommufd callbacks'
benchmark at boot, then the DMA benchmark, tools/vfio-dma-bench.c, as user
space; the kernel logs of both boots checked.
"""

import glob
import os
import re
import subprocess
import sys

import uml_user
from run_common import (BUILD, KERNEL_ENV, KSRC, KUNIT_BUILD, TOP,
			VFIO_UAPI_FOLDER, Results, banner, run, step_toolchain,
			step_tree)
from run_kunit import kunit_cmd
from run_logcheck import step_kernel_log

BENCH_WORK = os.path.join(BUILD, 'bench-work')
DMA_BENCH_SOURCE = os.path.join(TOP, 'tools', 'vfio-dma-bench.c')
# What it includes from the kernel tree: the helpers of the VFIO cdev
# selftests, which the series adds (in the uAPI test's commit)
DMA_BENCH_HEADER = 'vfio_cdev_util.h'
DMA_BENCH_LINE = re.compile(r'vfio_dma_bench: (.*)$')


def bench(cycles, rounds, dma_iterations, dma_rounds):
	"""Build the kernel, boot it with the benchmark on, print its lines;
	then boot it with tools/vfio-dma-bench.c as user space, the same."""
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
	results = Results()
	for log, label in ((console, 'kernel log (bench: iommufd callbacks)'),
			   (boot.log, 'kernel log (bench: DMA)')):
		step_kernel_log(results, log, label)
	results.table()
	if not any(l.startswith('ratio total') for l in lines) or \
			any(l.startswith('error') for l in lines):
		sys.exit('the DMA benchmark failed or printed no ratio')
	if results.closing_line():
		sys.exit('the kernel logs of the benchmark show problems')


def dma_bench(linux, iterations, rounds, work=BENCH_WORK, ksrc=KSRC):
	"""Boot linux with tools/vfio-dma-bench.c as its user space.

	The program is built statically in work against the uAPI headers of
	ksrc and the helpers of its VFIO cdev selftests (-I to
	VFIO_UAPI_FOLDER of ksrc, for DMA_BENCH_HEADER); the boot creates one
	device of each sample driver. Returns the Boot and the program's lines
	without their prefix, plus a line 'error: ...' if it did not exit 0;
	raises uml_user.Error if ksrc lacks the header or the program did not
	build.
	"""
	util = os.path.join(ksrc, VFIO_UAPI_FOLDER)
	if not os.path.isfile(os.path.join(util, DMA_BENCH_HEADER)):
		raise uml_user.Error(
			f'{os.path.join(util, DMA_BENCH_HEADER)} is missing, which '
			f'{os.path.basename(DMA_BENCH_SOURCE)} includes: {ksrc} '
			'is not a tree with the series applied (make tree)')
	log = os.path.join(work, 'build.log')
	os.makedirs(work, exist_ok=True)
	open(log, 'w').close()
	include = uml_user.install_headers(ksrc, os.path.join(work, 'headers'),
					   log)
	# The header takes libvfio's iommufd helpers: its objects, as the
	# folder's Makefile builds them.
	libvfio = os.path.join(work, 'vfio')
	uml_user.build_selftests(ksrc, include, libvfio, folder=VFIO_UAPI_FOLDER,
				 programs=(), log=log)
	objects = sorted(glob.glob(os.path.join(libvfio, 'libvfio', '**', '*.o'),
				   recursive=True))
	prog = os.path.join(work, 'vfio-dma-bench')
	cmd = ['gcc', '-static', '-O2', '-Wall',
	       '-I', os.path.join(ksrc, 'tools', 'include'), '-isystem', include,
	       '-I', util, '-I', os.path.join(util, 'lib', 'include'),
	       '-o', prog, DMA_BENCH_SOURCE, *objects, '-luuid']
	with open(log, 'a') as out:
		out.write(f'$ {" ".join(cmd)}\n')
		out.flush()
		res = run(cmd, stdout=out, stderr=subprocess.STDOUT)
	if res.returncode:
		raise uml_user.Error(f'{DMA_BENCH_SOURCE} did not build, see {log}')
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
