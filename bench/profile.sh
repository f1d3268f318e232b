#!/usr/bin/env bash
# bench/profile.sh --data DIR [--seconds N] [--no-perf] [scenario…] — where the time goes.
#
# For each scenario (person_get search_id search_name town_list dashboard
# post_request; all by default) against a data folder made by
# `vets init --demo` (for instance the one `BENCH_KEEP=1 bench/run.sh` keeps,
# under its temporary folder as data/):
#  - SQL statements per request: the server runs under bench/tools/sqlcount.so
#    (LD_PRELOAD), 200 requests (dashboard 5, town list 50) are sent one
#    after the other with curl, and each statement's executions, sqlite3_step
#    calls and time inside sqlite3_step are divided by their number →
#    sql-<scenario>.tsv and the summary;
#  - perf: `perf record --call-graph dwarf` on the server during a wrk run
#    (32 connections, 2 threads, N s, default 10) → perf-<scenario>.txt, the
#    functions by self time and by inclusive time (children).
# Writes to bench/results/profile-<date>/. The data folder is used as is:
# POST /requests adds rows to it, and detail views add audit rows.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
VETS=${VETS_BIN:-$ROOT/build/vets}
DATA=""; SECS=10; PERF=1; SCEN=()
while [ $# -gt 0 ]; do
  case $1 in
    --data) DATA=$2; shift ;;
    --seconds) SECS=$2; shift ;;
    --no-perf) PERF=0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
    *) SCEN+=("$1") ;;
  esac
  shift
done
[ -n "$DATA" ] && [ -f "$DATA/vets.db" ] || { echo "usage: bench/profile.sh --data DIR [--seconds N] [--no-perf] [scenario…]" >&2; exit 2; }
[ ${#SCEN[@]} -gt 0 ] || SCEN=(person_get search_id search_name town_list dashboard post_request)
[ $PERF = 0 ] || command -v perf >/dev/null || { echo "perf missing (apt-get install linux-perf), or use --no-perf" >&2; exit 1; }
N=200
OUT=$BENCH/results/profile-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/vets-profile.XXXXXX)
SERVER_PID=""
stop_pid() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
trap 'stop_pid "$SERVER_PID"; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

cc -O2 -shared -fPIC -o "$WORK/sqlcount.so" "$BENCH/tools/sqlcount.c" -ldl -lpthread
sqlite3 "$DATA/vets.db" "UPDATE settings SET value = '100000000' WHERE key = 'ratelimit.costly_per_minute';"
MAXID=$(sqlite3 "$DATA/vets.db" 'SELECT max(id) FROM persons;')
TOWN=330482101000
sqlite3 "$DATA/vets.db" "SELECT '/api/v1/persons/' || (abs(random()) % $MAXID + 1) FROM persons LIMIT $N;" > "$WORK/p-person_get"
sqlite3 "$DATA/vets.db" "SELECT hex(substr(name, 1 + abs(random()) % (length(name) - 1), 2)) FROM persons
                         WHERE length(name) >= 2 ORDER BY random() LIMIT $N;" | sed 's/../%&/g; s|^|/api/v1/persons?q=|' > "$WORK/p-search_name"
for _ in $(seq $N); do echo "/api/v1/persons?region=$TOWN"; done > "$WORK/p-town_list"
for _ in $(seq $N); do echo "/api/v1/stats/dashboard"; done > "$WORK/p-dashboard"
CHANNEL=$(sqlite3 "$DATA/vets.db" "SELECT code FROM codes WHERE tbl = 'request_channel' ORDER BY sort, code LIMIT 1;")
URGENCY=$(sqlite3 "$DATA/vets.db" "SELECT code FROM codes WHERE tbl = 'urgency' ORDER BY sort, code LIMIT 1;")
CATEGORY=$(sqlite3 "$DATA/vets.db" "SELECT code FROM codes WHERE tbl = 'request_category' ORDER BY sort, code LIMIT 1;")

start_server() {   # [LD_PRELOAD value]
  rm -f "$WORK/port"
  if [ -n "${1:-}" ]; then
    SQLCOUNT_OUT=$WORK/sql LD_PRELOAD=$1 "$VETS" serve --data "$DATA" --listen 127.0.0.1:0 --port-file "$WORK/port" >> "$OUT/serve.log" 2>&1 &
  else
    "$VETS" serve --data "$DATA" --listen 127.0.0.1:0 --port-file "$WORK/port" >> "$OUT/serve.log" 2>&1 &
  fi
  SERVER_PID=$!
  for _ in $(seq 300); do [ -s "$WORK/port" ] && break; sleep 0.1; done
  URL=http://127.0.0.1:$(cat "$WORK/port")
  local pw; pw=$(awk -F'\t' '$1 == "center" { print $2 }' "$DATA/demo-accounts.txt")
  pw=$(printf '%s' "$pw" | sed 's/[\\"]/\\&/g')   # as a JSON string
  local body; body=$(curl -sS -D "$WORK/login.h" -H 'Content-Type: application/json' \
    -d "{\"username\":\"center\",\"password\":\"$pw\"}" "$URL/api/v1/auth/login")
  CSRF=$(grep -o '"csrf_token":"[0-9a-zA-Z]*"' <<<"$body" | cut -d'"' -f4)
  COOKIE=$(grep -io 'vets_session=[0-9a-f]*' "$WORK/login.h" | head -1)
}
# Real ID numbers (stored sealed): from bench-ids.csv that bench/run.sh leaves
# in a kept folder, else from a full export now.
ids_file() {
  [ -s "$DATA/bench-ids.csv" ] && return 0
  start_server
  curl -sS --max-time 3600 -o "$WORK/export.xlsx" -H "Cookie: $COOKIE" "$URL/api/v1/persons/export.xlsx?full=1"
  stop_pid "$SERVER_PID"; SERVER_PID=""
  cc -O2 -o "$WORK/xlsx2csv" "$BENCH/tools/xlsx2csv.c" $(pkg-config --cflags --libs libzip expat)
  "$WORK/xlsx2csv" "$WORK/export.xlsx" 档案编号 身份证号码 > "$DATA/bench-ids.csv"
  rm -f "$WORK/export.xlsx"
}
post_body() {
  echo "{\"channel\":\"$CHANNEL\",\"category\":\"$CATEGORY\",\"urgency\":\"$URGENCY\",\"person_id\":$(( RANDOM * 32768 % MAXID + 1 )),\"content\":\"咨询优待证申领条件和办理地点\"}"
}
count_for() { case $1 in dashboard) echo 5 ;; town_list) echo 50 ;; *) echo $N ;; esac; }
send() {   # scenario count: requests one after the other, on one connection
  local s=$1 n=$2
  if [ "$s" = post_request ]; then
    for _ in $(seq "$n"); do
      curl -sS -o /dev/null -H "Cookie: $COOKIE" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' -d "$(post_body)" "$URL/api/v1/requests"
    done
  else
    head -n "$n" "$WORK/p-$s" | sed "s|^|url = \"$URL|; s|\$|\"\noutput = \"/dev/null\"|" > "$WORK/curl-$s.cfg"
    curl -sS -H "Cookie: $COOKIE" -K "$WORK/curl-$s.cfg"
  fi
}

