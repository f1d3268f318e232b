#!/usr/bin/env bash
# Stops the throw-away cluster that tests/pg/start.sh STATE_DIR started and
# removes its temp folder and STATE_DIR/env — when the last of its users is
# done (STATE_DIR/refs; VETS_PG_FORCE=1 stops it whatever the count).
set -uo pipefail
STATE=${1:?usage: stop.sh STATE_DIR}
[ -f "$STATE/env" ] || exit 0
if [ "${VETS_PG_FORCE:-0}" != 1 ]; then
  exec 9>"$STATE/lock"
  flock 9
  [ -f "$STATE/env" ] || exit 0
  refs=$(( $(cat "$STATE/refs" 2>/dev/null || echo 1) - 1 ))
  if [ "$refs" -gt 0 ]; then echo "$refs" >"$STATE/refs"; exit 0; fi
fi
# shellcheck disable=SC1091
. "$STATE/env"
RUNAS=()
[ "$(id -u)" = 0 ] && [ -n "${VETS_PG_RUNAS:-}" ] && RUNAS=(runuser -u "$VETS_PG_RUNAS" --)
if [ -n "${VETS_PG_CLUSTER:-}" ] && [ -d "$VETS_PG_CLUSTER/data" ]; then
  "${RUNAS[@]}" "$VETS_PG_BIN/pg_ctl" -D "$VETS_PG_CLUSTER/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
fi
case "${VETS_PG_CLUSTER:-}" in
  */vets-pg.*) rm -rf "$VETS_PG_CLUSTER" ;;
esac
rm -f "$STATE/env" "$STATE/refs"
