#!/usr/bin/env bash
# A local Airflow (`airflow standalone`) with the ugc DAGs, for looking at and triggering them
# in the UI. Ctrl-C stops everything it started (the whole process group).
#
#   scripts/airflow.sh              UI on http://127.0.0.1:8080, no login (local admin)
#   AIRFLOW_PORT=8081 scripts/airflow.sh
#   scripts/airflow.sh --check      start, wait until healthy with both DAGs loaded, stop
#
# State lives in var/airflow (delete it for a fresh start). The DAG tasks run this checkout's
# .venv/bin/ugc with your UGC_* environment; UGC_DATA_DIR defaults to ./.ugc, the same
# embedded warehouse the demo uses. Point UGC_KAFKA_BOOTSTRAP at a running broker (the demo's,
# or docker compose's) for the ingest DAG to find events; without one, etl_run exits 4
# (unavailable) and Airflow retries it with backoff.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

port="${AIRFLOW_PORT:-8080}"
host="${AIRFLOW_HOST:-127.0.0.1}"
venv_bin="$repo/.venv/bin"
[ -x "$venv_bin/airflow" ] || { echo "airflow: $venv_bin/airflow missing; run make bootstrap" >&2; exit 3; }

export PATH="$venv_bin:$PATH"  # standalone starts `airflow <subcommand>` by name
export AIRFLOW_HOME="$repo/var/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$repo/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
export AIRFLOW__API__PORT="$port"
export AIRFLOW__API__HOST="$host"
# the task supervisor calls the api-server's Execution API; its default is localhost:8080
export AIRFLOW__API__BASE_URL="http://$host:$port"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://$host:$port/execution/"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-30}"
export AIRFLOW_VAR_UGC_BIN="${AIRFLOW_VAR_UGC_BIN:-$venv_bin/ugc}"
export UGC_DATA_DIR="${UGC_DATA_DIR:-$repo/.ugc}"  # tasks run in a temp dir: make it absolute
mkdir -p "$AIRFLOW_HOME"

if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
  echo "airflow: port $port is in use; set AIRFLOW_PORT" >&2
  exit 3
fi

log="$AIRFLOW_HOME/standalone.log"
pgid=""
alive() {  # any live (not zombie) process left in the group
  ps -eo pgid=,stat= | awk -v g="$pgid" '$1 == g && $2 !~ /^Z/ {found=1} END {exit !found}'
}
stop() {
  trap - INT TERM EXIT
  [ -n "$pgid" ] || return 0
  echo "airflow: stopping (process group $pgid)"
  kill -TERM -- "-$pgid" 2>/dev/null || true
  for _ in $(seq 1 75); do
    alive || { echo "airflow: stopped"; return 0; }
    sleep 0.2
  done
  # the scheduler has been seen to outlive SIGTERM
  kill -KILL -- "-$pgid" 2>/dev/null || true
  echo "airflow: stopped (killed)"
}
trap 'stop; exit 130' INT TERM
trap stop EXIT

echo "airflow: starting standalone (AIRFLOW_HOME=var/airflow, log $log)"
setsid airflow standalone >"$log" 2>&1 &
pgid=$!

health="http://$host:$port/api/v2/monitor/health"
ready=0
for _ in $(seq 1 180); do  # standalone migrates the DB first; about a minute here
  kill -0 "$pgid" 2>/dev/null || { echo "airflow: standalone exited; log tail:" >&2; tail -n 30 "$log" >&2; exit 1; }
  if curl --silent --fail --max-time 2 "$health" >/dev/null 2>&1; then ready=1; break; fi
  sleep 1
done
if [ "$ready" -ne 1 ]; then
  echo "airflow: not healthy after 180 s; log tail:" >&2
  tail -n 30 "$log" >&2
  exit 1
fi
echo "airflow: healthy: $(curl --silent "$health")"

if [ "$check" -eq 1 ]; then
  for _ in $(seq 1 60); do
    dags="$(airflow dags list --output plain 2>/dev/null | awk '{print $1}' | grep -c '^ugc_' || true)"
    [ "$dags" -ge 2 ] && break
    sleep 1
  done
  if [ "${dags:-0}" -lt 2 ]; then
    echo "airflow: the ugc DAGs did not load; import errors:" >&2
    airflow dags list-import-errors >&2 || true
    exit 1
  fi
  echo "airflow: ugc_ingest and ugc_marts loaded; --check done"
  exit 0
fi

echo "airflow: UI http://$host:$port (no login: local admin). Ctrl-C stops it."
wait "$pgid"
