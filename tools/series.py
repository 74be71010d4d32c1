#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the project's sources into a kernel git tree and a patch series.

The series is kept for more than one base, a line each (LINES): the 6.12.y
line (linux/base, linux/submissions) and the mainline line of Linux 7.3
(linux/7.3/base, linux/7.3/submissions), which holds what of the series
has been moved to 7.3 so far. A line's base is a Debian linux-source
tarball, installed from the machine's own apt sources or, when its pin
names another suite, fetched with apt-get download through a private apt
configuration (tools/install-toolchain.sh). 'prepare' unpacks it once into
the line's tree (build/linux, build/linux-7.3), makes it a git repository
whose first commit (tag 'base') is the pristine source, and then builds one
commit per entry of the line's submissions on branch 'series'. Commits are
made with git plumbing in a scratch index, so the work tree is only touched by the final 'git reset
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

The entries live in linux/series/, one pool for every line; a line's own
series/ folder (linux/7.3/series/) holds the entries that differ on its
base, and takes precedence for their number. Likewise a file an entry
names has a variant for a line in the line's folder (linux/7.3/patches/X.diff
for linux/patches/X.diff, linux/7.3/kunit/PATH for kunit/PATH), which that
line takes instead; and a file an entry adds that differs on a line in a
few lines only has a diff there instead, linux/7.3/series/NNNN-*.diff,
applied on top of entry NNNN's changes.

'prepare' and the other commands take --line (default: every line):
'export' writes 'git format-patch --cover-letter --base
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


# Where tools/install-toolchain.sh unpacks the base packages it fetches with
# apt-get download (a pin that names a suite): CACHE/<package>_<version>/.
CACHE = os.path.expanduser('~/.cache/vfio-contract/bases')


def read_pin(path):
	"""A base pin: '<package> <Debian version> [<suite>]', the first line
	of path that is no comment; suite None when the machine's own apt
	sources install it."""
	with open(path) as f:
		for line in f:
			if line.strip() and not line.startswith('#'):
				fields = line.split()
				if len(fields) not in (2, 3):
					break
				return fields[0], fields[1], \
					(fields[2] if len(fields) == 3 else None)
	die(f'{os.path.relpath(path, TOP)} names no package')


class Line:
	"""One base the series is kept for: the folder of its pin (base) and
	its submissions, the tree it is built in, and where it is exported."""

	def __init__(self, name, folder, ksrc, export_dir):
		self.name = name
		self.folder = os.path.join(TOP, folder)
		self.ksrc = ksrc
		self.export_dir = export_dir
		self.pkg, self.version, self.suite = read_pin(
			os.path.join(self.folder, 'base'))

	def __repr__(self):
		return f'Line({self.name})'

	@property
	def rel(self):
		"""The line's folder, relative to the repository."""
		return os.path.relpath(self.folder, TOP)

	def tarball(self):
		"""The path of the base's linux-source tarball."""
		name = f'{self.pkg}.tar.xz'
		if self.suite:
			return os.path.join(CACHE, f'{self.pkg}_{self.version}',
					    'usr', 'src', name)
		return os.path.join('/usr/src', name)

	def have(self):
		"""The version of the base package the machine has ('' if none)."""
		if self.suite:
			ok = os.path.isfile(self.tarball())
			return self.version if ok else ''
		return subprocess.run(['dpkg-query', '-W', '-f=${Version}',
				       self.pkg], capture_output=True,
				      text=True).stdout.strip()

	def source(self, arg):
		"""The file of this repository a change line's argument arg
		names on this line: the line's own variant of it if it has one
		(linux/patches/X.diff: FOLDER/patches/X.diff; kunit/PATH:
		FOLDER/kunit/PATH, and so on for c-core and rust-bindings),
		otherwise TOP/arg."""
		if self is not PRIMARY:
			own = os.path.join(self.folder, arg.removeprefix('linux/'))
			if os.path.isfile(own):
				return own
		return os.path.join(TOP, arg)

	def own_series(self):
		"""The line's own series folder (FOLDER/series), or None: the
		6.12.y line's is linux/series/ itself, the pool."""
		folder = os.path.join(self.folder, 'series')
		if folder == SERIES_DIR or not os.path.isdir(folder):
			return None
		return folder

	def deltas(self, entry):
		"""The diffs this line applies on top of entry's changes, in
		name order: FOLDER/series/NNNN-*.diff, for a file the entry adds
		that differs on this line in a few lines only (a whole variant
		would be a second copy of it)."""
		folder = self.own_series()
		if not folder:
			return []
		return [os.path.join(folder, n) for n in sorted(os.listdir(folder))
			if n.startswith(entry.name[:4] + '-') and n.endswith('.diff')]

	def series_dirs(self):
		"""Where the line's entries are looked up, its own folder first."""
		return [d for d in (self.own_series(), SERIES_DIR) if d]


