#!/usr/bin/env bash
# make demo: install what is missing, then run the main job on embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/python scripts/demo.py "$@"
