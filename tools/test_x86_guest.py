#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests of tools/x86_guest.py: the initramfs it packs and the QEMU
command lines of its guests."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import x86_guest  # noqa: E402


class InitramfsTest(unittest.TestCase):

	def setUp(self):
		self.tmp = tempfile.mkdtemp()
		self.root = os.path.join(self.tmp, 'root')
		for sub in ('proc', 'sys', 'dev'):
			os.makedirs(os.path.join(self.root, sub))
		with open(os.path.join(self.root, 'init'), 'w') as f:
			f.write('#!/bin/true\n')
		os.chmod(os.path.join(self.root, 'init'), 0o755)
		with open(os.path.join(self.root, 'uml-init.list'), 'w') as f:
			f.write('/prog -x\n')

	def tearDown(self):
		shutil.rmtree(self.tmp)

	@unittest.skipUnless(shutil.which('cpio'), 'needs cpio')
	def test_cpio_reads_it_back(self):
		out = x86_guest.make_initramfs(self.root,
					       os.path.join(self.tmp, 'i.cpio'))
		listing = subprocess.run(['cpio', '-itv', '-F', out],
					 capture_output=True, text=True,
					 check=True).stdout.splitlines()
		names = {line.split()[-1]: line for line in listing}
		self.assertEqual(sorted(names), ['dev', 'dev/console', 'init',
						 'proc', 'sys', 'uml-init.list'])
		self.assertTrue(names['init'].startswith('-rwxr-xr-x'))
		self.assertTrue(names['dev/console'].startswith('crw-------'))
		self.assertIn('5,', names['dev/console'])
		extract = os.path.join(self.tmp, 'x')
		os.makedirs(extract)
		subprocess.run(['cpio', '-id', '--no-absolute-filenames', '-F',
				out, 'uml-init.list'], cwd=extract, check=True,
			       capture_output=True)
		with open(os.path.join(extract, 'uml-init.list')) as f:
			self.assertEqual(f.read(), '/prog -x\n')

	def test_members_are_aligned(self):
		out = x86_guest.make_initramfs(self.root,
					       os.path.join(self.tmp, 'i.cpio'))
		with open(out, 'rb') as f:
			data = f.read()
		self.assertEqual(len(data) % 4, 0)
		self.assertTrue(data.startswith(b'070701'))
		self.assertIn(b'TRAILER!!!\0', data)


class CommandTest(unittest.TestCase):

	def test_intel_iommu(self):
		cmd = x86_guest.qemu_command('bz', 'rd', 'intel-iommu', ['x=1'])
		self.assertLess(cmd.index('intel-iommu,intremap=on'),
				cmd.index('edu,addr=0x10,dma_mask=0xffffffffffff'))
		self.assertEqual(cmd[cmd.index('-accel') + 1], 'tcg')
		append = cmd[cmd.index('-append') + 1].split()
		self.assertIn('intel_iommu=on', append)
		self.assertIn('vfio_pci.ids=1234:11e8', append)
		self.assertEqual(append[-1], 'x=1')

	def test_virtio_iommu(self):
		cmd = x86_guest.qemu_command('bz', 'rd', 'virtio-iommu')
		self.assertLess(cmd.index('virtio-iommu-pci'),
				cmd.index('edu,addr=0x10,dma_mask=0xffffffffffff'))
		self.assertNotIn('intel_iommu=on', cmd[cmd.index('-append') + 1])

	def test_no_edu(self):
		cmd = x86_guest.qemu_command('bz', 'rd', 'intel-iommu', edu=False)
		self.assertNotIn('edu', cmd)


class TcgQemuTest(unittest.TestCase):
	"""The QEMU kunit.py runs: TCG only, whatever kunit.py asks for."""

	def test_drop_accelerators(self):
		self.assertEqual(x86_guest.drop_accelerators(
			['-m', '1024', '-accel', 'kvm', '-accel', 'hvf', '-accel',
			 'tcg', '-serial', 'stdio', '-smp', '2']),
			['-m', '1024', '-accel', 'tcg', '-serial', 'stdio', '-smp',
			 '2'])

	def test_wrapper_runs_qemu_with_tcg_only(self):
		with tempfile.TemporaryDirectory() as tmp:
			real = os.path.join(tmp, 'real')
			os.makedirs(real)
			fake = os.path.join(real, x86_guest.QEMU)
			with open(fake, 'w') as f:
				f.write('#!/bin/sh\necho "$@"\n')
			os.chmod(fake, 0o755)
			folder = x86_guest.tcg_qemu(os.path.join(tmp, 'tcg'), real)
			out = subprocess.run(
				[os.path.join(folder, x86_guest.QEMU), '-accel', 'kvm',
				 '-accel', 'hvf', '-accel', 'tcg', '-smp', '2'],
				capture_output=True, text=True, check=True).stdout
		self.assertEqual(out, '-accel tcg -smp 2\n')


if __name__ == '__main__':
	unittest.main()
