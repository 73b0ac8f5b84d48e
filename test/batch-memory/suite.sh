#!/usr/bin/env bash
# Peak memory of a large apply_with_offset_batch beside hand-written
# set-based SQL doing the same work (bench/batch_memory.sh). Memory, not
# time: the figures do not depend on the machine's speed.
#
# By default 200,000 events: the batch with a per-event projector and with a
# set projector in LANGUAGE sql must grow the backend's peak resident set by
# at most 1.75 times what the hand-written statement does (measured: 0.57 and
# 0.53 on PostgreSQL 15; 1.30 and 1.60 on 18, whose hand-written statement
# needs half the memory; before the batch worked in place, 2.0). VmHWM
# growth is checked, not the private peak the benchmark prints beside it:
# that one is sampled, so it depends on timing.
# With PO_FULL=1, 1,000,000 events, the per-event projector only, at most
# 2.0 times (measured 1.20 on 15, 1.85 on 18; before, 6.75): at that size a
# set projector's arrays, and the copies its language makes of them, weigh
# more than the batch itself. PO_BATCH_MEMORY_BOUND overrides the bound.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -n "${PO_FULL:-}" ]; then
    n=1000000
    export PO_BATCH_MEMORY_BOUND=${PO_BATCH_MEMORY_BOUND:-2.0} PO_BATCH_MEMORY_CHECK="each"
else
    n=${PO_BATCH_MEMORY_EVENTS:-200000}
    export PO_BATCH_MEMORY_BOUND=${PO_BATCH_MEMORY_BOUND:-1.75} PO_BATCH_MEMORY_CHECK="each set"
fi
exec bash "$HERE/../../bench/batch_memory.sh" "$n"
