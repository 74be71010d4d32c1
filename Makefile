# SPDX-License-Identifier: GPL-2.0
#
# make          the main job: install the toolchain, build the patched
#               kernel (UML, LLVM=1, CONFIG_RUST=y) and run the KUnit suites
#               and the user space tests; the same on x86_64 under QEMU,
#               with vfio-pci and QEMU's edu device behind intel-iommu and
#               virtio-iommu; then the 7.3 line (linux/7.3/): the series
#               on Linux 7.3.4 as far as it has moved, built with clang-19
# make check    the tests: everything 'make' does plus each commit's build,
#               the memory-checking kernel (KASAN, UBSAN, kmemleak), the
#               Rust compile-fail cases, GCC with W=1 and sparse on the
#               series' C files, and the static checks (Coccinelle,
#               git am of the series, checkpatch --strict)
#
# Both end with the line 'N passed, N failed'. See README.md.

PYTHON ?= python3

.PHONY: all check bench newest toolchain tree series clean distclean

all:
	@$(PYTHON) tools/run.py main

check:
	@$(PYTHON) tools/run.py check

# The cost of the Rust abstractions: ns per attach/replace/detach cycle
# through the C and the Rust physical samples, ns per DMA pread through the
# emulated ones, and the Rust/C ratios.
bench:
	@$(PYTHON) tools/run.py bench

# The series on the newest 6.12.y Debian offers (the pin stays): applied,
# built for UML and its KUnit suites run; says whether the pin can move.
newest:
	@$(PYTHON) tools/run.py newest

toolchain:
	@tools/install-toolchain.sh

# Unpack each line's base (once) and (re)build its series' commits in
# build/linux (6.12.y) and build/linux-7.3.
tree: toolchain
	@$(PYTHON) tools/series.py prepare

# The submissions of each line, each to its folder of build/series/ (6.12.y,
# linux/submissions) or build/series-7.3/ (linux/7.3/submissions):
# git format-patch --cover-letter --base --signoff as the git user (who must
# be set: user.name, user.email), with To: and Cc: from get_maintainer.pl.
series: tree
	@$(PYTHON) tools/series.py export

# Drop the kernel build, keep the unpacked tree.
clean:
	rm -rf build/kunit-uml build/kunit-results.json build/series \
		build/kunit-7.3 build/kunit-7.3-results.json build/series-7.3

# Drop everything generated.
distclean:
	rm -rf build
