-- Hostile projectors: ones that raise, re-enter, change search_path or role,
-- try to end the transaction, run as their owner, live in a schema the
-- caller cannot use, or tamper with the offset table. In every case either
-- the projector's work and the offset are recorded together, or neither is.
\set VERBOSITY default
\set SHOW_CONTEXT errors

CREATE TABLE hostile_effects (event_id text, note text);
CREATE ROLE regress_hostile_caller;
CREATE ROLE regress_hostile_owner;
CREATE ROLE regress_hostile_nobody;
-- The rights a least-privilege projector role needs: claim, and write its
-- own read model.
GRANT SELECT, INSERT ON projection_offset TO regress_hostile_caller;
GRANT INSERT, SELECT ON hostile_effects TO regress_hostile_caller, regress_hostile_owner;

CREATE FUNCTION hostile_note(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO public.hostile_effects VALUES (event_id, 'applied ' || payload::text) $$;

-- A snapshot of every row recorded before the hostile cases.
SELECT count(*) AS seeded FROM offset_claim_batch(
    ARRAY(SELECT 'seed-' || g FROM generate_series(1, 20) g), 'hostile-proj-seed');
CREATE TEMP TABLE hostile_before AS SELECT * FROM projection_offset;

-- 1. A projector that writes, then raises: the error keeps its SQLSTATE,
-- gains a context line, and neither the write nor the offset persists.
CREATE FUNCTION hostile_raise(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hostile_effects VALUES (event_id, 'written before the error');
    RAISE EXCEPTION 'refused %', payload->>'n' USING ERRCODE = 'raise_exception', HINT = 'retry later';
END
$$;
SELECT apply_with_offset('raise-1', 'hostile-proj', 'hostile_raise(text,jsonb)', '{"n": 1}');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS effects FROM hostile_effects WHERE event_id = 'raise-1';
SELECT count(*) AS offsets FROM projection_offset WHERE "eventId" = 'raise-1';
-- A C function raising as projector behaves the same.
SELECT apply_with_offset('raise-2', 'hostile-proj', 'jsonb_array_length(jsonb)', '{"not": "an array"}');
\echo :LAST_ERROR_SQLSTATE
SELECT apply_with_offset('raise-3', 'hostile-proj', 'jsonb_array_length(jsonb)', '[1, 2]') AS builtin_ok;

-- Caught by the caller: the failed attempt leaves nothing, so a retry with
-- a working projector records the event.
DO $$
BEGIN
    BEGIN
        PERFORM apply_with_offset('raise-4', 'hostile-proj', 'hostile_raise(text,jsonb)', '{"n": 4}');
    EXCEPTION WHEN raise_exception THEN
        RAISE NOTICE 'caught: %', SQLERRM;
    END;
    RAISE NOTICE 'retry: %', apply_with_offset('raise-4', 'hostile-proj', 'hostile_note(text,jsonb)', '{"n": 4}');
    RAISE NOTICE 'again: %', apply_with_offset('raise-4', 'hostile-proj', 'hostile_note(text,jsonb)', '{"n": 4}');
END
$$;
SELECT * FROM hostile_effects WHERE event_id = 'raise-4';

-- 2. A projector that re-enters apply_with_offset for its own pair: the
-- inner call sees the claim already made and does not call it again.
CREATE FUNCTION hostile_reenter(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hostile_effects VALUES (event_id, 'outer');
    RAISE NOTICE 'inner call returned %',
        apply_with_offset(event_id, 'hostile-proj', 'hostile_reenter(text,jsonb)', payload);
END
$$;
SELECT apply_with_offset('reenter-1', 'hostile-proj', 'hostile_reenter(text,jsonb)', '{}');
SELECT apply_with_offset('reenter-1', 'hostile-proj', 'hostile_reenter(text,jsonb)', '{}');
SELECT note FROM hostile_effects WHERE event_id = 'reenter-1';
-- The same pair with another payload inside the projector: PJ001.
CREATE FUNCTION hostile_reenter_other(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM apply_with_offset(event_id, 'hostile-proj', 'hostile_note(text,jsonb)', '{"other": true}');
END
$$;
SELECT apply_with_offset('reenter-2', 'hostile-proj', 'hostile_reenter_other(text,jsonb)', '{}');
\echo :LAST_ERROR_SQLSTATE
-- A projector that catches an inner failure and goes on: only the inner
-- attempt is undone.
CREATE FUNCTION hostile_catcher(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM apply_with_offset(event_id || '/inner', 'hostile-proj', 'hostile_raise(text,jsonb)', payload);
    EXCEPTION WHEN raise_exception THEN
        INSERT INTO hostile_effects VALUES (event_id, 'caught inner failure');
    END;
    PERFORM offset_claim(event_id || '/after', 'hostile-proj');
END
$$;
SELECT apply_with_offset('catch-1', 'hostile-proj', 'hostile_catcher(text,jsonb)', '{"n": 5}');
SELECT "eventId" FROM projection_offset WHERE "eventId" LIKE 'catch-1%' ORDER BY 1;
SELECT event_id, note FROM hostile_effects WHERE event_id LIKE 'catch-1%' ORDER BY 1, 2;

-- Unbounded recursion through apply_with_offset, each level a new event:
-- PostgreSQL's stack depth check stops it cleanly and nothing is recorded.
CREATE FUNCTION hostile_recurse(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM apply_with_offset(event_id || '+', 'hostile-recurse', 'hostile_recurse(text,jsonb)', payload);
END
$$;
\set SHOW_CONTEXT never
SELECT apply_with_offset('r', 'hostile-recurse', 'hostile_recurse(text,jsonb)', '{}');
\set SHOW_CONTEXT errors
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS recursion_offsets FROM projection_offset WHERE "handlerName" = 'hostile-recurse';
-- The backend is fine afterwards.
SELECT apply_with_offset('after-recursion', 'hostile-proj', 'hostile_note(text,jsonb)', '{}');

-- 3. A projector that changes search_path for the rest of the transaction,
-- onto a schema of look-alikes: the extension's own statements are
-- schema-qualified, so later calls in the transaction are not captured.
CREATE SCHEMA hostile_path;
CREATE TABLE hostile_path.projection_offset ("eventId" text, "handlerName" text, "appliedAt" timestamp(3), "payloadHash" text);
CREATE FUNCTION hostile_path.text_eq(a text, b text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'look-alike operator called'; END $$;
CREATE OPERATOR hostile_path.= (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile_path.text_eq);
CREATE FUNCTION hostile_path.unnest(anyarray) RETURNS SETOF anyelement
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'look-alike unnest called'; END $$;
CREATE FUNCTION hostile_set_path(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN SET LOCAL search_path = hostile_path, pg_catalog; END $$;
CREATE FUNCTION hostile_set_config_path(payload jsonb) RETURNS void
LANGUAGE sql AS $$ SELECT set_config('search_path', 'hostile_path, pg_catalog', true) $$;
BEGIN;
SELECT apply_with_offset('path-1', 'hostile-proj', 'hostile_set_path(text,jsonb)', '{"k": 1}');
SHOW search_path;
SELECT public.offset_claim('path-2', 'hostile-proj', 'h2');
SELECT public.offset_claim('path-2', 'hostile-proj', 'h2');
SELECT public.offset_claim('path-2', 'hostile-proj', 'h3');
ROLLBACK;
BEGIN;
SELECT apply_with_offset('path-1', 'hostile-proj', 'hostile_set_config_path(jsonb)', '{"k": 1}');
SHOW search_path;
SELECT * FROM public.offset_claim_batch(ARRAY['path-3', 'path-4', 'path-3'], 'hostile-proj');
SELECT public.apply_with_offset('path-5', 'hostile-proj', 'public.hostile_note(text,jsonb)', '{"k": 5}');
SELECT public.apply_with_offset('path-5', 'hostile-proj', 'public.hostile_note(text,jsonb)', '{"k": 5}');
COMMIT;
SHOW search_path;
SELECT "eventId" FROM projection_offset WHERE "eventId" LIKE 'path-%' ORDER BY 1;
SELECT count(*) AS look_alike_rows FROM hostile_path.projection_offset;
SELECT note FROM hostile_effects WHERE event_id = 'path-5';
-- A projector with its own SET search_path clause: the setting ends with it.
CREATE FUNCTION hostile_own_path(event_id text, payload jsonb) RETURNS void
LANGUAGE sql SET search_path = hostile_path, pg_catalog
AS $$ INSERT INTO public.hostile_effects VALUES (event_id, current_setting('search_path')) $$;
SELECT apply_with_offset('path-6', 'hostile-proj', 'hostile_own_path(text,jsonb)', '{}');
SHOW search_path;
SELECT note FROM hostile_effects WHERE event_id = 'path-6';

-- 4. Role changes. A plain projector may SET LOCAL ROLE (here as a
-- superuser): the rest of the transaction runs as that role, which may not
-- claim, so the next claim fails cleanly.
CREATE FUNCTION hostile_become_nobody(payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN PERFORM set_config('role', 'regress_hostile_nobody', true); END $$;
BEGIN;
SELECT apply_with_offset('role-1', 'hostile-proj', 'hostile_become_nobody(jsonb)', '{}');
SELECT current_user;
SELECT offset_claim('role-2', 'hostile-proj');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT current_user = session_user AS role_restored;
SELECT count(*) AS role_offsets FROM projection_offset WHERE "eventId" LIKE 'role-%';
-- Inside a SECURITY DEFINER projector PostgreSQL refuses SET ROLE, in any
-- spelling; the whole apply rolls back.
CREATE FUNCTION hostile_definer_set_role(payload jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN SET LOCAL ROLE regress_hostile_nobody; END $$;
CREATE FUNCTION hostile_definer_set_config(payload jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN PERFORM set_config('role', 'regress_hostile_nobody', true); END $$;
SELECT apply_with_offset('role-3', 'hostile-proj', 'hostile_definer_set_role(jsonb)', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT apply_with_offset('role-4', 'hostile-proj', 'hostile_definer_set_config(jsonb)', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS role_offsets FROM projection_offset WHERE "eventId" LIKE 'role-%';

-- 5. Ending the transaction. A function cannot COMMIT or ROLLBACK, not even
-- through a procedure it calls; a procedure is refused as projector.
CREATE FUNCTION hostile_commit(payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN INSERT INTO hostile_effects VALUES ('commit-1', 'before commit'); COMMIT; END $$;
CREATE FUNCTION hostile_rollback(payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN ROLLBACK; END $$;
CREATE PROCEDURE hostile_committing_procedure() LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$;
CREATE FUNCTION hostile_call_commit(payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN CALL hostile_committing_procedure(); END $$;
CREATE PROCEDURE hostile_procedure(payload jsonb) LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$;
SELECT apply_with_offset('commit-1', 'hostile-proj', 'hostile_commit(jsonb)', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT apply_with_offset('commit-2', 'hostile-proj', 'hostile_rollback(jsonb)', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT apply_with_offset('commit-3', 'hostile-proj', 'hostile_call_commit(jsonb)', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT apply_with_offset('commit-4', 'hostile-proj', 'hostile_procedure(jsonb)', '{}');
\echo :LAST_ERROR_SQLSTATE
-- Called from a procedure that may commit, the projector still cannot.
CREATE PROCEDURE hostile_driver() LANGUAGE plpgsql AS $$
BEGIN
    PERFORM apply_with_offset('commit-5', 'hostile-proj', 'hostile_commit(jsonb)', '{}');
END
$$;
CALL hostile_driver();
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS commit_offsets FROM projection_offset WHERE "eventId" LIKE 'commit-%';
SELECT count(*) AS commit_effects FROM hostile_effects WHERE event_id LIKE 'commit-%';

-- 6. A SECURITY DEFINER projector runs as its owner, as PostgreSQL
-- defines; the claim itself is made with the caller's rights.
CREATE FUNCTION hostile_definer(event_id text, payload jsonb) RETURNS void
LANGUAGE sql SECURITY DEFINER
AS $$ INSERT INTO public.hostile_effects VALUES (event_id, current_user || ' for ' || session_user) $$;
ALTER FUNCTION hostile_definer(text, jsonb) OWNER TO regress_hostile_owner;
SET SESSION AUTHORIZATION regress_hostile_caller;
SELECT apply_with_offset('definer-1', 'hostile-proj', 'hostile_definer(text,jsonb)', '{}');
SELECT apply_with_offset('definer-1', 'hostile-proj', 'hostile_definer(text,jsonb)', '{}');
RESET SESSION AUTHORIZATION;
SELECT note FROM hostile_effects WHERE event_id = 'definer-1';

-- 7. A projector in a schema the caller may not use. By name, the
-- regprocedure cast needs USAGE on the schema and fails with 42501. By OID,
-- no name is looked up: as everywhere in PostgreSQL, calling a function
-- needs EXECUTE on it, not USAGE on its schema.
CREATE SCHEMA hostile_hidden;
CREATE FUNCTION hostile_hidden.projector(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO public.hostile_effects VALUES (event_id, 'hidden projector ran') $$;
SELECT 'hostile_hidden.projector(text,jsonb)'::regprocedure::oid AS hidden_oid \gset
SET ROLE regress_hostile_caller;
SELECT apply_with_offset('hidden-1', 'hostile-proj', 'hostile_hidden.projector(text,jsonb)', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT apply_with_offset('hidden-2', 'hostile-proj', :hidden_oid::regprocedure, '{}');
RESET ROLE;
-- Without EXECUTE, the call by OID is refused too, before anything is recorded.
REVOKE EXECUTE ON FUNCTION hostile_hidden.projector(text, jsonb) FROM PUBLIC;
SET ROLE regress_hostile_caller;
SELECT apply_with_offset('hidden-3', 'hostile-proj', :hidden_oid::regprocedure, '{}');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT "eventId" FROM projection_offset WHERE "eventId" LIKE 'hidden-%' ORDER BY 1;
SELECT event_id, note FROM hostile_effects WHERE event_id LIKE 'hidden-%' ORDER BY 1;

-- 8. A projector that tampers with the offset table runs with the caller's
-- rights: a role that may only claim (SELECT, INSERT) cannot delete or
-- rewrite offsets, and the attempt rolls back the apply.
CREATE FUNCTION hostile_forget(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ DELETE FROM public.projection_offset WHERE "eventId" = event_id $$;
CREATE FUNCTION hostile_rewrite(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ UPDATE public.projection_offset SET "payloadHash" = 'forged' WHERE "handlerName" = 'hostile-proj-seed' $$;
SET ROLE regress_hostile_caller;
SELECT apply_with_offset('tamper-1', 'hostile-proj', 'hostile_forget(text,jsonb)', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT apply_with_offset('tamper-2', 'hostile-proj', 'hostile_rewrite(text,jsonb)', '{}');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) AS tamper_offsets FROM projection_offset WHERE "eventId" LIKE 'tamper-%';

-- Nothing was lost: every row from before is there unchanged, and the only
-- new rows are those of the accepted cases.
SELECT count(*) AS missing_or_changed FROM (
    SELECT * FROM hostile_before EXCEPT SELECT * FROM projection_offset) gone;
SELECT "eventId" FROM (SELECT * FROM projection_offset EXCEPT SELECT * FROM hostile_before) added
ORDER BY 1;
SELECT to_regclass('projection_offset') IS NOT NULL AS table_still_there;

DELETE FROM projection_offset p
WHERE NOT EXISTS (SELECT FROM hostile_before b WHERE (b."eventId", b."handlerName") = (p."eventId", p."handlerName"))
   OR "handlerName" = 'hostile-proj-seed';
DROP TABLE hostile_before;
DROP SCHEMA hostile_hidden CASCADE;
DROP SCHEMA hostile_path CASCADE;
DROP FUNCTION hostile_note(text, jsonb), hostile_raise(text, jsonb), hostile_reenter(text, jsonb),
    hostile_reenter_other(text, jsonb), hostile_catcher(text, jsonb), hostile_recurse(text, jsonb),
    hostile_set_path(text, jsonb), hostile_set_config_path(jsonb), hostile_own_path(text, jsonb),
    hostile_become_nobody(jsonb), hostile_definer_set_role(jsonb), hostile_definer_set_config(jsonb),
    hostile_commit(jsonb), hostile_rollback(jsonb), hostile_call_commit(jsonb), hostile_definer(text, jsonb),
    hostile_forget(text, jsonb), hostile_rewrite(text, jsonb);
DROP PROCEDURE hostile_committing_procedure(), hostile_procedure(jsonb), hostile_driver();
DROP TABLE hostile_effects;
REVOKE ALL ON projection_offset FROM regress_hostile_caller;
DROP ROLE regress_hostile_caller;
DROP ROLE regress_hostile_owner;
DROP ROLE regress_hostile_nobody;
