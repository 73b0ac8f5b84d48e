-- Cost of the batch form against batch size: 1,000, 10,000 and 100,000
-- events in one call, fresh and then re-delivered, with a projector that
-- inserts one row per event. Prints microseconds per event; linear cost
-- keeps that figure flat. Leaves nothing behind.
\set QUIET on
CREATE TEMP TABLE scaling_rows (e text, g int);
CREATE FUNCTION pg_temp.scaling_projector(e text, x jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO scaling_rows VALUES (e, (x->>'g')::int) $$;
CREATE TEMP TABLE scaling (events int, kind text, ms numeric);
DO $$
DECLARE
    started timestamptz;
    size int;
    events jsonb;
    projector regprocedure := 'pg_temp.scaling_projector(text,jsonb)';
BEGIN
    FOREACH size IN ARRAY ARRAY[1000, 10000, 100000] LOOP
        SELECT jsonb_agg(jsonb_build_object('event_id', 'scale-' || size || '-' || g, 'payload', jsonb_build_object('g', g)))
          INTO events FROM generate_series(1, size) g;
        started := clock_timestamp();
        PERFORM apply_with_offset_batch('bench-scaling', projector, events);
        INSERT INTO scaling VALUES (size, 'fresh', extract(epoch FROM clock_timestamp() - started) * 1000);
        started := clock_timestamp();
        PERFORM apply_with_offset_batch('bench-scaling', projector, events);
        INSERT INTO scaling VALUES (size, 're-delivered', extract(epoch FROM clock_timestamp() - started) * 1000);
    END LOOP;
    PERFORM offset_reset('bench-scaling');
END
$$;
\set QUIET off
SELECT events, kind, round(ms) AS ms, round(ms * 1000 / events, 1) AS us_per_event
FROM scaling ORDER BY kind, events;
