-- The handler registry: projection_register validates everything before it
-- writes, creates the triggers the handler's mode needs, and the life cycle
-- functions (unregister, pause, resume, rebuild, retry) change the state
-- the projection worker reads. No worker runs in this cluster
-- (projection_offset.worker_databases is empty): the states and cursors
-- the worker would write are set by hand where a test needs them.
\set VERBOSITY default
\set SHOW_CONTEXT never

-- Runs one statement; reports its result, or its SQLSTATE and message.
CREATE FUNCTION reg_try(stmt text) RETURNS text
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

-- The extension's triggers on a table, as created.
CREATE FUNCTION reg_triggers(source regclass) RETURNS SETOF text
LANGUAGE sql AS $$
    SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t
    WHERE t.tgrelid = source AND NOT t.tgisinternal ORDER BY t.tgname
$$;

CREATE TABLE reg_events (
    position bigserial PRIMARY KEY,
    id text NOT NULL,
    type text NOT NULL,
    payload jsonb NOT NULL
);
CREATE TABLE reg_model (event_id text, amount int, applied_by text);
CREATE FUNCTION reg_projector(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF payload ? 'fail' AND NOT EXISTS (SELECT FROM reg_fixed) THEN
        RAISE EXCEPTION 'cannot project event %', event_id USING ERRCODE = 'RG001';
    END IF;
    INSERT INTO reg_model VALUES (event_id, (payload->>'amount')::int, current_user);
END
$$;
CREATE TABLE reg_fixed ();
CREATE FUNCTION reg_payload_projector(payload jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION reg_set_projector(event_ids text[], payloads jsonb[]) RETURNS void LANGUAGE sql AS $$ SELECT $$;

-- Every bad registration is refused with its SQLSTATE.
-- NULL arguments (all but event_types): 22004, naming the argument.
SELECT reg_try($$SELECT projection_register(NULL, 'reg_projector(text,jsonb)', 'reg_events')$$);
SELECT reg_try($$SELECT projection_register('r', NULL, 'reg_events')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', NULL)$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', id_column => NULL)$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', type_column => NULL)$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', payload_column => NULL)$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', position_column => NULL)$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', mode => NULL)$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', on_error => NULL)$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', max_attempts => NULL)$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', batch_size => NULL)$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', event_types => '{a,NULL}')$$);
-- Bad values: 22023; a handler name over 256 bytes: 22001.
SELECT reg_try($$SELECT projection_register('', 'reg_projector(text,jsonb)', 'reg_events')$$);
SELECT reg_try($$SELECT projection_register(repeat('h', 257), 'reg_projector(text,jsonb)', 'reg_events')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', mode => 'sync')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', on_error => 'skip')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', max_attempts => 0)$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', batch_size => 0)$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', batch_size => 10001)$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', event_types => '{}')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', event_types => '{{a},{b}}')$$);
-- Projectors apply_with_offset_batch would not take: 42809 and 42804; an
-- OID that names no function: 42883.
CREATE PROCEDURE reg_procedure(event_id text, payload jsonb) LANGUAGE sql AS $$ SELECT $$;
CREATE AGGREGATE reg_aggregate(jsonb) (SFUNC = jsonb_concat, STYPE = jsonb);
CREATE FUNCTION reg_setof(event_id text, payload jsonb) RETURNS SETOF int LANGUAGE sql AS $$ SELECT 1 $$;
CREATE FUNCTION reg_wrong(payload text) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SELECT reg_try($$SELECT projection_register('r', 'reg_procedure(text,jsonb)', 'reg_events')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_aggregate(jsonb)', 'reg_events')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_setof(text,jsonb)', 'reg_events')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_wrong(text)', 'reg_events')$$);
SELECT reg_try($$SELECT projection_register('r', 4000000000::oid::regprocedure, 'reg_events')$$);
-- Sources that are not tables: 42809; a temporary table or projector: 0A000.
CREATE VIEW reg_view AS SELECT * FROM reg_events;
CREATE TEMPORARY TABLE reg_temp_events (position bigserial, id text, type text, payload jsonb);
CREATE FUNCTION pg_temp.reg_temp_projector(event_id text, payload jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_view')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events_position_seq')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_temp_events')$$);
SELECT regexp_replace(reg_try($$SELECT projection_register('r', 'pg_temp.reg_temp_projector(text,jsonb)', 'reg_events')$$),
                      'pg_temp_[0-9]+', 'pg_temp_N');
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 4000000000::oid::regclass)$$);
-- Columns that do not exist: 42703; of the wrong type: 42804.
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', id_column => 'event_id')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', type_column => 'kind')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', payload_column => 'body')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', position_column => 'Position')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', payload_column => 'type')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', position_column => 'id')$$);
-- A position that may be NULL, or drawn from a sequence with a cache: 22023.
CREATE TABLE reg_nullable (position bigint, id text, type text, payload jsonb);
CREATE TABLE reg_cached (position bigint GENERATED ALWAYS AS IDENTITY (CACHE 20), id text, type text, payload jsonb);
CREATE SEQUENCE reg_shared_seq CACHE 5;
CREATE TABLE reg_shared (position bigint NOT NULL DEFAULT nextval('reg_shared_seq'), id text, type text, payload jsonb);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_nullable')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_cached')$$);
SELECT reg_try($$SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_shared')$$);
-- The messages in full, for the cases with a detail or a hint.
SELECT projection_register(repeat('h', 257), 'reg_projector(text,jsonb)', 'reg_events');
SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', mode => 'sync');
SELECT projection_register('r', 'reg_wrong(text)', 'reg_events');
SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_view');
SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', payload_column => 'body');
SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_events', position_column => 'id');
SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_nullable');
SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_cached');
\set VERBOSITY sqlstate
SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_shared');
\set VERBOSITY default
-- Nothing was written: no handler, no trigger.
SELECT count(*) AS handlers FROM projection_offset_handler;
SELECT count(*) AS triggers FROM pg_trigger
WHERE tgrelid IN ('reg_events'::regclass, 'reg_nullable'::regclass, 'reg_cached'::regclass, 'reg_shared'::regclass);
-- With CACHE 1, the same sources are accepted.
ALTER TABLE reg_cached ALTER COLUMN position SET CACHE 1;
ALTER SEQUENCE reg_shared_seq CACHE 1;
SELECT projection_register('r-cached', 'reg_projector(text,jsonb)', 'reg_cached');
SELECT projection_register('r-shared', 'reg_projector(text,jsonb)', 'reg_shared');

-- An async handler: the registration as the worker reads it, starting at
-- the beginning of the source, and the wake trigger on the source.
BEGIN;
SELECT projection_register('reg-async', 'reg_projector(text,jsonb)', 'reg_events');
SELECT handler_name, projector, source, id_column, type_column, payload_column, position_column,
       event_types, mode, on_error, max_attempts, batch_size, run_as, state, "position",
       rebuild_target, behind_since, error_event, attempts, next_attempt_at, last_error,
       registered_at = now() AS registered_now
FROM projection_offset_handler WHERE handler_name = 'reg-async';
COMMIT;
SELECT * FROM reg_triggers('reg_events');
-- The same name again: 42710.
SELECT reg_try($$SELECT projection_register('reg-async', 'reg_payload_projector(jsonb)', 'reg_cached')$$);
-- Every argument given, at its limits, with a set projector: an inline
-- handler, and the inline trigger beside the wake trigger.
SELECT projection_register(handler_name => 'reg-inline', projector => 'reg_set_projector(text[],jsonb[])',
                           source => 'reg_events', id_column => 'id', type_column => 'type',
                           payload_column => 'payload', position_column => 'position',
                           event_types => '{order_placed,order_paid}', mode => 'inline',
                           on_error => 'dead_letter', max_attempts => 1, batch_size => 10000);
SELECT handler_name, projector, event_types, mode, on_error, max_attempts, batch_size, state
FROM projection_offset_handler WHERE handler_name = 'reg-inline';
SELECT * FROM reg_triggers('reg_events');
-- A second handler of a mode creates no second trigger.
SELECT projection_register(repeat('h', 256), 'reg_payload_projector(jsonb)', 'reg_events', batch_size => 1);
SELECT * FROM reg_triggers('reg_events');
-- A trigger of that name that is not the extension's: 42710.
CREATE FUNCTION reg_other_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER projection_offset_wake AFTER INSERT ON reg_nullable FOR EACH STATEMENT EXECUTE FUNCTION reg_other_trigger();
ALTER TABLE reg_nullable ALTER COLUMN position SET NOT NULL;
SELECT projection_register('r', 'reg_projector(text,jsonb)', 'reg_nullable');
SELECT count(*) AS not_registered FROM projection_offset_handler WHERE handler_name = 'r';

-- Unregistering: false for an unknown handler; the triggers go with the
-- last handler of their mode; offsets stay; dead letters go.
SELECT projection_unregister('reg-unknown');
SELECT reg_try($$SELECT projection_unregister(NULL)$$);
SELECT offset_claim('reg-kept', repeat('h', 256));
INSERT INTO projection_offset_dead_letter
VALUES (repeat('h', 256), 'reg-parked', 7, 'RG001', 'cannot project', NULL, NULL, NULL, 5, now(), now());
SELECT projection_unregister(repeat('h', 256));
SELECT * FROM reg_triggers('reg_events');
SELECT count(*) AS offsets_kept FROM projection_offset WHERE "handlerName" = repeat('h', 256);
SELECT count(*) AS dead_letters FROM projection_offset_dead_letter WHERE handler_name = repeat('h', 256);
SELECT projection_unregister('reg-async');
SELECT * FROM reg_triggers('reg_events');
SELECT projection_unregister('reg-inline');
SELECT * FROM reg_triggers('reg_events');
SELECT projection_unregister('reg-inline');
-- A source dropped meanwhile (its triggers went with it).
DROP TABLE reg_shared;
SELECT handler_name, NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = source) AS source_gone
FROM projection_offset_handler WHERE handler_name = 'r-shared';
SELECT projection_unregister('r-shared');
SELECT projection_unregister('r-cached');
SELECT * FROM reg_triggers('reg_cached');
-- A partitioned source: the statement triggers are on the parent.
CREATE TABLE reg_parted (position bigserial NOT NULL, id text NOT NULL, type text NOT NULL, payload jsonb NOT NULL)
PARTITION BY RANGE (position);
CREATE TABLE reg_parted_1 PARTITION OF reg_parted FOR VALUES FROM (1) TO (1000);
SELECT projection_register('reg-parted', 'reg_projector(text,jsonb)', 'reg_parted', mode => 'inline');
SELECT * FROM reg_triggers('reg_parted');
SELECT count(*) AS on_partition FROM pg_trigger WHERE tgrelid = 'reg_parted_1'::regclass;
INSERT INTO reg_parted (id, type, payload) VALUES ('p-1', 'order_placed', '{"amount": 1}');
SELECT event_id, amount FROM reg_model;
SELECT projection_unregister('reg-parted');
TRUNCATE reg_model;

