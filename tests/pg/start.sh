#!/usr/bin/env bash
# Starts a throw-away PostgreSQL 15 cluster for the tests: initdb into a fresh
# temp folder, postgres on a free loopback port (its socket in the same temp
# folder), roles vets_owner (owns the test databases, runs migrations) and
# vets_app (serves: INSERT and SELECT only on the audit table). No system
# service is used or touched; tests/pg/stop.sh removes everything again.
#
#   tests/pg/start.sh STATE_DIR
#
# STATE_DIR/env is written for the callers (sourced by shell scripts, parsed by
# tests/api/lib.mjs): PGHOST PGPORT PGUSER (the superuser), VETS_PG_CLUSTER
# (the temp folder), VETS_PG_BIN. Calling it again while the cluster in
# STATE_DIR runs only counts one more user (STATE_DIR/refs, under flock):
# several ctest runs in one build folder share the cluster, and stop.sh
# removes it when the last of them is done.
#
# PostgreSQL 15 is installed from Debian with apt-get when missing (as root).
# As root, initdb and postgres run as an unprivileged user: "postgres" when the
# Debian package created it, else a dedicated system user "vets-pg".
set -euo pipefail
STATE=${1:?usage: start.sh STATE_DIR}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
exec 9>"$STATE/lock"
flock 9

if [ -f "$STATE/env" ]; then
  # shellcheck disable=SC1091
  . "$STATE/env"
  if "$VETS_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" 2>/dev/null; then
    echo $(( $(cat "$STATE/refs" 2>/dev/null || echo 0) + 1 )) >"$STATE/refs"
    exit 0
  fi
  VETS_PG_FORCE=1 "$(dirname "$0")/stop.sh" "$STATE" 9>&- || true
fi

find_bin() {
  for d in /usr/lib/postgresql/15/bin "$(pg_config --bindir 2>/dev/null || true)"; do
    [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && { echo "$d"; return 0; }
  done
  return 1
}
BIN=$(find_bin || true)
if [ -z "$BIN" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "PostgreSQL 15 is missing: run as root  apt-get install -y postgresql-15" >&2
    exit 1
  fi
  echo "installing postgresql-15 from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  # Only the server binaries: policy-rc.d keeps the package from starting a service.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.vets && chmod +x /usr/sbin/policy-rc.d.vets
  had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1
  [ $had_policy = 0 ] && cp /usr/sbin/policy-rc.d.vets /usr/sbin/policy-rc.d
  apt-get install -y -q --no-install-recommends postgresql-15 postgresql-client-15 >/dev/null
  [ $had_policy = 0 ] && rm -f /usr/sbin/policy-rc.d
  rm -f /usr/sbin/policy-rc.d.vets
  BIN=$(find_bin)
fi

# Who runs the server: never root.
RUNAS=()
if [ "$(id -u)" = 0 ]; then
  PGOS=postgres
  if ! getent passwd postgres >/dev/null; then
    PGOS=vets-pg
    getent passwd vets-pg >/dev/null || useradd --system --no-create-home --shell /usr/sbin/nologin vets-pg
  fi
  RUNAS=(runuser -u "$PGOS" --)
fi

CLUSTER=$(mktemp -d "${TMPDIR:-/tmp}/vets-pg.XXXXXX")
chmod 700 "$CLUSTER"
[ ${#RUNAS[@]} -gt 0 ] && chown "$PGOS" "$CLUSTER"
"${RUNAS[@]}" "$BIN/initdb" -D "$CLUSTER/data" -U postgres --auth=trust --encoding=UTF8 --locale=C \
  >"$CLUSTER/initdb.log" 2>&1 || { cat "$CLUSTER/initdb.log" >&2; exit 1; }

# Test settings: durability off (a crash loses only test data), room for many
# servers' connections, loopback only.
cat >>"$CLUSTER/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$CLUSTER'
max_connections = 400
shared_buffers = 64MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_min_error_statement = panic
timezone = 'UTC'
EOF

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

PORT=
for _ in 1 2 3 4 5; do
  PORT=$(free_port)
  # 9>&-: the server must not inherit (and hold for ever) the lock of STATE_DIR.
  if "${RUNAS[@]}" "$BIN/pg_ctl" -D "$CLUSTER/data" -l "$CLUSTER/server.log" -o "-p $PORT" -w -t 60 start \
       >/dev/null 2>&1 9>&-; then
    break
  fi
  PORT=
done
if [ -z "$PORT" ]; then
  echo "PostgreSQL did not start:" >&2; tail -20 "$CLUSTER/server.log" >&2
  rm -rf "$CLUSTER"; exit 1
fi

"$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres <<'EOF'
CREATE ROLE vets_owner LOGIN;
CREATE ROLE vets_app LOGIN;
EOF

cat >"$STATE/env" <<EOF
PGHOST=127.0.0.1
PGPORT=$PORT
PGUSER=postgres
VETS_PG_CLUSTER=$CLUSTER
VETS_PG_BIN=$BIN
VETS_PG_RUNAS=${PGOS:-}
EOF
echo 1 >"$STATE/refs"
echo "PostgreSQL test cluster on 127.0.0.1:$PORT ($CLUSTER)"
