#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""x86_64 guests of QEMU (TCG): user space from an initramfs, with a
virtual IOMMU and QEMU's edu test device bound to vfio-pci.

The x86_64 kernel that kunit.py runs the KUnit suites on (kunit.enable=1)
also boots user space (kunit.enable=0), as the UML one does. The root is an
initramfs, a newc cpio archive written here from the same root directory
tools/uml_user.make_root() makes for UML: the init (tools/uml-init.c), the
test programs and the list of them. Its output frames each program on the
serial console as under UML, so tools/uml_user.parse_console() reads it.

The machine is a q35 with 2 vCPUs and one of QEMU's IOMMUs, which the
kernel drives with its own driver:

  intel-iommu    Intel VT-d (DMAR), legacy mode, with interrupt remapping,
                 which isolates MSIs as iommufd requires of a device
  virtio-iommu   virtio-iommu-pci; its topology comes from ACPI's VIOT. It
                 cannot isolate MSIs on x86, so iommufd and VFIO's type1
                 container are told to allow that
                 (iommufd.allow_unsafe_interrupts=1,
                 vfio_iommu_type1.allow_unsafe_interrupts=1), as a host
                 with such an IOMMU must be

iommufd's mock IOMMU (CONFIG_IOMMUFD_TEST), on which the sample drivers'
devices and iommufd's selftests depend, shares the guest with either: on
7.3 each mock device is added with a fwspec that names the mock IOMMU's
own firmware node (iommu_mock_device_add()), so it probes on the mock
IOMMU whatever else is registered. (On 6.12 it could not share one with
Intel VT-d, which registers without a firmware node before the mock
IOMMU and so takes every device without one.)