LINES = [Line('6.12.y', 'linux', os.path.join(BUILD, 'linux'),
	      os.path.join(BUILD, 'series')),
	 Line('7.3', 'linux/7.3', os.path.join(BUILD, 'linux-7.3'),
	      os.path.join(BUILD, 'series-7.3'))]
PRIMARY = LINES[0]


def line_named(name):
	for line in LINES:
		if line.name == name:
			return line
	die(f'no line {name}: the lines are '
	    f'{", ".join(l.name for l in LINES)}')


def lines_of(args):
	"""The lines a command's --line names: one, every line when it names
	none, the 6.12.y line when there are no arguments (a caller in
	Python)."""
	if args is None:
		return [PRIMARY]
	return [line_named(args.line)] if args.line else LINES


def makefile_version(makefile):
	fields = dict(re.findall(r'^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)'
				 r' = ?(.*)$', makefile, re.M))
	return '{VERSION}.{PATCHLEVEL}.{SUBLEVEL}{EXTRAVERSION}'.format(**fields)


def unpack_base(line=PRIMARY):
	"""Unpack the line's pinned tarball into its tree and tag it 'base'."""
	have = line.have()
	if not have:
		die(f'{line.pkg} {line.version} is not on this machine (run '
		    'tools/install-toolchain.sh)')
	if have != line.version:
		die(f'{line.pkg} {have} installed, {line.version} pinned in '
		    f'{line.rel}/base: run tools/install-toolchain.sh')
	unpack_tarball(line.tarball(), line.ksrc, f'{line.pkg} {have}')
	git('config', 'core.abbrev', '12', cwd=line.ksrc)
	git('tag', 'base', cwd=line.ksrc)


def unpack_tarball(tarball, dest, label):
	"""Unpack a linux-source tarball into dest, a new git repository on
	branch 'series' whose one commit holds the tree; label (the package
	and its version) goes into the commit's subject."""
	log('UNPACK', f'{tarball} ({label})')
	parent = os.path.dirname(dest)
	os.makedirs(parent, exist_ok=True)
	tmp = tempfile.mkdtemp(dir=parent)
	subprocess.run(['tar', '-xJf', tarball, '-C', tmp], check=True)
	top, = os.listdir(tmp)
	shutil.move(os.path.join(tmp, top), dest)
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


def pool(line=PRIMARY):
	"""Every entry the line can take, by number: linux/series/, with the
	line's own series/ folder taking precedence."""
	found = {}
	for folder in reversed(line.series_dirs()):
		for name in os.listdir(folder):
			if name.endswith('.commit'):
				found[name[:4]] = os.path.join(folder, name)
	return [Entry(found[n]) for n in sorted(found)]


def entries(line=PRIMARY):
	"""The line's commits, in order: the entries its submissions take."""
	numbers = {n for sub in submissions(line) for n in sub.numbers}
	return [e for e in pool(line) if e.name[:4] in numbers]


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


