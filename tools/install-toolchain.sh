#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what building and testing the series needs, idempotently: Debian
# packages through apt-get (only when one is missing) and bindgen-cli from
# crates.io at a pinned version. A second run with everything present
# takes well under a second.
#
# Prints one line per tool group; details go to $LOG.
set -euo pipefail

BINDGEN_VERSION=0.65.1		# the minimum of 6.12's scripts/min-tool-version.sh
BINDGEN_ROOT=${BINDGEN_ROOT:-$HOME/.cache/vfio-contract/bindgen-$BINDGEN_VERSION}
LOG=${LOG:-/dev/null}

TOP=$(cd "$(dirname "$0")/.." && pwd)

PACKAGES=(
	rustc-web rust-web-src rustfmt-web rust-web-clippy
	clang lld llvm libclang-dev
	flex bison bc libelf-dev libssl-dev gcc libc6-dev
	coccinelle python3 python3-ply python3-git python3-docutils rsync git make
	qemu-system-x86 sparse cpio
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		grep -q '^install ok installed$' || missing+=("$p")
done

# The base kernel's source package, at exactly the version linux/base pins
# (a plain install takes the newest 6.12.y; 'make newest' tries that one).
read -r base_pkg base_version < <(grep -v '^#' "$TOP/linux/base" | grep -m1 .)
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
	echo "  APT     $base_pkg=$base_version, pinned in linux/base" \
		"(installed: ${base_have:-none})"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends --allow-downgrades \
		"$base_pkg=$base_version" >>"$LOG" 2>&1
else
	echo "  BASE    $base_pkg $base_version, pinned in linux/base"
fi

bindgen="$BINDGEN_ROOT/bin/bindgen"
if [ "$("$bindgen" --version 2>/dev/null)" != "bindgen $BINDGEN_VERSION" ]; then
	echo "  CARGO   bindgen-cli $BINDGEN_VERSION (about a minute)"
	cargo install --locked --quiet --root "$BINDGEN_ROOT" \
		bindgen-cli --version "$BINDGEN_VERSION" >>"$LOG" 2>&1
else
	echo "  CARGO   bindgen-cli $BINDGEN_VERSION present"
fi

# The kernel must use Debian's rustc-web (it has rust-src); the rustup one
# that may come first on PATH does not.
rustc_version=$(/usr/bin/rustc --version)
echo "  RUST    $rustc_version, $("$bindgen" --version)"
