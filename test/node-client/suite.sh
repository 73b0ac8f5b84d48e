#!/usr/bin/env bash
# The Node.js client (clients/node) against the running cluster, the libpq
# example (clients/cpp), and one pass over every benchmark script.
# Expects PGHOST, PGPORT, PGUSER of a cluster with the extension installed
# (scripts/test.sh exports them). Ends with "node-client: N passed, N failed".
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NODE_DIR=$ROOT/clients/node
DB=po_node_client
WORK=$(mktemp -d /tmp/po-node-client.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
step_ok() { passed=$((passed + $1)); }
step_failed() { failed=$((failed + $1)); echo "FAILED: $2"; }

psql -qAtX -d postgres -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null || exit 1
psql -qAtX -d "$DB" -v ON_ERROR_STOP=1 -c "CREATE EXTENSION projection_offset" >/dev/null || exit 1
export PGDATABASE=$DB

# Node.js client: npm ci (the lockfile's exact packages), tsc, node --test.
echo "-- clients/node: npm ci, build, node --test"
if ! (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1); then
    cat "$WORK/npm.log"
    step_failed 1 "npm ci"
elif ! (cd "$NODE_DIR" && npm run --silent build); then
    step_failed 1 "tsc build of clients/node"
else
    (cd "$NODE_DIR" && node --test \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$WORK/node.tap" \
        dist/test/)
    rc=$?
    p=$(awk '/^# pass / {print $3}' "$WORK/node.tap")
    f=$(awk '/^# fail / {print $3}' "$WORK/node.tap")
    c=$(awk '/^# cancelled / {print $3}' "$WORK/node.tap")
    p=${p:-0} f=${f:-0} c=${c:-0}
    step_ok "$p"
    [ "$((f + c))" -gt 0 ] && step_failed "$((f + c))" "node --test"
    [ "$rc" != 0 ] && [ "$((f + c))" = 0 ] && step_failed 1 "node --test exited $rc"
    [ "$p" = 0 ] && step_failed 1 "node --test ran no test"
fi

# libpq example: build it and run it once; it checks its own outcomes.
echo "-- clients/cpp: build and run apply_event"
if g++ -std=c++17 -O2 -Wall -Wextra -Werror -I"$(pg_config --includedir)" \
        -o "$WORK/apply_event" "$ROOT/clients/cpp/apply_event.cpp" -lpq \
    && "$WORK/apply_event"; then
    step_ok 1
else
    step_failed 1 "clients/cpp/apply_event"
fi

# Benchmark scripts: each runs twice, fresh and re-delivered, so that a
# script the benchmark would reject is caught here (no timing is measured).
echo "-- bench: every pgbench script once"
if psql -qX -d "$DB" -v ON_ERROR_STOP=1 -f "$ROOT/bench/setup.sql" >"$WORK/bench.log" 2>&1; then
    for script in "$ROOT"/bench/single/*.sql "$ROOT"/bench/batch/*.sql; do
        name=bench/$(basename "$(dirname "$script")")/$(basename "$script")
        if [ "$(basename "$script")" = batch_apply.sql ] && [ "$(psql -qAtX -c \
            "SELECT to_regprocedure('apply_with_offset_batch(text,regprocedure,jsonb)') IS NULL")" = t ]; then
            echo "skipped $name (the batch apply is not installed)"
            continue
        fi
        ok=1
        for vars in "pfx=f- range=1000000000000000 blocks=1000000000000" "pfx=r- range=100000 blocks=100"; do
            set -- $vars
            if ! pgbench -n -M prepared -t 2 -D "$1" -D "$2" -D "$3" -f "$script" "$DB" >"$WORK/pgbench.log" 2>&1 \
                || ! grep -q 'number of failed transactions: 0 ' "$WORK/pgbench.log"; then
                cat "$WORK/pgbench.log"
                ok=0
            fi
        done
        if [ "$ok" = 1 ]; then echo "ok $name"; step_ok 1; else step_failed 1 "$name"; fi
    done
else
    cat "$WORK/bench.log"
    step_failed 1 "bench/setup.sql"
fi

psql -qAtX -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null
echo "node-client: $passed passed, $failed failed"
[ "$failed" = 0 ]
