-- Triggers on the extension's own tables that skip its writes: a BEFORE
-- trigger that returns NULL makes an INSERT record nothing and an UPSERT
-- return no row. Every entry point must then raise 55000, naming the table,
-- rather than read a row that is not there (a crash) or report a
-- re-delivery (an event silently never applied). Triggers that let the
-- row through change nothing.
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE FUNCTION trig_try(stmt text) RETURNS text
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
CREATE TABLE trig_seen (event_id text);
CREATE FUNCTION trig_projector(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO public.trig_seen VALUES (event_id) $$;
CREATE FUNCTION trig_set_projector(event_ids text[], payloads jsonb[]) RETURNS void
LANGUAGE sql AS $$ INSERT INTO public.trig_seen SELECT unnest(event_ids) $$;
-- Skips every row, or only rows whose id starts with 'skip'.
CREATE FUNCTION trig_skip() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE FUNCTION trig_skip_some() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW."eventId" LIKE 'skip%' THEN RETURN NULL; END IF;
    RETURN NEW;
END
$$;
CREATE FUNCTION trig_pass() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;

-- The checkpoint: an UPSERT that returns no row, on its INSERT path and on
-- its UPDATE path, used to crash the server.
SELECT offset_checkpoint('trig-cp-update', 5);
CREATE TRIGGER skip_checkpoint BEFORE INSERT OR UPDATE ON projection_offset_checkpoint
    FOR EACH ROW EXECUTE FUNCTION trig_skip();
SELECT label, trig_try(stmt) AS outcome FROM (VALUES
    ('checkpoint, new handler',      $$SELECT offset_checkpoint('trig-cp-insert', 5)$$),
    ('checkpoint, existing handler', $$SELECT offset_checkpoint('trig-cp-update', 9)$$)
) AS cases(label, stmt);
DROP TRIGGER skip_checkpoint ON projection_offset_checkpoint;
SELECT "handlerName", "position" FROM projection_offset_checkpoint
WHERE "handlerName" LIKE 'trig-cp-%' ORDER BY 1;

-- Offsets: every way of claiming raises instead of answering "already
-- applied", and no projector runs.
SELECT offset_claim('known', 'trig'), offset_claim('known-hashed', 'trig', 'h1');
CREATE TRIGGER skip_offsets BEFORE INSERT ON projection_offset
    FOR EACH ROW EXECUTE FUNCTION trig_skip();
SELECT label, trig_try(stmt) AS outcome FROM (VALUES
    ('claim',                 $$SELECT offset_claim('new', 'trig')$$),
    ('claim with hash',       $$SELECT offset_claim('new', 'trig', 'h1')$$),
    ('claim at',              $$SELECT offset_claim_at('new', 'trig', 7)$$),
    ('claim at with hash',    $$SELECT offset_claim_at('new', 'trig', 7, 'h1')$$),
    ('claim batch',           $$SELECT count(*) FROM offset_claim_batch(ARRAY['known', 'new-1', 'new-2'], 'trig')$$),
    ('apply',                 $$SELECT apply_with_offset('new', 'trig', 'trig_projector(text,jsonb)'::regprocedure, '{}')$$),
    ('apply without payload', $$SELECT apply_with_offset('new', 'trig', 'trig_projector(text,jsonb)'::regprocedure)$$),
    ('batch',                 $$SELECT apply_with_offset_batch('trig', 'trig_projector(text,jsonb)'::regprocedure,
                                  '[{"event_id": "known"}, {"event_id": "new", "payload": {}}]')$$),
    ('batch with positions',  $$SELECT apply_with_offset_batch('trig', 'trig_projector(text,jsonb)'::regprocedure,
                                  '[{"event_id": "new", "position": 3}]')$$),
    ('batch, set projector',  $$SELECT apply_with_offset_batch('trig', 'trig_set_projector(text[],jsonb[])'::regprocedure,
                                  '[{"event_id": "new", "payload": 1}]')$$),
    -- Re-deliveries of stored rows are still re-deliveries.
    ('re-delivery',           $$SELECT offset_claim('known', 'trig')$$),
    ('re-delivery, hashed',   $$SELECT offset_claim('known-hashed', 'trig', 'h1')$$),
    ('batch re-delivery',     $$SELECT apply_with_offset_batch('trig', 'trig_projector(text,jsonb)'::regprocedure,
                                  '[{"event_id": "known"}, {"event_id": "known-hashed"}]')$$),
    ('claim batch re-delivery', $$SELECT count(*) FROM offset_claim_batch(ARRAY['known'], 'trig')$$)
) AS cases(label, stmt);
DROP TRIGGER skip_offsets ON projection_offset;

-- A trigger that skips some rows: the batch names the first element whose
-- offset was not written, and records nothing.
CREATE TRIGGER skip_some_offsets BEFORE INSERT ON projection_offset
    FOR EACH ROW EXECUTE FUNCTION trig_skip_some();
SELECT label, trig_try(stmt) AS outcome FROM (VALUES
    ('batch',       $$SELECT apply_with_offset_batch('trig-some', 'trig_projector(text,jsonb)'::regprocedure,
                        '[{"event_id": "keep-1"}, {"event_id": "skip-1"}, {"event_id": "keep-2"}, {"event_id": "skip-2"}]')$$),
    ('claim batch', $$SELECT count(*) FROM offset_claim_batch(ARRAY['keep-1', 'skip-1', 'keep-2'], 'trig-some')$$),
    ('kept only',   $$SELECT apply_with_offset_batch('trig-some', 'trig_projector(text,jsonb)'::regprocedure,
                        '[{"event_id": "keep-1"}, {"event_id": "keep-2"}, {"event_id": "keep-1"}]')$$)
) AS cases(label, stmt);
DROP TRIGGER skip_some_offsets ON projection_offset;
SELECT "handlerName", "eventId" FROM projection_offset WHERE "handlerName" LIKE 'trig%' ORDER BY 1, 2;
SELECT event_id FROM trig_seen ORDER BY 1;

-- Positions: a positioned claim whose position row is skipped raises too.
CREATE TRIGGER skip_positions BEFORE INSERT ON projection_offset_position
    FOR EACH ROW EXECUTE FUNCTION trig_skip();
SELECT label, trig_try(stmt) AS outcome FROM (VALUES
    ('claim at', $$SELECT offset_claim_at('positioned', 'trig-pos', 4)$$),
    ('batch',    $$SELECT apply_with_offset_batch('trig-pos', 'trig_projector(text,jsonb)'::regprocedure,
                     '[{"event_id": "unpositioned"}, {"event_id": "positioned", "position": 4}]')$$)
) AS cases(label, stmt);
DROP TRIGGER skip_positions ON projection_offset_position;
SELECT count(*) AS trig_pos_offsets FROM projection_offset WHERE "handlerName" = 'trig-pos';

-- Triggers that let every row through change nothing.
CREATE TRIGGER pass_offsets BEFORE INSERT ON projection_offset
    FOR EACH ROW EXECUTE FUNCTION trig_pass();
CREATE TRIGGER pass_positions BEFORE INSERT ON projection_offset_position
    FOR EACH ROW EXECUTE FUNCTION trig_pass();
CREATE TRIGGER pass_checkpoint BEFORE INSERT OR UPDATE ON projection_offset_checkpoint
    FOR EACH ROW EXECUTE FUNCTION trig_pass();
SELECT offset_claim('pass-1', 'trig-pass') AS first, offset_claim('pass-1', 'trig-pass') AS again,
       offset_claim_at('pass-2', 'trig-pass', 2, 'h') AS positioned,
       offset_claim_at('pass-2', 'trig-pass', 2, 'h') AS positioned_again,
       offset_checkpoint('trig-pass', 1) AS checkpoint, offset_checkpoint('trig-pass', 3) AS raised;
SELECT apply_with_offset_batch('trig-pass', 'trig_projector(text,jsonb)'::regprocedure,
    '[{"event_id": "pass-1"}, {"event_id": "pass-3", "position": 5}, {"event_id": "pass-2", "position": 2}]') AS applied;
SELECT * FROM offset_claim_batch(ARRAY['pass-1', 'pass-4'], 'trig-pass');
DROP TRIGGER pass_offsets ON projection_offset;
DROP TRIGGER pass_positions ON projection_offset_position;
DROP TRIGGER pass_checkpoint ON projection_offset_checkpoint;
