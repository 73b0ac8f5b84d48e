#!/usr/bin/env bash
# The short fuzz run of the test command: every target for its share of
# 24 seconds. The long run: bash test/fuzz/run.sh 300 (or PO_FULL=1 here).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -n "${PO_FULL:-}" ]; then seconds=300; else seconds=${PO_FUZZ_SECONDS:-24}; fi
exec bash "$HERE/run.sh" "$seconds"
