#!/usr/bin/env bash
# bench/pg.sh [--quick] — the HTTP benchmarks of bench/run.sh on PostgreSQL (issue 7).
#
#   make bench-pg            full run: 1 000 000 persons, 20 s per wrk run
#   make bench-pg QUICK=1    quick run: 100 000 persons, 5 s per wrk run
#
# Everything happens in a temporary folder, on loopback, bounded in time:
# every wrk run has -d, every process this script starts (PostgreSQL, the vets
# nodes, nginx) is stopped by its PID when it ends (trap EXIT), and the folder
# is removed (BENCH_KEEP=1 keeps the nodes' data folders; the PostgreSQL
# cluster is always removed). Results: bench/results/<date>-pg-<mode>/
# (summary.md, results.tsv, the raw outputs) and bench/results/latest-pg; the
# summary is printed at the end, beside the figures of the latest
# bench/run.sh run of the same mode and size (BENCH_SQLITE_RESULTS=DIR picks
# another one).
#
# Steps:
#  1. the machine and its load;
#  2. a throw-away PostgreSQL 15 cluster (tests/pg/start.sh, in the temporary
#     folder), then production durability again (fsync, full_page_writes,
#     synchronous_commit on: start.sh turns them off for the tests) and
#     shared_buffers = BENCH_PG_SHARED_BUFFERS (256MB), work_mem 16MB,
#     maintenance_work_mem 256MB, max_wal_size 4GB (BENCH_PG_CONF="name=value
#     …" adds or overrides settings); a database owned by vets_owner;
#  3. data: `vets init --db postgresql://vets_owner@… --demo --persons N
#     --requests M`, timed; VACUUM (ANALYZE) afterwards, timed apart;
#  4. one node (`vets serve --db postgresql://vets_app@…`, the application
#     role), reached directly: login as `center` once, the dashboard cold and
#     warm, an export of all persons (it gives the ID numbers to search for),
#     then wrk on GET /persons/{id}, search by exact ID number, by a
#     two-character name fragment, the list of a town, POST /requests, the
#     dashboard (last: it leaves a queue behind, the node is stopped after it);
#  5. two nodes behind nginx on loopback (docs/deploy/nginx-vets.conf with the
#     nodes as upstream, a loopback port instead of TLS, nginx connecting from
#     127.0.0.2, which the nodes trust with --trusted-proxy), node B with its
#     own data folder and node A's key file: the same scenarios through nginx,
#     with one session (sessions live in the database);
#  memory: VmRSS/VmHWM/RssAnon/Pss of each node, and PostgreSQL's: the sum of
#  Pss of its processes (shared memory counted once) and of VmRSS (shared
#  memory counted in every process that touched it), with shared_buffers.
#
# Knobs (environment): VETS_BIN, BENCH_PERSONS, BENCH_REQUESTS, BENCH_DURATION,
# BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_WRK_THREADS, BENCH_SERVER_THREADS
# (per node), BENCH_TMP, BENCH_KEEP=1, BENCH_WAIT_IDLE=N (as bench/run.sh),
# BENCH_PG_SHARED_BUFFERS, BENCH_PG_CONF, BENCH_SQLITE_RESULTS.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
. "$BENCH/lib.sh"   # bench_options need_tools stop_pid say put get fmt … vm pss run_wrk probe
bench_options "$@"
PROXY_ADDR=127.0.0.2   # nginx connects to the nodes from here; the nodes trust it
# PostgreSQL: production durability (tests/pg/start.sh turns it off), modest memory.
PG_SETTINGS="fsync=on full_page_writes=on synchronous_commit=on shared_buffers=${BENCH_PG_SHARED_BUFFERS:-256MB}
  work_mem=16MB maintenance_work_mem=256MB max_wal_size=4GB ${BENCH_PG_CONF:-}"

need_tools "make bench-pg" wrk nginx curl cc pkg-config shuf flock

STAMP=$(date -u +%Y%m%d-%H%M%S)
RES=$BENCH/results/$STAMP-pg-$MODE
mkdir -p "$RES"
ln -sfn "$STAMP-pg-$MODE" "$BENCH/results/latest-pg"
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/vets-bench-pg.XXXXXX")
chmod 711 "$WORK"   # the cluster's folder inside it belongs to the postgres user
LOG=$RES/log.txt
: > "$LOG"
TSV=$RES/results.tsv
printf 'key\tvalue\n' > "$TSV"
T_START=$(date +%s)

