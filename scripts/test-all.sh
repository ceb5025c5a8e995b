#!/usr/bin/env bash
# Everything the tests need on a fresh machine, then every test: Debian packages when missing, npm packages, npm test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nc >/dev/null 2>&1 && nc -h 2>&1 | grep -q OpenBSD || need+=(netcat-openbsd)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v python3 >/dev/null 2>&1 || need+=(python3)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing Debian packages: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

npm ci --no-audit --no-fund
npm test
