# SPDX-License-Identifier: GPL-2.0
"""The core of the series tool (tools/series.py): the lines the series is
kept for and what each of them takes.

A line (Line, LINES, PRIMARY) is a base pinned in its folder's 'base' file,
the tree it is built in and where it is exported; its entries (Entry,
pool, entries) are linux/series/NNNN-name.commit with its own series/
folder taking precedence, and its submissions file (Submission,
submissions) says which of them it takes and how they are sent. The
formats are those tools/series.py describes.

What the other series_*.py modules and the run's steps share: the paths,
git() in a line's tree, log() and die(), and Tally, the checks' 'ok'/'not
ok' lines and their counts.
"""

import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, 'build')
KSRC = os.path.join(BUILD, 'linux-7.3')
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
		mainline line's is linux/series/ itself, the pool."""
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


LINES = [Line('7.3', 'linux', os.path.join(BUILD, 'linux-7.3'),
	      os.path.join(BUILD, 'series')),
	 Line('6.12.y', 'linux/6.12.y', os.path.join(BUILD, 'linux-6.12.y'),
	      os.path.join(BUILD, 'series-6.12.y'))]
PRIMARY = LINES[0]


def line_named(name):
	for line in LINES:
		if line.name == name:
			return line
	die(f'no line {name}: the lines are '
	    f'{", ".join(l.name for l in LINES)}')


def lines_of(args):
	"""The lines a command's --line names: one, every line when it names
	none, the mainline line when there are no arguments (a caller in
	Python)."""
	if args is None:
		return [PRIMARY]
	return [line_named(args.line)] if args.line else LINES


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
	entries in order, none twice, each has a cover letter, and the mainline
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
