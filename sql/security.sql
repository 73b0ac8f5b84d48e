-- The privilege model, role by role. Nothing on the extension's tables is
-- granted to PUBLIC; every function runs with the caller's rights
-- (SECURITY INVOKER), so what a role may do is what it is granted:
--   claim (offset_claim, apply_with_offset for one event):
--       SELECT, INSERT on projection_offset
--   batch apply_with_offset: the same, when no event carries a position
--   claim with a position, or a batch whose events carry positions:
--       also SELECT on projection_offset_checkpoint and
--       SELECT, INSERT on projection_offset_position
--   offset_checkpoint: SELECT, INSERT, UPDATE on projection_offset_checkpoint
--   offset_release: SELECT, DELETE on projection_offset and projection_offset_position
--   offset_reset, offset_prune: EXECUTE, which is revoked from PUBLIC and
--       granted by an administrator, and SELECT, DELETE on the tables they
--       delete from (offset_reset and offset_prune(handler) also read or
--       delete the checkpoint)
--   projection_offset_status: SELECT on the view
--   projection_register and the other projection_* functions: see
--       sql/registry.sql; appending to an inline handler's source:
--       sql/inline.sql
-- A role without a right gets SQLSTATE 42501 and nothing is written.
\set VERBOSITY default
\set SHOW_CONTEXT never

-- Runs one statement; reports its result, or its SQLSTATE and message.
CREATE FUNCTION sec_try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result text;
    state text;
    msg text;
BEGIN
    EXECUTE stmt INTO result;
    RETURN 'ok: ' || coalesce(result, 'NULL');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN state || ': ' || msg;
END
$$;

-- Every entry point, as a role would call it.
CREATE TABLE sec_calls (ord int PRIMARY KEY, label text, stmt text);
INSERT INTO sec_calls VALUES
    (1,  'offset_claim(id, handler)',          $$SELECT offset_claim('s-1', 'sec')$$),
    (2,  'offset_claim(id, handler, hash)',    $$SELECT offset_claim('s-2', 'sec', 'h2')$$),
    (3,  'offset_claim(ids[], handler)',       $$SELECT string_agg(x, ',') FROM offset_claim_batch(ARRAY['s-3', 's-4'], 'sec') x$$),
    (4,  'offset_claim(id, handler, position)', $$SELECT offset_claim_at('s-5', 'sec', 5::bigint)$$),
    (5,  'apply_with_offset(id, ...)',         $$SELECT apply_with_offset('s-6', 'sec', 'sec_projector(text,jsonb)', '{"n": 6}')$$),
    (6,  'apply_with_offset(batch)',           $$SELECT apply_with_offset_batch('sec', 'sec_projector(text,jsonb)'::regprocedure, '[{"event_id": "s-7", "payload": {"n": 7}}]'::jsonb)$$),
    (7,  'offset_checkpoint',                  $$SELECT offset_checkpoint('sec', 1)$$),
    (8,  'offset_release',                     $$SELECT offset_release('s-1', 'sec')$$),
    (9,  'offset_prune(handler, older_than)',  $$SELECT offset_prune('sec', now() + interval '1 day')$$),
    (10, 'offset_prune(handler)',              $$SELECT offset_prune('sec')$$),
    (11, 'offset_reset',                       $$SELECT offset_reset('sec')$$),
    (12, 'projection_offset_status',           $$SELECT count(*) FROM projection_offset_status WHERE handler_name = 'sec'$$),
    (13, 'SELECT projection_offset',           $$SELECT count(*) FROM projection_offset WHERE "handlerName" = 'sec'$$),
    (14, 'counters_reset',                     $$SELECT projection_offset_counters_reset()$$);
