#!/usr/bin/env bash
# Runs one dynomite node in front of a local datastore, both in the
# foreground; Ctrl-C stops both. Usage: scripts/run-single.sh redis|memcache
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-redis}
case $kind in
  redis)
    command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install redis-server" >&2; exit 1; }
    redis-server --port 22122 --bind 127.0.0.1 --save '' --appendonly no --daemonize no >/tmp/dynomite-redis.log 2>&1 &
    conf=conf/redis_single.yml ;;
  memcache)
    command -v memcached >/dev/null || { echo "memcached not found: apt-get install memcached" >&2; exit 1; }
    memcached -l 127.0.0.1 -p 11211 -U 0 >/tmp/dynomite-memcached.log 2>&1 &
    conf=conf/memcache_single.yml ;;
  *) echo "usage: $0 redis|memcache" >&2; exit 2 ;;
esac
ds=$!
trap 'kill $ds 2>/dev/null; wait $ds 2>/dev/null' EXIT
echo "datastore pid $ds; dynomite on 127.0.0.1:8102 (stats 127.0.0.1:22222), Ctrl-C to stop"
bin/dynomite -c "$conf" -v 6
