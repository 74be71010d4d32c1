# SPDX-License-Identifier: GPL-2.0
"""The kernel log check of tools/run.py: the reports a kernel prints for a
bug, the brackets in which a test announces the WARNINGs and IOMMU faults
it causes, and the step that checks a test.log or console log against
them (step_kernel_log()).
"""

import os
import re

from run_common import KSRC

# A report the kernel prints for a bug: WARN, BUG, lockdep, KASAN, UBSAN, RCU
# stalls, hung tasks, soft and hard lockups, kmemleak's suspected leaks.
REPORT = re.compile(r'(WARNING:|BUG:|Oops|Kernel panic|kernel BUG at|UBSAN:|'
		    r'KASAN:|general protection fault|INFO: task .* blocked|'
		    r'blocked for more than \d+ seconds|'
		    r'INFO: rcu|rcu: INFO:|rcu_\w+ (?:self-)?detected stall|'
		    r'detected stalls on CPU|'
		    r'soft lockup|hard LOCKUP|'
		    r'kmemleak: .*new suspected memory leak|'
		    r'unreferenced object 0x|'
		    r'inconsistent lock state|possible recursive locking|'
		    r'possible circular locking|suspicious RCU usage)')
# 'FILE' or 'FILE:FUNCTION': the WARNING must come from that file (and that
# function, when one is named).
EXPECT_BEGIN = re.compile(r'vfio-kunit: expected WARNING from (\S+) begins')
EXPECT_END = re.compile(r'vfio-kunit: expected WARNING ends')
# A fault an IOMMU driver reports for a device's DMA: Intel VT-d's
# "DMAR: [DMA Write NO_PASID] Request device [00:03.0] fault addr ..." with
# its "DMAR: DRHD: handling fault status reg N", virtio-iommu's
# "virtio_iommu virtio0: mapping fault from EP 24 at 0x1000800 [w]". None
# may come but between the lines the uAPI test writes to /dev/kmsg around
# the DMA it makes fault, and there at least one must.
IOMMU_FAULT = re.compile(r'DMAR: \[(?:DMA|INTR-REMAP)|DMAR: DRHD: handling '
			 r'fault|\bfault from EP \d+')
FAULTS_BEGIN = re.compile(r'vfio-selftest: expected IOMMU fault begins')
FAULTS_END = re.compile(r'vfio-selftest: expected IOMMU fault ends')
# 'WARNING: CPU: 0 PID: 1 at FILE:LINE FUNCTION+0x45/0x80 [module]'; without
# symbols the function is an address.
# Where a WARNING report says it comes from: (file, line, symbol+offset).
# 6.12 reports 'WARNING: CPU: 0 PID: 1 at FILE:LINE SYMBOL+0x../0x..';
# since 6.19 the file comes first: 'WARNING: FILE:LINE at SYMBOL+0x../0x..,
# CPU#0: ...'.
WARNING_AT = re.compile(r'WARNING: (?:(\S+):(\d+) at ([^\s,]+)|'
			r'.*? at (\S+):(\d+) (\S+))')
# The kernel tree whose sources name the function of a WARNING's line.
SOURCE_TREE = KSRC


def enclosing_function(path, line, ksrc=None):
	"""The C function of the kernel tree whose body holds line `line` of
	`path`, or None: the definition before the nearest '{' that starts a
	line above it, unless a '}' that starts a line closes it first (kernel
	style puts both braces of a function body in column 0)."""
	try:
		with open(os.path.join(ksrc or SOURCE_TREE, path),
			  errors='replace') as f:
			lines = f.read().splitlines()
	except OSError:
		return None
	i = min(line, len(lines)) - 1
	while i >= 0 and not lines[i].startswith('{'):
		if lines[i].startswith('}') and i < line - 1:
			return None
		i -= 1
	start = i - 1
	while start > 0 and lines[start][:1] in (' ', '\t'):
		start -= 1
	if start < 0:
		return None
	m = re.search(r'([A-Za-z_]\w*)\s*\(', ' '.join(lines[start:i]))
	return m.group(1) if m else None


def warning_from(announced):
	"""(file, function or None) of an announcement's 'FILE[:FUNCTION]'."""
	path, _, function = announced.rpartition(':')
	if path and re.fullmatch(r'[A-Za-z_]\w*', function):
		return path, function
	return announced, None


def warning_at(line):
	"""(file, line number, symbol+offset) of a WARNING report line, or
	None when it is none (see WARNING_AT)."""
	m = WARNING_AT.search(line)
	if not m:
		return None
	groups = m.groups()[:3] if m.group(1) else m.groups()[3:]
	return groups[0], int(groups[1]), groups[2]


