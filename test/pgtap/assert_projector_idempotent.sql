-- The idempotency harness inside pgTAP, as a team tests its own projectors:
-- a correct projector lives through assert_projector_idempotent(), and each
-- kind of broken projector makes it throw PJ002.
--     pg_prove -d mydb test/pgtap/assert_projector_idempotent.sql
-- Everything runs in one transaction that is rolled back at the end.
BEGIN;
SELECT plan(15);

CREATE TABLE order_totals (order_id text PRIMARY KEY, total numeric NOT NULL);
CREATE TABLE delivery_counter (id int PRIMARY KEY, n int NOT NULL);
INSERT INTO delivery_counter VALUES (1, 0);
CREATE SEQUENCE receipt_numbers;

-- The events every check delivers: two to one order, one to another.
CREATE FUNCTION test_events() RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT '[{"event_id": "t-1", "payload": {"order": "o-1", "amount": 10}},
             {"event_id": "t-2", "payload": {"order": "o-1", "amount": 5}},
             {"event_id": "t-3", "payload": {"order": "o-2", "amount": 7}}]'::jsonb
$$;

-- Correct: claims first, mutates only when the claim is new.
CREATE FUNCTION project_order_total(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF offset_claim(event_id, 'order-totals') THEN
        INSERT INTO order_totals VALUES (payload->>'order', (payload->>'amount')::numeric)
        ON CONFLICT (order_id) DO UPDATE SET total = order_totals.total + EXCLUDED.total;
    END IF;
END
$$;

-- Broken: mutates, then claims.
CREATE FUNCTION mutates_before_claiming(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO order_totals VALUES (payload->>'order', (payload->>'amount')::numeric)
    ON CONFLICT (order_id) DO UPDATE SET total = order_totals.total + EXCLUDED.total;
    PERFORM offset_claim(event_id, 'order-totals-early');
END
$$;

-- Broken: never claims; its upsert looks harmless but rewrites the row.
CREATE FUNCTION never_claims(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO order_totals VALUES (payload->>'order', (payload->>'amount')::numeric)
    ON CONFLICT (order_id) DO UPDATE SET total = EXCLUDED.total
$$;

-- Broken: claims under a handler name that changes with every delivery.
CREATE FUNCTION claims_changing_handler(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF offset_claim(event_id, 'order-totals@' || clock_timestamp()::text) THEN
        UPDATE delivery_counter SET n = n + 1 WHERE id = 1;
    END IF;
END
$$;

-- Broken: claims, but counts every delivery anyway.
CREATE FUNCTION counts_every_delivery(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM offset_claim(event_id, 'delivery-count');
    UPDATE delivery_counter SET n = n + 1 WHERE id = 1;
END
$$;

-- Broken in a way table counters cannot see: draws a number on every delivery.
CREATE FUNCTION draws_a_number(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('receipt_numbers');
    PERFORM offset_claim(event_id, 'receipts');
END
$$;

-- A correct projector passes, with and without a state query and a handler.
SELECT lives_ok(
    $$SELECT * FROM assert_projector_idempotent('project_order_total(text,jsonb)', test_events())$$,
    'a projector that claims before it mutates is idempotent');
SELECT lives_ok(
    $$SELECT * FROM assert_projector_idempotent('project_order_total(text,jsonb)', test_events(), 7,
          state_query => 'SELECT order_id, total FROM order_totals', handler_name => 'order-totals')$$,
    'it is idempotent over 7 deliveries, by its state query, under its own handler name');
SELECT results_eq(
    $$SELECT events_checked, deliveries, tables_touched
        FROM assert_projector_idempotent('project_order_total(text,jsonb)', test_events())$$,
    $$VALUES (3, 15::bigint, ARRAY['order_totals'])$$,
    'the harness reports 3 events, 15 deliveries and the table the first pass wrote');
SELECT is((SELECT count(*) FROM order_totals), 0::bigint,
    'the harness rolled back the read model');
SELECT is((SELECT count(*) FROM projection_offset WHERE "eventId" LIKE 't-%'), 0::bigint,
    'the harness rolled back the offsets');

-- Each kind of broken projector is caught with PJ002.
SELECT throws_ok(
    $$SELECT * FROM assert_projector_idempotent('mutates_before_claiming(text,jsonb)', test_events())$$,
    'PJ002', NULL, 'a projector that mutates before it claims is caught');
SELECT throws_ok(
    $$SELECT * FROM assert_projector_idempotent('never_claims(text,jsonb)', test_events())$$,
    'PJ002', NULL, 'a projector that never claims is caught');
SELECT throws_ok(
    $$SELECT * FROM assert_projector_idempotent('claims_changing_handler(text,jsonb)', test_events())$$,
    'PJ002', NULL, 'a projector whose handler name changes per delivery is caught');
SELECT throws_ok(
    $$SELECT * FROM assert_projector_idempotent('counts_every_delivery(text,jsonb)', test_events())$$,
    'PJ002',
    'projector counts_every_delivery(text,jsonb) is not idempotent: re-delivery of event "t-3" changed delivery_counter (0 inserted, 1 updated, 0 deleted)',
    'a projector that counts every delivery is caught, with the event and the change named');
SELECT throws_ok(
    $$SELECT * FROM assert_projector_idempotent('draws_a_number(text,jsonb)', test_events(), 5,
          'SELECT last_value FROM receipt_numbers')$$,
    'PJ002', NULL, 'a projector that draws a sequence number per delivery is caught by the state query');
SELECT lives_ok(
    $$SELECT * FROM assert_projector_idempotent('draws_a_number(text,jsonb)', test_events())$$,
    'without a state query, a sequence is invisible to the harness: give one for state outside tables');
SELECT throws_ok(
    $$SELECT * FROM assert_projector_idempotent('project_order_total(text,jsonb)', test_events(), 2, NULL, 'order-total')$$,
    'PJ002', NULL, 'a projector that claims under another handler name than the expected one is caught');

-- A failed check leaves nothing behind either.
SELECT is((SELECT n FROM delivery_counter), 0, 'the broken projectors'' writes were rolled back');

-- The harness checks its own arguments.
SELECT throws_ok(
    $$SELECT * FROM assert_projector_idempotent('project_order_total(text,jsonb)', test_events(), 1)$$,
    '22023', 'replays must be at least 2', 'one delivery proves nothing: replays must be at least 2');
SELECT throws_ok(
    $$SELECT * FROM assert_projector_idempotent('jsonb_typeof(jsonb)', '[]')$$,
    '42804', NULL, 'a projector must take (text, jsonb)');

SELECT * FROM finish();
ROLLBACK;
