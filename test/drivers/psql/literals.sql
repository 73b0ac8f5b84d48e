-- The driver scenario's psql part: every value a plain literal, no casts,
-- as in a psql script or a pgTAP test. Unquoted numbers are integer
-- constants; quoted strings, arrays and JSON are untyped literals whose type
-- the server infers from the function called.
--
-- Run by test/drivers/suite.sh with psql -X -At; prints the same lines as
-- the other drivers ("ok psql: ...", "not ok psql: ...", "shape ...").
-- Each call is set in :call, run as a scalar subquery, and recorded with its
-- outcome: its value, or the SQLSTATE psql keeps in :LAST_ERROR_SQLSTATE.
\set ON_ERROR_STOP 0
\set QUIET on
\set VERBOSITY terse

CREATE TEMP TABLE shapes (n serial, call text, outcome text);
CREATE FUNCTION pg_temp.check(passed boolean, what text, found text DEFAULT NULL) RETURNS text
LANGUAGE sql AS $$
    SELECT CASE WHEN passed THEN 'ok psql: ' || what
                ELSE 'not ok psql: ' || what || ': found ' || coalesce(found, 'null') END
$$;
CREATE FUNCTION pg_temp.record(call text, result text, sqlstate text) RETURNS text
LANGUAGE sql AS $$
    INSERT INTO pg_temp.shapes (call, outcome)
    VALUES (call, CASE WHEN result = '<error>' THEN 'error ' || sqlstate ELSE result END)
    RETURNING outcome
$$;
CREATE FUNCTION pg_temp.hashes(event text, handler text) RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(coalesce("payloadHash", 'null'), ','), 'none') FROM public.projection_offset
    WHERE "eventId" = event AND "handlerName" = handler
$$;
CREATE FUNCTION pg_temp.applied(event text) RETURNS bigint
LANGUAGE sql AS $$ SELECT count(*) FROM public.drivers_applied WHERE event_id = event $$;

-- offset_claim: claim, re-delivery, divergence
\set call 'SELECT offset_claim(''psql-c1'', ''psql:claims'')'
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o \gset
SELECT pg_temp.check(:'o' = 't', 'offset_claim of a new event returns true', :'o');
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o \gset
SELECT pg_temp.check(:'o' = 'f', 'offset_claim of a re-delivery returns false', :'o');
SELECT pg_temp.check(pg_temp.hashes('psql-c1', 'psql:claims') = 'null', 'one offset row, no payload hash',
                     pg_temp.hashes('psql-c1', 'psql:claims'));

\set call 'SELECT offset_claim(''psql-c2'', ''psql:claims'', ''aaaa'')'
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o \gset
SELECT pg_temp.check(:'o' = 't', 'offset_claim with a payload hash returns true', :'o');
\set call 'SELECT offset_claim(''psql-c2'', ''psql:claims'', ''bbbb'')'
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o \gset
SELECT pg_temp.check(:'o' = 'error PJ001', 'a different hash raises PJ001, read at :LAST_ERROR_SQLSTATE', :'o');
SELECT pg_temp.check(pg_temp.hashes('psql-c2', 'psql:claims') = 'aaaa', 'the divergent call stored nothing: one row, hash aaaa',
                     pg_temp.hashes('psql-c2', 'psql:claims'));

-- offset_claim_at against a checkpoint; an integer literal is a position.
SELECT offset_checkpoint('psql:positions', 100) AS o \gset
\set call 'SELECT offset_claim_at(''psql-p50'', ''psql:positions'', 50)'
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o \gset
SELECT pg_temp.check(:'o' = 'f' AND pg_temp.hashes('psql-p50', 'psql:positions') = 'none',
                     'a claim below the checkpoint returns false and stores nothing', :'o');
\set call 'SELECT offset_claim_at(''psql-p150'', ''psql:positions'', 150)'
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o \gset
SELECT pg_temp.check(:'o' = 't' AND (SELECT "position" FROM projection_offset_position
                                     WHERE "eventId" = 'psql-p150' AND "handlerName" = 'psql:positions') = 150,
                     'the integer literal is stored as the position (projection_offset_position)', :'o');

-- An integer literal given to offset_claim, whose third argument is the hash.
\set call 'SELECT offset_claim(''psql-n42'', ''psql:claims'', 42)'
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o \gset
SELECT pg_temp.check(pg_temp.hashes('psql-n42', 'psql:claims') = 'none'
                     AND NOT EXISTS (SELECT FROM projection_offset_position WHERE "eventId" = 'psql-n42'),
                     'an integer literal given to offset_claim stores nothing', :'o');

-- offset_claim_batch, with an array literal and with ARRAY[...]
\set call 'SELECT coalesce(string_agg(id, '',''), '''') FROM offset_claim_batch(''{psql-b1,psql-b2,psql-b1}'', ''psql:batch'') AS id'
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o \gset
SELECT pg_temp.check(:'o' = 'psql-b1,psql-b2', 'offset_claim_batch returns exactly the new ids, in order', :'o');
\set call 'SELECT coalesce(string_agg(id, '',''), '''') FROM offset_claim_batch(ARRAY[''psql-b2'', ''psql-b3''], ''psql:batch'') AS id'
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o \gset
SELECT pg_temp.check(:'o' = 'psql-b3' AND (SELECT count(*) FROM projection_offset WHERE "handlerName" = 'psql:batch') = 3,
                     'an ARRAY[...] batch returns only its new id; three offset rows', :'o');

