-- offset_claim: the single and the batch form.

-- First claim records, re-delivery does not.
SELECT offset_claim('c-1', 'claims');
SELECT offset_claim('c-1', 'claims');
SELECT offset_claim('c-1', 'other-handler');

-- With hashes: the same hash is a re-delivery; a different one is rejected
-- with SQLSTATE PJ001, naming the event, the handler and both hashes.
SELECT offset_claim('c-2', 'claims', 'aaaa');
SELECT offset_claim('c-2', 'claims', 'aaaa');
SELECT offset_claim('c-2', 'claims', 'bbbb');
\echo :LAST_ERROR_SQLSTATE
-- A NULL hash on either side cannot be compared: a plain re-delivery.
SELECT offset_claim('c-2', 'claims');
SELECT offset_claim('c-1', 'claims', 'cccc');
SELECT "eventId", "payloadHash" FROM projection_offset WHERE "handlerName" = 'claims' ORDER BY 1;

-- The divergence error can be caught by SQLSTATE in PL/pgSQL.
DO $$
BEGIN
    PERFORM offset_claim('c-2', 'claims', 'dddd');
EXCEPTION WHEN SQLSTATE 'PJ001' THEN
    RAISE NOTICE 'caught divergence: %', SQLERRM;
END
$$;

-- Batch: records what is new, returns exactly those ids, in array order,
-- counting an id repeated in the array once.
SELECT * FROM offset_claim_batch(ARRAY['b-3', 'b-1', 'c-1', 'b-2', 'b-1', 'b-3'], 'claims');
SELECT * FROM offset_claim_batch(ARRAY['b-1', 'b-4'], 'claims');
SELECT * FROM offset_claim_batch(ARRAY[]::text[], 'claims');
SELECT count(*) FROM offset_claim_batch(ARRAY['b-1', 'b-2', 'b-3', 'b-4'], 'claims');
SELECT "eventId" FROM projection_offset WHERE "handlerName" = 'claims' AND "eventId" LIKE 'b-%' ORDER BY 1;

-- It is one set-based statement however long the array.
SELECT count(*) FROM offset_claim_batch(ARRAY(SELECT 'bulk-' || g FROM generate_series(1, 5000) g), 'bulk');
SELECT count(*) FROM offset_claim_batch(ARRAY(SELECT 'bulk-' || g FROM generate_series(4001, 6000) g), 'bulk');

-- Claims inside a transaction disappear with its rollback.
BEGIN;
SELECT offset_claim('c-9', 'claims');
ROLLBACK;
SELECT offset_claim('c-9', 'claims');

-- A literal pair of strings picks the single form, an array the batch form.
SELECT pg_typeof(offset_claim('c-10', 'claims'));
SELECT pg_typeof(offset_claim_batch(ARRAY['c-11'], 'claims'));

-- appliedAt is filled in by the table default.
SELECT "appliedAt" IS NOT NULL AND "appliedAt" <= localtimestamp AS stamped
FROM projection_offset WHERE "eventId" = 'c-10';
