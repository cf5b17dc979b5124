#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016  # `a && b || die` guards are intended; bash -c bodies use their own $0/$1
# proxybench.sh - interleaved, bounded throughput comparison of Redis/Memcached
# endpoints (direct servers or proxies) given as name=host:port pairs.
#
# It only measures the addresses it is given; it does not build or start anything
# (scripts/bench.sh starts the servers and calls it). The first target is the
# baseline: every row gets a ratio vs that target's median.
#
# Usage:
#   proxybench.sh [options] name=host:port[@PID[,PID...][/PID[,PID...]...]] [...]
#
# The optional @PID list names the processes whose CPU time is charged to that
# target (srv_us/op column), e.g. a proxy AND the Redis behind it:
#   redis=127.0.0.1:6379@100  proxy=127.0.0.1:22120@200,100
# A target without @PIDs uses the -p list (if any).
# Groups separated by '/' are also measured one by one (srv_us/op stays the total of
# all groups), e.g. a cluster's coordinator, its replicas and their Redis processes:
#   cl=127.0.0.1:8102@200/201,202/100,101,102   with  -G coordinator,replicas,redis
# results.tsv then has the per-group us/op in its last column (slash-separated) and
# the summary a column with their medians.
#
# Options:
#   -n N     requests per run                               (default 200000)
#   -c N     concurrent client connections                  (default 50)
#   -P LIST  comma-separated pipeline depths (redis mode)   (default 1,16)
#   -t LIST  redis-benchmark tests (redis mode)             (default set,get)
#   -r N     repetitions per (target, pipeline) cell        (default 3)
#   -k N     random keyspace size (redis-benchmark -r; 0 = one fixed key) (default 100000)
#   -d N     value size in bytes                            (default 3)
#   -C CPUS  pin the load generator with `taskset -c CPUS`  (default: not pinned)
#   -T SEC   hard time limit per single run (timeout -k 5)  (default 120)
#   -s SEC   pause between runs                             (default 1)
#   -m MODE  redis (redis-benchmark) | memcache (memaslap/memcaslap, its default
#            90% get / 10% set mix; -P/-t/-k ignored)       (default redis)
#   -p PIDS  comma-separated PIDs of the server/proxy processes being measured, for
#            targets given without their own @PID list (optional, Linux only).
#            PIDs enable two columns: srv_us/op = CPU time used by the target's PIDs
#            (all threads) per request (a throughput-independent cost metric, robust
#            to a busy machine); and the
#            "foreign CPU" noise metric = CPU used during a run by anything other than
#            the load generator and these PIDs, in % of the whole machine.
#   -Q PCT   noise threshold, 0 = off (default 0). Before each run, wait (at most -W s)
#            until whole-machine CPU busy% over 1 s is below PCT. After the run, if the
#            foreign CPU% (needs -p) or else the pre-run busy% is >= PCT, the run is
#            marked noisy and retried up to -R times (last attempt is kept).
#   -W SEC   max wait per run for the quiet gate            (default 60)
#   -R N     retries of a noisy run (needs -Q)              (default 2)
#   -B SEC   noise-handling budget: once the whole benchmark has run SEC seconds, stop
#            waiting and retrying (runs continue, still flagged noisy); 0 = no limit (default)
#   -G LIST  comma-separated names of the PID groups (summary header; default g1,g2,...)
#   -o DIR   directory for raw outputs + results.tsv + summary.{txt,md} (default mktemp -d)
#   -A       allow targets outside 127.0.0.0/8 (default: refuse them)
#   -O LIST  optional targets: comma-separated names of targets that are dropped, with
#            a warning and a "# dropped" line in header.txt, when they fail the set/get
#            probe, instead of ending the benchmark (bench.sh passes its baselines:
#            another build may not serve what ours does, or may crash on it)
#   -F LIST  CPU profiles: comma-separated name=STATSADDR=BINARY for targets that are
#            dynomite processes (STATSADDR their stats listener, BINARY the executable).
#            After the measured repetitions, each such target gets one more run per
#            (pipeline, test) cell, not counted in the results, bracketed by
#            POST /debug/cpuprofile/start and /stop; the profile is saved as
#            profiles/NAME-P<pipeline>-<test>.pprof with `go tool pprof -top`'s first
#            15 lines beside it (.top.txt), so a cell's figure can be read with its profile.
#   -h       help
#
# Order: for each repetition, for each pipeline depth, for each test, all targets are run
# one after the other (one redis-benchmark/memaslap process per test, so CPU per request
# is per test); the target order is rotated every repetition to spread drift/warm-up bias.
# Reported per (target, pipeline, test): median over repetitions of rps (and of p50/p99
# latency in redis mode), min..max rps, ratio = median_rps / median_rps(first target),
# median server CPU us/op (with -p), the worst pre-run busy% and foreign CPU% seen, and
# how many kept runs were noisy.
#
# Example (server+proxies pinned to CPU 0 by whoever started them, generator on CPU 1):
#   proxybench.sh -C 1 -r 5 -Q 20 redis=127.0.0.1:6379@1234 proxy=127.0.0.1:22120@1240,1234
set -u

