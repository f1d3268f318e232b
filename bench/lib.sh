# shellcheck shell=bash
# bench/lib.sh — shell functions shared by bench/run.sh (SQLite) and
# bench/pg.sh (PostgreSQL); sourced first, not run. bench_options sets the
# mode and sizes; then the caller sets:
#   LOG TSV      the log and the key/value results file (put/get)
#   BENCH RES WORK  bench/, the results folder, the temporary folder
#   WRK_THREADS CONNS WARM DUR WAIT_IDLE  wrk's threads and connections, the
#                warm-up and measured seconds, BENCH_WAIT_IDLE
#   SERVER_PID   the server measured by run_wrk (or TARGET_PID: several PIDs,
#                space-separated), SAMPLER_PID (stopped by the caller's trap)
#   WORK/runstat bench/tools/runstat.c compiled
# and, for probe, URL and COOKIE.

# ---- the options and sizes both harnesses share (called first, before the
# caller's own settings) ----
bench_options() {   # "$@" of the harness: sets MODE (full|quick), PERSONS DUR WARM REQUESTS CONNS
                    # WRK_THREADS SERVER_THREADS WAIT_IDLE VETS TOWN from the BENCH_* knobs
  MODE=full
  local a
  for a in "$@"; do
    case $a in
      --quick) MODE=quick ;;
      -h|--help) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
      *) echo "unknown option: $a (use --quick)" >&2; exit 2 ;;
    esac
  done
  if [ $MODE = quick ]; then
    PERSONS=${BENCH_PERSONS:-100000}; DUR=${BENCH_DURATION:-5}; WARM=${BENCH_WARMUP:-1}
  else
    PERSONS=${BENCH_PERSONS:-1000000}; DUR=${BENCH_DURATION:-20}; WARM=${BENCH_WARMUP:-3}
  fi
  REQUESTS=${BENCH_REQUESTS:-$((PERSONS / 10))}
  CONNS=${BENCH_CONNECTIONS:-32}
  WRK_THREADS=${BENCH_WRK_THREADS:-2}
  SERVER_THREADS=${BENCH_SERVER_THREADS:-4}
  WAIT_IDLE=${BENCH_WAIT_IDLE:-0}
  VETS=${VETS_BIN:-$ROOT/build/vets}
  TOWN=330482101000   # 乍浦镇: the list with a town filter
}
need_tools() {   # MAKE_TARGET TOOL…: each on PATH, the vets binary, libzip and expat for the tools
  local target=$1 t; shift
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "missing: $t ($target installs wrk and nginx-light: scripts/setup.sh --bench)" >&2; exit 1; }
  done
  [ -x "$VETS" ] || { echo "missing: $VETS (make build, or set VETS_BIN)" >&2; exit 1; }
  pkg-config --exists libzip expat || { echo "missing: libzip-dev or libexpat1-dev" >&2; exit 1; }
}

stop_pid() {   # PID [signal]: stop one process we started, wait up to 10 s, then SIGKILL
  local pid=$1 sig=${2:-TERM}
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -s "$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -s KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

say() { printf '[%s] %s\n' "$(date +%T)" "$*" | tee -a "$LOG" >&2; }
put() { printf '%s\t%s\n' "$1" "$2" >> "$TSV"; }
get() { awk -F'\t' -v k="$1" '$1 == k { v = $2 } END { print v }' "$TSV"; }
now() { date +%s.%N; }
fmt() { awk -v x="$1" -v d="${2:-1}" 'BEGIN { if (x == "") print "–"; else printf "%.*f", d, x }'; }

busy_pct() {   # CPU used by everything over 3 s, in % of one core
  local a b; a=$(cpu_busy); sleep 3; b=$(cpu_busy)
  awk -v d=$((b - a)) -v hz="$HZ" 'BEGIN { printf "%.0f", d / hz / 3 * 100 }'
}
wait_idle() {   # the machine may be shared: wait (bounded) until others use < 30 % of a core
  local waited=0
  [ "$WAIT_IDLE" -gt 0 ] || return 0
  while [ $waited -lt "$WAIT_IDLE" ] && [ "$(busy_pct)" -ge 30 ]; do waited=$((waited + 3)); done
  [ $waited -gt 0 ] && say "waited ${waited} s for the machine to be idle"
  return 0
}
cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }   # jiffies, all CPUs
tree_pids() {   # PID and its descendants
  local p=$1; echo "$p"
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}
tree_cpu() {    # PID…: utime+stime (jiffies) of the PIDs and their descendants
  local sum=0 v p q
  for q in "$@"; do
    for p in $(tree_pids "$q"); do
      v=$(awk '{ print $14 + $15 }' /proc/"$p"/stat 2>/dev/null || echo 0); sum=$((sum + v))
    done
  done
  echo $sum
}
HZ=$(getconf CLK_TCK)
wait_server_idle() {   # PID…: until they use < 5 % of a core over a second (requests wrk left
  local a b            # behind are still being answered), at most 10 minutes
  for _ in $(seq 600); do
    a=$(tree_cpu "$@"); sleep 1; b=$(tree_cpu "$@")
    [ $((b - a)) -le $((HZ / 20)) ] && return 0
  done
}
# shellcheck disable=SC2034 # used by the callers
NCPU=$(nproc)

