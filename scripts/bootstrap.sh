#!/usr/bin/env bash
# Install what ugc needs on a bare Debian 12 machine: Debian packages, then a virtualenv in
# .venv with ugc and its extras. Safe to run again: it only installs what is missing.
#
#   scripts/bootstrap.sh            everything (tests, Airflow, Great Expectations)
#   UGC_EXTRAS=quality scripts/bootstrap.sh   a lighter install
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${UGC_EXTRAS:-dev}"
python="${PYTHON:-python3}"

packages=()
command -v redis-server >/dev/null || packages+=(redis-server)
command -v clickhouse-server >/dev/null || packages+=(clickhouse-server)
command -v wrk >/dev/null || packages+=(wrk)
"$python" -m venv --help >/dev/null 2>&1 || packages+=(python3-venv)
command -v gcc >/dev/null || packages+=(build-essential python3-dev)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "bootstrap: apt-get install ${packages[*]}"
  $sudo apt-get update -qq
  # the clickhouse-server package tries to start a system service; we run our own
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$python" -m venv .venv
fi
stamp=".venv/.ugc-installed-$extras"
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ]; then
  echo "bootstrap: pip install -e .[$extras]"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[$extras]"
  touch "$stamp"
fi
echo "bootstrap: ready (.venv)"
