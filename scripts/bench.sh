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
#   cluster   two 3-rack single-datacenter clusters of bin/dynomite (3 redis-server + 3
#             nodes each, generated configs, read_consistency/write_consistency DC_ONE in
#             one and DC_QUORUM in the other) and a direct redis-server, interleaved in
#             one scripts/proxybench.sh run: redis-benchmark SET/GET at depths 1 and 16
#             through one node (the coordinator); ratios vs direct Redis next to the
#             ratios upstream's C Dynomite reached in this setup on a 2-CPU machine and
#             the ratios we aim for (both in CLUSTER_REF below, explained in
#             bench/README.md), and the CPU us per request of the coordinator, of the
#             two replicas and of the three Redis.
# BASELINE adds other dynomite-compatible binaries (an older build of ours, upstream's C
# dynomite) to the redis, memcache and cluster sections: started like bin/dynomite with
# the same generated configuration (only upstream's keys), measured in the same
# proxybench run as ours, and compared with ours in a "vs ours" table per section.
# Servers and proxies are pinned to CPU SERVER_CPU, the load generator to CPU GEN_CPU
# (taskset), all on free 127.0.0.1 ports, in a temporary directory. The server CPU
# column charges the proxy AND the Redis/Memcached behind it to the proxy rows, and
# only the server to the direct rows. See bench/README.md for how to read the table.
#
# Output: the summary on stdout and in bench/results/<UTC timestamp>/summary.md, with
# the raw outputs, per-run results.tsv and server logs beside it (git-ignored). Every
# cell of our binary (redis, memcache and both clusters' coordinators) also gets a CPU
# profile from one extra, unmeasured run: <section>/profiles/<target>-P<depth>-<test>.pprof
# and the first 15 lines of `go tool pprof -top` beside it (.top.txt).
#
# Environment variables, shown with their defaults:
#   N=200000          requests per redis-benchmark test / memaslap operations per run
#   CLIENTS=50        concurrent client connections of the load generator
#   REPS=3            repetitions of every (target, pipeline) cell; medians are reported
#   PIPELINES=1,16    redis-benchmark pipeline depths     TESTS=set,get  redis-benchmark tests
#   QUICK=1           smoke run: N=20000 REPS=1 IDLE_CONNS=1000 GOBENCHTIME=100ms NOISE=0
#                     (any of these set explicitly still wins)
#   SKIP_REDIS=1 SKIP_MEMCACHE=1 SKIP_IDLE=1 SKIP_GOBENCH=1 SKIP_CLUSTER=1   leave a section out
#   ONLY=cluster      run only these sections (comma-separated: redis,memcache,idle,gobench,
#                     cluster); SECTIONS=... is the same. The SKIP_* variables still apply.
#   IDLE_CONNS=10000  connections opened by the idle-connection test
#   IDLE_LIMIT_KIB=8  per-connection goal for dynomite (reported, does not fail the run)
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
#   BASELINE=[label=]path[,...]   other dynomite binaries to measure beside DYNOMITE, e.g.
#                     BASELINE=prev=$(scripts/build-at.sh HEAD~1 /tmp/dyn-prev),upstream=/opt/dynomite/bin/dynomite
#                     A label (letters, digits, _ . -) names the rows; without one the
#                     file's name is used, or baselineN when that is taken. Unset: none.
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
IDLE_CONNS=${IDLE_CONNS:-10000}; IDLE_LIMIT_KIB=${IDLE_LIMIT_KIB:-8}; GOBENCHTIME=${GOBENCHTIME:-1s}
SERVER_CPU=${SERVER_CPU:-0}; GEN_CPU=${GEN_CPU:-1}; NICE=${NICE:-0}; RT=${RT:-0}
NOISE=${NOISE:-30}; NOISE_WAIT=${NOISE_WAIT:-10}; NOISE_RETRIES=${NOISE_RETRIES:-1}; NOISE_BUDGET=${NOISE_BUDGET:-300}
DYNOMITE=${DYNOMITE:-bin/dynomite}
SKIP_REDIS=${SKIP_REDIS:-0}; SKIP_MEMCACHE=${SKIP_MEMCACHE:-0}; SKIP_IDLE=${SKIP_IDLE:-0}; SKIP_GOBENCH=${SKIP_GOBENCH:-0}
SKIP_CLUSTER=${SKIP_CLUSTER:-0}
ONLY=${ONLY:-${SECTIONS:-}}
if [ -n "$ONLY" ]; then
  for s in ${ONLY//,/ }; do
    case $s in redis|memcache|idle|gobench|cluster) ;; *) die "ONLY: unknown section '$s' (redis,memcache,idle,gobench,cluster)" ;; esac
  done
  for s in redis memcache idle gobench cluster; do
    [[ ",$ONLY," == *",$s,"* ]] || printf -v "SKIP_${s^^}" 1
  done
