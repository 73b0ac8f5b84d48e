#!/usr/bin/env bash
# Crash safety: the stress driver's load, with the server stopped by an
# immediate shutdown (pg_ctl stop -m immediate: no checkpoint, crash
# recovery on the next start) at random points of the delivery schedule
# while the other clients are in flight. After each restart the driver
# checks, in one snapshot, that every offset row has its mutation, every
# mutation its offset row, no pair was applied twice, and every claim a
# client saw acknowledged survived; the clients then reconnect, deliver
# again whatever was in flight (its outcome is unknown) and finish the
# schedule, and exactly-once is checked again at the end. The server log
# must show one crash recovery per crash.
#
# It starts its own throwaway cluster on PO_CRASH_PORT (default 54351), as
# it must stop and restart it. Sizes: by default 2,000 events x 2 handlers
# x 5 deliveries with 3 crashes under READ COMMITTED, and 1,000 events with
# 2 crashes under SERIALIZABLE; PO_FULL=1 runs 10,000 events with 10 crashes
# under READ COMMITTED and 10,000 events with 5 crashes under SERIALIZABLE.
# PO_CRASH_EVENTS, PO_CRASHES and PO_SEED override them.
#     sudo bash test/crash/suite.sh           sudo PO_FULL=1 bash test/crash/suite.sh
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../../scripts/common.sh"
source "$HERE/../stress/lib.sh"
require_root

if [ -n "${PO_FULL:-}" ] && [ "${PO_FULL}" != 0 ]; then
    RUNS=("rc ${PO_CRASH_EVENTS:-10000} ${PO_CRASHES:-10}" "sr ${PO_CRASH_EVENTS:-10000} ${PO_CRASHES:-5}")
else
    RUNS=("rc ${PO_CRASH_EVENTS:-2000} ${PO_CRASHES:-3}" "sr ${PO_CRASH_EVENTS:-1000} ${PO_CRASHES:-2}")
fi

# The shared cluster of scripts/test.sh is not touched: this suite's own
# cluster replaces the PG* settings in this process only.
unset PGHOST PGPORT PGDATABASE CLUSTER_DIR
PO_PORT=${PO_CRASH_PORT:-54351}
trap cluster_stop EXIT
cluster_start

DB=po_crash
passed=0
failed=0
result() {
    if [ "$1" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $2"; fi
}

build_driver || { echo "crash: 0 passed, 1 failed"; exit 1; }
prepare_db "$DB" || { echo "crash: 0 passed, 1 failed"; exit 1; }
export PGDATABASE=$DB

PG_CTL="runuser -u $PO_OS_USER -- $PG_BIN/pg_ctl -D $CLUSTER_DIR/data"
CRASH_CMD="$PG_CTL -m immediate -w stop >/dev/null"
RESTART_CMD="$PG_CTL -l $CLUSTER_DIR/server.log -w -t 120 start >/dev/null"

recoveries() { grep -c 'database system was not properly shut down; automatic recovery in progress' "$CLUSTER_DIR/server.log"; }

for spec in "${RUNS[@]}"; do
    read -r level events crashes <<<"$spec"
    say "crash: $events events, $level, $crashes immediate shutdowns"
    before=$(recoveries)
    prepare_schema "$DB" "$events" \
        && "$STRESS_BIN" --isolation "$level" --events "$events" --crashes "$crashes" \
               --crash-cmd "$CRASH_CMD" --restart-cmd "$RESTART_CMD" ${PO_SEED:+--seed "$PO_SEED"}
    status=$?
    after=$(recoveries)
    echo "crash recoveries in the server log: $((after - before)) (expected $crashes)"
    [ "$status" = 0 ] && [ $((after - before)) = "$crashes" ]
    result $? "crash run under $level"
done

echo "crash: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
