# SPDX-License-Identifier: GPL-2.0
"""The matrices of tools/run.py: which rule of the contract each case of
the vfio_iommufd KUnit suite (the conformance matrix) and each test of the
VFIO cdev test programs (the uAPI matrix) checks, how many each kind of
driver must have per rule, and the tables that show and check them; the
table of upstream's VFIO selftests in the x86_64 guests.
"""

import collections

import uml_user
from run_common import VFIO_STRESS_PROGRAM, VFIO_UAPI_PROGRAM

# The contract's order of rule families: registration, ops, PASID, uAPI,
# security.
RULE_ORDER = 'ROPUSD'

# The sample drivers of both matrices, in their order, and their kind.
DRIVER_KINDS = {'c-physical': 'physical', 'c-emulated': 'emulated',
		'rust-physical': 'physical', 'rust-emulated': 'emulated'}

# The cases of the vfio_iommufd suite (KUNIT_CASE_PARAM, the driver under
# test their parameter) in kunit/drivers/vfio/tests/vfio_iommufd_kunit.c,
# each with the rule of the contract it checks (the rule codes stay out of
# the kernel's names) and the kinds of device it is for: on a driver of
# another kind it must skip. A case added to or dropped from the suite must
# be added or dropped here too.
BOTH = ('physical', 'emulated')
KUNIT_CASES = {
	'attach_detach_assert_dev_set_lock': ('O1', BOTH),
	'attach_unbound_warns': ('O2', ('physical',)),
	'detach_unbound_warns': ('O2', ('physical',)),
	'attach_ioas_writes_back_pt_id': ('O3', BOTH),
	'attach_hwpt_keeps_its_id': ('O3', ('physical',)),
	'attach_unknown_id_fails': ('O4', BOTH),
	'attach_device_id_fails': ('O4', ('physical',)),
	'emulated_attach_hwpt_fails': ('O4', ('emulated',)),
	'attach_when_attached_replaces': ('O5', BOTH),
	'replace_with_same_table_is_noop': ('O5', BOTH),
	'failed_replace_keeps_table': ('O6', BOTH),
	'detach_when_detached_is_noop': ('O7', BOTH),
	'detach_frees_auto_hwpt': ('O8', BOTH),
	'attached_objects_are_busy': ('O9', BOTH),
	'unbind_attached_detaches': ('O10', BOTH),
	'emulated_bind_unmaps_nothing': ('O11', ('emulated',)),
	'emulated_detach_unmaps_all': ('O11', ('emulated',)),
	'emulated_unbind_unmaps_all': ('O11', ('emulated',)),
	'emulated_replace_unmaps_old_ioas': ('O11', ('emulated',)),
	'group_peers_share_hwpt': ('O12', ('physical',)),
	'devices_race_attach_replace_detach': ('O5', BOTH),
}
# The PASID cases of the suite, for physical devices: their mock devices
# have PASIDs.
KUNIT_CASES.update({
	'pasid_attach_keeps_rid': ('P1', ('physical',)),
	'pasid_attach_ioas_fails': ('P1', ('physical',)),
	'pasid_attach_when_attached_replaces': ('P2', ('physical',)),
	'pasid_failed_replace_keeps_table': ('P2', ('physical',)),
	'pasids_race_attach_replace_detach': ('P2', ('physical',)),
	'pasid_detach_keeps_rid': ('P3', ('physical',)),
	'pasid_detach_when_detached_is_noop': ('P3', ('physical',)),
	'unbind_detaches_pasids': ('P4', ('physical',)),
	'pasid_failed_attach_keeps_state': ('P6', ('physical',)),
})


def kunit_rule_cases(cases=KUNIT_CASES):
	"""The cases each driver must have, per kind and rule, of the suite's
	cases (a rule with none does not apply to the kind: '-' in the
	matrix)."""
	return {kind: dict(collections.Counter(
		rule for rule, kinds in cases.values() if kind in kinds))
		for kind in BOTH}


KUNIT_RULE_CASES = kunit_rule_cases()


