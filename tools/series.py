#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the project's sources into a kernel git tree and a patch series.

The series is kept for more than one base, a line each (LINES): the
mainline line, Linux 7.3 (linux/base, linux/submissions), and the 6.12.y
stable line (linux/6.12.y/base, linux/6.12.y/submissions), which takes
the series' two fixes that 6.12.y needs as they are and three of its own.
A line's base is a Debian linux-source
tarball, installed from the machine's own apt sources or, when its pin
names another suite, fetched with apt-get download through a private apt
configuration (tools/install-toolchain.sh). 'prepare' unpacks it once into
the line's tree (build/linux-7.3, build/linux-6.12.y), makes it a git repository
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
series/ folder (linux/6.12.y/series/) holds the entries that differ on its
base, and takes precedence for their number. Likewise a file an entry
names has a variant for a line in the line's folder
(linux/6.12.y/patches/X.diff for linux/patches/X.diff,
linux/6.12.y/kunit/PATH for kunit/PATH), which that line takes instead;
and a file an entry adds that differs on a line in a few lines only has a
diff there instead, linux/6.12.y/series/NNNN-*.diff, applied on top of
entry NNNN's changes.

'prepare' and the other commands take --line (default: every line):
'export' writes 'git format-patch --cover-letter --base
--signoff' to the line's export folder (build/series,
build/series-6.12.y), as the git user (user.name, user.email), and
refuses without one; 'check' verifies that export with 'git am' on the
pristine base and 'checkpatch.pl --strict' (ignores:
linux/checkpatch.ignore).

This module is the command line. The work is done in series_core.py (the
lines, their entries and submissions; git, log, die, Tally),
series_tree.py (prepare, refresh), series_export.py (export) and
series_check.py (check, and the Coccinelle rule's reports).
"""

import argparse
import sys

from series_check import check
from series_core import LINES
from series_export import export
from series_tree import prepare, refresh


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
