#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what building and testing the series needs, idempotently: Debian
# packages through apt-get (only when one is missing), the base kernel of
# each line of the series (linux/base: 7.3, fetched from another suite
# with apt-get download through a private apt configuration, which
# changes nothing on the system; linux/6.12.y/base: 6.12.y, installed from
# this machine's apt sources) and bindgen-cli from crates.io at the
# version each line's kernel needs. A second run with everything present
# takes well under a second.
#
# Prints one line per tool group; details go to $LOG.
set -euo pipefail

# The minimum of each line's scripts/min-tool-version.sh: 6.12.y, 7.3. 7.3's
# also asks for LLVM 17 (Debian 12's clang-19; LLVM=-19) and loads the
# libclang of that LLVM (LIBCLANG_PATH).
BINDGEN_VERSIONS=(0.65.1 0.71.1)
CACHE=$HOME/.cache/vfio-contract
LOG=${LOG:-/dev/null}

TOP=$(cd "$(dirname "$0")/.." && pwd)

# libcap-dev: 7.3's iommufd selftests link -lcap (statically); uuid-dev:
# 7.3's VFIO selftests, with the device cdev tests beside them, link
# libvfio's -luuid (statically).
PACKAGES=(
	rustc-web rust-web-src rustfmt-web rust-web-clippy
	clang lld llvm libclang-dev clang-19 lld-19 llvm-19 libclang-19-dev
	flex bison bc libelf-dev libssl-dev gcc libc6-dev libcap-dev uuid-dev
	coccinelle python3 python3-ply python3-git python3-docutils rsync git make
	qemu-system-x86 sparse cpio
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		grep -q '^install ok installed$' || missing+=("$p")
done

# The 6.12.y line's source package, at exactly the version
# linux/6.12.y/base pins (a plain install takes the newest 6.12.y).
read -r base_pkg base_version _ < <(grep -v '^#' "$TOP/linux/6.12.y/base" |
	grep -m1 .)
base_have=$(dpkg-query -W -f='${Version}' "$base_pkg" 2>/dev/null || true)

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
if [ ${#missing[@]} -gt 0 ] || [ "$base_have" != "$base_version" ]; then
	$sudo apt-get update -qq >>"$LOG" 2>&1
fi

if [ ${#missing[@]} -gt 0 ]; then
	echo "  APT     ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >>"$LOG" 2>&1
else
	echo "  APT     all ${#PACKAGES[@]} packages present"
fi

if [ "$base_have" != "$base_version" ]; then
	echo "  APT     $base_pkg=$base_version, pinned in linux/6.12.y/base" \
		"(installed: ${base_have:-none})"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends --allow-downgrades \
		"$base_pkg=$base_version" >>"$LOG" 2>&1
else
	echo "  BASE    $base_pkg $base_version, pinned in linux/6.12.y/base"
fi

# A base pinned with a suite (linux/base, linux/*/base: '<package> <version> <suite>')
# is not in this machine's apt sources. It is fetched with apt-get download
# from the same Debian archive the machine uses, through an apt
# configuration of its own under $CACHE/apt (sources, lists, cache: the
# system's apt state is not touched), and unpacked to
# $CACHE/bases/<package>_<version>/, where tools/series.py finds its tarball.
fetch_base() {
	local pkg=$1 version=$2 suite=$3
	local dest="$CACHE/bases/${pkg}_$version"
	if [ -f "$dest/usr/src/$pkg.tar.xz" ]; then
		echo "  BASE    $pkg $version ($suite), present"
		return
	fi
	echo "  FETCH   $pkg=$version from $suite (apt-get download)"
	local apt="$CACHE/apt" uri
	uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' |
		awk '$2 !~ /-(security|updates)$/ { print $1; exit }')
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
		"${uri:-http://deb.debian.org/debian/} $suite main" >"$apt/sources.list"
	local opts=(-o "Dir::Etc::sourcelist=$apt/sources.list"
		-o Dir::Etc::sourceparts=/dev/null
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root)
	apt-get "${opts[@]}" update >>"$LOG" 2>&1
	rm -f "$apt/debs/${pkg}_"*.deb
	(cd "$apt/debs" && apt-get "${opts[@]}" download "$pkg=$version") \
		>>"$LOG" 2>&1
	rm -rf "$dest.tmp"
	mkdir -p "$CACHE/bases"
	dpkg-deb -x "$apt/debs/${pkg}_"*.deb "$dest.tmp"
	rm -f "$apt/debs/${pkg}_"*.deb
	mv "$dest.tmp" "$dest"
}

for pin in "$TOP"/linux/base "$TOP"/linux/*/base; do
	read -r pkg version suite < <(grep -v '^#' "$pin" | grep -m1 .)
	[ -n "${suite:-}" ] || continue
	fetch_base "$pkg" "$version" "$suite"
done

for version in "${BINDGEN_VERSIONS[@]}"; do
	bindgen="$CACHE/bindgen-$version/bin/bindgen"
	if [ "$("$bindgen" --version 2>/dev/null)" != "bindgen $version" ]; then
		echo "  CARGO   bindgen-cli $version (about a minute)"
		LIBCLANG_PATH=/usr/lib/llvm-19/lib \
			cargo install --locked --quiet --root "$CACHE/bindgen-$version" \
			bindgen-cli --version "$version" >>"$LOG" 2>&1
	else
		echo "  CARGO   bindgen-cli $version present"
	fi
done

# The kernel must use Debian's rustc-web (it has rust-src); the rustup one
# that may come first on PATH does not.
rustc_version=$(/usr/bin/rustc --version)
echo "  RUST    $rustc_version, bindgen ${BINDGEN_VERSIONS[*]}," \
	"$(clang-19 --version | head -1)"
