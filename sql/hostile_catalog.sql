-- Catalog changes while a call is running: a projector dropped or replaced
-- with a STRICT version during a batch or during the claim (by a trigger),
-- and the extension's schema renamed while one of its statements executes.
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE FUNCTION cat_try(stmt text) RETURNS text
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
    -- OIDs differ from run to run.
    RETURN state || ': ' || regexp_replace(msg, '(OID|function) [0-9]+', '\1 N', 'g');
END
$$;
-- Calls are reported as notices, which survive the rollback of a failed batch.
CREATE FUNCTION cat_seen(event_id text, payload jsonb, version text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE '% called for % with %', version, event_id, coalesce(payload::text, 'a NULL payload');
END
$$;

-- A projector that drops itself while applying the first event: the next
-- call of the batch finds it gone (42883, not "cache lookup failed").
CREATE FUNCTION cat_dropping(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM cat_seen(event_id, payload, 'dropping');
    IF event_id = 'd-1' THEN
        DROP FUNCTION cat_dropping(text, jsonb);
    END IF;
END
$$;
SELECT cat_try($$SELECT apply_with_offset_batch('cat-drop', 'cat_dropping(text,jsonb)'::regprocedure,
    '[{"event_id": "d-1", "payload": {}}, {"event_id": "d-2", "payload": {}}]')$$) AS dropped_during_batch;
SELECT count(*) AS cat_drop_offsets FROM projection_offset WHERE "handlerName" = 'cat-drop';

-- A projector that replaces itself with a STRICT version while applying
-- the first event: the next event has no payload, which the strict
-- version must never be called with (22004, as when it was strict from
-- the start).
CREATE FUNCTION cat_replacing(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM cat_seen(event_id, payload, 'lax');
    IF event_id = 'r-1' THEN
        CREATE OR REPLACE FUNCTION cat_replacing(event_id text, payload jsonb) RETURNS void
        LANGUAGE plpgsql STRICT AS $body$
        BEGIN
            PERFORM cat_seen(event_id, payload, 'strict');
        END
        $body$;
    END IF;
END
$$;
SELECT cat_try($$SELECT apply_with_offset_batch('cat-strict', 'cat_replacing(text,jsonb)'::regprocedure,
    '[{"event_id": "r-1", "payload": {"n": 1}}, {"event_id": "r-2"}, {"event_id": "r-3", "payload": {"n": 3}}]')$$)
    AS replaced_during_batch;
SELECT count(*) AS cat_strict_offsets FROM projection_offset WHERE "handlerName" = 'cat-strict';
-- The rollback of the batch restored the lax version, which takes events
-- without a payload; made strict, it is refused them up front.
SELECT apply_with_offset_batch('cat-strict', 'cat_replacing(text,jsonb)'::regprocedure,
    '[{"event_id": "r-4", "payload": {"n": 4}}, {"event_id": "r-5"}]') AS applied;
ALTER FUNCTION cat_replacing(text, jsonb) STRICT;
SELECT cat_try($$SELECT apply_with_offset_batch('cat-strict', 'cat_replacing(text,jsonb)'::regprocedure,
    '[{"event_id": "r-6", "payload": {"n": 6}}, {"event_id": "r-7"}]')$$) AS strict_from_the_start;

-- The single form: a trigger on the offset table drops or replaces the
-- projector while the claim runs, before the projector is called.
CREATE FUNCTION cat_single(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN PERFORM cat_seen(event_id, payload, 'single'); END $$;
CREATE FUNCTION cat_change_projector() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW."handlerName" = 'cat-single-drop' THEN
        DROP FUNCTION cat_single(text, jsonb);
    ELSIF NEW."handlerName" = 'cat-single-strict' THEN
        ALTER FUNCTION cat_single(text, jsonb) STRICT;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER cat_change_projector AFTER INSERT ON projection_offset
    FOR EACH ROW EXECUTE FUNCTION cat_change_projector();
SELECT label, cat_try(stmt) AS outcome FROM (VALUES
    ('made strict, no payload', $$SELECT apply_with_offset('s-1', 'cat-single-strict', 'cat_single(text,jsonb)'::regprocedure)$$),
    ('made strict, payload',    $$SELECT apply_with_offset('s-2', 'cat-single-strict', 'cat_single(text,jsonb)'::regprocedure, '{}')$$),
    ('dropped',                 $$SELECT apply_with_offset('s-3', 'cat-single-drop', 'cat_single(text,jsonb)'::regprocedure, '{}')$$)
) AS cases(label, stmt);
DROP TRIGGER cat_change_projector ON projection_offset;
SELECT "handlerName", "eventId" FROM projection_offset WHERE "handlerName" LIKE 'cat-single%' ORDER BY 1, 2;

-- The extension's schema renamed by a trigger of one of its own statements,
-- which then claims again through the new name: the nested claim must not
-- run the statement prepared with the old schema name.
BEGIN;
CREATE FUNCTION cat_rename_and_claim() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW."handlerName" = 'cat-outer' THEN
        ALTER SCHEMA public RENAME TO cat_renamed;
        PERFORM cat_renamed.offset_claim(NEW."eventId", 'cat-inner');
        PERFORM cat_renamed.offset_claim_at(NEW."eventId", 'cat-inner-at', 1);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER cat_rename AFTER INSERT ON projection_offset
    FOR EACH ROW EXECUTE FUNCTION cat_rename_and_claim();
SELECT offset_claim('renamed', 'cat-outer');
SELECT "handlerName" FROM cat_renamed.projection_offset WHERE "eventId" = 'renamed' ORDER BY 1;
-- And afterwards, outside any statement of the extension.
SELECT cat_renamed.offset_claim('after', 'cat-inner'), cat_renamed.offset_claim('after', 'cat-inner');
ROLLBACK;
SELECT offset_claim('after', 'cat-inner') AS after_rollback;
