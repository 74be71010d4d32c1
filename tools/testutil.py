# SPDX-License-Identifier: GPL-2.0
"""What the unit tests of tools/run.py and of the series tool share
(test_run_*.py, test_series.py): the real outputs they start from, and
helpers to read them and to run a step quietly.

tools/testdata/ holds real output of clean runs: kunit-results.json
(kunit.py's JSON, 3 Dec 2026, one case per behaviour of vfio_iommufd),
kunit-vfio-test.log (the vfio suites' part of build/kunit-uml/test.log, 2
Dec 2026), vfio-user-console.log (the uAPI and the stress test's part of
build/uml-user/patched/console.log, 2 Dec 2026, with the tests' names as
they are since 3 Dec 2026: without rule codes) and
vfio-fail-nth-console.log (vfio_cdev_fail_nth's part of a console of the
same boot with CONFIG_FAIL_PAGE_ALLOC and CONFIG_FAULT_INJECTION_USERCOPY).
The tests break copies of them the ways a run can go wrong.
"""

import contextlib
import io
import os

from uml_user import TOTALS_STATUSES

TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)),
			'testdata')


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
