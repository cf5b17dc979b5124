#!/usr/bin/env bash
# Starts, checks and removes the local clusters of compose/.
#
#   compose/cluster.sh up [FILE]      check its ports are free, up -d, then wait until every container is healthy
#   compose/cluster.sh ring [FILE]    `dynomite ring` inside the first node's container (its 127.0.0.1)
#   compose/cluster.sh verify [FILE]  write through rack 1, read it from every rack's datastore
#   compose/cluster.sh down           remove every cluster of compose/ (containers, networks, volumes)
#   compose/cluster.sh check          docker-compose config -q on every file
#
# FILE defaults to compose/docker-compose.yml. Each file has its own project
# name (dynomite, dynomite-memcached, dynomite-multidc), so container names
# never need to be known: they differ between docker-compose 1.29 and v2.
# Environment: COMPOSE (the compose command; docker-compose, else
# `docker compose`), WAIT (seconds to wait for health, 180).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
FILES=("$here/docker-compose.yml" "$here/docker-compose.memcached.yml" "$here/docker-compose.multidc.yml")
WAIT=${WAIT:-180}

if [ -n "${COMPOSE:-}" ]; then
  read -r -a compose_cmd <<<"$COMPOSE"
elif command -v docker-compose >/dev/null; then
  compose_cmd=(docker-compose)
else
  compose_cmd=(docker compose)
fi

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# project FILE: the project name for a compose file.
project() {
  local b
  b=$(basename "$1" .yml)
  case $b in
    docker-compose) echo dynomite ;;
    docker-compose.*) echo "dynomite-${b#docker-compose.}" ;;
    *) echo "dynomite-$b" ;;
  esac
}

# dc FILE ARGS...: the compose command on FILE with its project name. The
# grafana profile is on only for `down`, so that it removes Grafana too.
dc() {
  local f=$1
  shift
  "${compose_cmd[@]}" -p "$(project "$f")" -f "$f" "$@"
}

# wait_healthy FILE: poll until every container of the project is healthy
# (compose 1.29 has no `up --wait`).
wait_healthy() {
  local f=$1 deadline=$((SECONDS + WAIT)) ids line bad state
  while :; do
    mapfile -t ids < <(dc "$f" ps -q)
    [ ${#ids[@]} -gt 0 ] || die "no container is running for $f"
    bad=0
    while read -r line; do
      state=${line##* }
      case $state in
        healthy) ;;
        unhealthy | exited | dead) log "$line"; dump "$f"; die "a container is $state" ;;
        *) bad=$((bad + 1)) ;;
      esac
    done < <(docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "${ids[@]}")
    if [ "$bad" -eq 0 ]; then
      log "all ${#ids[@]} containers healthy after ${SECONDS}s"
      return
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "${ids[@]}" >&2
      dump "$f"
      die "not healthy after ${WAIT}s"
    fi
    sleep 1
  done
}

dump() { dc "$1" ps >&2 || true; dc "$1" logs --tail 30 >&2 || true; }

