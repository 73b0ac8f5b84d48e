-- Every bad input gets a clear error with its own SQLSTATE and records nothing.
\set VERBOSITY sqlstate
\set SHOW_CONTEXT never
CREATE FUNCTION good_projector(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ SELECT $$;

-- NULL key parts: 22004, naming the argument.
\set VERBOSITY default
SELECT offset_claim(NULL, 'bad');
SELECT offset_claim('e', NULL);
SELECT offset_claim_batch(NULL::text[], 'bad');
SELECT offset_claim_batch(ARRAY['e'], NULL);
SELECT offset_claim_batch(ARRAY['e', NULL], 'bad');
SELECT apply_with_offset(NULL, 'bad', 'good_projector(text,jsonb)', '{}');
SELECT apply_with_offset('e', NULL, 'good_projector(text,jsonb)', '{}');
SELECT apply_with_offset('e', 'bad', NULL, '{}');
\set VERBOSITY sqlstate
SELECT offset_claim(NULL, 'bad');
SELECT offset_claim_batch(ARRAY['e', NULL], 'bad');
SELECT apply_with_offset('e', 'bad', NULL, '{}');
\set VERBOSITY default

-- Empty strings: 22023.
SELECT offset_claim('', 'bad');
SELECT offset_claim('e', '');
SELECT offset_claim('e', 'bad', '');
SELECT offset_claim_batch(ARRAY['e', ''], 'bad');
SELECT apply_with_offset('', 'bad', 'good_projector(text,jsonb)', '{}');
\set VERBOSITY sqlstate
SELECT offset_claim('', 'bad');
SELECT offset_claim_batch(ARRAY['e', ''], 'bad');
\set VERBOSITY default

-- Values too long to index: event ids up to 1024 bytes, handler names up to
-- 256 bytes (in bytes, not characters); checked before the B-tree sees them.
SELECT offset_claim(repeat('x', 1025), 'bad');
SELECT offset_claim('e', repeat('h', 257));
SELECT offset_claim('e', repeat('é', 129));
SELECT offset_claim_batch(ARRAY['e', repeat('x', 1025)], 'bad');
\set VERBOSITY sqlstate
SELECT offset_claim(repeat('x', 1025), 'bad');
\set VERBOSITY default
-- At the limits, both are accepted.
SELECT offset_claim(repeat('x', 1024), repeat('h', 256));
SELECT offset_claim(repeat('x', 1024), repeat('h', 256));
DELETE FROM projection_offset WHERE "handlerName" = repeat('h', 256);

-- Multi-dimensional arrays are rejected rather than flattened.
SELECT offset_claim_batch(ARRAY[['a', 'b'], ['c', 'd']], 'bad');

-- Projectors with no matching signature: 42804.
CREATE FUNCTION wrong_args(payload text) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION swapped_args(payload jsonb, event_id text) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION one_too_many(event_id text, payload jsonb, extra int DEFAULT 0) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SELECT apply_with_offset('e', 'bad', 'wrong_args(text)', '{}');
SELECT apply_with_offset('e', 'bad', 'swapped_args(jsonb,text)', '{}');
SELECT apply_with_offset('e', 'bad', 'one_too_many(text,jsonb,int)', '{}');
\set VERBOSITY sqlstate
SELECT apply_with_offset('e', 'bad', 'wrong_args(text)', '{}');
\set VERBOSITY default

-- Procedures, aggregates, window and set-returning functions: 42809.
CREATE PROCEDURE a_procedure(payload jsonb) LANGUAGE sql AS $$ SELECT $$;
CREATE AGGREGATE an_aggregate(jsonb) (SFUNC = jsonb_concat, STYPE = jsonb);
CREATE FUNCTION a_set(payload jsonb) RETURNS SETOF int LANGUAGE sql AS $$ SELECT 1 $$;
SELECT apply_with_offset('e', 'bad', 'a_procedure(jsonb)', '{}');
SELECT apply_with_offset('e', 'bad', 'an_aggregate(jsonb)', '{}');
SELECT apply_with_offset('e', 'bad', 'row_number()', '{}');
SELECT apply_with_offset('e', 'bad', 'a_set(jsonb)', '{}');
\set VERBOSITY sqlstate
SELECT apply_with_offset('e', 'bad', 'a_procedure(jsonb)', '{}');
\set VERBOSITY default

-- A function that no longer exists, given by OID: 42883.
CREATE FUNCTION doomed(payload jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SELECT 'doomed(jsonb)'::regprocedure::oid AS doomed_oid \gset
DROP FUNCTION doomed(jsonb);
\set VERBOSITY sqlstate
SELECT apply_with_offset('e', 'bad', :doomed_oid::regprocedure, '{}');
\set VERBOSITY default

-- A strict projector would silently not run on a NULL payload: 22004.
CREATE FUNCTION strict_projector(payload jsonb) RETURNS void LANGUAGE sql STRICT AS $$ SELECT $$;
SELECT apply_with_offset('e', 'bad', 'strict_projector(jsonb)', NULL);

-- A bad element anywhere in a batch records none of the good ones.
SELECT offset_claim_batch(ARRAY['good-1', 'good-2', NULL], 'bad');

-- Nothing above was recorded.
SELECT count(*) AS recorded FROM projection_offset WHERE "handlerName" = 'bad';
