#!/usr/bin/env bash
# Stops the throw-away cluster that tests/pg/start.sh STATE_DIR started and
# removes its temp folder and STATE_DIR/env.
set -uo pipefail
STATE=${1:?usage: stop.sh STATE_DIR}
[ -f "$STATE/env" ] || exit 0
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
rm -f "$STATE/env"
