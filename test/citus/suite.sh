#!/usr/bin/env bash
# projection_offset on a Citus cluster: a coordinator and two workers on
# loopback, the extension distributed with projection_offset_distribute().
# Through the coordinator: the contract (single and batch claims and
# applies, positions, checkpoints, release, reset, both prunes, status),
# delegated and not; counters per node; the harness; exactly-once with 4
# concurrent clients; an immediate stop of a worker during batches, then
# restart and the invariant (offsets = read-model mutations); dump and
# restore with distribution again; the drop path; and figures, plain
# against delegated (no timing is asserted).
#
# Citus has no Debian package: build it from the citusdata/citus source
# tree (tag v13.0.5 for PostgreSQL 15) and `make install` it for this
# server, or point PO_CITUS_SRC at that tree and the suite builds it;
# without citus.so the suite says so and passes nothing.
# Ports PO_CITUS_PORT .. +2 (default 54481). The extension must be
# installed (scripts/test.sh does it).
#     sudo bash test/citus/suite.sh
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../../scripts/common.sh"
source "$HERE/cluster.sh"
require_root

# Given a source tree (PO_CITUS_SRC, a checkout of citusdata/citus at a tag
# that supports this PostgreSQL), the suite builds and installs Citus from
# it when it is missing. It never fetches one.
CITUS_BUILD_PACKAGES=(autoconf flex bison libcurl4-openssl-dev libzstd-dev liblz4-dev libkrb5-dev
                      libssl-dev libselinux1-dev libxslt1-dev libpam0g-dev libreadline-dev libicu-dev)
if [ ! -e "$("$PG_BIN/pg_config" --pkglibdir)/citus.so" ] && [ -n "${PO_CITUS_SRC:-}" ]; then
    say "citus: building Citus from $PO_CITUS_SRC"
    build_log=$(mktemp)
    if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${CITUS_BUILD_PACKAGES[@]}" \
           && cd "$PO_CITUS_SRC" \
           && { [ -e Makefile.global ] || ./configure PG_CONFIG="$PG_BIN/pg_config"; } \
           && make -j2 && make install; } >"$build_log" 2>&1; then
        tail -20 "$build_log"
        echo "not ok - building Citus from $PO_CITUS_SRC (log: $build_log)"
        echo "citus: 0 passed, 1 failed"
        exit 1
    fi
    cd "$HERE" || exit 1
    rm -f "$build_log"
fi
if [ ! -e "$("$PG_BIN/pg_config" --pkglibdir)/citus.so" ]; then
    echo "citus: skipped (Citus is not installed for PostgreSQL $PG_MAJOR; build it from the citusdata/citus source tree, tag v13.0.5)"
    echo "(PO_CITUS_SRC=/path/to/that/tree lets this suite build and install it.)"
    echo "citus: 0 passed, 0 failed"
    exit 0
fi

unset PGHOST PGPORT PGDATABASE PGUSER CLUSTER_DIR
work=$(mktemp -d)
chmod 755 "$work"
passed=0
failed=0
check() { # name expected actual
    if [ "$2" = "$3" ]; then
        passed=$((passed + 1)); echo "ok - $1"
    else
        failed=$((failed + 1)); echo "not ok - $1"
        diff <(echo "$2") <(echo "$3") | head -40
    fi
}
finish() {
    citus_cluster_stop
    rm -rf "$work"
    echo "citus: $passed passed, $failed failed"
    [ "$failed" = 0 ]
}
trap 'finish; exit $?' EXIT


say "citus: starting a coordinator and two workers"
citus_cluster_start || { failed=$((failed + 1)); echo "not ok - cluster start"; exit 1; }
echo "citus $(nq 0 -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'") on ports $(node_port 0)-$(node_port 2)"

