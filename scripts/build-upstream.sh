#!/usr/bin/env bash
# build-upstream.sh - build upstream's C dynomite from a checkout of its source, for
# `make bench BASELINE=upstream=...`.
#
# Usage: scripts/build-upstream.sh <netflix-dynomite-source-dir> <out>
#
# Copies the source tree to a temporary directory outside this repository (the
# checkout given is not touched), runs its autotools build there and copies
# src/dynomite to <out>. Prints the absolute path of <out> on stdout, so that
#   make bench BASELINE=upstream=$(scripts/build-upstream.sh ~/src/dynomite /tmp/dyn-c)
# puts upstream in the same run as ours. Nothing of upstream is kept in this
# repository: bring your own checkout (github.com/Netflix/dynomite, branch dev).
#
# Needs autoconf, automake, libtool, a C compiler and libssl-dev (Debian:
# build-essential autoconf automake libtool libssl-dev). GCC 10 and later default
# to -fno-common, which upstream's headers (variables defined in a header included
# by several files) do not link with, hence -fcommon.
set -euo pipefail

die() { echo "build-upstream: $*" >&2; exit 2; }
[ $# -eq 2 ] || die "usage: scripts/build-upstream.sh <netflix-dynomite-source-dir> <out>"
src=$1 out=$2
[ -f "$src/configure.ac" ] && [ -d "$src/src" ] || die "$src does not look like a Netflix/dynomite checkout (no configure.ac, src/)"
case $out in /*) ;; *) out=$PWD/$out ;; esac
[ -d "$(dirname "$out")" ] || die "the directory of $out does not exist"
for t in autoreconf make cc; do command -v "$t" >/dev/null || die "'$t' not found (Debian: build-essential autoconf automake libtool libssl-dev)"; done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dynomite-upstream.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
cp -a "$src/." "$tmp/"
log=$tmp/build.log
(
  cd "$tmp"
  autoreconf -fi
  ./configure --enable-debug=no CFLAGS="-O2 -fcommon"
  make -j"$(nproc)"
) >"$log" 2>&1 || { tail -n 30 "$log" >&2; die "the build failed (last lines above)"; }
cp "$tmp/src/dynomite" "$out"
"$out" -V >&2 || die "$out does not run"
echo "$out"
