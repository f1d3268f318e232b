#!/usr/bin/env bash
# Replica test (issue 7; too slow for CI, run by hand — see docs/deployment.md):
#   a primary with one streaming standby (pg_basebackup), synchronous
#   (synchronous_standby_names); `vets serve` writes through the primary
#   (a multi-host URL with target_session_attrs=read-write); the primary is
#   crashed (pg_ctl stop -m immediate) while a client keeps writing; the
#   standby is promoted; vets finds it by itself; then every write vets had
#   acknowledged (2xx) is on the promoted standby, and the audit chain verifies.
#
#   tests/pg/replica.sh [WRITES]        (default 400; needs build/vets, node)
#
# VETS_REPLICA_ASYNC=1 runs the same without synchronous_standby_names, to see
# what asynchronous replication may lose (it reports instead of failing).
# Everything lives in a temp folder, removed at the end; no system service.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BIN_VETS=${VETS_BIN:-$SRC/build/vets}
WRITES=${1:-400}
ASYNC=${VETS_REPLICA_ASYNC:-0}
PGBIN=/usr/lib/postgresql/15/bin
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL 15 missing: apt-get install -y postgresql-15" >&2; exit 1; }
[ -x "$BIN_VETS" ] || { echo "build vets first (make build)" >&2; exit 1; }