def vfio_iommufd_leaves(group):
	"""(case, driver, status) of each result of the vfio_iommufd suite in
	kunit.py's JSON group; driver None for a case without parameters."""
	for suite in group['sub_groups']:
		if suite['name'] != 'vfio_iommufd':
			continue
		for case in suite['sub_groups']:
			for leaf in case['test_cases']:
				yield case['name'], leaf['name'], leaf['status']
		for case in suite['test_cases']:
			yield case['name'], None, case['status']


def not_for(case, driver, cases=KUNIT_CASES):
	"""Whether the vfio_iommufd case is not for the driver's kind (and so
	must skip on it), cases being the line's suite."""
	known = cases.get(case)
	kind = DRIVER_KINDS.get(driver)
	return known is not None and kind is not None and kind not in known[1]


# The tests of vfio_cdev_uapi_test and vfio_cdev_stress_test, named after
# what they check, each with the rule of the contract it checks (the rule
# codes stay out of the tests' names). A test added or renamed must be
# added here too, or the matrix reports it.
UAPI_TESTS = {
	'bind_closed_fd': 'U1',
	'bind_negative_fd': 'U1',
	'bind_not_iommufd': 'U1',
	'bind_short_argsz': 'U1',
	'bind_unknown_flags': 'U1',
	'bind_twice': 'U2',
	'second_open_bind': 'U2',
	'ioctl_before_bind': 'U3',
	'attach_short_argsz': 'U4',
	'attach_unknown_flags': 'U4',
	'detach_short_argsz': 'U4',
	'detach_unknown_flags': 'U4',
	'attach_device_id': 'U5',
	'attach_hwpt': 'U5',
	'attach_ioas': 'U5',
	'attach_unknown_id': 'U5',
	'failed_replace_keeps_attachment': 'U5',
	'replace': 'U5',
	'replace_moves_dma': 'U5',
	'replace_same': 'U5',
	'unreadable_args': 'U5',
	'writeback_fault_attached_detaches': 'U5',
	'writeback_fault_detaches': 'U5',
	'detach_not_attached': 'U6',
	'detach_twice': 'U6',
	'close_attached': 'U7',
	'close_attached_hwpt': 'U7',
	'rebind_dma': 'U7',
	'qemu_order': 'U8',
	'qemu_order_hwpt': 'U8',
	'race_then_close_attached': 'U9',
	'race_then_detach': 'U9',
	'second_fd_cannot_act': 'S1',
	'unbound_fd_only_binds': 'S1',
	'foreign_device_id_unknown': 'S2',
	'foreign_ids_unknown': 'S2',
	'no_dma_after_detach': 'S3',
	'cdev_blocks_group': 'S4',
	'group_blocks_cdev': 'S4',
}

