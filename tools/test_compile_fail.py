#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests of tools/compile_fail.py: parsing and verdicts, no kernel."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compile_fail  # noqa: E402
from compile_fail import (Error, compile_argv, first_errors,  # noqa: E402
			  parse_command, parse_header, run_cases, verdict)

# The shape of kbuild's recorded command of a Rust sample (6.12, UML).
SAVEDCMD = (
	"savedcmd_samples/rust/rust_vfio_emul.o := "
	"RUST_MODFILE=samples/rust/rust_vfio_emul /usr/bin/rustc --edition=2021 "
	"-Zbinary_dep_depinfo=y -Astable_features -Dunsafe_op_in_unsafe_fn "
	"-Cpanic=abort -Ccodegen-units=1 --target=./scripts/target.json "
	"-Copt-level=2 @./include/generated/rustc_cfg "
	"-Zallow-features=arbitrary_self_types,lint_reasons,used_with_arg "
	"-Zcrate-attr=no_std "
	"-Zcrate-attr='feature(arbitrary_self_types,lint_reasons,used_with_arg)' "
	"-Zunstable-options --extern kernel --crate-type rlib -L ./rust/ "
	"--crate-name rust_vfio_emul --sysroot=/dev/null "
	"--out-dir ./samples/rust/ "
	"--emit=dep-info=samples/rust/.rust_vfio_emul.o.d "
	"--emit=obj=samples/rust/rust_vfio_emul.o "
	"/src/linux/samples/rust/rust_vfio_emul.rs")
CMD_FILE = (SAVEDCMD + "\n\nsource_samples/rust/rust_vfio_emul.o := "
	    "/src/linux/samples/rust/rust_vfio_emul.rs\n\n"
	    "deps_samples/rust/rust_vfio_emul.o := \\\n  $(wildcard "
	    "include/config/X) \\\n\n")

MESSAGE = ('a vfio::DeviceOps that overrides attach_ioas must override '
	   'detach_ioas')
CASE = f"""// SPDX-License-Identifier: GPL-2.0
//
// rule: {MESSAGE}
// expect: error[E0080]
// expect: {MESSAGE}
//
// Free text.

use kernel::prelude::*;
// expect: not a header line
"""
CONST_EVAL_ERROR = f"""error[E0080]: evaluation panicked: {MESSAGE}, and the reverse
   --> /src/linux/rust/kernel/vfio.rs:619:9
    |
619 | /         assert!(
620 | |             T::HAS_ATTACH_IOAS == T::HAS_DETACH_IOAS,
    |
note: erroneous constant encountered

error: aborting due to 1 previous error
"""
TYPE_ERROR = """error[E0308]: mismatched types
  --> case.rs:40:9
   |
40 |         0u32
   |         ^^^^ expected `()`, found `u32`

error: aborting due to 1 previous error
"""


class HeaderTest(unittest.TestCase):

	def test_rule_and_expects(self):
		rule, expects = parse_header(CASE)
		self.assertEqual(rule, MESSAGE)
		self.assertEqual(expects, ['error[E0080]', MESSAGE])

	def test_header_ends_at_code(self):
		_, expects = parse_header(CASE)
		self.assertNotIn('not a header line', expects)

	def test_rule_continued(self):
		rule, _ = parse_header('// rule: a driver whose data is\n'
				       '//       not Send\n'
				       '// expect: E0277\n'
				       '//   indented text after expect\n')
		self.assertEqual(rule, 'a driver whose data is not Send')

	def test_inner_doc_comments(self):
		rule, expects = parse_header('//! rule: r\n//! expect: e\nfn f() {}\n')
		self.assertEqual((rule, expects), ('r', ['e']))

	def test_no_expect(self):
		self.assertEqual(parse_header('// rule: r\n\nfn f() {}\n'), ('r', []))

	def test_empty_expect_ignored(self):
		self.assertEqual(parse_header('// expect:\n')[1], [])


