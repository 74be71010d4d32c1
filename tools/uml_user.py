#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""User space under UML: build static test programs, boot them, read results.

The UML kernel that runs the KUnit suites (kunit.enable=1) also boots user
space (kunit.enable=0) with kunit/uml-user.config on top of its
.kunitconfig files. Its root is a host directory (hostfs) holding a static
init, tools/uml-init.c, and the test programs; the init mounts proc, sysfs,
devtmpfs and debugfs, runs the programs one after another, frames each one's
output on the console with

    uml-init: BEGIN <command>
    uml-init: END <command> exit=<code> seconds=<s>

(exit=timeout when the init killed the program after its timeout, by
default DEFAULT_TIMEOUT seconds) and powers off. Any static binary can be
one of the programs: iommufd's selftests (tools/testing/selftests/iommu)
and the VFIO uAPI test are built the same way, from a kselftest-harness C
file, and run in one boot.

    include = install_headers(ksrc, f'{work}/headers')
    progs = build_selftests(ksrc, include, f'{work}/iommu')
    init = build_init(f'{work}/init')
    commands = make_root(f'{work}/root', init, list(progs.values()))
    boot = boot_uml(f'{kbuild}/linux', f'{work}/root', f'{work}/console.log')
    runs = parse_console(boot.log_lines())
    results = {r.name: program_result(r) for r in runs}

