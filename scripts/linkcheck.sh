#!/usr/bin/env bash
# Every relative link of the repository's Markdown files names a file of the
# repository: a link to a file outside it (../shared/...) is dead for anyone
# who clones it. Part of make lint.
set -uo pipefail
cd "$(git rev-parse --show-toplevel)"
fail=0
while IFS= read -r f; do
  dir=$(dirname "$f")
  while IFS= read -r link; do
    target=${link%%#*}
    [ -z "$target" ] && continue
    case $target in http://* | https://* | mailto:*) continue ;; esac
    path=$dir/$target
    if [ ! -e "$path" ]; then echo "$f: link to $link: no such file"; fail=1; continue; fi
    real=$(realpath -m "$path")
    case $real in "$PWD"/*) ;; *) echo "$f: link to $link leaves the repository"; fail=1 ;; esac
  done < <(grep -oE '\]\([^)[:space:]]+\)' "$f" | sed -E 's/^\]\(//; s/\)$//')
done < <(git ls-files '*.md')
exit $fail