def warning_matches(announced, line, ksrc=None):
	"""Whether the WARNING report line is what announced announces: from
	its file and, when it names one, its function: the report's symbol
	(or a compiler's copy of it, FUNCTION.isra.0, .constprop.0, .cold, ...),
	or the function of the kernel tree whose body holds the report's line,
	as the symbol is the caller when the function was inlined; the
	function is looked up in ksrc (SOURCE_TREE without)."""
	report = warning_at(line)
	if not report:
		return False
	path, function = warning_from(announced)
	if report[0] != path:
		return False
	if function is None:
		return True
	symbol = report[2].split('+')[0]
	return (symbol == function or symbol.startswith(f'{function}.') or
		enclosing_function(path, report[1], ksrc) == function)


def check_kernel_log(lines, ksrc=None):
	"""Unexpected reports, and brackets that did not see what they announced.

	Each begin line of a bracket announces one WARNING from a source file,
	'FILE', or from a function of it, 'FILE:FUNCTION'; a "WARNING: ... at
	<file>:<line> <function>+0x..." report counts for an announcement of
	that file (and function, if it names one; those are matched first),
	and at the end every announcement must have its report. An IOMMU
	fault report (IOMMU_FAULT) is expected between the two lines of a
	FAULTS_BEGIN/FAULTS_END bracket, which must have at least one.
	The functions of reports are looked up in the kernel tree ksrc
	(SOURCE_TREE without). Returns (announced warnings and IOMMU faults
	seen, list of problems).
	"""
	problems = []
	seen = 0
	expected = None		# (line of the first begin, files still expected)
	faults = None		# (line of the begin, IOMMU faults seen in it)
	for n, line in enumerate(lines, 1):
		if FAULTS_BEGIN.search(line):
			if faults is not None:
				problems.append(f'line {n}: IOMMU fault bracket '
						'begins twice')
			faults = (n, 0)
			continue
		if FAULTS_END.search(line):
			if faults is None:
				problems.append(f'line {n}: IOMMU fault bracket end '
						'without begin')
			elif not faults[1]:
				problems.append(f'line {faults[0]}: announced IOMMU '
						'faults did not come')
			faults = None
			continue
		if IOMMU_FAULT.search(line):
			if faults is None:
				problems.append(f'line {n}: {line.strip()}')
			else:
				faults = (faults[0], faults[1] + 1)
				seen += 1
			continue
		m = EXPECT_BEGIN.search(line)
		if m:
			if expected is None:
				expected = (n, [])
			expected[1].append(m.group(1))
			continue
		if EXPECT_END.search(line):
			if expected is None:
				problems.append(f'line {n}: bracket end without begin')
			elif expected[1]:
				problems.append(f'line {expected[0]}: announced WARNINGs '
						f'from {", ".join(expected[1])} did not come')
			expected = None
			continue
		if not REPORT.search(line):
			continue
		match = None
		if expected is not None and line.lstrip().startswith('WARNING:'):
			matches = [f for f in expected[1]
				   if warning_matches(f, line, ksrc)]
			match = next((f for f in matches if warning_from(f)[1]),
				     matches[0] if matches else None)
		if match:
			expected[1].remove(match)
			seen += 1
		else:
			problems.append(f'line {n}: {line.strip()}')
	if expected is not None:
		problems.append(f'line {expected[0]}: bracket never ended')
	if faults is not None:
		problems.append(f'line {faults[0]}: IOMMU fault bracket never ended')
	return seen, problems


def show_kernel_log(path, what, ksrc=None):
	"""Say what the log check finds in the kernel log at path of a kernel
	of the tree ksrc that lacks a fix (what: which kernel), without
	counting it."""
	with open(path, errors='replace') as f:
		_, problems = check_kernel_log(f.read().splitlines(), ksrc)
	for p in problems:
		print(f'  {what}\'s kernel log, not counted: {p}')


def step_kernel_log(results, path, label='kernel log', ksrc=None):
	"""Check the kernel log at path (check_kernel_log()) of a kernel of
	the tree ksrc (SOURCE_TREE without) as row label."""
	if not os.path.exists(path):
		results.add(label, 0, 1, f'no {os.path.basename(path)}')
		return
	with open(path, errors='replace') as f:
		seen, problems = check_kernel_log(f.read().splitlines(), ksrc)
	for p in problems:
		print(f'  {label}: {p}')
	print(f'  {label}: {seen} announced WARNINGs and IOMMU faults seen '
	      f'where expected, {len(problems)} problems')
	results.add(label, 0 if problems else 1, 1 if problems else 0,
		    f'({seen} announced reports)')
