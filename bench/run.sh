#!/usr/bin/env bash
# bench/run.sh [--quick] — the benchmarks of issue 6 in one command.
#
#   make bench            full run: 1 000 000 persons, 20 s per wrk run, imports of 100 000 and 1 000 000 rows
#   make bench QUICK=1    quick run: 100 000 persons, 5 s per wrk run, import of 100 000 rows (a few minutes)
#
# The same HTTP scenarios on PostgreSQL, one node and two nodes behind nginx:
# bench/pg.sh (make bench-pg, make bench-pg QUICK=1). Shared functions: bench/lib.sh.
#
# Everything happens in a temporary folder, on loopback, bounded in time:
# every wrk run has -d, every server this script starts is stopped by its PID
# when it ends (trap EXIT), and the folder is removed (BENCH_KEEP=1 keeps it).
# Results: bench/results/<date>-<mode>/ (summary.md, results.tsv, the raw
# outputs) and bench/results/latest; the summary table is printed at the end.
#
# Steps:
#  1. the machine (lscpu, memory, disk, kernel, versions) and its load;
#  2. data: `vets init --demo --persons N --requests M`, timed;
#  3. `vets serve`, login as `center` once with curl, the dashboard timed cold
#     (first request after start: nothing cached) and warm;
#  4. wrk (BENCH_WRK_THREADS=2 threads, BENCH_CONNECTIONS=32 connections,
#     --latency) on: GET /persons/{id}, search by exact ID number, search by a
#     two-character name fragment, the list of a town, the dashboard, POST
#     /requests; server RSS at rest and under load (VmRSS, VmHWM);
#  5. nginx on loopback (own config, not the system service) serving a static
#     JSON file of the size of a person answer: the HTTP ceiling;
#  6. imports with `vets import persons` of CSV and .xlsx (shared strings, as
#     Excel saves), timed with their peak RSS (bench/tools/runstat: wait4's
#     ru_maxrss, like /usr/bin/time -v), and `sqlite3 .import` of the same CSV
#     into a bare table: the loading ceiling.
#
# Knobs (environment): VETS_BIN (default build/vets), BENCH_PERSONS,
# BENCH_REQUESTS, BENCH_DURATION (s per wrk run), BENCH_WARMUP (s),
# BENCH_CONNECTIONS, BENCH_WRK_THREADS, BENCH_SERVER_THREADS (vets serve
# --threads, default 4 like vets serve), BENCH_IMPORT_SIZES ("100000 1000000"),
# BENCH_TMP (parent of the temporary folder, default /tmp), BENCH_KEEP=1,
# BENCH_WAIT_IDLE=N (before each measurement, wait up to N s until the other
# processes use less than 30 % of a core: the machine may be shared).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
. "$BENCH/lib.sh"   # bench_options need_tools stop_pid say put get fmt … vm pss run_wrk probe
bench_options "$@"
if [ $MODE = quick ]; then IMPORT_SIZES=${BENCH_IMPORT_SIZES-100000}   # set and empty: no import
else IMPORT_SIZES=${BENCH_IMPORT_SIZES-100000 1000000}; fi
need_tools "make bench" wrk nginx sqlite3 curl cc pkg-config shuf

STAMP=$(date -u +%Y%m%d-%H%M%S)
RES=$BENCH/results/$STAMP-$MODE
mkdir -p "$RES"
ln -sfn "$STAMP-$MODE" "$BENCH/results/latest"
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/vets-bench.XXXXXX")
LOG=$RES/log.txt
: > "$LOG"
TSV=$RES/results.tsv
printf 'key\tvalue\n' > "$TSV"

