#!/usr/bin/env bash
# The projection worker: throughput on a backlog, beside a client applying
# the same events itself, and the latency from an event's commit to its
# projector, at low and high load. Prints a table; asserts nothing.
#
#   sudo bash bench/worker.sh              # about 2 minutes
#   sudo bash bench/worker.sh --events 100000 --rounds 5 --seconds 30
#
# Options:
#   --events N      events in each backlog, default 50000
#   --batch B       batch size of the worker's handlers and of the client, default 500
#   --rounds R      throughput rounds, each on a new backlog; the median is kept, default 3
#   --seconds S     duration of each latency load (pgbench -T), default 10
#   --clients C     pgbench clients of the high load, default 4
#   --no-build      use the installed extension as it is
# Environment: PO_PORT (default 54375), PO_KEEP_CLUSTER=1 keeps the cluster.
#
# Throughput: N events are appended in one statement while the worker's
# handler is paused; projection_resume releases them, and the worker's
# events/s run from that commit to the last projector call. The client way
# then applies the same N events: CALL client_apply() (bench/worker/setup.sql)
# reads batches of B events in position order and applies each with
# apply_with_offset_batch in a transaction of its own, with the same
# projector, from inside the server (no round trips), until the end; its
# events/s run from the CALL to the last projector call. The projector adds
# the event's amount to a row of a 100,000-row read model and records when
# it ran.
#
# Latency: events appended by pgbench (bench/worker/append.sql, one event per
# transaction) to a second table with a handler of its own; per event, from
# its commit (track_commit_timestamp) to its projector's clock_timestamp().
# Low load: one client at 50 appends/s on average (pgbench -R 50, one every
# 20 ms); high load: C clients as fast as they go. After each load the worker
# is waited for until it has caught up; p50, p99 and max over all the events
# of that load, and the worker's applied/s over it (from the first commit to
# the last projector call; below appends/s when the appends outran it).
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../scripts/common.sh
source "$BENCH/../scripts/common.sh"

EVENTS=50000
BATCH=500
ROUNDS=3
SECONDS_PER_LOAD=10
CLIENTS=4
BUILD=1
while [ $# -gt 0 ]; do
    case $1 in
        --events) EVENTS=$2; shift 2 ;;
        --batch) BATCH=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --seconds) SECONDS_PER_LOAD=$2; shift 2 ;;
        --clients) CLIENTS=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

require_root
ensure_packages
[ "$BUILD" = 1 ] && build_and_install

