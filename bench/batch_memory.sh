#!/usr/bin/env bash
# Peak memory of one backend applying a large batch, beside hand-written
# set-based SQL doing the same work.
#
#   sudo bash bench/batch_memory.sh [--no-build] [N]   (default 1000000 events)
#
# The events document (N events as one jsonb array, as a client would send
# it) is stored in a table first, so that building it is not measured. Each
# way then runs in a fresh backend:
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
#
# Two measures per way, and each one's ratio to the hand-written way:
#   VmHWM    the growth of the backend's peak resident set during the
#            statement, which the backend reads itself (/proc/self/status,
#            through pg_read_file) before and after it. Exact, but it mixes
#            three kinds of pages: private memory; the shared buffers the
#            backend touched (RssShmem, at most shared_buffers, 128 MB by
#            default, which every way here reaches at 1,000,000 events); and
#            mapped files (RssFile), such as the LLVM library JIT compilation
#            loads (about 60 MB), shared with every process and only
#            for statements whose estimated cost reaches jit_above_cost
#            (here the hand-written one, not the extension's).
#   private  the peak of the backend's anonymous memory (RssAnon: palloc'd
#            memory and whatever malloc keeps of it) during the statement,
#            less its value before. It is sampled from outside every
#            PO_BATCH_MEMORY_INTERVAL seconds (default 0.02) in
#            /proc/PID/status, so a peak shorter than that may be missed (the
#            figure is a lower bound), and it needs the server on this
#            machine (else "n/a"). The peak of RssShmem is shown beside it.
# PGOPTIONS passes settings to every way (e.g. PGOPTIONS='-c jit=off').
#
# Against a running server when PGHOST is set (superuser; it reads
# /proc/self/status with pg_read_file), else on a throwaway cluster of its
# own on PO_PORT (default 54372), running a private copy of the host's
# PostgreSQL with this checkout's build (--no-build: the extension installed
# on the host). PO_BATCH_MEMORY_WAYS selects ways.
# With PO_BATCH_MEMORY_BOUND (a ratio, e.g. 1.5) it also checks that each
# way of PO_BATCH_MEMORY_CHECK (default "each set") grows VmHWM by at most
# that ratio times the hand-written way, and ends with
# "batch-memory: N passed, N failed" and a non-zero status on failure.
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$BENCH/../scripts/common.sh"

BUILD=1
if [ "${1:-}" = --no-build ]; then
    BUILD=0
    shift
fi
N=${1:-1000000}
WAYS=${PO_BATCH_MEMORY_WAYS:-sql each set set-plpgsql}
INTERVAL=${PO_BATCH_MEMORY_INTERVAL:-0.02}
DB=po_batch_memory
[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -gt 0 ] || die "usage: $0 [--no-build] [N]"

WORK=$(mktemp -d /tmp/po_batch_memory.XXXXXX)
if [ -z "${PGHOST:-}" ]; then
    require_root
    PO_PORT=${PO_PORT:-54372}
    trap 'cluster_stop; bench_cleanup; rm -rf "$WORK"' EXIT
    bench_install "$BUILD"
    cluster_start
else
    trap 'rm -rf "$WORK"' EXIT
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
CREATE FUNCTION rss_anon_kb() RETURNS bigint LANGUAGE sql
RETURN substring(pg_read_file('/proc/self/status') FROM 'RssAnon:\s+(\d+) kB')::bigint;
CREATE FUNCTION rss_shmem_kb() RETURNS bigint LANGUAGE sql
RETURN substring(pg_read_file('/proc/self/status') FROM 'RssShmem:\s+(\d+) kB')::bigint;
-- The backend's pid and start time (field 22 of /proc/PID/stat), which
-- tell whether /proc/PID here is that backend.
CREATE FUNCTION backend_identity() RETURNS text LANGUAGE sql
RETURN pg_backend_pid() || ' ' || substring(pg_read_file('/proc/self/stat') FROM '\) (?:\S+ ){19}(\S+)');
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

