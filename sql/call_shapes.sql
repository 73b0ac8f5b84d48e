-- Version 1.2 gives every call shape its own name, so that a call written
-- with unknown-typed, text or varchar arguments, as drivers send them,
-- reaches the function it means or fails; it is never ambiguous.
CREATE TABLE shape_hits (event_id text, payload jsonb);
CREATE FUNCTION shape_projector(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO shape_hits VALUES (event_id, payload) $$;
CREATE FUNCTION shape_set_projector(event_ids text[], payloads jsonb[]) RETURNS void
LANGUAGE sql AS $$ INSERT INTO shape_hits SELECT * FROM unnest(event_ids, payloads) $$;

-- The SQL surface: no two functions share a name and an argument count.
SELECT p.proname, count(*) AS forms, string_agg(p.oid::regprocedure::text, ' | ' ORDER BY p.oid::regprocedure::text)
FROM pg_proc p
JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'projection_offset'
GROUP BY p.proname HAVING count(*) > 1 ORDER BY 1;

-- Statements prepared with untyped parameters, as node-postgres, psycopg,
-- asyncpg and Prisma prepare them. The parameter types PostgreSQL infers
-- show the function each one resolved to.
PREPARE claim AS SELECT offset_claim($1, $2, $3);
PREPARE claim_at AS SELECT offset_claim_at($1, $2, $3);
PREPARE claim_at_hashed AS SELECT offset_claim_at($1, $2, $3, $4);
PREPARE claim_batch AS SELECT * FROM offset_claim_batch($1, $2);
PREPARE apply3 AS SELECT apply_with_offset($1, $2, $3);
PREPARE apply4 AS SELECT apply_with_offset($1, $2, $3, $4);
PREPARE apply_batch AS SELECT apply_with_offset_batch($1, $2, $3);
SELECT name, parameter_types FROM pg_prepared_statements ORDER BY name;

-- Each stores what it means: a number bound to offset_claim_at is a
-- position, an array literal bound to offset_claim_batch is a batch.
EXECUTE claim('cs-1', 'shapes', 'hash-1');
EXECUTE claim_at('cs-2', 'shapes', '42');
EXECUTE claim_at_hashed('cs-3', 'shapes', '43', 'hash-3');
EXECUTE claim_batch('{cs-4,cs-5,cs-1}', 'shapes');
SELECT o."eventId", o."payloadHash", p."position"
FROM projection_offset o LEFT JOIN projection_offset_position p USING ("eventId", "handlerName")
WHERE o."handlerName" = 'shapes' ORDER BY 1;

-- The projector given as a string: with its argument types, or by a name
-- that is unique.
EXECUTE apply3('cs-6', 'shapes', 'shape_projector(text,jsonb)');
EXECUTE apply4('cs-7', 'shapes', 'shape_projector', '{"n": 7}');
EXECUTE apply4('cs-7', 'shapes', 'public.shape_projector(text, jsonb)', '{"n": 7}');
EXECUTE apply_batch('shapes', 'shape_projector',
    '[{"event_id": "cs-8", "payload": {"n": 8}}, {"event_id": "cs-7", "payload": {"n": 7}}]');
EXECUTE apply_batch('shapes-set', 'shape_set_projector(text[],jsonb[])',
    '[{"event_id": "cs-9", "payload": {"n": 9}}]');
SELECT * FROM shape_hits ORDER BY 1;

-- varchar, as pgJDBC sends strings by default, and a typed regprocedure.
SELECT apply_with_offset('cs-10'::varchar, 'shapes'::varchar, 'shape_projector(text,jsonb)'::varchar, '{"n": 10}'::jsonb);
SELECT apply_with_offset_batch('shapes'::varchar, 'shape_projector'::varchar, '[{"event_id": "cs-11"}]'::jsonb);
SELECT apply_with_offset('cs-12', 'shapes', 'shape_projector(text,jsonb)'::regprocedure);
SELECT offset_claim('cs-13'::varchar, 'shapes'::varchar, 'hash-13'::varchar),
       offset_claim_at('cs-14'::varchar, 'shapes'::varchar, 14);
SELECT count(*) AS hits FROM shape_hits;

-- A projector string that names no function, or several, or is malformed:
-- the error regprocedure and regproc input give, and nothing is stored.
\set VERBOSITY sqlstate
EXECUTE apply4('cs-20', 'shapes', 'no_such_projector', '{}');
EXECUTE apply4('cs-20', 'shapes', 'shape_projector(int)', '{}');
CREATE FUNCTION shape_projector(payload jsonb) RETURNS void LANGUAGE sql AS '';
EXECUTE apply4('cs-20', 'shapes', 'shape_projector', '{}');
EXECUTE apply4('cs-20', 'shapes', 'shape_projector(text', '{}');
EXECUTE apply4('cs-20', 'shapes', NULL, '{}');
EXECUTE apply_batch('shapes', 'no_such_projector', '[{"event_id": "cs-20"}]');
\set VERBOSITY default
EXECUTE apply4('cs-20', 'shapes', 'shape_projector', '{}');
SELECT count(*) AS stored FROM projection_offset WHERE "eventId" = 'cs-20';

-- The replay flag, read by function.
SELECT offset_replaying();
BEGIN;
SET LOCAL projection_offset.replaying = on;
SELECT offset_replaying();
COMMIT;
SELECT offset_replaying();
DEALLOCATE ALL;