-- Pause, resume, rebuild.
SELECT projection_register('reg-life', 'reg_projector(text,jsonb)', 'reg_events', event_types => '{order_placed}',
                           on_error => 'dead_letter');
INSERT INTO reg_events (id, type, payload) VALUES
    ('l-1', 'order_placed', '{"amount": 1}'), ('l-2', 'order_paid', '{"amount": 2}'),
    ('l-3', 'order_placed', '{"amount": 3}');
SELECT reg_try($$SELECT projection_pause('reg-unknown')$$);
SELECT reg_try($$SELECT projection_resume('reg-unknown')$$);
SELECT reg_try($$SELECT projection_rebuild('reg-unknown')$$);
SELECT reg_try($$SELECT projection_pause(NULL)$$);
SELECT projection_pause('reg-life');
SELECT state FROM projection_offset_handler WHERE handler_name = 'reg-life';
SELECT projection_pause('reg-life');
SELECT state FROM projection_offset_handler WHERE handler_name = 'reg-life';
SELECT projection_resume('reg-life');
SELECT state FROM projection_offset_handler WHERE handler_name = 'reg-life';
-- A handler the worker stopped (attempts used up on l-3): resume clears
-- the backoff, so that the worker retries at once, and keeps the error.
UPDATE projection_offset_handler
SET state = 'stopped', "position" = 1, error_event = 'l-3', error_position = 3, attempts = 5,
    next_attempt_at = now() + interval '1 minute', behind_since = now() - interval '90 seconds',
    last_error = '{"sqlstate": "RG001", "message": "cannot project event l-3"}'