say "citus: distribute"
nq 0 -c "CREATE EXTENSION projection_offset" -c "SELECT offset_claim('before', 'distribute')" >/dev/null
check "distribute, twice" "" "$(nq 0 -c "SELECT projection_offset_distribute()" -c "SELECT projection_offset_distribute()" 2>&1 | tr -d '\n')"
check "every table distributed by handlerName, colocated" \
"projection_offset|h|handlerName|1
projection_offset_checkpoint|h|handlerName|1
projection_offset_position|h|handlerName|1" \
    "$(nq 0 -c "SELECT logicalrelid::text, partmethod, column_to_column_name(logicalrelid, partkey),
                       count(*) OVER (PARTITION BY colocationid) / 3
                FROM pg_dist_partition ORDER BY 1")"
check "the handler's functions distributed on handler_name, colocated" "12|12|12" \
    "$(nq 0 -c "SELECT count(*), count(*) FILTER (WHERE p.proargnames[d.distribution_argument_index + 1] = 'handler_name'),
                       count(*) FILTER (WHERE d.colocationid = (SELECT colocationid FROM pg_dist_partition
                                                                 WHERE logicalrelid = 'projection_offset'::regclass))
                FROM pg_dist_object d JOIN pg_proc p ON p.oid = d.objid
                WHERE d.classid = 'pg_proc'::regclass AND d.distribution_argument_index IS NOT NULL")"
check "rows claimed before distributing are kept" 1 \
    "$(nq 0 -c "SELECT count(*) FROM projection_offset WHERE \"eventId\" = 'before'")"
check "without the owner's grant no one may distribute" "42501" \
    "$(nq 0 -c "CREATE ROLE regress_citus_nobody" -c "SET ROLE regress_citus_nobody" \
        -c "\\set ON_ERROR_STOP 0" -c "SELECT projection_offset_distribute()" -c "\\echo :LAST_ERROR_SQLSTATE" 2>/dev/null | tail -1)"

say "citus: the contract through the coordinator"
nq 0 -c "SELECT offset_reset('distribute')" >/dev/null
(cd "$HERE" && psql -X -a -h 127.0.0.1 -p "$(node_port 0)" -U postgres -d "$CITUS_DB" -f contract.sql) >"$work/contract.out" 2>&1
if diff -u "$HERE/expected/contract.out" "$work/contract.out" >"$work/contract.diff"; then
    check "contract" same same
else
    check "contract" "as in test/citus/expected/contract.out" "$(head -80 "$work/contract.diff")"
fi

say "citus: counters per node"
# A delegated call counts on the worker that ran it, one in a transaction
# block on the coordinator: the sum over the nodes is every claim.
nq 0 -c "SELECT run_command_on_all_nodes('SELECT projection_offset_counters_reset()')" >/dev/null
for i in $(seq 1 20); do echo "SELECT offset_claim('n-$i', 'counted-$((i % 4))');"; done | nq 0 >/dev/null
{ echo "BEGIN;"; for i in $(seq 1 20); do echo "SELECT offset_claim('n-$i', 'counted-$((i % 4))');"; done; echo "COMMIT;"; } | nq 0 >/dev/null
check "claims and duplicates summed over the nodes; delegated claims on the workers, the rest on the coordinator" "20|20|40" \
    "$(nq 0 -c "SELECT sum((r->>'claims')::bigint), sum((r->>'duplicates')::bigint),
                       sum((r->>'claims')::bigint) FILTER (WHERE n.nodeport <> $(node_port 0))
                       + sum((r->>'duplicates')::bigint) FILTER (WHERE n.nodeport = $(node_port 0))
                FROM run_command_on_all_nodes(\$\$SELECT coalesce(json_agg(c), '[]') FROM projection_offset_counters() c
                                                  WHERE handler_name LIKE 'counted-%'\$\$) a
                JOIN pg_dist_node n ON n.nodeid = a.nodeid,
                     json_array_elements(a.result::json) r")"

say "citus: the harness"
nq 0 -c "CREATE FUNCTION project_twice(event_id text, payload jsonb) RETURNS void LANGUAGE plpgsql AS \$\$
         BEGIN PERFORM offset_claim(event_id, 'harness');
               INSERT INTO totals VALUES ('harness', 'n', 1) ON CONFLICT (handler, k) DO UPDATE SET n = totals.n + 1; END \$\$" >/dev/null
check "without state_query on Citus tables it refuses" "0A000" \
    "$(nq 0 -c "\\set ON_ERROR_STOP 0" -c "SELECT assert_projector_idempotent('project_twice(text,jsonb)', '[{\"event_id\": \"h-1\"}]')" \
        -c "\\echo :LAST_ERROR_SQLSTATE" 2>/dev/null | tail -1)"
