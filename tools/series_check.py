# SPDX-License-Identifier: GPL-2.0
"""The static checks of a line's series (tools/series.py check): its
export applied with 'git am' on the line's pristine base, the base's
'checkpatch.pl --strict' on every patch (ignores: linux/checkpatch.ignore)
and get_maintainer.pl for every added file; and the Coccinelle rule's
reports at a revision of the line's tree (cocci_report), for the run's
check job.
"""

import email
import email.utils
import os
import subprocess
import tempfile

from series_core import BUILD, PRIMARY, TOP, Tally, die, git, lines_of
from series_export import export_line
from series_tree import exporter


def checkpatch_ignores():
	"""'TYPE  reason' lines of linux/checkpatch.ignore."""
	types = []
	with open(os.path.join(TOP, 'linux', 'checkpatch.ignore')) as f:
		for line in f:
			line = line.split('#', 1)[0].strip()
			if line:
				types.append(line.split()[0])
	return types


def check_series(line=PRIMARY):
	"""A line's submissions: git am of each, in order, on the line's
	pristine base, checkpatch --strict (the base's own) on every patch,
	recipients for each.

	Prints a TAP-like line per check; returns (passed, failed).
	"""
	user = exporter()
	subs = export_line(line, signoff=bool(user))
	ksrc = line.ksrc
	tally = Tally()
	result = tally.result
	print(f'# the {line.name} line: {line.pkg} {line.version}, '
	      f'{line.rel}/submissions')
	if user:
		print(f'# exported as the git user {user}, who signs it off')
	else:
		print('# no git user: exported without Signed-off-by, which '
		      'checkpatch is told to ignore here; make series refuses')

	am_tree = os.path.join(BUILD, 'am-check' + (
		'' if line is PRIMARY else f'-{line.name}'))
	if not os.path.isdir(am_tree):
		git('worktree', 'add', '-q', '--detach', am_tree, 'base',
		    cwd=ksrc)
	git('am', '--abort', cwd=am_tree, check=False)
	git('reset', '-q', '--hard', 'base', cwd=am_tree)
	applied = True
	for sub in subs:
		name = os.path.basename(sub.folder)
		res = subprocess.run(['git', 'am', '-q', '--whitespace=error',
				      *sub.patches()], cwd=am_tree,
				     capture_output=True, text=True)
		applied = applied and res.returncode == 0
		result(res.returncode == 0, f'git am of {name} '
		       f'({len(sub.patches())} patches) on the base and the '
		       'submissions before it', res.stdout + res.stderr)
		if res.returncode:
			git('am', '--abort', cwd=am_tree, check=False)
			break
		with open(sub.cover()) as f:
			cover = f.read()
		result('\nTo: ' in cover and '***' not in cover,
		       f'{name}: its cover letter has a subject, a text and '
		       'recipients')
		if not sub.maintainers_to:
			to = [a for _, a in email.utils.getaddresses(
				email.message_from_string(cover).get_all('To'))]
			result(to == sub.to, f'{name}: To: {" ".join(sub.to)} '
			       'alone, the maintainers Cc', f'To: {to}')
	same = applied and git('rev-parse', 'HEAD^{tree}', cwd=am_tree) == \
		git('rev-parse', 'series^{tree}', cwd=ksrc)
	result(same, 'the submissions applied in order give the series tree')
	patches = [p for sub in subs for p in sub.patches()]

	# checkpatch runs scripts/spdxcheck.py, which needs Debian's python3
	# (python3-ply, python3-git), not whichever python3 comes first on PATH.
	env = dict(os.environ, PATH='/usr/bin:/bin:' + os.environ['PATH'])
	ignore = ','.join(checkpatch_ignores() +
			  ([] if user else ['MISSING_SIGN_OFF']))
	for patch in patches:
		cmd = ['scripts/checkpatch.pl', '--strict', '--terse', '--no-summary',
		       '--show-types', patch]
		if ignore:
			cmd[1:1] = ['--ignore', ignore]
		res = subprocess.run(cmd, cwd=ksrc, capture_output=True, text=True,
				     env=env)
		result(res.returncode == 0 and not (res.stdout + res.stderr).strip(),
		       'checkpatch --strict '
		       f'{os.path.relpath(patch, line.export_dir)}',
		       res.stdout + res.stderr)

	# Stands in for checkpatch's FILE_PATH_CHANGES (linux/checkpatch.ignore).
	added = git('diff', '--name-only', '--diff-filter=A', 'base', 'series',
		    cwd=ksrc)
	orphans = []
	for path in added.splitlines():
		res = subprocess.run(['scripts/get_maintainer.pl', '--no-git',
				      '--no-git-fallback', '-f', path],
				     cwd=ksrc, capture_output=True, text=True)
		if '(maintainer:' not in res.stdout:
			orphans.append(path)
	result(not orphans, f'get_maintainer.pl names a maintainer for each of '
	       f'the {len(added.splitlines())} added files', '\n'.join(orphans))
	return tally.passed, tally.failed


def check(args):
	lines = lines_of(args)
	passed = failed = 0
	for line in lines:
		p, f = check_series(line)
		passed, failed = passed + p, failed + f
	print(f'{passed} passed, {failed} failed')
	return 1 if failed else 0


# The Coccinelle rule, in each line's tree as its series submits it.
COCCI_RULE = 'scripts/coccinelle/api/vfio_iommufd_ops.cocci'
# The rule's reports that are advice, not bugs.
COCCI_ADVISORY = 'advisory: '


def cocci_rule(line=PRIMARY):
	"""The text of the line's Coccinelle rule, at its tip ('series'); a
	line that does not take the rule (6.12.y) is checked with the
	mainline line's."""
	for ksrc in (line.ksrc, PRIMARY.ksrc):
		rule = git('show', f'series:{COCCI_RULE}', raw=True, cwd=ksrc,
			   check=False)
		if rule:
			return rule
	die(f'no {COCCI_RULE} in {line.name}\'s tree nor {PRIMARY.name}\'s')


def run_cocci(rule, sources):
	"""The reports of the Coccinelle rule text rule over sources, {path:
	text}, as lines."""
	with tempfile.TemporaryDirectory(dir=BUILD) as tmp:
		cocci = os.path.join(tmp, 'rule.cocci')
		with open(cocci, 'w') as f:
			f.write(rule)
		for path, text in sources.items():
			dst = os.path.join(tmp, 'src', path)
			os.makedirs(os.path.dirname(dst), exist_ok=True)
			with open(dst, 'w') as f:
				f.write(text)
		res = subprocess.run(['spatch', '--very-quiet', '--no-includes',
				      '--include-headers', '-D', 'report',
				      '--sp-file', cocci, *sorted(sources)],
				     cwd=os.path.join(tmp, 'src'),
				     capture_output=True, text=True)
	if res.returncode:
		die(f'spatch failed:\n{res.stderr}')
	return [l for l in res.stdout.splitlines() if l.strip()]


def cocci_report(rev, line=PRIMARY):
	"""Reports of the line's vfio_device_ops rule (cocci_rule()) over
	drivers/ and samples/ at rev of the line's tree.

	Only the files that name struct vfio_device_ops can match; they are
	taken from git at rev, so no work tree has to be checked out.
	"""
	files = git('grep', '-l', 'struct vfio_device_ops', rev, '--',
		    'drivers', 'samples', check=False, cwd=line.ksrc).splitlines()
	sources = {}
	for entry in files:
		path = entry.split(':', 1)[1]
		sources[path] = git('show', f'{rev}:{path}', raw=True,
				    cwd=line.ksrc)
	return run_cocci(cocci_rule(line), sources)