vm() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' /proc/"$1"/status; }   # MB
# Proportional set size: each SQLite connection (one per server thread) maps
# vets.db on its own (mmap_size), and VmRSS counts a page once per mapping;
# Pss counts it once in all.
pss() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' /proc/"$1"/smaps_rollup; }
sample_rss() {   # "PID…" OUT: highest VmRSS (kB) of any one of the PIDs while one runs
  local max=0 v p alive
  while :; do
    alive=0
    for p in $1; do
      kill -0 "$p" 2>/dev/null || continue
      alive=1
      v=$(awk '$1 == "VmRSS:" { print $2 }' /proc/"$p"/status 2>/dev/null || echo 0)
      [ "${v:-0}" -gt $max ] && max=$v && echo $max > "$2"
    done
    [ $alive = 1 ] || break
    sleep 0.25
  done
}

# run_wrk NAME SCRIPT URL [extra wrk args…]: a warm-up, then the measured run,
# with the server's CPU, wrk's CPU and the rest of the machine's CPU (other
# processes: the machine may be shared) over the measured run.
# Optional: TARGET_PID (the measured server: one or several PIDs, default
# SERVER_PID), IDLE_PIDS (waited for after the warm-up and the run, default the
# server), EXTRA_CPU ("label=PID …": the CPU of these process trees is put as
# NAME.label_cpu_pct and not counted as "other"), NO_WARMUP=1, NO_DRAIN=1.
run_wrk() {
  local name=$1 script=$2 url=$3; shift 3
  local spid=${TARGET_PID:-$SERVER_PID}
  local ipid=${IDLE_PIDS:-$spid}
  wait_idle
  if [ "${NO_WARMUP:-0}" = 0 ]; then
    wrk -t"$WRK_THREADS" -c"$CONNS" -d"${WARM}s" --timeout 10s -s "$BENCH/wrk/$script" "$@" "$url" > "$RES/wrk-$name.warmup.txt" 2>&1 || true
    # shellcheck disable=SC2086
    wait_server_idle $ipid
  fi
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  echo 0 > "$WORK/rss-$name"
  sample_rss "$spid" "$WORK/rss-$name" & SAMPLER_PID=$!
  local g e0=() e1=() extra=0 i
  for g in ${EXTRA_CPU:-}; do e0+=("$(tree_cpu "${g#*=}")"); done
  # shellcheck disable=SC2086
  local b0 s0 b1 s1; b0=$(cpu_busy); s0=$(tree_cpu $spid)
  "$WORK/runstat" "$WORK/wrk-$name.cpu" \
    wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DUR}s" --timeout 10s --latency -s "$BENCH/wrk/$script" "$@" "$url" \
    > "$RES/wrk-$name.txt" 2>&1 || true
  # shellcheck disable=SC2086
  b1=$(cpu_busy); s1=$(tree_cpu $spid)
  for g in ${EXTRA_CPU:-}; do e1+=("$(tree_cpu "${g#*=}")"); done
  stop_pid "$SAMPLER_PID"; SAMPLER_PID=""
  # shellcheck disable=SC2086
  [ "${NO_DRAIN:-0}" = 1 ] || wait_server_idle $ipid
  local line; line=$(grep '^BENCH ' "$RES/wrk-$name.txt" || true)
  [ -n "$line" ] || { say "wrk $name: no result (see $RES/wrk-$name.txt)"; return 0; }
  # Little's law as a check on wrk itself: each connection has one request in
  # flight, so the latencies should add up to about connections × duration.
  # Ordinary runs give 1.0–1.3 (wrk's own accounting); some give far more
  # (seen: 13.7, with p99 "2.00 s" and p90 at 12 ms), and then the percentiles
  # are not the server's. Past 1.5 the run is kept as wrk-NAME.suspect.txt and
  # measured once more; the ratio is in the results.
  local ratio; ratio=$(awk -v l="$line" -v c="$CONNS" 'BEGIN { n = split(l, f, " "); for (i = 1; i <= n; i++) { split(f[i], kv, "="); v[kv[1]] = kv[2] }
    if (v["duration_s"] > 0) printf "%.2f", v["requests"] * v["mean_ms"] / 1000 / (c * v["duration_s"]); else print 0 }')
  if awk -v r="$ratio" 'BEGIN { exit !(r > 1.5) }' && [ "${WRK_RETRY:-0}" = 0 ]; then
    mv "$RES/wrk-$name.txt" "$RES/wrk-$name.suspect.txt"
    say "wrk $name: latencies add up to $ratio × connections × duration (a wrk miscount); measuring again"
    put "$name.suspect_little_ratio" "$ratio"
    WRK_RETRY=1 NO_WARMUP=1 run_wrk "$name" "$script" "$url" "$@"
    return 0
  fi
  put "$name.little_ratio" "$ratio"
  for kv in ${line#BENCH }; do put "$name.${kv%%=*}" "${kv#*=}"; done
  local wcpu; wcpu=$(awk -v hz="$HZ" '{ printf "%d", ($2 + $3) * hz }' "$WORK/wrk-$name.cpu")
  local secs; secs=$(get "$name.duration_s")
  put "$name.server_cpu_pct" "$(awk -v d=$((s1 - s0)) -v hz="$HZ" -v t="$secs" 'BEGIN { printf "%.0f", d / hz / t * 100 }')"
  put "$name.wrk_cpu_pct" "$(awk -v d="$wcpu" -v hz="$HZ" -v t="$secs" 'BEGIN { printf "%.0f", d / hz / t * 100 }')"
  i=0
  for g in ${EXTRA_CPU:-}; do
    put "$name.${g%%=*}_cpu_pct" "$(awk -v d=$((e1[i] - e0[i])) -v hz="$HZ" -v t="$secs" 'BEGIN { printf "%.0f", d / hz / t * 100 }')"
    extra=$((extra + e1[i] - e0[i])); i=$((i + 1))
  done
  put "$name.other_cpu_pct" "$(awk -v d=$((b1 - b0 - (s1 - s0) - wcpu - extra)) -v hz="$HZ" -v t="$secs" 'BEGIN { v = d / hz / t * 100; printf "%.0f", v < 0 ? 0 : v }')"
  put "$name.load_before" "$load"
  put "$name.peak_rss_mb" "$(awk '{ printf "%.1f", $1 / 1024 }' "$WORK/rss-$name")"
  say "wrk $name: $(get "$name.rps") req/s, p50 $(get "$name.p50_ms") ms, p99 $(get "$name.p99_ms") ms, non-2xx $(get "$name.err_status"), timeouts $(get "$name.err_timeout"), other CPU $(get "$name.other_cpu_pct") %"
}
probe() {   # NAME PATH: status and size of one answer, for the notes
  curl -sS -o "$WORK/probe-$1" -w '%{http_code} %{size_download}' -H "Cookie: $COOKIE" "$URL$2" > "$WORK/probe-$1.code" || true
  put "$1.probe" "$(cat "$WORK/probe-$1.code")"
}