# ---- processes we start, stopped by PID at exit ----
INIT_PID=""; NODE_PID=""; NODE_A_PID=""; NODE_B_PID=""; NGINX_PID=""; SAMPLER_PID=""; PG_PID=""; PGSTATE=""
stop_pg() {
  [ -n "$PGSTATE" ] && [ -f "$PGSTATE/env" ] && VETS_PG_FORCE=1 "$ROOT/tests/pg/stop.sh" "$PGSTATE" >> "$LOG" 2>&1 || true
  if [ -n "$PG_PID" ] && kill -0 "$PG_PID" 2>/dev/null; then   # pg_ctl failed: the postmaster by its PID
    kill -s QUIT "$PG_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
    kill -s KILL "$PG_PID" 2>/dev/null || true
  fi
  PG_PID=""
}
cleanup() {
  local rc=$?
  stop_pid "$INIT_PID"; stop_pid "$SAMPLER_PID"; stop_pid "$NODE_PID"; stop_pid "$NODE_A_PID"; stop_pid "$NODE_B_PID"
  stop_pid "$NGINX_PID" QUIT
  [ -n "${VETS_PG_CLUSTER:-}" ] && cp "$VETS_PG_CLUSTER/server.log" "$RES/postgres.log" 2>/dev/null || true
  stop_pg
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "temporary folder kept: $WORK" >&2
  else rm -rf "$WORK"; fi
  [ $rc -ne 0 ] && echo "bench-pg: failed (exit $rc); log: $LOG" >&2
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. the machine ----
say "bench-pg $MODE: $PERSONS persons, $REQUESTS requests, wrk ${DUR}s × $CONNS connections × $WRK_THREADS threads; results in $RES"
put mode "$MODE"; put persons "$PERSONS"; put requests "$REQUESTS"; put duration_s "$DUR"
put connections "$CONNS"; put wrk_threads "$WRK_THREADS"; put server_threads "$SERVER_THREADS"
put load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
dd if=/dev/zero of="$WORK/dsync" bs=4k count=1000 oflag=dsync 2> "$WORK/dsync.txt" || true
put disk_dsync_writes_per_s "$(awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") printf "%.0f", 1000 / $(i - 1) }' "$WORK/dsync.txt")"
rm -f "$WORK/dsync"
cc -O2 -o "$WORK/runstat" "$BENCH/tools/runstat.c"
# shellcheck disable=SC2046
cc -O2 -o "$WORK/xlsx2csv" "$BENCH/tools/xlsx2csv.c" $(pkg-config --cflags --libs libzip expat)

# ---- 2. PostgreSQL ----
say "starting a throw-away PostgreSQL cluster (tests/pg/start.sh)"
PGSTATE=$WORK/pgstate
TMPDIR=$WORK "$ROOT/tests/pg/start.sh" "$PGSTATE" >> "$LOG" 2>&1 || { echo "tests/pg/start.sh failed: see $LOG" >&2; exit 1; }
# shellcheck disable=SC1091
. "$PGSTATE/env"   # PGPORT VETS_PG_CLUSTER VETS_PG_BIN VETS_PG_RUNAS
PG_PID=$(head -1 "$VETS_PG_CLUSTER/data/postmaster.pid")
RUNAS=()
[ "$(id -u)" = 0 ] && [ -n "${VETS_PG_RUNAS:-}" ] && RUNAS=(runuser -u "$VETS_PG_RUNAS" --)
psql_() {   # DB SQL: one statement as the superuser, unaligned output
  "$VETS_PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$1" -c "$2"
}
for kv in $PG_SETTINGS; do psql_ postgres "ALTER SYSTEM SET ${kv%%=*} = '${kv#*=}'" >> "$LOG"; done
"${RUNAS[@]}" "$VETS_PG_BIN/pg_ctl" -D "$VETS_PG_CLUSTER/data" -l "$VETS_PG_CLUSTER/server.log" -o "-p $PGPORT" \
  -w -t 120 restart >> "$LOG" 2>&1 || { tail -20 "$VETS_PG_CLUSTER/server.log" >&2; exit 1; }
