#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for the memory-checking kernel of tools/run.py
(run_sanitizers.py): what step_sanitizers() builds and boots with, and its
rows, from the console of a boot made of
tools/testdata/vfio-user-console.log, vfio-fail-nth-console.log and a
kmemleak scan, with kunit.py, the builds and the boot replaced.
"""

import inspect
import os
import sys
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_kunit  # noqa: E402
import run_mainline  # noqa: E402
import run_sanitizers  # noqa: E402
import uml_user  # noqa: E402
from run_common import (KSRC, MAKE_OPTIONS, Results,  # noqa: E402
			VFIO_FAIL_NTH_PROGRAM, VFIO_STRESS_PROGRAM,
			VFIO_UAPI_PROGRAM)
from run_matrix import DRIVER_KINDS, KUNIT_CASES  # noqa: E402
from testutil import (edit_console, quietly, read_testdata,  # noqa: E402
		      rust_test)

# What build_programs() gives, as it gives it (uml_user.Program)
PROGRAMS = [uml_user.Program(f'/p/{name}', ['-V', 'vfio_pci'], env={})
	    for name in (VFIO_UAPI_PROGRAM, VFIO_STRESS_PROGRAM,
			 VFIO_FAIL_NTH_PROGRAM)] + ['/p/iommufd',
						    '/p/iommufd_fail_nth']


class FakeBoot:
	"""A boot whose console is lines."""

	def __init__(self, lines):
		self.lines = lines
		self.log = os.devnull

	def log_lines(self):
		return self.lines


class SanitizersTest(unittest.TestCase):
	"""step_sanitizers() on a line's tree, options and test lists."""

	def run_step(self, scan_exit=0, drop=lambda name: False, **kw):
		"""Rows of step_sanitizers(**kw), and the calls of kunit_step,
		build_programs and boot_programs; the console without the tests
		drop(name) is true for (edit_console())."""
		console = edit_console(
			read_testdata('vfio-user-console.log') +
			read_testdata('vfio-fail-nth-console.log'), drop) + \
			['uml-init: BEGIN /kmemleak-scan',
			 f'uml-init: END /kmemleak-scan exit={scan_exit} '
			 'seconds=30.0']
		results = Results()
		with mock.patch.object(run_sanitizers, 'kunit_step') as kunit, \
				mock.patch.object(run_sanitizers, 'build_programs',
						  return_value=PROGRAMS) as build, \
				mock.patch.object(run_sanitizers, 'boot_programs',
						  return_value=FakeBoot(
							  console)) as boot, \
				mock.patch.object(run_sanitizers.uml_user, '_run'), \
				mock.patch.object(run_sanitizers, 'step_kernel_log'), \
				mock.patch('os.makedirs'), \
				mock.patch('builtins.open', mock.mock_open()):
			quietly(lambda: run_sanitizers.step_sanitizers(results, **kw))
		return {r[0]: r[1:3] for r in results.rows}, kunit, build, boot

	def test_defaults(self):
		"""The mainline tree, its options, cases and SMP, for KUnit and
		for user space alike; the line's four drivers."""
		rows, kunit, build, boot = self.run_step()
		_, kw = kunit.call_args
		# what it gives kunit_step, or kunit_step's default
		kw = {name: kw.get(name, param.default) for name, param in
		      inspect.signature(run_kunit.kunit_step).parameters.items()}
		self.assertEqual(kw['ksrc'], KSRC)
		self.assertEqual(kw['make_options'], MAKE_OPTIONS)
		self.assertEqual(kw['cases'], KUNIT_CASES)
		self.assertEqual(kw['kinds'], DRIVER_KINDS)
		self.assertEqual(list(kw['kernel_args']), run_mainline.KERNEL_ARGS)
		self.assertEqual(kunit.call_args[0][1],
				 run_sanitizers.SANITIZERS_BUILD)
		self.assertIn(run_sanitizers.SANITIZERS_CONFIG,
			      kunit.call_args[0][3])
		self.assertEqual(build.call_args[0][0], KSRC)
		# the user space boot has the same arguments (SMP), and runs the
		# VFIO programs, not iommufd's, then the scan
		args, _ = boot.call_args
		self.assertEqual(args[3][:len(run_mainline.KERNEL_ARGS)],
				 run_mainline.KERNEL_ARGS)
		self.assertIn('kunit.enable=1', args[3])
		self.assertEqual([os.path.basename(p[0] if isinstance(p, tuple)
						   else p) for p in args[2]],
				 [VFIO_UAPI_PROGRAM, VFIO_STRESS_PROGRAM,
				  VFIO_FAIL_NTH_PROGRAM, 'kmemleak-scan'])
		# the stress test has more time than the init's default, and
		# keeps its arguments and environment
		self.assertEqual(args[2][1][2], run_sanitizers.STRESS_TIMEOUT)
		self.assertEqual(args[2][1], PROGRAMS[1]._replace(
			timeout=run_sanitizers.STRESS_TIMEOUT))
		self.assertEqual(rows['sanitizers: kmemleak scan'], (1, 0))
		self.assertEqual(rows[f'sanitizers: uapi: {VFIO_UAPI_PROGRAM}'],
				 (168, 0))
		self.assertEqual(rows[f'sanitizers: stress: {VFIO_STRESS_PROGRAM}'],
				 (8, 0))
		self.assertEqual(
			rows[f'sanitizers: fail_nth: {VFIO_FAIL_NTH_PROGRAM}'], (8, 0))
		# the testdata's four drivers have every rule of their kinds
		self.assertEqual(rows['sanitizers: uapi: matrix'], (1, 0))

	def test_rust_rows_missing(self):
		"""On the line's four drivers a console without the Rust
		samples' tests has no Rust rows: the uAPI matrix fails."""
		rows, _, _, _ = self.run_step(drop=rust_test)
		self.assertEqual(rows[f'sanitizers: uapi: {VFIO_UAPI_PROGRAM}'],
				 (84, 0))
		self.assertEqual(rows['sanitizers: uapi: matrix'], (0, 34))

	def test_scan_fails(self):
		rows, _, _, _ = self.run_step(scan_exit=1)
		self.assertEqual(rows['sanitizers: kmemleak scan'], (0, 1))


if __name__ == '__main__':
	unittest.main()