check "with state_query it finds the non-idempotent projector" "PJ002" \
    "$(nq 0 -c "\\set ON_ERROR_STOP 0" \
        -c "SELECT assert_projector_idempotent('project_twice(text,jsonb)', '[{\"event_id\": \"h-1\"}]', state_query => 'SELECT * FROM totals')" \
        -c "\\echo :LAST_ERROR_SQLSTATE" 2>/dev/null | tail -1)"
check "with state_query it passes an idempotent projector, with no handler named" "2|10" \
    "$(nq 0 -c "CREATE FUNCTION project_once(event_id text, payload jsonb) RETURNS void LANGUAGE plpgsql AS \$\$
                BEGIN IF offset_claim(event_id, 'harness') THEN PERFORM project_total(event_id, payload); END IF; END \$\$" \
            -c "SELECT events_checked, deliveries FROM assert_projector_idempotent('project_once(text,jsonb)',
                   '[{\"event_id\": \"h-1\", \"payload\": {\"h\": \"harness\", \"k\": \"a\"}},
                     {\"event_id\": \"h-2\", \"payload\": {\"h\": \"harness\", \"k\": \"b\"}}]', state_query => 'SELECT * FROM totals')")"

say "citus: exactly once with 4 concurrent clients"
# Every delivery appends a row to "applied", which has no unique key: a
# second application of a pair would show as a second row.
nq 0 -c "CREATE TABLE applied (handler text NOT NULL, event_id text NOT NULL)" \
     -c "SELECT create_distributed_table('applied', 'handler', colocate_with => 'projection_offset')" \
     -c "CREATE TABLE applied_by_event (event_id text NOT NULL, handler text NOT NULL)" \
     -c "SELECT create_distributed_table('applied_by_event', 'event_id')" \
     -c "CREATE FUNCTION record_event(event_id text, payload jsonb) RETURNS void LANGUAGE sql AS
         'INSERT INTO applied VALUES (payload->>''h'', event_id); INSERT INTO applied_by_event VALUES (event_id, payload->>''h'')'" >/dev/null
cat >"$work/single.sql" <<'SQL'
\set e random(1, 300)
\set h random(1, 6)
SELECT apply_with_offset('c-:e', 'conc-:h', 'record_event', '{"h": "conc-:h"}');
SQL
cat >"$work/in_tx.sql" <<'SQL'
\set e random(1, 300)
\set h random(1, 6)
BEGIN;
SELECT apply_with_offset('c-:e', 'conc-:h', 'record_event(text,jsonb)'::regprocedure, '{"h": "conc-:h"}');
COMMIT;
SQL
cat >"$work/batch.sql" <<'SQL'
\set e random(1, 300)
\set f random(1, 300)
\set h random(1, 6)
SELECT apply_with_offset_batch('conc-:h', 'record_event',
    '[{"event_id": "c-:e", "payload": {"h": "conc-:h"}}, {"event_id": "c-:f", "payload": {"h": "conc-:h"}}]');
SQL
chmod 644 "$work"/*.sql
pgbench_out=$(cd "$work" && pgbench -n -h 127.0.0.1 -p "$(node_port 0)" -U postgres -c 4 -j 2 -t 600 \
    -f single.sql@2 -f in_tx.sql@1 -f batch.sql@1 "$CITUS_DB" 2>&1)
check "4 clients, 2,400 deliveries, no client failed" "" "$(grep -iE 'error|abort' <<<"$pgbench_out" | head -5)"
invariant() { # handler LIKE pattern: pairs with an offset but not one mutation, or the reverse
    nq 0 -c "SELECT count(*) FROM projection_offset o
             FULL JOIN (SELECT handler, event_id, count(*) AS n FROM applied GROUP BY 1, 2) a
               ON a.handler = o.\"handlerName\" AND a.event_id = o.\"eventId\"
             WHERE coalesce(o.\"handlerName\", a.handler) LIKE '$1' AND (o.\"eventId\" IS NULL OR a.n IS DISTINCT FROM 1)" \
         -c "SELECT count(*) FROM (SELECT handler, event_id FROM applied_by_event WHERE handler LIKE '$1'
                                   GROUP BY 1, 2 HAVING count(*) <> 1) d" \
         -c "SELECT (SELECT count(*) FROM applied WHERE handler LIKE '$1') = (SELECT count(*) FROM applied_by_event WHERE handler LIKE '$1')" \
        | tr '\n' '|'
}
check "every applied pair has one offset and one mutation, on both read models" "0|0|t|" "$(invariant 'conc-%')"
echo "distinct pairs applied: $(nq 0 -c "SELECT count(*) FROM applied WHERE handler LIKE 'conc-%'") of 2,400 deliveries"

say "citus: a worker stopped immediately during batches"
# Batches of 50 events for 8 handlers, delivered in a loop; worker 1 stops
# (pg_ctl -m immediate) while they run and comes back. The client then
# delivers every batch again, as a bus would after a failure.
python3 - "$work/crash_batches.sql" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for rnd in range(6):
        for h in range(1, 9):
            evs = [{"event_id": f"x-{rnd}-{i}", "payload": {"h": f"crash-{h}"}, "position": rnd * 100 + i} for i in range(50)]
            f.write("SELECT apply_with_offset_batch('crash-%d', 'record_event', '%s');\n" % (h, json.dumps(evs)))
PY
chmod 644 "$work/crash_batches.sql"
(for r in 1 2 3; do psql -X -q -h 127.0.0.1 -p "$(node_port 0)" -U postgres -d "$CITUS_DB" -f "$work/crash_batches.sql" >/dev/null 2>>"$work/crash.err"; done) &
loader=$!
sleep 2
citus_node_stop 1 immediate
stopped=$?
sleep 1
citus_node_start 1
wait "$loader"
check "worker 1 stopped immediately during the batches" 0 "$stopped"
echo "batch deliveries that failed around the stop (delivered again below): $(grep -c ERROR "$work/crash.err")"
grep -q 'database system was not properly shut down' "$CITUS_DIR/worker1.log"
check "worker 1 went through crash recovery" 0 "$?"
nq 0 -c "SELECT recover_prepared_transactions()" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(node_port 0)" -U postgres -d "$CITUS_DB" -f "$work/crash_batches.sql" >/dev/null 2>"$work/redeliver.err"
check "every batch delivered again without an error" "" "$(head -5 "$work/redeliver.err")"
check "after the restart: offsets = read-model mutations, each pair once" "0|0|t|" "$(invariant 'crash-%')"
check "every event of the batches applied" 2400 "$(nq 0 -c "SELECT count(*) FROM applied WHERE handler LIKE 'crash-%'")"
check "no prepared transaction left on any node" "0|0|0|" \
    "$(for i in 0 1 2; do nq "$i" -c "SELECT count(*) FROM pg_prepared_xacts"; done | tr '\n' '|')"

say "citus: the projection worker on a distributed source"
# Appends go through the coordinator, whose sequence draws the positions and
# whose lock on the distributed table is the writer lock the worker waits
# on. Citus runs no triggers there: the worker polls every 100 ms.
nq 0 >/dev/null <<'SQL'
CREATE TABLE wevents (id text NOT NULL, type text NOT NULL, payload jsonb NOT NULL, position bigserial NOT NULL);
CREATE INDEX ON wevents (position);
SELECT create_distributed_table('wevents', 'id');
CREATE TABLE wapplied (event_id text NOT NULL, pos bigint NOT NULL, seq bigserial);
CREATE FUNCTION project_w(event_id text, payload jsonb) RETURNS void LANGUAGE sql
AS $$ INSERT INTO wapplied (event_id, pos) VALUES (event_id, (payload->>'n')::bigint) $$;
SQL
check "inline mode is refused on a distributed source" "0A000" \
    "$(nq 0 -v VERBOSITY=verbose -c "SELECT projection_register('w-inline', 'project_w(text,jsonb)', 'wevents', mode => 'inline')" 2>&1 \
       | sed -n 's/^ERROR:  \([0-9A-Z]*\): .*/\1/p')"
nq 0 -c "SELECT projection_register('w-async', 'project_w(text,jsonb)', 'wevents', batch_size => 100)" >/dev/null
check "async registration creates no trigger on the distributed table" "0" \
    "$(nq 0 -c "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'wevents'::regclass AND NOT tgisinternal")"
nq 0 -c "INSERT INTO wevents (id, type, payload) SELECT 'w' || g, 't', jsonb_build_object('n', g) FROM generate_series(1, 500) g" >/dev/null
# waits up to 60 s for a condition (a query returning t)
wait_for() {
    local i
    for i in $(seq 1 600); do [ "$(nq 0 -c "$1")" = t ] && return 0; sleep 0.1; done
    return 1
}
wait_for "SELECT count(*) = 500 FROM wapplied"
check "500 events applied once each, in position order" "500|500|t" \
    "$(nq 0 -c "SELECT count(*), count(DISTINCT event_id), bool_and(ordered) FROM (SELECT event_id, pos > coalesce(lag(pos) OVER (ORDER BY seq), 0) AS ordered FROM wapplied) a")"
# A transaction that drew a lower position stays open while a later one commits.
(nq 0 -c "BEGIN" -c "INSERT INTO wevents (id, type, payload) VALUES ('early', 't', '{\"n\": 1001}')" \
      -c "SELECT pg_sleep(3)" -c "COMMIT" >/dev/null &)
wait_for "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE wait_event = 'PgSleep')"
nq 0 -c "INSERT INTO wevents (id, type, payload) VALUES ('late', 't', '{\"n\": 1002}')" >/dev/null
# The worker has seen 'late' committed: its handler is behind, not caught up.
wait_for "SELECT behind_since IS NOT NULL FROM projection_offset_handler WHERE handler_name = 'w-async'"
check "while the earlier transaction is open, the later event waits" "0" \
    "$(nq 0 -c "SELECT count(*) FROM wapplied WHERE event_id IN ('early', 'late')")"
wait_for "SELECT count(*) = 2 FROM wapplied WHERE event_id IN ('early', 'late')"
check "after its commit both are applied, the earlier first" "early,late" \
    "$(nq 0 -c "SELECT string_agg(event_id, ',' ORDER BY seq) FROM wapplied WHERE event_id IN ('early', 'late')")"
check "each offset recorded once, in the distributed offset table" "502" \
    "$(nq 0 -c "SELECT count(*) FROM projection_offset WHERE \"handlerName\" = 'w-async'")"

