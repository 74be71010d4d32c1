#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make nested: QEMU drives the edu device behind the Rust variant driver.

The x86_64 guest (the L1, TCG, with intel-iommu) boots the patched kernel
of build/kunit-x86_64 with an initramfs that holds, besides the init:

  pci-rebind     binds the edu device to rust_vfio_pci_edu through its
                 driver_override (tools/pci-rebind.c)
  nested-l2      runs a QEMU inside the L1 on the edu device through the
                 device cdev and iommufd ('-object iommufd', '-device
                 vfio-pci,host=...,iommufd=...'), until the L2's firmware
                 (SeaBIOS) has enumerated it and mapped a BAR of it
                 (tools/nested-l2.c)

and that QEMU: Debian's qemu-system-x86 QEMU_VERSION from
bookworm-backports (Debian 12's own 7.2 has no iommufd backend), fetched
with apt-get download through an apt configuration of its own (the system's
apt state is not touched) and unpacked into NESTED_CACHE, with the shared
libraries it links (from this machine, as ldd finds them) at their paths
and SeaBIOS's bios-256k.bin as its firmware (with QEMU's kvmvapic.bin, the
option ROM a q35 machine loads).

TCG inside TCG is slow, so this is a make target of its own rather than a
step of 'make check'. It ends with the line 'N passed, N failed' as the
other jobs: the rebind, the L2's enumeration of the device, QEMU's clean
exit, and the L1's kernel log.
"""

import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uml_user  # noqa: E402
import x86_guest  # noqa: E402
from run_common import (BUILD, TOP, Results, apt_options,  # noqa: E402
			banner, step_toolchain, step_tree)
from run_logcheck import step_kernel_log  # noqa: E402
from run_user import X86_KERNEL, build_rebind  # noqa: E402

NESTED = os.path.join(BUILD, 'nested')
# The L2's QEMU and its firmware, pinned, from bookworm-backports.
QEMU_SUITE = 'bookworm-backports'
QEMU_VERSION = '1:10.0.2+ds-2+deb13u1~bpo12+1'
SEABIOS_VERSION = '1.16.3-2~bpo12+1'
QEMU_PACKAGES = [f'qemu-system-x86={QEMU_VERSION}',
		 f'qemu-system-common={QEMU_VERSION}',
		 f'qemu-system-data={QEMU_VERSION}',
		 f'seabios={SEABIOS_VERSION}']
NESTED_CACHE = os.path.expanduser(
	f'~/.cache/vfio-contract/nested-qemu-{QEMU_VERSION.replace(":", "_")}')
NESTED_SOURCE = os.path.join(TOP, 'tools', 'nested-l2.c')
# Where the L1's initramfs has them
L1_QEMU = '/qemu/qemu-system-x86_64'
L1_DATA = '/qemu/data'
# Seconds the L2 may take to enumerate the device, and the whole L1 boot
L2_TIMEOUT = 1500
L1_TIMEOUT = 1800


def fetch_qemu(log):
	"""QEMU_PACKAGES unpacked into NESTED_CACHE (once); its path. Raises
	uml_user.Error if they cannot be fetched."""
	done = os.path.join(NESTED_CACHE, '.unpacked')
	if os.path.exists(done):
		return NESTED_CACHE
	apt = os.path.join(NESTED_CACHE + '.apt')
	for sub in ('lists/partial', 'cache/archives/partial', 'debs'):
		os.makedirs(os.path.join(apt, sub), exist_ok=True)
	out = subprocess.run(['apt-get', 'indextargets', '--format',
			      '$(REPO_URI) $(RELEASE)'], capture_output=True,
			     text=True).stdout
	uris = [line.split()[0] for line in out.splitlines()
		if len(line.split()) == 2 and
		not re.search(r'-(security|updates)$', line.split()[1])]
	uri = uris[0] if uris else 'http://deb.debian.org/debian/'
	with open(os.path.join(apt, 'sources.list'), 'w') as f:
		f.write('deb [signed-by=/usr/share/keyrings/'
			f'debian-archive-keyring.gpg] {uri} {QEMU_SUITE} main\n')
	debs = os.path.join(apt, 'debs')
	with open(log, 'a') as out:
		for cmd, cwd in ((['apt-get', *apt_options(apt), 'update'], apt),
				 (['apt-get', *apt_options(apt), 'download',
				   *QEMU_PACKAGES], debs)):
			if subprocess.run(cmd, cwd=cwd, stdout=out,
					  stderr=subprocess.STDOUT).returncode:
				raise uml_user.Error(f'{" ".join(cmd[:1] + cmd[-2:])}'
						     f' failed, see {log}')
	shutil.rmtree(NESTED_CACHE, ignore_errors=True)
	for deb in sorted(os.listdir(debs)):
		subprocess.run(['dpkg-deb', '-x', os.path.join(debs, deb),
				NESTED_CACHE], check=True)
		os.remove(os.path.join(debs, deb))
	open(done, 'w').close()
	return NESTED_CACHE


def shared_libraries(binary):
	"""The shared libraries binary loads, the dynamic loader included,
	as ldd resolves them on this machine."""
	out = subprocess.run(['ldd', binary], capture_output=True, text=True,
			     check=True).stdout
	return sorted({m.group(1) for m in
		       re.finditer(r'(/\S+) \(0x[0-9a-f]+\)', out)})


def add_qemu(root, unpacked):
	"""Copy QEMU, the libraries it loads (at their own paths) and its
	firmware into root, at L1_QEMU and L1_DATA."""
	qemu = os.path.join(unpacked, 'usr', 'bin', 'qemu-system-x86_64')
	dest = os.path.join(root, L1_QEMU.lstrip('/'))
	os.makedirs(os.path.dirname(dest), exist_ok=True)
	shutil.copy(qemu, dest)
	for lib in shared_libraries(qemu):
		target = os.path.join(root, lib.lstrip('/'))
		os.makedirs(os.path.dirname(target), exist_ok=True)
		shutil.copy(lib, target)
	data = os.path.join(root, L1_DATA.lstrip('/'))
	os.makedirs(data, exist_ok=True)
	shutil.copy(os.path.join(unpacked, 'usr', 'share', 'seabios',
				 'bios-256k.bin'), data)
	shutil.copy(os.path.join(unpacked, 'usr', 'share', 'qemu',
				 'kvmvapic.bin'), data)


# A terminal control sequence: QEMU's monitor echoes what it reads with them
CONTROL = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')


def readable(line):
	"""line as a terminal shows it, for the lines QEMU's monitor echoed
	while it read a command (the text after the last cursor move)."""
	if '\x1b' not in line:
		return line
	shown = [part for part in CONTROL.split(line) if part]
	prompt = '(qemu) ' if line.startswith('(qemu) ') else ''
	return prompt + shown[-1].replace(prompt, '') if shown else prompt


def nested_rows(results, boot, nested):
	"""The rows of the boot: the rebind, the L2's enumeration of the
	device and QEMU's exit (nested-l2's exit code), and the kernel log.
	Prints nested-l2's output."""
	ran = uml_user.results_by_program(boot.log_lines())
	rebound = ran.get('pci-rebind')
	bound = rebound is not None and rebound.exit_code == 0
	results.add('nested: edu bound to the Rust variant driver',
		    int(bound), int(not bound),
		    '' if bound else 'pci-rebind failed')
	in_l2 = False
	print()
	for line in boot.log_lines():
		if line.startswith(f'uml-init: BEGIN /{nested}'):
			in_l2 = True
		if in_l2 and line.strip():
			print(f'  {readable(line)}')
		if line.startswith(f'uml-init: END /{nested}'):
			in_l2 = False
	result = ran.get(nested)
	ok = result is not None and result.exit_code == 0
	results.add('nested: QEMU in the guest, the L2\'s firmware '
		    'enumerated the device', int(ok), int(not ok),
		    '' if ok else f'{nested} failed: see '
		    f'{os.path.relpath(boot.log, TOP)}')
	step_kernel_log(results, boot.log, 'kernel log (x86_64, nested)')