and QEMU's edu device (PCI 1234:11e8, a test device that does DMA when its
registers say so), which vfio_pci.ids=1234:11e8 binds to vfio-pci at boot.
The IOMMU is given first, so that it translates the edu device's DMA. The
edu device sits at EDU_BDF in both guests, the address VFIO's selftests
(ours and upstream's) are given in VFIO_SELFTESTS_BDF.

TCG only: /dev/kvm opens on these machines, but a guest hangs with KVM
(see ../shared/platform-notes.md); a boot says which accelerator it used.
kunit.py of 7.3 asks QEMU for KVM first ('-accel kvm -accel hvf -accel
tcg'), and its x86_64 run hangs with no output until its timeout, so
kunit.py runs with tcg_qemu() first on its PATH: a QEMU that drops the
other accelerators.
"""

import collections
import os
import shutil
import stat
import subprocess
import sys

import uml_user

QEMU = 'qemu-system-x86_64'
EDU_ID = '1234:11e8'
# The edu device's slot, and its address in the guest
EDU_SLOT = '0x10'
EDU_BDF = '0000:00:10.0'
# The bus addresses the edu device may use: it masks each with its
# dma_mask, 28 bits by default, so that a DMA to an IOVA above 256 MiB
# would reach a lower one. 48 bits hold every IOVA the IOMMUs offer.
EDU_DMA_MASK = '0xffffffffffff'

# An IOMMU of the guests: QEMU's arguments and the kernel's.
Iommu = collections.namedtuple('Iommu', 'devices args')
IOMMUS = {
	'intel-iommu': Iommu(['-device', 'intel-iommu,intremap=on'],
			     ['intel_iommu=on']),
	'virtio-iommu': Iommu(['-device', 'virtio-iommu-pci'],
			      ['iommufd.allow_unsafe_interrupts=1',
			       'vfio_iommu_type1.allow_unsafe_interrupts=1']),
}

# Every boot's command line: the serial console, no KUnit, the edu device
# to vfio-pci, the samples' devices, user messages to /dev/kmsg unlimited
# (the tests announce there the IOMMU faults they cause), huge pages for
# iommufd's selftests and a 1 GiB one for VFIO's (vfio_dma_mapping_test's
# anonymous_hugetlb_1gb variants), transparent huge pages for shared
# memory (vfio_pci_driver_test maps 1 GiB of it in each test's setup: in 4
# KiB pages that took about 11 s of its 30 s timeout; 6.12 does not know
# the parameter and hands it to the init's environment, harmlessly), and
# a panic ends the guest at once.
#
# acpi=noirq: no INTx routing through ACPI. vfio-pci's open and close of the
# device enable and disable it, which looks its INTx up in the _PRT method,
# evaluated by ACPICA's AML interpreter. vfio_cdev_fail_nth fails each
# allocation of BIND and close in turn, and those of ACPICA's interpreter
# are among them: on 6.12 a failed allocation there leaves an object's
# reference count wrong ("Reference Count was zero before increment"),
# and a later close() of the device oopses in acpi_os_release_object(), a
# bug of ACPICA, not of VFIO. The edu device, polled, needs no interrupt,
# and MSIs do not go through ACPI.
BOOT_ARGS = ['console=ttyS0', 'kunit.enable=0', f'vfio_pci.ids={EDU_ID}',
	     'printk.devkmsg=on', 'hugepagesz=2M', 'hugepages=160',
	     'hugepagesz=1G', 'hugepages=1', 'transparent_hugepage_shmem=always',
	     'acpi=noirq', 'panic=-1', 'oops=panic', 'rdinit=/init']
MEMORY = '4G'
# QEMU's default CPU with 1 GiB pages, which TCG implements and the kernel
# needs for hugepagesz=1G
CPU = 'qemu64,+pdpe1gb'
CPUS = 2


class Error(Exception):
	pass


# A QEMU for kunit.py (tcg_qemu()): QEMU's own, called without the
# accelerators but TCG (drop_accelerators()).
TCG_QEMU = """#!{python}
# Written by tools/x86_guest.py: {qemu} with TCG only (a guest hangs with
# KVM here, and kunit.py asks for it first).
import os
import sys

sys.path.insert(0, {tools!r})
import x86_guest  # noqa: E402

os.execv({qemu!r}, [{qemu!r}] + x86_guest.drop_accelerators(sys.argv[1:]))
"""


def drop_accelerators(args):
	"""QEMU's arguments args without any '-accel' but TCG's."""
	out, rest = [], list(args)
	while rest:
		if rest[0] == '-accel' and rest[1:2] != ['tcg']:
			rest = rest[2:]
			continue
		out.append(rest.pop(0))
	return out


def tcg_qemu(folder, path=None):
	"""Write folder/qemu-system-x86_64, which runs QEMU (found on path,
	else on PATH) with its arguments but any '-accel' other than tcg;
	returns folder, to put first on the PATH of kunit.py."""
	qemu = shutil.which(QEMU, path=path)
	if qemu is None:
		raise Error(f'{QEMU} not found')
	os.makedirs(folder, exist_ok=True)
	wrapper = os.path.join(folder, QEMU)
	with open(wrapper, 'w') as f:
		f.write(TCG_QEMU.format(python=sys.executable, qemu=qemu,
					tools=os.path.dirname(
						os.path.abspath(__file__))))
	os.chmod(wrapper, 0o755)
	return folder


# --- The initramfs ----------------------------------------------------------

def _cpio_entry(name, mode, data=b'', rdev=(0, 0), ino=0):
	"""One member of a newc cpio archive."""
	name_bytes = name.encode() + b'\0'
	fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
		  len(name_bytes), 0]
	header = b'070701' + b''.join(b'%08X' % f for f in fields)
	out = header + name_bytes
	out += b'\0' * (-len(out) % 4)
	out += data
	out += b'\0' * (-len(out) % 4)
	return out


def make_initramfs(root, out):
	"""Pack the directory root into the newc cpio archive out, the
	initramfs of a boot, with /dev/console for the init's first output.
	Files keep their permission bits; owners are root."""
	members = [('dev', stat.S_IFDIR | 0o755, b''),
		   ('dev/console', stat.S_IFCHR | 0o600, b'')]
	for top, dirs, files in os.walk(root):
		dirs.sort()
		rel = os.path.relpath(top, root)
		for d in dirs:
			name = os.path.normpath(os.path.join(rel, d))
			if name != 'dev':
				members.append((name, stat.S_IFDIR | 0o755, b''))
		for f in sorted(files):
			path = os.path.join(top, f)
			with open(path, 'rb') as fh:
				data = fh.read()
			mode = stat.S_IFREG | (os.stat(path).st_mode & 0o777)
			members.append((os.path.normpath(os.path.join(rel, f)),
					mode, data))
	with open(out, 'wb') as fh:
		for ino, (name, mode, data) in enumerate(members, 1):
			rdev = (5, 1) if name == 'dev/console' else (0, 0)
			fh.write(_cpio_entry(name, mode, data, rdev, ino))
		fh.write(_cpio_entry('TRAILER!!!', 0))
	return out


# --- Booting ----------------------------------------------------------------

def qemu_command(kernel, initrd, iommu, args=(), edu=True):
	"""The QEMU command line of a guest with iommu (a key of IOMMUS, or
	None for none) and, if edu, the edu device behind it."""
	devices, iommu_args = IOMMUS[iommu][:2] if iommu else ([], [])
	cmd = [QEMU, '-machine', 'q35', '-accel', 'tcg', '-cpu', CPU,
	       '-smp', str(CPUS), '-m', MEMORY, '-nodefaults', '-no-reboot',
	       '-display', 'none', '-serial', 'stdio', '-monitor', 'none',
	       *devices]
	if edu:
		cmd += ['-device', f'edu,addr={EDU_SLOT},dma_mask={EDU_DMA_MASK}']
	cmd += ['-kernel', kernel, '-initrd', initrd,
		'-append', ' '.join([*BOOT_ARGS, *iommu_args, *args])]
	return cmd


def boot_qemu(kernel, initrd, log, iommu, args=(), timeout=1200, edu=True):
	"""Boot kernel with the initramfs initrd on a q35 guest (see
	qemu_command()); the serial console and QEMU's own messages go to log.
	The init powers the guest off when its programs are done; after timeout
	seconds QEMU is killed. Returns a uml_user.Boot."""
	return uml_user.boot(qemu_command(kernel, initrd, iommu, args, edu),
			     log, timeout, stdin=subprocess.DEVNULL)
