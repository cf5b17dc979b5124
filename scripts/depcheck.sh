#!/usr/bin/env bash
# Package dependency rules (STYLE.md §3): leaves import nothing from the repo
# except proxy/msg; cmd imports only proxy packages.
set -euo pipefail
mod=github.com/dynomite-go/dynomite
fail=0
check() { # pkg allowed-regex
  local pkg=$1 allowed=$2
  [ -d "${pkg#$mod/}" ] || return 0
  ls "${pkg#$mod/}"/*.go >/dev/null 2>&1 || return 0
  while read -r dep; do
    [[ $dep == $mod* ]] || continue
    if ! [[ $dep =~ $allowed ]]; then echo "depcheck: $pkg must not import $dep"; fail=1; fi
  done < <(go list -f '{{join .Imports "\n"}}' "$pkg")
}
for leaf in config ring msg; do check $mod/proxy/$leaf '^$'; done
for leaf in resp memcache; do check $mod/proxy/$leaf "^$mod/proxy/msg\$"; done
check $mod/proxy/backend "^$mod/proxy/msg\$"
exit $fail