def apply_cached(ksrc, diff, env, what):
	"""git apply --cached of diff in the tree ksrc, to the index env
	names; what names the diff when it does not apply."""
	res = subprocess.run(['git', 'apply', '--cached', diff], cwd=ksrc,
			     capture_output=True, text=True,
			     env=dict(os.environ, **env))
	if res.returncode:
		die(f'{what} does not apply:\n{res.stderr}')


def build_commits(series, line=PRIMARY):
	"""Make the series' commits on top of 'base' without a work tree."""
	ksrc = line.ksrc
	fd, index = tempfile.mkstemp(dir=BUILD, prefix='index.')
	os.close(fd)
	os.unlink(index)
	env = {'GIT_INDEX_FILE': index}
	ident = identity_env(exporter() or LOCAL_IDENTITY, commit_date())
	parent = git('rev-parse', 'base^{commit}', cwd=ksrc)
	try:
		git('read-tree', parent, env=env, cwd=ksrc)
		for entry in series:
			for kind, arg in entry.changes:
				src = line.source(arg)
				if kind == 'patch':
					apply_cached(ksrc, src, env, f'{entry.name}: {arg}')
				else:
					kpath = arg.split('/', 1)[1]
					blob = git('hash-object', '-w', src, cwd=ksrc)
					mode = '100755' if os.access(src, os.X_OK) else '100644'
					git('update-index', '--add', '--cacheinfo',
					    f'{mode},{blob},{kpath}', env=env, cwd=ksrc)
			for delta in line.deltas(entry):
				apply_cached(ksrc, delta, env, f'{entry.name}: '
					     f'{os.path.relpath(delta, TOP)}')
			tree = git('write-tree', env=env, cwd=ksrc)
			parent = git('commit-tree', tree, '-p', parent,
				     input=entry.message, env=ident, cwd=ksrc)
	finally:
		if os.path.exists(index):
			os.unlink(index)
	return parent


def base_is_pinned(line=PRIMARY):
	"""Whether the line's tree's base is the version its base file pins
	(its commit says which package version it was unpacked from)."""
	return git('log', '-1', '--format=%s', 'base', check=False,
		   cwd=line.ksrc).endswith(f'({line.pkg} {line.version})')


def prepare(args):
	"""Unpack the base and build the series of the line args.line names,
	of every line when it names none, of the 6.12.y line without args."""
	lines = lines_of(args)
	for line in lines:
		prepare_line(line)


def prepare_line(line=PRIMARY):
	ksrc = line.ksrc
	rel = os.path.relpath(ksrc, TOP)
	os.makedirs(BUILD, exist_ok=True)
	if os.path.isdir(os.path.join(ksrc, '.git')) and \
			not base_is_pinned(line):
		log('REMOVE', f'{rel} and its worktrees: its base is not the '
		    'pinned version')
		trees = re.findall(r'^worktree (.+)$', git(
			'worktree', 'list', '--porcelain', cwd=ksrc), re.M)
		for tree in trees:
			shutil.rmtree(tree, ignore_errors=True)
	if not os.path.isdir(os.path.join(ksrc, '.git')):
		if os.path.exists(ksrc):
			die(f'{ksrc} exists but is no git repository: remove it')
		unpack_base(line)
	base_subject = git('log', '-1', '--format=%s', 'base', cwd=ksrc)
	series = entries(line)
	tip = build_commits(series, line)
	old = git('rev-parse', 'HEAD', cwd=ksrc)
	if git('rev-parse', f'{old}^{{tree}}', cwd=ksrc) == \
			git('rev-parse', f'{tip}^{{tree}}', cwd=ksrc):
		git('update-ref', 'refs/heads/series', tip, cwd=ksrc)
		git('reset', '-q', '--soft', tip, cwd=ksrc)
	else:
		git('reset', '-q', '--hard', tip, cwd=ksrc)
	dirty = git('status', '--porcelain', '--untracked-files=no', cwd=ksrc)
	if dirty:
		die(f'{rel} has local changes the series does not make:\n{dirty}')
	log('BASE', f'{line.name}: {base_subject}')
	log('SERIES', f'{line.name}: {len(series)} commits on base, tip '
	    f'{tip[:12]}')