OUT=$BENCH/out
mkdir -p "$OUT"
DB=po_bench_worker
bench_settings off
SETTINGS=("${BENCH_SETTINGS[@]}" "track_commit_timestamp = on")
export PO_PORT=${PO_PORT:-54375}
trap cluster_stop EXIT
cluster_start "${SETTINGS[@]}"
q() { psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

createdb "$DB"
q -f "$BENCH/worker/setup.sql" >/dev/null
# The worker's databases are read at server start: the database exists now.
echo "projection_offset.worker_databases = '$DB'" >>"$CLUSTER_DIR/data/postgresql.conf"
as_os_user pg_ctl -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -m fast -w restart >/dev/null
q -c "SELECT projection_register('bench_worker', 'bench_project(text,jsonb)', 'events', batch_size => $BATCH)" \
  -c "SELECT projection_pause('bench_worker')" \
  -c "SELECT projection_register('bench_stream', 'bench_project(text,jsonb)', 'stream_events', batch_size => $BATCH)" >/dev/null

# Waits for a condition (a query returning t), polling every 20 ms.
wait_for() {
    local what=$1 query=$2 start=$SECONDS
    until [ "$(q -c "$query")" = t ]; do
        [ $((SECONDS - start)) -lt 600 ] || die "gave up after 600 s waiting for $what"
        sleep 0.02
    done
}
caught_up() {  # caught_up HANDLER SOURCE
    wait_for "$1 to catch up" "SELECT h.\"position\" IS NOT NULL AND h.\"position\" >= (SELECT max(\"position\") FROM $2)
                                 FROM projection_offset_handler h WHERE h.handler_name = '$1'"
}
wait_for "the projection worker" "SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type LIKE 'projection_offset%'"

{
    echo "== configuration"
    echo "machine:    $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "server:     $(q -c 'SHOW server_version'), Unix socket, fsync = on"
    for s in "${SETTINGS[@]}"; do echo "            $s"; done
    echo "            projection_offset.worker_naptime = $(q -c 'SHOW projection_offset.worker_naptime')"
    echo "extension:  projection_offset $(q -c "SELECT extversion FROM pg_extension WHERE extname = 'projection_offset'")"
    echo "throughput: backlogs of $EVENTS events, batches of $BATCH, median of $ROUNDS round(s)"
    echo "latency:    $SECONDS_PER_LOAD s per load; high load: $CLIENTS pgbench clients"
    echo "load:       $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at start"
} | tee "$OUT/worker-config.txt"

# Seconds from epoch START to the last projector call recorded in applied.
since() { q -c "SELECT extract(epoch FROM max(applied_at)) - $1 FROM applied"; }
now() { q -c "SELECT extract(epoch FROM clock_timestamp())"; }
fresh_start() { q -c "TRUNCATE applied" -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null; }

echo
echo "== throughput"
: >"$OUT/worker-rounds.tsv"
for round in $(seq 1 "$ROUNDS"); do
    q -c "SELECT append_backlog($EVENTS)" >/dev/null
    after=$(q -c "SELECT max(\"position\") - $EVENTS FROM events")

    fresh_start
    t0=$(q -c "SELECT projection_resume('bench_worker')" -c "SELECT extract(epoch FROM clock_timestamp())" | tail -n 1)
    caught_up bench_worker events
    worker_s=$(since "$t0")
    applied=$(q -c "SELECT count(*) FROM applied")
    q -c "SELECT projection_pause('bench_worker')" >/dev/null

    fresh_start
    t0=$(now)
    q -c "CALL client_apply($after, $BATCH)"
    client_s=$(since "$t0")
    [ "$applied" = "$EVENTS" ] && [ "$(q -c "SELECT count(*) FROM applied")" = "$EVENTS" ] \
        || die "round $round: the worker applied $applied events, the client $(q -c "SELECT count(*) FROM applied"), of $EVENTS"

    awk -v r="$round" -v n="$EVENTS" -v w="$worker_s" -v c="$client_s" \
        'BEGIN { printf "%s\t%.0f\t%.0f\n", r, n / w, n / c }' >>"$OUT/worker-rounds.tsv"
    awk -F'\t' -v r="$round" '$1 == r { printf "  round %s  worker %8d events/s   client %8d events/s\n", $1, $2, $3 }' \
        "$OUT/worker-rounds.tsv"
done

echo
echo "== latency"
# latency LABEL PGBENCH-OPTIONS...: one load on the stream, then its figures.
latency() {
    local label=$1; shift
    local before
    fresh_start
    before=$(q -c "SELECT coalesce(max(\"position\"), 0) FROM stream_events")
    pgbench -n "$@" -T "$SECONDS_PER_LOAD" -f "$BENCH/worker/append.sql" "$DB" >"$OUT/worker-pgbench.log" 2>&1 \
        || { cat "$OUT/worker-pgbench.log"; die "pgbench failed"; }
    caught_up bench_stream stream_events
    q -F $'\t' -c "
        SELECT '$label', count(*), round(count(*) / $SECONDS_PER_LOAD::numeric),
               round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
               round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
               round(max(ms)::numeric, 1),
               round(count(*) / extract(epoch FROM max(applied_at) - min(committed_at))::numeric)
          FROM (SELECT extract(epoch FROM a.applied_at - pg_xact_commit_timestamp(e.xmin)) * 1000 AS ms,
                       a.applied_at, pg_xact_commit_timestamp(e.xmin) AS committed_at
                  FROM stream_events e JOIN applied a ON a.event_id = e.id::text
                 WHERE e.\"position\" > $before) s" >>"$OUT/worker-latency.tsv"
    tail -n 1 "$OUT/worker-latency.tsv"
}
: >"$OUT/worker-latency.tsv"
latency "low" -c 1 -R 50
latency "high" -c "$CLIENTS" -j 2

# Medians of the rounds, and the table.
median() { cut -f"$1" "$OUT/worker-rounds.tsv" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
worker_eps=$(median 2)
client_eps=$(median 3)
{
    echo
    echo "throughput: a backlog of $EVENTS events in batches of $BATCH, median of $ROUNDS round(s)"
    echo
    echo "| way | events/s |"
    echo "|---|---|"
    printf '| worker, from projection_resume to the last event | %.0f |\n' "$worker_eps"
    printf '| client, CALL client_apply (apply_with_offset_batch per batch) | %.0f |\n' "$client_eps"
    awk -v w="$worker_eps" -v c="$client_eps" 'BEGIN { printf "| worker / client | %.2f |\n", w / c }'
    echo
    echo "latency: from an event's commit to its projector, $SECONDS_PER_LOAD s of load each"
    echo
    echo "| load | events | appends/s | applied/s | p50 ms | p99 ms | max ms |"
    echo "|---|---|---|---|---|---|---|"
    awk -F'\t' -v c="$CLIENTS" '{
        label = ($1 == "low") ? "low: 1 client, one append every ~20 ms" : "high: " c " pgbench clients"
        printf "| %s | %s | %s | %s | %s | %s | %s |\n", label, $2, $3, $7, $4, $5, $6 }' "$OUT/worker-latency.tsv"
    echo
    echo "applied/s: the events of the load over the time from the first commit to the last projector call"
} | tee "$OUT/worker.txt"
