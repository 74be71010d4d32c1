# SPDX-License-Identifier: GPL-2.0
"""The newest job of tools/run.py (make newest): each line's exported
submissions on the newest version of its base package Debian offers
(7.3.y in trixie-backports, through the private apt configuration
tools/install-toolchain.sh keeps; 6.12.y in the machine's own sources),
applied with git am and built for UML: the mainline line's KUnit suites
run, the 6.12.y line's kernel builds (run_stable's configuration). Says
for each whether its pin can move.
"""

import os
import shutil
import subprocess

import run_common
import run_stable
import series_core
import series_export
import series_tree
from run_common import BUILD, KUNITCONFIGS, banner, run
from run_kunit import kunit_cmd, kunit_step

NEWEST = os.path.join(BUILD, 'newest')
# tools/install-toolchain.sh's apt configuration for a base pinned with a
# suite: its sources list (the machine's archive, that suite), lists and
# cache.
APT = os.path.expanduser('~/.cache/vfio-contract/apt')


def apt_options(line):
	"""apt's options for the line's base: the private configuration for a
	base pinned with a suite, none for one of the machine's sources."""
	return run_common.apt_options(APT) if line.suite else []


def newest_version(pkg, options=()):
	"""The newest version of pkg Debian's archive offers (apt-cache)."""
	out = run(['apt-cache', *options, 'madison', pkg], capture_output=True,
		  text=True).stdout
	versions = [line.split('|')[1].strip() for line in out.splitlines()
		    if line.count('|') >= 2]
	newest = None
	for v in versions:
		if newest is None or run(['dpkg', '--compare-versions', v, 'gt',
					  newest]).returncode == 0:
			newest = v
	return newest


def fetch(line, version, work, log):
	"""apt-get download of the line's package at version, unpacked into a
	git tree (tag-less, one commit) in work/linux; its path, or None."""
	options = apt_options(line)
	deb = os.path.join(work, 'deb')
	with open(log, 'a') as out:
		ok = run(['apt-get', *options, 'download',
			  f'{line.pkg}={version}'], cwd=work, stdout=out,
			 stderr=subprocess.STDOUT).returncode == 0
		debs = [f for f in os.listdir(work) if f.endswith('.deb')]
		ok = ok and len(debs) == 1 and run(
			['dpkg', '-x', debs[0], deb], cwd=work, stdout=out,
			stderr=subprocess.STDOUT).returncode == 0
	if not ok:
		return None
	ksrc = os.path.join(work, 'linux')
	series_tree.unpack_tarball(
		os.path.join(deb, 'usr', 'src', f'{line.pkg}.tar.xz'), ksrc,
		f'{line.pkg} {version}')
	return ksrc


def newest_line(results, line):
	"""The line's submissions on the newest version of its base."""
	prefix = f'newest {line.name}: '
	options = apt_options(line)
	run(['apt-get', *options, 'update', '-qq'], stdout=subprocess.DEVNULL,
	    stderr=subprocess.DEVNULL)
	version = newest_version(line.pkg, options)
	banner(f'The {line.name} line on the newest {line.pkg}: {version} '
	       f'(pinned: {line.version})')
	if version is None:
		results.add(f'{prefix}found', 0, 1, f'apt-cache knows no {line.pkg}')
		return
	work = os.path.join(NEWEST, line.name)
	os.makedirs(work)
	log = os.path.join(work, 'build.log')
	ksrc = fetch(line, version, work, log)
	if ksrc is None:
		results.add(f'{prefix}fetched', 0, 1, f'see {log}')
		return
	before = len(results.rows)
	subs = series_export.export_line(
		line, signoff=bool(series_tree.exporter()))
	patches = [p for sub in subs for p in sub.patches()]
	res = series_core.git('am', '-q', *patches, cwd=ksrc,
			      env=series_tree.BASE_IDENTITY, check=False)
	applied = series_core.git('rev-list', '--count', 'HEAD', cwd=ksrc)
	applies = res == '' and int(applied) == len(patches) + 1
	results.add(f'{prefix}{len(patches)} patches apply', int(applies),
		    int(not applies), '' if applies else
		    f'{int(applied) - 1} of {len(patches)} applied')
	if not applies:
		series_core.git('am', '--abort', cwd=ksrc, check=False)
	elif line is series_core.PRIMARY:
		kunit_step(results, os.path.join(work, 'kunit-uml'),
			   os.path.join(work, 'kunit-results.json'), KUNITCONFIGS,
			   timeout=600, prefix=prefix,
			   log_label=f'{prefix}kernel log',
			   log=os.path.join(work, 'kunit.log'), ksrc=ksrc)
	else:
		with open(log, 'a') as out:
			ok = run(kunit_cmd('build', f'--jobs={os.cpu_count()}',
					   build_dir=os.path.join(work, 'uml'),
					   kunitconfigs=run_stable.UML_KUNITCONFIGS,
					   make_options=run_stable.MAKE_OPTIONS_6_12),
				 cwd=ksrc, env=run_stable.KERNEL_ENV_6_12, stdout=out,
				 stderr=subprocess.STDOUT).returncode == 0
		results.add(f'{prefix}UML kernel builds', int(ok), int(not ok),
			    '' if ok else f'see {log}')
	good = not any(r[2] for r in results.rows[before:])
	print(f'\n  the pin of {line.rel}/base {"can" if good else "cannot"} '
	      f'move from {line.version} to {version}' +
	      ('' if good else ': see the failures above'))


def step_newest(results):
	"""Each line's submissions on the newest version of its base package:
	fetched with apt-get download (nothing is installed), applied with
	git am and built; then whether the pin can move."""
	if os.path.isdir(NEWEST):
		shutil.rmtree(NEWEST)
	for line in series_core.LINES:
		newest_line(results, line)