# ---- processes we start, stopped by PID at exit ----
SERVER_PID=""; NGINX_PID=""; SAMPLER_PID=""
cleanup() {
  local rc=$?
  stop_pid "$SAMPLER_PID"; stop_pid "$SERVER_PID"; stop_pid "$NGINX_PID" QUIT
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "temporary folder kept: $WORK" >&2
  else rm -rf "$WORK"; fi
  [ $rc -ne 0 ] && echo "bench: failed (exit $rc); log: $LOG" >&2
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. the machine ----
say "bench $MODE: $PERSONS persons, $REQUESTS requests, wrk ${DUR}s × $CONNS connections × $WRK_THREADS threads; results in $RES"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "mode: $MODE"
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
  echo "  sqlite3: $(sqlite3 --version | cut -d' ' -f1-2)"
  echo "  libmicrohttpd: $(pkg-config --modversion libmicrohttpd 2>/dev/null)  jansson: $(pkg-config --modversion jansson 2>/dev/null)  libsqlite3: $(pkg-config --modversion sqlite3 2>/dev/null)"
  echo "  cc: $(cc --version | head -1)"
  echo; echo "load at start: $(cat /proc/loadavg)"
} > "$RES/machine.txt" 2>&1
put mode "$MODE"; put persons "$PERSONS"; put requests "$REQUESTS"; put duration_s "$DUR"
put connections "$CONNS"; put wrk_threads "$WRK_THREADS"; put server_threads "$SERVER_THREADS"
put load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
# The disk's synced-write rate bounds every commit with synchronous=FULL.
dd if=/dev/zero of="$WORK/dsync" bs=4k count=1000 oflag=dsync 2> "$WORK/dsync.txt" || true
put disk_dsync_writes_per_s "$(awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") printf "%.0f", 1000 / $(i - 1) }' "$WORK/dsync.txt")"
rm -f "$WORK/dsync"
echo "synced 4 KiB writes (dd oflag=dsync): $(get disk_dsync_writes_per_s)/s" >> "$RES/machine.txt"

cc -O2 -o "$WORK/runstat" "$BENCH/tools/runstat.c"
cc -O2 -o "$WORK/csv2xlsx" "$BENCH/tools/csv2xlsx.c" $(pkg-config --cflags --libs libzip)
cc -O2 -o "$WORK/xlsx2csv" "$BENCH/tools/xlsx2csv.c" $(pkg-config --cflags --libs libzip expat)

# ---- 2. data ----
if [ -n "${BENCH_DATA:-}" ]; then
  # A folder made earlier by `vets init --demo` (e.g. kept with BENCH_KEEP=1):
  # used in place, no generation (POST /requests and detail views add rows).
  DATA=$(cd "$BENCH_DATA" && pwd)
  [ -f "$DATA/vets.db" ] && [ -f "$DATA/demo-accounts.txt" ] || { echo "BENCH_DATA=$BENCH_DATA: no demo data folder" >&2; exit 1; }
  PERSONS=$(sqlite3 "$DATA/vets.db" 'SELECT count(*) FROM persons;'); put persons "$PERSONS"
  REQUESTS=$(sqlite3 "$DATA/vets.db" 'SELECT count(*) FROM requests;'); put requests "$REQUESTS"
  put data_reused "$DATA"
  say "using the data folder $DATA ($PERSONS persons, $REQUESTS requests): no generation"
else
  DATA=$WORK/data
  wait_idle
  say "generating $PERSONS persons and $REQUESTS requests (vets init --demo)"
  t0=$(now)
  "$WORK/runstat" "$RES/init.time" "$VETS" init --data "$DATA" --demo --persons "$PERSONS" --requests "$REQUESTS" \
    > "$WORK/init.log" 2>&1
  t1=$(now)
  grep -Ev '^  ' "$WORK/init.log" > "$RES/init.log" || true   # without the account table (passwords)
  # The generator logs "演示人员 N 名" when the persons are committed: the time
  # from the start of the command to that line (migrations, reference data and
  # accounts included: an upper bound) is the persons' figure; the rest is the
  # requests and the demo accounts.
  pline=$(grep -m1 '演示人员' "$WORK/init.log" | cut -d' ' -f1 || true)
  pdone=$([ -n "$pline" ] && date -d "$pline" +%s.%N || echo "")
  put init_total_s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
  put init_persons_s "$([ -n "$pdone" ] && awk -v a="$t0" -v b="$pdone" 'BEGIN { printf "%.2f", b - a }')"
  put init_peak_rss_mb "$(awk '{ printf "%.0f", $4 / 1024 }' "$RES/init.time")"
  sqlite3 "$DATA/vets.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
  say "generated in $(get init_total_s) s (persons committed after $(get init_persons_s) s)"
fi
put db_size_mb "$(du -m "$DATA/vets.db" | cut -f1)"

# The dashboard is a costly route (30 per user and minute by default): raise
# the limit in this throw-away folder so wrk measures the work, not the 429s.
sqlite3 "$DATA/vets.db" "UPDATE settings SET value = '100000000' WHERE key = 'ratelimit.costly_per_minute';"