-- apply_with_offset: four literals, then three (the pgTAP case)
\set call 'SELECT apply_with_offset(''psql-a1'', ''psql:apply'', ''public.drivers_project_sql(text,jsonb)'', ''{"amount": 5}'')'
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o \gset
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o2 \gset
SELECT pg_temp.check(:'o' = 't' AND :'o2' = 'f' AND pg_temp.applied('psql-a1') = 1,
                     'apply_with_offset applies once: true, then false, one read-model row', :'o' || ', ' || :'o2');
\set call 'SELECT apply_with_offset(''psql-a2'', ''psql:apply'', ''public.drivers_project_plpgsql'')'
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o \gset
SELECT pg_temp.check(:'o' = 't' AND pg_temp.applied('psql-a2') = 1,
                     'apply_with_offset with three literals returns true (not 42725)', :'o');
\set call 'SELECT apply_with_offset(''psql-a3'', ''psql:apply'', ''public.drivers_project_plpgsql(text,jsonb)'', ''{"amount": 1, "raise": "PX042"}'')'
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o \gset
SELECT pg_temp.check(:'o' = 'error PX042' AND pg_temp.applied('psql-a3') = 0 AND pg_temp.hashes('psql-a3', 'psql:apply') = 'none',
                     'the projector''s own SQLSTATE PX042 is kept and nothing is stored', :'o');

-- apply_with_offset_batch: positional literals, then named arguments
\set call 'SELECT apply_with_offset_batch(''psql:batch-apply'', ''public.drivers_project_sql'', ''[{"event_id": "psql-e1", "payload": {"amount": 1}}, {"event_id": "psql-e2"}]'')'
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o \gset
SELECT pg_temp.check(:'o' = '2' AND pg_temp.applied('psql-e1') = 1 AND pg_temp.applied('psql-e2') = 1,
                     'apply_with_offset_batch applies each event once', :'o');
\set call 'SELECT apply_with_offset_batch(handler_name => ''psql:batch-apply'', projector => ''public.drivers_project_sql(text,jsonb)'', events => ''[{"event_id": "psql-e1"}, {"event_id": "psql-e3"}]'')'
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o \gset
SELECT pg_temp.check(:'o' = '1' AND pg_temp.applied('psql-e1') = 1 AND pg_temp.applied('psql-e3') = 1,
                     'with named arguments, a re-delivered batch applies only the new event', :'o');

-- Which function each call reached: with track_functions = 'all',
-- pg_stat_xact_user_functions names every function the transaction called.
BEGIN;
SET LOCAL track_functions = 'all';
SELECT apply_with_offset('psql-r1', 'psql:resolved', 'public.drivers_project_sql(text,jsonb)', '{"amount": 1}') AS o \gset
SELECT apply_with_offset('psql-r2', 'psql:resolved', 'public.drivers_project_sql') AS o \gset
SELECT apply_with_offset_batch('psql:resolved', 'public.drivers_project_sql(text,jsonb)', '[{"event_id": "psql-r3"}]') AS o \gset
SELECT offset_claim('psql-r4', 'psql:resolved', 'aaaa') AS o \gset
SELECT offset_claim_at('psql-r5', 'psql:resolved', 5) AS o \gset
SELECT count(*) AS o FROM offset_claim_batch('{psql-r6}', 'psql:resolved') \gset
SELECT string_agg(funcid::regprocedure::text || ' x' || calls, ', ' ORDER BY funcid::regprocedure::text) AS o
FROM pg_stat_xact_user_functions
WHERE funcname IN ('apply_with_offset', 'apply_with_offset_batch', 'offset_claim', 'offset_claim_at', 'offset_claim_batch') \gset
COMMIT;
SELECT pg_temp.check(:'o' = 'apply_with_offset(text,text,text,jsonb) x2, apply_with_offset_batch(text,text,jsonb) x1, '
                            'offset_claim(text,text,text) x1, offset_claim_at(text,text,bigint,text) x1, offset_claim_batch(text[],text) x1',
                     'each call reached the function named for it; a projector string reached the text form (pg_stat_xact_user_functions)', :'o');

-- offset_replaying
\set call 'SELECT offset_replaying()'
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o \gset
SET projection_offset.replaying = on;
\set r '<error>'
SELECT (:call) AS r \gset
SELECT pg_temp.record(:'call', :'r', :'LAST_ERROR_SQLSTATE') AS o2 \gset
RESET projection_offset.replaying;
SELECT pg_temp.check(:'o' = 'f' AND :'o2' = 't', 'offset_replaying() is false, then true after SET projection_offset.replaying = on',
                     :'o' || ', ' || :'o2');

SELECT pg_temp.check(NOT EXISTS (SELECT FROM shapes WHERE outcome LIKE '%42725%'), 'no call shape above was ambiguous (42725)');

SELECT format(E'shape\tpsql\t%s\tliterals\t%s\t', call, string_agg(outcome, '; ' ORDER BY first))
FROM (SELECT call, outcome, min(n) AS first FROM shapes GROUP BY call, outcome) AS s
GROUP BY call ORDER BY min(first);
