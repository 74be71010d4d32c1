# SPDX-License-Identifier: GPL-2.0
"""A line's kernel tree (tools/series.py prepare and refresh): the pinned
base unpacked into a git repository (tag 'base'), and the series' commits
built on it with git plumbing in a scratch index (branch 'series').

Also the identity and the date those commits are made with (the git user,
or a local identity when there is none), which an export reuses; and
'refresh', which rewrites an entry's patch from the tree's work tree.
"""

import os
import re
import shutil
import subprocess
import tempfile

from series_core import (BUILD, PRIMARY, TOP, die, entries, git, lines_of,
			 log, pool)


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


def exporter():
	"""'Name <email>' of the git user (user.name and user.email as git
	reads them for the project, or GIT_COMMITTER_NAME and
	GIT_COMMITTER_EMAIL), or None when there is none."""
	name = os.environ.get('GIT_COMMITTER_NAME') or \
		git('config', 'user.name', cwd=TOP, check=False)
	email = os.environ.get('GIT_COMMITTER_EMAIL') or \
		git('config', 'user.email', cwd=TOP, check=False)
	return f'{name} <{email}>' if name and email else None


# The author and committer of a line's commits when there is no git
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
	of every line when it names none, of the mainline line without args."""
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


def refresh(args):
	"""Rewrite a commit's patch from the work tree.

	Check out the commit in the mainline line's tree (build/linux-7.3:
	git checkout --detach), edit the
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
		die(f'{PRIMARY.ksrc} is at "{head}", not at {entry.name}: '
		    'check out that commit first')
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
