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

run_python_suite cancel 54354 "$HERE/cancel.py"