PG_PID=$(head -1 "$VETS_PG_CLUSTER/data/postmaster.pid")
PG_SET=""
for kv in $PG_SETTINGS; do PG_SET="$PG_SET ${kv%%=*}=$(psql_ postgres "SHOW ${kv%%=*}")"; done
PG_SET=${PG_SET# }
put pg_settings "$PG_SET"
put pg_version "$(psql_ postgres 'SHOW server_version')"
put pg_shared_buffers "$(psql_ postgres 'SHOW shared_buffers')"
say "PostgreSQL $(get pg_version) on 127.0.0.1:$PGPORT (postmaster $PG_PID): $PG_SET"
psql_ postgres "CREATE DATABASE vets_bench OWNER vets_owner TEMPLATE template0 ENCODING 'UTF8'" >> "$LOG"
DB_OWNER=postgresql://vets_owner@127.0.0.1:$PGPORT/vets_bench
DB_APP=postgresql://vets_app@127.0.0.1:$PGPORT/vets_bench
q() { psql_ vets_bench "$1"; }
count() { q "SELECT count(*) FROM $1"; }

{
  echo "date: $(date -u +%FT%TZ)"
  echo "mode: $MODE (PostgreSQL)"
  echo "vets: $VETS ($("$VETS" version 2>/dev/null)); git $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')"
  echo "kernel: $(uname -srmo)"
  echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo; lscpu
  echo; free -h
  echo; df -h "$WORK" | tail -1 | awk '{ print "disk of " "'"$WORK"'" ": " $1 ", " $2 " (" $4 " free)" }'
  lsblk -d -o NAME,ROTA,SIZE,MODEL 2>/dev/null || true
  echo; echo "versions:"
  echo "  wrk: $(wrk -v 2>&1 | head -1)"
  echo "  nginx: $(nginx -v 2>&1)"
  echo "  postgres: $("$VETS_PG_BIN/postgres" --version)"
  echo "  libpq: $(pkg-config --modversion libpq 2>/dev/null)  libmicrohttpd: $(pkg-config --modversion libmicrohttpd 2>/dev/null)  jansson: $(pkg-config --modversion jansson 2>/dev/null)"
  echo "  cc: $(cc --version | head -1)"
  echo; echo "PostgreSQL settings: $PG_SET"
  echo "synced 4 KiB writes (dd oflag=dsync): $(get disk_dsync_writes_per_s)/s"
  echo; echo "load at start: $(cat /proc/loadavg)"
} > "$RES/machine.txt" 2>&1

# PostgreSQL's memory: the sum of Pss (shared_buffers counted once, split
# among the processes that touched it) and of VmRSS (counted in each).
pg_mem() {   # KEY: puts KEY.pg_pss_mb, KEY.pg_rss_sum_mb, KEY.pg_anon_mb, KEY.pg_procs
  local p ps=0 rs=0 an=0 n=0 v
  for p in $(tree_pids "$PG_PID"); do
    [ -r /proc/"$p"/smaps_rollup ] || continue
    v=$(awk '$1 == "Pss:" { print $2 }' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0); ps=$((ps + ${v:-0}))
    v=$(awk '$1 == "VmRSS:" { print $2 }' /proc/"$p"/status 2>/dev/null || echo 0); rs=$((rs + ${v:-0}))
    v=$(awk '$1 == "RssAnon:" { print $2 }' /proc/"$p"/status 2>/dev/null || echo 0); an=$((an + ${v:-0}))
    n=$((n + 1))
  done
  put "$1.pg_pss_mb" "$((ps / 1024))"; put "$1.pg_rss_sum_mb" "$((rs / 1024))"
  put "$1.pg_anon_mb" "$((an / 1024))"; put "$1.pg_procs" "$n"
}
pg_mem pg_start

# ---- 3. data ----
DATA=$WORK/node-a
wait_idle
say "generating $PERSONS persons and $REQUESTS requests on PostgreSQL (vets init --db … --demo)"
t0=$(now)
# In the background and waited for: bash runs a trap (Ctrl-C, TERM) only
# after a foreground child ends, and this one takes minutes; `wait` returns at
# once on a signal, and the trap stops the init by its PID.
"$WORK/runstat" "$RES/init.time" "$VETS" init --data "$DATA" --db "$DB_OWNER" --demo --persons "$PERSONS" --requests "$REQUESTS" \
  > "$WORK/init.log" 2>&1 &
INIT_PID=$!
wait $INIT_PID || { INIT_PID=""; grep -Ev '^  ' "$WORK/init.log" | tail -20 >&2; exit 1; }
INIT_PID=""
t1=$(now)
grep -Ev '^  ' "$WORK/init.log" > "$RES/init.log" || true   # without the account table (passwords)
pline=$(grep -m1 '演示人员' "$WORK/init.log" | cut -d' ' -f1 || true)
pdone=$([ -n "$pline" ] && date -d "$pline" +%s.%N 2>/dev/null || echo "")
put init_total_s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
put init_persons_s "$([ -n "$pdone" ] && awk -v a="$t0" -v b="$pdone" 'BEGIN { printf "%.2f", b - a }')"
put init_peak_rss_mb "$(awk '{ printf "%.0f", $4 / 1024 }' "$RES/init.time")"
pg_mem after_init
say "generated in $(get init_total_s) s (persons committed after $(get init_persons_s) s)"
# Statistics and the visibility map as autovacuum would leave them some time
# after a load: timed apart from the generation.
t0=$(now); q "VACUUM (ANALYZE)"; t1=$(now)
put vacuum_analyze_s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
q "CHECKPOINT" > /dev/null
put db_size_mb "$(q "SELECT pg_database_size('vets_bench') / 1048576")"
say "VACUUM (ANALYZE) in $(get vacuum_analyze_s) s; database $(get db_size_mb) MB"

# The dashboard is a costly route (30 per user and minute by default): raise
# the limit in this throw-away database so wrk measures the work, not the 429s.
[ "$(q "UPDATE settings SET value = '100000000' WHERE key = 'ratelimit.costly_per_minute' RETURNING key" | wc -l)" = 1 ] ||
  say "warning: no setting ratelimit.costly_per_minute to raise"

# ---- inputs of the scenarios, from the database ----
MAXID=$(q 'SELECT max(id) FROM persons')
# Two-character fragments as users type them (as bench/run.sh): a random
# substring of the names of 1000 random persons, URL-encoded.
q "SELECT encode(convert_to(substr(name, 1 + floor(random() * (length(name) - 1))::int, 2), 'UTF8'), 'hex')
   FROM persons WHERE length(name) >= 2 ORDER BY random() LIMIT 1000" |
  sed 's/../%&/g; s|^|/api/v1/persons?q=|' > "$WORK/paths-search-name.txt"
echo "/api/v1/persons?region=$TOWN" > "$WORK/paths-town.txt"
echo "/api/v1/stats/dashboard" > "$WORK/paths-dashboard.txt"
put name_fragment_hits_median "$(q "WITH f AS (SELECT substr(name, 1 + floor(random() * (length(name) - 1))::int, 2) AS g
   FROM persons WHERE length(name) >= 2 ORDER BY random() LIMIT 200)
   SELECT (SELECT count(*) FROM person_grams WHERE gram = f.g) AS n FROM f ORDER BY n" |
  awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')"
put town_persons "$(q "SELECT count(*) FROM persons WHERE region_code BETWEEN '${TOWN:0:9}000' AND '${TOWN:0:9}999'")"
CHANNEL=$(q "SELECT code FROM codes WHERE tbl = 'request_channel' ORDER BY sort, code LIMIT 1")
URGENCY=$(q "SELECT code FROM codes WHERE tbl = 'urgency' ORDER BY sort, code LIMIT 1")

# ---- the nodes ----
start_node() {   # DIR LOG [vets serve options…]: a node on the database as vets_app; sets NODE_PID, NODE_PORT
  local dir=$1 log=$2; shift 2
  rm -f "$dir/port"
  "$VETS" serve --data "$dir" --db "$DB_APP" --listen 127.0.0.1:0 --port-file "$dir/port" --threads "$SERVER_THREADS" "$@" \
    >> "$RES/$log" 2>&1 &
  NODE_PID=$!
  for _ in $(seq 300); do [ -s "$dir/port" ] && break; kill -0 $NODE_PID || { echo "vets serve exited: $(tail -5 "$RES/$log")" >&2; exit 1; }; sleep 0.1; done
  NODE_PORT=$(cat "$dir/port")
}
login() {   # URL: sets COOKIE, CSRF
  local pw; pw=$(awk -F'\t' '$1 == "center" { print $2 }' "$DATA/demo-accounts.txt")
  pw=$(printf '%s' "$pw" | sed 's/[\\"]/\\&/g')   # as a JSON string
  local body; body=$(curl -sS --max-time 60 -D "$WORK/login.h" -H 'Content-Type: application/json' \
    -d "{\"username\":\"center\",\"password\":\"$pw\"}" "$1/api/v1/auth/login")
  CSRF=$(grep -o '"csrf_token":"[0-9a-zA-Z]*"' <<<"$body" | cut -d'"' -f4)
  COOKIE=$(grep -io 'vets_session=[0-9a-f]*' "$WORK/login.h" | head -1)
  [ -n "$COOKIE" ] && [ -n "$CSRF" ] || { echo "login failed: $body" >&2; exit 1; }
}
node_mem() {   # PID KEY: the node's memory now
  put "$2.rss_mb" "$(vm "$1" VmRSS)"; put "$2.hwm_mb" "$(vm "$1" VmHWM)"
  put "$2.rss_anon_mb" "$(vm "$1" RssAnon)"; put "$2.pss_mb" "$(pss "$1" Pss)"
}
dashboard_cold() {   # P URL: the first dashboard after the nodes started, then five more
  curl -sS --max-time 600 -o "$WORK/dashboard.json" -w '%{http_code} %{time_total}\n' -H "Cookie: $COOKIE" "$2/api/v1/stats/dashboard" > "$WORK/dash-cold"
  read -r dcode dcold < "$WORK/dash-cold"
  put "$1.dashboard_status" "$dcode"
  put "$1.dashboard_cold_ms" "$(awk -v t="$dcold" 'BEGIN { printf "%.1f", t * 1000 }')"
  for _ in 1 2 3 4 5; do
    curl -sS --max-time 600 -o /dev/null -w '%{time_total}\n' -H "Cookie: $COOKIE" "$2/api/v1/stats/dashboard"
  done | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f\n", a[3] * 1000 }' > "$WORK/dash-warm"
  put "$1.dashboard_warm_ms" "$(cat "$WORK/dash-warm")"
  say "$1 dashboard: HTTP $dcode, cold $(get "$1.dashboard_cold_ms") ms, warm median $(get "$1.dashboard_warm_ms") ms"
}

# The six scenarios against URL, results under P.*: TARGET_PID (the nodes),
# EXTRA_CPU and IDLE_PIDS are set by the caller. The dashboard comes last: it
# leaves a queue behind (no warm-up, no drain) and the nodes are stopped after it.
scenarios() {   # P URL
  local p=$1 url=$2
  URL=$url
  H=(-H "Cookie: $COOKIE")
  probe "$p.person_get" "/api/v1/persons/1"
  probe "$p.search_id" "$(head -1 "$WORK/paths-search-id.txt")"
  probe "$p.search_name" "$(head -1 "$WORK/paths-search-name.txt")"
  probe "$p.town_list" "/api/v1/persons?region=$TOWN"
  probe "$p.dashboard" "/api/v1/stats/dashboard"
  put "$p.town_list_total" "$(grep -o '"total":[0-9]*' "$WORK/probe-$p.town_list" | cut -d: -f2)"
  # The request form: the first category whose POST is accepted (SLA configured, not proxy).
  local cat post_code=""
  CATEGORY=""
  for cat in $(q "SELECT code FROM codes WHERE tbl = 'request_category' ORDER BY sort, code"); do
    post_code=$(curl -sS --max-time 60 -o "$WORK/post.json" -w '%{http_code}' "${H[@]}" -H "X-CSRF-Token: $CSRF" \
      -H 'Content-Type: application/json' \
      -d "{\"channel\":\"$CHANNEL\",\"category\":\"$cat\",\"urgency\":\"$URGENCY\",\"person_id\":1,\"content\":\"咨询优待证申领条件和办理地点\"}" \
      "$url/api/v1/requests")
    if [ "${post_code:0:1}" = 2 ]; then CATEGORY=$cat; break; fi
  done
  put "$p.post_request.probe" "$post_code $(wc -c < "$WORK/post.json")"
  [ -n "$CATEGORY" ] || { CATEGORY=1; say "POST /api/v1/requests answers $post_code: $(head -c 300 "$WORK/post.json")"; }

  local a0 a1 r0 r1
  a0=$(count audit)
  BENCH_MAX_ID=$MAXID run_wrk "$p.person_get" person_get.lua "$url/" "${H[@]}"; after_run "$p.person_get"
  a1=$(count audit)
  put "$p.person_get.audit_rows" "$((a1 - a0))"
  put "$p.person_get.views" "$(cat "$RES/wrk-$p.person_get.warmup.txt" "$RES/wrk-$p.person_get.txt" | awk '/^BENCH / { for (i = 2; i <= NF; i++) if ($i ~ /^requests=/) { sub("requests=", "", $i); n += $i } } END { print n + 0 }')"
  BENCH_PATHS=$WORK/paths-search-id.txt run_wrk "$p.search_id" paths.lua "$url/" "${H[@]}"; after_run "$p.search_id"
  BENCH_PATHS=$WORK/paths-search-name.txt run_wrk "$p.search_name" paths.lua "$url/" "${H[@]}"; after_run "$p.search_name"
  BENCH_PATHS=$WORK/paths-town.txt run_wrk "$p.town_list" paths.lua "$url/" "${H[@]}"; after_run "$p.town_list"
  r0=$(count requests)
  BENCH_MAX_ID=$MAXID BENCH_CHANNEL=$CHANNEL BENCH_CATEGORY=$CATEGORY BENCH_URGENCY=$URGENCY \
    run_wrk "$p.post_request" post_request.lua "$url/" "${H[@]}" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json'
  after_run "$p.post_request"
  r1=$(count requests)
  put "$p.post_request.rows_created" "$((r1 - r0))"
  BENCH_PATHS=$WORK/paths-dashboard.txt NO_WARMUP=1 NO_DRAIN=1 run_wrk "$p.dashboard" paths.lua "$url/" "${H[@]}"
  after_run "$p.dashboard"
}
after_run() {   # NAME: memory of the nodes and of PostgreSQL right after a run
  local i=0 pid
  for pid in $TARGET_PID; do i=$((i + 1)); node_mem "$pid" "$1.node$i"; done
  pg_mem "$1"
}
pg_wait_idle() { wait_server_idle "$PG_PID"; }   # after nodes were stopped with queries in flight

# ---- 4. one node, reached directly ----
wait_idle
say "one node: vets serve --db postgresql://vets_app@… --threads $SERVER_THREADS"
start_node "$DATA" serve-1node.log
NODE_A_PID=$NODE_PID
URL=http://127.0.0.1:$NODE_PORT
wait_server_idle "$NODE_A_PID" "$PG_PID"   # the deadline job's first pass
put n1.rss_start_mb "$(vm "$NODE_A_PID" VmRSS)"
login "$URL"
dashboard_cold n1 "$URL"
node_mem "$NODE_A_PID" n1.rest.node1
pg_mem n1.rest

say "exporting the persons (GET /api/v1/persons/export.xlsx?full=1): the ID numbers to search for"
t0=$(now)
code=$(curl -sS --max-time 3600 -D "$WORK/export.h" -o "$WORK/export.xlsx" -w '%{http_code}' -H "Cookie: $COOKIE" \
  "$URL/api/v1/persons/export.xlsx?full=1" || true)
t1=$(now)
put export_status "$code"
put export_s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
put export_mb "$(du -m "$WORK/export.xlsx" 2>/dev/null | cut -f1)"
put export_rows "$(grep -i '^X-Export-Rows:' "$WORK/export.h" | tr -dc 0-9)"
node_mem "$NODE_A_PID" export.node1
: > "$WORK/ids.csv"
[ "$code" = 200 ] && { "$WORK/xlsx2csv" "$WORK/export.xlsx" 档案编号 身份证号码 > "$WORK/ids.csv" 2>> "$LOG" || : > "$WORK/ids.csv"; }
rm -f "$WORK/export.xlsx"
say "export: HTTP $code, $(get export_rows) rows in $(get export_s) s ($(get export_mb) MB)"
tail -n +2 "$WORK/ids.csv" | shuf -n 1000 | cut -d, -f2 | sed 's|^|/api/v1/persons?q=|' > "$WORK/paths-search-id.txt"
[ -s "$WORK/paths-search-id.txt" ] || { echo "no ID numbers from the export (HTTP $code)" >&2; exit 1; }

TARGET_PID=$NODE_A_PID IDLE_PIDS="$NODE_A_PID $PG_PID" EXTRA_CPU="postgres=$PG_PID" scenarios n1 "$URL"
put n1.hwm_mb "$(vm "$NODE_A_PID" VmHWM)"
stop_pid "$NODE_A_PID"; NODE_A_PID=""; NODE_PID=""
pg_wait_idle

# ---- 5. two nodes behind nginx ----
DATA_B=$WORK/node-b
mkdir -p "$DATA_B"
cp "$DATA/vets.keys" "$DATA_B/vets.keys"; chmod 400 "$DATA_B/vets.keys"
wait_idle
say "two nodes behind nginx (docs/deploy/nginx-vets.conf), each --threads $SERVER_THREADS --trusted-proxy $PROXY_ADDR"
start_node "$DATA" serve-2nodes-a.log --trusted-proxy "$PROXY_ADDR"; NODE_A_PID=$NODE_PID; PORT_A=$NODE_PORT
start_node "$DATA_B" serve-2nodes-b.log --trusted-proxy "$PROXY_ADDR"; NODE_B_PID=$NODE_PID; PORT_B=$NODE_PORT
NODE_PID=""
NG=$WORK/nginx
mkdir -p "$NG/tmp"
for _ in $(seq 50); do   # a free port: nothing answers a connection to it
  NGPORT=$((20000 + RANDOM % 30000))
  (exec 3<>/dev/tcp/127.0.0.1/$NGPORT) 2>/dev/null || break
done
# The sample, as tests/api/pg_multinode.test.mjs renders it: the nodes as the
# upstream, a loopback port instead of TLS, nginx's connections from PROXY_ADDR.
awk -v a="$PORT_A" -v b="$PORT_B" -v port="$NGPORT" -v bind="$PROXY_ADDR" '
  /^[ \t]*server[ \t]+[0-9.]+:[0-9]+/ { if (!done) { printf "    server 127.0.0.1:%s max_fails=3 fail_timeout=10s;\n    server 127.0.0.1:%s max_fails=3 fail_timeout=10s;\n", a, b; done = 1 } next }
  /^[ \t]*listen[ \t]+443[ \t]+ssl;/ { printf "    listen 127.0.0.1:%s;\n", port; next }
  /^[ \t]*ssl_/ { next }
  /^[ \t]*proxy_pass[ \t]/ { print; printf "        proxy_bind %s;\n", bind; next }
  { print }
  END { if (!done) exit 1 }' "$ROOT/docs/deploy/nginx-vets.conf" > "$NG/vets.conf" ||
  { echo "docs/deploy/nginx-vets.conf: no upstream server lines to replace" >&2; exit 1; }
cat > "$NG/nginx.conf" <<EOF
# nginx for the benchmark only: loopback, its own prefix, no access log.
$([ "$(id -u)" = 0 ] && echo 'user root;')
worker_processes $NCPU;
daemon off;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $NG/tmp/body;
    proxy_temp_path $NG/tmp/proxy;
    fastcgi_temp_path $NG/tmp/fastcgi;
    uwsgi_temp_path $NG/tmp/uwsgi;
    scgi_temp_path $NG/tmp/scgi;
    include $NG/vets.conf;
}
EOF
cp "$NG/nginx.conf" "$RES/nginx.conf"; cp "$NG/vets.conf" "$RES/nginx-vets.conf"
nginx -p "$NG" -c "$NG/nginx.conf" -e "$NG/error.log" >> "$RES/nginx.log" 2>&1 &
NGINX_PID=$!
LB=http://127.0.0.1:$NGPORT
for _ in $(seq 50); do curl -fs -o /dev/null "$LB/api/v1/health" && break; kill -0 $NGINX_PID || { echo "nginx exited: $(cat "$NG/error.log")" >&2; exit 1; }; sleep 0.1; done
put nginx_workers "$NCPU"
wait_server_idle "$NODE_A_PID" "$NODE_B_PID" "$PG_PID"
put n2.rss_start_mb "$(vm "$NODE_A_PID" VmRSS) + $(vm "$NODE_B_PID" VmRSS)"
login "$LB"
# Both nodes answer, and the session opened through nginx works on each.
for port in "$PORT_A" "$PORT_B"; do
  c=$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "http://127.0.0.1:$port/api/v1/auth/me")
  [ "$c" = 200 ] || { echo "the session does not work on the node on port $port (HTTP $c)" >&2; exit 1; }
