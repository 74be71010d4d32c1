#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests for the kernel log check of tools/run.py (run_logcheck.py):
which reports a kernel log may hold (WARNINGs announced by file or by
function, IOMMU faults announced by the uAPI test), which it may not (RCU
stalls, hung tasks, kmemleak, KASAN, UBSAN, lockups), and the rows the
step adds.

They start from tools/testdata/kunit-vfio-test.log (see testutil.py) and
from lines made up in the formats of 6.12 and 7.x.
"""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_logcheck  # noqa: E402
from run_common import Results  # noqa: E402
from run_logcheck import check_kernel_log  # noqa: E402
from testutil import quietly, read_testdata  # noqa: E402


BEGIN = '    # case: vfio-kunit: expected WARNING from drivers/vfio/vfio_main.c begins'
END = '    # case: vfio-kunit: expected WARNING ends'
WARN = 'WARNING: CPU: 0 PID: 1 at drivers/vfio/vfio_main.c:317 0x6000'
OTHER_WARN = 'WARNING: CPU: 0 PID: 1 at drivers/iommu/iommufd/device.c:9 0x6000'
LOCKDEP = 'WARNING: possible circular locking dependency detected'


class IommuFaultLogTest(unittest.TestCase):
	"""IOMMU fault reports: expected between the lines the uAPI test writes
	to /dev/kmsg around the DMA it makes fault, and only there."""

	BEGIN = '[   12.5] vfio-selftest: expected IOMMU fault begins'
	END = '[   12.9] vfio-selftest: expected IOMMU fault ends'
	DMAR = ('[   12.6] DMAR: [DMA Write NO_PASID] Request device [00:03.0] '
		'fault addr 0x1000000 [fault reason 0x02] Present bit in '
		'context entry is clear')
	DRHD = '[   12.6] DMAR: DRHD: handling fault status reg 2'
	VIRTIO = ('[   12.7] virtio_iommu virtio0: mapping fault from EP 24 at '
		  '0x1000800 [w]')

	def test_announced(self):
		self.assertEqual(check_kernel_log(
			[self.BEGIN, self.DRHD, self.DMAR, self.END]), (2, []))
		self.assertEqual(check_kernel_log(
			[self.BEGIN, self.VIRTIO, self.END]), (1, []))

	def test_unannounced(self):
		for line in (self.DMAR, self.DRHD, self.VIRTIO):
			self.assertEqual(check_kernel_log([line]),
					 (0, [f'line 1: {line}']))

	def test_after_the_bracket(self):
		self.assertEqual(check_kernel_log(
			[self.BEGIN, self.DMAR, self.END, self.VIRTIO]),
			(1, [f'line 4: {self.VIRTIO}']))

	def test_announced_fault_did_not_come(self):
		self.assertEqual(check_kernel_log([self.BEGIN, self.END]), (0, [
			'line 1: announced IOMMU faults did not come']))

	def test_bracket_never_ended(self):
		self.assertEqual(check_kernel_log([self.BEGIN, self.DMAR]), (1, [
			'line 1: IOMMU fault bracket never ended']))

	def test_other_reports_still_count(self):
		warn = 'WARNING: CPU: 1 PID: 80 at mm/gup.c:10 f+0x1/0x2'
		self.assertEqual(check_kernel_log(
			[self.BEGIN, self.DMAR, warn, self.END]),
			(1, [f'line 3: {warn}']))


class KernelLogTest(unittest.TestCase):

	def check(self, *lines):
		return check_kernel_log(list(lines))

	def test_clean_log(self):
		self.assertEqual(self.check('ok 1 - a', 'ok 2 - b'), (0, []))

	def test_announced_warning(self):
		seen, problems = self.check(BEGIN, '---[ cut here ]---', WARN, END)
		self.assertEqual((seen, problems), (1, []))

	def test_warning_outside_bracket(self):
		seen, problems = self.check(WARN)
		self.assertEqual(seen, 0)
		self.assertEqual(len(problems), 1)

	def test_warning_from_other_file(self):
		_, problems = self.check(BEGIN, OTHER_WARN, END)
		self.assertEqual(len(problems), 2)

	def test_lockdep_report_in_bracket(self):
		_, problems = self.check(BEGIN, WARN, LOCKDEP, END)
		self.assertEqual(len(problems), 1)

	def test_missing_warning(self):
		_, problems = self.check(BEGIN, END)
		self.assertEqual(len(problems), 1)

	def test_two_warnings(self):
		_, problems = self.check(BEGIN, WARN, WARN, END)
		self.assertEqual(len(problems), 1)

	def test_bug_and_kasan(self):
		_, problems = self.check('BUG: sleeping function called from '
					 'invalid context', 'BUG: KASAN: '
					 'use-after-free in foo')
		self.assertEqual(len(problems), 2)

	def test_two_announced_files(self):
		rust = BEGIN.replace('drivers/vfio/vfio_main.c', 'rust/helpers/vfio.c')
		rust_warn = WARN.replace('drivers/vfio/vfio_main.c', 'rust/helpers/vfio.c')
		self.assertEqual(self.check(rust, BEGIN, WARN, rust_warn, END), (2, []))
		_, problems = self.check(rust, BEGIN, WARN, WARN, END)
		self.assertEqual(len(problems), 2)

	def test_unterminated_bracket(self):
		_, problems = self.check(BEGIN, WARN)
		self.assertEqual(len(problems), 1)


# --- The kernel log check: announcements with a function, more reports ------

KUNIT_LOG = 'kunit-vfio-test.log'


class WarningAtTest(unittest.TestCase):
	"""Both formats of a WARNING report's origin."""

	def test_6_12(self):
		self.assertEqual(run_logcheck.warning_at(
			'WARNING: CPU: 0 PID: 1 at drivers/vfio/vfio_main.c:349 '
			'__vfio_register_dev+0x11b/0x1a0'),
			('drivers/vfio/vfio_main.c', 349,
			 '__vfio_register_dev+0x11b/0x1a0'))

	def test_7_x(self):
		self.assertEqual(run_logcheck.warning_at(
			'WARNING: drivers/vfio/vfio_main.c:351 at '
			'__vfio_register_dev+0xea/0x170, CPU#0: kunit_try_catch/37'),
			('drivers/vfio/vfio_main.c', 351,
			 '__vfio_register_dev+0xea/0x170'))

	def test_not_a_location(self):
		self.assertIsNone(run_logcheck.warning_at(
			'WARNING: bad unlock balance detected!'))

	def test_7_x_announced(self):
		"""A 7.x report matches its announcement, and only that."""
		lines = ['vfio-kunit: expected WARNING from '
			 'drivers/vfio/vfio_main.c:__vfio_register_dev begins',
			 'WARNING: drivers/vfio/vfio_main.c:351 at '
			 '__vfio_register_dev+0xea/0x170, CPU#0: kunit_try_catch/37',
			 'vfio-kunit: expected WARNING ends']
		self.assertEqual(check_kernel_log(lines), (1, []))
		wrong = [lines[0].replace('vfio_main.c', 'iommufd.c')] + lines[1:]
		self.assertEqual(len(check_kernel_log(wrong)[1]), 2)