fi
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
if [ "$SKIP_CLUSTER" != 1 ]; then need redis-server redis-server; need redis-cli redis-tools; fi
[ "$SKIP_REDIS" = 1 ] && [ "$SKIP_CLUSTER" = 1 ] || need redis-benchmark redis-tools
if [ "$SKIP_MEMCACHE" != 1 ]; then
  need memcached memcached; need nutcracker nutcracker
  command -v memaslap >/dev/null 2>&1 || command -v memcaslap >/dev/null 2>&1 ||
    die "neither memaslap nor memcaslap found in PATH (Debian/Ubuntu: apt-get install libmemcached-tools)"
fi
if [ "$SKIP_IDLE" != 1 ] || [ "$SKIP_GOBENCH" != 1 ]; then need go golang-go; fi
if [ "$SKIP_REDIS" != 1 ] || [ "$SKIP_MEMCACHE" != 1 ] || [ "$SKIP_IDLE" != 1 ] || [ "$SKIP_CLUSTER" != 1 ]; then
  [ -x "$DYNOMITE" ] || die "$DYNOMITE not found or not executable: run 'make build' (or use 'make bench')"
  DYNOMITE=$(cd "$(dirname "$DYNOMITE")" && pwd)/$(basename "$DYNOMITE")
fi

# Baselines: BL_LABEL[i] names the rows of the binary BL_BIN[i] (an absolute path).
BL_LABEL=(); BL_BIN=()
RESERVED=" redis memcached twemproxy dynomite dc_one dc_quorum "
if [ -n "${BASELINE:-}" ]; then
  IFS=, read -r -a bl_items <<<"$BASELINE"
  for ((i = 0; i < ${#bl_items[@]}; i++)); do
    item=${bl_items[i]}; label=""; path=$item
    [ -n "$item" ] || die "BASELINE: empty entry in '$BASELINE'"
    if [[ $item == *=* ]]; then
      label=${item%%=*}; path=${item#*=}
      [[ $label =~ ^[A-Za-z0-9_.-]+$ ]] || die "BASELINE: label '$label' may hold only letters, digits, '_', '.' and '-'"
      [[ $RESERVED != *" $label "* ]] || die "BASELINE: label '$label' is taken by a target of the benchmark itself"
      [[ " ${BL_LABEL[*]} " != *" $label "* ]] || die "BASELINE: label '$label' is given twice"
    else
      label=$(basename "$path")
      if ! [[ $label =~ ^[A-Za-z0-9_.-]+$ ]] || [[ $RESERVED == *" $label "* ]] || [[ " ${BL_LABEL[*]} " == *" $label "* ]]; then
        label=baseline$((i + 1))
      fi
    fi
    [ -f "$path" ] && [ -x "$path" ] || die "BASELINE: $label: '$path' is not an executable file"
    BL_LABEL+=("$label"); BL_BIN+=("$(cd "$(dirname "$path")" && pwd)/$(basename "$path")")
  done
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
  # from the temporary directory (every path given is absolute): whatever a
  # server leaves in its working directory (a baseline's core dump, say)
  # goes with it, not into the checkout
  (cd "$TMP" && exec "${SPIN[@]}" "$@") >"$TMP/logs/$name.log" 2>&1 &
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
# The keys upstream's C dynomite knows (its conf_commands[] in src/dyn_conf.c); it refuses
# any other key. A baseline's configuration is ours without the keys not in this list.
UPSTREAM_KEYS="listen dyn_listen stats_listen servers data_store tokens rack datacenter dyn_seeds
dyn_seed_provider hash hash_tag read_consistency write_consistency read_repairs_enabled
secure_server_option pem_key_file recon_key_file recon_iv_file timeout preconnect
auto_eject_hosts server_retry_timeout server_failure_limit backlog client_connections
datastore_connections local_peer_connections remote_peer_connections enable_gossip
gos_interval conn_msg_rate stats_interval mbuf_size max_msgs env dyn_read_timeout
dyn_write_timeout dyn_port dyn_connections distribution server_connections"
upstream_only() { # file: drop the keys (and their list items) upstream does not know
  local dropped
  dropped=$(awk -v keys="$UPSTREAM_KEYS" -v out="$1.upstream" '
    BEGIN { n = split(keys, K, /[ \n]+/); for (i = 1; i <= n; i++) known[K[i]] = 1; keep = 1 }
    /^[^ #]/ { keep = 1 }                                   # the root key (pool name)
    /^  [A-Za-z_][A-Za-z0-9_]*:/ { k = $1; sub(/:.*/, "", k); keep = (k in known); if (!keep) printf " %s", k }
    keep { print > out }' "$1") && mv -f "$1.upstream" "$1" || die "cannot filter $1"
  [ -z "$dropped" ] || log "WARNING: $(basename "$1"): keys upstream does not know left out for the baseline:$dropped (ours keeps them)"
}

start_dynomite() { # name backend-port data_store(0|1) [binary] -> DYN_PORT DYN_PID
  # binary: a baseline (BL_BIN) started instead of DYNOMITE, with upstream's keys only
  local name=$1 bport=$2 ds=$3 bin=${4:-} dport sport
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
  [ -z "$bin" ] || upstream_only "$TMP/$name.yml"
  start "$name" "${bin:-$DYNOMITE}" -c "$TMP/$name.yml"
  DYN_PID=$LAST_PID; DYN_STATS=127.0.0.1:$sport
  wait_port "$name" "$DYN_PID" "$DYN_PORT"
}

CLUSTER_TOKEN=101134286   # one node per rack: every node owns the whole ring of its rack
start_cluster() { # name consistency [binary] -> CL_PORT (client port of rack1's node, the
  # coordinator), CL_COORD, CL_REPLICAS, CL_REDIS (comma-separated PIDs), CL_RPORTS (Redis
  # ports), CL_STACK. binary: as in start_dynomite.
  local name=$1 level=$2 bin=${3:-} i j probe got ok try
  local -a rport rpid cport dport sport npid
  for i in 1 2 3; do
    start_redis "$name-redis$i"; rport[i]=$REDIS_PORT; rpid[i]=$REDIS_PID
    free_port CL_P; cport[i]=$CL_P; free_port CL_P; dport[i]=$CL_P; free_port CL_P; sport[i]=$CL_P
  done
  for i in 1 2 3; do
    {
      echo "dyn_o_mite:"
      echo "  datacenter: dc1"
      echo "  rack: rack$i"
      echo "  listen: 127.0.0.1:${cport[i]}"
      echo "  dyn_listen: 127.0.0.1:${dport[i]}"
      echo "  stats_listen: 127.0.0.1:${sport[i]}"
      echo "  tokens: '$CLUSTER_TOKEN'"
      echo "  servers:"
      echo "  - 127.0.0.1:${rport[i]}:1"
      echo "  data_store: 0"
      echo "  datastore_connections: 1"
      echo "  read_consistency: $level"
      echo "  write_consistency: $level"
      # hinted handoff on, as a production node runs (nothing is written while copies succeed)
      echo "  hints_dir: $TMP/$name-hints$i"
      echo "  dyn_seeds:"
      for j in 1 2 3; do
        [ "$j" = "$i" ] || echo "  - 127.0.0.1:${dport[j]}:rack$j:dc1:$CLUSTER_TOKEN"
      done
    } >"$TMP/$name-rack$i.yml"
    [ -z "$bin" ] || upstream_only "$TMP/$name-rack$i.yml"
  done
  for i in 1 2 3; do
    start "$name-rack$i" "${bin:-$DYNOMITE}" -c "$TMP/$name-rack$i.yml"; npid[i]=$LAST_PID
  done
  for i in 1 2 3; do wait_port "$name-rack$i" "${npid[i]}" "${cport[i]}"; done
  # Ready when a write through every node is in all three Redis (peer links are up).
  for ((try = 0; try < 100; try++)); do
    ok=1
    for i in 1 2 3; do
      probe="bench:cluster:probe:$i"
      got=$(timeout 5 redis-cli -p "${cport[i]}" set "$probe" "v$i" 2>&1)
      [ "$got" = OK ] || { ok=0; break; }
      for j in 1 2 3; do
        got=$(timeout 5 redis-cli -p "${rport[j]}" get "$probe" 2>&1)
        [ "$got" = "v$i" ] || { ok=0; break 2; }
      done
    done
    [ "$ok" = 1 ] && break
    sleep 0.1
  done
  [ "$ok" = 1 ] || {
    tail -n 20 "$TMP/logs/$name-rack1.log" >&2
    die "$name: a write through one node did not reach all three Redis within 10 s (last reply: $got), rack1's log above"
  }
  for j in 1 2 3; do timeout 5 redis-cli -p "${rport[j]}" del bench:cluster:probe:1 bench:cluster:probe:2 bench:cluster:probe:3 >/dev/null; done
  CL_PORT=${cport[1]}; CL_COORD=${npid[1]}; CL_REPLICAS="${npid[2]},${npid[3]}"; CL_STATS=127.0.0.1:${sport[1]}
  CL_REDIS="${rpid[1]},${rpid[2]},${rpid[3]}"; CL_RPORTS="${rport[*]}"
  CL_STACK=("${npid[@]}" "${rpid[@]}")
}

PB_ARGS=(-C "$GEN_CPU" -n "$N" -c "$CLIENTS" -r "$REPS" -Q "$NOISE" -W "$NOISE_WAIT" -R "$NOISE_RETRIES" -B "$NOISE_BUDGET")
FAILED=()
DONE=()   # sections that produced a table, in order

# ---- tables from results.tsv ---------------------------------------------------------
# awk functions shared by the tables built here from proxybench's results.tsv.
AWK_MED='
  function med(key, n,   i, j, tmp, a, m) {   # median of vals[key,1..n], NA skipped; sets lo, hi, cnt
    m = 0
    for (i = 1; i <= n; i++) if (vals[key, i] != "NA" && vals[key, i] != "") a[++m] = vals[key, i] + 0
    if (m == 0) return "NA"
    for (i = 2; i <= m; i++) { tmp = a[i]; for (j = i - 1; j >= 1 && a[j] > tmp; j--) a[j+1] = a[j]; a[j+1] = tmp }
    lo[key] = a[1]; hi[key] = a[m]; cnt[key] = m
    return (m % 2) ? a[(m+1)/2] : (a[m/2] + a[m/2+1]) / 2
  }
  function add(key, v) { n[key]++; vals[key, n[key]] = v }
  function f2(v) { return v == "NA" ? "NA" : sprintf("%.2f", v) }
  function div(a, b) { return (a == "NA" || b == "NA" || b + 0 == 0) ? "NA" : a / b }
'

vs_ours() { # dir baseline-target=our-target...: dir/vs_ours.md, each baseline row next to ours
  # in the same cell (pipeline depth, test): rps and server CPU per request, and their ratios.
  local dir=$1; shift
  [ $# -gt 0 ] || return 0
  awk -F'\t' -v pairs="$*" "$AWK_MED"'
    BEGIN { np = split(pairs, PR, " "); for (i = 1; i <= np; i++) { split(PR[i], kv, "="); B[i] = kv[1]; ours[kv[1]] = kv[2] } }
    NR == 1 { next }
    {
      cell = $2 SUBSEP $4
      if (!(cell in seen)) { seen[cell] = 1; cells[++nc] = cell }
      k = $3 SUBSEP cell
      add(k "r", $5); add(k "u", $14)
      # cluster targets (PID groups coordinator/replicas/redis): the nodes alone = all groups but the last
      ng = split(($15 == "" ? "NA" : $15), g, "/"); nodes = "NA"
      if (ng > 1) { nodes = 0; for (i = 1; i < ng; i++) nodes = (g[i] == "NA" || nodes == "NA") ? "NA" : nodes + g[i] }
      if (ng > 1) grouped = 1
      add(k "d", nodes)
    }
    END {
      printf "| target | compared with | P | test | median rps | ours | rps vs ours | server CPU us/op | ours | CPU us/op vs ours |%s\n", (grouped ? " nodes us/op | ours | nodes us/op vs ours |" : "")
      printf "|---|---|---|---|---|---|---|---|---|---|%s\n", (grouped ? "---|---|---|" : "")
      for (i = 1; i <= np; i++) for (c = 1; c <= nc; c++) {
        b = B[i] SUBSEP cells[c]; o = ours[B[i]] SUBSEP cells[c]
        if (!((b "r") in n) || !((o "r") in n)) continue
        split(cells[c], cp, SUBSEP)
        br = med(b "r", n[b "r"]); orr = med(o "r", n[o "r"]); bu = med(b "u", n[b "u"]); ou = med(o "u", n[o "u"])
        rr = div(br, orr); ur = div(bu, ou)
        if (rr != "NA") add(B[i] "rr", rr); if (ur != "NA") add(B[i] "ur", ur)
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", B[i], ours[B[i]], cp[1], cp[2],
          (br == "NA" ? "NA" : sprintf("%.0f", br)), (orr == "NA" ? "NA" : sprintf("%.0f", orr)), f2(rr), f2(bu), f2(ou), f2(ur)
        if (grouped) {
          bd = med(b "d", n[b "d"]); od = med(o "d", n[o "d"]); dr = div(bd, od)
          if (dr != "NA") add(B[i] "dr", dr)
          printf " %s | %s | %s |", f2(bd), f2(od), f2(dr)
        }
        printf "\n"
      }
      print ""
      for (i = 1; i <= np; i++) {
        line = B[i] " vs " ours[B[i]] ", over its cells: rps ratio "
        line = line (((B[i] "rr") in n) ? sprintf("median %.2f (%.2f..%.2f)", med(B[i] "rr", n[B[i] "rr"]), lo[B[i] "rr"], hi[B[i] "rr"]) : "NA")
        line = line "; CPU us/op ratio " (((B[i] "ur") in n) ? sprintf("median %.2f (%.2f..%.2f)", med(B[i] "ur", n[B[i] "ur"]), lo[B[i] "ur"], hi[B[i] "ur"]) : "NA")
        if (grouped) line = line "; nodes us/op ratio " (((B[i] "dr") in n) ? sprintf("median %.2f (%.2f..%.2f)", med(B[i] "dr", n[B[i] "dr"]), lo[B[i] "dr"], hi[B[i] "dr"]) : "NA")
        print line "."
      }
    }' "$dir/results.tsv" >"$dir/vs_ours.md"
}

BL_DESC=""; for l in "${BL_LABEL[@]+"${BL_LABEL[@]}"}"; do BL_DESC+=", $l"; done
# bl_names: the baselines' proxybench target names, comma-separated, for -O: a
# baseline that fails the set/get probe (upstream's C binary crashes on a memcached
# get, say) is left out of the section rather than ending it
bl_names() { local t out=""; for t in ${BL_TARGETS[@]+"${BL_TARGETS[@]}"}; do out+="${out:+,}${t%%=*}"; done; echo "$out"; }
# dropped_note section: one line per target proxybench left out (header.txt's "# dropped")
DROPPED_NOTES=()
dropped_note() {
  local l
  while IFS= read -r l; do DROPPED_NOTES+=("$1: ${l#\# dropped target }"); done < <(grep '^# dropped target ' "$RESULTS/$1/header.txt" 2>/dev/null)
}
start_baselines() { # section backend-port backend-pid data_store -> BL_TARGETS (proxybench
  # targets), BL_PAIRS ("baseline-target=our-target" for vs_ours); adds the PIDs to stack
  local i
  BL_TARGETS=(); BL_PAIRS=()
  for ((i = 0; i < ${#BL_LABEL[@]}; i++)); do
    start_dynomite "${BL_LABEL[i]}-$1" "$2" "$4" "${BL_BIN[i]}"
    stack+=("$DYN_PID")
    BL_TARGETS+=("${BL_LABEL[i]}=127.0.0.1:$DYN_PORT@$DYN_PID/$3")
    BL_PAIRS+=("${BL_LABEL[i]}=dynomite")
  done
}

# ---- redis ---------------------------------------------------------------------------
if [ "$SKIP_REDIS" != 1 ]; then
  log "redis: starting redis-server, nutcracker, dynomite$BL_DESC (CPU $SERVER_CPU)"
  start_redis redis; start_twemproxy twemproxy-redis "$REDIS_PORT" true; start_dynomite dynomite-redis "$REDIS_PORT" 0
  stack=("$DYN_PID" "$TW_PID" "$REDIS_PID")
  # ours, before start_baselines starts each baseline with start_dynomite,
  # which sets DYN_PORT, DYN_PID and DYN_STATS again
  OUR_PORT=$DYN_PORT; OUR_PID=$DYN_PID; OUR_STATS=$DYN_STATS
  start_baselines redis "$REDIS_PORT" "$REDIS_PID" 0
  run_child "${PB[@]}" "${PB_ARGS[@]}" -m redis -P "$PIPELINES" -t "$TESTS" -o "$RESULTS/redis" -O "$(bl_names)" \
    -G proxy,datastore -F "dynomite=$OUR_STATS=$DYNOMITE" \
    "redis=127.0.0.1:$REDIS_PORT@$REDIS_PID" \
    "twemproxy=127.0.0.1:$TW_PORT@$TW_PID/$REDIS_PID" \
    "dynomite=127.0.0.1:$OUR_PORT@$OUR_PID/$REDIS_PID" \
    ${BL_TARGETS[@]+"${BL_TARGETS[@]}"}
  rc=$?
  dropped_note redis
  stop_pids "${stack[@]}"
  if [ "$rc" = 0 ] && [ -s "$RESULTS/redis/summary.md" ]; then
    DONE+=("redis")
    vs_ours "$RESULTS/redis" ${BL_PAIRS[@]+"${BL_PAIRS[@]}"}
  else
    FAILED+=("redis (proxybench exit $rc)")
  fi
fi

# ---- memcache ------------------------------------------------------------------------
if [ "$SKIP_MEMCACHE" != 1 ]; then
  log "memcache: starting memcached, nutcracker, dynomite$BL_DESC (CPU $SERVER_CPU)"
  start_memcached; start_twemproxy twemproxy-memcache "$MC_PORT" false; start_dynomite dynomite-memcache "$MC_PORT" 1
  stack=("$DYN_PID" "$TW_PID" "$MC_PID")
  # ours, before start_baselines starts each baseline with start_dynomite,
  # which sets DYN_PORT, DYN_PID and DYN_STATS again
  OUR_PORT=$DYN_PORT; OUR_PID=$DYN_PID; OUR_STATS=$DYN_STATS
  start_baselines memcache "$MC_PORT" "$MC_PID" 1
  run_child "${PB[@]}" "${PB_ARGS[@]}" -m memcache -o "$RESULTS/memcache" -O "$(bl_names)" -F "dynomite=$OUR_STATS=$DYNOMITE" \
    -G proxy,datastore \
    "memcached=127.0.0.1:$MC_PORT@$MC_PID" \
    "twemproxy=127.0.0.1:$TW_PORT@$TW_PID/$MC_PID" \
    "dynomite=127.0.0.1:$OUR_PORT@$OUR_PID/$MC_PID" \
    ${BL_TARGETS[@]+"${BL_TARGETS[@]}"}
  rc=$?
  dropped_note memcache
  stop_pids "${stack[@]}"
  if [ "$rc" = 0 ] && [ -s "$RESULTS/memcache/summary.md" ]; then
    DONE+=("memcache")
    vs_ours "$RESULTS/memcache" ${BL_PAIRS[@]+"${BL_PAIRS[@]}"}
  else
    FAILED+=("memcache (proxybench exit $rc)")
  fi
fi

# ---- cluster -------------------------------------------------------------------------
# Per consistency level, pipeline depth and test: the throughput ratio vs direct Redis that
# upstream's C Dynomite reached in this setup on a 2-CPU machine of this kind (quoted, not
# measured by this script; BASELINE=upstream=<its binary> measures it beside ours), then the
# ratio we aim for. bench/README.md ("The cluster section") explains both columns.
CLUSTER_REF="DC_ONE 1 SET 0.26 0.35
DC_ONE 1 GET 0.70 0.75
DC_ONE 16 SET 0.03 0.12
DC_ONE 16 GET 0.17 0.25
DC_QUORUM 1 SET 0.26 0.33
DC_QUORUM 1 GET 0.27 0.33
DC_QUORUM 16 SET 0.04 0.10
DC_QUORUM 16 GET 0.03 0.10"
cluster_table() { # results.tsv [target order] -> markdown table (stdout): one row per (depth, test, target)
  # Targets <label>.dc_one / <label>.dc_quorum are a baseline's clusters: shown with their
  # level and label, not counted against the targets (those are ours).
  awk -F'\t' -v ref="$CLUSTER_REF" -v order="${2:-redis,dc_one,dc_quorum}" "$AWK_MED"'
    function upmax(arr, k, v) { if (v != "NA" && v != "" && (!(k in arr) || v + 0 > arr[k])) arr[k] = v + 0 }
    BEGIN {
      nr = split(ref, R, "\n")
      for (i = 1; i <= nr; i++) { split(R[i], f, " "); up[f[1], f[2], f[3]] = f[4]; goal[f[1], f[2], f[3]] = f[5] }
      nt = split(order, T, ",")
    }
    NR == 1 { next }
    {
      pl = $2 + 0; cell = pl SUBSEP $4
      if (!(cell in seen)) { seen[cell] = 1; cells[++nc] = cell }
      if (!(pl in pseen)) { pseen[pl] = 1; pls[++np] = pl }
      k = $3 SUBSEP cell
      add(k "r", $5); add(k "5", $7); add(k "9", $8); add(k "u", $14)
      split(($15 == "" ? "NA" : $15), g, "/")
      for (i = 1; i <= 3; i++) add(k "g" i, (g[i] == "" ? "NA" : g[i]))
      if ($10 ~ /noisy/) noisy[k]++
      s = $10; sub(/,?noisy/, "", s); if (s != "ok") bad[k] = bad[k] " " s
      upmax(mfb, k, $12)
    }
    END {
      print "| target | P | test | median rps | min..max | ratio vs redis | upstream | target | vs target | CPU-cost ratio | P16/P1 rps | p50 ms | p99 ms | coordinator us/op | replicas us/op | redis us/op | total us/op | max foreign CPU % | noisy runs | notes |"
      print "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
      # medians first (the P16/P1 column needs depth 1 of the same target and test)
      for (c = 1; c <= nc; c++) for (t = 1; t <= nt; t++) {
        k = T[t] SUBSEP cells[c]
        if ((k "r") in n) { rps[k] = med(k "r", n[k "r"]); rng[k] = (rps[k] == "NA") ? "NA" : sprintf("%.0f..%.0f", lo[k "r"], hi[k "r"]); short[k] = cnt[k "r"] < n[k "r"]; sus[k] = med(k "u", n[k "u"]) }
      }
      for (c = 1; c <= nc; c++) {
        split(cells[c], cp, SUBSEP); pl = cp[1]; test = cp[2]
        base = rps["redis" SUBSEP cells[c]]; basesu = sus["redis" SUBSEP cells[c]]
        for (t = 1; t <= nt; t++) {
          k = T[t] SUBSEP cells[c]
          if (!((k "r") in n)) continue
          r = rps[k]; level = toupper(T[t]); who = ""
          if (match(T[t], /\.dc_(one|quorum)$/)) { who = substr(T[t], 1, RSTART - 1); level = toupper(substr(T[t], RSTART + 1)) }
          ratio = (r == "NA" || base == "NA" || base == 0) ? "NA" : r / base
          u = ((level, pl, test) in up) ? up[level, pl, test] : "-"
          gl = ((level, pl, test) in goal) ? goal[level, pl, test] : "-"
          vt = "-"
          if (gl != "-" && ratio != "NA" && who == "") { total_goals++; if (ratio + 0 >= gl + 0) { vt = "ok"; met++ } else { vt = "**BELOW**"; below = below " " level "/P" pl "/" test } }
          d1 = T[t] SUBSEP 1 SUBSEP test; pp = "-"
          if (pl != 1 && (d1 in rps) && rps[d1] != "NA" && r != "NA" && rps[d1] > 0) {
            pp = sprintf("%.2f", r / rps[d1])
            if (r < rps[d1]) { pp = pp " **LOWER**"; lower = lower " " T[t] "/P" pl "/" test }
          }
          su = sus[k]
          cr = (su == "NA" || basesu == "NA" || su == 0) ? "NA" : sprintf("%.2f", basesu / su)
          if (T[t] == "redis") { gc = "-"; gr = "-"; gd = f2(su) }
          else { gc = f2(med(k "g1", n[k "g1"])); gr = f2(med(k "g2", n[k "g2"])); gd = f2(med(k "g3", n[k "g3"])) }
          note = (k in bad) ? "FAILED/partial:" bad[k] : ""
          if (short[k]) note = note " only " cnt[k "r"] "/" n[k "r"] " runs"
          printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
            (T[t] == "redis" ? "redis (direct)" : (who == "" ? level : level " (" who ")")), pl, test, (r == "NA" ? "NA" : sprintf("%.0f", r)), rng[k],
            (ratio == "NA" ? "NA" : sprintf("%.2f", ratio)), u, gl, vt, cr, pp,
            f2(med(k "5", n[k "5"])), f2(med(k "9", n[k "9"])), gc, gr, gd, f2(su),
            ((k in mfb) ? mfb[k] : "NA"), ((k in noisy) ? noisy[k] : 0) "/" n[k "r"], note
        }
      }
      print ""
      printf "Targets met: %d of %d cells%s.\n", met, total_goals, (below == "" ? "" : "; below target:" below)
      printf "Pipelining (depth > 1 vs depth 1, same target and test): %s.\n", (lower == "" ? "never lowered throughput" : "LOWER throughput at" lower)
    }' "$1"
}

if [ "$SKIP_CLUSTER" != 1 ]; then
  log "cluster: starting a direct redis-server and two 3-rack clusters (DC_ONE, DC_QUORUM): 7 redis-server, 6 dynomite (CPU $SERVER_CPU)${BL_DESC:+; the same two clusters of each baseline:${BL_DESC#,}}"
  start_redis cluster-direct-redis; DIRECT_PORT=$REDIS_PORT; DIRECT_PID=$REDIS_PID
  start_cluster cluster-one DC_ONE
  ONE_PORT=$CL_PORT; ONE_PIDS="$CL_COORD/$CL_REPLICAS/$CL_REDIS"; ONE_RPORTS=$CL_RPORTS; ONE_STATS=$CL_STATS; stack=("${CL_STACK[@]}")
  start_cluster cluster-quorum DC_QUORUM
  Q_PORT=$CL_PORT; Q_PIDS="$CL_COORD/$CL_REPLICAS/$CL_REDIS"; Q_RPORTS=$CL_RPORTS; Q_STATS=$CL_STATS; stack+=("${CL_STACK[@]}" "$DIRECT_PID")
  # The same two clusters of every baseline: targets <label>.dc_one and <label>.dc_quorum.
  BL_TARGETS=(); BL_PAIRS=(); KEYS_OF=("DC_ONE:$ONE_RPORTS" "DC_QUORUM:$Q_RPORTS")
  for ((b = 0; b < ${#BL_LABEL[@]}; b++)); do
    for level in DC_ONE DC_QUORUM; do
      lv=${level,,}; start_cluster "${BL_LABEL[b]}-cluster-${lv#dc_}" "$level" "${BL_BIN[b]}"; stack+=("${CL_STACK[@]}")
      BL_TARGETS+=("${BL_LABEL[b]}.$lv=127.0.0.1:$CL_PORT@$CL_COORD/$CL_REPLICAS/$CL_REDIS")
      BL_PAIRS+=("${BL_LABEL[b]}.$lv=$lv"); KEYS_OF+=("$level (${BL_LABEL[b]}):$CL_RPORTS")
    done
  done
  run_child "${PB[@]}" "${PB_ARGS[@]}" -m redis -P "$PIPELINES" -t "$TESTS" -o "$RESULTS/cluster" -O "$(bl_names)" \
    -G coordinator,replicas,redis -F "dc_one=$ONE_STATS=$DYNOMITE,dc_quorum=$Q_STATS=$DYNOMITE" \
    "redis=127.0.0.1:$DIRECT_PORT@$DIRECT_PID" \
    "dc_one=127.0.0.1:$ONE_PORT@$ONE_PIDS" \
    "dc_quorum=127.0.0.1:$Q_PORT@$Q_PIDS" \
    ${BL_TARGETS[@]+"${BL_TARGETS[@]}"}
  rc=$?
  dropped_note cluster
  # Every rack holds a full copy: the key counts of a cluster's three Redis should agree.
  CLUSTER_KEYS=""
  for c in "${KEYS_OF[@]}"; do
    CLUSTER_KEYS+="${CLUSTER_KEYS:+; }${c%%:*}"
    for p in ${c#*:}; do CLUSTER_KEYS+=" $(timeout 5 redis-cli -p "$p" dbsize 2>/dev/null || echo '?')"; done
  done
  CLUSTER_KEYS+="; direct $(timeout 5 redis-cli -p "$DIRECT_PORT" dbsize 2>/dev/null || echo '?')"
  stop_pids "${stack[@]}"
  if [ "$rc" = 0 ] && [ -s "$RESULTS/cluster/results.tsv" ]; then
    CL_ORDER=redis,dc_one,dc_quorum
    for p in ${BL_PAIRS[@]+"${BL_PAIRS[@]}"}; do CL_ORDER+=",${p%%=*}"; done
    cluster_table "$RESULTS/cluster/results.tsv" "$CL_ORDER" >"$RESULTS/cluster.md"
    DONE+=("cluster")
    vs_ours "$RESULTS/cluster" ${BL_PAIRS[@]+"${BL_PAIRS[@]}"}
  else
    FAILED+=("cluster (proxybench exit $rc)")
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
      DONE+=("idle")
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
  DONE+=("gobench")
  [ "$GOBENCH_RC" = 0 ] || FAILED+=("gobench (go test exit $GOBENCH_RC)")
fi

# ---- summary -------------------------------------------------------------------------
ver() { "$@" 2>&1 | head -1; }
baseline_table() { # section what-the-CPU-column-counts: the section's "vs ours" table, if any
  [ ${#BL_LABEL[@]} -gt 0 ] && [ -s "$RESULTS/$1/vs_ours.md" ] || return 0
  echo
  echo "### Baselines vs ours"
  echo
  echo "Each baseline next to our row of the same cell, measured in the same interleaved runs. rps vs ours = its median rps / ours (above 1: faster than ours). CPU us/op vs ours = its server CPU per request / ours ($2; above 1: it costs more than ours)."
  echo
  cat "$RESULTS/$1/vs_ours.md"
}
{
  echo "# dynomite-go benchmark $TS"
  echo
  echo "- host: $(hostname), $NCPU CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), $(uname -sr)"
  echo "- commit: $(git describe --tags --always --dirty 2>/dev/null || echo unknown); $(ver "$DYNOMITE" -V 2>/dev/null || true)"
  echo "- servers/proxies pinned to CPU $SERVER_CPU, load generator to CPU $GEN_CPU; priority: $PRIO_DESC; n=$N clients=$CLIENTS reps=$REPS noise-threshold=${NOISE}%"
  echo "- $(ver redis-server --version | cut -d' ' -f1-3); $(ver nutcracker --version); $(ver memcached -V); $(ver go version)"
  for ((b = 0; b < ${#BL_LABEL[@]}; b++)); do
    echo "- baseline ${BL_LABEL[b]}: ${BL_BIN[b]}; $(ver "${BL_BIN[b]}" -V 2>/dev/null || true)"
  done
  for s in "${DONE[@]+"${DONE[@]}"}"; do
    echo
    case $s in
      redis)
        echo "## Redis: redis-benchmark -c $CLIENTS -n $N -t $TESTS, pipeline $PIPELINES, 3-byte values, 100000 random keys"
        echo
        echo "ratio = median rps / median rps of direct redis. server CPU us/op = CPU time of redis (direct row) or proxy + redis (proxy rows) per request."
        echo
        cat "$RESULTS/redis/summary.md"
        baseline_table redis "proxy + redis" ;;
      memcache)
        echo "## Memcached: $(command -v memaslap >/dev/null && echo memaslap || echo memcaslap) -T 1 -c $CLIENTS -x $N (90% get / 10% set), 3-byte values"
        echo
        echo "ratio = median ops/s / median ops/s of direct memcached. server CPU us/op = CPU time of memcached (direct row) or proxy + memcached (proxy rows) per operation. No latency percentiles from memaslap."
        echo
        cat "$RESULTS/memcache/summary.md"
        baseline_table memcache "proxy + memcached" ;;
      cluster)
        echo "## Cluster: 1 datacenter, 3 racks (3 redis-server + 3 dynomite), redis-benchmark -c $CLIENTS -n $N -t $TESTS, pipeline $PIPELINES, 3-byte values, 100000 random keys"
        echo
        echo "Two clusters side by side, one with read/write_consistency DC_ONE, one with DC_QUORUM, and a direct redis-server, all on CPU $SERVER_CPU; the load goes to rack1's node (the coordinator), runs interleaved with direct Redis in one proxybench run, $REPS repetitions, medians."
        echo "ratio = median rps / median rps of direct redis in the same cell. upstream = the ratio upstream's C Dynomite reached in this setup on a 2-CPU machine of this kind (quoted, not measured in this run) and target = the ratio we aim for, both from CLUSTER_REF in scripts/bench.sh (see bench/README.md); \"vs target\" is ok when ratio >= target (our rows only). P16/P1 rps = throughput at depth 16 / at depth 1 of the same target and test (**LOWER** when pipelining lowered it)."
        echo "CPU-cost ratio = total CPU us/op of direct redis / total CPU us/op of the row: the ratio the throughput would have if CPU $SERVER_CPU, which all servers share, were the only limit (at depth 16 direct Redis is often limited by the load generator instead); it depends far less on other work on the machine than the rps ratio."
        echo "CPU us/op = CPU time per request of the coordinator node, of the two replica nodes together, of the cluster's three redis-server together (direct row: the one redis-server), and their sum. max foreign CPU % = the most CPU used during a run by processes outside that target's (the idle cluster counts as foreign) in % of the machine; noisy runs = runs still over the noise threshold after the retries."
        echo
        cat "$RESULTS/cluster.md"
        echo
        echo "Keys per rack's Redis after the runs (each cluster's three should agree): $CLUSTER_KEYS."
        baseline_table cluster "coordinator + replicas + the cluster's three redis; nodes us/op: coordinator + replicas" ;;
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
  if [ ${#DROPPED_NOTES[@]} -gt 0 ]; then
    echo
    echo "## Baselines left out"
    echo
    for f in "${DROPPED_NOTES[@]}"; do echo "- $f"; done
  fi
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