compare() holds the results of the patched kernel against those of the
base (the pristine base, or the base with only fixes) and against the list
of expected failures (read_expected(), linux/iommufd-selftests-uml.expected).
"""

import collections
import os
import re
import shutil
import signal
import subprocess
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INIT_SOURCE = os.path.join(TOP, 'tools', 'uml-init.c')
USER_CONFIG = os.path.join(TOP, 'kunit', 'uml-user.config')
EXPECTED = os.path.join(TOP, 'linux', 'iommufd-selftests-uml.expected')
IOMMU_SELFTESTS = 'tools/testing/selftests/iommu'
IOMMU_PROGRAMS = ('iommufd', 'iommufd_fail_nth')

# The kernel command line of a user-space boot, before the caller's options.
BOOT_ARGS = ['mem=1G', 'console=tty', 'root=/dev/root', 'rootfstype=hostfs',
	     'rw', 'init=/init', 'kunit.enable=0']

LIST_FILE = 'uml-init.list'
# A program of a boot, as make_root() takes it: its path, its arguments,
# the whole seconds it may run (None: the init's DEFAULT_TIMEOUT), the
# variables of its environment ({name: value}) and the init's other words
# for it (('iommu-faults',): it makes IOMMU faults on purpose). A plain
# path, or a shorter tuple, stands for a Program with the defaults.
Program = collections.namedtuple('Program', 'path args timeout env words',
				 defaults=((), None, None, ()))
# Seconds a program may run before the init kills its process group and
# goes on with the next one; tools/uml-init.c has the same default. A
# line of the list can set its own: 'timeout=<s> /<program> <args...>'.
DEFAULT_TIMEOUT = 300


class Error(Exception):
	"""A build step failed; the message names its log."""


def _run(cmd, log, cwd=None, env=None):
	"""Run cmd with its output appended to log (or discarded)."""
	with open(log or os.devnull, 'a') as out:
		out.write(f'$ {" ".join(cmd)}\n')
		out.flush()
		res = subprocess.run(cmd, cwd=cwd, env=env, stdout=out,
				     stderr=subprocess.STDOUT)
	if res.returncode:
		raise Error(f'{" ".join(cmd[:3])} ... failed ({res.returncode}), '
			    f'see {log}')


# --- Building ---------------------------------------------------------------

def install_headers(ksrc, dest, log=None):
	"""Install the uAPI headers of the kernel tree ksrc under dest.

	'make headers_install ARCH=x86' (UML's user space has the host's ABI)
	with its objects in dest/obj, so the tree itself stays clean; needs
	rsync. Returns the include directory, dest/include, for KHDR_INCLUDES.
	"""
	dest = os.path.abspath(dest)
	_run(['make', '-s', 'ARCH=x86', f'O={dest}/obj',
	      f'INSTALL_HDR_PATH={dest}', 'headers_install'], log, cwd=ksrc)
	return os.path.join(dest, 'include')


def build_selftests(ksrc, include, out, folder=IOMMU_SELFTESTS,
		    programs=IOMMU_PROGRAMS, log=None):
	"""Build a kselftest folder of ksrc statically with gcc.

	'make -C ksrc/folder KHDR_INCLUDES="-isystem include" OUTPUT=out
	LDFLAGS=-static'. Returns {program name: path of the binary} for the
	names in programs; raises Error if one was not built.
	"""
	out = os.path.abspath(out)
	os.makedirs(out, exist_ok=True)
	_run(['make', '-C', os.path.join(ksrc, folder), 'CC=gcc',
	      f'KHDR_INCLUDES=-isystem {os.path.abspath(include)}',
	      f'OUTPUT={out}', 'LDFLAGS=-static'], log)
	built = {}
	for name in programs:
		path = os.path.join(out, name)
		if not os.access(path, os.X_OK):
			raise Error(f'{folder}: {name} was not built, see {log}')
		built[name] = path
	return built


def build_static(source, out, log=None):
	"""Compile the C program source, of the project's tools/, into the
	static binary out, as the boots run them; returns out."""
	out = os.path.abspath(out)
	os.makedirs(os.path.dirname(out), exist_ok=True)
	_run(['gcc', '-static', '-O2', '-Wall', '-o', out, source], log)
	return out


def build_init(out, log=None):
	"""Compile tools/uml-init.c into the static binary out; returns out."""
	return build_static(INIT_SOURCE, out, log)


def make_root(root, init, programs):
	"""Make root afresh as the hostfs root of a boot.

	root gets /init, the mount points the init uses, each program at
	/<basename> and /uml-init.list, the order to run them in. Each of
	programs is a Program, or a path or a tuple that stands for one.
	Returns the commands, as the init will name them in its markers.
	"""
	root = os.path.abspath(root)
	if os.path.isdir(root):
		shutil.rmtree(root)
	for sub in ('proc', 'sys', 'dev'):
		os.makedirs(os.path.join(root, sub))
	shutil.copy(init, os.path.join(root, 'init'))
	commands, lines = [], []
	for prog in programs:
		prog = Program(prog) if isinstance(prog, str) else Program(*prog)
		name = os.path.basename(prog.path)
		if os.path.exists(os.path.join(root, name)):
			raise Error(f'two programs named {name}')
		shutil.copy(prog.path, os.path.join(root, name))
		commands.append(' '.join([f'/{name}', *prog.args]))
		words = [f'{var}={value}'
			 for var, value in (prog.env or {}).items()]
		if prog.timeout is not None:
			words.insert(0, f'timeout={int(prog.timeout)}')
		lines.append(' '.join([*words, *prog.words, commands[-1]]))
	with open(os.path.join(root, LIST_FILE), 'w') as f:
		f.write(''.join(f'{line}\n' for line in lines))
	return commands


def filter_kunitconfig(paths, exists=None, rust=True):
	"""The options of the .kunitconfig files paths, as one file's text.

	Drops an option whose symbol exists() says the tree does not have
	(the project's own options, for a build of the pristine base), and with
	rust=False every option that needs Rust (CONFIG_RUST*, *_RUST*).
	Comments and repeated lines go.
	"""
	seen = []
	for path in paths:
		with open(path) as f:
			for line in f:
				line = line.strip()
				m = re.match(r'(?:# )?CONFIG_(\w+)[= ]', line)
				if not m or line in seen:
					continue
				if not rust and 'RUST' in m.group(1).split('_'):
					continue
				if exists and not exists(m.group(1)):
					continue
				seen.append(line)
	return ''.join(f'{line}\n' for line in seen)


def kconfig_symbols(ksrc, rev=None):
	"""The set of Kconfig symbols of the tree ksrc (at git rev, if given)."""
	pattern = r'^\s*(menu)?config\s+\w+'
	if rev:
		cmd = ['git', 'grep', '-h', '-E', pattern, rev, '--', '*Kconfig*']
	else:
		cmd = ['git', 'grep', '--untracked', '-h', '-E', pattern, '--',
		       '*Kconfig*']
	out = subprocess.run(cmd, cwd=ksrc, capture_output=True, text=True,
			     check=True).stdout
	return {line.split()[1] for line in out.splitlines()}


# --- Booting ----------------------------------------------------------------

class Boot(collections.namedtuple('Boot', 'exit_code timed_out seconds log')):
	"""A finished boot: the exit status of the kernel's process (None when
	it was killed after the timeout), the time it took and the path of its
	console log."""

	def log_lines(self):
		with open(self.log, errors='replace') as f:
			return f.read().splitlines()


def boot(cmd, log, timeout, stdin=subprocess.PIPE):
	"""Run the boot command cmd, its whole console (stdout and stderr) to
	log, after a first line '$ <cmd>'. After timeout seconds it and the
	processes it made are killed (its process group, which it leads).
	stdin is kept open until it ends. Returns a Boot."""
	start = time.time()
	with open(log, 'w') as out:
		out.write(f'$ {" ".join(cmd)}\n')
		out.flush()
		proc = subprocess.Popen(cmd, stdin=stdin, stdout=out,
					stderr=subprocess.STDOUT,
					start_new_session=True)
		try:
			code = proc.wait(timeout=timeout)
			timed_out = False
		except subprocess.TimeoutExpired:
			code = None
			timed_out = True
			try:
				os.killpg(proc.pid, signal.SIGKILL)
			except ProcessLookupError:
				pass
			proc.wait()
		finally:
			if proc.stdin:
				proc.stdin.close()
	return Boot(code, timed_out, time.time() - start, log)


def boot_uml(linux, root, log, args=(), timeout=900):
	"""Boot the UML binary linux with the hostfs root root.

	The kernel command line is BOOT_ARGS, hostfs=root, then args; see
	boot(). Stdin is a pipe kept open, as kunit.py does: UML's console must
	not see end of file. Returns a Boot; the init's exit code (the number
	of programs that failed) is its exit_code.
	"""
	cmd = [os.path.abspath(linux), *BOOT_ARGS,
	       f'hostfs={os.path.abspath(root)}', *args]
	return boot(cmd, log, timeout)


# --- Reading the results ----------------------------------------------------

BEGIN = re.compile(r'uml-init: BEGIN (.*)$')
END = re.compile(r'uml-init: END (.*) exit=(-?\d+|timeout)'
		 r'(?: seconds=([\d.]+))?$')
DONE = re.compile(r'uml-init: DONE programs=(\d+) failed=(\d+)')


class Run(collections.namedtuple('Run', 'command exit_code seconds lines '
				 'timed_out', defaults=(False,))):
	"""One program of a boot: its command, exit code (None when it did not
	end by itself: the boot crashed or timed out, or the init killed it
	after its timeout, then timed_out is True) and seconds, and its console
	lines (kernel messages included)."""

	@property
	def name(self):
		return os.path.basename(self.command.split()[0])


def parse_console(lines):
	"""The programs of a console log, in the order they ran: [Run]."""
	runs = []
	current = None
	for line in lines:
		m = BEGIN.search(line)
		if m:
			if current:
				runs.append(Run(current[0], None, None, current[1]))
			current = (m.group(1), [])
			continue
		m = END.search(line)
		if m and current and m.group(1) == current[0]:
			seconds = float(m.group(3)) if m.group(3) else None
			timed_out = m.group(2) == 'timeout'
			runs.append(Run(current[0],
					None if timed_out else int(m.group(2)),
					seconds, current[1], timed_out))
			current = None
			continue
		if current:
			current[1].append(line)
	if current:
		runs.append(Run(current[0], None, None, current[1]))
	return runs


# Test statuses. Only PASS counts as passed: a SKIP is no pass, and neither
# is an XFAIL (a failure the test itself declares expected) nor an XPASS.
PASS, FAIL, SKIP, XFAIL, XPASS, ERROR, MISSING = \
	'pass', 'fail', 'skip', 'xfail', 'xpass', 'error', 'missing'
PASSED = (PASS,)

TAP_RESULT = re.compile(r'^(not ok|ok) (\d+)(?: (.*?))?'
			r'(?:\s+#\s*(SKIP|XFAIL|XPASS|TODO|error)\b\s*(.*))?$')
TAP_PLAN = re.compile(r'^1\.\.(\d+)')
# The kselftest harness's closing count (ksft_print_cnts()).
TAP_TOTALS = re.compile(r'^# Totals: pass:(\d+) fail:(\d+) xfail:(\d+) '
			r'xpass:(\d+) skip:(\d+) error:(\d+)\s*$')
# The statuses of the Totals line, in its order.
TOTALS_STATUSES = (PASS, FAIL, XFAIL, XPASS, SKIP, ERROR)


class Tap(collections.namedtuple('Tap', 'plan results totals',
				 defaults=(None,))):
	"""kselftest TAP: the plan (None without one), {test: status}, in the
	order of the output, and the harness's Totals line as {status: count}
	(None without one; the last one if several)."""

	def count(self, *statuses):
		return sum(1 for s in self.results.values() if s in statuses)


def parse_tap(lines):
	"""Read kselftest TAP ('ok N name', 'not ok N name', '# SKIP', ...).

	A result line may carry a diagnostic after ' # ' ('#  reason' for
	a failure); 'ok ... # SKIP' is SKIP, 'ok ... # XFAIL' XFAIL, '# XPASS'
	XPASS (a test expected to fail passed), 'not ok ... # error' ERROR.
	A name seen twice keeps its worse status. Lines that are no TAP (kernel
	messages on the same console) are ignored. '# Totals: pass:N fail:N
	xfail:N xpass:N skip:N error:N' is the harness's own count.
	"""
	plan = None
	results = {}
	totals = None
	for line in lines:
		line = line.rstrip()
		m = TAP_PLAN.match(line)
		if m and plan is None:
			plan = int(m.group(1))
			continue
		m = TAP_TOTALS.match(line)
		if m:
			totals = dict(zip(TOTALS_STATUSES, map(int, m.groups())))
			continue
		m = TAP_RESULT.match(line)
		if not m:
			continue
		ok, num, name, directive = m.group(1), m.group(2), m.group(3), \
			m.group(4)
		name = (name or '').split(' #')[0].strip() or f'#{num}'
		if directive == 'SKIP':
			status = SKIP
		elif directive == 'XFAIL':
			status = XFAIL
		elif directive == 'XPASS':
			status = XPASS
		elif directive == 'error':
			status = ERROR
		else:
			status = PASS if ok == 'ok' else FAIL
		if results.get(name) in (None, PASS, XFAIL):
			results[name] = status
	return Tap(plan, results, totals)


class ProgramResult(collections.namedtuple(
		'ProgramResult', 'name exit_code seconds plan tests totals '
		'timed_out', defaults=(None, False))):
	"""One program's results: {test: status}, with MISSING for each test
	the plan announced but no result line reported (by number); the
	harness's Totals line ({status: count}, None without one); whether the
	init killed it after its timeout."""

	def count(self, *statuses):
		return sum(1 for s in self.tests.values() if s in statuses)

	@property
	def finished(self):
		return self.exit_code is not None


def program_result(run):
	"""A Run's kselftest TAP as a ProgramResult."""
	tap = parse_tap(run.lines)
	tests = dict(tap.results)
	for n in range(len(tests) + 1, (tap.plan or 0) + 1):
		tests[f'#{n}'] = MISSING
	return ProgramResult(run.name, run.exit_code, run.seconds, tap.plan,
			     tests, tap.totals, run.timed_out)


