#!/usr/bin/env bash
# pg_dump / pg_restore round trip: every offset, position and checkpoint,
# every registered handler (its registration and progress), every dead
# letter and the extension's triggers on a handler's source survive, in
# custom and plain format, for a default and a non-default schema
# installation; a restored inline handler applies new events and skips the
# ones it applied, and a restored dead letter can be retried. Runs against
# the cluster in PGHOST/PGPORT.
set -euo pipefail

passed=0
failed=0
check() {
    local name=$1 expected=$2 actual=$3
    if [ "$expected" = "$actual" ]; then
        passed=$((passed + 1)); echo "ok - $name"
    else
        failed=$((failed + 1)); echo "not ok - $name"
        diff <(echo "$expected") <(echo "$actual") | head -20 || true
    fi
}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

snapshot() {  # db schema
    q "$1" "SELECT \"eventId\", \"handlerName\", \"appliedAt\", \"payloadHash\" FROM $2.projection_offset ORDER BY 1, 2;
            SELECT * FROM $2.projection_offset_position ORDER BY 1, 2;
            SELECT \"handlerName\", \"position\", \"updatedAt\" FROM $2.projection_offset_checkpoint ORDER BY 1;"
}

# The registry: handlers, dead letters, and the triggers on the source.
snapshot_registry() {  # db schema
    q "$1" "SELECT handler_name, projector, source, id_column, type_column, payload_column, position_column,
                   event_types, mode, on_error, max_attempts, batch_size, run_as, state, \"position\",
                   rebuild_target, behind_since, error_event, error_position, attempts, next_attempt_at,
                   last_error, registered_at
            FROM $2.projection_offset_handler ORDER BY 1;
            SELECT * FROM $2.projection_offset_dead_letter ORDER BY 1, 2;
            SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger
            WHERE tgrelid = 'public.dump_events'::regclass ORDER BY 1;"
}

