#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the project's sources into a kernel git tree and a patch series.

The base kernel is Debian's linux-source-6.12 tarball.  'prepare' unpacks it
once into build/linux, makes it a git repository whose first commit (tag
'base') is the pristine source, and then builds one commit per entry of
linux/series/ on branch 'series'.  Commits are made with git plumbing in a
scratch index, so the work tree is only touched by the final 'git reset
--hard', which rewrites just the files that differ: a re-run rebuilds the
kernel incrementally.

A series entry is linux/series/NNNN-name.commit: the commit message (no
Signed-off-by: the commits are the git user's, who signs them off on export),
a line '---', then one line per change:

    patch linux/patches/NAME.diff   a diff against the tree, for files the
                                    kernel already has
    add TOP/PATH                    TOP/PATH of this repository becomes the
                                    kernel file PATH (TOP is c-core,
                                    rust-bindings or kunit)

Other commands: 'export' writes 'git format-patch --cover-letter --base
--signoff' to build/series, as the git user (user.name, user.email), and
refuses without one; 'check' verifies that export with 'git am' on the
pristine base and 'checkpatch.pl --strict' (ignores:
linux/checkpatch.ignore).
"""

import argparse
import email
import email.utils
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, 'build')
KSRC = os.path.join(BUILD, 'linux')
SERIES_DIR = os.path.join(TOP, 'linux', 'series')
EXPORT_DIR = os.path.join(BUILD, 'series')
TARBALL = '/usr/src/linux-source-6.12.tar.xz'
BASE_PACKAGE = 'linux-source-6.12'
SOURCE_TOPS = ('c-core', 'rust-bindings', 'kunit')


def log(tag, msg):
	print(f'  {tag:<7} {msg}', flush=True)


def die(msg):
	print(f'series: {msg}', file=sys.stderr)
	sys.exit(1)


def git(*args, cwd=KSRC, env=None, input=None, check=True, raw=False):
	full_env = dict(os.environ, **(env or {}))
	res = subprocess.run(['git', *args], cwd=cwd, env=full_env, input=input,
			     capture_output=True, text=True)
	if check and res.returncode:
		die(f'git {" ".join(args)}: {res.stderr.strip()}')
	return res.stdout if raw else res.stdout.strip()


def read_pin():
	"""The base pin: 'linux-source-6.12 <Debian version>' in linux/base."""
	with open(os.path.join(TOP, 'linux', 'base')) as f:
		for line in f:
			if line.strip() and not line.startswith('#'):
				pkg, version = line.split()
				return pkg, version
	die('linux/base names no package')


def installed_version():
	return subprocess.run(['dpkg-query', '-W', '-f=${Version}', BASE_PACKAGE],
			      capture_output=True, text=True).stdout.strip()


def makefile_version(makefile):
	fields = dict(re.findall(r'^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)'
				 r' = ?(.*)$', makefile, re.M))
	return '{VERSION}.{PATCHLEVEL}.{SUBLEVEL}{EXTRAVERSION}'.format(**fields)


def unpack_base():
	"""Unpack the pinned tarball into build/linux and tag it 'base'."""
	pkg, pinned = read_pin()
	have = installed_version()
	if not have:
		die(f'{pkg} is not installed (run tools/install-toolchain.sh)')
	if have != pinned:
		die(f'{pkg} {have} installed, {pinned} pinned in linux/base: '
		    'run tools/install-toolchain.sh')
	unpack_tarball(TARBALL, KSRC, f'{pkg} {have}')
	git('config', 'core.abbrev', '12')
	git('tag', 'base')


def unpack_tarball(tarball, dest, label):
	"""Unpack a linux-source tarball into dest, a new git repository on
	branch 'series' whose one commit holds the tree; label (the package
	and its version) goes into the commit's subject."""
	log('UNPACK', f'{tarball} ({label})')
	parent = os.path.dirname(dest)
	os.makedirs(parent, exist_ok=True)
	tmp = tempfile.mkdtemp(dir=parent)
	subprocess.run(['tar', '-xJf', tarball, '-C', tmp], check=True)
	shutil.move(os.path.join(tmp, 'linux-source-6.12'), dest)
	os.rmdir(tmp)
	git('init', '-q', '-b', 'series', cwd=dest)
	with open(os.path.join(dest, 'Makefile')) as f:
		version = makefile_version(f.read())
	log('COMMIT', f'pristine base Linux {version} (about 30 s)')
	git('add', '-A', '-f', cwd=dest)
	git('commit', '-q', '--no-verify', '-m', f'Linux {version} ({label})',
	    cwd=dest, env=BASE_IDENTITY)


def identity_env(ident, date):
	m = re.match(r'(.*?)\s*<(.*)>', ident)
	name, email = m.group(1), m.group(2)
	return {'GIT_AUTHOR_NAME': name, 'GIT_AUTHOR_EMAIL': email,
		'GIT_COMMITTER_NAME': name, 'GIT_COMMITTER_EMAIL': email,
		'GIT_AUTHOR_DATE': date, 'GIT_COMMITTER_DATE': date}


# The author and committer of the base's one commit.
BASE_IDENTITY = identity_env('Base Import <base@localhost>', '@0 +0000')


class Entry:
	"""One commit of the series, parsed from linux/series/*.commit."""

	def __init__(self, path):
		self.path = path
		self.name = os.path.basename(path)
		with open(path) as f:
			text = f.read()
		if '\n---\n' not in text:
			die(f'{self.name}: no "---" line before the change list')
		message, changes = text.split('\n---\n', 1)
		self.message = message.strip() + '\n'
		if re.search(r'^Signed-off-by:', message, re.M):
			die(f'{self.name}: a Signed-off-by line; the series is '
			    'signed off by the git user who exports it')
		self.changes = []
		for line in changes.splitlines():
			line = line.split('#', 1)[0].strip()
			if not line:
				continue
			kind, _, arg = line.partition(' ')
			arg = arg.strip()
			if kind not in ('patch', 'add') or not arg:
				die(f'{self.name}: bad change line "{line}"')
			if not os.path.isfile(os.path.join(TOP, arg)):
				die(f'{self.name}: {arg} does not exist')
			if kind == 'add' and arg.split('/', 1)[0] not in SOURCE_TOPS:
				die(f'{self.name}: {arg} is not under {SOURCE_TOPS}')
			self.changes.append((kind, arg))

	@property
	def subject(self):
		return self.message.splitlines()[0]


def entries():
	names = sorted(n for n in os.listdir(SERIES_DIR) if n.endswith('.commit'))
	return [Entry(os.path.join(SERIES_DIR, n)) for n in names]


def exporter():
	"""'Name <email>' of the git user (user.name and user.email as git
	reads them for the project, or GIT_COMMITTER_NAME and
	GIT_COMMITTER_EMAIL), or None when there is none."""
	name = os.environ.get('GIT_COMMITTER_NAME') or \
		git('config', 'user.name', cwd=TOP, check=False)
	email = os.environ.get('GIT_COMMITTER_EMAIL') or \
		git('config', 'user.email', cwd=TOP, check=False)
	return f'{name} <{email}>' if name and email else None


# The author and committer of build/linux's commits when there is no git
# user: those commits stay local, and only an export, which needs a git
# user, gives the series an identity.
LOCAL_IDENTITY = 'vfio-contract series tool <series@localhost>'


def commit_date():
	"""One date for every commit of the series: the project's last commit."""
	date = subprocess.run(['git', 'log', '-1', '--format=%ct'], cwd=TOP,
			      capture_output=True, text=True).stdout.strip()
	return f'@{date or 0} +0000'


def build_commits(series):
	"""Make the series' commits on top of 'base' without a work tree."""
	fd, index = tempfile.mkstemp(dir=BUILD, prefix='index.')
	os.close(fd)
	os.unlink(index)
	env = {'GIT_INDEX_FILE': index}
	ident = identity_env(exporter() or LOCAL_IDENTITY, commit_date())
	parent = git('rev-parse', 'base^{commit}')
	try:
		git('read-tree', parent, env=env)
		for entry in series:
			for kind, arg in entry.changes:
				src = os.path.join(TOP, arg)
				if kind == 'patch':
					res = subprocess.run(
						['git', 'apply', '--cached', src],
						cwd=KSRC, capture_output=True, text=True,
						env=dict(os.environ, **env))
					if res.returncode:
						die(f'{entry.name}: {arg} does not apply:\n'
						    f'{res.stderr}')
				else:
					kpath = arg.split('/', 1)[1]
					blob = git('hash-object', '-w', src)
					mode = '100755' if os.access(src, os.X_OK) else '100644'
					git('update-index', '--add', '--cacheinfo',
					    f'{mode},{blob},{kpath}', env=env)
			tree = git('write-tree', env=env)
			parent = git('commit-tree', tree, '-p', parent,
				     input=entry.message, env=ident)
	finally:
		if os.path.exists(index):
			os.unlink(index)
	return parent


def base_is_pinned():
	"""Whether build/linux's base is the version linux/base pins (its
	commit says which package version it was unpacked from)."""
	pkg, pinned = read_pin()
	return git('log', '-1', '--format=%s', 'base', check=False).endswith(
		f'({pkg} {pinned})')


def prepare(_args):
	os.makedirs(BUILD, exist_ok=True)
	if os.path.isdir(os.path.join(KSRC, '.git')) and not base_is_pinned():
		log('REMOVE', f'{os.path.relpath(KSRC, TOP)} and its worktrees: '
		    'its base is not the pinned version')
		trees = re.findall(r'^worktree (.+)$', git('worktree', 'list',
							   '--porcelain'), re.M)
		for tree in trees:
			shutil.rmtree(tree, ignore_errors=True)
	if not os.path.isdir(os.path.join(KSRC, '.git')):
		if os.path.exists(KSRC):
			die(f'{KSRC} exists but is no git repository: remove it')
		unpack_base()
	pkg, _ = read_pin()
	base_subject = git('log', '-1', '--format=%s', 'base')
	series = entries()
	tip = build_commits(series)
	old = git('rev-parse', 'HEAD')
	if git('rev-parse', f'{old}^{{tree}}') == git('rev-parse', f'{tip}^{{tree}}'):
		git('update-ref', 'refs/heads/series', tip)
		git('reset', '-q', '--soft', tip)
	else:
		git('reset', '-q', '--hard', tip)
	dirty = git('status', '--porcelain', '--untracked-files=no')
	if dirty:
		die(f'build/linux has local changes the series does not make:\n{dirty}')
	log('BASE', base_subject)
	log('SERIES', f'{len(series)} commits on base, tip {tip[:12]}')


SUBMISSIONS = os.path.join(TOP, 'linux', 'submissions')
COVERS_DIR = os.path.join(TOP, 'linux', 'covers')


class Submission:
	"""One submission of linux/submissions: its name, subject prefix,
	first and last series entry (their numbers), extra To: addresses,
	whether the maintainers get_maintainer.pl names go To: (or Cc:, for
	a submission addressed to its 'to' alone, as a stable backport is),
	and its folder under EXPORT_DIR once numbered."""

	def __init__(self, fields, number):
		self.name = fields['name']
		self.prefix = fields['prefix']
		self.first, self.last = fields['entries'].split()
		self.to = fields.get('to', '').split()
		maintainers = fields.get('maintainers', 'to')
		if maintainers not in ('to', 'cc') or \
				(maintainers == 'cc' and not self.to):
			die(f'linux/submissions: {self.name}: maintainers is "to", '
			    'or "cc" with addresses in "to"')
		self.maintainers_to = maintainers == 'to'
		self.folder = os.path.join(EXPORT_DIR, f'{number:02d}-{self.name}')

	def patches(self):
		"""The submission's exported patches, its cover letter excluded."""
		return sorted(os.path.join(self.folder, p)
			      for p in os.listdir(self.folder)
			      if p.endswith('.patch') and not p.startswith('0000-'))

	def cover(self):
		"""The submission's exported cover letter."""
		return os.path.join(self.folder, sorted(
			p for p in os.listdir(self.folder) if p.startswith('0000-'))[0])


def submissions():
	"""linux/submissions, checked: together, in order, the submissions
	hold every series entry once, and each has a cover letter."""
	blocks, fields = [], {}
	with open(SUBMISSIONS) as f:
		for line in f.read().splitlines() + ['']:
			line = line.split('#', 1)[0].strip()
			if not line:
				if fields:
					blocks.append(fields)
				fields = {}
				continue
			key, _, value = line.partition(':')
			fields[key.strip()] = value.strip()
	subs = [Submission(b, n) for n, b in enumerate(blocks, 1)]
	numbers = [e.name[:4] for e in entries()]
	at = 0
	for sub in subs:
		if sub.first not in numbers or sub.last not in numbers or \
				numbers.index(sub.first) != at or \
				numbers.index(sub.last) < at:
			die(f'linux/submissions: {sub.name} does not take the entries '
			    f'from {numbers[at] if at < len(numbers) else "the end"} on')
		at = numbers.index(sub.last) + 1
		if not os.path.isfile(os.path.join(COVERS_DIR, sub.name)):
			die(f'linux/submissions: no cover letter linux/covers/{sub.name}')
	if at != len(numbers):
		die(f'linux/submissions: entries from {numbers[at]} on are in no '
		    'submission')
	return subs


def recipients(patches):
	"""(To, Cc) of patches from scripts/get_maintainer.pl: maintainers
	and supporters To, reviewers and lists Cc."""
	res = subprocess.run(['scripts/get_maintainer.pl', '--no-git',
			      '--no-git-fallback', '--rolestats', *patches],
			     cwd=KSRC, capture_output=True, text=True, check=True)
	to, cc = [], []
	for line in res.stdout.splitlines():
		m = re.match(r'(.+?) \((.*)\)$', line.strip())
		if not m:
			continue
		address, roles = m.groups()
		dest = to if re.search(r'\b(maintainer|supporter):', roles) else cc
		if address not in dest:
			dest.append(address)
	return to, cc


def export(_args, signoff=True):
	"""The submissions of linux/submissions, each as git format-patch to
	its folder of EXPORT_DIR: numbered within it, with its cover letter,
	To: and Cc: from get_maintainer.pl, authored and signed off
	(--signoff) by the git user who exports. Without signoff (the static
	checks, when there is no git user) the patches carry no
	Signed-off-by. Returns the submissions."""
	user = exporter()
	if signoff and not user:
		die('no git user to sign the series off: set user.name and '
		    'user.email (git config), as whoever sends the patches')
	if user and git('log', '-1', '--format=%an <%ae>', 'series') != user:
		die(f'build/linux was built as another git user than {user}: '
		    'run tools/series.py prepare')
	subs = submissions()
	commits = git('rev-list', '--reverse', 'base..series').split()
	numbers = [e.name[:4] for e in entries()]
	if len(commits) != len(numbers):
		die('build/linux does not hold the series: run tools/series.py '
		    'prepare')
	if os.path.isdir(EXPORT_DIR):
		shutil.rmtree(EXPORT_DIR)
	pkg, version = read_pin()
	base = makefile_version(git('show', 'base:Makefile'))
	env = identity_env(user or LOCAL_IDENTITY, commit_date())
	for n, sub in enumerate(subs):
		first = commits[numbers.index(sub.first)]
		last = commits[numbers.index(sub.last)]
		args = ['format-patch', '-q', '--cover-letter', '--base=base',
			'--no-signature', f'--subject-prefix={sub.prefix}',
			*(['--signoff'] if signoff else []), f'{first}^..{last}']
		git(*args, '-o', sub.folder, env=env)
		to, cc = recipients(sub.patches())
		if not sub.maintainers_to:
			to, cc = [], to + cc
		shutil.rmtree(sub.folder)
		git(*args, '-o', sub.folder, env=env,
		    *[f'--to={a}' for a in sub.to + to], *[f'--cc={a}' for a in cc])
		with open(os.path.join(COVERS_DIR, sub.name)) as f:
			subject, blurb = f.read().split('\n', 1)
		before = [s.name for s in subs[:n]]
		blurb = blurb.strip() + '\n\n' + textwrap.fill(
			f'Based on Linux {base} as Debian ships it ({pkg} {version}), '
			'imported as one commit (the base-commit below)' +
			(', after the submissions ' + ', '.join(before) +
			 ' (the prerequisite patches below)' if before else '') + '.',
			width=72)
		cover = sub.cover()
		with open(cover) as f:
			text = f.read()
		text = text.replace('*** SUBJECT HERE ***', subject.strip())
		text = text.replace('*** BLURB HERE ***', blurb)
		with open(cover, 'w') as f:
			f.write(text)
		log('EXPORT', f'{os.path.relpath(sub.folder, TOP)}/: '
		    f'[{sub.prefix}] {len(sub.patches())} patches and a cover '
		    f'letter, to {len(sub.to + to)} and cc {len(cc)}')
	return subs


def checkpatch_ignores():
	"""'TYPE  reason' lines of linux/checkpatch.ignore."""
	types = []
	with open(os.path.join(TOP, 'linux', 'checkpatch.ignore')) as f:
		for line in f:
			line = line.split('#', 1)[0].strip()
			if line:
				types.append(line.split()[0])
	return types


class Tally:
	"""Checks reported one 'ok'/'not ok' line each, and counted."""

	def __init__(self):
		self.passed = self.failed = 0

	def result(self, ok, what, detail=''):
		"""Report one check; @detail is printed when it failed."""
		print(f'{"ok" if ok else "not ok"} - {what}', flush=True)
		if ok:
			self.passed += 1
		else:
			self.failed += 1
			if detail.strip():
				print(detail.rstrip())
		return ok


def check_series():
	"""The submissions: git am of each, in order, on the pristine base,
	checkpatch --strict on every patch, recipients for each.

	Prints a TAP-like line per check; returns (passed, failed).
	"""
	user = exporter()
	subs = export(None, signoff=bool(user))
	tally = Tally()
	result = tally.result
	if user:
		print(f'# exported as the git user {user}, who signs it off')
	else:
		print('# no git user: exported without Signed-off-by, which '
		      'checkpatch is told to ignore here; make series refuses')

	am_tree = os.path.join(BUILD, 'am-check')
	if not os.path.isdir(am_tree):
		git('worktree', 'add', '-q', '--detach', am_tree, 'base')
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
		git('rev-parse', 'series^{tree}')
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
		res = subprocess.run(cmd, cwd=KSRC, capture_output=True, text=True,
				     env=env)
		result(res.returncode == 0 and not (res.stdout + res.stderr).strip(),
		       'checkpatch --strict '
		       f'{os.path.relpath(patch, EXPORT_DIR)}',
		       res.stdout + res.stderr)

	# Stands in for checkpatch's FILE_PATH_CHANGES (linux/checkpatch.ignore).
	added = git('diff', '--name-only', '--diff-filter=A', 'base', 'series')
	orphans = []
	for path in added.splitlines():
		res = subprocess.run(['scripts/get_maintainer.pl', '--no-git',
				      '--no-git-fallback', '-f', path],
				     cwd=KSRC, capture_output=True, text=True)
		if '(maintainer:' not in res.stdout:
			orphans.append(path)
	result(not orphans, f'get_maintainer.pl names a maintainer for each of '
	       f'the {len(added.splitlines())} added files', '\n'.join(orphans))
	return tally.passed, tally.failed


def check(_args):
	passed, failed = check_series()
	print(f'{passed} passed, {failed} failed')
	return 1 if failed else 0


def cocci_report(rev):
	"""Reports of the vfio_device_ops rule over drivers/ and samples/ at rev.

	Only the files that name struct vfio_device_ops can match; they are
	taken from git at rev, so no work tree has to be checked out.
	"""
	cocci = os.path.join(TOP, 'c-core', 'scripts', 'coccinelle', 'api',
			     'vfio_iommufd_ops.cocci')
	files = git('grep', '-l', 'struct vfio_device_ops', rev, '--',
		    'drivers', 'samples', check=False).splitlines()
	with tempfile.TemporaryDirectory(dir=BUILD) as tmp:
		paths = []
		for entry in files:
			path = entry.split(':', 1)[1]
			dst = os.path.join(tmp, path)
			os.makedirs(os.path.dirname(dst), exist_ok=True)
			with open(dst, 'w') as f:
				f.write(git('show', f'{rev}:{path}', raw=True))
			paths.append(path)
		res = subprocess.run(['spatch', '--very-quiet', '--no-includes',
				      '--include-headers', '-D', 'report',
				      '--sp-file', cocci, *sorted(paths)],
				     cwd=tmp, capture_output=True, text=True)
	if res.returncode:
		die(f'spatch failed:\n{res.stderr}')
	return [l for l in res.stdout.splitlines() if l.strip()]


def refresh(args):
	"""Rewrite a commit's patch from the work tree.

	Check out the commit in build/linux (git checkout --detach), edit the
	files its patch covers, then run this: the patch becomes the diff of
	those files against the commit's parent, and the tree goes back to the
	branch 'series'. Files the patch does not cover yet are added with
	--add.
	"""
	entry = next((e for e in entries() if e.name.startswith(args.entry)), None)
	if not entry:
		die(f'no series entry {args.entry}')
	patches = [arg for kind, arg in entry.changes if kind == 'patch']
	if len(patches) != 1:
		die(f'{entry.name} has {len(patches)} patches, refresh needs one')
	head = git('log', '-1', '--format=%s', 'HEAD')
	if head != entry.subject:
		die(f'build/linux is at "{head}", not at {entry.name}: check out '
		    'that commit first')
	with open(os.path.join(TOP, patches[0])) as f:
		files = re.findall(r'^diff --git a/(\S+) ', f.read(), re.M)
	files += args.add
	diff = git('diff', 'HEAD~1', '--', *files, raw=True)
	diff = re.sub(r'^index .*\n', '', diff, flags=re.M)
	with open(os.path.join(TOP, patches[0]), 'w') as f:
		f.write(diff)
	git('checkout', '-q', '--', '.')
	git('checkout', '-q', 'series')
	log('REFRESH', f'{patches[0]} ({len(files)} files)')


def main():
	parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
	sub = parser.add_subparsers(dest='cmd', required=True)
	sub.add_parser('prepare', help='unpack the base, (re)build the series')
	sub.add_parser('export', help='format-patch the series to build/series')
	sub.add_parser('check', help='git am and checkpatch every patch')
	ref = sub.add_parser('refresh', help='rewrite a commit\'s patch from the '
			     'work tree (see the function\'s comment)')
	ref.add_argument('entry', help='the entry\'s number, e.g. 0009')
	ref.add_argument('--add', nargs='*', default=[], metavar='PATH',
			 help='more files for the patch')
	args = parser.parse_args()
	rc = {'prepare': prepare, 'export': lambda a: export(a) and 0,
	      'check': check,
	      'refresh': refresh}[args.cmd](args)
	sys.exit(rc or 0)


if __name__ == '__main__':
	main()