def results_by_program(lines):
	"""{program name: ProgramResult} of a console log."""
	return {run.name: program_result(run) for run in parse_console(lines)}


# --- Comparing --------------------------------------------------------------

Expected = collections.namedtuple('Expected', 'fails_on_pristine reason')


def expected_lines(path):
	"""The lines of a list of expected failures, path: (line number,
	its first three words and the rest) for each line but empty ones and
	comments ('#'); fewer fields where the line has fewer words."""
	with open(path) as f:
		for n, line in enumerate(f, 1):
			line = line.strip()
			if line and not line.startswith('#'):
				yield n, line.split(None, 3)


def read_expected(path=EXPECTED):
	"""The expected failures: {(program, test): Expected}.

	One line per test: '<program> <test> <pristine> <reason...>', where
	<pristine> is 'fails' when the test fails on the pristine base too and
	'passes' when it does not. Lines starting with '#' are comments.
	"""
	expected = {}
	for n, fields in expected_lines(path):
		if len(fields) < 4 or fields[2] not in ('fails', 'passes'):
			raise ValueError(f'{path}:{n}: want "<program> <test> '
					 f'fails|passes <reason>"')
		expected[(fields[0], fields[1])] = \
			Expected(fields[2] == 'fails', fields[3])
	return expected


class Comparison(collections.namedtuple('Comparison', [
		'rows', 'regressions', 'unexpected', 'stale', 'incomplete'])):
	"""The patched kernel's results against the pristine base's.

	rows: (program, pristine (passed, failed, skipped) or None, patched
	(passed, failed, skipped)); the lists hold one line of text per
	finding. regressions: passed on pristine, not on patched. unexpected:
	fails on patched and is not listed, or is listed but does not fail on
	pristine. stale: listed but passes on patched, or no such test, or its
	pristine column is wrong. incomplete: a program that did not end, or
	whose exit code says it crashed or skipped as a whole.
	"""

	@property
	def ok(self):
		"""Stale entries are reported, but do not fail the comparison."""
		return not (self.regressions or self.unexpected or self.incomplete)


