# SPDX-License-Identifier: GPL-2.0
"""What every step of tools/run.py shares: the paths of the kernel tree and
the build, the kernels the run builds and their --kunitconfig files, the
test programs' names, the options and environment of a kernel build, the
closing table (Results), how a step runs a command or make in the kernel
tree and says how far a silent build has come, and the two steps every job
starts with (the toolchain, the tree).
"""

import os
import subprocess
import sys
import threading
import time

import series_core
import series_tree
import uml_user

TOP = series_core.TOP
BUILD = series_core.BUILD
# The mainline line's tree (Linux 7.3, linux/): every step but the 6.12.y
# line's (run_stable) builds and tests it.
KSRC = series_core.KSRC
KUNIT_BUILD = os.path.join(BUILD, 'kunit-7.3')

# Every --kunitconfig of the UML kernel; paths in the kernel tree are
# relative to it. base.config is what the kernel needs of 7.3 beside the
# series (SMP, lockdep, iommufd's mock IOMMU and what it depends on under
# UML); the same kernel boots user space for the VFIO tests (user.config,
# and the arch's root file system: uml-user.config, x86_64.config).
BASE_KUNITCONFIGS = [os.path.join(TOP, 'kunit', 'base.config'),
		     os.path.join(TOP, 'kunit', 'user.config')]
SERIES_KUNITCONFIGS = ['drivers/vfio/tests/.kunitconfig',
		       os.path.join(TOP, 'kunit', 'series.config')]
KUNITCONFIGS_UML = BASE_KUNITCONFIGS + [uml_user.USER_CONFIG] + \
	SERIES_KUNITCONFIGS
# With module support, which the Kbuild combinations (run_builds) need.
KUNITCONFIGS = KUNITCONFIGS_UML + [os.path.join(TOP, 'kunit',
						'uml-modules.config')]

# The same suites on x86_64, under QEMU with two vCPUs, and its user space:
# q35 guests with a virtual IOMMU and the edu device on vfio-pci.
X86_BUILD = os.path.join(BUILD, 'kunit-x86_64')
X86_CONFIG = os.path.join(TOP, 'kunit', 'x86_64.config')
X86_KUNITCONFIGS = BASE_KUNITCONFIGS + SERIES_KUNITCONFIGS + [X86_CONFIG]

# The VFIO test programs the boots run, in the kernel tree.
VFIO_UAPI_FOLDER = 'tools/testing/selftests/vfio'
VFIO_UAPI_PROGRAM = 'vfio_cdev_uapi_test'
# The stress test of the device cdev, in the same folder; it runs after the
# uAPI test in the same boot.
VFIO_STRESS_PROGRAM = 'vfio_cdev_stress_test'
# The fault injection test of the device cdev, in the same folder; it runs
# after the stress test. Each test (a sequence on one device) logs
# '# <file>:<line>:<test>:<driver>: N fault sites (...); S s'.
VFIO_FAIL_NTH_PROGRAM = 'vfio_cdev_fail_nth'
# Upstream's device-agnostic VFIO selftests (libvfio's), in the same
# folder, run after ours in the x86_64 guests on the edu device, which they
# take from VFIO_SELFTESTS_BDF; their failures expected under TCG, with
# the reasons, are in VFIO_UPSTREAM_EXPECTED.
VFIO_UPSTREAM_PROGRAMS = ('vfio_iommufd_setup_test', 'vfio_pci_device_test',
			  'vfio_dma_mapping_test', 'vfio_dma_mapping_mmio_test',
			  'vfio_pci_driver_test')
VFIO_UPSTREAM_EXPECTED = os.path.join(TOP, 'linux',
				      'vfio-selftests-x86_64.expected')
# The arguments of those that take some: vfio_pci_driver_test (its edu
# driver, lib/drivers/edu) runs its iommufd variant alone, the mode of the
# device cdev this project is about: each of the device's DMAs takes 100
# ms, and the other four modes would add about 100 s per guest. It makes
# the device fault in its IOMMU on purpose (memcpy to and from unmapped
# IOVAs), which the init announces in the kernel log (uml-init.c,
# 'iommu-faults').
VFIO_UPSTREAM_ARGS = {'vfio_pci_driver_test': ['-v', 'iommufd']}
VFIO_UPSTREAM_FAULTS = ('vfio_pci_driver_test',)

