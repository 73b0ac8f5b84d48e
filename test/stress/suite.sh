#!/usr/bin/env bash
# Exactly-once under load: test/stress/stress.cpp (a libpq client, built
# here with g++ into build-stress/) runs K parallel clients that deliver M
# events to two handlers, each event D times, in a random interleaving, and
# checks that every (event, handler) was applied exactly once, that offsets
# and mutations match one for one, and that no error other than the
# expected ones occurred. It runs once per isolation level.
#
# Sizes: by default a short run (4,000 events under READ COMMITTED, 2,000
# under REPEATABLE READ and SERIALIZABLE; 8 clients, 5 deliveries each).
# PO_FULL=1 runs the full size, 10,000 events at each level. PO_STRESS_EVENTS,
# PO_STRESS_CLIENTS, PO_STRESS_DELIVERIES and PO_SEED override them.
#
# scripts/test.sh runs it against its throwaway cluster. Run alone, as root,
# it starts one of its own on PO_PORT (default 54353):
#     sudo bash test/stress/suite.sh          sudo PO_FULL=1 bash test/stress/suite.sh
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../../scripts/common.sh"
source "$HERE/lib.sh"

DB=po_stress
CLIENTS=${PO_STRESS_CLIENTS:-8}
DELIVERIES=${PO_STRESS_DELIVERIES:-5}
if [ -n "${PO_FULL:-}" ] && [ "${PO_FULL}" != 0 ]; then
    EVENTS_RC=${PO_STRESS_EVENTS:-10000}; EVENTS_SNAPSHOT=${PO_STRESS_EVENTS:-10000}
else
    EVENTS_RC=${PO_STRESS_EVENTS:-4000}; EVENTS_SNAPSHOT=${PO_STRESS_EVENTS:-2000}
fi

if [ -z "${PGHOST:-}" ]; then
    require_root
    PO_PORT=${PO_PORT:-54353}
    trap cluster_stop EXIT
    cluster_start
fi

passed=0
failed=0
result() {
    if [ "$1" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $2"; fi
}

build_driver || { echo "stress: 0 passed, 1 failed"; exit 1; }
prepare_db "$DB" || { echo "stress: 0 passed, 1 failed"; exit 1; }
export PGDATABASE=$DB

run() {  # run ISOLATION EVENTS
    say "stress: $2 events, $1"
    prepare_schema "$DB" "$2" || return 1
    "$STRESS_BIN" --isolation "$1" --events "$2" --clients "$CLIENTS" --deliveries "$DELIVERIES" \
        ${PO_SEED:+--seed "$PO_SEED"}
}

for level in rc rr sr; do
    events=$EVENTS_SNAPSHOT
    [ "$level" = rc ] && events=$EVENTS_RC
    run "$level" "$events"
    result $? "stress run under $level"
done

# The check must be able to fail: break the invariant on purpose, in a
# transaction that is rolled back, and expect the view to see each breach.
say "stress: the invariant check detects breaches"
breaches=$(psql -X -q -At -v ON_ERROR_STOP=1 <<'SQL'
BEGIN;
DELETE FROM projection_offset WHERE ("eventId", "handlerName") = ('evt-1', 'totals');
UPDATE stress_applied SET times = 0, total = 0 WHERE (event_id, handler) = ('evt-2', 'totals');
UPDATE stress_applied SET times = 2, total = 2 * amount WHERE (event_id, handler) = ('evt-3', 'audit');
SELECT offsets_without_mutation || ' ' || mutations_without_offset || ' ' || applied_more_than_once FROM stress_invariant;
ROLLBACK;
SQL
)
echo "offsets without mutation, mutations without offset, applied twice: $breaches (expected 1 1 1)"
[ "$breaches" = "1 1 1" ]
result $? "invariant check self-test"

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB"
echo "stress: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
