#!/usr/bin/env bash
# A bounded soak under faults (issue 8): good phones, hostile phones and chips, random
# disconnects and a Result Server that fails some POSTs against one server process.
# It exits 1 unless every outcome is right, nothing is lost, duplicated or wrongly posted,
# and sessions, timers, RSS and file descriptors come back. Full runs: docs/reliability.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
echo "--- latest PyPI releases"
timeout 600 .venv/bin/python bench/soak.py --sessions 300 --concurrency 8 --warmup 40
echo "--- Debian 12 python3-* packages"
timeout 600 /usr/bin/python3 bench/soak.py --sessions 200 --concurrency 8 --warmup 40
