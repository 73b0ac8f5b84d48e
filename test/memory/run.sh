#!/usr/bin/env bash
# Memory footprint of one backend over many apply_with_offset calls.
#
# Four ways of calling, each in a fresh backend of its own:
#   select      one SELECT over generate_series(1, N)
#   do          a PL/pgSQL DO loop of N calls
#   statements  N separate statements (each its own transaction) in one
#               psql session, generated with \gexec
#   churn       a DO loop of N calls to a SQL-language projector, with a
#               change to pg_proc (CREATE OR REPLACE FUNCTION of an unrelated
#               function, then COMMIT) every N/1000 calls, as any function
#               DDL or GRANT in the database causes in every backend
# Each event is delivered twice in a row: half the calls record a pair,
# half are re-deliveries whose payload hash is compared with the stored one.
#
# The backend samples its own memory every N/10 calls (RssAnon and VmRSS
# from /proc/<pid>/status, and the total of pg_backend_memory_contexts).
# The check: between the second sample (after N/10 calls, caches warm) and
# the last, RssAnon grows by at most PO_MEM_BOUND_KB (default 1024 kB) and
# the memory contexts by at most PO_MEM_CONTEXT_BOUND_KB (default 256 kB).
# A leak of 12 bytes per call fails it at N = 100,000; of 2 bytes at 1,000,000.
#
# Usage: bash test/memory/run.sh [N]      (default 100000)
# PO_MEM_STATEMENT_CALLS sets a smaller count for the statements mode, the
# slowest (one round trip per call); it defaults to N.
# Needs PGHOST, PGPORT, PGUSER of a running server with the extension
# installed, as a superuser (it reads /proc/self/status with pg_read_file).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
N=${1:-100000}
MODES=${PO_MEM_MODES:-select do statements churn}
BOUND_KB=${PO_MEM_BOUND_KB:-1024}
CONTEXT_BOUND_KB=${PO_MEM_CONTEXT_BOUND_KB:-256}
DB=${PO_MEM_DB:-projection_offset_memory}
STATEMENT_N=${PO_MEM_STATEMENT_CALLS:-$N}
for n in "$N" "$STATEMENT_N"; do
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 10000 ] && [ $((n % 10000)) = 0 ] \
        || { echo "usage: $0 [N], N a multiple of 10000" >&2; exit 2; }
done
calls_of() { if [ "$1" = statements ]; then echo "$STATEMENT_N"; else echo "$N"; fi; }

psql_db() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql_db -f "$HERE/setup.sql" >/dev/null

for mode in $MODES; do
    start=$(date +%s)
    CALLS=$(calls_of "$mode")
    STEP=$((CALLS / 10))
    # churn: 1,000 catalog changes whatever N (every 100 calls at 100,000),
    # so that PostgreSQL's own per-statement memory for them stays small.
    CHURN_EVERY=$((CALLS / 1000))
    case "$mode" in
    select)
        psql_db -c "SELECT po_mem_sample('select', 0)" \
                -c "SELECT count(*) FILTER (WHERE recorded) AS recorded FROM (
                        SELECT po_mem_apply('select', g) AS recorded,
                               CASE WHEN g % $STEP = 0 THEN po_mem_sample('select', g) END
                        FROM generate_series(1, $CALLS) g) calls" >/dev/null
        ;;
    do)
        psql_db -c "SELECT po_mem_sample('do', 0)" -c "
            DO \$\$
            BEGIN
                FOR g IN 1..$CALLS LOOP
                    PERFORM po_mem_apply('do', g);
                    IF g % $STEP = 0 THEN
                        PERFORM po_mem_sample('do', g);
                    END IF;
                END LOOP;
            END
            \$\$" >/dev/null
        ;;
    statements)
        # One session; the generator queries are chunked so that psql holds
        # at most 10,000 generated statements at a time.
        {
            echo "SELECT po_mem_sample('statements', 0);"
            for ((first = 1; first <= CALLS; first += 10000)); do
                echo "SELECT format('SELECT po_mem_apply(%L, %s)%s', 'statements', g,"
                echo "              CASE WHEN g % $STEP = 0 THEN format(', po_mem_sample(%L, %s)', 'statements', g) ELSE '' END)"
                echo "FROM generate_series($first, $((first + 9999))) g \\gexec"
            done
        } | psql_db -o /dev/null
        ;;
    churn)
        psql_db -c "SELECT po_mem_sample('churn', 0)" -c "
            DO \$\$
            BEGIN
                FOR g IN 1..$CALLS LOOP
                    IF g % $CHURN_EVERY = 0 THEN
                        EXECUTE format('CREATE OR REPLACE FUNCTION po_mem_churn() RETURNS int LANGUAGE sql AS %L',
                                       'SELECT ' || g);
                        -- PostgreSQL keeps a transaction's invalidation
                        -- messages until it ends: commit, so that only the
                        -- extension's memory is measured.
                        COMMIT;
                    END IF;
                    PERFORM po_mem_apply_sql('churn', g);
                    IF g % $STEP = 0 THEN
                        PERFORM po_mem_sample('churn', g);
                    END IF;
                END LOOP;
            END
            \$\$" >/dev/null
        ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
    esac
    echo "$mode: $CALLS calls in $(( $(date +%s) - start )) s"
