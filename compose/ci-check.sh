#!/usr/bin/env bash
# The containers check for CI (issue: containers): `make up` on the default
# cluster from whatever images exist (building the missing ones), a write
# through rack 1 read back from every rack's Redis, `dynomite ring` inside
# rack 1's container listing the three racks up, then `make down`, and
# nothing of the project left: no container, no network, no volume.
#
#   compose/ci-check.sh
#
# Without a Docker daemon it skips with a message, except under CI=true,
# where a missing daemon is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! docker info >/dev/null 2>&1; then
  if [ "${CI:-}" = true ]; then
    echo "ci-check: FAIL: no Docker daemon answers (CI=true)" >&2
    exit 1
  fi
  echo "ci-check: SKIP: no Docker daemon answers; the compose cluster check needs one" >&2
  exit 0
fi

leftovers() {
  {
    docker ps -aq --filter label=com.docker.compose.project=dynomite
    docker network ls -q --filter label=com.docker.compose.project=dynomite
    docker volume ls -q --filter label=com.docker.compose.project=dynomite
  } | wc -l
}

trap 'make down >/dev/null 2>&1 || true' EXIT
start=$SECONDS
make up
echo "ci-check: cluster healthy $((SECONDS - start))s after make up started" >&2
compose/cluster.sh verify
# the admin endpoints from inside a node (the image has no curl; loopback
# needs no admin token): rack 1 sees all three racks up
ring=$(compose/cluster.sh ring)
printf '%s\n' "$ring" >&2
if [ "$(grep -cE '[[:space:]]up( \(this node\))?$' <<<"$ring")" -ne 3 ]; then
  echo "ci-check: FAIL: dynomite ring inside rack 1 does not list three nodes up" >&2
  exit 1
fi
make down
trap - EXIT
n=$(leftovers)
if [ "$n" -ne 0 ]; then
  echo "ci-check: FAIL: make down left $n containers, networks or volumes of project dynomite" >&2
  exit 1
fi
echo "ci-check: ok: make up, the value in every rack, make down left nothing ($((SECONDS - start))s)" >&2
