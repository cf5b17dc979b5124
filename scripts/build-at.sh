#!/usr/bin/env bash
# build-at.sh - build bin/dynomite of another commit, for `make bench BASELINE=...`.
#
# Usage: scripts/build-at.sh <git-rev> <out>
#
# Checks <git-rev> out in a temporary git worktree outside the repository
# (under ${TMPDIR:-/tmp}), runs that commit's own `make build` there, copies its
# bin/dynomite to <out> and removes the worktree again, whatever happened. The
# checkout of this repository is not touched. Prints the absolute path of <out>
# on stdout (everything else goes to stderr), so that
#   make bench BASELINE=prev=$(scripts/build-at.sh HEAD~1 /tmp/dyn-prev)
# compares the previous commit with the current one in the same run.
set -euo pipefail

die() { echo "build-at: $*" >&2; exit 2; }
[ $# -eq 2 ] || die "usage: scripts/build-at.sh <git-rev> <out>"
rev=$1 out=$2
cd "$(dirname "$0")/.."
root=$(git rev-parse --show-toplevel) || die "$PWD is not in a git repository"
commit=$(git rev-parse --verify --quiet "$rev^{commit}") || die "'$rev' does not name a commit"
case $out in /*) ;; *) out=$PWD/$out ;; esac
[ -d "$(dirname "$out")" ] || die "the directory of $out does not exist"
[ ! -d "$out" ] || die "$out is a directory; give the path of the binary to write"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dynomite-build-at.XXXXXX") || die "mktemp failed"
case $(cd "$tmp" && pwd -P)/ in
  "$(cd "$root" && pwd -P)"/*) rm -rf "$tmp"; die "TMPDIR ($tmp) is inside the repository; set TMPDIR elsewhere" ;;
esac
wt=$tmp/src
cleanup() {
  git -C "$root" worktree remove --force "$wt" >/dev/null 2>&1 || true
  rm -rf "$tmp" "$out.tmp$$"
  git -C "$root" worktree prune >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

echo "build-at: $rev = $(git log -1 --format='%h %s' "$commit")" >&2
git worktree add --detach --quiet "$wt" "$commit" >&2 || die "git worktree add $wt $commit failed"
make -C "$wt" --no-print-directory build >&2 || die "make build at $rev failed"
[ -x "$wt/bin/dynomite" ] || die "make build at $rev did not write bin/dynomite"
cp "$wt/bin/dynomite" "$out.tmp$$" && mv -f "$out.tmp$$" "$out" || die "cannot write $out"
echo "$out"
