#!/usr/bin/env bash
# bench.sh - `make bench`: our proxy (bin/dynomite) vs twemproxy (nutcracker) vs the
# datastore itself, on this machine, with everything started here and stopped at exit.
#
# Sections (each can be skipped):
#   redis     direct redis-server, nutcracker and bin/dynomite in front of that same
#             Redis; redis-benchmark SET/GET at pipeline depths 1 and 16, via
#             scripts/proxybench.sh (targets interleaved, REPS repetitions, medians).
#   memcache  the same with memcached, a second nutcracker (redis: false) and a second
#             dynomite (data_store: 1); memaslap/memcaslap with its default
#             90% get / 10% set mix.
#   idle      memory per idle client connection: scripts/idleconns opens IDLE_CONNS
#             connections to fresh dynomite, nutcracker and redis-server processes and
#             reports the VmRSS growth per connection (goal for dynomite: <= IDLE_LIMIT_KIB).
#   gobench   go test -bench of the parsers and the request path (ns/op, B/op, allocs/op).
# Servers and proxies are pinned to CPU SERVER_CPU, the load generator to CPU GEN_CPU
# (taskset), all on free 127.0.0.1 ports, in a temporary directory. The server CPU
# column charges the proxy AND the Redis/Memcached behind it to the proxy rows, and
# only the server to the direct rows. See bench/README.md for how to read the table.
#
# Output: the summary on stdout and in bench/results/<UTC timestamp>/summary.md, with
# the raw outputs, per-run results.tsv and server logs beside it (git-ignored).
#
# Environment variables, shown with their defaults:
#   N=200000          requests per redis-benchmark test / memaslap operations per run
#   CLIENTS=50        concurrent client connections of the load generator
#   REPS=3            repetitions of every (target, pipeline) cell; medians are reported
#   PIPELINES=1,16    redis-benchmark pipeline depths     TESTS=set,get  redis-benchmark tests
#   QUICK=1           smoke run: N=20000 REPS=1 IDLE_CONNS=1000 GOBENCHTIME=100ms NOISE=0
#                     (any of these set explicitly still wins)
#   SKIP_REDIS=1 SKIP_MEMCACHE=1 SKIP_IDLE=1 SKIP_GOBENCH=1   leave a section out
#   IDLE_CONNS=10000  connections opened by the idle-connection test
#   IDLE_LIMIT_KIB=24 per-connection goal for dynomite (reported, does not fail the run)
#   GOBENCHTIME=1s    go test -benchtime
#   SERVER_CPU=0 GEN_CPU=1   CPUs for the servers/proxies and for the load generator
#   NOISE=30          % machine busy above which a run is waited for / retried
#                     (proxybench -Q; 0 = off). NOISE_WAIT=10 s max wait per run,
#                     NOISE_RETRIES=1, NOISE_BUDGET=300 s per section
#   NICE=0            priority of everything the benchmark runs. Where the kernel groups
#                     processes by session (autogroup, most desktops and containers),
#                     plain nice only counts inside a session, so the script re-runs
#                     itself in a new session and sets that session's autogroup nice;
#                     otherwise it uses nice -n. Negative values need root. NICE=-10
#                     shields the runs from other work on a shared machine.
#   RT=1              run servers, proxies and load generators with SCHED_FIFO (chrt -f
#                     10; root): clean numbers on a busy machine, but everything else
#                     gets at most the kernel's RT-throttling share (5%) of both CPUs
#                     while a run lasts. Use it only where that is acceptable.
#   DYNOMITE=bin/dynomite    the proxy binary (make bench builds it first)
#   RESULTS=bench/results/<timestamp>   output directory
#
# Needs: redis-server, redis-benchmark, redis-cli, memcached, memaslap or memcaslap,
# nutcracker, taskset, go (Debian: redis-server redis-tools memcached
# libmemcached-tools nutcracker util-linux). Linux only (/proc). Exit status: 0 when
# every section ran, 1 when one failed (the others still run), 2 on setup errors.
set -u
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD

die() { echo "bench: $*" >&2; exit 2; }
log() { echo "bench: $*" >&2; }

# ---- options ----------------------------------------------------------------------
if [ "${QUICK:-0}" = 1 ]; then
  : "${N:=20000}" "${REPS:=1}" "${IDLE_CONNS:=1000}" "${GOBENCHTIME:=100ms}" "${NOISE:=0}"
fi
N=${N:-200000}; CLIENTS=${CLIENTS:-50}; REPS=${REPS:-3}
PIPELINES=${PIPELINES:-1,16}; TESTS=${TESTS:-set,get}
IDLE_CONNS=${IDLE_CONNS:-10000}; IDLE_LIMIT_KIB=${IDLE_LIMIT_KIB:-24}; GOBENCHTIME=${GOBENCHTIME:-1s}
SERVER_CPU=${SERVER_CPU:-0}; GEN_CPU=${GEN_CPU:-1}; NICE=${NICE:-0}; RT=${RT:-0}
NOISE=${NOISE:-30}; NOISE_WAIT=${NOISE_WAIT:-10}; NOISE_RETRIES=${NOISE_RETRIES:-1}; NOISE_BUDGET=${NOISE_BUDGET:-300}
DYNOMITE=${DYNOMITE:-bin/dynomite}
SKIP_REDIS=${SKIP_REDIS:-0}; SKIP_MEMCACHE=${SKIP_MEMCACHE:-0}; SKIP_IDLE=${SKIP_IDLE:-0}; SKIP_GOBENCH=${SKIP_GOBENCH:-0}
TS=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=${RESULTS:-bench/results/$TS}

for v in N CLIENTS REPS IDLE_CONNS IDLE_LIMIT_KIB SERVER_CPU GEN_CPU NOISE NOISE_WAIT NOISE_RETRIES NOISE_BUDGET; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
[[ $NICE =~ ^-?[0-9]+$ ]] || die "NICE must be an integer (got '$NICE')"
[ "$N" -ge 1 ] && [ "$CLIENTS" -ge 1 ] && [ "$REPS" -ge 1 ] || die "N, CLIENTS and REPS must be >= 1"

# ---- tools ------------------------------------------------------------------------
[ -r /proc/stat ] || die "needs Linux (/proc)"
need() { # command debian-package
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found in PATH (Debian/Ubuntu: apt-get install $2)"
}
need awk gawk; need timeout coreutils; need taskset util-linux
if [ "$SKIP_REDIS" != 1 ] || [ "$SKIP_IDLE" != 1 ]; then
  need redis-server redis-server; need redis-cli redis-tools; need nutcracker nutcracker
fi
[ "$SKIP_REDIS" = 1 ] || need redis-benchmark redis-tools
if [ "$SKIP_MEMCACHE" != 1 ]; then
  need memcached memcached; need nutcracker nutcracker
  command -v memaslap >/dev/null 2>&1 || command -v memcaslap >/dev/null 2>&1 ||
    die "neither memaslap nor memcaslap found in PATH (Debian/Ubuntu: apt-get install libmemcached-tools)"
fi
if [ "$SKIP_IDLE" != 1 ] || [ "$SKIP_GOBENCH" != 1 ]; then need go golang-go; fi
if [ "$SKIP_REDIS" != 1 ] || [ "$SKIP_MEMCACHE" != 1 ] || [ "$SKIP_IDLE" != 1 ]; then
  [ -x "$DYNOMITE" ] || die "$DYNOMITE not found or not executable: run 'make build' (or use 'make bench')"
  DYNOMITE=$(cd "$(dirname "$DYNOMITE")" && pwd)/$(basename "$DYNOMITE")
fi

NCPU=$(nproc)
if [ "$NCPU" -lt 2 ]; then
  log "WARNING: only $NCPU CPU: servers and load generator share it (pinning both to CPU 0)"
  SERVER_CPU=0; GEN_CPU=0