def reannounced(lines, how):
	"""lines with each announcement's 'FILE:FUNCTION' (or 'FILE') as
	how(FILE, FUNCTION or None) gives it."""
	out = []
	for line in lines:
		m = run_logcheck.EXPECT_BEGIN.search(line)
		if m:
			path, function = run_logcheck.warning_from(m.group(1))
			line = line.replace(f'from {m.group(1)} ',
					    f'from {how(path, function)} ')
		out.append(line)
	return out


# The reports of the real log whose symbol is not the function they
# announce, the run's tree naming it at the report's line:
# detach_unbound_warns's, from vfio_iommufd_physical_detach_ioas inlined
# into the case, on c-physical (the first, below) and on rust-physical;
# and attach_detach_assert_dev_set_lock's on rust-physical, from the
# helper rust_helper_vfio_device_assert_dev_set_locked inlined into the
# Rust sample's attach and detach callbacks, each in a bracket that also
# announces the C function's WARNING.
INLINED_WARN = ('WARNING: drivers/vfio/iommufd.c:181 at '
		'vfio_conf_detach_unbound+0x86/0x200, CPU#1: kunit_try_catch/788')
INLINED_BEGIN = ('    # detach_unbound_warns: vfio-kunit: expected WARNING from '
		 'drivers/vfio/iommufd.c:vfio_iommufd_physical_detach_ioas begins')
RUST_HELPER = ('rust/helpers/vfio.c:'
	       'rust_helper_vfio_device_assert_dev_set_locked')
RUST_HELPER_BEGIN = ('    # attach_detach_assert_dev_set_lock: vfio-kunit: '
		     f'expected WARNING from {RUST_HELPER} begins')