done

echo
psql_db -c "SELECT mode, calls, pid, rss_anon_kb, vm_rss_kb, contexts_kb FROM po_mem_samples ORDER BY mode, calls"

# Per mode: one backend; growth from the second to the last sample.
verdicts=$(psql_db -At -F ' ' -c "
    WITH s AS (
        SELECT mode, calls, pid, rss_anon_kb, contexts_kb,
               row_number() OVER (PARTITION BY mode ORDER BY calls) AS n,
               count(*) OVER (PARTITION BY mode) AS samples
        FROM po_mem_samples)
    SELECT a.mode,
           (SELECT count(DISTINCT pid) FROM s x WHERE x.mode = a.mode) AS backends,
           a.samples,
           b.rss_anon_kb - a.rss_anon_kb AS rss_growth,
           b.contexts_kb - a.contexts_kb AS context_growth,
           (SELECT count(*) FROM projection_offset o WHERE o.\"handlerName\" = 'memory-' || a.mode) AS rows,
           a.calls AS from_call, b.calls AS to_call
    FROM s a JOIN s b ON b.mode = a.mode AND b.n = b.samples
    WHERE a.n = 2
    ORDER BY a.mode")

passed=0
failed=0
while read -r mode backends samples rss_growth context_growth rows from_call to_call; do
    [ -n "$mode" ] || continue
    n=$(calls_of "$mode")
    verdict=ok
    problems=()
    [ "$backends" = 1 ] || problems+=("sampled in $backends backends")
    [ "$samples" = 11 ] || problems+=("$samples samples instead of 11")
    [ "$to_call" = "$n" ] || problems+=("last sample after $to_call calls instead of $n")
    [ "$rows" = $((n / 2)) ] || problems+=("$rows rows recorded instead of $((n / 2))")
    [ "$rss_growth" -le "$BOUND_KB" ] || problems+=("RssAnon grew by $rss_growth kB > $BOUND_KB kB")
    [ "$context_growth" -le "$CONTEXT_BOUND_KB" ] || problems+=("memory contexts grew by $context_growth kB > $CONTEXT_BOUND_KB kB")
    if [ ${#problems[@]} -gt 0 ]; then verdict=FAIL; failed=$((failed + 1)); else passed=$((passed + 1)); fi
    printf '%-4s %-10s RssAnon %+d kB, contexts %+d kB from call %d to %d (bounds %d kB, %d kB)%s\n' \
        "$verdict" "$mode" "$rss_growth" "$context_growth" "$from_call" "$to_call" "$BOUND_KB" "$CONTEXT_BOUND_KB" \
        "$( [ ${#problems[@]} -gt 0 ] && (IFS=';'; printf ': %s' "${problems[*]}"))"
done <<<"$verdicts"
for mode in $MODES; do
    grep -q "^$mode " <<<"$verdicts" || { echo "FAIL $mode: no samples"; failed=$((failed + 1)); }
done

[ -n "${PO_MEM_KEEP_DB:-}" ] || psql -X -q -d postgres -c "DROP DATABASE $DB"
echo "memory: $passed passed, $failed failed"
[ "$failed" = 0 ]