WHERE handler_name = 'reg-life';
SELECT handler_name, state, "position", lag_events, lag_seconds BETWEEN 90 AND 3600 AS lag_seconds_90,
       last_error->>'sqlstate' AS last_sqlstate
FROM projection_offset_status WHERE handler_name = 'reg-life';
SELECT projection_resume('reg-life');
SELECT state, attempts, next_attempt_at, error_event, last_error->>'sqlstate' AS last_sqlstate
FROM projection_offset_handler WHERE handler_name = 'reg-life';
-- Rebuild: offsets, positions, checkpoint and dead letters forgotten, the
-- cursor back to the start, and the replay's target the source's last
-- position now.
SELECT apply_with_offset_batch('reg-life', 'reg_projector(text,jsonb)'::regprocedure,
    '[{"event_id": "l-1", "payload": {"amount": 1}, "position": 1}]');
SELECT offset_checkpoint('reg-life', 1);
INSERT INTO projection_offset_dead_letter
VALUES ('reg-life', 'l-3', 3, 'RG001', 'cannot project', NULL, NULL, NULL, 5, now(), now());
SELECT projection_rebuild('reg-life');
SELECT state, "position", rebuild_target, behind_since, error_event, error_position, attempts, last_error
FROM projection_offset_handler WHERE handler_name = 'reg-life';
SELECT (SELECT count(*) FROM projection_offset WHERE "handlerName" = 'reg-life') AS offsets,
       (SELECT count(*) FROM projection_offset_position WHERE "handlerName" = 'reg-life') AS positions,
       (SELECT count(*) FROM projection_offset_checkpoint WHERE "handlerName" = 'reg-life') AS checkpoints,
       (SELECT count(*) FROM projection_offset_dead_letter WHERE handler_name = 'reg-life') AS dead_letters;