RUST_ATTACH_WARN = (
	'WARNING: rust/helpers/vfio.c:13 at _RNvMsg_NtCsl7L7n58I0Vr_6kernel4vfio'
	'INtB5_6VTableNtCsJ7756ONES5_14rust_vfio_phys12RustVfioPhysE20attach_'
	'ioas_callbackBM_+0xf/0x40, CPU#0: kunit_try_catch/776')
RUST_DETACH_WARN = (
	'WARNING: rust/helpers/vfio.c:13 at _RNvMsg_NtCsl7L7n58I0Vr_6kernel4vfio'
	'INtB5_6VTableNtCsJ7756ONES5_14rust_vfio_phys12RustVfioPhysE20detach_'
	'ioas_callbackBM_+0x9/0x20, CPU#0: kunit_try_catch/776')


def source_with(function, line):
	"""A C file in kernel style whose line `line` is in function's body."""
	return '// padding\n' * (line - 3) + (
		f'void {function}(struct vfio_device *vdev)\n{{\n'
		'\tWARN_ON(!vdev->iommufd_device);\n}\n')


ATTACH_WARN = ('WARNING: CPU: 0 PID: 264 at drivers/vfio/iommufd.c:147 '
	       'vfio_iommufd_physical_attach_ioas+0xcb/0xd0')
DETACH_WARN = ('WARNING: CPU: 0 PID: 264 at drivers/vfio/iommufd.c:165 '
	       'vfio_iommufd_physical_detach_ioas+0xa5/0xb0 [vfio]')


def begin(what):
	return f'    # vfio_conf_test: vfio-kunit: expected WARNING from {what} begins'


# A C file in kernel style: line 9 is in the second function.
FAKE_IOMMUFD_C = """int vfio_iommufd_physical_attach_ioas(struct vfio_device *vdev,
				     u32 *pt_id)
{
	return 0;
}
void vfio_iommufd_physical_detach_ioas(struct vfio_device *vdev)
{
	lockdep_assert_held(&vdev->dev_set->lock);
	WARN_ON(!vdev->iommufd_device);
}
"""


