#!/usr/bin/env bash
# Peak memory of a large apply_with_offset_batch beside hand-written
# set-based SQL doing the same work (bench/batch_memory.sh): 200,000 events
# by default, 1,000,000 with PO_FULL=1. The batch with a per-event projector
# and with a set projector in LANGUAGE sql must grow the backend's peak
# resident set by at most PO_BATCH_MEMORY_BOUND (default 1.5) times what the
# hand-written statement does. Memory, not time: the figures do not depend
# on the machine's speed.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -n "${PO_FULL:-}" ]; then n=1000000; else n=${PO_BATCH_MEMORY_EVENTS:-200000}; fi
export PO_BATCH_MEMORY_BOUND=${PO_BATCH_MEMORY_BOUND:-1.5}
exec bash "$HERE/../../bench/batch_memory.sh" "$n"
