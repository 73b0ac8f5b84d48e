#!/usr/bin/env bash
# Memory of one backend over many apply_with_offset calls: by default
# 100,000 calls in one SELECT, in a DO loop and in a DO loop with a function
# replaced every 100 calls, and 20,000 separate statements; with PO_FULL=1,
# 1,000,000 calls in each of the four modes.
# See run.sh.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -n "${PO_FULL:-}" ]; then
    n=1000000
else
    n=${PO_MEM_CALLS:-100000}
    export PO_MEM_STATEMENT_CALLS=${PO_MEM_STATEMENT_CALLS:-20000}
fi
exec bash "$HERE/run.sh" "$n"