# sample PIDFILE PSQL_PID: waits for the backend's identity in PIDFILE,
# then reads its /proc/PID/status every INTERVAL seconds while psql runs;
# prints the peaks of RssAnon and RssShmem in kB and the number of samples,
# or "n/a n/a 0" when /proc/PID is not that backend (another machine's).
sample() {
    local pidfile=$1 psql_pid=$2 pid= start= anon=0 shmem=0 samples=0 key value _
    while kill -0 "$psql_pid" 2>/dev/null && ! read -r pid start <"$pidfile"; do sleep "$INTERVAL"; done
    if [ -z "$pid" ] || [ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f20)" != "$start" ]; then
        echo "n/a n/a 0"
        return
    fi
    while kill -0 "$psql_pid" 2>/dev/null; do
        while read -r key value _; do
            case $key in
            RssAnon:) [ "$value" -le "$anon" ] || anon=$value ;;
            RssShmem:) [ "$value" -le "$shmem" ] || shmem=$value ;;
            esac
        done <"/proc/$pid/status" 2>/dev/null || true
        samples=$((samples + 1))
        sleep "$INTERVAL"
    done
    echo "$anon $shmem $samples"
}

# kb_ratio A B: A / B to two decimals, or n/a.
kb_ratio() {
    if [[ "$1" =~ ^[0-9]+$ && "$2" =~ ^[0-9]+$ ]] && [ "$2" -gt 0 ]; then
        echo "scale=4; $1 / $2" | bc
    else
        echo n/a
    fi
}

declare -A growth private
for way in $WAYS; do
    psql_db -c "TRUNCATE projection_offset" -c "VACUUM ANALYZE order_totals" -c "CHECKPOINT"
    pidfile=$WORK/pid
    : >"$pidfile"
    start=$(date +%s.%N)
    # The backend names itself first, and gives the sampler time to start.
    psql_db -At -F ' ' >"$WORK/out" <<SQL &
\o $pidfile
SELECT backend_identity();
\o /dev/null
SELECT pg_sleep(0.1);
\o
SELECT vm_hwm_kb() AS before, rss_anon_kb() AS anon_before, rss_shmem_kb() AS shmem_before \gset
\o /dev/null
$(statement_of "$way");
\o
SELECT :before, vm_hwm_kb(), :anon_before, :shmem_before;
SQL
    psql_pid=$!
    read -r anon_peak shmem_peak samples < <(sample "$pidfile" "$psql_pid")
    wait "$psql_pid" || die "$way failed"
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    read -r before after anon_before shmem_before <"$WORK/out"
    rows=$(psql_db -At -c "SELECT count(*) FROM projection_offset")
    [ "$rows" = "$N" ] || die "$way recorded $rows offsets, not $N"
    growth[$way]=$((after - before))
    if [ "$anon_peak" = n/a ]; then
        private[$way]=n/a
        shared=n/a
    else
        private[$way]=$((anon_peak > anon_before ? anon_peak - anon_before : 0))
        shared=$((shmem_peak > shmem_before ? shmem_peak - shmem_before : 0))
    fi
    printf '%-11s VmHWM %7d kB -> %7d kB: +%7s kB; private peak +%7s kB, shared +%7s kB (%d samples); %.1f s\n' \
        "$way" "$before" "$after" "${growth[$way]}" "${private[$way]}" "$shared" "$samples" "$seconds"
done

passed=0
failed=0
if [ -n "${growth[sql]:-}" ]; then
    for way in $WAYS; do
        [ "$way" = sql ] && continue
        ratio=$(kb_ratio "${growth[$way]}" "${growth[sql]}")
        private_ratio=$(kb_ratio "${private[$way]}" "${private[sql]}")
        verdict=
        if [ -n "${PO_BATCH_MEMORY_BOUND:-}" ] && [[ " ${PO_BATCH_MEMORY_CHECK:-each set} " == *" $way "* ]]; then
            if [ "$(echo "$ratio <= $PO_BATCH_MEMORY_BOUND" | bc)" = 1 ]; then
                verdict=" (at most $PO_BATCH_MEMORY_BOUND: ok)"; passed=$((passed + 1))
            else
                verdict=" (at most $PO_BATCH_MEMORY_BOUND: FAILED)"; failed=$((failed + 1))
            fi
        fi
        [ "$private_ratio" = n/a ] || private_ratio=$(printf '%.2f' "$private_ratio")
        printf '%-11s / sql: VmHWM %.2f%s, private %s\n' "$way" "$ratio" "$verdict" "$private_ratio"
    done
fi
[ -n "${PO_KEEP_DB:-}" ] || psql -X -q -d postgres -c "DROP DATABASE $DB"
if [ -n "${PO_BATCH_MEMORY_BOUND:-}" ]; then
    echo "batch-memory: $passed passed, $failed failed"
    [ "$failed" = 0 ]
fi
