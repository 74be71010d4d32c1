# SPDX-License-Identifier: GPL-2.0
"""A line's export (tools/series.py export): each submission of its
submissions file written by 'git format-patch --cover-letter --base
--signoff' to its folder of the line's export folder, as the git user, with
To: and Cc: from the base's scripts/get_maintainer.pl.
"""

import os
import re
import shutil
import subprocess
import textwrap

from series_core import PRIMARY, TOP, die, git, lines_of, log, submissions
from series_tree import (LOCAL_IDENTITY, commit_date, exporter, identity_env,
			 makefile_version)


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
	when it names none, of the mainline line without args; returns those
	of the last."""
	for line in lines_of(args):
		subs = export_line(line, signoff)
	return subs


def export_line(line=PRIMARY, signoff=True):
	"""The submissions of the line's submissions file, each as git
	format-patch to its folder of the line's export folder (EXPORT_DIR
	for the mainline line): numbered within it, with its cover letter,
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
