#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Negative compile tests of the Rust VFIO API: code that must not compile.

Each case of rust-bindings/compile-fail/ (see its README.md) is a sample
driver that breaks one compile-time rule of the API. It is compiled exactly
as kbuild compiles a Rust sample object: the recorded command of an already
built sample (the savedcmd_ line of build/kunit-uml/samples/rust/
.rust_vfio_emul.o.cmd), run in the kernel build directory, with only the
source file, the crate name and the output paths replaced; every output goes
to a scratch directory. A case passes when rustc fails (exit 1) and every
'// expect: <substring>' of its header is in rustc's output.

A positive control comes first: the real sample, from the kernel tree,
through the same command, must compile. If it does not, the harness is
broken (stale or missing build artefacts, wrong toolchain) and every case
fails with that reason.

rustc reports its own errors, including const evaluation (an assert! in an
associated const of a generic type, evaluated when codegen collects the
function that uses it: the command emits an object, so it does) and trait
bounds; a build_error!() shows only when linking, which this does not cover.

  tools/compile_fail.py [--cases DIR] [KSRC [KBUILD [WORK]]]
					    run the cases, print the verdicts

A line whose API differs would have its own copies of the cases, which
--cases names.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES_DIR = os.path.join(TOP, 'rust-bindings', 'compile-fail')
# The sample whose recorded command is reused; its source is the control.
SAMPLE = 'samples/rust/rust_vfio_emul'
# What the project's kernel builds run with (tools/run.py: KERNEL_ENV):
# Debian's toolchain in /usr/bin first, not rustup's.
DEFAULT_ENV = dict(os.environ,
		   PATH='/usr/bin:/bin:' + os.environ.get('PATH', ''))
# The kernel's top Makefile exports this to every rustc it runs (-Z flags on
# a stable compiler); it is not part of the recorded command.
KBUILD_ENV = {'RUSTC_BOOTSTRAP': '1'}
TIMEOUT = 600
ERROR_LINES = 12


class Error(Exception):
	"""The harness cannot run: no recorded command, or a bad one."""


# -------------------------------------------------------------------------
# The cases

@dataclass
class Case:
	name: str
	path: str
	rule: str
	expects: list


def parse_header(text):
	"""The rule and the expected substrings of a case's first comment lines.

	The header is the file's leading lines that are comments ('//', '//!')
	or blank; in it, '// rule: TEXT' (continued by following '//' lines
	that are indented further than 'rule:') names the broken rule, and each
	'// expect: TEXT' is a substring rustc's output must contain.
	Returns (rule, [expect, ...]).
	"""
	rule, expects = [], []
	in_rule = False
	for line in text.splitlines():
		stripped = line.strip()
		if stripped and not stripped.startswith('//'):
			break
		body = re.sub(r'^//[!/]?', '', stripped)
		m = re.match(r'\s*(rule|expect):\s?(.*)$', body)
		if m and m.group(1) == 'expect':
			in_rule = False
			if m.group(2).strip():
				expects.append(m.group(2).strip())
		elif m:
			in_rule = True
			rule.append(m.group(2).strip())
		elif in_rule and re.match(r'\s{2,}\S', body):
			rule.append(body.strip())
		else:
			in_rule = False
	return ' '.join(r for r in rule if r), expects


def load_cases(cases_dir=CASES_DIR):
	"""Every NAME.rs of cases_dir, sorted by name."""
	cases = []
	for entry in sorted(os.listdir(cases_dir)):
		if not entry.endswith('.rs'):
			continue
		path = os.path.join(cases_dir, entry)
		with open(path) as f:
			rule, expects = parse_header(f.read())
		cases.append(Case(entry[:-3], path, rule, expects))
	return cases


# -------------------------------------------------------------------------
# The recorded command

@dataclass
class Command:
	env: dict		# VAR=value assignments before the compiler
	argv: list		# the compiler and its arguments
	source: str		# the .rs file it compiles


