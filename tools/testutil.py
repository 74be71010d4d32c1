# SPDX-License-Identifier: GPL-2.0
"""What the unit tests of tools/run.py and of the series tool share
(test_run_*.py, test_series.py): the real outputs they start from, and
helpers to read them, to break copies of them and to run a step quietly.

tools/testdata/ holds real output of a complete run of the 7.3 line's tip
(4 Dec 2026, `bash .ci/run` on a fresh clone of commit 0e33822, Linux
7.3.4, all four sample drivers: c-physical, c-emulated, rust-physical and
rust-emulated, the line's DRIVER_KINDS), cut from its build/:
kunit-results.json (kunit.py's JSON, build/kunit-results.json whole:
suites rust_kernel_fmt, rust_spinlock_irq_condvar, rust_doctests_kernel
with 360 cases, vfio_registration, and vfio_iommufd with the PASID cases
on the four drivers, 82 passed and 38 skips of cases not for the
driver's kind), kunit-vfio-test.log (the vfio suites' part of the same
run's kunit test.log, lines 928-2313 of build/kunit-7.3/test.log, its
announcements naming FILE:FUNCTION), vfio-user-console.log (the uAPI and
the stress test's part of the UML console, lines 131-684 of
build/uml-user/tip/console.log, the programs' markers with their
arguments, '-V vfio_pci', as uml-init writes them) and
vfio-fail-nth-console.log (vfio_cdev_fail_nth's part of the same console,
its lines 685-813). vfio-user-console.log was cut again on 5 Dec 2026
(lines 131-728 of the same file, of the run of step_mainline's tip with
the emulated samples' device tests, D1 to D3: 168 tests), and
nested-console.log is the whole console of a 'make nested' boot of that
day (build/nested/console.log).
The tests break copies of them the ways a run can go wrong.
"""

import contextlib
import io
import os

import uml_user

TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)),
			'testdata')


def read_testdata(name):
	with open(os.path.join(TESTDATA, name)) as f:
		return f.read().splitlines()


def harness_totals(tests):
	"""The Totals line the kselftest harness prints for tests."""
	return {st: sum(1 for s in tests.values() if s == st)
		for st in uml_user.TOTALS_STATUSES}


def edit_console(lines, drop=lambda name: False, fix_counts=True):
	"""lines without the TAP result lines of the tests drop(name) is true
	for; with fix_counts, each program's plan and Totals line then count
	only the tests that are left, as if the others had never been."""
	out = []
	for line in lines:
		m = uml_user.TAP_RESULT.match(line)
		if m and drop((m.group(3) or '').split(' #')[0].strip()):
			continue
		out.append(line)
	if not fix_counts:
		return out
	fixed, frame = [], []
	for line in out + ['uml-init: BEGIN (end)']:
		if uml_user.BEGIN.search(line):
			tests = uml_user.parse_tap(frame).results
			for l in frame:
				if uml_user.TAP_PLAN.match(l):
					l = f'1..{len(tests)}'
				elif uml_user.TAP_TOTALS.match(l):
					l = '# Totals: ' + uml_user.format_totals(
						harness_totals(tests))
				fixed.append(l)
			frame = []
		frame.append(line)
	return fixed


def rust_test(name):
	"""Whether the test '<fixture>.<variant>.<test>' is of a Rust
	sample's device (variant rust_physical or rust_emulated)."""
	return name.split('.')[1:2] in (['rust_physical'], ['rust_emulated'])


def quietly(function, *args):
	"""function(*args) with its output captured: (return value, output)."""
	out = io.StringIO()
	with contextlib.redirect_stdout(out):
		value = function(*args)
	return value, out.getvalue()
