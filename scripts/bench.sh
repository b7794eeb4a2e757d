#!/usr/bin/env bash
# make bench: run every benchmark, keep each one's output in bench-results/, and write
# docs/benchmarks.md from them. BENCH_QUICK=1 runs smaller sizes (a smoke run, minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench-results
py=.venv/bin/python
quick="${BENCH_QUICK:-0}"

if [ "$quick" = 1 ]; then
  collector=(--connections 64 --seconds 5 --repeats 1)
  etl=(--events 200000)
  qm=(--events 1000000 --runs 1)
  storage=(--rows 1000000)
else
  collector=(--connections 64,1000,10000 --seconds 10 --repeats 3)
  etl=(--events 2000000)
  qm=(--events 10000000 --runs 3)
  storage=(--rows 10000000 --repeat 3)
fi

run() {
  local name=$1
  shift
  echo "== $name: $*"
  { echo "\$ $*"; "$@"; } 2>&1 | tee "bench-results/$name.txt"
}

run collector "$py" scripts/bench_collector.py "${collector[@]}"
run etl "$py" scripts/bench_etl.py "${etl[@]}" --json bench-results/etl.json
run quality_marts "$py" scripts/bench_quality_marts.py "${qm[@]}"
run storage "$py" scripts/bench_storage.py "${storage[@]}" --json bench-results/storage.json
"$py" scripts/bench_report.py --out docs/benchmarks.md
echo "wrote docs/benchmarks.md"