COVERS_DIR = os.path.join(TOP, 'linux', 'covers')


class Submission:
	"""One submission of a line's submissions file: its name, subject
	prefix, first and last series entry (their numbers) and the numbers
	between them it takes, extra To: addresses, whether the maintainers
	get_maintainer.pl names go To: (or Cc:, for a submission addressed to
	its 'to' alone, as a stable backport is), its cover letter and its
	folder under the line's export folder once numbered."""

	def __init__(self, fields, number, line, numbers):
		where = f'{line.rel}/submissions'
		self.name = fields['name']
		self.prefix = fields['prefix']
		self.first, self.last = fields['entries'].split()
		if self.first not in numbers or self.last not in numbers or \
				self.last < self.first:
			die(f'{where}: {self.name}: no entries {self.first} to '
			    f'{self.last}')
		self.numbers = [n for n in numbers
				if self.first <= n <= self.last]
		self.to = fields.get('to', '').split()
		maintainers = fields.get('maintainers', 'to')
		if maintainers not in ('to', 'cc') or \
				(maintainers == 'cc' and not self.to):
			die(f'{where}: {self.name}: maintainers is "to", or "cc" '
			    'with addresses in "to"')
		self.maintainers_to = maintainers == 'to'
		self.cover_text = next(
			(p for p in (os.path.join(line.folder, 'covers', self.name),
				     os.path.join(COVERS_DIR, self.name))
			 if os.path.isfile(p)), None)
		if not self.cover_text:
			die(f'{where}: no cover letter linux/covers/{self.name}')
		self.folder = os.path.join(line.export_dir,
					   f'{number:02d}-{self.name}')

	def patches(self):
		"""The submission's exported patches, its cover letter excluded."""
		return sorted(os.path.join(self.folder, p)
			      for p in os.listdir(self.folder)
			      if p.endswith('.patch') and not p.startswith('0000-'))

	def cover(self):
		"""The submission's exported cover letter."""
		return os.path.join(self.folder, sorted(
			p for p in os.listdir(self.folder) if p.startswith('0000-'))[0])


def submissions(line=PRIMARY):
	"""The line's submissions file, checked: the submissions take
	entries in order, none twice, each has a cover letter, and the 6.12.y
	line's take every entry of linux/series/."""
	path = os.path.join(line.folder, 'submissions')
	blocks, fields = [], {}
	with open(path) as f:
		for text in f.read().splitlines() + ['']:
			text = text.split('#', 1)[0].strip()
			if not text:
				if fields:
					blocks.append(fields)
				fields = {}
				continue
			key, _, value = text.partition(':')
			fields[key.strip()] = value.strip()
	numbers = [e.name[:4] for e in pool(line)]
	subs = [Submission(b, n, line, numbers)
		for n, b in enumerate(blocks, 1)]
	for before, sub in zip(subs, subs[1:]):
		if sub.first <= before.last:
			die(f'{line.rel}/submissions: {sub.name} does not start '
			    f'after {before.name}')
	if line is PRIMARY:
		taken = [n for sub in subs for n in sub.numbers]
		if taken != numbers:
			missing = sorted(set(numbers) - set(taken))
			die(f'{line.rel}/submissions: entries '
			    f'{", ".join(missing)} are in no submission')
	return subs


def recipients(patches, line=PRIMARY):
	"""(To, Cc) of patches from scripts/get_maintainer.pl: maintainers
	and supporters To, reviewers and lists Cc."""
	res = subprocess.run(['scripts/get_maintainer.pl', '--no-git',
			      '--no-git-fallback', '--rolestats', *patches],
			     cwd=line.ksrc, capture_output=True, text=True,
			     check=True)
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


def export(args, signoff=True):
	"""Export the submissions of the line args.line names, of every line
	when it names none, of the 6.12.y line without args; returns those
	of the last."""
	for line in lines_of(args):
		subs = export_line(line, signoff)
	return subs