fi
[ "$SERVER_CPU" -lt "$NCPU" ] && [ "$GEN_CPU" -lt "$NCPU" ] || die "SERVER_CPU/GEN_CPU must be < $NCPU"
PRIOCMD=()   # prefix for servers, proxies and load generators
PRIO_DESC="normal"
if [ "$NICE" != 0 ]; then
  if [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ] && [ -w "/proc/$$/autogroup" ]; then
    if [ "${BENCH_SESSION:-}" != 1 ]; then
      # Re-run in a new session (= a new autogroup) and forward signals to it.
      need setsid util-linux
      BENCH_SESSION=1 RESULTS=$RESULTS setsid "$SELF" &
      sid=$!
      trap 'kill -TERM "$sid" 2>/dev/null' INT TERM HUP
      while :; do
        wait "$sid"; rc=$?
        kill -0 "$sid" 2>/dev/null || exit "$rc"
      done
    fi
    echo "$NICE" >"/proc/$$/autogroup" 2>/dev/null || die "cannot set autogroup nice $NICE (negative values need root)"
    PRIO_DESC="autogroup nice $NICE"
  else
    nice -n "$NICE" true 2>/dev/null && [ "$(nice -n "$NICE" nice)" = "$(($(nice) + NICE))" ] ||
      die "cannot run at nice $NICE (negative values need root)"
    PRIOCMD=(nice -n "$NICE"); PRIO_DESC="nice $NICE"
  fi
fi
if [ "$RT" = 1 ]; then
  need chrt util-linux
  chrt -f 10 true 2>/dev/null || die "RT=1: cannot use SCHED_FIFO (chrt -f needs root or CAP_SYS_NICE)"
  PRIOCMD=(chrt -f 10); PRIO_DESC="$PRIO_DESC, SCHED_FIFO 10"
fi
SPIN=("${PRIOCMD[@]+"${PRIOCMD[@]}"}" taskset -c "$SERVER_CPU")
GPIN=("${PRIOCMD[@]+"${PRIOCMD[@]}"}" taskset -c "$GEN_CPU")
PB=("${PRIOCMD[@]+"${PRIOCMD[@]}"}" scripts/proxybench.sh)

