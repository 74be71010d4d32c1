# SPDX-License-Identifier: GPL-2.0
#
# make          the main job: install the toolchain, build the pristine
#               Linux 7.3.4 base and the patched kernel (UML with SMP,
#               clang-19, CONFIG_RUST=y) and run the KUnit suites and the
#               user space tests; the same on x86_64 under QEMU, with
#               vfio-pci and QEMU's edu device behind intel-iommu and
#               virtio-iommu; then the 6.12.y stable line (linux/6.12.y/):
#               the builds and boots that show each of its fixes
# make check    the tests: everything 'make' does plus each commit's build
#               on both lines, the memory-checking kernel (KASAN, UBSAN,
#               kmemleak), the Kbuild combinations, GCC with W=1 and
#               sparse on the series' C files, and the static checks
#               (Coccinelle, git am of each line's series, checkpatch
#               --strict, the docs, rustfmt, clippy, rustdoc)
#
# Both end with the line 'N passed, N failed'. See README.md.

PYTHON ?= python3

.PHONY: all check bench newest nested toolchain tree series clean distclean

all:
	@$(PYTHON) tools/run.py main

check:
	@$(PYTHON) tools/run.py check

# The cost of the Rust abstractions: ns per attach/replace/detach cycle
# through the C and the Rust physical samples, ns per DMA pread through the
# emulated ones, and the Rust/C ratios; then, in an x86_64 guest, the Rust
# vfio-pci variant driver against vfio-pci on QEMU's edu device (attach,
# replace and detach cycles, edu DMA round trips), each ratio at most 1.02.
bench:
	@$(PYTHON) tools/run.py bench

# Each line's series on the newest version of its base Debian offers (7.3.y
# in trixie-backports, 6.12.y; the pins stay): applied, built for UML, the
# mainline line's KUnit suites run; says whether each pin can move.
newest:
	@$(PYTHON) tools/run.py newest

# QEMU inside the x86_64 guest drives QEMU's edu device, bound to the Rust
# vfio-pci variant driver, through the device cdev and iommufd
# (-object iommufd) until the nested guest's firmware has enumerated it.
# Needs the x86_64 kernel of 'make' or 'make check'; TCG inside TCG, so
# not a step of 'make check'.
nested:
	@$(PYTHON) tools/run.py nested

toolchain:
	@tools/install-toolchain.sh

# Unpack each line's base (once) and (re)build its series' commits in
# build/linux-7.3 (the mainline line) and build/linux-6.12.y.
tree: toolchain
	@$(PYTHON) tools/series.py prepare

# The submissions of each line, each to its folder of build/series/ (7.3,
# linux/submissions) or build/series-6.12.y/ (linux/6.12.y/submissions):
# git format-patch --cover-letter --base --signoff as the git user (who must
# be set: user.name, user.email), with To: and Cc: from get_maintainer.pl.
series: tree
	@$(PYTHON) tools/series.py export

# Drop the kernel build, keep the unpacked tree.
clean:
	rm -rf build/kunit-7.3 build/kunit-results.json build/series \
		build/series-6.12.y build/kunit-x86_64 build/sanitizers-uml \
		build/stable-6.12.y

# Drop everything generated.
distclean:
	rm -rf build