-- Paused during the rebuild, it rebuilds again when resumed; once the
-- cursor has reached the target, it runs.
SELECT projection_pause('reg-life');
SELECT projection_resume('reg-life');
SELECT state FROM projection_offset_handler WHERE handler_name = 'reg-life';
UPDATE projection_offset_handler SET state = 'paused', "position" = 3 WHERE handler_name = 'reg-life';
SELECT projection_resume('reg-life');
SELECT state FROM projection_offset_handler WHERE handler_name = 'reg-life';
-- An empty source has nothing to replay: the handler runs at once.
CREATE TABLE reg_empty (position bigserial, id text, type text, payload jsonb);
SELECT projection_register('reg-empty', 'reg_projector(text,jsonb)', 'reg_empty');
SELECT projection_rebuild('reg-empty');
SELECT state, rebuild_target FROM projection_offset_handler WHERE handler_name = 'reg-empty';
SELECT projection_unregister('reg-empty');

-- Retry: the parked event, read from the source, applied in the caller's
-- transaction with its position; the dead letter goes.
UPDATE projection_offset_handler SET state = 'running', "position" = 3 WHERE handler_name = 'reg-life';
INSERT INTO reg_events (id, type, payload) VALUES ('l-4', 'order_placed', '{"amount": 4, "fail": true}');
INSERT INTO projection_offset_dead_letter
VALUES ('reg-life', 'l-4', 4, 'RG001', 'cannot project event l-4', NULL, NULL, NULL, 5, now(), now());
SELECT reg_try($$SELECT projection_retry('reg-life', NULL)$$);
SELECT reg_try($$SELECT projection_retry('reg-unknown', 'l-4')$$);
-- The projector still fails: its error, unchanged, and nothing changed.
SELECT projection_retry('reg-life', 'l-4');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS dead_letters FROM projection_offset_dead_letter WHERE handler_name = 'reg-life';
-- Fixed, it applies.
INSERT INTO reg_fixed DEFAULT VALUES;
SELECT projection_retry('reg-life', 'l-4');
SELECT event_id, amount FROM reg_model ORDER BY 1;
SELECT "eventId", p."position" FROM projection_offset o
JOIN projection_offset_position p USING ("eventId", "handlerName") WHERE "handlerName" = 'reg-life';
SELECT count(*) AS dead_letters FROM projection_offset_dead_letter WHERE handler_name = 'reg-life';
-- Not parked (any more): false, nothing applied.
SELECT projection_retry('reg-life', 'l-4');
SELECT projection_retry('reg-life', 'l-1');
-- Parked but already applied: false, and the dead letter goes.
INSERT INTO projection_offset_dead_letter
VALUES ('reg-life', 'l-4', 4, 'RG001', 'cannot project event l-4', NULL, NULL, NULL, 5, now(), now());
SELECT projection_retry('reg-life', 'l-4');
SELECT count(*) AS dead_letters FROM projection_offset_dead_letter WHERE handler_name = 'reg-life';
-- The event a handler stopped on: applied, the error cleared, the handler
-- running again.
INSERT INTO reg_events (id, type, payload) VALUES ('l-5', 'order_placed', '{"amount": 5}');
UPDATE projection_offset_handler
SET state = 'stopped', error_event = 'l-5', error_position = 5, attempts = 5, next_attempt_at = now(),
    last_error = '{"sqlstate": "RG001"}'