# ---- inputs of the scenarios, from the database ----
MAXID=$(sqlite3 "$DATA/vets.db" 'SELECT max(id) FROM persons;')
# Two-character fragments as users type them: a random substring of the names
# of 1000 random persons (so frequent fragments come up as often as they occur).
sqlite3 "$DATA/vets.db" "SELECT hex(substr(name, 1 + abs(random()) % (length(name) - 1), 2)) FROM persons
                         WHERE length(name) >= 2 ORDER BY random() LIMIT 1000;" |
  sed 's/../%&/g; s|^|/api/v1/persons?q=|' > "$WORK/paths-search-name.txt"
echo "/api/v1/persons?region=$TOWN" > "$WORK/paths-town.txt"
echo "/api/v1/stats/dashboard" > "$WORK/paths-dashboard.txt"
# How many persons the name fragments match (the search's answer has "total").
sqlite3 "$DATA/vets.db" "SELECT substr(name, 1 + abs(random()) % (length(name) - 1), 2) FROM persons
                         WHERE length(name) >= 2 ORDER BY random() LIMIT 200;" > "$WORK/frags.txt"
sqlite3 "$DATA/vets.db" > "$WORK/frag-hits.txt" 2>>"$LOG" <<EOF || true
CREATE TEMP TABLE f(g TEXT);
.import $WORK/frags.txt f
SELECT (SELECT count(*) FROM person_grams WHERE gram = g) AS n FROM f ORDER BY n;
EOF
[ -s "$WORK/frag-hits.txt" ] && put name_fragment_hits_median "$(awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }' "$WORK/frag-hits.txt")"
put town_persons "$(sqlite3 "$DATA/vets.db" "SELECT count(*) FROM persons WHERE region_code BETWEEN '${TOWN:0:9}000' AND '${TOWN:0:9}999';")"

# ---- 3. the server ----
start_server() {
  rm -f "$WORK/port"
  "$VETS" serve --data "$DATA" --listen 127.0.0.1:0 --port-file "$WORK/port" --threads "$SERVER_THREADS" \
    >> "$RES/serve.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 300); do [ -s "$WORK/port" ] && break; kill -0 $SERVER_PID || { echo "vets serve exited" >&2; exit 1; }; sleep 0.1; done
  PORT=$(cat "$WORK/port"); URL=http://127.0.0.1:$PORT
  # Work the server does by itself at start (the requests' deadline job makes
  # its first pass: escalations, notices, audit rows) is let finish first.
  wait_server_idle "$SERVER_PID"
}
login() {
  local pw; pw=$(awk -F'\t' '$1 == "center" { print $2 }' "$DATA/demo-accounts.txt")
  pw=$(printf '%s' "$pw" | sed 's/[\\"]/\\&/g')   # as a JSON string
  local body; body=$(curl -sS -D "$WORK/login.h" -H 'Content-Type: application/json' \
    -d "{\"username\":\"center\",\"password\":\"$pw\"}" "$URL/api/v1/auth/login")
  CSRF=$(grep -o '"csrf_token":"[0-9a-zA-Z]*"' <<<"$body" | cut -d'"' -f4)
  COOKIE=$(grep -io 'vets_session=[0-9a-f]*' "$WORK/login.h" | head -1)
  [ -n "$COOKIE" ] && [ -n "$CSRF" ] || { echo "login failed: $body" >&2; exit 1; }
}

wait_idle
say "starting vets serve (--threads $SERVER_THREADS)"
start_server
sleep 1
put rss_start_mb "$(vm $SERVER_PID VmRSS)"
login
# The dashboard: first request after the start (nothing cached, SQLite's page
# cache cold, the OS's warm), then five more.
curl -sS -o "$WORK/dashboard.json" -w '%{http_code} %{time_total}\n' -H "Cookie: $COOKIE" "$URL/api/v1/stats/dashboard" > "$WORK/dash-cold"
read -r dcode dcold < "$WORK/dash-cold"
put dashboard_status "$dcode"
put dashboard_cold_ms "$(awk -v t="$dcold" 'BEGIN { printf "%.1f", t * 1000 }')"
for _ in 1 2 3 4 5; do
  curl -sS -o /dev/null -w '%{time_total}\n' -H "Cookie: $COOKIE" "$URL/api/v1/stats/dashboard"
done | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f\n", a[3] * 1000 }' > "$WORK/dash-warm"
put dashboard_warm_ms "$(cat "$WORK/dash-warm")"
say "dashboard: HTTP $dcode, cold $(get dashboard_cold_ms) ms, warm median $(get dashboard_warm_ms) ms"
put rss_rest_mb "$(vm $SERVER_PID VmRSS)"
put hwm_rest_mb "$(vm $SERVER_PID VmHWM)"
put rss_anon_rest_mb "$(vm $SERVER_PID RssAnon)"
put rss_file_rest_mb "$(vm $SERVER_PID RssFile)"
put pss_rest_mb "$(pss $SERVER_PID Pss)"
put pss_file_rest_mb "$(pss $SERVER_PID Pss_File)"

# The ID numbers are stored sealed: the real ones (for the search by ID and
# the import files) come from vets' own full export, which is timed too.
wait_idle
say "exporting the persons (GET /api/v1/persons/export.xlsx?full=1)"
t0=$(now)
code=$(curl -sS --max-time 3600 -D "$WORK/export.h" -o "$WORK/export.xlsx" -w '%{http_code}' -H "Cookie: $COOKIE" \
  "$URL/api/v1/persons/export.xlsx?full=1" || true)
t1=$(now)
put export_status "$code"
put export_s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
put export_mb "$(du -m "$WORK/export.xlsx" 2>/dev/null | cut -f1)"
put export_rows "$(grep -i '^X-Export-Rows:' "$WORK/export.h" | tr -dc 0-9)"
put rss_after_export_mb "$(vm $SERVER_PID VmRSS)"
put hwm_after_export_mb "$(vm $SERVER_PID VmHWM)"
put rss_anon_after_export_mb "$(vm $SERVER_PID RssAnon)"
: > "$WORK/ids.csv"
if [ "$code" = 200 ]; then
  "$WORK/xlsx2csv" "$WORK/export.xlsx" 档案编号 身份证号码 > "$WORK/ids.csv" 2>> "$LOG" || : > "$WORK/ids.csv"
fi
rm -f "$WORK/export.xlsx"
cp "$WORK/ids.csv" "$DATA/bench-ids.csv"   # for bench/profile.sh on a kept folder (BENCH_KEEP=1)
say "export: HTTP $code, $(get export_rows) rows in $(get export_s) s ($(get export_mb) MB)"
tail -n +2 "$WORK/ids.csv" | shuf -n 1000 | cut -d, -f2 | sed 's|^|/api/v1/persons?q=|' > "$WORK/paths-search-id.txt"

# A person answer: its size sets the size of nginx's file.
curl -sS -o "$WORK/person.json" -w '%{http_code}' -H "Cookie: $COOKIE" "$URL/api/v1/persons/$(( (MAXID + 1) / 2 ))" > "$WORK/person.code"
put person_answer_bytes "$(wc -c < "$WORK/person.json")"

# The request form: the first category whose POST is accepted (SLA configured, not proxy).
CHANNEL=$(sqlite3 "$DATA/vets.db" "SELECT code FROM codes WHERE tbl = 'request_channel' ORDER BY sort, code LIMIT 1;")
URGENCY=$(sqlite3 "$DATA/vets.db" "SELECT code FROM codes WHERE tbl = 'urgency' ORDER BY sort, code LIMIT 1;")
CATEGORY=""; post_code=""
for cat in $(sqlite3 "$DATA/vets.db" "SELECT code FROM codes WHERE tbl = 'request_category' ORDER BY sort, code;"); do
  post_code=$(curl -sS -o "$WORK/post.json" -w '%{http_code}' -H "Cookie: $COOKIE" -H "X-CSRF-Token: $CSRF" \
    -H 'Content-Type: application/json' \
    -d "{\"channel\":\"$CHANNEL\",\"category\":\"$cat\",\"urgency\":\"$URGENCY\",\"person_id\":1,\"content\":\"咨询优待证申领条件和办理地点\"}" \
    "$URL/api/v1/requests")
  if [ "${post_code:0:1}" = 2 ]; then CATEGORY=$cat; break; fi
done
put post_probe_status "$post_code"
put post_request.probe "$post_code $(wc -c < "$WORK/post.json")"
[ -n "$CATEGORY" ] || { CATEGORY=1; say "POST /api/v1/requests answers $post_code: $(head -c 300 "$WORK/post.json")"; put post_error "$(head -c 300 "$WORK/post.json")"; }

# ---- 4. wrk ----
count() { sqlite3 "$DATA/vets.db" "SELECT count(*) FROM $1;"; }