def unescape_make(value):
	"""A savedcmd_ value as the shell saw it: kbuild writes '$' as '$$'
	and '#' as '$(pound)'."""
	return re.sub(r'\$(\$|\(pound\))',
		      lambda m: '$' if m.group(1) == '$' else '#', value)


def savedcmd(text):
	"""The value of the savedcmd_ line of a .cmd file."""
	for line in text.splitlines():
		m = re.match(r'savedcmd_\S+\s*:=\s*(.*)$', line)
		if m:
			return unescape_make(m.group(1).strip())
	raise Error('no savedcmd_ line')


def shell_commands(cmdline):
	"""The simple commands of a shell line, split at ';', '&&', '||', '|'."""
	lexer = shlex.shlex(cmdline, posix=True, punctuation_chars=';&|')
	lexer.whitespace_split = True
	commands, current = [], []
	for token in lexer:
		if token and set(token) <= set(';&|'):
			if current:
				commands.append(current)
			current = []
		else:
			current.append(token)
	if current:
		commands.append(current)
	return commands


def is_compiler(program):
	return os.path.basename(program) in ('rustc', 'clippy-driver')


# rustc options that take their value as the next argument when not
# written with '='; the value is not a positional argument.
VALUE_OPTIONS = {'-L', '-l', '--extern', '--crate-type', '--crate-name',
		 '--out-dir', '--emit', '-o', '--target', '--cfg', '--check-cfg',
		 '--edition', '-C', '--codegen', '-Z', '-A', '-W', '-D', '-F',
		 '--force-warn', '--cap-lints', '--sysroot', '--print',
		 '--error-format', '--json', '--color', '--remap-path-prefix',
		 '--explain', '--diagnostic-width'}


def positionals(argv):
	"""Indexes of the positional arguments of a rustc argv (after argv[0])."""
	found, skip = [], False
	for i, arg in enumerate(argv[1:], 1):
		if skip:
			skip = False
		elif arg in VALUE_OPTIONS:
			skip = True
		elif not arg.startswith('-') and not arg.startswith('@'):
			found.append(i)
	return found


def parse_command(text):
	"""The rustc invocation of a .cmd file's savedcmd_ line.

	The line is a shell command, e.g. 'RUST_MODFILE=... /usr/bin/rustc ...
	--emit=obj=samples/rust/x.o /src/samples/rust/x.rs', possibly followed
	by '; objtool ...'. Returns a Command.
	"""
	for words in shell_commands(savedcmd(text)):
		env = {}
		while words and re.match(r'[A-Za-z_][A-Za-z0-9_]*=', words[0]):
			name, value = words.pop(0).split('=', 1)
			env[name] = value
		if not words or not is_compiler(words[0]):
			continue
		sources = [words[i] for i in positionals(words)
			   if words[i].endswith('.rs')]
		if len(sources) != 1:
			raise Error(f'{len(sources)} .rs sources in the rustc command')
		return Command(env, words, sources[0])
	raise Error('no rustc in the savedcmd_ line')


# File name in the scratch directory of each kind of --emit output.
EMIT_NAMES = {'obj': '{}.o', 'metadata': 'lib{}.rmeta', 'dep-info': '{}.d',
	      'asm': '{}.s', 'llvm-ir': '{}.ll', 'llvm-bc': '{}.bc',
	      'link': 'lib{}.rlib', 'mir': '{}.mir'}
# Options that would write elsewhere and that the command has no business
# with; refused rather than rewritten.
REFUSED = re.compile(r'^(-Cincremental|-Zincremental|-Ztemps-dir|-Zdump-|'
		     r'-Zself-profile|--print=.*=)')