say "citus: figures, plain against delegated (pgbench, 5 s each, 2 clients)"
cat >"$work/claim_delegated.sql" <<'SQL'
\set e random(1, 1000000000)
\set h random(1, 64)
SELECT offset_claim('b-:e', 'bench-:h');
SQL
cat >"$work/claim_plain.sql" <<'SQL'
\set e random(1, 1000000000)
\set h random(1, 64)
BEGIN;
SELECT offset_claim('b-:e', 'bench-:h');
COMMIT;
SQL
for kind in delegated plain; do
    sed -e "s/offset_claim('b-:e', 'bench-:h')/apply_with_offset('b-:e', 'bench-:h', 'project_total', '{\"h\": \"bench-:h\", \"k\": \"k\"}')/" \
        "$work/claim_$kind.sql" >"$work/apply_$kind.sql"
    sed -e "s/offset_claim('b-:e', 'bench-:h')/apply_with_offset('b-:e', 'bench-:h', 'project_by_key', '{\"k\": \"k-:e\"}')/" \
        "$work/claim_$kind.sql" >"$work/cross_$kind.sql"
done
chmod 644 "$work"/*.sql
for test in claim apply cross; do
    for kind in plain delegated; do
        tps=$(cd "$work" && pgbench -n -h 127.0.0.1 -p "$(node_port 0)" -U postgres -c 2 -j 2 -T 5 -f "${test}_$kind.sql" "$CITUS_DB" 2>&1 \
              | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
        printf '%-34s %-10s %10s tps\n' \
            "$(case $test in claim) echo "offset_claim";; apply) echo "apply_with_offset, colocated";; cross) echo "apply_with_offset, cross-shard";; esac)" \
            "$kind" "${tps:-failed}"
    done
done

say "citus: dump and restore"
# pg_dump reads the rows from the shards; the distribution is not dumped.
# A new database with Citus on every node gets the dump, its workers, and
# projection_offset_distribute() again.
snapshot() { # node database
    psql -X -q -At -h 127.0.0.1 -p "$(node_port "$1")" -U postgres -d "$2" \
        -c "SELECT \"eventId\", \"handlerName\", \"appliedAt\", \"payloadHash\" FROM projection_offset ORDER BY 1, 2" \
        -c "SELECT * FROM projection_offset_position ORDER BY 1, 2" \
        -c "SELECT * FROM projection_offset_checkpoint ORDER BY 1"
}
restored=po_citus_restored
pg_dump -h 127.0.0.1 -p "$(node_port 0)" -U postgres -Fc -f "$work/po_citus.dump" "$CITUS_DB"
for i in 0 1 2; do psql -X -q -h 127.0.0.1 -p "$(node_port "$i")" -U postgres -d postgres -c "CREATE DATABASE $restored"; done
for i in 1 2; do psql -X -q -h 127.0.0.1 -p "$(node_port "$i")" -U postgres -d "$restored" -c "CREATE EXTENSION citus"; done
pg_restore -h 127.0.0.1 -p "$(node_port 0)" -U postgres -d "$restored" "$work/po_citus.dump" 2>"$work/restore.err"
check "pg_restore into a new coordinator" "" "$(head -5 "$work/restore.err")"
psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(node_port 0)" -U postgres -d "$restored" \
    -c "SELECT citus_set_coordinator_host('127.0.0.1', $(node_port 0))" \
    -c "SELECT citus_add_node('127.0.0.1', $(node_port 1))" -c "SELECT citus_add_node('127.0.0.1', $(node_port 2))" \
    -c "SELECT projection_offset_distribute()" >/dev/null 2>"$work/redistribute.err"
check "projection_offset_distribute() after the restore" "" "$(head -5 "$work/redistribute.err")"
check "the restored offsets, positions and checkpoints are the dumped ones" "$(snapshot 0 "$CITUS_DB")" "$(snapshot 0 "$restored")"
check "and they are distributed again" "3" \
    "$(psql -X -At -h 127.0.0.1 -p "$(node_port 0)" -U postgres -d "$restored" \
        -c "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::text LIKE 'projection_offset%' AND partmethod = 'h'")"
check "a restored checkpoint still makes old positions duplicates" "f|t" \
    "$(psql -X -At -h 127.0.0.1 -p "$(node_port 0)" -U postgres -d "$restored" \
        -c "SELECT offset_claim_at('old', 'totals', 10)" -c "SELECT offset_claim_at('new', 'totals', 11000)" | tr '\n' '|' | sed 's/|$//')"
psql -X -q -At -h 127.0.0.1 -p "$(node_port 0)" -U postgres -d "$restored" \
    -c "SELECT projection_offset_undistribute()" >/dev/null

say "citus: drop"
before=$(nq 0 -c "SELECT count(*) FROM projection_offset")
nq 0 -c "SELECT projection_offset_undistribute()" -c "SELECT projection_offset_undistribute()" >/dev/null
check "undistribute keeps every row, on the coordinator" "$before" "$(nq 0 -c "SELECT count(*) FROM projection_offset")"
check "no Citus metadata left for the extension's tables and functions" "0|0" \
    "$(nq 0 -c "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::text LIKE 'projection_offset%'" \
            -c "SELECT count(*) FROM pg_dist_object d JOIN pg_proc p ON p.oid = d.objid
                WHERE d.classid = 'pg_proc'::regclass AND p.proname LIKE '%offset%' AND d.distribution_argument_index IS NOT NULL" | tr '\n' '|' | sed 's/|$//')"
nq 0 -c "DROP TABLE applied, applied_by_event, totals, by_key" -c "DROP EXTENSION projection_offset" >/dev/null
shards() {
    for i in 1 2; do nq "$i" -c "SET citus.override_table_visibility = off" \
        -c "SELECT count(*) FROM pg_class WHERE relname ~ '^projection_offset.*_[0-9]+\$'"; done | tr '\n' '|'
}
check "after DROP EXTENSION no shard is left on the workers" "0|0|" "$(shards)"
check "nor the extension" "0|0|" "$(for i in 1 2; do nq "$i" -c "SELECT count(*) FROM pg_extension WHERE extname = 'projection_offset'"; done | tr '\n' '|')"