CREATE TABLE sec_effects (event_id text, applied_by text);
GRANT SELECT ON sec_calls TO PUBLIC;
GRANT INSERT, SELECT ON sec_effects TO PUBLIC;
CREATE FUNCTION sec_projector(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO public.sec_effects VALUES (event_id, current_user) $$;

-- Runs every entry point as the current role, in one transaction that is
-- rolled back, so that each role starts from the same state.
CREATE FUNCTION sec_matrix() RETURNS TABLE (entry_point text, outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM sec_calls ORDER BY ord LOOP
        entry_point := c.label;
        outcome := sec_try(c.stmt);
        RETURN NEXT;
    END LOOP;
END
$$;

-- EXECUTE as installed: PUBLIC may call everything but offset_reset,
-- offset_prune, the counters, the Citus functions and the functions that
-- manage registered projections (their privileges: sql/registry.sql).
SELECT p.oid::regprocedure AS function,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
FROM pg_proc p
JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'projection_offset'
WHERE p.proname NOT LIKE '\_%'
ORDER BY p.oid::regprocedure::text;
-- No table or view of the extension grants anything to PUBLIC.
SELECT c.relname, c.relkind, c.relacl IS NULL OR NOT EXISTS (
           SELECT FROM aclexplode(c.relacl) a WHERE a.grantee = 0) AS nothing_for_public
FROM pg_class c
JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'projection_offset'
ORDER BY 1;

-- Some recorded state for the roles to work on.
SELECT offset_claim('s-1', 'sec'), offset_claim_at('s-0', 'sec', 0::bigint), offset_checkpoint('sec', 0);

CREATE ROLE regress_sec_nobody;
CREATE ROLE regress_sec_claimer;
CREATE ROLE regress_sec_positioned;
CREATE ROLE regress_sec_checkpointer;
CREATE ROLE regress_sec_releaser;
CREATE ROLE regress_sec_admin;
GRANT SELECT, INSERT ON projection_offset TO regress_sec_claimer, regress_sec_positioned;
GRANT SELECT ON projection_offset_checkpoint TO regress_sec_positioned;
GRANT SELECT, INSERT ON projection_offset_position TO regress_sec_positioned;
GRANT SELECT, INSERT, UPDATE ON projection_offset_checkpoint TO regress_sec_checkpointer;
GRANT SELECT, DELETE ON projection_offset, projection_offset_position TO regress_sec_releaser;
GRANT EXECUTE ON FUNCTION offset_reset(text), offset_prune(text, timestamptz), offset_prune(text) TO regress_sec_admin;
GRANT SELECT, DELETE ON projection_offset, projection_offset_position, projection_offset_checkpoint TO regress_sec_admin;
GRANT SELECT ON projection_offset_status TO regress_sec_admin;

-- A role with no rights: 42501 from every entry point.
BEGIN;
SET LOCAL ROLE regress_sec_nobody;
SELECT * FROM sec_matrix();
ROLLBACK;

-- A claiming role (SELECT, INSERT on projection_offset) claims and applies
-- single events and batches without positions; positions, release and the
-- rest are refused.
BEGIN;
SET LOCAL ROLE regress_sec_claimer;
SELECT * FROM sec_matrix();
ROLLBACK;

-- With the rights on the position and checkpoint tables, positioned claims
-- work too.
BEGIN;
SET LOCAL ROLE regress_sec_positioned;
SELECT * FROM sec_matrix();
ROLLBACK;

-- Moving a checkpoint.
BEGIN;
SET LOCAL ROLE regress_sec_checkpointer;
SELECT * FROM sec_matrix() WHERE outcome NOT LIKE '42501:%';
ROLLBACK;

-- Releasing one offset, without the right to claim.
BEGIN;
SET LOCAL ROLE regress_sec_releaser;
SELECT * FROM sec_matrix() WHERE outcome NOT LIKE '42501:%';
ROLLBACK;

-- An administrator granted EXECUTE on offset_reset and offset_prune, and
-- DELETE on the tables, may forget a handler's offsets.
BEGIN;
SET LOCAL ROLE regress_sec_admin;
SELECT * FROM sec_matrix() WHERE outcome NOT LIKE '42501:%';
ROLLBACK;
-- EXECUTE alone is not enough: the table rights are checked too.
REVOKE SELECT, DELETE ON projection_offset, projection_offset_position, projection_offset_checkpoint FROM regress_sec_admin;
BEGIN;
SET LOCAL ROLE regress_sec_admin;
SELECT * FROM sec_matrix() WHERE entry_point LIKE 'offset_reset%' OR entry_point LIKE 'offset_prune%';
ROLLBACK;

-- Nothing the refused calls attempted was written.
SELECT "eventId" FROM projection_offset WHERE "handlerName" = 'sec' ORDER BY 1;
SELECT count(*) AS effects FROM sec_effects;

-- The offset contract, run as a non-superuser application role that owns
-- its read model and projectors and has exactly the claiming rights.
CREATE ROLE regress_sec_app;
CREATE SCHEMA regress_sec_app AUTHORIZATION regress_sec_app;
GRANT SELECT, INSERT ON projection_offset TO regress_sec_app;
GRANT SELECT ON projection_offset_checkpoint TO regress_sec_app;
GRANT SELECT, INSERT, UPDATE ON projection_offset_position TO regress_sec_app;
SET ROLE regress_sec_app;
SET search_path = regress_sec_app, public;
CREATE TABLE order_totals (order_id text PRIMARY KEY, total numeric NOT NULL);
CREATE FUNCTION add_to_total(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO regress_sec_app.order_totals VALUES (payload->>'order', (payload->>'amount')::numeric)
    ON CONFLICT (order_id) DO UPDATE SET total = order_totals.total + EXCLUDED.total
$$;
CREATE FUNCTION write_then_fail(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO regress_sec_app.order_totals VALUES ('o-broken', 1);
    RAISE EXCEPTION 'projector failed' USING ERRCODE = 'check_violation';
END
$$;
-- Delivered five times, applied once.
SELECT apply_with_offset('app-1', 'sec-app', 'add_to_total(text,jsonb)', '{"order": "o-1", "amount": 10}')
FROM generate_series(1, 5);
-- Same id, other payload: PJ001.
SELECT apply_with_offset('app-1', 'sec-app', 'add_to_total(text,jsonb)', '{"order": "o-1", "amount": 11}');
\echo :LAST_ERROR_SQLSTATE
-- A failing projector leaves neither its write nor the offset.
SELECT apply_with_offset('app-2', 'sec-app', 'write_then_fail(text,jsonb)', '{}');
\echo :LAST_ERROR_SQLSTATE
-- A batch with a repeat and an already applied event applies the new ones once.
SELECT apply_with_offset_batch('sec-app', 'add_to_total(text,jsonb)'::regprocedure, '[
    {"event_id": "app-1", "payload": {"order": "o-1", "amount": 10}},
    {"event_id": "app-3", "payload": {"order": "o-2", "amount": 5}, "position": 3},
    {"event_id": "app-4", "payload": {"order": "o-2", "amount": 7}, "position": 4},
    {"event_id": "app-3", "payload": {"order": "o-2", "amount": 5}, "position": 3}]'::jsonb) AS applied;
-- Claims roll back with the caller's transaction.
BEGIN;
SELECT offset_claim('app-5', 'sec-app');
SELECT * FROM offset_claim_batch(ARRAY['app-6', 'app-7'], 'sec-app');
ROLLBACK;
SELECT * FROM offset_claim_batch(ARRAY['app-5', 'app-6'], 'sec-app');
SELECT * FROM order_totals ORDER BY order_id;
SELECT "eventId" FROM projection_offset WHERE "handlerName" = 'sec-app' ORDER BY 1;
-- The role cannot undo or forge offsets behind the extension's back.
SELECT sec_try($$DELETE FROM projection_offset WHERE "handlerName" = 'sec-app'$$) AS delete_offsets;
SELECT sec_try($$UPDATE projection_offset SET "payloadHash" = 'forged'$$) AS forge_hash;
SELECT sec_try($$SELECT offset_release('app-1', 'sec-app')$$) AS release;
SELECT sec_try($$SELECT offset_reset('sec-app')$$) AS reset;
RESET search_path;
RESET ROLE;

-- Objects planted on the caller's search_path, ahead of pg_catalog, never
-- capture the extension's statements, 1.1 entry points included: look-alike
-- tables, comparison operators for text, bigint and timestamptz, unnest
-- and count.
CREATE SCHEMA regress_sec_trap;
CREATE TABLE regress_sec_trap.projection_offset ("eventId" text, "handlerName" text, "appliedAt" timestamp(3), "payloadHash" text);
CREATE TABLE regress_sec_trap.projection_offset_checkpoint ("handlerName" text, "position" bigint, "updatedAt" timestamp(3));
CREATE TABLE regress_sec_trap.projection_offset_position ("eventId" text, "handlerName" text, "position" bigint);
CREATE FUNCTION regress_sec_trap.trap_text(a text, b text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'trap operator on text called'; END $$;
CREATE FUNCTION regress_sec_trap.trap_int8(a bigint, b bigint) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'trap operator on bigint called'; END $$;
CREATE FUNCTION regress_sec_trap.trap_ts(a timestamp, b timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'trap operator on timestamp called'; END $$;
CREATE OPERATOR regress_sec_trap.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_sec_trap.trap_text);
CREATE OPERATOR regress_sec_trap.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = regress_sec_trap.trap_int8);
CREATE OPERATOR regress_sec_trap.>= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = regress_sec_trap.trap_int8);
CREATE OPERATOR regress_sec_trap.<= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = regress_sec_trap.trap_int8);
CREATE OPERATOR regress_sec_trap.< (LEFTARG = timestamp, RIGHTARG = timestamptz, FUNCTION = regress_sec_trap.trap_ts);
CREATE FUNCTION regress_sec_trap.unnest(anyarray) RETURNS SETOF anyelement
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'trap unnest called'; END $$;
CREATE FUNCTION regress_sec_trap.count(anyelement) RETURNS bigint
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'trap count called'; END $$;
SET search_path = regress_sec_trap, pg_catalog, public;
-- The traps are live for unqualified SQL.
SELECT sec_try($$SELECT 'a'::text = 'a'::text$$) AS unqualified_equals;
SELECT sec_try($$SELECT 1::bigint >= 0::bigint$$) AS unqualified_ge;
SELECT public.offset_claim_at('t-1', 'sec-trap', 1::bigint, 'h1') AS positioned,
       public.offset_claim_at('t-1', 'sec-trap', 1::bigint, 'h1') AS again;
SELECT public.offset_claim_at('t-1', 'sec-trap', 1::bigint, 'h2');
\echo :LAST_ERROR_SQLSTATE
SELECT public.apply_with_offset_batch('sec-trap', 'public.sec_projector(text,jsonb)'::regprocedure, '[
    {"event_id": "t-2", "payload": {"n": 2}, "position": 2},
    {"event_id": "t-3", "payload": {"n": 3}},
    {"event_id": "t-2", "payload": {"n": 2}, "position": 2}]'::jsonb) AS batch_applied;
SELECT public.offset_checkpoint('sec-trap', 2) AS checkpoint,
       public.offset_checkpoint('sec-trap', 1) AS never_moves_back;
SELECT public.offset_claim_at('t-0', 'sec-trap', 2::bigint) AS at_checkpoint;
SELECT public.offset_prune('sec-trap') AS pruned_to_checkpoint;
SELECT public.offset_release('t-3', 'sec-trap') AS released,
       public.offset_release('t-3', 'sec-trap') AS released_again;
SELECT handler_name, offsets, checkpoint FROM public.projection_offset_status
WHERE handler_name OPERATOR(pg_catalog.=) 'sec-trap';
SELECT public.offset_prune('sec-trap', now() + interval '1 day') AS pruned_by_age;
SELECT public.offset_claim('t-4', 'sec-trap') AS claimed;
SELECT public.offset_reset('sec-trap') AS reset;
RESET search_path;
SELECT (SELECT count(*) FROM regress_sec_trap.projection_offset)
     + (SELECT count(*) FROM regress_sec_trap.projection_offset_checkpoint)
     + (SELECT count(*) FROM regress_sec_trap.projection_offset_position) AS trap_rows;
SELECT count(*) AS sec_trap_rows FROM projection_offset WHERE "handlerName" = 'sec-trap';
SELECT event_id FROM sec_effects ORDER BY 1;

-- Clean up.
DROP SCHEMA regress_sec_trap CASCADE;
DROP SCHEMA regress_sec_app CASCADE;
DELETE FROM projection_offset WHERE "handlerName" IN ('sec', 'sec-app', 'sec-trap');
DELETE FROM projection_offset_position WHERE "handlerName" IN ('sec', 'sec-app', 'sec-trap');
DELETE FROM projection_offset_checkpoint WHERE "handlerName" IN ('sec', 'sec-app', 'sec-trap');
DROP FUNCTION sec_matrix(), sec_try(text), sec_projector(text, jsonb);
DROP TABLE sec_calls, sec_effects;
REVOKE ALL ON projection_offset, projection_offset_position, projection_offset_checkpoint, projection_offset_status
    FROM regress_sec_claimer, regress_sec_positioned, regress_sec_checkpointer, regress_sec_releaser,
         regress_sec_admin, regress_sec_app;
REVOKE EXECUTE ON FUNCTION offset_reset(text), offset_prune(text, timestamptz), offset_prune(text) FROM regress_sec_admin;
DROP ROLE regress_sec_nobody, regress_sec_claimer, regress_sec_positioned, regress_sec_checkpointer,
    regress_sec_releaser, regress_sec_admin, regress_sec_app;
