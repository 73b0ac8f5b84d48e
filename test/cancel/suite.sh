#!/usr/bin/env bash
# Cancel latency of large batches under statement_timeout; see cancel.py.
# Prints every case and the latency figures; fails when a statement ends
# with another SQLSTATE than 57014 or a cancel takes longer than
# PO_CANCEL_BOUND_MS (default 1000 ms, generous on purpose: the figures are
# the measurement, the bound only catches a loop that ignores cancels).
#
# scripts/test.sh runs it against its throwaway cluster (PGHOST, PGPORT,
# PGUSER exported). Run alone, as root, it starts a throwaway cluster of its
# own on PO_PORT (default 54354):
#     sudo bash test/cancel/suite.sh
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../../scripts/common.sh"

# Debian's interpreter, where python3-psycopg is installed.
PYTHON=${PO_PYTHON:-/usr/bin/python3}
"$PYTHON" -c 'import psycopg' 2>/dev/null \
    || { echo "cancel: cannot run: python3-psycopg is not installed (Debian package python3-psycopg)"; echo "cancel: 0 passed, 1 failed"; exit 1; }
if [ -z "${PGHOST:-}" ]; then
    require_root
    PO_PORT=${PO_PORT:-54354}
    trap cluster_stop EXIT
    cluster_start
fi
"$PYTHON" "$HERE/cancel.py"