H=(-H "Cookie: $COOKIE")
probe person_get "/api/v1/persons/1"
probe search_id "$(head -1 "$WORK/paths-search-id.txt")"
probe search_name "$(head -1 "$WORK/paths-search-name.txt")"
probe town_list "/api/v1/persons?region=$TOWN"
probe dashboard "/api/v1/stats/dashboard"
put town_list_total "$(grep -o '"total":[0-9]*' "$WORK/probe-town_list" | cut -d: -f2)"

audit0=$(count audit)
BENCH_MAX_ID=$MAXID run_wrk person_get person_get.lua "$URL/" "${H[@]}"
audit1=$(count audit)
# Every detail view must leave an audit row: compare with the views answered
# (warm-up and measured run; wrk counts requests, non-2xx included).
put person_get.audit_rows "$((audit1 - audit0))"
put person_get.views "$(cat "$RES/wrk-person_get.warmup.txt" "$RES/wrk-person_get.txt" | awk '/^BENCH / { for (i = 2; i <= NF; i++) if ($i ~ /^requests=/) { sub("requests=", "", $i); n += $i } } END { print n + 0 }')"
BENCH_PATHS=$WORK/paths-search-id.txt run_wrk search_id paths.lua "$URL/" "${H[@]}"
BENCH_PATHS=$WORK/paths-search-name.txt run_wrk search_name paths.lua "$URL/" "${H[@]}"
BENCH_PATHS=$WORK/paths-town.txt run_wrk town_list paths.lua "$URL/" "${H[@]}"
# The dashboard takes long enough for wrk to leave a queue behind: no
# warm-up, and the server is restarted afterwards rather than waited for.
BENCH_PATHS=$WORK/paths-dashboard.txt NO_WARMUP=1 NO_DRAIN=1 run_wrk dashboard paths.lua "$URL/" "${H[@]}"
put hwm_before_restart_mb "$(vm $SERVER_PID VmHWM)"
put pss_before_restart_mb "$(pss $SERVER_PID Pss)"
put rss_anon_before_restart_mb "$(vm $SERVER_PID RssAnon)"
stop_pid "$SERVER_PID"; SERVER_PID=""
start_server
login
H=(-H "Cookie: $COOKIE")
req0=$(count requests)
BENCH_MAX_ID=$MAXID BENCH_CHANNEL=$CHANNEL BENCH_CATEGORY=$CATEGORY BENCH_URGENCY=$URGENCY \
  run_wrk post_request post_request.lua "$URL/" "${H[@]}" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json'
req1=$(count requests)
put post_request.rows_created "$((req1 - req0))"
put rss_after_load_mb "$(vm $SERVER_PID VmRSS)"
# The peak over both server processes (restarted after the dashboard run).
put hwm_after_load_mb "$(printf '%s\n%s\n' "$(vm $SERVER_PID VmHWM)" "$(get hwm_before_restart_mb)" | sort -n | tail -1)"
# VmRSS counts the pages of vets.db mapped by SQLite (mmap_size) as RssFile:
# shared with the page cache, given back under pressure; RssAnon is the heap.
put rss_anon_after_load_mb "$(vm $SERVER_PID RssAnon)"
put rss_file_after_load_mb "$(vm $SERVER_PID RssFile)"
put pss_after_load_mb "$(pss $SERVER_PID Pss)"
put pss_file_after_load_mb "$(pss $SERVER_PID Pss_File)"
stop_pid "$SERVER_PID"; SERVER_PID=""

# ---- 5. nginx: the HTTP ceiling ----
NG=$WORK/nginx
mkdir -p "$NG/www" "$NG/tmp"
cp "$WORK/person.json" "$NG/www/person.json"
chmod 711 "$WORK" "$NG"; chmod 755 "$NG/www"; chmod 644 "$NG/www/person.json"   # workers run as nobody
for _ in $(seq 50); do   # a free port: nothing answers a connection to it
  NGPORT=$((20000 + RANDOM % 30000))
  (exec 3<>/dev/tcp/127.0.0.1/$NGPORT) 2>/dev/null || break
