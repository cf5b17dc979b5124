#!/usr/bin/env bash
# Runs a one-datacenter, three-rack cluster of processes on this machine:
# three redis-server (22122, 22132, 22142) and three dynomite nodes
# (clients on 8102, 8112, 8122) from conf/cluster/rack{1,2,3}.yml.
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install redis-server" >&2; exit 1; }
make -s build
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
trap "exit 130" INT TERM
for i in 1 2 3; do
  port=$((22112 + 10 * i))
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >"/tmp/dynomite-redis-$port.log" 2>&1 &
  pids+=($!)
done
sleep 0.3
for i in 1 2 3; do
  bin/dynomite -c "conf/cluster/rack$i.yml" -o "/tmp/dynomite-rack$i.log" &
  pids+=($!)
done
echo "cluster up: redis-cli -p 8102 (rack1), 8112 (rack2), 8122 (rack3); logs in /tmp/dynomite-rack*.log; Ctrl-C stops it"
wait
