-- assert_projector_idempotent: the idempotency harness for projectors that
-- claim their own offsets, with one correct and four broken examples.
CREATE TABLE harness_totals (order_id text PRIMARY KEY, total numeric NOT NULL);
CREATE TABLE harness_counter (id int PRIMARY KEY, n int NOT NULL);
INSERT INTO harness_counter VALUES (1, 0);

-- Correct: claims first, mutates only when the claim is new.
CREATE FUNCTION correct_projector(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF offset_claim(event_id, 'harness-totals') THEN
        INSERT INTO harness_totals VALUES (payload->>'order', (payload->>'amount')::numeric)
        ON CONFLICT (order_id) DO UPDATE SET total = harness_totals.total + EXCLUDED.total;
    END IF;
END
$$;

-- Broken: mutates, then claims.
CREATE FUNCTION mutates_before_claiming(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO harness_totals VALUES (payload->>'order', (payload->>'amount')::numeric)
    ON CONFLICT (order_id) DO UPDATE SET total = harness_totals.total + EXCLUDED.total;
    PERFORM offset_claim(event_id, 'harness-early');
END
$$;

-- Broken: never claims; its upsert looks harmless but rewrites the row.
CREATE FUNCTION never_claims(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO harness_totals VALUES (payload->>'order', (payload->>'amount')::numeric)
    ON CONFLICT (order_id) DO UPDATE SET total = EXCLUDED.total
$$;

-- Broken: claims under a handler name that changes with every delivery.
CREATE FUNCTION claims_wrong_handler(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF offset_claim(event_id, 'harness@' || clock_timestamp()::text) THEN
        UPDATE harness_counter SET n = n + 1 WHERE id = 1;
    END IF;
END
$$;

-- Broken: claims correctly but counts every delivery anyway.
CREATE FUNCTION counts_every_delivery(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM offset_claim(event_id, 'harness-count');
    UPDATE harness_counter SET n = n + 1 WHERE id = 1;
END
$$;

\set events '[{"event_id": "h-1", "payload": {"order": "o-1", "amount": 10}}, {"event_id": "h-2", "payload": {"order": "o-1", "amount": 5}}, {"event_id": "h-3", "payload": {"order": "o-2", "amount": 7}}]'

-- The correct projector passes: 3 events, 15 deliveries, one table touched.
SELECT * FROM assert_projector_idempotent('correct_projector(text,jsonb)', :'events');
-- With a state query, and naming the handler it must claim under.
SELECT * FROM assert_projector_idempotent('correct_projector(text,jsonb)', :'events', 3,
    'SELECT order_id, total FROM harness_totals', 'harness-totals');
-- Everything was rolled back: the test can run again.
SELECT count(*) AS totals_rows FROM harness_totals;
SELECT count(*) AS offsets FROM projection_offset WHERE "eventId" LIKE 'h-%';
-- keep_changes keeps the first pass.
SELECT events_checked FROM assert_projector_idempotent('correct_projector(text,jsonb)', :'events', keep_changes => true);
SELECT * FROM harness_totals ORDER BY order_id;
SELECT "eventId", "handlerName" FROM projection_offset WHERE "eventId" LIKE 'h-%' ORDER BY 1;

-- Each broken projector is caught, with the event, the table and the change.
\set SHOW_CONTEXT never
SELECT * FROM assert_projector_idempotent('mutates_before_claiming(text,jsonb)', :'events');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM assert_projector_idempotent('never_claims(text,jsonb)', :'events');
SELECT * FROM assert_projector_idempotent('claims_wrong_handler(text,jsonb)', :'events');
SELECT * FROM assert_projector_idempotent('counts_every_delivery(text,jsonb)', :'events');

-- State that table counters cannot see, such as a sequence, is checked
-- through the state query.
CREATE SEQUENCE harness_seq;
CREATE FUNCTION draws_a_number(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('harness_seq');
    PERFORM offset_claim(event_id, 'harness-seq');
END
$$;
SELECT * FROM assert_projector_idempotent('draws_a_number(text,jsonb)', :'events');
SELECT * FROM assert_projector_idempotent('draws_a_number(text,jsonb)', :'events', 5,
    'SELECT last_value FROM harness_seq');

-- A projector that claims under another handler than the one it should.
SELECT * FROM assert_projector_idempotent('correct_projector(text,jsonb)', :'events', 2, NULL, 'harness-total');

-- A failed check leaves nothing behind either.
SELECT n FROM harness_counter;
SELECT count(*) AS early_offsets FROM projection_offset WHERE "handlerName" = 'harness-early';

-- Bad arguments.
SELECT * FROM assert_projector_idempotent(NULL, '[]');
SELECT * FROM assert_projector_idempotent('correct_projector(text,jsonb)', NULL);
SELECT * FROM assert_projector_idempotent('correct_projector(text,jsonb)', '{}');
SELECT * FROM assert_projector_idempotent('correct_projector(text,jsonb)', '[]', 1);
SELECT * FROM assert_projector_idempotent('correct_projector(text,jsonb)', '[{"payload": {}}]');
SELECT * FROM assert_projector_idempotent('jsonb_typeof(jsonb)', '[]');
-- An empty event list passes trivially.
SELECT * FROM assert_projector_idempotent('correct_projector(text,jsonb)', '[]');

-- The projector is called by its OID: an overload of the same name whose
-- defaults would make a call by name ambiguous changes nothing.
CREATE FUNCTION correct_projector(event_id text, payload jsonb, extra int DEFAULT 0) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the overload was called'; END $$;
SELECT * FROM assert_projector_idempotent('correct_projector(text,jsonb)', :'events');
DROP FUNCTION correct_projector(text, jsonb, int);

-- A projector that raises PJ900 itself fails the check: the harness rolls
-- back with a PJ900 of its own and never mistakes the projector's for it.
CREATE FUNCTION raises_pj900(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM offset_claim(event_id, 'harness-pj900');
    RAISE EXCEPTION 'projector gave up' USING ERRCODE = 'PJ900';
END
$$;
SELECT * FROM assert_projector_idempotent('raises_pj900(text,jsonb)', :'events');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS pj900_offsets FROM projection_offset WHERE "handlerName" = 'harness-pj900';

-- An error of the projector reaches the caller with its SQLSTATE and a
-- context line naming the event.
\set SHOW_CONTEXT always
CREATE FUNCTION fails_on_h2(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF event_id = 'h-2' THEN
        RAISE EXCEPTION 'no such order' USING ERRCODE = 'foreign_key_violation';
    END IF;
    PERFORM offset_claim(event_id, 'harness-fails');
END
$$;
SELECT * FROM assert_projector_idempotent('fails_on_h2(text,jsonb)', :'events');
\echo :LAST_ERROR_SQLSTATE
\set SHOW_CONTEXT never

-- The harness keeps working after its schema is renamed.
DROP EXTENSION projection_offset;
CREATE SCHEMA harness_ext;
CREATE EXTENSION projection_offset SCHEMA harness_ext;
ALTER SCHEMA harness_ext RENAME TO harness_ext_renamed;
CREATE FUNCTION claims_after_rename(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN PERFORM harness_ext_renamed.offset_claim(event_id, 'harness-renamed'); END $$;
CREATE FUNCTION counts_after_rename(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM harness_ext_renamed.offset_claim(event_id, 'harness-renamed');
    UPDATE harness_counter SET n = n + 1 WHERE id = 1;
END
$$;
SELECT * FROM harness_ext_renamed.assert_projector_idempotent('claims_after_rename(text,jsonb)', :'events', 3);
SELECT * FROM harness_ext_renamed.assert_projector_idempotent('counts_after_rename(text,jsonb)', :'events');
DROP EXTENSION projection_offset;
DROP SCHEMA harness_ext_renamed;
CREATE EXTENSION projection_offset;
