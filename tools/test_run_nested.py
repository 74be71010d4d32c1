#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for make nested (run_nested.py) and the vfio-pci rows of make
bench (run_bench.py): the rows a real boot's console gives, and those of
copies of it broken the ways a run can go wrong."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench  # noqa: E402
import run_nested  # noqa: E402
import uml_user  # noqa: E402
from run_common import Results  # noqa: E402
from testutil import quietly, read_testdata  # noqa: E402

CONSOLE = 'nested-console.log'
END = 'uml-init: END /nested-l2 '


class NestedRowsTest(unittest.TestCase):
	"""nested_rows() on the console of a real 'make nested' boot."""

	def rows(self, lines):
		with tempfile.NamedTemporaryFile('w', suffix='.log') as log:
			log.write('\n'.join(lines) + '\n')
			log.flush()
			boot = uml_user.Boot(0, False, 1.0, log.name)
			results = Results()
			_, out = quietly(run_nested.nested_rows, results, boot,
					 'nested-l2')
		return [(r[0], r[1], r[2]) for r in results.rows], out

	def test_real_console(self):
		rows, out = self.rows(read_testdata(CONSOLE))
		self.assertEqual(rows, [
			('nested: edu bound to the Rust variant driver', 1, 0),
			('nested: QEMU in the guest, the L2\'s firmware '
			 'enumerated the device', 1, 0),
			('kernel log (x86_64, nested)', 1, 0)])
		self.assertIn('L2 firmware: PCI: init bdf=00:01.0 id=1234:11e8',
			      out)
		self.assertIn('is bound to rust_vfio_pci_edu', out)
		# The monitor's echo, as a terminal shows it
		self.assertIn('  info pci\n', out)
		self.assertNotIn('\x1b', out)

	def test_l2_failed(self):
		lines = [l.replace('exit=0', 'exit=1') if l.startswith(END) else l
			 for l in read_testdata(CONSOLE)]
		rows, _ = self.rows(lines)
		self.assertEqual(rows[1][1:], (0, 1))

	def test_no_rebind(self):
		lines = [l for l in read_testdata(CONSOLE)
			 if 'pci-rebind' not in l]
		rows, _ = self.rows(lines)
		self.assertEqual(rows[0][1:], (0, 1))

	def test_did_not_end(self):
		lines = [l for l in read_testdata(CONSOLE) if not l.startswith(END)]
		rows, _ = self.rows(lines)
		self.assertEqual(rows[1][1:], (0, 1))

	def test_readable(self):
		self.assertEqual(run_nested.readable(
			'i\x1b[K\x1b[Din\x1b[K\x1b[D\x1b[Dinfo pci\x1b[K'), 'info pci')
		self.assertEqual(run_nested.readable(
			'(qemu) q\x1b[K\x1b[Dqu\x1b[K\x1b[D\x1b[Dquit\x1b[K'),
			'(qemu) quit')
		self.assertEqual(run_nested.readable('plain'), 'plain')


class PciBenchRowsTest(unittest.TestCase):
	"""pci_ratio_rows(): each ratio at most 1.02, and present."""

	LINES = ['vfio-pci attach 812345 ns per cycle of ATTACH, replace and '
		 'DETACH (median of 9 rounds; quartiles 800000, 820000)',
		 'ratio attach 1.004 rust_vfio_pci_edu/vfio-pci (+3250 ns)',
		 'ratio dma 1.021 rust_vfio_pci_edu/vfio-pci (+4200000 ns)']

	def test_rows(self):
		results = Results()
		run_bench.pci_ratio_rows(results, self.LINES)
		self.assertEqual([(r[1], r[2], r[3]) for r in results.rows],
				 [(1, 0, '1.004'), (0, 1, '1.021')])

	def test_missing_ratio(self):
		results = Results()
		run_bench.pci_ratio_rows(results, self.LINES[:2])
		self.assertEqual([(r[1], r[2], r[3]) for r in results.rows],
				 [(1, 0, '1.004'), (0, 1, 'no ratio')])


if __name__ == '__main__':
	unittest.main()
