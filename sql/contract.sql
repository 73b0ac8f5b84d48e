-- The offset contract of an event projector, as the application's own
-- specifications state it: replay gives one mutation, a broken projector
-- fails loudly and leaves nothing, handlers keep independent offsets.

CREATE TABLE order_totals (order_id text PRIMARY KEY, total numeric NOT NULL, deliveries int NOT NULL);

-- A projector that is NOT idempotent on its own: it adds on every call.
CREATE FUNCTION add_to_total(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO order_totals VALUES (payload->>'order', (payload->>'amount')::numeric, 1)
    ON CONFLICT (order_id) DO UPDATE
        SET total = order_totals.total + EXCLUDED.total,
            deliveries = order_totals.deliveries + 1
$$;

-- Delivered five times, applied once.
SELECT apply_with_offset('evt-1', 'totals', 'add_to_total(text,jsonb)', '{"order": "o-1", "amount": 10}')
FROM generate_series(1, 5);
SELECT * FROM order_totals;
SELECT "eventId", "handlerName", "payloadHash" IS NOT NULL AS hashed FROM projection_offset
WHERE "handlerName" = 'totals';

-- The recorded hash is SHA-256 of the payload's jsonb text.
SELECT "payloadHash" = encode(sha256(convert_to('{"order": "o-1", "amount": 10}'::jsonb::text, 'UTF8')), 'hex') AS hash_matches
FROM projection_offset WHERE "eventId" = 'evt-1' AND "handlerName" = 'totals';

-- Key order and white space do not change the canonical text, so a
-- re-delivery with the same document is still a duplicate.
SELECT apply_with_offset('evt-1', 'totals', 'add_to_total(text,jsonb)', '{ "amount":10,"order":"o-1" }');

-- A broken projector: writes, then fails. The error reaches the caller with
-- its own SQLSTATE and a context line naming handler and event.
CREATE FUNCTION write_then_fail(payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO order_totals VALUES ('o-broken', 1, 1);
    RAISE EXCEPTION 'projector failed on purpose' USING ERRCODE = 'check_violation', DETAIL = 'payload was ' || payload::text;
END
$$;
SELECT apply_with_offset('evt-2', 'totals', 'write_then_fail(jsonb)', '{"order": "o-broken"}');
\echo :LAST_ERROR_SQLSTATE
-- Neither its write nor the offset persisted.
SELECT count(*) AS broken_rows FROM order_totals WHERE order_id = 'o-broken';
SELECT count(*) AS broken_offsets FROM projection_offset WHERE "eventId" = 'evt-2';

-- Inside a caller's transaction, the caller's later failure undoes the
-- claim together with the mutation.
BEGIN;
SELECT apply_with_offset('evt-3', 'totals', 'add_to_total(text,jsonb)', '{"order": "o-3", "amount": 5}');
SELECT count(*) FROM projection_offset WHERE "eventId" = 'evt-3';
ROLLBACK;
SELECT count(*) AS after_rollback FROM projection_offset WHERE "eventId" = 'evt-3';
SELECT apply_with_offset('evt-3', 'totals', 'add_to_total(text,jsonb)', '{"order": "o-3", "amount": 5}');

-- Two projectors keep independent offsets for the same event.
CREATE TABLE audit_log (event_id text, seen int);
CREATE FUNCTION log_event(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO audit_log VALUES (event_id, 1) $$;
SELECT apply_with_offset('evt-1', 'audit', 'log_event(text,jsonb)', '{"order": "o-1", "amount": 10}')
FROM generate_series(1, 3);
SELECT apply_with_offset('evt-1', 'totals', 'add_to_total(text,jsonb)', '{"order": "o-1", "amount": 10}');
SELECT * FROM audit_log;
SELECT "handlerName", count(*) FROM projection_offset WHERE "eventId" = 'evt-1' GROUP BY 1 ORDER BY 1;
SELECT * FROM order_totals ORDER BY order_id;

-- A payload-only projector, and a NULL payload (no hash is recorded).
CREATE FUNCTION count_only(payload jsonb) RETURNS void
LANGUAGE sql AS $$ UPDATE order_totals SET deliveries = deliveries + 1 WHERE order_id = 'o-3' $$;
SELECT apply_with_offset('evt-4', 'counter', 'count_only(jsonb)'::regprocedure);
SELECT apply_with_offset('evt-4', 'counter', 'count_only(jsonb)'::regprocedure);
SELECT deliveries FROM order_totals WHERE order_id = 'o-3';
SELECT "payloadHash" IS NULL AS no_hash FROM projection_offset WHERE "eventId" = 'evt-4';

-- A re-entrant projector: claiming its own pair again inside the projector
-- sees the claim already made by the outer call.
CREATE FUNCTION reenter(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'inner claim returned %', offset_claim(event_id, 'reentrant');
END
$$;
SELECT apply_with_offset('evt-5', 'reentrant', 'reenter(text,jsonb)', '{}');

-- A SQL projector that applies a follow-up event with itself: the nested
-- call runs with call state of its own.
CREATE TABLE follow_ups (event_id text);
CREATE FUNCTION follow_up(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO follow_ups VALUES (event_id);
    SELECT CASE WHEN event_id = 'evt-6' THEN apply_with_offset('evt-7', 'follow', 'follow_up(text,jsonb)', payload) END
$$;
SELECT apply_with_offset('evt-6', 'follow', 'follow_up(text,jsonb)', '{}');
SELECT apply_with_offset('evt-6', 'follow', 'follow_up(text,jsonb)', '{}');
SELECT event_id FROM follow_ups ORDER BY 1;
SELECT "eventId" FROM projection_offset WHERE "handlerName" = 'follow' ORDER BY 1;

-- A SQL projector that failed inside a savepoint is called afresh after the
-- rollback to it: nothing of the failed call is resumed.
CREATE TABLE once_only (id int PRIMARY KEY);
CREATE FUNCTION insert_once(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO once_only VALUES ((payload->>'id')::int) $$;
BEGIN;
SELECT apply_with_offset('sp-1', 'savepoints', 'insert_once(text,jsonb)', '{"id": 1}');
SAVEPOINT before_duplicate;
SELECT apply_with_offset('sp-2', 'savepoints', 'insert_once(text,jsonb)', '{"id": 1}');
ROLLBACK TO SAVEPOINT before_duplicate;
SELECT apply_with_offset('sp-3', 'savepoints', 'insert_once(text,jsonb)', '{"id": 3}');
COMMIT;
SELECT id FROM once_only ORDER BY id;
SELECT "eventId" FROM projection_offset WHERE "handlerName" = 'savepoints' ORDER BY 1;