done
dashboard_cold n2 "$LB"
node_mem "$NODE_A_PID" n2.rest.node1; node_mem "$NODE_B_PID" n2.rest.node2
pg_mem n2.rest
ca0=$(tree_cpu "$NODE_A_PID"); cb0=$(tree_cpu "$NODE_B_PID")
TARGET_PID="$NODE_A_PID $NODE_B_PID" IDLE_PIDS="$NODE_A_PID $NODE_B_PID $PG_PID $NGINX_PID" \
  EXTRA_CPU="postgres=$PG_PID nginx=$NGINX_PID" scenarios n2 "$LB"
# nginx spreads the requests: each node's CPU over all the runs.
put n2.node1_cpu_s "$(awk -v d=$(($(tree_cpu "$NODE_A_PID") - ca0)) -v hz="$HZ" 'BEGIN { printf "%.1f", d / hz }')"
put n2.node2_cpu_s "$(awk -v d=$(($(tree_cpu "$NODE_B_PID") - cb0)) -v hz="$HZ" 'BEGIN { printf "%.1f", d / hz }')"
put n2.hwm_mb "$(vm "$NODE_A_PID" VmHWM) + $(vm "$NODE_B_PID" VmHWM)"
stop_pid "$NGINX_PID" QUIT; NGINX_PID=""
stop_pid "$NODE_A_PID"; NODE_A_PID=""
stop_pid "$NODE_B_PID"; NODE_B_PID=""
pg_wait_idle
pg_mem pg_end
put load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
put elapsed_s "$(( $(date +%s) - T_START ))"

