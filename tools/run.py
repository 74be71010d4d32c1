#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The project's two jobs, as the README's two commands run them.

  main   install the toolchain; build the pristine Linux 7.3 base and the
         patched kernel (UML with SMP, clang-19, CONFIG_RUST=y) and run
         the KUnit suites; show kunit.py's results, a table per suite, the
         conformance matrix and the kernel log check. Then its user space
         tests, and the same on x86_64 under QEMU: KUnit on 2 vCPUs, and
         vfio-pci with QEMU's edu device behind intel-iommu and
         virtio-iommu. Then the 6.12.y stable line (linux/6.12.y/): the
         builds and boots that show each of its fixes.
  check  everything 'main' does, plus each commit's build on both lines,
         the memory-checking kernel, the Kbuild combinations and the
         static checks: the Coccinelle rule on the pristine and the
         patched tree, 'git am' of the exported series on each line's
         pristine base, checkpatch --strict on every patch, GCC with W=1
         and sparse on the series' C files, the docs, the Rust checks.

Both end with one line 'N passed, N failed' over every step, and exit
non-zero on any failure, on a suite that did not run or skipped a case, on
a rule of a matrix without the cases it must have, on a test program that
timed out or whose results disagree with its own Totals line, and on any
kernel WARNING, BUG, lockdep, KASAN, UBSAN, RCU stall, hung task or
kmemleak report that a test did not announce.

The steps live in modules beside this one, one job each: run_common
(paths, options, Results, make), run_logcheck (the kernel log check),
run_matrix (the conformance and uAPI matrices), run_kunit (KUnit runs and
their counts), run_builds (vfio-cdx for arm64, the Kbuild combinations),
run_user (the user space boots and their results), run_mainline (the
pristine base and the tip under UML), run_sanitizers (the memory-checking
kernel), run_checks (the static checks), run_stable (the 6.12.y line),
run_bench (make bench), run_newest (make newest) and run_nested (make
nested).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_bench import bench  # noqa: E402
from run_builds import step_kbuild  # noqa: E402
from run_checks import (step_cocci, step_docs, step_gcc,  # noqa: E402
			step_rust, step_series, step_tool_tests)
from run_common import Results, step_toolchain, step_tree  # noqa: E402
from run_kunit import step_x86_kunit  # noqa: E402
from run_mainline import step_mainline  # noqa: E402
from run_nested import nested  # noqa: E402
from run_newest import step_newest  # noqa: E402
from run_sanitizers import step_sanitizers  # noqa: E402
from run_stable import step_stable  # noqa: E402
from run_user import step_x86_user  # noqa: E402


def main():
	parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
	parser.add_argument('job', choices=['main', 'check', 'bench', 'newest',
					    'nested'])
	parser.add_argument('--cycles', type=int, default=20000,
			    help='bench: cycles per round')
	parser.add_argument('--rounds', type=int, default=9,
			    help='bench: rounds per driver')
	parser.add_argument('--dma-iterations', type=int, default=50,
			    help='bench: preads per DMA round, device and region')
	parser.add_argument('--dma-rounds', type=int, default=2001,
			    help='bench: DMA rounds per device (up to 4001)')
	args = parser.parse_args()

	if args.job == 'bench':
		bench(args.cycles, args.rounds, args.dma_iterations,
		      args.dma_rounds)
		return
	if args.job == 'nested':
		nested()

	start = time.time()
	results = Results()
	step_toolchain()
	step_tree()
	if args.job == 'newest':
		step_newest(results)
		results.table()
		sys.exit(results.closing_line())
	check = args.job == 'check'
	step_mainline(results, each_commit=check)
	step_x86_kunit(results)
	step_x86_user(results)
	step_stable(results, each_commit=check)
	if check:
		step_gcc(results)
		step_kbuild(results)
		step_sanitizers(results)
		step_tool_tests(results)
		step_cocci(results)
		step_docs(results)
		step_rust(results)
		step_series(results)
	results.table()
	print(f'\n  {args.job} took {time.time() - start:.0f} s')
	sys.exit(results.closing_line())


if __name__ == '__main__':
	main()
