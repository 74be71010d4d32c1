# SPDX-License-Identifier: GPL-2.0
"""What the unit tests of tools/run.py and of the series tool share
(test_run_*.py, test_series.py): the real outputs they start from, and
helpers to read them and to run a step quietly.

tools/testdata/ holds real output of a clean run of the 7.3 line's tip (4
Dec 2026, the C samples with the PASID half; the Rust samples were not yet
on 7.3, so its devices and rows are the C drivers' alone, and a test
counting them with the line's four drivers sees the Rust rows missing):
kunit-results.json (kunit.py's JSON of build/kunit-7.3-results.json:
vfio_registration, vfio_iommufd with the PASID cases on c-physical and
c-emulated, rust_doctests_kernel and two other Rust suites),
kunit-vfio-test.log (the vfio suites' part of the same run's
build/kunit-7.3/test.log, its announcements naming FILE:FUNCTION),
vfio-user-console.log (the uAPI and the stress test's part of
build/uml-user-7.3/tip/console.log, the programs' markers with their
arguments, '-V vfio_pci', as uml-init writes them) and
vfio-fail-nth-console.log (vfio_cdev_fail_nth's part of the same console).
The tests break copies of them the ways a run can go wrong.
"""

import contextlib
import io
import os

from run_matrix import DRIVER_KINDS
from uml_user import TOTALS_STATUSES

TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)),
			'testdata')

# The drivers of the run testdata/ comes from: the C samples.
TESTDATA_KINDS = {drv: kind for drv, kind in DRIVER_KINDS.items()
		  if drv.startswith('c-')}


def read_testdata(name):
	with open(os.path.join(TESTDATA, name)) as f:
		return f.read().splitlines()


def harness_totals(tests):
	"""The Totals line the kselftest harness prints for tests."""
	return {st: sum(1 for s in tests.values() if s == st)
		for st in TOTALS_STATUSES}


def quietly(function, *args):
	"""function(*args) with its output captured: (return value, output)."""
	out = io.StringIO()
	with contextlib.redirect_stdout(out):
		value = function(*args)
	return value, out.getvalue()
