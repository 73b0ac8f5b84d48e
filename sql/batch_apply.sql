-- apply_with_offset_batch(handler_name, projector, events): the batch form.
CREATE TABLE batch_seen (event_id text, amount int, seq serial);
CREATE FUNCTION batch_projector(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO batch_seen (event_id, amount) VALUES (event_id, (payload->>'amount')::int) $$;

-- Applies each new event once, in array order, skipping repeats inside the
-- batch; returns how many it applied.
SELECT apply_with_offset_batch('batch', 'batch_projector(text,jsonb)',
    '[{"event_id": "b-2", "payload": {"amount": 2}},
      {"event_id": "b-1", "payload": {"amount": 1}},
      {"event_id": "b-2", "payload": {"amount": 2}},
      {"event_id": "b-3", "payload": {"amount": 3}}]'::jsonb);
SELECT event_id, amount FROM batch_seen ORDER BY seq;

-- Re-delivering an overlapping batch applies only what is new.
SELECT apply_with_offset_batch(handler_name => 'batch', projector => 'batch_projector(text,jsonb)',
    events => '[{"event_id": "b-3", "payload": {"amount": 3}}, {"event_id": "b-4", "payload": {"amount": 4}}]');
SELECT event_id, amount FROM batch_seen ORDER BY seq;
SELECT count(*) FROM projection_offset WHERE "handlerName" = 'batch';

-- The hashes are those of the single form.
SELECT "payloadHash" = encode(sha256(convert_to('{"amount": 4}'::jsonb::text, 'UTF8')), 'hex') AS same_hash
FROM projection_offset WHERE "handlerName" = 'batch' AND "eventId" = 'b-4';
SELECT apply_with_offset('b-4', 'batch', 'batch_projector(text,jsonb)', '{"amount": 4}');

-- All or nothing: a projector error in the middle undoes the whole batch,
-- and names the failing event.
CREATE FUNCTION fails_on_b7(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO batch_seen (event_id, amount) VALUES (event_id, 0);
    IF event_id = 'b-7' THEN
        RAISE EXCEPTION 'cannot project %', event_id USING ERRCODE = 'data_exception';
    END IF;
END
$$;
SELECT apply_with_offset_batch('batch-fail', 'fails_on_b7(text,jsonb)',
    '[{"event_id": "b-6"}, {"event_id": "b-7"}, {"event_id": "b-8"}]'::jsonb);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS rows_left FROM batch_seen WHERE event_id IN ('b-6', 'b-7', 'b-8');
SELECT count(*) AS offsets_left FROM projection_offset WHERE "handlerName" = 'batch-fail';

-- A divergent payload anywhere in the batch, against the table or an
-- earlier element, rejects the whole batch and names the element.
SELECT apply_with_offset_batch('batch', 'batch_projector(text,jsonb)',
    '[{"event_id": "b-5", "payload": {"amount": 5}}, {"event_id": "b-1", "payload": {"amount": 100}}]'::jsonb);
\echo :LAST_ERROR_SQLSTATE
SELECT apply_with_offset_batch('batch', 'batch_projector(text,jsonb)',
    '[{"event_id": "b-5", "payload": {"amount": 5}}, {"event_id": "b-5", "payload": {"amount": 6}}]'::jsonb);
SELECT count(*) AS b5_offsets FROM projection_offset WHERE "eventId" = 'b-5';

-- Events without a payload reach the projector with a NULL payload.
CREATE FUNCTION payload_is_null(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE '% payload is null: %', event_id, payload IS NULL; END $$;
SELECT apply_with_offset_batch('batch-null', 'payload_is_null(text,jsonb)',
    '[{"event_id": "n-1"}, {"event_id": "n-2", "payload": null}]'::jsonb);

-- An empty array applies nothing.
SELECT apply_with_offset_batch('batch', 'batch_projector(text,jsonb)', '[]'::jsonb);

-- It is set-based and needs no subtransaction per event: 5000 events in
-- one call, 2500 of them new on the second call.
CREATE TABLE batch_count (n int);
INSERT INTO batch_count VALUES (0);
CREATE FUNCTION count_one(payload jsonb) RETURNS void
LANGUAGE sql AS $$ UPDATE batch_count SET n = n + 1 $$;
SELECT apply_with_offset_batch('batch-big', 'count_one(jsonb)',
    (SELECT jsonb_agg(jsonb_build_object('event_id', 'big-' || g, 'payload', g)) FROM generate_series(1, 5000) g));
SELECT apply_with_offset_batch('batch-big', 'count_one(jsonb)',
    (SELECT jsonb_agg(jsonb_build_object('event_id', 'big-' || g, 'payload', g)) FROM generate_series(2501, 7500) g));
SELECT n FROM batch_count;

-- Bad input: clear errors, nothing recorded.
SELECT apply_with_offset_batch('batch-bad', 'batch_projector(text,jsonb)', NULL::jsonb);
SELECT apply_with_offset_batch('batch-bad', 'batch_projector(text,jsonb)', '{"event_id": "x"}'::jsonb);
SELECT apply_with_offset_batch('batch-bad', 'batch_projector(text,jsonb)', '"x"'::jsonb);
SELECT apply_with_offset_batch('batch-bad', 'batch_projector(text,jsonb)', '[{"event_id": "x"}, 7]'::jsonb);
SELECT apply_with_offset_batch('batch-bad', 'batch_projector(text,jsonb)', '[{"payload": {}}]'::jsonb);
SELECT apply_with_offset_batch('batch-bad', 'batch_projector(text,jsonb)', '[{"event_id": null}]'::jsonb);
\echo :LAST_ERROR_SQLSTATE
SELECT apply_with_offset_batch('batch-bad', 'batch_projector(text,jsonb)', '[{"event_id": 12}]'::jsonb);
SELECT apply_with_offset_batch('batch-bad', 'batch_projector(text,jsonb)', '[{"event_id": ""}]'::jsonb);
SELECT apply_with_offset_batch('batch-bad', 'batch_projector(text,jsonb)',
    jsonb_build_array(jsonb_build_object('event_id', repeat('x', 1025))));
SELECT apply_with_offset_batch('batch-bad', 'batch_projector(text,jsonb)', '[{"event_id": "x", "position": "7"}]'::jsonb);
SELECT apply_with_offset_batch('batch-bad', 'batch_projector(text,jsonb)', '[{"event_id": "x", "position": 7.5}]'::jsonb);
SELECT apply_with_offset_batch(NULL, 'batch_projector(text,jsonb)', '[]'::jsonb);
SELECT apply_with_offset_batch('batch-bad', NULL::regprocedure, '[]'::jsonb);
CREATE FUNCTION strict_batch(payload jsonb) RETURNS void LANGUAGE sql STRICT AS $$ SELECT $$;
SELECT apply_with_offset_batch('batch-bad', 'strict_batch(jsonb)', '[{"event_id": "x", "payload": 1}, {"event_id": "y"}]'::jsonb);
SELECT count(*) AS recorded FROM projection_offset WHERE "handlerName" = 'batch-bad';

-- A set projector, (text[], jsonb[]), is called once per batch with the
-- events applied now, in order, so that it can write set-based.
CREATE TABLE batch_totals (order_id text PRIMARY KEY, total int NOT NULL, calls int NOT NULL DEFAULT 1);
CREATE FUNCTION project_batch(event_ids text[], payloads jsonb[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO batch_totals (order_id, total)
    SELECT p->>'order', sum((p->>'amount')::int) FROM unnest(payloads) AS p GROUP BY 1
    ON CONFLICT (order_id) DO UPDATE SET total = batch_totals.total + EXCLUDED.total,
                                         calls = batch_totals.calls + 1
$$;
CREATE FUNCTION show_batch(event_ids text[], payloads jsonb[]) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'ids %, payloads %', event_ids, payloads; END $$;
SELECT apply_with_offset_batch('set', 'show_batch(text[],jsonb[])',
    '[{"event_id": "s-2", "payload": {"order": "o-1", "amount": 2}},
      {"event_id": "s-1"},
      {"event_id": "s-2", "payload": {"order": "o-1", "amount": 2}}]'::jsonb);
SELECT apply_with_offset_batch('set', 'project_batch(text[],jsonb[])',
    (SELECT jsonb_agg(jsonb_build_object('event_id', 'set-' || g, 'payload',
                                         jsonb_build_object('order', 'o-' || g % 3, 'amount', g)))
     FROM generate_series(1, 300) g));
-- Re-delivered with 100 new events: only those reach the projector.
SELECT apply_with_offset_batch('set', 'project_batch(text[],jsonb[])',
    (SELECT jsonb_agg(jsonb_build_object('event_id', 'set-' || g, 'payload',
                                         jsonb_build_object('order', 'o-' || g % 3, 'amount', g)))
     FROM generate_series(201, 400) g));
SELECT * FROM batch_totals ORDER BY 1;
SELECT sum(total) = (SELECT sum(g) FROM generate_series(1, 400) g) AS every_event_once FROM batch_totals;
-- Nothing new: the projector is not called at all.
SELECT apply_with_offset_batch('set', 'show_batch(text[],jsonb[])', '[{"event_id": "s-1"}]'::jsonb);
-- Its errors name the handler and the batch, and undo the whole batch.
CREATE FUNCTION failing_batch(event_ids text[], payloads jsonb[]) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'batch refused' USING ERRCODE = 'check_violation'; END $$;
SELECT apply_with_offset_batch('set-fail', 'failing_batch(text[],jsonb[])', '[{"event_id": "f-1"}, {"event_id": "f-2"}]'::jsonb);
SELECT count(*) AS left_behind FROM projection_offset WHERE "handlerName" = 'set-fail';
-- The single form refuses a set projector.
SELECT apply_with_offset('s-9', 'set', 'project_batch(text[],jsonb[])', '{}');

-- After a batch whose events were mostly stored already, the next batch of
-- the handler in the session looks its ids up before claiming them, which
-- costs a re-delivery one index lookup instead of two. The outcomes are the
-- same either way; each case below follows such a batch.
CREATE TABLE lu_seen (event_id text, seq serial);
CREATE FUNCTION lu_projector(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO lu_seen (event_id) VALUES (event_id) $$;
-- (Bodies as strings: a SQL-standard body would make DROP EXTENSION in later
-- tests depend on these test functions.)
CREATE FUNCTION lu_deliver(handler text, events jsonb) RETURNS bigint LANGUAGE sql
AS $$ SELECT apply_with_offset_batch(handler, 'lu_projector(text,jsonb)', events) $$;
CREATE FUNCTION lu_redeliver() RETURNS bigint LANGUAGE sql
AS $$ SELECT lu_deliver('batch-lu', '[{"event_id": "l-1", "payload": 1}, {"event_id": "l-2", "payload": 2}, {"event_id": "l-3"}]') $$;
SELECT lu_redeliver() AS fresh, lu_redeliver() AS redelivered;
-- New events, repeats and re-deliveries mixed: each new one once, in order.
SELECT lu_redeliver(), apply_with_offset_batch('batch-lu', 'lu_projector(text,jsonb)',
    '[{"event_id": "l-5", "payload": 5}, {"event_id": "l-1", "payload": 1}, {"event_id": "l-4", "payload": 4},
      {"event_id": "l-5", "payload": 5}, {"event_id": "l-3", "payload": 3}]'::jsonb) AS applied;
SELECT event_id FROM lu_seen ORDER BY seq;
-- A divergence against a stored row, or inside the batch, names its element
-- and records nothing. l-3 was stored without a hash: nothing to compare.
SELECT lu_redeliver(), apply_with_offset_batch('batch-lu', 'lu_projector(text,jsonb)',
    '[{"event_id": "l-6", "payload": 6}, {"event_id": "l-2", "payload": 2}, {"event_id": "l-1", "payload": 10}]'::jsonb);
SELECT lu_redeliver(), apply_with_offset_batch('batch-lu', 'lu_projector(text,jsonb)',
    '[{"event_id": "l-1", "payload": 1}, {"event_id": "l-7", "payload": 7}, {"event_id": "l-7", "payload": 8}]'::jsonb);
SELECT count(*) AS l6_l7_offsets FROM projection_offset WHERE "eventId" IN ('l-6', 'l-7');
-- Positions: below the checkpoint skipped, a stored one a re-delivery, a
-- new one applied with its position.
SELECT offset_checkpoint('batch-lu-at', 5);
CREATE FUNCTION lu_redeliver_at() RETURNS bigint LANGUAGE sql
AS $$ SELECT lu_deliver('batch-lu-at', '[{"event_id": "q-6", "position": 6, "payload": 6}, {"event_id": "q-8", "position": 8, "payload": 8}]') $$;
SELECT lu_redeliver_at() AS fresh, lu_redeliver_at() AS redelivered;
SELECT lu_redeliver_at(), apply_with_offset_batch('batch-lu-at', 'lu_projector(text,jsonb)',
    '[{"event_id": "q-2", "position": 2, "payload": 2}, {"event_id": "q-6", "position": 6, "payload": 6},
      {"event_id": "q-7", "position": 7, "payload": 7}]'::jsonb) AS applied;
SELECT "eventId", "position" FROM projection_offset_position WHERE "handlerName" = 'batch-lu-at' ORDER BY 2;
SELECT event_id FROM lu_seen WHERE event_id LIKE 'q-%' ORDER BY seq;
-- A BEFORE trigger that skips an offset row still fails the batch.
CREATE FUNCTION lu_skip() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RETURN CASE WHEN NEW."eventId" LIKE 'skip-%' THEN NULL ELSE NEW END; END $$;
CREATE TRIGGER lu_skip BEFORE INSERT ON projection_offset FOR EACH ROW EXECUTE FUNCTION lu_skip();
SELECT lu_redeliver(), apply_with_offset_batch('batch-lu', 'lu_projector(text,jsonb)',
    '[{"event_id": "l-2", "payload": 2}, {"event_id": "skip-1", "payload": 1}]'::jsonb);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER lu_skip ON projection_offset;

-- Batches larger than one claim statement's part (8192 ids) are claimed
-- part by part in one order; the outcome is that of one statement.
TRUNCATE batch_count;
INSERT INTO batch_count VALUES (0);
SELECT apply_with_offset_batch('batch-parts', 'count_one(jsonb)',
    (SELECT jsonb_agg(jsonb_build_object('event_id', 'part-' || g % 20000, 'payload', g % 20000))
     FROM generate_series(1, 30000) g)) AS distinct_applied;
SELECT apply_with_offset_batch('batch-parts', 'count_one(jsonb)',
    (SELECT jsonb_agg(jsonb_build_object('event_id', 'part-' || g, 'payload', g))
     FROM generate_series(15001, 25000) g)) AS new_applied;
SELECT n FROM batch_count;
-- A divergence in the last part, after new events in the first parts:
-- nothing of the batch stays.
SELECT apply_with_offset_batch('batch-parts', 'count_one(jsonb)',
    (SELECT jsonb_agg(jsonb_build_object('event_id', 'part-' || g, 'payload', CASE WHEN g = 9999 THEN -1 ELSE g END)
                      ORDER BY g DESC)
     FROM generate_series(1, 40000) g));
SELECT count(*) AS part_offsets, (SELECT n FROM batch_count) AS applied
  FROM projection_offset WHERE "handlerName" = 'batch-parts';
