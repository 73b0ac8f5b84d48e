-- The offset contract in pgTAP: a claim is recorded once, a re-delivery is
-- skipped, a reused event id with another payload is PJ001, and a claim at
-- or below the checkpoint is a duplicate that stores nothing.
--     pg_prove -d mydb test/pgtap/offset_contract.sql
-- Everything runs in one transaction that is rolled back at the end.
BEGIN;
SELECT plan(12);

CREATE TABLE order_totals (order_id text PRIMARY KEY, total numeric NOT NULL);
CREATE FUNCTION project_order_total(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO order_totals VALUES (payload->>'order', (payload->>'amount')::numeric)
    ON CONFLICT (order_id) DO UPDATE SET total = order_totals.total + EXCLUDED.total;
END
$$;

-- Claims.
SELECT is(offset_claim('c-1', 'contract', 'hash-a'), true, 'a first claim records the pair');
SELECT is(offset_claim('c-1', 'contract', 'hash-a'), false, 'a re-delivery is not recorded again');
SELECT is(offset_claim('c-1', 'other-handler'), true, 'another handler claims the same event on its own');
SELECT throws_ok($$SELECT offset_claim('c-1', 'contract', 'hash-b')$$, 'PJ001',
    'event "c-1" was already applied by handler "contract" with a different payload',
    'the same event id with another payload hash is a divergence');
SELECT throws_ok($$SELECT offset_claim('', 'contract')$$, '22023', NULL, 'an empty event id is refused');

-- The projector called by the extension, given by name as a driver sends it.
SELECT is(apply_with_offset('c-2', 'contract', 'project_order_total', '{"order": "o-1", "amount": 25}'), true,
    'apply_with_offset applies a new event');
SELECT is(apply_with_offset('c-2', 'contract', 'project_order_total(text,jsonb)', '{"order": "o-1", "amount": 25}'), false,
    'and skips its re-delivery');
SELECT is((SELECT total FROM order_totals WHERE order_id = 'o-1'), 25::numeric,
    'the read model saw the event once');
SELECT throws_ok($$SELECT apply_with_offset('c-2', 'contract', 'project_order_total', '{"order": "o-1", "amount": 26}')$$,
    'PJ001', NULL, 'a re-delivery with another payload is a divergence');

-- Checkpoints.
SELECT is(offset_checkpoint('contract', 100), 100::bigint, 'the checkpoint is declared');
SELECT is(offset_claim_at('late', 'contract', 99), false, 'a claim below the checkpoint is a duplicate');
SELECT is((SELECT count(*) FROM projection_offset WHERE "eventId" = 'late'), 0::bigint,
    'and stores nothing');

SELECT * FROM finish();
ROLLBACK;