done
cat > "$NG/nginx.conf" <<EOF
# nginx for the benchmark only: loopback, its own prefix, no access log.
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
    default_type application/json;
    sendfile on;
    keepalive_requests 100000000;
    keepalive_timeout 65;
    server {
        listen 127.0.0.1:$NGPORT;
        root $NG/www;
    }
}
EOF
nginx -p "$NG" -c "$NG/nginx.conf" -e "$NG/error.log" >> "$RES/nginx.log" 2>&1 &
NGINX_PID=$!
for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$NGPORT/person.json" && break; sleep 0.1; done
echo "/person.json" > "$WORK/paths-nginx.txt"
put nginx_workers "$NCPU"
put nginx.probe "$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$NGPORT/person.json")"
BENCH_PATHS=$WORK/paths-nginx.txt TARGET_PID=$NGINX_PID run_wrk nginx paths.lua "http://127.0.0.1:$NGPORT/"
stop_pid "$NGINX_PID" QUIT; NGINX_PID=""
put person_get_vs_nginx_pct "$(awk -v a="$(get person_get.rps)" -v b="$(get nginx.rps)" 'BEGIN { if (b > 0) printf "%.1f", a / b * 100 }')"

# ---- 6. imports ----
[ "${BENCH_SKIP_IMPORT:-0}" = 1 ] && IMPORT_SIZES=""
if [ -n "$IMPORT_SIZES" ]; then
  say "exporting the persons as CSV with the template's headers"
  sqlite3 -csv -header "$DATA/vets.db" > "$WORK/persons-all.csv" <<EOF
CREATE TEMP TABLE ids(id INTEGER PRIMARY KEY, id_number TEXT NOT NULL);
.import --csv --skip 1 $WORK/ids.csv ids
.read $BENCH/sql/persons_csv.sql
EOF
  IMP_TPL=$WORK/import-template
  "$VETS" init --data "$IMP_TPL" --demo --persons 0 --requests 0 > "$RES/import-template.log" 2>&1
  sqlite3 "$IMP_TPL/vets.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
else
  : > "$WORK/persons-all.csv"
fi
avail=$(($(wc -l < "$WORK/persons-all.csv") - 1))   # -1 without a file: no import
for n in $IMPORT_SIZES; do
  if [ "$n" -gt "$avail" ]; then say "import of $n rows skipped: only $avail persons"; continue; fi
  csv=$WORK/persons-$n.csv
  head -n $((n + 1)) "$WORK/persons-all.csv" > "$csv"
  "$WORK/csv2xlsx" "$csv" "$WORK/persons-$n.xlsx" 2>> "$LOG"
  put "import_$n.csv_mb" "$(du -m "$csv" | cut -f1)"
  put "import_$n.xlsx_mb" "$(du -m "$WORK/persons-$n.xlsx" | cut -f1)"
  # The ceiling: sqlite3's own CSV import into a bare table (no checks, no indexes).
  wait_idle
  rm -f "$WORK/bare.db"
  "$WORK/runstat" "$WORK/bare.time" sqlite3 "$WORK/bare.db" ".mode csv" ".import $csv persons" >> "$LOG" 2>&1
  read -r bs _ _ bm _ < "$WORK/bare.time"
  put "import_$n.sqlite3_s" "$bs"; put "import_$n.sqlite3_rss_mb" "$(awk -v k="$bm" 'BEGIN { printf "%.0f", k / 1024 }')"
  put "import_$n.sqlite3_rows" "$(sqlite3 "$WORK/bare.db" 'SELECT count(*) FROM persons;')"
  rm -f "$WORK/bare.db"
  for fmt_ in csv xlsx; do
    f=$WORK/persons-$n.$fmt_
    d=$WORK/import-$n-$fmt_
    rm -rf "$d"; cp -a "$IMP_TPL" "$d"
    wait_idle
    say "import of $n rows from .$fmt_"
    "$WORK/runstat" "$RES/import-$n-$fmt_.time" "$VETS" import persons --data "$d" --user center "$f" \
      > "$RES/import-$n-$fmt_.log" 2>&1 || say "import of $n rows from .$fmt_ failed: $(tail -c 300 "$RES/import-$n-$fmt_.log")"
    put "import_$n.${fmt_}_s" "$(awk '{ printf "%.2f", $1 }' "$RES/import-$n-$fmt_.time")"
    put "import_$n.${fmt_}_rss_mb" "$(awk '{ printf "%.0f", $4 / 1024 }' "$RES/import-$n-$fmt_.time")"
    put "import_$n.${fmt_}_created" "$(sqlite3 "$d/vets.db" 'SELECT count(*) FROM persons;')"
    put "import_$n.${fmt_}_result" "$(tail -1 "$RES/import-$n-$fmt_.log")"
    rm -rf "$d"
  done
  put "import_$n.csv_vs_sqlite3" "$(awk -v a="$(get "import_$n.csv_s")" -v b="$(get "import_$n.sqlite3_s")" 'BEGIN { if (b > 0) printf "%.1f", a / b }')"
  rm -f "$csv" "$WORK/persons-$n.xlsx"