class AnnouncedFunctionTest(unittest.TestCase):
	def setUp(self):
		# No source tree: a report matches by its symbol only.
		self.tree = tempfile.TemporaryDirectory()
		self.saved = run_logcheck.SOURCE_TREE
		run_logcheck.SOURCE_TREE = self.tree.name

	def tearDown(self):
		run_logcheck.SOURCE_TREE = self.saved
		self.tree.cleanup()

	def write_source(self, path, text):
		full = os.path.join(self.tree.name, path)
		os.makedirs(os.path.dirname(full), exist_ok=True)
		with open(full, 'w') as f:
			f.write(text)

	def test_line_names_the_function_when_inlined(self):
		self.write_source('drivers/vfio/iommufd.c', FAKE_IOMMUFD_C)
		inlined = ('WARNING: CPU: 0 PID: 1 at drivers/vfio/iommufd.c:9 '
			   'vfio_conf_detach_unbound+0x85/0x1f0')
		self.assertEqual(check_kernel_log([
			begin('drivers/vfio/iommufd.c:'
			      'vfio_iommufd_physical_detach_ioas'),
			inlined, END]), (1, []))
		self.assertEqual(len(check_kernel_log([
			begin('drivers/vfio/iommufd.c:'
			      'vfio_iommufd_physical_attach_ioas'),
			inlined, END])[1]), 2)

	def test_enclosing_function(self):
		self.write_source('f.c', FAKE_IOMMUFD_C)
		found = [run_logcheck.enclosing_function('f.c', n)
			 for n in range(1, FAKE_IOMMUFD_C.count('\n') + 1)]
		attach = 'vfio_iommufd_physical_attach_ioas'
		detach = 'vfio_iommufd_physical_detach_ioas'
		# Headers are outside, braces inside, the body's lines inside.
		self.assertEqual(found, [None, None, attach, attach, attach,
					 None, detach, detach, detach, detach])
		self.assertIsNone(run_logcheck.enclosing_function('missing.c', 3))


	def real_tree(self):
		"""The source the real log's inlined reports need, as in the
		run's tree: iommufd.c:181 in vfio_iommufd_physical_detach_ioas,
		rust/helpers/vfio.c:13 in
		rust_helper_vfio_device_assert_dev_set_locked."""
		self.write_source('drivers/vfio/iommufd.c', source_with(
			'vfio_iommufd_physical_detach_ioas', 181))
		self.write_source('rust/helpers/vfio.c', source_with(
			'rust_helper_vfio_device_assert_dev_set_locked', 13))

	def test_real_log(self):
		lines = read_testdata(KUNIT_LOG)
		self.assertEqual(lines[lines.index(INLINED_BEGIN) + 2].strip(),
				 INLINED_WARN)
		rust = lines.index(RUST_HELPER_BEGIN)
		self.assertEqual(lines[rust + 3], RUST_ATTACH_WARN)
		rust = lines.index(RUST_HELPER_BEGIN, rust + 1)
		self.assertEqual(lines[rust + 3], RUST_DETACH_WARN)
		self.real_tree()
		self.assertEqual(check_kernel_log(lines), (18, []))

	def test_real_log_without_the_tree(self):
		"""Without the tree the inlined reports match no announcement
		of a function: by their symbols they are the KUnit case's and
		the Rust sample's callbacks'."""
		lines = read_testdata(KUNIT_LOG)
		detach = 'drivers/vfio/iommufd.c:vfio_iommufd_physical_detach_ioas'
		self.assertEqual(check_kernel_log(lines), (14, [
			f'line 449: {RUST_ATTACH_WARN}',
			f'line 446: announced WARNINGs from {RUST_HELPER} did not '
			'come',
			f'line 557: {RUST_DETACH_WARN}',
			f'line 554: announced WARNINGs from {RUST_HELPER} did not '
			'come',
			f'line 908: {INLINED_WARN}',
			f'line 906: announced WARNINGs from {detach} did not come',
			f'line 966: {INLINED_WARN.replace("/788", "/792")}',
			f'line 964: announced WARNINGs from {detach} did not come']))

	def test_real_log_file_only(self):
		"""The real log announced by file only, as 6.12's suites did:
		every report matches its file, without the tree."""
		lines = reannounced(read_testdata(KUNIT_LOG),
				    lambda path, function: path)
		self.assertEqual(sum(1 for l in lines if l.endswith(
			'expected WARNING from drivers/vfio/iommufd.c begins')), 12)
		self.assertEqual(check_kernel_log(lines), (18, []))

	def test_real_log_with_wrong_functions(self):
		# 18 reports, and 16 brackets whose announcements did not come
		# (each bracket announces one WARNING, but rust-physical's two
		# of attach_detach_assert_dev_set_lock announce two: the Rust
		# helper's and the C function's).
		self.real_tree()
		seen, problems = check_kernel_log(reannounced(
			read_testdata(KUNIT_LOG),
			lambda path, function: f'{path}:vfio_iommufd_other'))
		self.assertEqual((seen, len(problems)), (0, 34))

	def test_function(self):
		self.assertEqual(check_kernel_log([
			begin('drivers/vfio/iommufd.c:'
			      'vfio_iommufd_physical_attach_ioas'),
			ATTACH_WARN, END]), (1, []))

	def test_other_function_of_the_file(self):
		seen, problems = check_kernel_log([
			begin('drivers/vfio/iommufd.c:'
			      'vfio_iommufd_physical_attach_ioas'),
			DETACH_WARN, END])
		self.assertEqual(seen, 0)
		self.assertEqual(problems, [
			f'line 2: {DETACH_WARN}',
			'line 1: announced WARNINGs from drivers/vfio/iommufd.c:'
			'vfio_iommufd_physical_attach_ioas did not come'])

	def test_same_function_other_file(self):
		_, problems = check_kernel_log([
			begin('drivers/vfio/vfio_main.c:'
			      'vfio_iommufd_physical_attach_ioas'),
			ATTACH_WARN, END])
		self.assertEqual(len(problems), 2)

	def test_compiler_copy_of_the_function(self):
		warn = ATTACH_WARN.replace('_ioas+', '_ioas.isra.0+')
		self.assertEqual(check_kernel_log([
			begin('drivers/vfio/iommufd.c:'
			      'vfio_iommufd_physical_attach_ioas'),
			warn, END]), (1, []))
		prefix = ATTACH_WARN.replace('_ioas+', '_ioas_more+')
		self.assertEqual(check_kernel_log([
			begin('drivers/vfio/iommufd.c:'
			      'vfio_iommufd_physical_attach_ioas'),
			prefix, END])[0], 0)

	def test_no_symbol_in_the_report(self):
		_, problems = check_kernel_log([
			begin('drivers/vfio/vfio_main.c:__vfio_register_dev'),
			WARN, END])
		self.assertEqual(len(problems), 2)

	def test_file_only_still_accepted(self):
		self.assertEqual(check_kernel_log([
			begin('drivers/vfio/iommufd.c'), DETACH_WARN, END]), (1, []))

	def test_function_matched_before_file(self):
		self.assertEqual(check_kernel_log([
			begin('drivers/vfio/iommufd.c'),
			begin('drivers/vfio/iommufd.c:'
			      'vfio_iommufd_physical_detach_ioas'),
			DETACH_WARN, ATTACH_WARN, END]), (2, []))


