-- Hostile arguments to the entry points of version 1.1: positioned claims,
-- the batch apply_with_offset, checkpoints, release, reset and prune.
-- Each case shows its SQLSTATE and message; afterwards nothing recorded
-- before is lost or changed.
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE FUNCTION hostile_try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result text;
    state text;
    msg text;
    det text;
BEGIN
    EXECUTE stmt INTO result;
    RETURN 'ok: ' || coalesce(result, 'NULL');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    RETURN state || ': ' || msg || CASE WHEN det = '' OR length(det) > 100 THEN '' ELSE ' | ' || det END;
END
$$;
CREATE TABLE hostile_ops_seen (event_id text, payload jsonb);
CREATE FUNCTION hostile_ops_projector(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO public.hostile_ops_seen VALUES (event_id, payload) $$;
CREATE FUNCTION hostile_ops_payload_only(payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO public.hostile_ops_seen VALUES (NULL, payload) $$;

SELECT count(*) AS seeded FROM offset_claim_batch(
    ARRAY(SELECT 'seed-' || g FROM generate_series(1, 20) g), 'hostile-ops-seed');
SELECT offset_claim_at('kept', 'hostile-ops-kept', 7::bigint), offset_checkpoint('hostile-ops-kept', 3);
CREATE TEMP TABLE hostile_before AS SELECT * FROM projection_offset;
CREATE TEMP TABLE hostile_before_position AS SELECT * FROM projection_offset_position;
CREATE TEMP TABLE hostile_before_checkpoint AS SELECT "handlerName", "position" FROM projection_offset_checkpoint;

-- NULL, empty and oversized arguments: the same checks and SQLSTATEs as
-- for the 1.0 functions, plus the new arguments (position, older_than,
-- events) refusing NULL.
SELECT label, hostile_try(stmt) AS outcome FROM (VALUES
    ('claim at(NULL, h, 1)',      $$SELECT offset_claim_at(NULL, 'hostile-ops', 1::bigint)$$),
    ('claim at(e, NULL, 1)',      $$SELECT offset_claim_at('e', NULL, 1::bigint)$$),
    ('claim at(e, h, NULL)',      $$SELECT offset_claim_at('e', 'hostile-ops', NULL::bigint)$$),
    ('claim at(e, h, 1, '''')',   $$SELECT offset_claim_at('e', 'hostile-ops', 1::bigint, '')$$),
    ('claim at(4 MB id, h, 1)',   $$SELECT offset_claim_at(repeat('x', 4 * 1024 * 1024), 'hostile-ops', 1::bigint)$$),
    ('batch(NULL, p, [])',        $$SELECT apply_with_offset_batch(NULL, 'hostile_ops_projector(text,jsonb)'::regprocedure, '[]'::jsonb)$$),
    ('batch(h, NULL, [])',        $$SELECT apply_with_offset_batch('hostile-ops', NULL::regprocedure, '[]'::jsonb)$$),
    ('batch(h, p, NULL)',         $$SELECT apply_with_offset_batch('hostile-ops', 'hostile_ops_projector(text,jsonb)'::regprocedure, NULL::jsonb)$$),
    ('batch('''', p, [])',        $$SELECT apply_with_offset_batch('', 'hostile_ops_projector(text,jsonb)'::regprocedure, '[]'::jsonb)$$),
    ('batch(257 B, p, [])',       $$SELECT apply_with_offset_batch(repeat('h', 257), 'hostile_ops_projector(text,jsonb)'::regprocedure, '[]'::jsonb)$$),
    ('checkpoint(NULL, 1)',       $$SELECT offset_checkpoint(NULL, 1)$$),
    ('checkpoint(h, NULL)',       $$SELECT offset_checkpoint('hostile-ops', NULL)$$),
    ('checkpoint('''', 1)',       $$SELECT offset_checkpoint('', 1)$$),
    ('release(NULL, h)',          $$SELECT offset_release(NULL, 'hostile-ops')$$),
    ('release(e, NULL)',          $$SELECT offset_release('e', NULL)$$),
    ('release('''', h)',          $$SELECT offset_release('', 'hostile-ops')$$),
    ('release(4 MB id, h)',       $$SELECT offset_release(repeat('x', 4 * 1024 * 1024), 'hostile-ops')$$),
    ('reset(NULL)',               $$SELECT offset_reset(NULL)$$),
    ('reset('''')',               $$SELECT offset_reset('')$$),
    ('reset(4 MB)',               $$SELECT offset_reset(repeat('h', 4 * 1024 * 1024))$$),
    ('prune(NULL, t)',            $$SELECT offset_prune(NULL, now())$$),
    ('prune(h, NULL)',            $$SELECT offset_prune('hostile-ops', NULL)$$),
    ('prune(NULL)',               $$SELECT offset_prune(NULL::text)$$),
    ('prune('''')',               $$SELECT offset_prune('')$$)
) AS cases(label, stmt);

-- Unknown handlers and extreme values are not errors: nothing matches.
SELECT label, hostile_try(stmt) AS outcome FROM (VALUES
    ('release unknown pair',        $$SELECT offset_release('no-such-event', 'hostile-ops-none')$$),
    ('reset unknown handler',       $$SELECT offset_reset('hostile-ops-none')$$),
    ('prune before -infinity',      $$SELECT offset_prune('hostile-ops-kept', '-infinity')$$),
    ('prune unknown handler',       $$SELECT offset_prune('hostile-ops-none', 'infinity')$$),
    ('prune without checkpoint',    $$SELECT offset_prune('hostile-ops-none')$$),
    ('SQL in handler (reset)',      $$SELECT offset_reset($q$'); DELETE FROM projection_offset; --$q$)$$),
    ('SQL in handler (prune)',      $$SELECT offset_prune($q$' OR true; --$q$, 'infinity')$$),
    ('LIKE pattern as handler',     $$SELECT offset_reset('%')$$),
    ('LIKE pattern as event id',    $$SELECT offset_release('%', 'hostile-ops-kept')$$)
) AS cases(label, stmt);

-- Checkpoints take the whole bigint range and never move back.
SELECT label, hostile_try(stmt) AS outcome FROM (VALUES
    ('negative',      $$SELECT offset_checkpoint('hostile-ops-cp', -5)$$),
    ('minimum',       $$SELECT offset_checkpoint('hostile-ops-cp', -9223372036854775808)$$),
    ('zero',          $$SELECT offset_checkpoint('hostile-ops-cp', 0)$$),
    ('maximum',       $$SELECT offset_checkpoint('hostile-ops-cp', 9223372036854775807)$$),
    ('back to 1',     $$SELECT offset_checkpoint('hostile-ops-cp', 1)$$),
    ('claim at max',  $$SELECT offset_claim_at('cp-1', 'hostile-ops-cp', 9223372036854775807)$$),
    ('claim at min',  $$SELECT offset_claim_at('cp-2', 'hostile-ops-cp', -9223372036854775808)$$),
    ('claim unpositioned', $$SELECT offset_claim('cp-3', 'hostile-ops-cp')$$)
) AS cases(label, stmt);

-- The events array of the batch form: everything that is not an array of
-- objects with a non-empty string "event_id" (and a numeric "position",
-- when given) is refused by position, before anything is recorded.
SELECT label, hostile_try(format('SELECT apply_with_offset_batch(%L, %L::regprocedure, %L::jsonb)',
                                 'hostile-ops-batch', 'hostile_ops_projector(text,jsonb)', events)) AS outcome
FROM (VALUES
    ('object',              '{"event_id": "a"}'),
    ('string',              '"[]"'),
    ('JSON null',           'null'),
    ('empty array',         '[]'),
    ('number element',      '[{"event_id": "a"}, 1]'),
    ('array element',       '[[{"event_id": "a"}]]'),
    ('no event_id',         '[{"id": "a"}]'),
    ('null event_id',       '[{"event_id": null}]'),
    ('numeric event_id',    '[{"event_id": 5}]'),
    ('object event_id',     '[{"event_id": {"id": "a"}}]'),
    ('empty event_id',      '[{"event_id": ""}]'),
    ('string position',     '[{"event_id": "a", "position": "3"}]'),
    ('fraction position',   '[{"event_id": "a", "position": 1.5}]'),
    ('huge position',       '[{"event_id": "a", "position": 1e30}]'),
    ('bool position',       '[{"event_id": "a", "position": true}]'),
    ('bad last element',    '[{"event_id": "a"}, {"event_id": "b"}, {"event_id": ""}]'),
    ('divergent repeat',    '[{"event_id": "r", "payload": 1}, {"event_id": "r", "payload": 2}]'),
    ('SQL in event_id',     $$[{"event_id": "'); DROP TABLE projection_offset; --", "payload": {}}]$$),
    ('duplicate key',       '[{"event_id": "first", "event_id": "second"}]')
) AS cases(label, events);
SELECT "eventId" FROM projection_offset WHERE "handlerName" = 'hostile-ops-batch' ORDER BY 1;
SELECT event_id FROM hostile_ops_seen ORDER BY 1;

-- Oversized batches: an over-long id anywhere refuses the whole batch;
-- 20,000 events of a few bytes each are applied in one call.
SELECT hostile_try($$SELECT apply_with_offset_batch('hostile-ops-big', 'hostile_ops_projector(text,jsonb)'::regprocedure,
    jsonb_build_array(jsonb_build_object('event_id', 'ok'), jsonb_build_object('event_id', repeat('x', 1025))))$$) AS long_id;
SELECT hostile_try($$SELECT apply_with_offset_batch('hostile-ops-big', 'hostile_ops_payload_only(jsonb)'::regprocedure,
    (SELECT jsonb_agg(jsonb_build_object('event_id', 'big-' || g, 'payload', g, 'position', g)) FROM generate_series(1, 20000) g))$$) AS twenty_thousand;
SELECT count(*) AS offsets, count(p."position") AS positions
FROM projection_offset o LEFT JOIN projection_offset_position p USING ("eventId", "handlerName")
WHERE o."handlerName" = 'hostile-ops-big';
SELECT count(*) AS projector_calls FROM hostile_ops_seen WHERE event_id IS NULL;
SELECT offset_checkpoint('hostile-ops-big', 10000), offset_prune('hostile-ops-big') AS pruned,
       offset_reset('hostile-ops-big') AS reset;

-- Nothing recorded before was lost or changed.
SELECT count(*) AS offsets_missing_or_changed FROM (
    SELECT * FROM hostile_before EXCEPT SELECT * FROM projection_offset) gone;
SELECT count(*) AS positions_missing_or_changed FROM (
    SELECT * FROM hostile_before_position EXCEPT SELECT * FROM projection_offset_position) gone;
SELECT count(*) AS checkpoints_missing_or_changed FROM (
    SELECT * FROM hostile_before_checkpoint EXCEPT SELECT "handlerName", "position" FROM projection_offset_checkpoint) gone;
SELECT "handlerName", count(*) AS added FROM (SELECT * FROM projection_offset EXCEPT SELECT * FROM hostile_before) added
GROUP BY 1 ORDER BY 1;

DELETE FROM projection_offset p
WHERE NOT EXISTS (SELECT FROM hostile_before b WHERE (b."eventId", b."handlerName") = (p."eventId", p."handlerName"))
   OR "handlerName" LIKE 'hostile-ops%';
DELETE FROM projection_offset_position WHERE "handlerName" LIKE 'hostile-ops%';
DELETE FROM projection_offset_checkpoint WHERE "handlerName" LIKE 'hostile-ops%';
DROP TABLE hostile_before, hostile_before_position, hostile_before_checkpoint, hostile_ops_seen;
DROP FUNCTION hostile_try(text), hostile_ops_projector(text, jsonb), hostile_ops_payload_only(jsonb);