# Open files: the idle test needs IDLE_CONNS descriptors in the proxy and in the client.
WANT_FILES=$((IDLE_CONNS + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$WANT_FILES" ]; then
  ulimit -n "$WANT_FILES" 2>/dev/null || ulimit -S -n "$(ulimit -H -n)" 2>/dev/null || true
fi
NOFILE=$(ulimit -n)

mkdir -p "$RESULTS" || die "cannot create $RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dynomite-bench.XXXXXX") || die "mktemp failed"
mkdir -p "$TMP/logs"

# ---- process bookkeeping ------------------------------------------------------------
PIDS=()     # everything we started and have not stopped yet
CHILD=""    # the foreground step (proxybench, idleconns, go test) while it runs
cleanup() {
  local rc=$?
  if [ -n "$CHILD" ]; then   # the step and its direct children (timeout, test binaries)
    pkill -TERM -P "$CHILD" 2>/dev/null; kill "$CHILD" 2>/dev/null; wait "$CHILD" 2>/dev/null
  fi
  stop_pids "${PIDS[@]+"${PIDS[@]}"}"
  if [ -d "$TMP" ]; then
    cp -r "$TMP/logs" "$RESULTS/" 2>/dev/null
    cp "$TMP"/*.yml "$RESULTS/logs/" 2>/dev/null
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

stop_pids() { # stop the given PIDs (TERM, then KILL after 5 s), forget them
  local pid i keep=()
  [ $# -gt 0 ] || return 0
  for pid in "$@"; do kill "$pid" 2>/dev/null; done
  for ((i = 0; i < 50; i++)); do
    local alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "$@"; do kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    [[ " $* " == *" $pid "* ]] || keep+=("$pid")
  done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

USED_PORTS=" "
port_in_use() { # any TCP socket bound to local port $1?
  local hex; hex=$(printf ':%04X' "$1")
  awk -v h="$hex" 'FNR > 1 && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
free_port() { # VAR: a free port below the ephemeral range, not handed out before
  local p tries
  for ((tries = 0; tries < 500; tries++)); do
    p=$((20000 + RANDOM % 12000))
    [[ $USED_PORTS == *" $p "* ]] && continue
    port_in_use "$p" && continue
    USED_PORTS+="$p "; printf -v "$1" %s "$p"; return 0
  done
  die "no free port found"
}

run_child() { # cmd...: run in the background and wait for it, so that a signal is handled
  "$@" &     # at once (bash runs traps only after a foreground command ends)
  CHILD=$!
  wait "$CHILD"
  local rc=$?
  CHILD=""
  return "$rc"
}

start() { # name cmd... -> starts pinned to SERVER_CPU, logs to logs/name.log; sets LAST_PID
  local name=$1; shift
  "${SPIN[@]}" "$@" >"$TMP/logs/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}
wait_port() { # name pid port: wait (10 s) until the port accepts connections
  local name=$1 pid=$2 port=$3 i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$TMP/logs/$name.log" >&2; die "$name (pid $pid) exited at startup, log above"; }
    if timeout 1 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0' "$port" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  tail -n 20 "$TMP/logs/$name.log" >&2
  die "$name (pid $pid) is not listening on 127.0.0.1:$port after 10 s, log above"
}

# ---- starting the datastores and proxies ----------------------------------------------
start_redis() { # name -> REDIS_PORT REDIS_PID
  local name=$1
  free_port REDIS_PORT
  start "$name" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --maxclients $((IDLE_CONNS + 1000)) --logfile ''
  REDIS_PID=$LAST_PID
  wait_port "$name" "$REDIS_PID" "$REDIS_PORT"
}
start_memcached() { # -> MC_PORT MC_PID; one worker thread (it has one CPU)
  free_port MC_PORT
  start memcached memcached -u "$(id -un)" -l 127.0.0.1 -p "$MC_PORT" -U 0 -t 1 -c $((IDLE_CONNS + 1000)) -m 256
  MC_PID=$LAST_PID
  wait_port memcached "$MC_PID" "$MC_PORT"
}
start_twemproxy() { # name backend-port redis(true|false) -> TW_PORT TW_PID
  local name=$1 bport=$2 isredis=$3 sport
  free_port TW_PORT; free_port sport
  cat >"$TMP/$name.yml" <<EOF
bench:
  listen: 127.0.0.1:$TW_PORT
  hash: fnv1a_64
  distribution: ketama
  redis: $isredis
  auto_eject_hosts: false
  preconnect: true
  server_connections: 1
  servers:
  - 127.0.0.1:$bport:1
EOF
  start "$name" nutcracker -c "$TMP/$name.yml" -s "$sport" -a 127.0.0.1 -o "$TMP/logs/$name.log"
  TW_PID=$LAST_PID
  wait_port "$name" "$TW_PID" "$TW_PORT"
}
start_dynomite() { # name backend-port data_store(0|1) -> DYN_PORT DYN_PID
  local name=$1 bport=$2 ds=$3 dport sport
  free_port DYN_PORT; free_port dport; free_port sport
  cat >"$TMP/$name.yml" <<EOF
dyn_o_mite:
  datacenter: dc1
  rack: rack1
  listen: 127.0.0.1:$DYN_PORT
  dyn_listen: 127.0.0.1:$dport
  stats_listen: 127.0.0.1:$sport
  tokens: '0'
  servers:
  - 127.0.0.1:$bport:1
  data_store: $ds
  datastore_connections: 1
EOF
  start "$name" "$DYNOMITE" -c "$TMP/$name.yml"
  DYN_PID=$LAST_PID
  wait_port "$name" "$DYN_PID" "$DYN_PORT"
}

PB_ARGS=(-C "$GEN_CPU" -n "$N" -c "$CLIENTS" -r "$REPS" -Q "$NOISE" -W "$NOISE_WAIT" -R "$NOISE_RETRIES" -B "$NOISE_BUDGET")
FAILED=()
SECTIONS=()   # markdown fragments, in order

# ---- redis ---------------------------------------------------------------------------
if [ "$SKIP_REDIS" != 1 ]; then
  log "redis: starting redis-server, nutcracker, dynomite (CPU $SERVER_CPU)"
  start_redis redis; start_twemproxy twemproxy-redis "$REDIS_PORT" true; start_dynomite dynomite-redis "$REDIS_PORT" 0
  stack=("$DYN_PID" "$TW_PID" "$REDIS_PID")
  run_child "${PB[@]}" "${PB_ARGS[@]}" -m redis -P "$PIPELINES" -t "$TESTS" -o "$RESULTS/redis" \
    "redis=127.0.0.1:$REDIS_PORT@$REDIS_PID" \
    "twemproxy=127.0.0.1:$TW_PORT@$TW_PID,$REDIS_PID" \
    "dynomite=127.0.0.1:$DYN_PORT@$DYN_PID,$REDIS_PID"
  rc=$?
  stop_pids "${stack[@]}"
  if [ "$rc" = 0 ] && [ -s "$RESULTS/redis/summary.md" ]; then
    SECTIONS+=("redis")
  else
    FAILED+=("redis (proxybench exit $rc)")
  fi
fi

# ---- memcache ------------------------------------------------------------------------
if [ "$SKIP_MEMCACHE" != 1 ]; then
  log "memcache: starting memcached, nutcracker, dynomite (CPU $SERVER_CPU)"
  start_memcached; start_twemproxy twemproxy-memcache "$MC_PORT" false; start_dynomite dynomite-memcache "$MC_PORT" 1
  stack=("$DYN_PID" "$TW_PID" "$MC_PID")
  run_child "${PB[@]}" "${PB_ARGS[@]}" -m memcache -o "$RESULTS/memcache" \
    "memcached=127.0.0.1:$MC_PORT@$MC_PID" \
    "twemproxy=127.0.0.1:$TW_PORT@$TW_PID,$MC_PID" \
    "dynomite=127.0.0.1:$DYN_PORT@$DYN_PID,$MC_PID"
  rc=$?
  stop_pids "${stack[@]}"
  if [ "$rc" = 0 ] && [ -s "$RESULTS/memcache/summary.md" ]; then
    SECTIONS+=("memcache")
  else
    FAILED+=("memcache (proxybench exit $rc)")
  fi
fi

# ---- idle connections ----------------------------------------------------------------
if [ "$SKIP_IDLE" != 1 ]; then
  if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt "$WANT_FILES" ]; then
    FAILED+=("idle (ulimit -n is $NOFILE, $WANT_FILES needed for IDLE_CONNS=$IDLE_CONNS; raise ulimit -Hn)")
  elif ! go build -o "$TMP/idleconns" ./scripts/idleconns; then
    FAILED+=("idle (go build ./scripts/idleconns failed)")
  else
    log "idle: fresh redis-server, nutcracker, dynomite; $IDLE_CONNS connections each"
    start_redis redis-idle; start_twemproxy twemproxy-idle "$REDIS_PORT" true; start_dynomite dynomite-idle "$REDIS_PORT" 0
    stack=("$DYN_PID" "$TW_PID" "$REDIS_PID")
    run_child "${GPIN[@]}" "$TMP/idleconns" -n "$IDLE_CONNS" -proto redis -check dynomite -limit "$IDLE_LIMIT_KIB" \
      "dynomite=127.0.0.1:$DYN_PORT@$DYN_PID" \
      "twemproxy=127.0.0.1:$TW_PORT@$TW_PID" \
      "redis=127.0.0.1:$REDIS_PORT@$REDIS_PID" >"$RESULTS/idle.md" 2> >(tee "$RESULTS/idle.log" >&2)
    rc=$?
    stop_pids "${stack[@]}"
    if [ "$rc" -le 1 ] && [ -s "$RESULTS/idle.md" ]; then
      SECTIONS+=("idle")
      [ "$rc" = 1 ] && log "WARNING: dynomite uses more than $IDLE_LIMIT_KIB KiB per idle connection"
    else
      FAILED+=("idle (idleconns exit $rc, see idle.log)")
    fi
  fi
fi

# ---- go benchmarks -------------------------------------------------------------------
if [ "$SKIP_GOBENCH" != 1 ]; then
  log "gobench: go test -bench (benchtime $GOBENCHTIME)"
  GOPKGS=(./proxy/resp/ ./proxy/memcache/ ./proxy/)
  run_child go test -run '^$' -bench . -benchmem -benchtime "$GOBENCHTIME" "${GOPKGS[@]}" >"$RESULTS/gobench.txt" 2>&1
  GOBENCH_RC=$?
  cat "$RESULTS/gobench.txt"
  SECTIONS+=("gobench")
  [ "$GOBENCH_RC" = 0 ] || FAILED+=("gobench (go test exit $GOBENCH_RC)")
fi

# ---- summary -------------------------------------------------------------------------
ver() { "$@" 2>&1 | head -1; }
{
  echo "# dynomite-go benchmark $TS"
  echo
  echo "- host: $(hostname), $NCPU CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), $(uname -sr)"
  echo "- commit: $(git describe --tags --always --dirty 2>/dev/null || echo unknown); $(ver "$DYNOMITE" -V 2>/dev/null || true)"
  echo "- servers/proxies pinned to CPU $SERVER_CPU, load generator to CPU $GEN_CPU; priority: $PRIO_DESC; n=$N clients=$CLIENTS reps=$REPS noise-threshold=${NOISE}%"
  echo "- $(ver redis-server --version | cut -d' ' -f1-3); $(ver nutcracker --version); $(ver memcached -V); $(ver go version)"
  for s in "${SECTIONS[@]+"${SECTIONS[@]}"}"; do
    echo
    case $s in
      redis)
        echo "## Redis: redis-benchmark -c $CLIENTS -n $N -t $TESTS, pipeline $PIPELINES, 3-byte values, 100000 random keys"
        echo
        echo "ratio = median rps / median rps of direct redis. server CPU us/op = CPU time of redis (direct row) or proxy + redis (proxy rows) per request."
        echo
        cat "$RESULTS/redis/summary.md" ;;
      memcache)
        echo "## Memcached: $(command -v memaslap >/dev/null && echo memaslap || echo memcaslap) -T 1 -c $CLIENTS -x $N (90% get / 10% set), 3-byte values"
        echo
        echo "ratio = median ops/s / median ops/s of direct memcached. server CPU us/op = CPU time of memcached (direct row) or proxy + memcached (proxy rows) per operation. No latency percentiles from memaslap."
        echo
        cat "$RESULTS/memcache/summary.md" ;;
      idle)
        echo "## Memory per idle client connection ($IDLE_CONNS connections, VmRSS growth / connections)"
        echo
        echo "\"connected\": accepted, nothing sent yet. \"used once\": after one GET on every connection, then idle."
        echo
        cat "$RESULTS/idle.md" ;;
      gobench)
        echo "## Go benchmarks: go test -run '^\$' -bench . -benchmem -benchtime $GOBENCHTIME ${GOPKGS[*]}"
        echo
        echo '```text'
        if [ "$GOBENCH_RC" = 0 ]; then
          grep -E '^(Benchmark|ok|FAIL|PASS|pkg:|goos|goarch|cpu:|---|\?)' "$RESULTS/gobench.txt" || true
        else
          tail -n 40 "$RESULTS/gobench.txt"
        fi
        echo '```' ;;
    esac
  done
  if [ ${#FAILED[@]} -gt 0 ]; then
    echo
    echo "## FAILED sections"
    echo
    for f in "${FAILED[@]}"; do echo "- $f"; done
  fi
  echo
  echo "Raw outputs: $RESULTS"
} >"$RESULTS/summary.md"

echo
echo "=================================================================================="
cat "$RESULTS/summary.md"
[ ${#FAILED[@]} -eq 0 ] || exit 1