def step_nested(results):
	banner('Nested: QEMU in the x86_64 guest drives the edu device behind '
	       'rust_vfio_pci_edu (cdev and iommufd), up to the L2\'s firmware')
	os.makedirs(NESTED, exist_ok=True)
	log = os.path.join(NESTED, 'build.log')
	open(log, 'w').close()
	try:
		if not os.path.exists(X86_KERNEL):
			raise uml_user.Error(f'no {os.path.relpath(X86_KERNEL, TOP)}:'
					     ' run make (or make check) first')
		unpacked = fetch_qemu(log)
		programs = os.path.join(NESTED, 'programs')
		rebind = build_rebind(os.path.join(programs, 'pci-rebind'), log)
		nested = uml_user.Program(
			uml_user.build_static(NESTED_SOURCE,
					      os.path.join(programs, 'nested-l2'),
					      log),
			[L1_QEMU, L1_DATA, x86_guest.EDU_BDF, str(L2_TIMEOUT)],
			timeout=L2_TIMEOUT + 120)
		init = uml_user.build_init(os.path.join(NESTED, 'init'), log)
		root = os.path.join(NESTED, 'root')
		uml_user.make_root(root, init, [rebind, nested])
		add_qemu(root, unpacked)
		initrd = x86_guest.make_initramfs(
			root, os.path.join(NESTED, 'initramfs.cpio'))
		boot = x86_guest.boot_qemu(X86_KERNEL, initrd,
					   os.path.join(NESTED, 'console.log'),
					   'intel-iommu', timeout=L1_TIMEOUT)
	except (uml_user.Error, OSError, subprocess.CalledProcessError) as e:
		results.add('nested: QEMU in the guest', 0, 1, str(e))
		return
	print(f'  booted {os.path.relpath(X86_KERNEL, TOP)} with intel-iommu '
	      f'(TCG): {boot.seconds:.0f} s, '
	      f'{"timed out" if boot.timed_out else f"exit {boot.exit_code}"}, '
	      f'console in {os.path.relpath(boot.log, TOP)}')
	nested_rows(results, boot, 'nested-l2')


def nested():
	"""The job: the toolchain and tree as 'make' has them, the x86_64
	kernel built (by 'make' or 'make check'), then step_nested()."""
	start = time.time()
	results = Results()
	step_toolchain()
	step_tree()
	step_nested(results)
	results.table()
	print(f'\n  nested took {time.time() - start:.0f} s')
	sys.exit(results.closing_line())
