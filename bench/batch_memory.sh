#!/usr/bin/env bash
# Peak memory of one backend applying a large batch, beside hand-written
# set-based SQL doing the same work.
#
#   sudo bash bench/batch_memory.sh [N]        (default 1000000 events)
#
# The events document (N events as one jsonb array, as a client would send
# it) is stored in a table first, so that building it is not measured. Each
# way then runs in a fresh backend, which reads its own peak resident set
# (VmHWM in /proc/self/status) before and after the statement:
#   sql    hand-written: INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING
#          into projection_offset, and one UPDATE … FROM of the read model
#          for the events recorded now
#   each   apply_with_offset_batch with a per-event PL/pgSQL projector
#          (one UPDATE per event)
#   set    apply_with_offset_batch with a set projector (text[], jsonb[]) in
#          LANGUAGE sql doing that UPDATE … FROM for the events it is given
#   set-plpgsql  the same set projector in PL/pgSQL, which copies its array
#          arguments (it expands them, and its plans take parameter values
#          as constants): the difference from "set" is the language's
# Every way records the same rows (hash included) into an empty offset table.
# Prints, per way, the growth of VmHWM during the statement and its ratio to
# the hand-written one. VmHWM counts shared buffers the backend touched as
# well (at most shared_buffers, 128 MB by default), for every way alike.
#
# Against a running server when PGHOST is set (superuser; it reads
# /proc/self/status with pg_read_file), else on a throwaway cluster of its
# own on PO_PORT (default 54372). PO_BATCH_MEMORY_WAYS selects ways.
# With PO_BATCH_MEMORY_BOUND (a ratio, e.g. 1.5) it also checks that each
# way of PO_BATCH_MEMORY_CHECK (default "each set") grows by at most that
# ratio times the hand-written way, and ends with
# "batch-memory: N passed, N failed" and a non-zero status on failure.
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$BENCH/../scripts/common.sh"

N=${1:-1000000}
WAYS=${PO_BATCH_MEMORY_WAYS:-sql each set set-plpgsql}
DB=po_batch_memory
[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -gt 0 ] || die "usage: $0 [N]"

if [ -z "${PGHOST:-}" ]; then
    require_root
    PO_PORT=${PO_PORT:-54372}
    trap cluster_stop EXIT
    cluster_start
fi

psql_db() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql_db <<SQL
CREATE EXTENSION projection_offset;
CREATE TABLE order_totals (order_id text PRIMARY KEY, total bigint NOT NULL DEFAULT 0,
                           events bigint NOT NULL DEFAULT 0);
INSERT INTO order_totals (order_id) SELECT 'o-' || g FROM generate_series(0, 99999) g;
CREATE TABLE events_doc AS
SELECT jsonb_agg(jsonb_build_object('event_id', 'e-' || n,
                                    'payload', jsonb_build_object('order', 'o-' || n % 100000, 'amount', n % 100 + 1))
                 ORDER BY n) AS events
  FROM generate_series(1, $N) n;