def compile_argv(cmd, source, crate_name, out_dir):
	"""cmd's argv and environment for compiling source as crate_name.

	The source and the crate name are replaced, --out-dir, every --emit
	path and -o point into out_dir, which must be absolute; a
	clippy-driver (the command of a CLIPPY=1 build) becomes the rustc next
	to it. Returns (argv, env additions).
	"""
	if not os.path.isabs(out_dir):
		raise Error(f'scratch directory {out_dir} is not absolute')

	def emit(value):
		kinds = []
		for kind in value.split(','):
			kind = kind.split('=', 1)[0]
			name = EMIT_NAMES.get(kind, '{}.' + kind).format(crate_name)
			kinds.append(f'{kind}={os.path.join(out_dir, name)}')
		return ','.join(kinds)

	argv = list(cmd.argv)
	if os.path.basename(argv[0]) == 'clippy-driver':
		argv[0] = os.path.join(os.path.dirname(argv[0]), 'rustc')
	sources = [i for i in positionals(argv) if argv[i] == cmd.source]
	argv[sources[0]] = source
	out = [argv[0]]
	for i, arg in enumerate(argv[1:], 1):
		joined = arg + argv[i + 1] if arg in ('-C', '-Z') and \
			i + 1 < len(argv) else arg
		if REFUSED.match(joined):
			raise Error(f'refusing {joined}: it writes outside the '
				    'scratch directory')
	args = iter(argv[1:])
	seen_out_dir = False
	for arg in args:
		if arg in ('--out-dir', '--crate-name', '--emit', '-o'):
			value = next(args, '')
			if arg == '--out-dir':
				seen_out_dir = True
				out += [arg, out_dir]
			elif arg == '--crate-name':
				out += [arg, crate_name]
			elif arg == '--emit':
				out += [arg, emit(value)]
			else:
				out += [arg, os.path.join(out_dir, crate_name)]
		elif arg.startswith('--out-dir='):
			seen_out_dir = True
			out.append(f'--out-dir={out_dir}')
		elif arg.startswith('--crate-name='):
			out.append(f'--crate-name={crate_name}')
		elif arg.startswith('--emit='):
			out.append('--emit=' + emit(arg[len('--emit='):]))
		elif arg.startswith('-o') and arg != '-o':
			out.append('-o' + os.path.join(out_dir, crate_name))
		else:
			out.append(arg)
	if not seen_out_dir:
		# rustc's temporaries go to the output directory.
		out += ['--out-dir', out_dir]
	env = {**KBUILD_ENV, **cmd.env, 'TMPDIR': out_dir}
	if 'RUST_MODFILE' in env:
		env['RUST_MODFILE'] = os.path.join(
			os.path.dirname(env['RUST_MODFILE']), crate_name)
	return out, env


# -------------------------------------------------------------------------
# Verdicts

def first_errors(output, count=ERROR_LINES):
	"""The compiler's first error lines: from the first 'error' line on."""
	lines = output.splitlines()
	start = next((i for i, l in enumerate(lines)
		      if re.match(r'error(\[E\d+\])?:', l)), None)
	if start is None:
		return lines[:count]
	return lines[start:start + count]


def verdict(returncode, output, expects):
	"""(passed, reason) of a case from rustc's exit code and output.

	Only a compile error passes (rustc's exit code 1; 101 is an internal
	compiler error), and only with every expected substring in the output.
	"""
	if not expects:
		return False, 'no "// expect:" line in the header'
	if returncode == 0:
		return False, 'compiled, but must not'
	if returncode != 1:
		return False, f'rustc exited {returncode}, not with a compile error'
	missing = [e for e in expects if e not in output]
	if missing:
		return False, 'failed with another error: no ' + ', '.join(
			f'"{e}"' for e in missing)
	return True, 'failed to compile as expected'


@dataclass
class Result:
	name: str
	rule: str
	passed: bool
	reason: str
	errors: list = field(default_factory=list)	# rustc's first error lines
	argv: list = field(default_factory=list)


def default_execute(argv, env, cwd):
	"""Run argv; (exit code, stderr and stdout)."""
	try:
		res = subprocess.run(argv, cwd=cwd, env=env, capture_output=True,
				     text=True, errors='replace', timeout=TIMEOUT)
	except subprocess.TimeoutExpired:
		return -1, f'error: timed out after {TIMEOUT} s'
	except OSError as e:
		return -1, f'error: cannot run {argv[0]}: {e}'
	return res.returncode, res.stderr + res.stdout