def _counts(result):
	return (result.count(*PASSED), len(result.tests) -
		result.count(*PASSED) - result.count(SKIP), result.count(SKIP))


def format_totals(counts):
	return ' '.join(f'{st}:{counts[st]}' for st in TOTALS_STATUSES)


def totals_mismatch(result):
	"""Why result's test statuses and its harness's Totals line disagree,
	or None: no Totals line, or other counts than the result lines."""
	if result.totals is None:
		return 'no "# Totals:" line'
	counts = {st: result.count(st) for st in TOTALS_STATUSES}
	if counts != result.totals:
		return (f'"# Totals: {format_totals(result.totals)}", but its '
			f'result lines give {format_totals(counts)}')
	return None


def incomplete_reason(kernel, result):
	"""Why result, of kernel, is no complete run of its program, or None."""
	if result.timed_out:
		seconds = '' if result.seconds is None else \
			f' after {result.seconds:.0f} s'
		return f'{kernel}: {result.name} timed out{seconds}, killed'
	if not result.finished:
		return f'{kernel}: {result.name} did not end (crash or timeout)'
	if result.exit_code not in (0, 1):
		return f'{kernel}: {result.name} exited {result.exit_code}'
	if not result.tests:
		return f'{kernel}: {result.name} reported no test'
	mismatch = totals_mismatch(result)
	if mismatch:
		return f'{kernel}: {result.name}: {mismatch}'
	return None