class CommandTest(unittest.TestCase):

	def test_parse(self):
		cmd = parse_command(CMD_FILE)
		self.assertEqual(cmd.env, {'RUST_MODFILE': 'samples/rust/rust_vfio_emul'})
		self.assertEqual(cmd.argv[0], '/usr/bin/rustc')
		self.assertEqual(cmd.source, '/src/linux/samples/rust/rust_vfio_emul.rs')
		self.assertIn('-Zcrate-attr=feature(arbitrary_self_types,lint_reasons,'
			      'used_with_arg)', cmd.argv)

	def test_objtool_after_rustc(self):
		cmd = parse_command(SAVEDCMD + ' ; ./tools/objtool/objtool --x '
				    'samples/rust/rust_vfio_emul.o')
		self.assertEqual(cmd.argv[-1], '/src/linux/samples/rust/rust_vfio_emul.rs')

	def test_make_escapes(self):
		# kbuild writes '#' as '$(pound)' and '$' as '$$'.
		cmd = parse_command(SAVEDCMD.replace(
			'-Cpanic=abort', "'--cfg=X=\"$(pound)1$$\"' -Cy=$$$$(pound)"))
		self.assertIn('--cfg=X="#1$"', cmd.argv)
		self.assertIn('-Cy=$$(pound)', cmd.argv)

	def test_no_savedcmd(self):
		with self.assertRaises(Error):
			parse_command('source_x.o := x.rs\n')

	def test_no_rustc(self):
		with self.assertRaises(Error):
			parse_command('savedcmd_x.o := clang -c -o x.o x.c\n')

	def test_clippy_driver_command(self):
		cmd = parse_command(SAVEDCMD.replace('/usr/bin/rustc',
						     '/usr/bin/clippy-driver'))
		argv, _ = compile_argv(cmd, '/cases/c.rs', 'c', '/scratch/c')
		self.assertEqual(argv[0], '/usr/bin/rustc')

	def test_substitution(self):
		cmd = parse_command(CMD_FILE)
		argv, env = compile_argv(cmd, '/cases/attach.rs', 'attach',
					 '/scratch/attach')
		self.assertEqual(argv[-1], '/cases/attach.rs')
		self.assertNotIn(cmd.source, argv)
		self.assertEqual(argv[argv.index('--crate-name') + 1], 'attach')
		self.assertEqual(argv[argv.index('--out-dir') + 1], '/scratch/attach')
		self.assertIn('--emit=obj=/scratch/attach/attach.o', argv)
		self.assertIn('--emit=dep-info=/scratch/attach/attach.d', argv)
		self.assertFalse([a for a in argv if 'samples/rust/' in a])
		# Everything else is the recorded command, in its order.
		kept = [a for a in cmd.argv if not a.startswith('--emit') and
			a not in ('./samples/rust/', 'rust_vfio_emul', cmd.source)]
		self.assertEqual([a for a in argv if a in kept], kept)
		self.assertEqual(env['RUST_MODFILE'], 'samples/rust/attach')
		self.assertEqual(env['RUSTC_BOOTSTRAP'], '1')
		self.assertEqual(env['TMPDIR'], '/scratch/attach')

	def test_emit_forms(self):
		cmd = parse_command('savedcmd_x.o := rustc --emit dep-info,obj=x.o '
				    '--emit=metadata=rust/libx.rmeta --out-dir=rust '
				    '-o x.o x.rs')
		argv, _ = compile_argv(cmd, '/c/y.rs', 'y', '/s')
		self.assertEqual(argv, ['rustc', '--emit', 'dep-info=/s/y.d,obj=/s/y.o',
					'--emit=metadata=/s/liby.rmeta',
					'--out-dir=/s', '-o', '/s/y', '/c/y.rs'])

	def test_out_dir_added(self):
		cmd = parse_command('savedcmd_x.o := rustc --emit=obj=x.o x.rs')
		argv, _ = compile_argv(cmd, '/c/y.rs', 'y', '/s')
		self.assertEqual(argv[-2:], ['--out-dir', '/s'])

	def test_refuses_writers(self):
		for opt in ('-Cincremental=/tmp/inc', '-C incremental=/tmp/inc',
			    '-Ztemps-dir=/x', '--print=cfg=/x/out'):
			cmd = parse_command(f'savedcmd_x.o := rustc {opt} x.rs')
			with self.assertRaises(Error, msg=opt):
				compile_argv(cmd, '/c/y.rs', 'y', '/s')

	def test_relative_scratch_refused(self):
		with self.assertRaises(Error):
			compile_argv(parse_command(CMD_FILE), '/c/y.rs', 'y', 'scratch')