def crate_name(name):
	"""A crate name for a case's file name."""
	return re.sub(r'\W', '_', name)


def inside(path, directory):
	path, directory = os.path.realpath(path), os.path.realpath(directory)
	return path == directory or path.startswith(directory + os.sep)


def run_cases(ksrc, kbuild, cases_dir=CASES_DIR, work=None, env=None,
	      sample=SAMPLE, execute=default_execute):
	"""Compile the control and every case; (control Result, [Result]).

	ksrc: the kernel tree (the control's source); kbuild: the kernel build
	directory holding the sample's .cmd file and the artefacts the command
	reads (rust/*.rmeta, rust/libmacros.so, scripts/target.json,
	include/generated/rustc_cfg); work: the scratch directory, emptied
	(a new temporary one if None).
	"""
	# rustc runs in kbuild: every path it gets is absolute.
	ksrc, kbuild = os.path.abspath(ksrc), os.path.abspath(kbuild)
	cases = load_cases(os.path.abspath(cases_dir))
	base_env = dict(DEFAULT_ENV if env is None else env)
	work = os.path.abspath(work or tempfile.mkdtemp(prefix='compile-fail-'))
	for tree in (ksrc, kbuild):
		if inside(work, tree):
			raise Error(f'scratch directory {work} is inside {tree}')

	def compile_one(cmd, name, source):
		out_dir = os.path.join(work, name)
		shutil.rmtree(out_dir, ignore_errors=True)
		os.makedirs(out_dir)
		argv, extra = compile_argv(cmd, source, crate_name(name), out_dir)
		code, output = execute(argv, dict(base_env, **extra), kbuild)
		return argv, code, output

	sample_name = os.path.basename(sample)
	control_source = os.path.join(ksrc, sample + '.rs')
	cmd_file = os.path.join(kbuild, os.path.dirname(sample),
				f'.{sample_name}.o.cmd')
	try:
		with open(cmd_file) as f:
			cmd = parse_command(f.read())
	except (OSError, Error) as e:
		control = Result('control', '', False,
				 f'no recorded command of {sample}.o: {e}')
		cmd = None
	if cmd is not None:
		argv, code, output = compile_one(cmd, sample_name,
						 control_source)
		ok = code == 0
		control = Result(sample_name, f'{sample}.rs compiles', ok,
				 'compiles' if ok else f'rustc exited {code}',
				 [] if ok else first_errors(output), argv)

	results = []
	for case in cases:
		if not control.passed:
			results.append(Result(case.name, case.rule, False,
					      'harness broken: control '
					      f'{sample}.rs: {control.reason}'))
			continue
		argv, code, output = compile_one(cmd, case.name, case.path)
		passed, reason = verdict(code, output, case.expects)
		results.append(Result(case.name, case.rule, passed, reason,
				      [] if passed else first_errors(output),
				      argv))
	return control, results


def main():
	args = sys.argv[1:]
	cases_dir = CASES_DIR
	if args[:1] == ['--cases'] and len(args) > 1:
		cases_dir, args = os.path.abspath(args[1]), args[2:]
	ksrc = args[0] if len(args) > 0 else os.path.join(TOP, 'build',
							   'linux-7.3')
	kbuild = args[1] if len(args) > 1 else os.path.join(
		TOP, 'build', 'kunit-7.3')
	work = args[2] if len(args) > 2 else None
	control, results = run_cases(ksrc, kbuild, cases_dir=cases_dir,
				     work=work)
	print(f'control: {control.name}: '
	      f'{"ok" if control.passed else "BROKEN"} ({control.reason})')
	if control.argv:
		print('  ' + shlex.join(control.argv))
	for line in control.errors:
		print(f'    {line}')
	for r in results:
		print(f'{r.name}: {"pass" if r.passed else "FAIL"}: {r.rule} '
		      f'({r.reason})')
		for line in r.errors:
			print(f'    {line}')
	return 0 if control.passed and all(r.passed for r in results) else 1


if __name__ == '__main__':
	sys.exit(main())