# The PASID tests of vfio_cdev_uapi_test: fixture vfio_pasid on the physical
# sample, whose mock device has PASIDs, and vfio_emulated's test of a
# driver without the PASID callbacks.
UAPI_TESTS.update({
	'pasid_attach_keeps_rid': 'P1',
	'pasid_attach_ioas': 'P1',
	'pasid_replace': 'P2',
	'pasid_failed_replace_keeps_attachment': 'P2',
	'pasid_detach_keeps_rid': 'P3',
	'pasid_detach_not_attached': 'P3',
	'close_detaches_pasids': 'P4',
	'pasid_flag_unsupported': 'P5',
	'pasid_failed_attach_keeps_state': 'P6',
	'pasid_writeback_fault_keeps_rid': 'P6',
	'pasid_short_argsz': 'U4',
})
# The emulated samples' device uAPI beyond the contract's callbacks, what a
# VMM needs of a driver besides them (fixture vfio_emulated): D1 the info
# ioctls (GET_INFO, GET_REGION_INFO with capabilities, GET_IRQ_INFO), D2
# interrupts through SET_IRQS eventfds, which end with the open that set
# them, D3 mmap of a region and RESET.
UAPI_TESTS.update({
	'device_info': 'D1',
	'region_info': 'D1',
	'irq_info': 'D1',
	'doorbell_eventfd': 'D2',
	'triggers_end_with_the_open': 'D2',
	'mailbox_mmap': 'D3',
})
# The same for the uAPI matrix: the tests of vfio_cdev_uapi_test (fixture
# vfio_cdev for every device, vfio_physical and vfio_emulated for one kind)
# and, for U9, of vfio_cdev_stress_test, in
# kunit/tools/testing/selftests/vfio/, as the console log
# build/uml-user/tip/console.log of the run of 5 Dec 2026 has them (168
# and 8 tests: 44 + 2 per physical driver, 40 + 2 per emulated one), with
# the PASID tests above (vfio_pasid's ten on the physical samples,
# vfio_emulated's P5 on the emulated ones) and the emulated samples' D1 to
# D3.
UAPI_RULE_CASES = {
	'physical': {'U1': 5, 'U2': 2, 'U3': 1, 'U4': 5, 'U5': 10, 'U6': 2,
		     'U7': 2, 'U8': 2, 'U9': 2, 'S1': 2, 'S2': 2, 'S4': 2,
		     'P1': 2, 'P2': 2, 'P3': 2, 'P4': 1, 'P6': 2},
	'emulated': {'U1': 5, 'U2': 2, 'U3': 1, 'U4': 4, 'U5': 10, 'U6': 2,
		     'U7': 1, 'U8': 1, 'U9': 2, 'S1': 2, 'S2': 2, 'S3': 1,
		     'S4': 2, 'P5': 1, 'D1': 3, 'D2': 2, 'D3': 1},
	# vfio-pci with QEMU's edu device, in the x86_64 guests: the physical
	# device's tests of fixtures vfio_cdev and vfio_physical, and those of
	# vfio_dma, whose proof is the device's DMA (37 tests), and the stress
	# test's two.
	'pci': {'U1': 5, 'U2': 2, 'U3': 1, 'U4': 4, 'U5': 11, 'U6': 2,
		'U7': 3, 'U8': 2, 'U9': 2, 'S1': 2, 'S2': 2, 'S3': 1, 'S4': 2},
}
# The drivers of the x86_64 guests' uAPI matrix: the samples and vfio-pci.
X86_DRIVER_KINDS = dict(DRIVER_KINDS, **{'vfio-pci': 'pci'})


def print_rule_matrix(title, source, cells, mark, expected,
		      kinds=DRIVER_KINDS):
	"""A table with a row per driver and a column per rule of the contract.

	cells: {driver: {rule: [status, ...]}}; mark(statuses) is the cell's
	text. expected: {kind: {rule: number of cases}}, the kind of a driver
	is kinds'. A rule that does not apply to a driver's kind and has
	no case is '-'; one that applies and has no case is 'MISS', one with
	another number of cases than expected 'n/m' (n cases, m expected).
	Returns those problems, one line each (a driver that lost its row
	gives one per rule that applies); a driver kinds does not know
	is one problem.
	"""
	drivers = list(kinds) + [d for d in cells if d not in kinds]
	rules = sorted({r for row in cells.values() for r in row} |
		       {r for kind in expected.values() for r in kind},
		       key=lambda r: (RULE_ORDER.find(r[0]),
				      int(r[1:]) if r[1:].isdigit() else 0))
	print(f'\n  {title} ({source}; pass = every case of the rule passed, '
	      '- = rule does not apply, MISS = no case of a rule that applies, '
	      'n/m = n cases, m expected)')
	print('  ' + f'{"driver":<14}' + ''.join(f'{r:>6}' for r in rules))
	problems = []
	for drv in drivers:
		row = cells.get(drv, {})
		if drv not in kinds:
			problems.append(f'{drv}: a driver of no known kind')
		want = expected.get(kinds.get(drv), {})
		marks = []
		for r in rules:
			got, need = len(row.get(r, [])), want.get(r, 0)
			if got == need:
				marks.append(mark(row[r]) if got else '-')
				continue
			marks.append('MISS' if not got else f'{got}/{need}')
			if drv in kinds:
				problems.append(f'{drv} {r}: {got} cases, {need} '
						'expected')
		print('  ' + f'{drv:<14}' + ''.join(f'{m:>6}' for m in marks))
	return problems


