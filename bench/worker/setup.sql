-- bench/worker.sh: the projection worker against a client applying the
-- same events itself. Two event tables (a backlog for throughput, a stream
-- for latency), one projector for every way, and the client's loop.
CREATE EXTENSION projection_offset;

CREATE TABLE order_totals (order_id text PRIMARY KEY, total bigint NOT NULL DEFAULT 0);
INSERT INTO order_totals (order_id) SELECT 'o-' || g FROM generate_series(0, 99999) g;

-- Events as an application appends them: position from a CACHE 1 identity.
CREATE TABLE events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    type text NOT NULL DEFAULT 'order_placed',
    payload jsonb NOT NULL,
    "position" bigint GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX ON events ("position");
CREATE TABLE stream_events (LIKE events INCLUDING ALL);  -- its own identity sequence

-- When the projector ran, per event: the end of a backlog's application,
-- and the far end of an event's latency.
CREATE TABLE applied (event_id text NOT NULL, applied_at timestamptz NOT NULL);

-- The work per event, the same as bench/setup.sql's bench_project, plus
-- the time it ran.
CREATE FUNCTION bench_project(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE order_totals SET total = total + (payload->>'amount')::bigint
     WHERE order_id = payload->>'order';
    INSERT INTO applied VALUES (event_id, clock_timestamp());
END $$;

-- The client's way: what a service polling the table would do, without the
-- round trips: read the next batch after its cursor in position order, apply
-- it with apply_with_offset_batch, commit, move on. The events carry their
-- positions, as the worker's do.
CREATE PROCEDURE client_apply(after bigint, batch_size integer)
LANGUAGE plpgsql AS $$
DECLARE
    batch jsonb;
    last bigint;
BEGIN
    LOOP
        SELECT jsonb_agg(jsonb_build_object('event_id', id::text, 'payload', payload, 'position', "position")
                         ORDER BY "position"),
               max("position")
          INTO batch, last
          FROM (SELECT id, payload, "position" FROM events
                 WHERE "position" > after ORDER BY "position" LIMIT batch_size) s;
        EXIT WHEN batch IS NULL;
        PERFORM apply_with_offset_batch('bench_client', 'bench_project(text,jsonb)'::regprocedure, batch);
        COMMIT;
        after := last;
    END LOOP;
END $$;

-- n events of the backlog, as one application's bulk append.
CREATE FUNCTION append_backlog(n integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO events (payload)
    SELECT jsonb_build_object('order', 'o-' || (g % 100000), 'amount', g % 100 + 1)
      FROM generate_series(1, n) g
$$;
