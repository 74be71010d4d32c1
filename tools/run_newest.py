# SPDX-License-Identifier: GPL-2.0
"""The newest job of tools/run.py (make newest): the exported series on
the newest 6.12.y Debian offers, applied, built for UML and its KUnit
suites run; whether the pin can move.
"""

import os
import shutil
import subprocess

import series_core
import series_export
import series_tree
from run_common import BUILD, KUNITCONFIGS, banner, run
from run_kunit import kunit_step

NEWEST = os.path.join(BUILD, 'newest')


def newest_version(pkg):
	"""The newest version of pkg Debian's archive offers (apt-cache)."""
	out = run(['apt-cache', 'madison', pkg], capture_output=True,
		  text=True).stdout
	versions = [line.split('|')[1].strip() for line in out.splitlines()
		    if line.count('|') >= 2]
	newest = None
	for v in versions:
		if newest is None or run(['dpkg', '--compare-versions', v, 'gt',
					  newest]).returncode == 0:
			newest = v
	return newest


def step_newest(results):
	"""The exported series on the newest 6.12.y Debian offers: fetched with
	apt-get download (nothing is installed), applied with git am, built for
	UML and its KUnit suites run; then whether the pin can move."""
	pkg, pinned = series_core.PRIMARY.pkg, series_core.PRIMARY.version
	run(['apt-get', 'update', '-qq'], stdout=subprocess.DEVNULL,
	    stderr=subprocess.DEVNULL)
	version = newest_version(pkg)
	banner(f'The series on the newest 6.12.y: {pkg} {version} '
	       f'(pinned: {pinned})')
	if version is None:
		results.add('newest: found', 0, 1, f'apt-cache knows no {pkg}')
		return
	ksrc = os.path.join(NEWEST, 'linux')
	log = os.path.join(NEWEST, 'build.log')
	if os.path.isdir(NEWEST):
		shutil.rmtree(NEWEST)
	os.makedirs(NEWEST)
	deb = os.path.join(NEWEST, 'deb')
	with open(log, 'w') as out:
		ok = run(['apt-get', 'download', f'{pkg}={version}'], cwd=NEWEST,
			 stdout=out, stderr=subprocess.STDOUT).returncode == 0
		debs = [f for f in os.listdir(NEWEST) if f.endswith('.deb')]
		ok = ok and len(debs) == 1 and run(
			['dpkg', '-x', debs[0], deb], cwd=NEWEST, stdout=out,
			stderr=subprocess.STDOUT).returncode == 0
	if not ok:
		results.add('newest: fetched', 0, 1, f'see {log}')
		return
	series_tree.unpack_tarball(
		os.path.join(deb, series_core.PRIMARY.tarball().lstrip('/')),
		ksrc, f'{pkg} {version}')
	ident = series_tree.BASE_IDENTITY

	subs = series_export.export(None, signoff=bool(series_tree.exporter()))
	patches = [p for sub in subs for p in sub.patches()]
	res = series_core.git('am', '-q', *patches, cwd=ksrc, env=ident,
			      check=False)
	applied = series_core.git('rev-list', '--count', 'HEAD', cwd=ksrc)
	applies = res == '' and int(applied) == len(patches) + 1
	results.add(f'newest: {len(patches)} patches apply', int(applies),
		    int(not applies), '' if applies else
		    f'{int(applied) - 1} of {len(patches)} applied')
	if not applies:
		series_core.git('am', '--abort', cwd=ksrc, check=False)
		print(f'  the pin cannot move to {version}: the series does not '
		      'apply')
		return
	kunit_step(results, os.path.join(NEWEST, 'kunit-uml'),
		   os.path.join(NEWEST, 'kunit-results.json'), KUNITCONFIGS,
		   timeout=600, prefix='newest: ', log_label='newest: kernel log',
		   log=os.path.join(NEWEST, 'kunit.log'), ksrc=ksrc)
	good = not any(r[2] for r in results.rows)
	print(f'\n  the pin {"can" if good else "cannot"} move from {pinned} to '
	      f'{version}' + ('' if good else ': see the failures above'))