class VerdictTest(unittest.TestCase):

	EXPECTS = ['error[E0080]', MESSAGE]

	def test_expected_error(self):
		self.assertEqual(verdict(1, CONST_EVAL_ERROR, self.EXPECTS)[0], True)

	def test_compiled(self):
		passed, reason = verdict(0, '', self.EXPECTS)
		self.assertFalse(passed)
		self.assertIn('compiled', reason)

	def test_other_error(self):
		passed, reason = verdict(1, TYPE_ERROR, self.EXPECTS)
		self.assertFalse(passed)
		self.assertIn('another error', reason)
		self.assertIn('error[E0080]', reason)

	def test_one_expect_missing(self):
		passed, _ = verdict(1, CONST_EVAL_ERROR, self.EXPECTS + ['E0277'])
		self.assertFalse(passed)

	def test_ice(self):
		passed, reason = verdict(101, CONST_EVAL_ERROR, self.EXPECTS)
		self.assertFalse(passed)
		self.assertIn('101', reason)

	def test_no_expects(self):
		self.assertFalse(verdict(1, CONST_EVAL_ERROR, [])[0])

	def test_first_errors(self):
		lines = first_errors('warning: unused\n  --> a.rs\n' + TYPE_ERROR, 3)
		self.assertEqual(lines, ['error[E0308]: mismatched types',
					 '  --> case.rs:40:9', '   |'])


class RunCasesTest(unittest.TestCase):
	"""run_cases with a fake compiler: the control gates the cases."""

	def setUp(self):
		self.tmp = tempfile.TemporaryDirectory()
		top = self.tmp.name
		self.ksrc = os.path.join(top, 'linux')
		self.kbuild = os.path.join(top, 'build')
		self.cases = os.path.join(top, 'cases')
		self.work = os.path.join(top, 'work')
		os.makedirs(os.path.join(self.kbuild, 'samples', 'rust'))
		os.makedirs(self.cases)
		with open(os.path.join(self.kbuild, 'samples', 'rust',
				       '.rust_vfio_emul.o.cmd'), 'w') as f:
			f.write(CMD_FILE)
		for name, text in (('good', CASE), ('compiles', CASE),
				   ('other', CASE)):
			with open(os.path.join(self.cases, name + '.rs'), 'w') as f:
				f.write(text)
		self.calls = []

	def tearDown(self):
		self.tmp.cleanup()

	def fake(self, control_code):
		outputs = {'good': (1, CONST_EVAL_ERROR), 'compiles': (0, ''),
			   'other': (1, TYPE_ERROR),
			   'rust_vfio_emul': (control_code, TYPE_ERROR
					      if control_code else '')}

		def execute(argv, env, cwd):
			self.calls.append((argv, env, cwd))
			return outputs[argv[argv.index('--crate-name') + 1]]
		return execute

	def run_cases(self, control_code=0):
		return run_cases(self.ksrc, self.kbuild, self.cases, self.work,
				 env={'PATH': '/usr/bin'},
				 execute=self.fake(control_code))

	def test_verdicts(self):
		control, results = self.run_cases()
		self.assertTrue(control.passed)
		self.assertEqual([(r.name, r.passed) for r in results],
				 [('compiles', False), ('good', True), ('other', False)])
		self.assertEqual(results[2].errors[0], 'error[E0308]: mismatched types')
		self.assertEqual(results[1].rule, MESSAGE)

	def test_control_first_in_kbuild(self):
		self.run_cases()
		argv, env, cwd = self.calls[0]
		self.assertEqual(argv[-1], os.path.join(self.ksrc, 'samples', 'rust',
							'rust_vfio_emul.rs'))
		self.assertEqual(cwd, self.kbuild)
		self.assertEqual(env['PATH'], '/usr/bin')
		for argv, _, _ in self.calls:
			outputs = [a for a in argv if a.startswith('--emit=')]
			self.assertTrue(all(self.work in a for a in outputs))

	def test_broken_control_fails_every_case(self):
		control, results = self.run_cases(control_code=1)
		self.assertFalse(control.passed)
		self.assertEqual(control.errors[0], 'error[E0308]: mismatched types')
		self.assertEqual(len(self.calls), 1)
		self.assertTrue(all(not r.passed and 'harness broken' in r.reason
				    for r in results))

	def test_no_cmd_file(self):
		os.unlink(os.path.join(self.kbuild, 'samples', 'rust',
				       '.rust_vfio_emul.o.cmd'))
		control, results = self.run_cases()
		self.assertFalse(control.passed)
		self.assertIn('no recorded command', control.reason)
		self.assertEqual(self.calls, [])
		self.assertEqual(len(results), 3)
		self.assertFalse(any(r.passed for r in results))

	def test_scratch_inside_build_refused(self):
		with self.assertRaises(Error):
			run_cases(self.ksrc, self.kbuild, self.cases,
				  os.path.join(self.kbuild, 'tmp'),
				  execute=self.fake(0))

	def test_real_cases_have_rules_and_expects(self):
		for case in compile_fail.load_cases():
			self.assertTrue(case.rule, case.name)
			self.assertTrue(case.expects, case.name)


if __name__ == '__main__':
	unittest.main()