for schema in public offsets; do
    src=dump_src_$schema
    dropdb --if-exists "$src" >/dev/null 2>&1; createdb "$src"
    [ "$schema" = public ] || q "$src" "CREATE SCHEMA $schema"
    q "$src" "CREATE EXTENSION projection_offset SCHEMA $schema"
    q "$src" "CREATE FUNCTION public.noop(payload jsonb) RETURNS void LANGUAGE sql AS 'SELECT';
              SELECT $schema.offset_claim('e-' || g, 'dump-a') FROM generate_series(1, 500) g;
              SELECT $schema.offset_claim_at('e-' || g, 'dump-b', g::bigint, md5(g::text)) FROM generate_series(1, 300) g;
              SELECT $schema.offset_checkpoint('dump-b', 100);
              SELECT $schema.apply_with_offset('x-1', 'dump-c', 'public.noop(jsonb)'::regprocedure, '{\"k\": [1, 2]}');
              SELECT $schema.offset_claim('quote''s \"and\" é', 'dump-c');" >/dev/null
    # Two handlers of one source: an inline one, which applies the events
    # as they are appended, and an async one with the progress, error and
    # dead letter the projection worker would have left.
    q "$src" "CREATE TABLE public.dump_events (position bigserial, id text NOT NULL, type text NOT NULL, payload jsonb NOT NULL);
              CREATE TABLE public.dump_seen (handler text, event_id text);
              CREATE FUNCTION public.dump_inline(event_id text, payload jsonb) RETURNS void
              LANGUAGE sql AS \$\$ INSERT INTO public.dump_seen VALUES ('inline', event_id) \$\$;
              CREATE FUNCTION public.dump_async(event_ids text[], payloads jsonb[]) RETURNS void
              LANGUAGE sql AS \$\$ INSERT INTO public.dump_seen SELECT 'async', unnest(event_ids) \$\$;
              SELECT $schema.projection_register('dump-inline', 'public.dump_inline(text,jsonb)', 'public.dump_events',
                                                 mode => 'inline');
              SELECT $schema.projection_register('dump-async', 'public.dump_async(text[],jsonb[])', 'public.dump_events',
                                                 event_types => '{placed,paid}', on_error => 'dead_letter',
                                                 max_attempts => 3, batch_size => 50);
              INSERT INTO public.dump_events (id, type, payload)
              VALUES ('r-1', 'placed', '{\"n\": 1}'), ('r-2', 'paid', '{\"n\": 2}'), ('r-3', 'placed', '{\"n\": 3}');
              UPDATE $schema.projection_offset_handler
              SET state = 'paused', \"position\" = 3, behind_since = '2026-01-02 03:04:05+00', error_event = 'r-3',
                  error_position = 3, attempts = 2, next_attempt_at = '2026-01-02 03:05:00+00',
                  last_error = '{\"sqlstate\": \"XX000\", \"message\": \"it''s \\\"quoted\\\" é\"}'
              WHERE handler_name = 'dump-async';
              INSERT INTO $schema.projection_offset_dead_letter
              VALUES ('dump-async', 'r-2', 2, 'P0001', 'cannot project r-2', 'a detail', NULL,
                      'PL/pgSQL function dump_async line 1', 3, '2026-01-02 03:00:00+00', '2026-01-02 03:01:00+00');" >/dev/null
    before=$(snapshot "$src" "$schema")
    before_registry=$(snapshot_registry "$src" "$schema")
    rows=$(q "$src" "SELECT count(*) FROM $schema.projection_offset")
    check "$schema: source has the rows written" 805 "$rows"
    check "$schema: source has both handlers, the dead letter and both triggers" "2 1 2" \
        "$(q "$src" "SELECT (SELECT count(*) FROM $schema.projection_offset_handler) || ' ' ||
                            (SELECT count(*) FROM $schema.projection_offset_dead_letter) || ' ' ||
                            (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.dump_events'::regclass)")"

    for format in custom plain; do
        dst=dump_dst_${schema}_$format
        dropdb --if-exists "$dst" >/dev/null 2>&1; createdb "$dst"
        if [ "$format" = custom ]; then
            pg_dump -Fc -f "$work/$src.dump" "$src"
            pg_restore --exit-on-error -d "$dst" "$work/$src.dump"
        else
            pg_dump -Fp -f "$work/$src.sql" "$src"
            psql -X -q -v ON_ERROR_STOP=1 -d "$dst" -f "$work/$src.sql" >/dev/null
        fi
        check "$schema/$format: every offset, position and checkpoint restored" "$before" "$(snapshot "$dst" "$schema")"
        check "$schema/$format: a restored offset is a re-delivery" "f" \
            "$(q "$dst" "SELECT $schema.offset_claim('e-1', 'dump-a')")"
        check "$schema/$format: the restored checkpoint still holds" "f" \
            "$(q "$dst" "SELECT $schema.offset_claim_at('late', 'dump-b', 50)")"
        check "$schema/$format: a restored hash still detects divergence" "PJ001" \
            "$(psql -X -q -At -d "$dst" -v VERBOSITY=sqlstate -c "SELECT $schema.offset_claim_at('e-200', 'dump-b', 200, 'other')" 2>&1 | sed 's/^ERROR: *//')"
        check "$schema/$format: new claims work" "t" "$(q "$dst" "SELECT $schema.offset_claim('new', 'dump-a')")"
        check "$schema/$format: every registration, its progress, dead letter and source trigger restored" \
            "$before_registry" "$(snapshot_registry "$dst" "$schema")"
        check "$schema/$format: no event was applied again by the restore" "3" \
            "$(q "$dst" "SELECT count(*) FROM public.dump_seen")"
        q "$dst" "INSERT INTO public.dump_events (id, type, payload)
                  VALUES ('r-1', 'placed', '{\"n\": 1}'), ('n-1', 'placed', '{\"n\": 4}')" >/dev/null
        check "$schema/$format: the restored inline handler applies a new event and skips one it applied" \
            "inline n-1 1|inline r-1 1" \
            "$(q "$dst" "SELECT string_agg(handler || ' ' || event_id || ' ' || n, '|' ORDER BY event_id)
                        FROM (SELECT handler, event_id, count(*) AS n FROM public.dump_seen
                              WHERE event_id IN ('r-1', 'n-1') GROUP BY 1, 2) s")"
        check "$schema/$format: a restored dead letter is retried" "t 0 async r-2" \
            "$(q "$dst" "SELECT $schema.projection_retry('dump-async', 'r-2')") $(q "$dst" "SELECT count(*) FROM $schema.projection_offset_dead_letter") $(q "$dst" "SELECT handler || ' ' || event_id FROM public.dump_seen WHERE handler = 'async'")"
        check "$schema/$format: unregistering drops the restored triggers" "0" \
            "$(q "$dst" "SELECT $schema.projection_unregister('dump-inline'), $schema.projection_unregister('dump-async');
                        SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.dump_events'::regclass" | tail -1)"
        dropdb "$dst"
    done
    dropdb "$src"
done

echo "dump: $passed passed, $failed failed"
[ "$failed" = 0 ]