CREATE FUNCTION project_each(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS \$\$
BEGIN
    UPDATE order_totals SET total = total + (payload->>'amount')::bigint, events = events + 1
     WHERE order_id = payload->>'order';
END
\$\$;
CREATE FUNCTION project_set(event_ids text[], payloads jsonb[]) RETURNS void
LANGUAGE sql AS \$\$
    UPDATE order_totals o SET total = o.total + s.amount, events = o.events + s.n
      FROM (SELECT p->>'order' AS order_id, sum((p->>'amount')::bigint) AS amount, count(*) AS n
              FROM unnest(payloads) AS p GROUP BY 1) s
     WHERE o.order_id = s.order_id
\$\$;
CREATE FUNCTION project_set_plpgsql(event_ids text[], payloads jsonb[]) RETURNS void
LANGUAGE plpgsql AS \$\$
BEGIN
    UPDATE order_totals o SET total = o.total + s.amount, events = o.events + s.n
      FROM (SELECT p->>'order' AS order_id, sum((p->>'amount')::bigint) AS amount, count(*) AS n
              FROM unnest(payloads) AS p GROUP BY 1) s
     WHERE o.order_id = s.order_id;
END
\$\$;
CREATE FUNCTION vm_hwm_kb() RETURNS bigint LANGUAGE sql
RETURN substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s+(\d+) kB')::bigint;
SQL
size=$(psql_db -At -c "SELECT pg_size_pretty(pg_column_size(events)::bigint) FROM events_doc")
echo "events document: $N events, $size stored"

statement_of() {
    case $1 in
    sql) cat <<'SQL'
WITH ev AS (
    SELECT e->>'event_id' AS id, e->'payload' AS payload
      FROM events_doc, jsonb_array_elements(events_doc.events) AS e
), claimed AS (
    INSERT INTO projection_offset ("eventId", "handlerName", "payloadHash")
    SELECT id, 'memory', encode(sha256(convert_to(payload::text, 'UTF8')), 'hex') FROM ev
    ON CONFLICT ("eventId", "handlerName") DO NOTHING
    RETURNING "eventId"
), sums AS (
    SELECT ev.payload->>'order' AS order_id, sum((ev.payload->>'amount')::bigint) AS amount, count(*) AS n
      FROM ev JOIN claimed ON claimed."eventId" = ev.id
     GROUP BY 1
)
UPDATE order_totals o SET total = o.total + sums.amount, events = o.events + sums.n
  FROM sums WHERE o.order_id = sums.order_id
SQL
    ;;
    set) echo "SELECT apply_with_offset_batch('memory', 'project_set(text[],jsonb[])'::regprocedure, (SELECT events FROM events_doc))" ;;
    set-plpgsql) echo "SELECT apply_with_offset_batch('memory', 'project_set_plpgsql(text[],jsonb[])'::regprocedure, (SELECT events FROM events_doc))" ;;
    each) echo "SELECT apply_with_offset_batch('memory', 'project_each(text,jsonb)'::regprocedure, (SELECT events FROM events_doc))" ;;
    *) die "unknown way $1" ;;
    esac
}

declare -A growth
for way in $WAYS; do
    psql_db -c "TRUNCATE projection_offset" -c "VACUUM ANALYZE order_totals" -c "CHECKPOINT"
    start=$(date +%s.%N)
    read -r before after < <(psql_db -At -F ' ' <<SQL
SELECT vm_hwm_kb() AS before \gset
\o /dev/null
$(statement_of "$way");
\o
SELECT :before, vm_hwm_kb();
SQL
)
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    rows=$(psql_db -At -c "SELECT count(*) FROM projection_offset")
    [ "$rows" = "$N" ] || die "$way recorded $rows offsets, not $N"
    growth[$way]=$((after - before))
    printf '%-11s VmHWM %7d kB -> %7d kB: +%7d kB during the statement (%.1f s)\n' \
        "$way" "$before" "$after" "${growth[$way]}" "$seconds"
done

passed=0
failed=0
if [ -n "${growth[sql]:-}" ]; then
    for way in $WAYS; do
        [ "$way" = sql ] && continue
        ratio=$(echo "scale=4; ${growth[$way]} / ${growth[sql]}" | bc)
        verdict=
        if [ -n "${PO_BATCH_MEMORY_BOUND:-}" ] && [[ " ${PO_BATCH_MEMORY_CHECK:-each set} " == *" $way "* ]]; then
            if [ "$(echo "$ratio <= $PO_BATCH_MEMORY_BOUND" | bc)" = 1 ]; then
                verdict=" (at most $PO_BATCH_MEMORY_BOUND: ok)"; passed=$((passed + 1))
            else
                verdict=" (at most $PO_BATCH_MEMORY_BOUND: FAILED)"; failed=$((failed + 1))
            fi
        fi
        printf '%-11s / sql: %.2f%s\n' "$way" "$ratio" "$verdict"
    done
fi
[ -n "${PO_KEEP_DB:-}" ] || psql -X -q -d postgres -c "DROP DATABASE $DB"
if [ -n "${PO_BATCH_MEMORY_BOUND:-}" ]; then
    echo "batch-memory: $passed passed, $failed failed"
    [ "$failed" = 0 ]
fi