def print_matrix(group, kinds=DRIVER_KINDS, cases=KUNIT_CASES):
	"""The conformance matrix of the vfio_iommufd suite.

	Its cases are cases (KUNIT_CASES unless told), each
	run on every driver under test; a rule passes for a driver when all
	its cases for the driver's kind passed. Returns print_rule_matrix()'s
	problems (cells without the cases kunit_rule_cases() expects), and one
	for each case cases does not know and each case that did not skip on
	a driver it is not for.
	"""
	cells, problems = {}, []
	for case, driver, status in vfio_iommufd_leaves(group):
		if case not in cases:
			if f'unknown case {case}' not in problems:
				problems.append(f'unknown case {case}')
			continue
		if not_for(case, driver, cases):
			if status != 'SKIP':
				problems.append(f'{case} on {driver}: {status}, where a '
						'case not for its kind skips')
			continue
		cells.setdefault(driver, {}).setdefault(
			cases[case][0], []).append(status)

	def mark(statuses):
		if all(st == 'PASS' for st in statuses):
			return 'pass'
		if all(st == 'SKIP' for st in statuses):
			return 'skip'
		return 'FAIL'
	problems[0:0] = print_rule_matrix('Conformance matrix', 'vfio_iommufd',
					  cells, mark, kunit_rule_cases(cases),
					  kinds)
	return problems


# The uAPI test's fixtures are named after what they hold; its variants
# after the sample driver, as in the vfio_iommufd KUnit suite.
UAPI_DRIVERS = {'c_physical': 'c-physical', 'c_emulated': 'c-emulated',
		'rust_physical': 'rust-physical',
		'rust_emulated': 'rust-emulated', 'vfio_pci': 'vfio-pci',
		'rust_vfio_pci': 'rust-vfio-pci'}


def print_uapi_matrix(*results, kinds=DRIVER_KINDS, title='uAPI matrix',
		      tests=UAPI_TESTS, rule_cases=UAPI_RULE_CASES):
	"""The uAPI matrix of vfio_cdev_uapi_test and vfio_cdev_stress_test.

	Test names are '<fixture>.<variant>.<test>', each test a rule of
	tests (UAPI_TESTS unless told); a rule passes for a
	driver when all its tests passed, and must have the number of tests
	rule_cases gives for the driver's kind. A result may be None (did
	not run). The rows are the drivers of kinds. Returns
	print_rule_matrix()'s problems, and one per test tests does not know.
	"""
	cells = {drv: {} for drv in kinds}
	unknown = []
	for result in filter(None, results):
		for name, status in result.tests.items():
			parts = name.split('.')
			if len(parts) != 3 or parts[1] not in UAPI_DRIVERS:
				continue
			rule = tests.get(parts[2])
			if rule is None:
				if f'unknown test {parts[2]}' not in unknown:
					unknown.append(f'unknown test {parts[2]}')
				continue
			cells[UAPI_DRIVERS[parts[1]]].setdefault(
				rule, []).append(status)
	return print_rule_matrix(
		title, f'{VFIO_UAPI_PROGRAM}, U9 {VFIO_STRESS_PROGRAM}',
		cells,
		lambda sts: 'pass' if all(st in uml_user.PASSED for st in sts)
		else 'FAIL', rule_cases, kinds) + unknown


def print_vfio_upstream_matrix(cells, programs):
	"""The lines of the table of upstream's VFIO selftests on the edu
	device: a row per program of programs, a column per guest of cells
	({guest: {program: (passed, tests, listed)}}), each cell 'passed/tests'
	and the listed failures; '-' where the program did not run."""
	guests = list(cells)
	width = max(len(p) for p in programs)
	lines = ['', '  upstream VFIO selftests on the edu device '
		 '(passed/tests, listed failures)',
		 f'    {"":<{width}}' + ''.join(f'  {g:<22}' for g in guests)]
	for prog in programs:
		row = []
		for guest in guests:
			cell = cells[guest].get(prog)
			row.append('-' if cell is None else
				   f'{cell[0]}/{cell[1]}' +
				   (f', {cell[2]} listed' if cell[2] else ''))
		lines.append(f'    {prog:<{width}}' +
			     ''.join(f'  {c:<22}' for c in row))
	return lines
