#!/usr/bin/env bash
# A random-SQL campaign: SQLsmith (Debian package sqlsmith) generates and
# runs queries against a database with the extension installed (setup.sql),
# as a role without superuser rights, then the server log is searched for
# backend crashes.
#
# Two runs, each bounded by a number of queries and a time:
#   catalog  SQLsmith as it comes: every table and routine of the database,
#            the extension's among some 3,000 of PostgreSQL's own
#   focused  only the extension's tables, and through sqlsmith_focus.pg_proc
#            only the extension's routines, the projectors and a few
#            functions that build arguments (jsonb, arrays, regprocedure)
# Prints how many queries each run executed and how often the queries named
# each of the extension's functions (and how many of those calls returned
# normally, from pg_stat_user_functions). The checks:
# each run executes queries, the server log shows no backend terminated by
# a signal or crash restart, and the server still answers.
#
# Sizes: 1,500 queries (90 s at most) then 4,000 (150 s at most); PO_FULL=1
# runs 20,000 and 50,000 (20 and 40 minutes at most). PO_SQLSMITH_QUERIES
# and PO_SEED override them.
#
# scripts/test.sh runs it against its throwaway cluster (PGHOST, PGPORT,
# PGUSER, CLUSTER_DIR exported). Run alone, as root, it starts a throwaway
# cluster of its own on PO_PORT (default 54355):
#     sudo bash test/sqlsmith/suite.sh
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../../scripts/common.sh"

fail_early() { echo "sqlsmith: cannot run: $*"; echo "sqlsmith: 0 passed, 1 failed"; exit 1; }
command -v sqlsmith >/dev/null || fail_early "sqlsmith is not installed (Debian package sqlsmith)"
if [ -z "${PGHOST:-}" ]; then
    require_root
    PO_PORT=${PO_PORT:-54355}
    trap cluster_stop EXIT
    cluster_start "track_functions = 'all'"
fi
LOG=${CLUSTER_DIR:+$CLUSTER_DIR/server.log}
[ -n "${CLUSTER_DIR:-}" ] && [ -r "$LOG" ] || fail_early "the server log is not readable (CLUSTER_DIR is not set)"

if [ -n "${PO_FULL:-}" ]; then
    RUNS=("catalog ${PO_SQLSMITH_QUERIES:-20000} 1200" "focused ${PO_SQLSMITH_QUERIES:-50000} 2400")
else
    RUNS=("catalog ${PO_SQLSMITH_QUERIES:-1500} 90" "focused ${PO_SQLSMITH_QUERIES:-4000} 150")
fi
SEED=${PO_SEED:-1}
DB=po_sqlsmith
OUT=$(mktemp -d /tmp/po_sqlsmith.XXXXXX)

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS $DB" -c "DROP ROLE IF EXISTS po_smith" -c "CREATE DATABASE $DB" \
    -c "ALTER DATABASE $DB SET track_functions = 'all'" \
    && psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$HERE/setup.sql" >/dev/null \
    || fail_early "could not create database $DB"

passed=0
failed=0
result() {
    if [ "$1" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $2"; fi
}

log_offset=$(stat -c %s "$LOG")
conninfo="host=$PGHOST port=$PGPORT dbname=$DB user=po_smith"
total=0
for run in "${RUNS[@]}"; do
    read -r name queries seconds <<<"$run"
    case $name in
    catalog) args=(--target="$conninfo") ;;
    focused) args=(--target="$conninfo options='-c search_path=sqlsmith_focus,public,pg_catalog'" --exclude-catalog) ;;
    esac
    say "sqlsmith: $name run, at most $queries queries or $seconds s (seed $SEED)"
    timeout --signal=INT "$seconds" sqlsmith "${args[@]}" --seed="$SEED" --max-queries="$queries" --verbose \
        --dump-all-queries >"$OUT/$name.sql" 2>"$OUT/$name.err"
    status=$?
    # --verbose prints "queries: N" every so often and at the end.
    ran=$(grep -oE '^queries: [0-9]+' "$OUT/$name.err" | tail -1 | grep -oE '[0-9]+')
    ran=${ran:-0}
    errors=$(sed -n 's/^error rate: //p' "$OUT/$name.err" | tail -1)
    echo "$name: $ran queries executed (exit status $status, error rate ${errors:-unknown}, most errors are type mismatches of the generator)"
    total=$((total + ran))
    [ "$ran" -gt 0 ]
    result $? "the $name run executed no query (see $OUT/$name.err)"
    SEED=$((SEED + 1))
done

# Backend crashes, whatever the run: PostgreSQL logs the signal or the exit
# status of the server process, and restarts.
new_log() { tail -c +$((log_offset + 1)) "$LOG"; }
crashes=$(new_log | grep -E 'server process \(PID [0-9]+\) (was terminated|exited with exit code)|PANIC:' || true)
if [ -n "$crashes" ]; then
    echo "$crashes" | head -20
    new_log | grep -A1 'was terminated by signal' | grep 'Failed process was running' | head -20
fi
[ -z "$crashes" ]
result $? "the server log shows a backend crash"
# Other processes of the server (checkpointer, background writer) run none
# of the extension's code; their crashes are shown, not counted.
others=$(new_log | grep -E 'process \(PID [0-9]+\) was terminated by signal' | grep -v 'server process' || true)
[ -z "$others" ] || { echo "not a backend:"; echo "$others"; }
psql -X -q -At -d "$DB" -c "SELECT 1" >/dev/null
result $? "the server does not answer after the runs"

# How often the generated queries named each of the extension's functions,
# and how many of those calls returned normally (most get NULL or
# ill-typed arguments and raise, which is as much a test).
grep -ohE 'public\.[a-z_]+\(' "$OUT"/*.sql | sed 's/^public\.//; s/($//' | sort | uniq -c >"$OUT/named.txt"
psql -X -q -At -F ' ' -d "$DB" -c "
    SELECT p.proname, coalesce(sum(f.calls), 0)
    FROM pg_proc p
    JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'projection_offset'
    LEFT JOIN pg_stat_user_functions f ON f.funcid = p.oid
    GROUP BY 1 ORDER BY 1" >"$OUT/returned.txt"
echo "the extension's functions in the executed queries (named / returned normally):"
while read -r fn returned; do
    named=$(awk -v f="$fn" '$2 == f {print $1}' "$OUT/named.txt")
    printf '  %-34s %6d / %d\n' "$fn" "${named:-0}" "$returned"
done <"$OUT/returned.txt"

if [ "$failed" = 0 ]; then
    rm -rf "$OUT"
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "DROP ROLE IF EXISTS po_smith"
else
    echo "sqlsmith output kept in $OUT"
fi
echo "sqlsmith: $total queries executed, no backend crash: $([ "$failed" = 0 ] && echo yes || echo no)"
echo "sqlsmith: $passed passed, $failed failed"
[ "$failed" = 0 ]