# Debian's rustc-web and friends: the rustup toolchain that may come first on
# PATH has no rust-src. Every Rust tool the kernel build runs is named, and
# /usr/bin also goes first on PATH for anything a Makefile finds by name.
# 7.3's scripts/min-tool-version.sh asks for LLVM 17 and bindgen 0.71.1, so
# its kernels are built with Debian 12's clang-19 (LLVM=-19) and that
# bindgen, which loads clang-19's libclang (bindgen loads the newest it
# finds unless told).
BINDGEN = os.path.expanduser('~/.cache/vfio-contract/bindgen-0.71.1/bin/bindgen')
RUST_TOOLS = ['RUSTC=/usr/bin/rustc', 'HOSTRUSTC=/usr/bin/rustc',
	      'RUSTDOC=/usr/bin/rustdoc', 'RUSTFMT=/usr/bin/rustfmt',
	      'CLIPPY_DRIVER=/usr/bin/clippy-driver']
MAKE_OPTIONS = ['LLVM=-19', *RUST_TOOLS, f'BINDGEN={BINDGEN}']
KERNEL_ENV = dict(os.environ, PATH='/usr/bin:/bin:' + os.environ['PATH'],
		  LIBCLANG_PATH='/usr/lib/llvm-19/lib')

# The 6.12.y line's toolchain: Debian 12's default LLVM, 14 (LLVM=1); its
# kernels are built without Rust, but 6.12's Kconfig asks bindgen (0.65.1,
# the oldest 6.12 takes) whether Rust is available, and that bindgen cannot
# parse clang-19's headers.
BINDGEN_6_12 = os.path.expanduser(
	'~/.cache/vfio-contract/bindgen-0.65.1/bin/bindgen')
MAKE_OPTIONS_6_12 = ['LLVM=1', *RUST_TOOLS, f'BINDGEN={BINDGEN_6_12}']
KERNEL_ENV_6_12 = dict(KERNEL_ENV, LIBCLANG_PATH='/usr/lib/llvm-14/lib')


class Results:
	"""What each step passed and failed, for the closing line."""

	def __init__(self):
		self.rows = []

	def add(self, step, passed, failed, note=''):
		self.rows.append((step, passed, failed, note))

	def table(self):
		width = max(len(r[0]) for r in self.rows)
		print(f'\n  {"step":<{width}}  passed  failed')
		for step, passed, failed, note in self.rows:
			print(f'  {step:<{width}}  {passed:>6}  {failed:>6}  {note}')

	def closing_line(self):
		passed = sum(r[1] for r in self.rows)
		failed = sum(r[2] for r in self.rows)
		print(f'\n{passed} passed, {failed} failed')
		return 1 if failed else 0


def apt_options(apt):
	"""apt's options for an apt configuration of the project's own in the
	folder apt (its sources.list, lists and cache), which leaves the
	system's apt state alone, as tools/install-toolchain.sh's."""
	return ['-o', f'Dir::Etc::sourcelist={apt}/sources.list',
		'-o', 'Dir::Etc::sourceparts=/dev/null',
		'-o', f'Dir::State::Lists={apt}/lists',
		'-o', f'Dir::Cache={apt}/cache', '-o', 'Debug::NoLocking=1',
		'-o', 'APT::Sandbox::User=root']


def banner(msg):
	print(f'\n==> {msg}', flush=True)


def run(cmd, cwd=TOP, **kw):
	return subprocess.run(cmd, cwd=cwd, **kw)


def step_toolchain():
	banner('Toolchain')
	log = os.path.join(BUILD, 'toolchain.log')
	os.makedirs(BUILD, exist_ok=True)
	res = run(['tools/install-toolchain.sh'], env=dict(os.environ, LOG=log))
	if res.returncode:
		sys.exit(f'toolchain install failed, see {log}')


def step_tree():
	banner('Kernel trees: each line\'s base and series')
	for line in series_core.LINES:
		series_tree.prepare_line(line)


class Progress(threading.Thread):
	"""Say every 30 s how far a silent kernel build has come."""

	def __init__(self, build_dir):
		super().__init__(daemon=True)
		self.build_dir = build_dir
		self.stop = threading.Event()
		self.start_time = time.time()

	def objects(self):
		"""Objects (re)built since the build started."""
		count = 0
		for root, _, files in os.walk(self.build_dir):
			for f in files:
				if f.endswith('.o') and os.stat(os.path.join(
						root, f)).st_mtime >= self.start_time:
					count += 1
		return count

	def run(self):
		while not self.stop.wait(30):
			print(f'  ... {time.time() - self.start_time:.0f} s, '
			      f'{self.objects()} objects compiled', flush=True)


def make(build_dir, *args, arch='um', log=None, ksrc=KSRC,
	 make_options=MAKE_OPTIONS, env=KERNEL_ENV):
	"""make in the kernel tree ksrc (the mainline line's unless told),
	with make_options and env; output to log, True on success."""
	cmd = ['make', '-s', f'ARCH={arch}', f'O={build_dir}',
	       f'-j{os.cpu_count()}', *make_options, *args]
	with open(log or os.devnull, 'a') as out:
		return run(cmd, cwd=ksrc, env=env, stdout=out,
			   stderr=subprocess.STDOUT).returncode == 0
