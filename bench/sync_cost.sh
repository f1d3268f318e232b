#!/usr/bin/env bash
# The cost of synchronous=FULL against NORMAL (SQLite, WAL) for single-row
# writes, two ways (figures in docs/operations.md, "Durability"):
#   1. the API: N sequential POST /api/v1/persons (one transaction each, with
#      its audit row) against `vets serve`, FULL (the default) and NORMAL
#      (VETS_SYNCHRONOUS=NORMAL);
#   2. SQLite alone: N single-row INSERT transactions through the sqlite3 shell.
#
#   bench/sync_cost.sh [N]         (default 2000; VETS_BIN=…, BENCH_DIR=… a folder on the disk to measure)
# The folder must be on the disk the data will live on: a tmpfs measures nothing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-2000}
BIN=${VETS_BIN:-$ROOT/build/vets}
BASE=${BENCH_DIR:-/var/tmp}
WORK=$(mktemp -d -p "$BASE" vets-sync-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
echo "磁盘：$(df -h "$WORK" | awk 'NR==2 {print $1, $6}')；每种 $N 次单行写入"

# ---- 1. through the API ----
api_run() {  # mode
  local mode=$1 dir=$WORK/api-$1
  "$BIN" init --data "$dir" --demo --persons 100 --requests 0 >/dev/null 2>&1
  sqlite3 "$dir/vets.db" "UPDATE settings SET value = '0' WHERE key = 'ratelimit.login_per_minute'"
  if [ "$mode" = NORMAL ]; then export VETS_SYNCHRONOUS=NORMAL; else unset VETS_SYNCHRONOUS; fi
  "$BIN" serve --data "$dir" --listen 127.0.0.1:0 --port-file "$dir/port" >"$dir/log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
  node --input-type=module - "$(cat "$dir/port")" "$N" "$mode" "$(awk -F'\t' '$1=="center"{print $2}' "$dir/demo-accounts.txt")" <<'EOF'
const [port, n, mode, pw] = process.argv.slice(2);
const url = `http://127.0.0.1:${port}`;
const login = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ username: 'center', password: pw }) });
const cookie = /vets_session=[^;]*/.exec(login.headers.get('set-cookie'))[0];
const csrf = (await login.json()).csrf_token;
const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const id = (k) => {
  const d = new Date(Date.UTC(1950, 0, 1) + Math.floor(k / 500) * 86400000).toISOString().slice(0, 10).replace(/-/g, '');
  const b = `330481${d}${String((k % 500) * 2 + 1).padStart(3, '0')}`;
  let s = 0; for (let i = 0; i < 17; i++) s += Number(b[i]) * W[i];
  return b + '10X98765432'[s % 11];
};
const lat = [];
const t0 = performance.now();
for (let k = 0; k < Number(n); k++) {
  const t = performance.now();
  const r = await fetch(`${url}/api/v1/persons`, { method: 'POST', headers: { 'Content-Type': 'application/json', Cookie: cookie, 'X-CSRF-Token': csrf },
    body: JSON.stringify({ name: `基准${k}`, id_number: id(k), region_code: '330482001001' }) });
  await r.arrayBuffer();
  if (r.status !== 201) throw new Error(`POST ${r.status}`);
  lat.push(performance.now() - t);
}
const total = performance.now() - t0;
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2);
console.log(`API  ${mode.padEnd(6)} ${n} 次 POST /persons：${(total / 1000).toFixed(2)} s，${(n / total * 1000).toFixed(0)} 次/秒，` +
  `中位 ${q(0.5)} ms，p99 ${q(0.99)} ms`);
EOF
  kill "$pid"; wait "$pid" || true
}
api_run FULL
api_run NORMAL

# ---- 2. SQLite alone ----
sql_run() {  # mode
  local db=$WORK/raw-$1.db
  sqlite3 "$db" "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);" >/dev/null
  { echo "PRAGMA synchronous=$1;"; for k in $(seq "$N"); do echo "INSERT INTO t(v) VALUES ('row $k');"; done; } >"$WORK/ins.sql"
  local t0 t1
  t0=$(date +%s%N)
  sqlite3 "$db" <"$WORK/ins.sql" >/dev/null
  t1=$(date +%s%N)
  local ms=$(( (t1 - t0) / 1000000 ))
  echo "SQL  $(printf '%-6s' "$1") $N 个单行事务：$(awk -v m="$ms" 'BEGIN{printf "%.2f s", m/1000}')，$(awk -v m="$ms" -v n="$N" 'BEGIN{printf "%.3f ms/事务", m/n}')"
}
sql_run FULL
sql_run NORMAL