class MoreReportsTest(unittest.TestCase):
	"""RCU stalls, hung tasks, kmemleak, KASAN and UBSAN are reports."""

	REPORTS = [
		'rcu: INFO: rcu_sched self-detected stall on CPU',
		'rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:',
		'INFO: rcu_sched detected stalls on CPUs/tasks: { 0-... }',
		'INFO: rcu_tasks detected stalls on tasks:',
		'INFO: task vfio_cdev_stres:123 blocked for more than 120 seconds.',
		'[  250.1] task:kworker/0:1 blocked for more than 122 seconds.',
		'kmemleak: 3 new suspected memory leaks (see '
		'/sys/kernel/debug/kmemleak)',
		'unreferenced object 0x000000006b5e8a00 (size 64):',
		'BUG: KASAN: slab-use-after-free in iopt_unmap_iova_range+0x1/0x2',
		'UBSAN: array-index-out-of-bounds in drivers/vfio/iommufd.c:12:3',
		'watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [init:1]',
		'NMI watchdog: Watchdog detected hard LOCKUP on cpu 1',
	]
	BENIGN = [
		'rcu: Hierarchical RCU implementation.',
		'rcu: RCU calculated value of scheduler-enlistment delay is 25 '
		'jiffies.',
		'kmemleak: Kernel memory leak detector initialized (mem pool '
		'available: 15731)',
		'kmemleak: Automatic memory scanning thread started',
		'kmemleak-scan: 0 suspected leaks',
		'"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this '
		'message.',
		'ok 12 vfio_cdev.c_physical.race_then_detach',
	]

	def test_reports(self):
		seen, problems = check_kernel_log(self.REPORTS)
		self.assertEqual((seen, problems), (0, [
			f'line {n}: {line.strip()}'
			for n, line in enumerate(self.REPORTS, 1)]))

	def test_benign_lines(self):
		self.assertEqual(check_kernel_log(self.BENIGN), (0, []))

	def test_step_rows_have_labels(self):
		import tempfile
		with tempfile.TemporaryDirectory() as tmp:
			clean = os.path.join(tmp, 'clean.log')
			stalled = os.path.join(tmp, 'stalled.log')
			with open(clean, 'w') as f:
				f.write('\n'.join(self.BENIGN))
			with open(stalled, 'w') as f:
				f.write('\n'.join(self.BENIGN + self.REPORTS[:1]))
			results = Results()
			quietly(lambda: (
				run_logcheck.step_kernel_log(results, clean,
						    'kernel log (pristine base)'),
				run_logcheck.step_kernel_log(results, stalled,
						    'kernel log (bench: DMA)'),
				run_logcheck.step_kernel_log(results, os.path.join(tmp, 'no'),
						    'kernel log (bench: iommufd)')))
		self.assertEqual([r[:3] for r in results.rows], [
			('kernel log (pristine base)', 1, 0),
			('kernel log (bench: DMA)', 0, 1),
			('kernel log (bench: iommufd)', 0, 1)])


class ShowKernelLogTest(unittest.TestCase):
	"""show_kernel_log(): the log of a kernel without a fix is shown, not
	counted."""

	def test_shown_not_counted(self):
		with tempfile.NamedTemporaryFile('w') as log:
			log.write('Run /init as init process\n'
				  'BUG: sleeping function called from invalid '
				  'context\n')
			log.flush()
			value, out = quietly(run_logcheck.show_kernel_log, log.name,
					     'pristine base')
		self.assertIsNone(value)
		self.assertEqual(out, "  pristine base's kernel log, not counted: "
				 'line 2: BUG: sleeping function called from '
				 'invalid context\n')


if __name__ == '__main__':
	unittest.main()
