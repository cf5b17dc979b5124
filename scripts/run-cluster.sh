#!/usr/bin/env bash
# Runs a one-datacenter, three-rack cluster of processes on this machine:
# three redis-server (22122, 22132, 22142) and three dynomite nodes
# (clients on 8102, 8112, 8122) from conf/cluster/rack{1,2,3}.yml.
# It says "cluster up" only once every node answers `dynomite ready` (its
# datastore and both peers connected); a process that dies on the way (a
# port taken, say) is named with its last log line, everything is stopped
# and the exit status is 1. Ctrl-C stops everything it started.
# Environment: WAIT (seconds to wait for ready, 30).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install redis-server" >&2; exit 1; }
make -s build
pids=() names=() logs=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
trap "exit 130" INT TERM
start() { # name log command...
  names+=("$1") logs+=("$2")
  shift 2
  "$@" >>"${logs[-1]}" 2>&1 &
  pids+=($!)
}
for i in 1 2 3; do
  port=$((22112 + 10 * i))
  : >"/tmp/dynomite-redis-$port.log"
  start "redis-server $port" "/tmp/dynomite-redis-$port.log" redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no
done
for i in 1 2 3; do
  : >"/tmp/dynomite-rack$i.log"
  start "dynomite rack$i (conf/cluster/rack$i.yml)" "/tmp/dynomite-rack$i.log" bin/dynomite -c "conf/cluster/rack$i.yml" -o "/tmp/dynomite-rack$i.log"
done

# dead WHEN: names the first process that exited, with its last log line.
dead() {
  local i
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "run-cluster: ${names[$i]} exited${1:+ $1}; its last log line (${logs[$i]}):" >&2
      tail -n 1 "${logs[$i]}" >&2
      return 0
    fi
  done
  return 1
}

deadline=$((SECONDS + ${WAIT:-30}))
for i in 1 2 3; do
  stats=127.0.0.1:$((22212 + 10 * i))
  until bin/dynomite ready --addr "$stats" --timeout 1s >/dev/null 2>&1; do
    if dead "at start"; then exit 1; fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "run-cluster: rack$i is not ready after ${WAIT:-30}s:" >&2
      bin/dynomite ready --addr "$stats" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
done
echo "cluster up: redis-cli -p 8102 (rack1), 8112 (rack2), 8122 (rack3); logs in /tmp/dynomite-rack*.log;"
echo "  bin/dynomite ring (or status, owner KEY) shows it; Ctrl-C stops it"
# a process that dies later stops the others too. Ctrl-C reaches every
# process of the group: give the INT trap a moment to exit quietly before
# reporting the processes it stopped.
wait -n || true
sleep 0.5
dead "" || true
exit 1
