#!/usr/bin/env bash
# Installs what vets needs on Debian 12, only what is missing.
# As root it runs apt-get itself; otherwise it prints the one line to run.
set -euo pipefail
PKGS=(build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev sqlite3
      libsodium-dev libssl-dev libxlsxwriter-dev libzip-dev libexpat1-dev libcmocka-dev
      libqrencode-dev libpq-dev nodejs npm chromium fonts-noto-cjk curl)
# PostgreSQL 15 itself (for the api_pg tests) is installed by tests/pg/start.sh
# when missing, without starting a system service.
[ "${1:-}" = "--bench" ] && PKGS+=(wrk nginx-light)
[ "${1:-}" = "--fuzz" ] && PKGS+=(clang libclang-rt-14-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from elsewhere than Debian (it does on the CI machines): accept any node >= 18.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
clean=(); for p in "${missing[@]}"; do [ -n "$p" ] && clean+=("$p"); done
[ ${#clean[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "安装缺少的软件包：${clean[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${clean[@]}" >/dev/null
else
  echo "缺少软件包，请以 root 运行："
  echo "  apt-get install -y ${clean[*]}"
  exit 1
fi