WHERE handler_name = 'reg-life';
SELECT projection_retry('reg-life', 'l-5');
SELECT state, error_event, error_position, attempts, next_attempt_at, last_error
FROM projection_offset_handler WHERE handler_name = 'reg-life';
-- A parked event no longer in the source: 42704, and the row stays.
INSERT INTO projection_offset_dead_letter
VALUES ('reg-life', 'l-gone', 9, 'RG001', 'cannot project', NULL, NULL, NULL, 5, now(), now());
SELECT projection_retry('reg-life', 'l-gone');
SELECT count(*) AS dead_letters FROM projection_offset_dead_letter WHERE handler_name = 'reg-life';
DELETE FROM projection_offset_dead_letter WHERE handler_name = 'reg-life';
-- The id is compared in the id column's own type: a uuid given in capitals
-- finds its row, and the offset takes the id as the source prints it.
CREATE TABLE reg_uuid_events (position bigserial, id uuid NOT NULL, type text NOT NULL, payload jsonb NOT NULL);
CREATE INDEX ON reg_uuid_events (id);
INSERT INTO reg_uuid_events (id, type, payload)
VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'order_placed', '{"amount": 6}');
SELECT projection_register('reg-uuid', 'reg_projector(text,jsonb)', 'reg_uuid_events', on_error => 'dead_letter');
INSERT INTO projection_offset_dead_letter
VALUES ('reg-uuid', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 1, 'RG001', 'cannot project', NULL, NULL, NULL, 5, now(), now());
SELECT projection_retry('reg-uuid', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11');
SELECT "eventId" FROM projection_offset WHERE "handlerName" = 'reg-uuid';
INSERT INTO projection_offset_dead_letter
VALUES ('reg-uuid', 'not-a-uuid', 2, 'RG001', 'cannot project', NULL, NULL, NULL, 5, now(), now());
SELECT reg_try($$SELECT projection_retry('reg-uuid', 'not-a-uuid')$$);
DELETE FROM projection_offset_dead_letter WHERE handler_name = 'reg-uuid';
-- A projector dropped since registration: 42883 naming it.
CREATE FUNCTION reg_dropped(event_id text, payload jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SELECT projection_register('reg-dropped', 'reg_dropped(text,jsonb)', 'reg_events');
DROP FUNCTION reg_dropped(text, jsonb);
UPDATE projection_offset_handler SET error_event = 'l-1' WHERE handler_name = 'reg-dropped';
SELECT projection_retry('reg-dropped', 'l-1');
SELECT projection_unregister('reg-dropped');

-- The status view: the 1.2 columns, then state, cursor, lag and last
-- error for registered handlers (NULL for handlers only known by offsets).
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'projection_offset_status'::regclass AND attnum > 0 ORDER BY attnum;
SELECT offset_claim('reg-unregistered-1', 'reg-unregistered');
UPDATE projection_offset_handler SET "position" = 1, behind_since = NULL, last_error = '{"sqlstate": "RG001"}'
WHERE handler_name = 'reg-life';
-- reg-life counts its types only (order_placed at positions 3, 4 and 5).
SELECT handler_name, offsets, checkpoint, state, "position", lag_events, lag_seconds, last_error
FROM projection_offset_status
WHERE handler_name IN ('reg-life', 'reg-uuid', 'reg-unregistered') ORDER BY 1;
UPDATE projection_offset_handler SET "position" = NULL WHERE handler_name = 'reg-life';
SELECT lag_events FROM projection_offset_status WHERE handler_name = 'reg-life';

-- Privileges. Managing projections needs EXECUTE (revoked from PUBLIC)
-- and the rights on the registry tables; registering also TRIGGER and
-- SELECT on the source and EXECUTE on the projector; dropping the last
-- trigger of a source needs its ownership. run_as is the registering role.
SELECT p.oid::regprocedure AS function, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
FROM pg_proc p WHERE p.proname LIKE 'projection\_%' AND p.proname NOT LIKE '%distribute' AND p.proname NOT LIKE '%counters%'
ORDER BY 1::text;
CREATE ROLE regress_reg_admin;
CREATE ROLE regress_reg_reader;
CREATE TABLE reg_role_events (position bigserial, id text NOT NULL, type text NOT NULL, payload jsonb NOT NULL);
INSERT INTO reg_role_events (id, type, payload) VALUES ('o-1', 'order_placed', '{"amount": 1}');
GRANT EXECUTE ON FUNCTION projection_register(text, regprocedure, regclass, text, text, text, text, text[], text, text, integer, integer),
      projection_unregister(text), projection_pause(text) TO regress_reg_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON projection_offset_handler, projection_offset_dead_letter TO regress_reg_admin;
GRANT SELECT ON projection_offset_status TO regress_reg_admin, regress_reg_reader;
SET ROLE regress_reg_admin;
SELECT projection_register('reg-role', 'reg_projector(text,jsonb)', 'reg_role_events');
RESET ROLE;
GRANT TRIGGER ON reg_role_events TO regress_reg_admin;
SET ROLE regress_reg_admin;
SELECT projection_register('reg-role', 'reg_projector(text,jsonb)', 'reg_role_events');
RESET ROLE;
GRANT SELECT ON reg_role_events TO regress_reg_admin;
REVOKE EXECUTE ON FUNCTION reg_projector(text, jsonb) FROM PUBLIC;
SET ROLE regress_reg_admin;
SELECT projection_register('reg-role', 'reg_projector(text,jsonb)', 'reg_role_events');
RESET ROLE;
GRANT EXECUTE ON FUNCTION reg_projector(text, jsonb) TO regress_reg_admin;
SET ROLE regress_reg_admin;
SELECT projection_register('reg-role', 'reg_projector(text,jsonb)', 'reg_role_events');
SELECT run_as, "position" FROM projection_offset_handler WHERE handler_name = 'reg-role';
SELECT * FROM reg_triggers('reg_role_events');
SELECT projection_pause('reg-role');
SELECT projection_resume('reg-role');
-- The lag needs SELECT on the source; the view itself is granted.
SELECT handler_name, state, lag_events FROM projection_offset_status WHERE handler_name = 'reg-role';
SET ROLE regress_reg_reader;
SELECT handler_name, state, lag_events FROM projection_offset_status WHERE handler_name = 'reg-role';
SET ROLE regress_reg_admin;
-- Its trigger is the last one of reg_role_events: dropping it needs the
-- ownership of reg_role_events, and nothing changes without it.
SELECT projection_unregister('reg-role');
RESET ROLE;
SELECT handler_name, state FROM projection_offset_handler WHERE handler_name = 'reg-role';
SELECT projection_unregister('reg-role');
SELECT * FROM reg_triggers('reg_role_events');
GRANT EXECUTE ON FUNCTION reg_projector(text, jsonb) TO PUBLIC;
DROP TABLE reg_role_events;
DROP OWNED BY regress_reg_admin, regress_reg_reader;
DROP ROLE regress_reg_admin, regress_reg_reader;

-- Every handler unregistered, every trigger gone: the extension can be
-- dropped by the suites that follow.
SELECT projection_unregister(handler_name) FROM projection_offset_handler ORDER BY handler_name;
SELECT count(*) AS triggers_left FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
WHERE p.proname LIKE '\_projection\_offset\_%';
DROP VIEW reg_view;
DROP TABLE reg_events, reg_model, reg_fixed, reg_nullable, reg_cached, reg_parted, reg_empty, reg_uuid_events;
DROP SEQUENCE reg_shared_seq;
DELETE FROM projection_offset WHERE "handlerName" LIKE 'reg-%' OR "handlerName" = repeat('h', 256);
DELETE FROM projection_offset_position WHERE "handlerName" LIKE 'reg-%';
