#!/usr/bin/env bash
# Package dependency rules: leaves import nothing from the repo except
# proxy/msg (consistency, drain, tlsconf and atomicfile are leaves too; config imports
# only the consistency levels it reads and msg.Proto, which data_store
# holds); dnode (the peer codec and listener) imports msg and leaves; admin
# (the stats endpoints) imports leaves, never the proxy root, which
# implements its Cluster interface; cmd imports only proxy packages (and
# its own cli package, which imports only proxy packages too);
# production code never imports the test support in proxy/proxytest;
# proxy/membership does not reach up to the node that composes it. And the
# test-only modules stay out of go.mod.
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
leaves='config|consistency|ring|tlsconf|drain'
for leaf in consistency ring tlsconf drain msg pubsub atomicfile; do check $mod/proxy/$leaf '^$'; done
check $mod/proxy/config "^$mod/proxy/(consistency|msg)\$"
for leaf in resp memcache; do check $mod/proxy/$leaf "^$mod/proxy/msg\$"; done
check $mod/proxy/backend "^$mod/proxy/msg\$"
check $mod/proxy/dnode "^$mod/proxy/(msg|$leaves)\$"
check $mod/proxy/admin "^$mod/proxy/($leaves)\$"
for c in cmd/*/; do check $mod/${c%/} "^$mod/(proxy(/.*)?|${c%/}/cli)\$"; done
check $mod/cmd/dynomite/cli "^$mod/proxy(/|\$)"
check $mod/proxy/membership "^$mod/(proxy|proxy/(config|gossip|msg|ring)|seedprovider(/.*)?|env(/.*)?)\$"

# Modules only tests use live in the tests/ module (tests/README.md), so that
# the dynomite module's go.mod lists what the binary runs plus a few test
# helpers (testify, goleak). Fail when one of them is required here again:
# move the test that wants it to tests/ instead.
testonly=(
  github.com/prometheus/prometheus
  github.com/grafana/grafana-foundation-sdk/go
  github.com/hashicorp/hcl/v2
  github.com/hashicorp/terraform-config-inspect
  github.com/zclconf/go-cty
  github.com/redis/go-redis/v9
  github.com/bradfitz/gomemcache
)
required=$(awk '/^require \($/ {b = 1; next} b && /^\)/ {b = 0; next} b {print $1} /^require [^(]/ {print $2}' go.mod)
for m in "${testonly[@]}"; do
  if grep -qxF "$m" <<<"$required"; then
    echo "depcheck: go.mod requires $m, a test-only module: its tests belong in tests/ (tests/go.mod)"; fail=1
  fi
done
# proxytest is test support: only tests and other test-support packages
# (named *test, like metricstest) may import it, never production code.
while read -r pkg imports; do
  [[ $pkg == */proxytest || $pkg == *test ]] && continue
  for dep in $imports; do
    if [[ $dep == $mod/proxy/proxytest ]]; then echo "depcheck: $pkg must not import $dep (test support)"; fail=1; fi
  done
done < <(go list -f '{{.ImportPath}} {{join .Imports " "}}' ./...)
exit $fail