# published FILE: the host ports FILE publishes, one a line, leaving out
# the services under a profile (Grafana: `up` does not start it). compose
# 1.29 prints `- 127.0.0.1:8102:8102/tcp`, v2 `published: "8102"`.
published() {
  dc "$1" config | awk '
    /^[a-z]/ { in_services = ($0 == "services:"); next }
    in_services && /^  [^ ]/ { flush(); profiled = 0; n = 0; next }
    in_services && /^    profiles:/ { profiled = 1 }
    in_services && match($0, /^ *- *"?([0-9.]+:)?[0-9]+:[0-9]+(\/(tcp|udp))?"?$/) {
      v = $0; gsub(/[ "-]/, "", v); sub(/\/.*/, "", v); k = split(v, a, ":"); ports[++n] = a[k - 1]
    }
    in_services && /^ *published:/ { v = $2; gsub(/"/, "", v); ports[++n] = v }
    function flush(  i) { if (!profiled) for (i = 1; i <= n; i++) print ports[i] }
    END { flush() }' | sort -un
}

# check_ports FILE: every port FILE publishes is free, or held by FILE's own
# project (then `up` only brings it up to date). Otherwise say who holds
# each port and what to do, and start nothing: `up` would fail half way
# with "port is already allocated" and leave a half-started project.
check_ports() {
  local f=$1 p holder own busy=()
  own=$(project "$f")
  while read -r p; do
    [ -n "$p" ] || continue
    holder=$(docker ps --filter "publish=$p" --format '{{.Names}} {{.Label "com.docker.compose.project"}}' | head -n 1)
    if [ -n "$holder" ]; then
      [ "${holder##* }" = "$own" ] && continue
      busy+=("$p, published by container ${holder% *} of project ${holder##* }")
    elif (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      busy+=("$p, where a process of this machine listens")
    fi
  done < <(published "$f")
  [ ${#busy[@]} -eq 0 ] && return
  log "cannot start $own: ports in use:"
  printf 'cluster:   %s\n' "${busy[@]}" >&2
  log "nothing was started. Stop the other cluster with \`make down\` (it removes every cluster of compose/),"
  log "or move this one's ports with the variables of $(basename "$f") (RACK1_PORT, RACK1_STATS_PORT, ..., PROMETHEUS_PORT; compose/README.md)"
  exit 1
}

# cid FILE SERVICE: the container of a service.
cid() {
  local id
  id=$(dc "$1" ps -q "$2")
  [ -n "$id" ] || die "service $2 of $1 is not running"
  echo "$id"
}

# verify FILE: a value written through rack 1 (published port 8102) is in
# every rack's datastore, read there directly. A cluster that has just come
# up may still be connecting its peers (or, with DNS discovery, learning
# them), so a value missing somewhere is tried again with a new key, for
# VERIFY_WAIT seconds (30); every attempt is logged.
verify() {
  local f=$1 attempt=1 deadline=$((SECONDS + ${VERIFY_WAIT:-30}))
  until verify_once "$f"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      dump "$f"
      die "the value is not in every rack (after $attempt attempts)"
    fi
    log "attempt $attempt: not in every rack yet; again with a new key"
    attempt=$((attempt + 1))
    sleep 1
  done
  log "the value is in every rack (attempt $attempt)"
}

verify_once() {
  local f=$1 key value got ok=1 port=${RACK1_PORT:-8102}
  key="cluster-check-$$-$RANDOM"
  value="v$RANDOM$RANDOM"
  case $(project "$f") in
    dynomite-memcached)
      got=$(memcache_cmd 127.0.0.1 "$port" "set $key 0 0 ${#value}"$'\r\n'"$value")
      [[ $got == STORED* ]] || { log "set through 127.0.0.1:$port answered: $got"; return 1; }
      log "set $key=$value through 127.0.0.1:$port: STORED"
      sleep 0.2 # DC_ONE: the other racks are written after the reply
      for r in 1 2 3; do
        got=$(docker exec "$(cid "$f" "memcached-rack$r")" bash -c "$(declare -f memcache_cmd); memcache_cmd 127.0.0.1 11211 'get $key'" | sed -n 2p | tr -d '\r')
        report "memcached-rack$r" "$got" "$value" || ok=0
      done
      ;;
    *)
      got=$(redis_cmd "$f" "$port" set "$key" "$value")
      [ "$got" = OK ] || { log "set through 127.0.0.1:$port answered: $got"; return 1; }
      log "set $key=$value through 127.0.0.1:$port: OK"
      sleep 0.2 # DC_ONE: the other racks are written after the reply
      local services
      if [ "$(project "$f")" = dynomite-multidc ]; then
        services=(redis-dc1-rack1 redis-dc1-rack2 redis-dc1-rack3 redis-dc2-rack1 redis-dc2-rack2 redis-dc2-rack3)
      else
        services=(redis-rack1 redis-rack2 redis-rack3)
      fi
      for s in "${services[@]}"; do
        got=$(docker exec "$(cid "$f" "$s")" redis-cli get "$key")
        report "$s" "$got" "$value" || ok=0
      done
      ;;
  esac
  [ "$ok" = 1 ]
}

report() { # service got want
  if [ "$2" = "$3" ]; then log "$1: $2"; else log "$1: got '$2', want '$3'"; return 1; fi
}

# redis_cmd FILE PORT ARGS...: redis-cli on the host when there is one, else
# from rack 1's Redis container through the node's client port.
redis_cmd() {
  local f=$1 port=$2
  shift 2
  if command -v redis-cli >/dev/null; then
    redis-cli -h 127.0.0.1 -p "$port" "$@"
  else
    local s=redis-rack1 n=dynomite-rack1
    [ "$(project "$f")" = dynomite-multidc ] && s=redis-dc1-rack1 n=dc1-rack1
    docker exec "$(cid "$f" "$s")" redis-cli -h "$n" -p 8102 "$@"
  fi
}

# memcache_cmd HOST PORT CMD: one memcached ASCII command over bash's
# /dev/tcp; prints the reply up to END, STORED or an error.
memcache_cmd() {
  exec 3<>"/dev/tcp/$1/$2"
  printf '%s\r\n' "$3" >&3
  local l
  while IFS= read -t 3 -r l <&3; do
    printf '%s\n' "$l"
    case $l in END* | STORED* | NOT_STORED* | ERROR* | CLIENT_ERROR* | SERVER_ERROR*) break ;; esac
  done
  exec 3>&-
}

file_arg() {
  local f=${1:-$here/docker-compose.yml}
  [ -f "$f" ] || die "no compose file $f"
  (cd "$(dirname "$f")" && echo "$(pwd)/$(basename "$f")")
}

cmd=${1:-}
shift || true
case $cmd in
  up)
    f=$(file_arg "${1:-}")
    check_ports "$f"
    log "starting $(project "$f") from $f"
    dc "$f" up -d --remove-orphans
    wait_healthy "$f"
    dc "$f" ps
    ;;
  verify)
    verify "$(file_arg "${1:-}")"
    ;;
  ring)
    # the stats listener answers the admin endpoints on loopback: ask from
    # inside the node's container, where the dynomite binary is
    f=$(file_arg "${1:-}")
    node=dynomite-rack1
    [ "$(project "$f")" = dynomite-multidc ] && node=dc1-rack1
    docker exec "$(cid "$f" "$node")" dynomite ring
    ;;
  down)
    for f in "${FILES[@]}"; do
      [ -n "$(dc "$f" --profile grafana ps -q 2>/dev/null)" ] || [ -n "$(docker network ls -q --filter "label=com.docker.compose.project=$(project "$f")")" ] || continue
      log "removing $(project "$f")"
      dc "$f" --profile grafana down --volumes --remove-orphans --timeout 5
    done
    ;;
  check)
    for f in "${FILES[@]}"; do
      dc "$f" config -q
      dc "$f" --profile grafana config -q
      log "$(basename "$f"): valid"
    done
    ;;
  *)
    die "usage: $0 up [FILE] | verify [FILE] | ring [FILE] | down | check"
    ;;
esac