N=200000; CLIENTS=50; PIPES="1,16"; TESTS="set,get"; REPS=3; KEYSPACE=100000
VSIZE=3; GEN_CPU=""; RUN_TIMEOUT=120; PAUSE=1; MODE=redis; OUTDIR=""; ALLOW_REMOTE=0
QUIET=0; QUIET_WAIT=60; RETRIES=2; TPIDS=""; BUDGET=0; GLABELS=""; PROFILES=""; OPTIONAL=""

usage() { sed -n '3,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die() { echo "proxybench: $*" >&2; exit 2; }

while getopts ":n:c:P:t:r:k:d:C:T:s:m:o:Q:W:R:p:B:G:F:O:Ah" opt; do
  case $opt in
    n) N=$OPTARG ;; c) CLIENTS=$OPTARG ;; P) PIPES=$OPTARG ;; t) TESTS=$OPTARG ;;
    r) REPS=$OPTARG ;; k) KEYSPACE=$OPTARG ;; d) VSIZE=$OPTARG ;; C) GEN_CPU=$OPTARG ;;
    T) RUN_TIMEOUT=$OPTARG ;; s) PAUSE=$OPTARG ;; m) MODE=$OPTARG ;; o) OUTDIR=$OPTARG ;;
    Q) QUIET=$OPTARG ;; W) QUIET_WAIT=$OPTARG ;; R) RETRIES=$OPTARG ;; p) TPIDS=$OPTARG ;;
    B) BUDGET=$OPTARG ;; G) GLABELS=$OPTARG ;; F) PROFILES=$OPTARG ;; O) OPTIONAL=$OPTARG ;;
    A) ALLOW_REMOTE=1 ;; h) usage; exit 0 ;;
    :) die "option -$OPTARG needs a value" ;; *) die "unknown option -$OPTARG (see -h)" ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { usage >&2; exit 2; }
start_ts=$(date +%s)