# ---- the SQLite figures to compare with: the latest bench/run.sh run of this mode and size ----
SQ=""
if [ -n "${BENCH_SQLITE_RESULTS:-}" ]; then
  SQ=$BENCH_SQLITE_RESULTS; [ -d "$SQ" ] && SQ=$SQ/results.tsv
else
  for d in $(ls -d "$BENCH"/results/*-"$MODE" 2>/dev/null | sort -r); do
    f=$d/results.tsv
    [ -f "$f" ] && grep -q '^person_get\.rps' "$f" || continue
    [ "$(awk -F'\t' '$1 == "persons" { v = $2 } END { print v }' "$f")" = "$PERSONS" ] && { SQ=$f; break; }
  done
fi
sq() { [ -n "$SQ" ] && [ -f "$SQ" ] && awk -F'\t' -v k="$1" '$1 == k { v = $2 } END { print v }' "$SQ"; return 0; }

# ---- the table ----
SCEN=(person_get:"GET /persons/{id} (random id)" search_id:"GET /persons?q=<18-digit ID>"
      search_name:"GET /persons?q=<2-char name fragment>" town_list:"GET /persons?region=$TOWN"
      dashboard:"GET /stats/dashboard" post_request:"POST /requests")
fig() {   # KEY (rps or p99): "–" when the run gave no answer
  local v; v=$(get "$1"); [ -n "$v" ] || { echo "–"; return; }
  case $1 in *.rps) fmt "$v" 0 ;; *) fmt "$v" 2 ;; esac
}
sqfig() { local v; v=$(sq "$1"); [ -n "$v" ] || { echo "–"; return; }; case $1 in *.rps) fmt "$v" 0 ;; *) fmt "$v" 2 ;; esac; }
detail() {   # P EXTRA-CPU-LABELS…
  local p=$1; shift
  local cols="| scenario | req/s | p50 ms | p99 ms | max ms | non-2xx | timeouts | vets CPU % |" sep="|---|---:|---:|---:|---:|---:|---:|---:|" l
  for l in "$@"; do cols="$cols $l CPU % |"; sep="$sep---:|"; done
  echo "$cols other CPU % | answer |"; echo "$sep---:|---|"
  for s in "${SCEN[@]}"; do
    local k=$p.${s%%:*} label=${s#*:} ex=""
    for l in "$@"; do ex="$ex $(get "$k.${l}_cpu_pct") |"; done
    if [ "$(get "$k.requests")" = 0 ] || [ -z "$(get "$k.requests")" ]; then
      echo "| $label | 0 (no answer within the ${DUR} s) | – | – | – | – | – | $(get "$k.server_cpu_pct") |$ex $(get "$k.other_cpu_pct") | $(get "$k.probe") |"
    else
      echo "| $label | $(fmt "$(get "$k.rps")" 0) | $(fmt "$(get "$k.p50_ms")" 2) | $(fmt "$(get "$k.p99_ms")" 2) | $(fmt "$(get "$k.max_ms")" 1) | $(get "$k.err_status") | $(get "$k.err_timeout") | $(get "$k.server_cpu_pct") |$ex $(get "$k.other_cpu_pct") | $(get "$k.probe") |"
    fi
  done
}
maxof() { local k m=""; for k in "$@"; do m=$(printf '%s\n%s\n' "$m" "$(get "$k")" | awk 'NF' | sort -n | tail -1); done; echo "${m:-–}"; }
runs() { local p=$1 f=$2 s; for s in "${SCEN[@]}"; do echo "$p.${s%%:*}.$f"; done; }
mins=$(( $(get elapsed_s) / 60 )); secs=$(( $(get elapsed_s) % 60 ))
# shellcheck disable=SC2046 # maxof $(runs …): one argument per key
{
  echo "## vets benchmark on PostgreSQL — $MODE run, $(date -u +%F)"
  echo
  echo "$PERSONS persons, $REQUESTS requests; PostgreSQL $(get pg_version) on loopback ($(get pg_settings)); vets serve --threads $SERVER_THREADS per node; wrk $WRK_THREADS threads, $CONNS connections, ${DUR} s per run (after a ${WARM} s warm-up), --latency; PostgreSQL, nodes, nginx and wrk on the same $NCPU CPUs. Load average at start $(get load_start), at end $(get load_end). Whole run: ${mins} min ${secs} s."
  echo
  echo "### HTTP: SQLite and PostgreSQL side by side"
  echo
  echo "| scenario | SQLite req/s | SQLite p99 ms | PG 1 node req/s | PG 1 node p99 ms | PG 2 nodes + nginx req/s | PG 2 nodes p99 ms |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for s in "${SCEN[@]}"; do
    k=${s%%:*}; label=${s#*:}
    echo "| $label | $(sqfig "$k.rps") | $(sqfig "$k.p99_ms") | $(fig "n1.$k.rps") | $(fig "n1.$k.p99_ms") | $(fig "n2.$k.rps") | $(fig "n2.$k.p99_ms") |"
  done
  echo "| dashboard, one request, first after start (uncached), ms | $(sq dashboard_cold_ms) | | $(get n1.dashboard_cold_ms) | | $(get n2.dashboard_cold_ms) | |"
  echo
  if [ -n "$SQ" ] && [ -f "$SQ" ]; then
    sqgit=$(sed -n 's/^vets: .*; git \(.*\)$/\1/p' "$(dirname "$SQ")/machine.txt" 2>/dev/null | head -1)
    echo "SQLite: $(dirname "${SQ#"$ROOT"/}") ($(sq persons) persons, $(sq mode) run of bench/run.sh, git ${sqgit:-?}; load average at start $(sq load_start)). This run: git $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'). Compare runs of the same code on an equally quiet machine: run \`make bench$([ $MODE = quick ] && echo ' QUICK=1')\` just before."
  else
    echo "SQLite: no bench/run.sh result of a $MODE run with $PERSONS persons in bench/results (run \`make bench$([ $MODE = quick ] && echo ' QUICK=1')\`, or set BENCH_SQLITE_RESULTS)."
  fi
  echo
  echo "### PostgreSQL, one node reached directly"
  echo
  detail n1 postgres
  echo
  echo "### PostgreSQL, two nodes behind nginx (docs/deploy/nginx-vets.conf, $(get nginx_workers) workers)"
  echo
  detail n2 postgres nginx
  echo
  echo "\"vets CPU %\" is the CPU of the node(s), \"postgres CPU %\" of all PostgreSQL processes, \"other CPU %\" of the processes other than these, nginx and wrk during the run (100 % = one core): non-zero means the machine was shared and the figures are pessimistic."
  echo "Person GET: $(get n1.person_get.audit_rows) audit rows for $(get n1.person_get.views) detail views (1 node), $(get n2.person_get.audit_rows) for $(get n2.person_get.views) (2 nodes). POST /requests: $(get n1.post_request.rows_created) and $(get n2.post_request.rows_created) requests created. Name fragments match a median of $(get name_fragment_hits_median) persons; the town list has $(get n1.town_list_total) persons."
  echo
  echo "### Data, memory"
  echo
  echo "| measure | figure |"
  echo "|---|---|"
  echo "| the disk: synced 4 KiB writes (dd oflag=dsync); every commit waits for one (synchronous_commit on) | $(get disk_dsync_writes_per_s) per second |"
  echo "| vets init --demo on PostgreSQL: $PERSONS persons + $REQUESTS requests | $(get init_total_s) s (peak RSS of vets $(get init_peak_rss_mb) MB) |"
  echo "| of which the persons (start → persons committed) | $(get init_persons_s) s |"
  echo "| VACUUM (ANALYZE) after the load (not in the figure above) | $(get vacuum_analyze_s) s; database $(get db_size_mb) MB |"
  echo "| export of all persons, GET /persons/export.xlsx?full=1 (HTTP $(get export_status)), 1 node | $(get export_rows) rows in $(get export_s) s, $(get export_mb) MB; node VmRSS after it $(get export.node1.rss_mb) MB, VmHWM $(get export.node1.hwm_mb) MB |"
  echo "| dashboard, first after start / warm median of 5 | 1 node: $(get n1.dashboard_cold_ms) / $(get n1.dashboard_warm_ms) ms (HTTP $(get n1.dashboard_status)); 2 nodes: $(get n2.dashboard_cold_ms) / $(get n2.dashboard_warm_ms) ms |"
  echo "| 1 node: VmRSS at start; at rest (after login and 6 dashboards): VmRSS, heap (RssAnon), Pss | $(get n1.rss_start_mb) MB; $(get n1.rest.node1.rss_mb) MB, $(get n1.rest.node1.rss_anon_mb) MB, $(get n1.rest.node1.pss_mb) MB |"
  echo "| 1 node: after the runs: VmHWM (peak), highest VmRSS after a run, heap | $(get n1.hwm_mb) MB, $(maxof $(runs n1 node1.rss_mb)) MB, $(maxof $(runs n1 node1.rss_anon_mb)) MB |"
  echo "| 2 nodes: VmRSS at start (A + B); at rest: VmRSS A, B | $(get n2.rss_start_mb) MB; $(get n2.rest.node1.rss_mb) MB, $(get n2.rest.node2.rss_mb) MB |"
  echo "| 2 nodes: VmHWM (A + B); highest VmRSS after a run, A and B | $(get n2.hwm_mb) MB; $(maxof $(runs n2 node1.rss_mb)) MB, $(maxof $(runs n2 node2.rss_mb)) MB |"
  echo "| 2 nodes: CPU time of each over the six runs (how nginx spread the work), A; B | $(get n2.node1_cpu_s) s; $(get n2.node2_cpu_s) s |"
  echo "| PostgreSQL: shared_buffers | $(get pg_shared_buffers) |"
  echo "| PostgreSQL memory, sum of Pss of its processes (shared memory counted once): after the load; 1 node at rest, highest after a run; 2 nodes at rest, highest after a run | $(get after_init.pg_pss_mb) MB; $(get n1.rest.pg_pss_mb) MB, $(maxof $(runs n1 pg_pss_mb)) MB; $(get n2.rest.pg_pss_mb) MB, $(maxof $(runs n2 pg_pss_mb)) MB |"
  echo "| PostgreSQL, sum of VmRSS of its processes (shared memory counted in every process), highest after a run: 1 node; 2 nodes (processes) | $(maxof $(runs n1 pg_rss_sum_mb)) MB ($(get n1.dashboard.pg_procs)); $(maxof $(runs n2 pg_rss_sum_mb)) MB ($(get n2.dashboard.pg_procs)) |"
  echo "| PostgreSQL, private memory (sum of RssAnon), highest after a run: 1 node; 2 nodes | $(maxof $(runs n1 pg_anon_mb)) MB; $(maxof $(runs n2 pg_anon_mb)) MB |"
} > "$RES/summary.md"
cat "$RES/summary.md"
say "done in ${mins} min ${secs} s: $RES/summary.md"
