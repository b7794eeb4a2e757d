#!/usr/bin/env bash
# make soak: 10 minutes at 1,000 events/s through collector, broker and ETL (scripts/soak.py).
# SOAK_MINUTES / SOAK_RATE override the length and the rate; extra flags pass through.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/soak.py --minutes "${SOAK_MINUTES:-10}" --rate "${SOAK_RATE:-1000}" "$@"