RUNAS=()
if [ "$(id -u)" = 0 ]; then
  PGOS=postgres; getent passwd postgres >/dev/null || { PGOS=vets-pg; getent passwd vets-pg >/dev/null || useradd --system --no-create-home --shell /usr/sbin/nologin vets-pg; }
  RUNAS=(runuser -u "$PGOS" --)
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/vets-replica.XXXXXX")
chmod 755 "$T"
mkdir -p "$T/pg" "$T/node"
[ ${#RUNAS[@]} -gt 0 ] && chown "$PGOS" "$T/pg"
SERVE_PID=
cleanup() {
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null || true
  for d in primary standby; do
    [ -d "$T/pg/$d" ] && "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$T/pg/$d" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$T"
}
trap cleanup EXIT
trap "exit 130" INT TERM

port() { local p; for _ in $(seq 50); do p=$((20000 + RANDOM % 30000)); (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done; return 1; }
P1=$(port); P2=$(port)
pg() { "${RUNAS[@]}" "$@"; }
psql_at() { "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "$2" -c "$3"; }

echo "== primary on $P1"
pg "$PGBIN/initdb" -D "$T/pg/primary" -U postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
cat >>"$T/pg/primary/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $P1
unix_socket_directories = '$T/pg'
wal_level = replica
max_wal_senders = 4
wal_keep_size = 256MB
synchronous_commit = on
log_min_messages = warning
EOF
pg "$PGBIN/pg_ctl" -D "$T/pg/primary" -l "$T/pg/primary.log" -w start >/dev/null
psql_at "$P1" postgres "CREATE ROLE vets_owner LOGIN; CREATE ROLE vets_app LOGIN;"
psql_at "$P1" postgres "CREATE DATABASE vets OWNER vets_owner TEMPLATE template0 ENCODING 'UTF8'"

echo "== standby on $P2 (pg_basebackup)"
pg "$PGBIN/pg_basebackup" -D "$T/pg/standby" -R -X stream -c fast \
  -d "host=127.0.0.1 port=$P1 user=postgres application_name=standby1" >/dev/null
cat >>"$T/pg/standby/postgresql.conf" <<EOF
port = $P2
EOF
pg "$PGBIN/pg_ctl" -D "$T/pg/standby" -l "$T/pg/standby.log" -w start >/dev/null
for _ in $(seq 100); do
  st=$(psql_at "$P1" postgres "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'" || true)
  [ -n "$st" ] && break; sleep 0.2
done
# Synchronous only now that the standby is there (before, every commit would wait for it).
if [ "$ASYNC" != 1 ]; then
  psql_at "$P1" postgres "ALTER SYSTEM SET synchronous_standby_names = 'standby1'"
  psql_at "$P1" postgres "SELECT pg_reload_conf()" >/dev/null
  for _ in $(seq 100); do
    st=$(psql_at "$P1" postgres "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")
    [ "$st" = sync ] && break; sleep 0.2
  done
fi
echo "   standby streaming, sync_state=$st"

echo "== vets on the primary (multi-host URL: finds the writable one)"
URL_OWNER="postgresql://vets_owner@127.0.0.1:$P1,127.0.0.1:$P2/vets?target_session_attrs=read-write"
URL_APP="postgresql://vets_app@127.0.0.1:$P1,127.0.0.1:$P2/vets?target_session_attrs=read-write"
"$BIN_VETS" init --data "$T/node" --db "$URL_OWNER" --demo --persons 50 >/dev/null 2>&1
"$BIN_VETS" serve --data "$T/node" --db "$URL_APP" --listen 127.0.0.1:0 --port-file "$T/port" >"$T/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
VPORT=$(cat "$T/port")
PASS=$(awk -F'\t' '$1 == "center" {print $2}' "$T/node/demo-accounts.txt")
PID_PERSON=$(psql_at "$P1" vets "SELECT MIN(id) FROM persons")

# The writer: PATCHes one person's remarks WRITES times, one after another,
# retrying what fails; records every value that got a 2xx. The primary is
# crashed after a third of them; the standby promoted a moment later.
cat >"$T/writer.mjs" <<'EOF'
import { appendFileSync } from 'node:fs';
const [url, pass, pid, n, ackFile, crashAt] = process.argv.slice(2);
let cookie = null, csrf = null;
async function req(method, path, body) {
  const h = { 'Content-Type': 'application/json' };
  if (cookie) h.Cookie = cookie;
  if (csrf) h['X-CSRF-Token'] = csrf;
  const r = await fetch(url + path, { method, headers: h, body: body && JSON.stringify(body), signal: AbortSignal.timeout(15000) });
  const sc = r.headers.get('set-cookie'); const m = sc && /vets_session=([^;]*)/.exec(sc);
  if (m) cookie = `vets_session=${m[1]}`;
  let j = null; try { j = await r.json(); } catch { /* */ }
  return { status: r.status, json: j };
}
async function login() {
  for (;;) {
    const r = await req('POST', '/api/v1/auth/login', { username: 'center', password: pass }).catch(() => ({ status: 0 }));
    if (r.status === 200) { csrf = r.json.csrf_token; return; }
    await new Promise((ok) => setTimeout(ok, 200));
  }
}
await login();
let failures = 0, crashed = false;
for (let i = 0; i < Number(n);) {
  if (i === Number(crashAt) && !crashed) { crashed = true; console.log('CRASH'); }   // the shell watches for this line
  const g = await req('GET', `/api/v1/persons/${pid}`).catch(() => ({ status: 0 }));
  if (g.status === 401) { await login(); continue; }
  if (g.status !== 200) { failures++; await new Promise((ok) => setTimeout(ok, 100)); continue; }
  const v = `replica-${i}`;
  const w = await req('PATCH', `/api/v1/persons/${pid}`, { version: g.json.version, remarks: v }).catch(() => ({ status: 0 }));
  if (w.status >= 200 && w.status < 300) { appendFileSync(ackFile, v + '\n'); i++; if (i % 50 === 0) console.log(`${i} acknowledged`); }
  else { failures++; await new Promise((ok) => setTimeout(ok, 100)); }
}
console.log(`DONE failures=${failures}`);
EOF

echo "== $WRITES writes; the primary crashes after $((WRITES / 3))"
: >"$T/acked"
node "$T/writer.mjs" "http://127.0.0.1:$VPORT" "$PASS" "$PID_PERSON" "$WRITES" "$T/acked" $((WRITES / 3)) | while read -r line; do
  if [ "$line" = CRASH ]; then
    pg "$PGBIN/pg_ctl" -D "$T/pg/primary" -m immediate stop >/dev/null || true
    echo "   primary crashed after $(wc -l <"$T/acked") acknowledged writes"
    sleep 1
    pg "$PGBIN/pg_ctl" -D "$T/pg/standby" -w promote >/dev/null || true
    echo "   standby promoted"
  else
    echo "   writer: $line"
  fi
done

ACKED=$(wc -l <"$T/acked")
psql_at "$P2" vets "SELECT after FROM person_history WHERE person_id = $PID_PERSON AND field = 'remarks' AND after LIKE 'replica-%'" | sort -u >"$T/present"
MISSING=$(sort -u "$T/acked" | comm -23 - "$T/present" | wc -l)
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=
VERIFY=$("$BIN_VETS" audit verify --data "$T/node" --db "postgresql://vets_app@127.0.0.1:$P2/vets" || true)
echo "== acknowledged $ACKED, present on the promoted standby $((ACKED - MISSING)), missing $MISSING"
echo "   $VERIFY"
grep -q "PostgreSQL 已重新连接" "$T/serve.log" && echo "   vets reconnected to the promoted standby by itself"
if [ "$ASYNC" = 1 ]; then echo "(asynchronous replication: losses are possible and reported, not failed)"; exit 0; fi
[ "$MISSING" = 0 ] && echo "$VERIFY" | grep -q "审计链完整" && { echo "PASS"; exit 0; }
echo "FAIL (the server's log ends with:)"; tail -20 "$T/serve.log"; exit 1