ids_file
tail -n +2 "$DATA/bench-ids.csv" | shuf -n $N | cut -d, -f2 | sed 's|^|/api/v1/persons?q=|' > "$WORK/p-search_id"
{
  echo "# Statements per request (sequential requests: $N each, dashboard 5, town list 50; data $DATA, $MAXID persons)"
  echo
  echo "| scenario | statements / request | sqlite3_step calls / request | ms in sqlite3_step / request | wall ms / request |"
  echo "|---|---:|---:|---:|---:|"
} > "$OUT/summary.md"
for s in "${SCEN[@]}"; do
  echo "[$(date +%T)] $s: statements" >&2
  start_server "$WORK/sqlcount.so"
  n=$(count_for "$s")
  send "$s" 3 >/dev/null 2>&1 || true   # warm: the statements get prepared
  kill -USR2 "$SERVER_PID"
  t0=$(date +%s.%N); send "$s" "$n"; t1=$(date +%s.%N)
  stop_pid "$SERVER_PID"; SERVER_PID=""
  awk -F'\t' -v n="$n" 'BEGIN { OFS = "\t"; print "per_request_execs", "per_request_steps", "per_request_ms", "sql" }
       { printf "%.2f\t%.2f\t%.3f\t%s\n", $1 / n, $2 / n, $3 / n, $4 }' "$WORK/sql.tsv" > "$OUT/sql-$s.tsv"
  awk -F'\t' -v n="$n" -v s="$s" -v w="$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.2f", (b - a) * 1000 / n }')" \
    '{ e += $1; st += $2; ms += $3 } END { printf "| %s | %.1f | %.1f | %.2f | %s |\n", s, e / n, st / n, ms / n, w }' "$WORK/sql.tsv" >> "$OUT/summary.md"
done
echo >> "$OUT/summary.md"
echo "Per statement: sql-<scenario>.tsv (per request: executions, steps, ms; most time first)." >> "$OUT/summary.md"

if [ $PERF = 1 ]; then
  for s in "${SCEN[@]}"; do
    echo "[$(date +%T)] $s: perf during wrk ${SECS}s" >&2
    start_server
    H=(-H "Cookie: $COOKIE")
    case $s in
      person_get) script=person_get.lua ;;
      post_request) script=post_request.lua; H+=(-H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json') ;;
      *) script=paths.lua ;;
    esac
    BENCH_MAX_ID=$MAXID BENCH_PATHS=$WORK/p-$s BENCH_CHANNEL=$CHANNEL BENCH_CATEGORY=$CATEGORY BENCH_URGENCY=$URGENCY \
      wrk -t2 -c32 -d1s -s "$BENCH/wrk/$script" "${H[@]}" "$URL/" > /dev/null 2>&1 || true
    perf record -q -F 499 --call-graph dwarf,16384 -p "$SERVER_PID" -o "$WORK/perf.data" -- sleep "$SECS" 2>>"$OUT/perf.log" &
    ppid=$!
    BENCH_MAX_ID=$MAXID BENCH_PATHS=$WORK/p-$s BENCH_CHANNEL=$CHANNEL BENCH_CATEGORY=$CATEGORY BENCH_URGENCY=$URGENCY \
      wrk -t2 -c32 -d"${SECS}s" --latency -s "$BENCH/wrk/$script" "${H[@]}" "$URL/" > "$OUT/wrk-$s.txt" 2>&1 || true
    wait $ppid || true
    stop_pid "$SERVER_PID"; SERVER_PID=""
    {
      echo "## $s — self time"
      perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio -g none --percent-limit 0.7 2>/dev/null |
        grep -v '^$' | grep -v '^#' || true
      echo; echo "## $s — by library"
      perf report -i "$WORK/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^$' | grep -v '^#' || true
      echo; echo "## $s — inclusive time (children; frames without symbols left out)"
      perf report -i "$WORK/perf.data" --children --sort symbol --stdio -g none --percent-limit 2 2>/dev/null |
        grep -v '^$' | grep -v '^#' | grep -v '\] 0x0000' || true
    } > "$OUT/perf-$s.txt"
    rm -f "$WORK/perf.data"
  done
fi
cat "$OUT/summary.md"
echo "profile: $OUT" >&2