for v in N CLIENTS REPS KEYSPACE VSIZE RUN_TIMEOUT QUIET QUIET_WAIT RETRIES BUDGET; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
[[ $PAUSE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "-s must be a number"
[ "$REPS" -ge 1 ] && [ "$N" -ge 1 ] && [ "$CLIENTS" -ge 1 ] || die "-n, -c, -r must be >= 1"
case $MODE in redis|memcache) ;; *) die "-m must be redis or memcache" ;; esac
check_pids() { # $1 comma-separated PIDs (groups separated by /), $2 where they came from
  [[ $1 =~ ^[0-9]+([,/][0-9]+)*$ ]] || die "$2 must be a comma-separated list of PIDs, groups separated by / (got '$1')"
  [ -r /proc/stat ] || die "$2: PIDs need /proc (Linux)"
  local p
  for p in ${1//[,\/]/ }; do [ -r "/proc/$p/stat" ] || die "PID $p (from $2) is not running"; done
}
if [ -n "$TPIDS" ]; then
  [[ $TPIDS != */* ]] || die "-p takes one group of PIDs (give groups per target: name=host:port@A/B)"
  check_pids "$TPIDS" -p; TPIDS=${TPIDS//,/ }
fi

# ---- tools ---------------------------------------------------------------------------
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found in PATH"; }
need timeout; need awk
PIN=()
if [ -n "$GEN_CPU" ]; then need taskset; PIN=(taskset -c "$GEN_CPU"); fi
if [ "$MODE" = redis ]; then
  need redis-benchmark
  IFS=, read -r -a PIPE_LIST <<<"$PIPES"
  for p in "${PIPE_LIST[@]}"; do [[ $p =~ ^[1-9][0-9]*$ ]] || die "bad pipeline depth '$p'"; done
  [[ $TESTS =~ ^[a-z_,]+$ ]] || die "bad -t list '$TESTS'"
  IFS=, read -r -a TEST_LIST <<<"$TESTS"
  TOOL_VER=$(redis-benchmark --version 2>/dev/null | head -1)
else
  MCTOOL=""
  for t in memaslap memcaslap; do command -v $t >/dev/null 2>&1 && { MCTOOL=$t; break; }; done
  [ -n "$MCTOOL" ] || die "memcache mode needs memaslap or memcaslap (Debian: libmemcached-tools)"
  PIPE_LIST=(1); TEST_LIST=(mix)
  TOOL_VER="$MCTOOL ($($MCTOOL -V 2>&1 | head -1))"
fi

# ---- targets -------------------------------------------------------------------------
NAMES=(); HOSTS=(); PORTS=(); TP=(); TG=(); NGROUPS=0
for arg in "$@"; do
  [[ $arg =~ ^([A-Za-z0-9_.:+-]+)=(.+):([0-9]+)(@([0-9,/]+))?$ ]] || die "target '$arg' is not name=host:port[@PID,...[/PID,...]]"
  name=${BASH_REMATCH[1]}; host=${BASH_REMATCH[2]}; port=${BASH_REMATCH[3]}; pids=${BASH_REMATCH[5]}
  groups=""
  if [ -n "$pids" ]; then
    check_pids "$pids" "target $name"
    if [[ $pids == */* ]]; then   # groups: "a b/c d"; the total counts every PID once
      groups=${pids//,/ }
      IFS=/ read -r -a gl <<<"$pids"; [ ${#gl[@]} -gt "$NGROUPS" ] && NGROUPS=${#gl[@]}
      pids=$(tr ',/' '\n\n' <<<"$pids" | awk 'NF && !s[$0]++' | tr '\n' ' '); pids=${pids% }
    else
      pids=${pids//,/ }
    fi
  else
    pids=$TPIDS
  fi
  host=${host#[}; host=${host%]}
  if [ "$ALLOW_REMOTE" -ne 1 ] && ! [[ $host =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+$ || $host == localhost || $host == ::1 ]]; then
    die "target '$arg' is not a loopback address (use -A to allow)"
  fi
  for n in "${NAMES[@]+"${NAMES[@]}"}"; do [ "$n" != "$name" ] || die "duplicate target name '$name'"; done
  NAMES+=("$name"); HOSTS+=("$host"); PORTS+=("$port"); TP+=("$pids"); TG+=("$groups")
done
NT=${#NAMES[@]}
if [ "$NGROUPS" -gt 0 ]; then
  IFS=, read -r -a GL <<<"$GLABELS"
  for ((g = ${#GL[@]}; g < NGROUPS; g++)); do GL+=("g$((g + 1))"); done
  GLABELS=$(IFS=/; echo "${GL[*]:0:NGROUPS}")
fi

[ -n "$OUTDIR" ] || OUTDIR=$(mktemp -d /tmp/proxybench.XXXXXX)
mkdir -p "$OUTDIR/raw" || die "cannot create $OUTDIR"
RES="$OUTDIR/results.tsv"
printf 'rep\tpipeline\ttarget\ttest\trps\tavg_ms\tp50_ms\tp99_ms\tmax_ms\tstatus\tpre_busy\tforeign_cpu\tattempts\tsrv_us_op\tsrv_us_op_groups\n' >"$RES"
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# ---- noise measurement ---------------------------------------------------------------
# whole-machine CPU busy % over ~1 s (from /proc/stat); "NA" where /proc/stat is missing
cpu_busy() {
  [ -r /proc/stat ] || { echo NA; return; }
  local a b
  a=$(awk '/^cpu /{t=0; for (i=2;i<=NF;i++) t+=$i; print t, $5+$6; exit}' /proc/stat)
  sleep 1
  b=$(awk '/^cpu /{t=0; for (i=2;i<=NF;i++) t+=$i; print t, $5+$6; exit}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN{split(a,x," "); split(b,y," "); dt=y[1]-x[1]; di=y[2]-x[2];
    if (dt <= 0) print "NA"; else printf "%.0f", 100*(dt-di)/dt}'
}
over_budget() { [ "$BUDGET" -gt 0 ] && [ $(($(date +%s) - start_ts)) -ge "$BUDGET" ]; }
# wait (bounded) for a quiet machine; prints the last busy% seen
quiet_gate() {
  local b waited=0
  b=$(cpu_busy)
  if [ "$QUIET" -gt 0 ] && ! over_budget; then
    while [ "$b" != NA ] && [ "$b" -ge "$QUIET" ] && [ "$waited" -lt "$QUIET_WAIT" ]; do
      sleep 1; waited=$((waited + 2)); b=$(cpu_busy)
    done
  fi
  echo "$b"
}
# snapshot in clock ticks: "<machine total> <machine busy> <generator> <targets> [<group>/<group>...]".
# generator = cutime+cstime of this shell (the tool runs as our reaped child);
# targets = utime+stime of the target's PIDs ($1, space-separated; all their threads);
# groups ($2, e.g. "1 2/3 4", optional) = the same per PID group.
snap() {
  [ -n "$1" ] || { echo "NA"; return; }
  local p files=()
  for p in $1; do files+=("/proc/$p/stat"); done
  awk -v self="/proc/$$/stat" -v groups="${2:-}" '
    BEGIN { ng = (groups == "") ? 0 : split(groups, G, "/")
            for (g = 1; g <= ng; g++) { m = split(G[g], P, " "); for (i = 1; i <= m; i++) grp["/proc/" P[i] "/stat"] = grp["/proc/" P[i] "/stat"] " " g; gt[g] = 0 } }
    FILENAME == "/proc/stat" { if ($1 == "cpu") { t = 0; for (i = 2; i <= NF; i++) t += $i; tot = t; busy = t - $5 - $6 }; next }
    { line = $0; sub(/^.*\) /, "", line); split(line, f, " ")
      if (FILENAME == self) { gen = f[14] + f[15]; next }
      tgt += f[12] + f[13]
      if (FILENAME in grp) { m = split(grp[FILENAME], P, " "); for (i = 1; i <= m; i++) gt[P[i]] += f[12] + f[13] } }
    END { printf "%d %d %d %d", tot, busy, gen, tgt
          for (g = 1; g <= ng; g++) printf "%s%d", (g == 1 ? " " : "/"), gt[g]
          printf "\n" }' /proc/stat "/proc/$$/stat" "${files[@]}" 2>/dev/null
}
srv_us_op() { # $1 snap-before $2 snap-after $3 requests [$4 = g: per group, slash-separated]
  # -> CPU us of the target's PIDs (or of each group) per request
  [ "$1" != NA ] && [ "$2" != NA ] && [ "$3" -gt 0 ] || { echo NA; return; }
  awk -v a="$1" -v b="$2" -v n="$3" -v hz="$CLK_TCK" -v per="${4:-}" 'BEGIN{split(a,x," "); split(b,y," ")
    if (per != "g") { printf "%.2f", (y[4]-x[4]) * 1e6 / hz / n; exit }
    if (x[5] == "" || y[5] == "") { print "NA"; exit }
    ng = split(x[5], gx, "/"); split(y[5], gy, "/")
    for (g = 1; g <= ng; g++) printf "%s%.2f", (g == 1 ? "" : "/"), (gy[g]-gx[g]) * 1e6 / hz / n }'
}
foreign_pct() { # $1 snap-before $2 snap-after -> % of machine used by foreign processes
  [ "$1" != NA ] && [ "$2" != NA ] || { echo NA; return; }
  awk -v a="$1" -v b="$2" 'BEGIN{split(a,x," "); split(b,y," "); dt=y[1]-x[1]
    if (dt <= 0) { print "NA"; exit }
    f = (y[2]-x[2]) - (y[3]-x[3]) - (y[4]-x[4]); if (f < 0) f = 0
    printf "%.0f", 100 * f / dt }'
}

# ---- reachability / sanity check -----------------------------------------------------
probe() { # $1 host $2 port -> 0 if a set+get round-trips through the endpoint
  local h=$1 p=$2 key="proxybench:probe:$$" val="v$RANDOM$RANDOM" got
  if [ "$MODE" = redis ]; then
    if command -v redis-cli >/dev/null 2>&1; then
      got=$(timeout 5 redis-cli -h "$h" -p "$p" set "$key" "$val" 2>&1) || return 1
      [ "$got" = OK ] || { echo "$got"; return 1; }
      got=$(timeout 5 redis-cli -h "$h" -p "$p" get "$key" 2>&1) || return 1
      [ "$got" = "$val" ] || { echo "$got"; return 1; }
      return 0
    fi
    got=$(timeout 5 bash -c 'exec 3<>/dev/tcp/$0/$1 || exit 1; printf "PING\r\n" >&3; head -c 7 <&3' "$h" "$p" 2>/dev/null)
    [[ $got == "+PONG"* ]]
  else
    got=$(timeout 5 bash -c 'exec 3<>/dev/tcp/$0/$1 || exit 1
      printf "set %s 0 0 %d\r\n%s\r\nget %s\r\n" "$2" "${#3}" "$3" "$2" >&3
      timeout 2 head -n 4 <&3' "$h" "$p" "$key" "$val" 2>/dev/null | tr -d '\r')
    [[ $got == *STORED*"VALUE $key"*"$val"*END* ]] || { echo "$got"; return 1; }
  fi
}
DROPPED=()
for ((i = 0; i < NT; i++)); do
  if ! msg=$(probe "${HOSTS[i]}" "${PORTS[i]}"); then
    why="target ${NAMES[i]}=${HOSTS[i]}:${PORTS[i]} failed the set/get probe${msg:+ ($(tr '\n' ' ' <<<"$msg" | cut -c1-120))}"
    [[ ,$OPTIONAL, == *",${NAMES[i]},"* ]] || die "$why"
    echo "proxybench: WARNING: $why; it is optional (-O), so it is left out of this benchmark" >&2
    DROPPED+=("${NAMES[i]}: failed the set/get probe${msg:+ ($(tr '\n' ' ' <<<"$msg" | cut -c1-120))}")
    NAMES[i]=""
  fi
done
if [ ${#DROPPED[@]} -gt 0 ]; then
  kn=(); kh=(); kp=(); kt=(); kg=()
  for ((i = 0; i < NT; i++)); do
    [ -n "${NAMES[i]}" ] || continue
    kn+=("${NAMES[i]}"); kh+=("${HOSTS[i]}"); kp+=("${PORTS[i]}"); kt+=("${TP[i]}"); kg+=("${TG[i]}")
  done
  NAMES=("${kn[@]}"); HOSTS=("${kh[@]}"); PORTS=("${kp[@]}"); TP=("${kt[@]}"); TG=("${kg[@]}"); NT=${#NAMES[@]}
  [ "$NT" -ge 1 ] || die "no target left after the probe"
fi

# ---- header --------------------------------------------------------------------------
{
  echo "# proxybench $(date -u +%Y-%m-%dT%H:%M:%SZ) host=$(hostname) cpus=$(nproc)"
  echo "# tool: $TOOL_VER | mode=$MODE n=$N c=$CLIENTS reps=$REPS value=${VSIZE}B" \
       "keyspace=$([ "$MODE" = redis ] && echo "$KEYSPACE" || echo "tool-default")" \
       "pipelines=${PIPE_LIST[*]} tests=$([ "$MODE" = redis ] && echo "$TESTS" || echo get90/set10)" \
       "gen_cpu=${GEN_CPU:-unpinned} run_timeout=${RUN_TIMEOUT}s"
  echo "# noise: threshold=${QUIET}% (0=off) gate_wait=${QUIET_WAIT}s retries=$RETRIES budget=${BUDGET}s" \
       "loadavg_at_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
  for ((i = 0; i < NT; i++)); do
    echo "# target ${NAMES[i]} = ${HOSTS[i]}:${PORTS[i]} cpu_pids=${TP[i]:-none}${TG[i]:+ groups($GLABELS)=${TG[i]}}"
  done
  for d in "${DROPPED[@]+"${DROPPED[@]}"}"; do echo "# dropped target $d"; done
} | tee "$OUTDIR/header.txt"

# ---- runs ----------------------------------------------------------------------------
run_tool() { # host port pipeline rawfile test -> exit status of the tool
  if [ "$MODE" = redis ]; then
    local kargs=(); [ "$KEYSPACE" -gt 0 ] && kargs=(-r "$KEYSPACE")
    timeout -k 5 "$RUN_TIMEOUT" "${PIN[@]+"${PIN[@]}"}" redis-benchmark -h "$1" -p "$2" -c "$CLIENTS" \
      -n "$N" -P "$3" -d "$VSIZE" -t "$5" "${kargs[@]+"${kargs[@]}"}" --csv >"$4" 2>&1
  else
    timeout -k 5 "$RUN_TIMEOUT" "${PIN[@]+"${PIN[@]}"}" "$MCTOOL" -s "$1:$2" -T 1 -c "$CLIENTS" \
      -x "$N" -X "$VSIZE" >"$4" 2>&1
  fi
}

run_one() { # rep pipeline idx test
  local rep=$1 pl=$2 name=${NAMES[$3]} h=${HOSTS[$3]} p=${PORTS[$3]} pids=${TP[$3]} groups=${TG[$3]} test=$4
  local raw rc pb fb s0 s1 attempt=0 noisy metric st nreq su sg before
  while :; do
    attempt=$((attempt + 1))
    raw="$OUTDIR/raw/r${rep}-P${pl}-${test}-${name}-a${attempt}.txt"
    pb=$(quiet_gate)
    s0=$(snap "$pids" "$groups")
    run_tool "$h" "$p" "$pl" "$raw" "$test"
    rc=$?
    s1=$(snap "$pids" "$groups")
    fb=$(foreign_pct "$s0" "$s1")
    noisy=0
    if [ "$QUIET" -gt 0 ]; then
      metric=$fb; [ "$metric" = NA ] && metric=$pb
      [ "$metric" != NA ] && [ "$metric" -ge "$QUIET" ] && noisy=1
    fi
    if [ "$noisy" = 1 ] && [ "$attempt" -le "$RETRIES" ] && ! over_budget; then
      printf '  rep %d P=%-3s %-4s %-18s attempt %d noisy (pre_busy=%s%% foreign=%s%%), retrying\n' \
        "$rep" "$pl" "$test" "$name" "$attempt" "$pb" "$fb"
      continue
    fi
    break
  done
  st=$([ "$rc" = 0 ] && echo ok || echo "rc=$rc"); [ "$noisy" = 1 ] && st="$st,noisy"
  nreq=$N   # one test per run
  su=$(srv_us_op "$s0" "$s1" "$nreq")
  sg=NA; [ -n "$groups" ] && sg=$(srv_us_op "$s0" "$s1" "$nreq" g)
  before=$(wc -l <"$RES")
  if [ "$MODE" = redis ]; then
    # CSV: "test","rps","avg","min","p50","p95","p99","max"
    awk -F'"' -v rep="$rep" -v pl="$pl" -v t="$name" -v st="$st" -v pb="$pb" -v fb="$fb" -v at="$attempt" -v su="$su" -v sg="$sg" '
      $2 != "" && $2 != "test" && $4 ~ /^[0-9.]+$/ {
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", rep, pl, t, $2, $4, $6, $10, $14, $16, st, pb, fb, at, su, sg; n++ }
      END { if (n == 0) printf "%s\t%s\t%s\tALL\tNA\tNA\tNA\tNA\tNA\t%s\t%s\t%s\t%s\tNA\tNA\n", rep, pl, t, st, pb, fb, at }' "$raw" >>"$RES"
  else
    awk -v rep="$rep" -v t="$name" -v st="$st" -v pb="$pb" -v fb="$fb" -v at="$attempt" -v su="$su" -v sg="$sg" '
      /get_misses:/ { miss = $2 }
      /TPS:/ { for (k = 1; k <= NF; k++) if ($k == "TPS:") tps = $(k+1) }
      END { if (miss != "" && miss > 0) st = st ",misses=" miss
            printf "%s\t1\t%s\tMIX\t%s\tNA\tNA\tNA\tNA\t%s\t%s\t%s\t%s\t%s\t%s\n", rep, t, (tps == "" ? "NA" : tps), st, pb, fb, at, su, sg }' "$raw" >>"$RES"
  fi
  printf '  rep %d P=%-3s %-18s pre_busy=%3s%% foreign=%3s%% srv_us/op=%s%s  %s\n' "$rep" "$pl" "$name" "$pb" "$fb" "$su" \
    "$([ -n "$groups" ] && echo " ($GLABELS: $sg)")" \
    "$(awk -F'\t' -v skip="$before" 'NR > skip {printf "%s=%s(%s) ", $4, $5, $10}' "$RES")"
}

for ((rep = 1; rep <= REPS; rep++)); do
  for pl in "${PIPE_LIST[@]}"; do
    for test in "${TEST_LIST[@]}"; do
      for ((j = 0; j < NT; j++)); do
        i=$(((j + rep - 1) % NT))
        run_one "$rep" "$pl" "$i" "$test"
        sleep "$PAUSE"
      done
    done
  done
done

# ---- CPU profiles (unmeasured extra runs) ---------------------------------------------
profile_cell() { # idx pipeline test statsaddr binary
  local name=${NAMES[$1]} out="$OUTDIR/profiles/${NAMES[$1]}-P$2-$3" code
  code=$(curl -s -o "$out.start.txt" -w '%{http_code}' -X POST "http://$4/debug/cpuprofile/start")
  if [ "$code" != 200 ]; then
    echo "  profile $name P=$2 $3: start answered $code: $(cat "$out.start.txt" 2>/dev/null)" >&2
    rm -f "$out.start.txt"; return 0
  fi
  rm -f "$out.start.txt"
  run_tool "${HOSTS[$1]}" "${PORTS[$1]}" "$2" "$out.run.txt" "$3"
  code=$(curl -s -o "$out.pprof" -w '%{http_code}' -X POST "http://$4/debug/cpuprofile/stop")
  if [ "$code" != 200 ]; then
    echo "  profile $name P=$2 $3: stop answered $code" >&2; return 0
  fi
  go tool pprof -top "$5" "$out.pprof" 2>/dev/null | head -n 15 >"$out.top.txt"
  printf '  profile %-18s P=%-3s %-4s -> %s\n' "$name" "$2" "$3" "${out#"$OUTDIR"/}.top.txt"
}
if [ -n "$PROFILES" ]; then
  need curl; need go
  mkdir -p "$OUTDIR/profiles"
  IFS=, read -r -a PL <<<"$PROFILES"
  for spec in "${PL[@]}"; do
    [[ $spec =~ ^([A-Za-z0-9_.:+-]+)=([^=]+)=(.+)$ ]] || die "-F entry '$spec' is not name=statsaddr=binary"
    pname=${BASH_REMATCH[1]}; paddr=${BASH_REMATCH[2]}; pbin=${BASH_REMATCH[3]}; pidx=-1
    for ((i = 0; i < NT; i++)); do [ "${NAMES[i]}" = "$pname" ] && pidx=$i; done
    [ "$pidx" -ge 0 ] || die "-F names '$pname', which is not a target"
    for pl in "${PIPE_LIST[@]}"; do
      for test in "${TEST_LIST[@]}"; do profile_cell "$pidx" "$pl" "$test" "$paddr" "$pbin"; done
    done
  done
fi
echo "# total wall time: $(($(date +%s) - start_ts))s; raw outputs in $OUTDIR"

# ---- summary -------------------------------------------------------------------------
ORDER=$(IFS=,; echo "${NAMES[*]}")
awk -F'\t' -v order="$ORDER" -v outmd="$OUTDIR/summary.md" -v ng="$NGROUPS" -v glabels="$GLABELS" '
  function med(key, n,   i, j, tmp, a, m) {   # median of vals[key,1..n] (numeric), insertion sort
    m = 0
    for (i = 1; i <= n; i++) if (vals[key, i] != "NA") a[++m] = vals[key, i] + 0
    if (m == 0) return "NA"
    for (i = 2; i <= m; i++) { tmp = a[i]; for (j = i - 1; j >= 1 && a[j] > tmp; j--) a[j+1] = a[j]; a[j+1] = tmp }
    lo[key] = a[1]; hi[key] = a[m]; cnt[key] = m
    return (m % 2) ? a[(m+1)/2] : (a[m/2] + a[m/2+1]) / 2
  }
  function upmax(arr, k, v) { if (v != "NA" && (!(k in arr) || v + 0 > arr[k])) arr[k] = v + 0 }
  NR == 1 { next }
  {
    cell = $2 SUBSEP $4
    if (!(cell in seen)) { seen[cell] = 1; cells[++nc] = cell }
    k = $3 SUBSEP cell
    n[k "r"]++; vals[k "r", n[k "r"]] = $5
    n[k "5"]++; vals[k "5", n[k "5"]] = $7
    n[k "9"]++; vals[k "9", n[k "9"]] = $8
    n[k "u"]++; vals[k "u", n[k "u"]] = ($14 == "" ? "NA" : $14)
    for (g = 1; g <= ng; g++) {   # per-group us/op ("a/b/c", or NA)
      split(($15 == "" ? "NA" : $15), gv, "/")
      n[k "g" g]++; vals[k "g" g, n[k "g" g]] = (gv[g] == "" ? "NA" : gv[g])
    }
    if ($10 ~ /noisy/) noisy[k]++
    s = $10; sub(/,?noisy/, "", s); if (s != "ok") bad[k] = bad[k] " " s
    upmax(mpb, k, $11); upmax(mfb, k, $12)
  }
  END {
    nt = split(order, T, ",")
    fmt = "%-18s %4s %-5s %10s %19s %6s %7s %7s %9s %5s %5s %5s  %s\n"
    gh = gmd = gsep = ""
    if (ng > 0) {   # one more column: the medians of the PID groups
      fmt = "%-18s %4s %-5s %10s %19s %6s %7s %7s %9s %20s %5s %5s %5s  %s\n"
      gh = "us/op " glabels; gmd = " CPU us/op " glabels " |"; gsep = "---|"
    }
    if (ng > 0) printf fmt, "target", "P", "test", "median_rps", "min..max", "ratio", "p50_ms", "p99_ms", "srv_us/op", gh, "pre%", "frgn%", "noisy", "notes"
    else printf fmt, "target", "P", "test", "median_rps", "min..max", "ratio", "p50_ms", "p99_ms", "srv_us/op", "pre%", "frgn%", "noisy", "notes"
    print "| target | P | test | median rps | min..max | ratio vs " T[1] " | p50 ms | p99 ms | server CPU us/op |" gmd " max pre-run busy % | max foreign CPU % | noisy runs | notes |" > outmd
    print "|---|---|---|---|---|---|---|---|---|" gsep "---|---|---|---|" > outmd
    for (c = 1; c <= nc; c++) {
      split(cells[c], cp, SUBSEP)
      base = med(T[1] SUBSEP cells[c] "r", n[T[1] SUBSEP cells[c] "r"])
      for (t = 1; t <= nt; t++) {
        k = T[t] SUBSEP cells[c]
        if (!((k "r") in n)) continue
        r = med(k "r", n[k "r"]); p5 = med(k "5", n[k "5"]); p9 = med(k "9", n[k "9"]); su = med(k "u", n[k "u"])
        rng = (r == "NA") ? "NA" : sprintf("%.0f..%.0f", lo[k "r"], hi[k "r"])
        ratio = (r == "NA" || base == "NA" || base == 0) ? "NA" : sprintf("%.2f", r / base)
        rs = (r == "NA") ? "NA" : sprintf("%.0f", r)
        note = (k in bad) ? "FAILED/partial:" bad[k] : ""
        if (r != "NA" && cnt[k "r"] < n[k "r"]) note = note " only " cnt[k "r"] "/" n[k "r"] " runs"
        pbv = (k in mpb) ? mpb[k] : "NA"; fbv = (k in mfb) ? mfb[k] : "NA"
        nz = ((k in noisy) ? noisy[k] : 0) "/" n[k "r"]
        if (ng > 0) {
          gs = ""
          for (g = 1; g <= ng; g++) gs = gs (g == 1 ? "" : "/") med(k "g" g, n[k "g" g])
          if (gs ~ /^(NA\/)*NA$/) gs = "-"
          printf fmt, T[t], cp[1], cp[2], rs, rng, ratio, p5, p9, su, gs, pbv, fbv, nz, note
          printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", T[t], cp[1], cp[2], rs, rng, ratio, p5, p9, su, gs, pbv, fbv, nz, note > outmd
        } else {
          printf fmt, T[t], cp[1], cp[2], rs, rng, ratio, p5, p9, su, pbv, fbv, nz, note
          printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", T[t], cp[1], cp[2], rs, rng, ratio, p5, p9, su, pbv, fbv, nz, note > outmd
        }
      }
    }
  }' "$RES" | tee "$OUTDIR/summary.txt"
echo "# results: $RES  summary: $OUTDIR/summary.txt (text), $OUTDIR/summary.md (markdown)"