done
put load_end "$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- the table ----
status() {   # VALUE OP LIMIT → met / missed / –
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
    if (v == "") { print "–"; exit }
    ok = (op == "<" && v + 0 < l + 0) || (op == "<=" && v + 0 <= l + 0) || (op == ">=" && v + 0 >= l + 0)
    print ok ? "met" : "**missed**" }'
}
{
  echo "## vets benchmark — $MODE run, $(date -u +%F)"
  echo
  echo "$PERSONS persons, $REQUESTS requests; vets serve --threads $SERVER_THREADS; wrk $WRK_THREADS threads, $CONNS connections, ${DUR} s per run (after a ${WARM} s warm-up), --latency; server and wrk on the same $NCPU CPUs. Load average at start $(get load_start), at end $(get load_end)."
  echo
  echo "### HTTP"
  echo
  echo "| scenario | req/s | p50 ms | p99 ms | max ms | non-2xx | timeouts | server CPU % | other CPU % | answer |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for s in person_get:"GET /persons/{id} (random id)" search_id:"GET /persons?q=<18-digit ID>" \
           search_name:"GET /persons?q=<2-char name fragment>" town_list:"GET /persons?region=$TOWN" \
           dashboard:"GET /stats/dashboard" post_request:"POST /requests" nginx:"nginx static file ($(get person_answer_bytes) B)"; do
    k=${s%%:*}; label=${s#*:}
    if [ "$(get $k.requests)" = 0 ]; then
      echo "| $label | 0 (no answer within the ${DUR} s) | – | – | – | – | – | $(get $k.server_cpu_pct) | $(get $k.other_cpu_pct) | $(get $k.probe) |"
    else
      echo "| $label | $(fmt "$(get $k.rps)" 0) | $(fmt "$(get $k.p50_ms)" 2) | $(fmt "$(get $k.p99_ms)" 2) | $(fmt "$(get $k.max_ms)" 1) | $(get $k.err_status) | $(get $k.err_timeout) | $(get $k.server_cpu_pct) | $(get $k.other_cpu_pct) | $(get $k.probe) |"
    fi
  done
  echo
  echo "Person GET: $(get person_get_vs_nginx_pct) % of nginx's requests/s; $(get person_get.audit_rows) audit rows written for $(get person_get.views) detail views (warm-up included). POST /requests: probe answered $(get post_probe_status), $(get post_request.rows_created) requests created during the run. Name fragments match a median of $(get name_fragment_hits_median) persons; the town list has $(get town_list_total) persons."
  echo "\"other CPU %\" is the CPU used by processes other than the server and wrk during the run (100 % = one core): non-zero means the machine was shared and the figures are pessimistic."
  echo
  echo "### Data, memory, loading"
  echo
  echo "| measure | figure |"
  echo "|---|---|"
  echo "| the disk: synced 4 KiB writes (dd oflag=dsync) | $(get disk_dsync_writes_per_s) per second |"
  if [ -n "$(get data_reused)" ]; then
    echo "| data folder reused (BENCH_DATA), no generation | $PERSONS persons, $REQUESTS requests, database $(get db_size_mb) MB |"
  else
    echo "| vets init --demo: $PERSONS persons + $REQUESTS requests | $(get init_total_s) s (peak RSS $(get init_peak_rss_mb) MB), database $(get db_size_mb) MB |"
    echo "| of which the persons (start → persons committed) | $(get init_persons_s) s |"
  fi
  echo "| export of all persons, GET /persons/export.xlsx?full=1 (HTTP $(get export_status)) | $(get export_rows) rows in $(get export_s) s, $(get export_mb) MB; server VmRSS after it $(get rss_after_export_mb) MB (heap $(get rss_anon_after_export_mb) MB), VmHWM $(get hwm_after_export_mb) MB |"
  echo "| dashboard, one request, first after start (uncached) | $(get dashboard_cold_ms) ms (HTTP $(get dashboard_status)); warm median of 5: $(get dashboard_warm_ms) ms |"
  echo "| server memory at start: VmRSS | $(get rss_start_mb) MB |"
  echo "| at rest after login and 6 dashboards: VmRSS = heap (RssAnon) + mapped vets.db (RssFile); Pss | $(get rss_rest_mb) MB = $(get rss_anon_rest_mb) + $(get rss_file_rest_mb) MB; Pss $(get pss_rest_mb) MB |"
  echo "| after the export and the GET runs (peak of the first server process): VmHWM; heap; Pss | $(get hwm_before_restart_mb) MB; $(get rss_anon_before_restart_mb) MB; $(get pss_before_restart_mb) MB |"
  echo "| after POST /requests (server restarted after the dashboard run): VmRSS; heap; Pss | $(get rss_after_load_mb) MB; $(get rss_anon_after_load_mb) MB; $(get pss_after_load_mb) MB |"
  for n in $IMPORT_SIZES; do
    [ -n "$(get "import_$n.csv_s")" ] || continue
    echo "| import $n rows, CSV ($(get "import_$n.csv_mb") MB) | $(get "import_$n.csv_s") s, peak RSS $(get "import_$n.csv_rss_mb") MB, $(get "import_$n.csv_created") created |"
    echo "| import $n rows, .xlsx shared strings ($(get "import_$n.xlsx_mb") MB) | $(get "import_$n.xlsx_s") s, peak RSS $(get "import_$n.xlsx_rss_mb") MB, $(get "import_$n.xlsx_created") created |"
    echo "| sqlite3 .import of the same CSV into a bare table | $(get "import_$n.sqlite3_s") s → our CSV import is $(get "import_$n.csv_vs_sqlite3")× |"
  done
  echo
  echo "### Targets of issue 6 (they are set for 1 000 000 persons$([ $MODE = quick ] && echo "; this quick run has $PERSONS"))"
  echo
  echo "| target | figure | |"
  echo "|---|---|---|"
  [ -n "$(get data_reused)" ] ||
    echo "| generator: 1 000 000 persons < 60 s | $(get init_persons_s) s for $PERSONS | $([ "$PERSONS" -ge 1000000 ] && status "$(get init_persons_s)" "<" 60 || echo "n/a") |"
  echo "| GET /persons/{id} ≥ 50 % of nginx req/s | $(get person_get_vs_nginx_pct) % | $(status "$(get person_get_vs_nginx_pct)" ">=" 50) |"
  echo "| GET /persons/{id} p99 < 10 ms at $CONNS connections | $(fmt "$(get person_get.p99_ms)" 2) ms | $(status "$(get person_get.p99_ms)" "<" 10) |"
  echo "| search by ID number p99 < 50 ms | $(fmt "$(get search_id.p99_ms)" 2) ms | $(status "$(get search_id.p99_ms)" "<" 50) |"
  echo "| search by 2-character name fragment p99 < 50 ms | $(fmt "$(get search_name.p99_ms)" 2) ms | $(status "$(get search_name.p99_ms)" "<" 50) |"
  echo "| dashboard statistics < 200 ms uncached | $(get dashboard_cold_ms) ms | $(status "$(get dashboard_cold_ms)" "<" 200) |"
  big=$(for n in $IMPORT_SIZES; do if [ -n "$(get "import_$n.csv_s")" ]; then echo "$n"; fi; done | sort -n | tail -1)
  if [ -n "$big" ]; then
    echo "| import CSV ≤ 4× sqlite3 .import ($big rows) | $(get "import_$big.csv_vs_sqlite3")× | $(status "$(get "import_$big.csv_vs_sqlite3")" "<=" 4) |"
    peak=$(for n in $IMPORT_SIZES; do get "import_$n.csv_rss_mb"; get "import_$n.xlsx_rss_mb"; done | sort -n | tail -1)
    echo "| import peak RSS < 300 MB (any size, CSV and .xlsx) | $peak MB | $(status "$peak" "<" 300) |"
  fi
  pssmax=$(printf '%s\n%s\n%s\n' "$(get pss_rest_mb)" "$(get pss_before_restart_mb)" "$(get pss_after_load_mb)" | sort -n | tail -1)
  echo "| server RSS < 200 MB | peak VmHWM $(get hwm_after_load_mb) MB, peak Pss $pssmax MB | $(status "$(get hwm_after_load_mb)" "<" 200) (VmHWM), $(status "$pssmax" "<" 200) (Pss) |"
} > "$RES/summary.md"
cat "$RES/summary.md"
say "done: $RES/summary.md"