def compare(pristine, patched, expected):
	"""Hold the patched results against the pristine ones and the list.

	pristine and patched map program names to ProgramResult; expected is
	read_expected()'s. The rules: every test that passes on pristine
	passes on patched; every test that does not pass on patched (failed,
	skipped, missing, xfail, xpass, error: only PASS is a pass) is listed
	with a reason and does not pass on pristine either; a listed test that
	passes is stale. A program that is only in
	patched (no pristine run) has only the list to go by.
	"""
	rows, regressions, unexpected, stale, incomplete = [], [], [], [], []
	for name in sorted(set(pristine) | set(patched)):
		base = pristine.get(name)
		tip = patched.get(name)
		if tip is None:
			incomplete.append(f'patched: {name} did not run')
			continue
		for kernel, result in (('pristine', base), ('patched', tip)):
			problem = result and incomplete_reason(kernel, result)
			if problem:
				incomplete.append(problem)
		rows.append((name, _counts(base) if base else None, _counts(tip)))
		base_tests = base.tests if base else {}
		for test, status in base_tests.items():
			if status in PASSED and tip.tests.get(test, MISSING) \
					not in PASSED:
				regressions.append(f'{name} {test}: passes on '
						   f'pristine, {tip.tests.get(test, MISSING)} '
						   'on patched')
		for test, status in tip.tests.items():
			entry = expected.get((name, test))
			if status in PASSED:
				if entry:
					stale.append(f'{name} {test}: listed, but passes '
						     'on patched')
				continue
			if not entry:
				unexpected.append(f'{name} {test}: {status} on '
						  'patched, not listed')
			elif base and base_tests.get(test, MISSING) in PASSED:
				pass	# a regression, reported above
			elif base and not entry.fails_on_pristine:
				stale.append(f'{name} {test}: listed as passing on '
					     'pristine, but fails there')
		for (prog, test), entry in expected.items():
			if prog != name or test in tip.tests:
				continue
			stale.append(f'{name} {test}: listed, but no such test on '
				     'patched')
	return Comparison(rows, regressions, unexpected, stale, incomplete)


def format_comparison(comparison, base_label='pristine'):
	"""The comparison as lines of text: a table, then every finding."""
	lines = [f'  {"program":<20} {base_label:>20}   {"patched":>20}',
		 f'  {"":<20} {"pass  fail  skip":>20}   {"pass  fail  skip":>20}']
	for name, base, tip in comparison.rows:
		cells = []
		for counts in (base, tip):
			cells.append('not run' if counts is None else
				     '{:>4}  {:>4}  {:>4}'.format(*counts))
		lines.append(f'  {name:<20} {cells[0]:>20}   {cells[1]:>20}')
	for title, found in (('regression', comparison.regressions),
			     ('unexpected', comparison.unexpected),
			     ('incomplete', comparison.incomplete),
			     ('stale', comparison.stale)):
		lines += [f'  {title}: {f}' for f in found]
	return lines