def export_line(line=PRIMARY, signoff=True):
	"""The submissions of the line's submissions file, each as git
	format-patch to its folder of the line's export folder (EXPORT_DIR
	for the 6.12.y line): numbered within it, with its cover letter,
	To: and Cc: from get_maintainer.pl, authored and signed off
	(--signoff) by the git user who exports. Without signoff (the static
	checks, when there is no git user) the patches carry no
	Signed-off-by. Returns the submissions."""
	user = exporter()
	if signoff and not user:
		die('no git user to sign the series off: set user.name and '
		    'user.email (git config), as whoever sends the patches')
	ksrc = line.ksrc
	rel = os.path.relpath(ksrc, TOP)
	if user and git('log', '-1', '--format=%an <%ae>', 'series',
			cwd=ksrc) != user:
		die(f'{rel} was built as another git user than {user}: '
		    'run tools/series.py prepare')
	subs = submissions(line)
	commits = git('rev-list', '--reverse', 'base..series',
		      cwd=ksrc).split()
	numbers = [n for sub in subs for n in sub.numbers]
	if len(commits) != len(numbers):
		die(f'{rel} does not hold the series: run tools/series.py '
		    'prepare')
	if os.path.isdir(line.export_dir):
		shutil.rmtree(line.export_dir)
	base = makefile_version(git('show', 'base:Makefile', cwd=ksrc))
	env = identity_env(user or LOCAL_IDENTITY, commit_date())
	for n, sub in enumerate(subs):
		first = commits[numbers.index(sub.first)]
		last = commits[numbers.index(sub.last)]
		args = ['format-patch', '-q', '--cover-letter', '--base=base',
			'--no-signature', f'--subject-prefix={sub.prefix}',
			*(['--signoff'] if signoff else []), f'{first}^..{last}']
		git(*args, '-o', sub.folder, env=env, cwd=ksrc)
		to, cc = recipients(sub.patches(), line)
		if not sub.maintainers_to:
			to, cc = [], to + cc
		shutil.rmtree(sub.folder)
		git(*args, '-o', sub.folder, env=env, cwd=ksrc,
		    *[f'--to={a}' for a in sub.to + to], *[f'--cc={a}' for a in cc])
		with open(sub.cover_text) as f:
			subject, blurb = f.read().split('\n', 1)
		before = [s.name for s in subs[:n]]
		blurb = blurb.strip() + '\n\n' + textwrap.fill(
			f'Based on Linux {base} as Debian ships it ({line.pkg} '
			f'{line.version}), '
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


def cocci_report(rev, line=PRIMARY):
	"""Reports of the vfio_device_ops rule over drivers/ and samples/ at
	rev of the line's tree.

	Only the files that name struct vfio_device_ops can match; they are
	taken from git at rev, so no work tree has to be checked out.
	"""
	cocci = os.path.join(TOP, 'c-core', 'scripts', 'coccinelle', 'api',
			     'vfio_iommufd_ops.cocci')
	files = git('grep', '-l', 'struct vfio_device_ops', rev, '--',
		    'drivers', 'samples', check=False, cwd=line.ksrc).splitlines()
	with tempfile.TemporaryDirectory(dir=BUILD) as tmp:
		paths = []
		for entry in files:
			path = entry.split(':', 1)[1]
			dst = os.path.join(tmp, path)
			os.makedirs(os.path.dirname(dst), exist_ok=True)
			with open(dst, 'w') as f:
				f.write(git('show', f'{rev}:{path}', raw=True,
					    cwd=line.ksrc))
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
	entry = next((e for e in pool(PRIMARY) if e.name.startswith(args.entry)),
		     None)
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
	for name, text in (('prepare', 'unpack the base, (re)build the series'),
			   ('export', 'format-patch the series to build/series'),
			   ('check', 'git am and checkpatch every patch')):
		cmd = sub.add_parser(name, help=text)
		cmd.add_argument('--line', choices=[l.name for l in LINES],
				 help='one line only (default: every line)')
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
