/* projection_offset--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION projection_offset UPDATE TO '1.2'" to load this file. \quit

-- One function name per call shape. The overloads of 1.1 let a driver that
-- binds untyped or text parameters reach the wrong form: a position bound
-- as the third argument of offset_claim became a payload hash, an array
-- bound to offset_claim($1, $2) one event id, and apply_with_offset($1, $2,
-- $3) was ambiguous. Their forms get names of their own.
DROP FUNCTION @extschema@.offset_claim(text, text, bigint, text);
DROP FUNCTION @extschema@.offset_claim(text[], text);
DROP FUNCTION @extschema@.apply_with_offset(text, regprocedure, jsonb);

CREATE FUNCTION @extschema@.offset_claim_at(event_id text, handler_name text, event_position bigint, payload_hash text DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'po_offset_claim_at'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;

COMMENT ON FUNCTION @extschema@.offset_claim_at(text, text, bigint, text) IS
    'like offset_claim, and a duplicate that stores nothing when event_position is at or below the handler''s checkpoint';

CREATE FUNCTION @extschema@.offset_claim_batch(event_ids text[], handler_name text)
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'po_offset_claim_batch'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER ROWS 100;

COMMENT ON FUNCTION @extschema@.offset_claim_batch(text[], text) IS
    'records every id not yet recorded for handler_name; returns the ids recorded by this call';

-- The projector as text, for drivers that bind strings as text or varchar
-- (pgJDBC by default), which have no cast to regprocedure. Calls with
-- unknown-typed, text or varchar arguments resolve here, a regprocedure to
-- the form above; both behave alike.
CREATE FUNCTION @extschema@.apply_with_offset(event_id text, handler_name text, projector text, payload jsonb DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'po_apply_with_offset_by_name'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;

COMMENT ON FUNCTION @extschema@.apply_with_offset(text, text, text, jsonb) IS
    'apply_with_offset with the projector given as ''schema.name(argument types)'' or as a unique ''schema.name''';

CREATE FUNCTION @extschema@.apply_with_offset_batch(handler_name text, projector regprocedure, events jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'po_apply_with_offset_batch'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;

COMMENT ON FUNCTION @extschema@.apply_with_offset_batch(text, regprocedure, jsonb) IS
    'applies every event of a JSON array [{"event_id", "payload", "position"}] not yet applied, in order; returns how many it applied';

CREATE FUNCTION @extschema@.apply_with_offset_batch(handler_name text, projector text, events jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'po_apply_with_offset_batch_by_name'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;

COMMENT ON FUNCTION @extschema@.apply_with_offset_batch(text, text, jsonb) IS
    'apply_with_offset_batch with the projector given as ''schema.name(argument types)'' or as a unique ''schema.name''';

-- The replay flag, readable in every session: current_setting() fails
-- until the library is loaded, and calling this function loads it.
CREATE FUNCTION @extschema@.offset_replaying()
RETURNS boolean
AS 'MODULE_PATHNAME', 'po_offset_replaying'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER;

COMMENT ON FUNCTION @extschema@.offset_replaying() IS
    'the setting projection_offset.replaying: true while projections are rebuilt or replayed';

-- The same functions, bound to the symbols a fresh install names.
CREATE OR REPLACE FUNCTION @extschema@.projection_offset_counters(
    OUT handler_name text, OUT claims bigint, OUT duplicates bigint, OUT divergences bigint,
    OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'po_projection_offset_counters'
LANGUAGE C VOLATILE PARALLEL SAFE SECURITY INVOKER;

COMMENT ON FUNCTION @extschema@.projection_offset_counters() IS
    'claims, duplicates and divergences per handler of this database since server start or the last reset (needs shared_preload_libraries)';

CREATE OR REPLACE FUNCTION @extschema@.projection_offset_counters_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'po_projection_offset_counters_reset'
LANGUAGE C VOLATILE PARALLEL SAFE SECURITY INVOKER;

-- The idempotency harness for users' own regression suites.
--
-- Every name below is schema-qualified and every operator spelled
-- OPERATOR(pg_catalog.x): the harness runs the caller's projector under the
-- caller's search_path, so it cannot pin its own. The extension's own
-- objects are found through pg_extension at each call rather than through
-- a schema name written into the body, which ALTER SCHEMA ... RENAME would
-- leave stale.
CREATE OR REPLACE FUNCTION @extschema@.assert_projector_idempotent(
    projector regprocedure,
    events jsonb,
    replays int DEFAULT 5,
    state_query text DEFAULT NULL,
    handler_name text DEFAULT NULL,
    keep_changes boolean DEFAULT false,
    OUT events_checked int,
    OUT deliveries bigint,
    OUT tables_touched text[])
RETURNS record
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $harness$
DECLARE
    -- Types too are qualified: PL/pgSQL resolves them at first call, under
    -- the caller's search_path.
    ext pg_catalog.text;
    own_tables pg_catalog.oid[];
    counts_sql pg_catalog.text;
    changes_sql pg_catalog.text;
    deliver_sql pg_catalog.text;
    offset_sql pg_catalog.text;
    ids pg_catalog.text[];
    payloads pg_catalog.jsonb[];
    n pg_catalog.int4;
    pass pg_catalog.int4;
    idx pg_catalog.int4;
    delivery_order pg_catalog.int4[];
    before_pass pg_catalog.jsonb;
    before_call pg_catalog.jsonb;
    after_call pg_catalog.jsonb;
    changed pg_catalog.text[];
    changes pg_catalog.text;
    state_first pg_catalog.text[];
    state_last pg_catalog.text[];
    state_sql pg_catalog.text;
    bad pg_catalog.text;
    has_offset pg_catalog.bool;
    -- The rollback at the end is an exception only this call raises: a
    -- PJ900 from the projector must not pass for it.
    rollback_token pg_catalog.text := 'projection_offset harness rollback '
                                      OPERATOR(pg_catalog.||) pg_catalog.gen_random_uuid()::pg_catalog.text;
    caught pg_catalog.text;
BEGIN
    IF projector IS NULL THEN
        RAISE EXCEPTION 'projector must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF events IS NULL THEN
        RAISE EXCEPTION 'events must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF replays IS NULL OR replays OPERATOR(pg_catalog.<) 2 THEN
        RAISE EXCEPTION 'replays must be at least 2' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'The first delivery applies the events; later ones must change nothing.';
    END IF;
    IF pg_catalog.jsonb_typeof(events) OPERATOR(pg_catalog.<>) 'array' THEN
        RAISE EXCEPTION 'events must be a JSON array' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    IF NOT EXISTS (
        SELECT FROM pg_catalog.pg_proc p
         WHERE p.oid OPERATOR(pg_catalog.=) projector
           AND p.prokind OPERATOR(pg_catalog.=) 'f'
           AND p.pronargs OPERATOR(pg_catalog.=) 2
           AND p.proargtypes[0] OPERATOR(pg_catalog.=) 'pg_catalog.text'::pg_catalog.regtype
           AND p.proargtypes[1] OPERATOR(pg_catalog.=) 'pg_catalog.jsonb'::pg_catalog.regtype) THEN
        RAISE EXCEPTION 'projector % must be a function taking (text, jsonb)', projector
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'The harness delivers (event_id, payload) to a projector that claims its own offset.';
    END IF;

    SELECT pg_catalog.quote_ident(ns.nspname),
           pg_catalog.array_agg(c.oid) FILTER (WHERE c.oid IS NOT NULL)
      INTO ext, own_tables
      FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_namespace ns ON ns.oid OPERATOR(pg_catalog.=) e.extnamespace
      LEFT JOIN pg_catalog.pg_class c
        ON c.relnamespace OPERATOR(pg_catalog.=) e.extnamespace
       AND c.relname OPERATOR(pg_catalog.=) ANY ('{projection_offset,projection_offset_position,projection_offset_checkpoint}'::pg_catalog.name[])
     WHERE e.extname OPERATOR(pg_catalog.=) 'projection_offset'
     GROUP BY ns.nspname;
    counts_sql := pg_catalog.format('SELECT %s._projection_offset_table_counts($1)', ext);
    changes_sql := pg_catalog.format('SELECT %s._projection_offset_changes($1, $2, $3)', ext);
    deliver_sql := pg_catalog.format('SELECT %s._projection_offset_deliver($1, $2, $3)', ext);
    offset_sql := pg_catalog.format(
        'SELECT EXISTS (SELECT FROM %s.projection_offset o'
        ' WHERE o."eventId" OPERATOR(pg_catalog.=) $1'
        ' AND ($2 IS NULL OR o."handlerName" OPERATOR(pg_catalog.=) $2))', ext);

    SELECT pg_catalog.array_agg(e.value OPERATOR(pg_catalog.->>) 'event_id' ORDER BY e.ord),
           pg_catalog.array_agg(e.value OPERATOR(pg_catalog.->) 'payload' ORDER BY e.ord),
           pg_catalog.min(e.ord) FILTER (WHERE pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.<>) 'object'
                OR (pg_catalog.jsonb_typeof(e.value OPERATOR(pg_catalog.->) 'event_id') OPERATOR(pg_catalog.=) 'string') IS NOT TRUE
                OR (e.value OPERATOR(pg_catalog.->>) 'event_id') OPERATOR(pg_catalog.=) '')::pg_catalog.text
      INTO ids, payloads, bad
      FROM pg_catalog.jsonb_array_elements(events) WITH ORDINALITY AS e(value, ord);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'element % of events has no non-empty string "event_id"', bad
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    n := COALESCE(pg_catalog.array_length(ids, 1), 0);

    IF state_query IS NOT NULL THEN
        state_sql := pg_catalog.format(
            'SELECT pg_catalog.array_agg(q::pg_catalog.text ORDER BY q::pg_catalog.text) FROM (%s) q', state_query);
    END IF;

    BEGIN
        -- First pass: every event once.
        EXECUTE counts_sql INTO before_pass USING own_tables;
        FOR idx IN 1 .. n LOOP
            EXECUTE deliver_sql USING projector, ids[idx], payloads[idx];
        END LOOP;
        EXECUTE counts_sql INTO after_call USING own_tables;
        EXECUTE changes_sql INTO tables_touched USING before_pass, after_call, false;

        FOR idx IN 1 .. n LOOP
            EXECUTE offset_sql INTO has_offset USING ids[idx], handler_name;
            IF NOT has_offset THEN
                RAISE EXCEPTION 'projector % left no offset for event "%"', projector, ids[idx]
                    USING ERRCODE = 'PJ002',
                          DETAIL = CASE WHEN handler_name IS NULL
                                        THEN 'No projection_offset row has this eventId after the first delivery.'
                                        ELSE pg_catalog.format('No projection_offset row has this eventId and handlerName "%s" after the first delivery.', handler_name) END,
                          HINT = 'A projector must claim its event with offset_claim() or apply_with_offset().';
            END IF;
        END LOOP;

        IF state_sql IS NOT NULL THEN
            EXECUTE state_sql INTO state_first;
            state_first := COALESCE(state_first, '{}');
        END IF;

        -- Re-deliveries: reversed on even passes, shuffled on odd ones.
        FOR pass IN 2 .. replays LOOP
            IF pass OPERATOR(pg_catalog.%) 2 OPERATOR(pg_catalog.=) 0 THEN
                SELECT pg_catalog.array_agg(i ORDER BY i DESC) INTO delivery_order
                  FROM pg_catalog.generate_series(1, n) i;
            ELSE
                SELECT pg_catalog.array_agg(i ORDER BY pg_catalog.md5(ids[i] OPERATOR(pg_catalog.||) pass::pg_catalog.text))
                  INTO delivery_order FROM pg_catalog.generate_series(1, n) i;
            END IF;
            FOREACH idx IN ARRAY COALESCE(delivery_order, '{}') LOOP
                EXECUTE counts_sql INTO before_call USING own_tables;
                EXECUTE deliver_sql USING projector, ids[idx], payloads[idx];
                EXECUTE counts_sql INTO after_call USING own_tables;
                EXECUTE changes_sql INTO changed USING before_call, after_call, true;
                changes := pg_catalog.array_to_string(changed, '; ');
                IF changes OPERATOR(pg_catalog.<>) '' THEN
                    RAISE EXCEPTION 'projector % is not idempotent: re-delivery of event "%" changed %',
                            projector, ids[idx], changes
                        USING ERRCODE = 'PJ002',
                              DETAIL = pg_catalog.format('Delivery %s of %s of this event wrote rows; a re-delivery must write nothing outside projection_offset.', pass, replays),
                              HINT = 'Claim the event before mutating, and skip the mutation when the claim returns false.';
                END IF;
                IF state_sql IS NOT NULL THEN
                    EXECUTE state_sql INTO state_last;
                    IF (COALESCE(state_last, '{}') OPERATOR(pg_catalog.=) state_first) IS NOT TRUE THEN
                        RAISE EXCEPTION 'projector % is not idempotent: re-delivery of event "%" changed the result of state_query',
                                projector, ids[idx]
                            USING ERRCODE = 'PJ002',
                                  DETAIL = pg_catalog.format('Delivery %s of %s of this event. After the first pass: %s. Now: %s.',
                                                             pass, replays,
                                                             state_first::pg_catalog.text,
                                                             COALESCE(state_last::pg_catalog.text, '(no rows)'));
                    END IF;
                END IF;
            END LOOP;
        END LOOP;

        events_checked := n;
        deliveries := n::pg_catalog.int8 OPERATOR(pg_catalog.*) replays;
        IF NOT COALESCE(keep_changes, false) THEN
            -- Roll back every delivery, so that a regression test can rerun.
            RAISE EXCEPTION USING ERRCODE = 'PJ900', MESSAGE = rollback_token;
        END IF;
    EXCEPTION WHEN SQLSTATE 'PJ900' THEN
        GET STACKED DIAGNOSTICS caught = MESSAGE_TEXT;
        IF caught IS NULL OR caught OPERATOR(pg_catalog.<>) rollback_token THEN
            RAISE;
        END IF;
    END;
END
$harness$;

COMMENT ON FUNCTION @extschema@.assert_projector_idempotent(regprocedure, jsonb, int, text, text, boolean) IS
    'delivers every event, then re-delivers them replays-1 times in other orders, and raises PJ002 unless the re-deliveries changed nothing';

-- Calls the projector under test by OID, for the harness.
CREATE FUNCTION @extschema@._projection_offset_deliver(projector regprocedure, event_id text, payload jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'po_projection_offset_deliver'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;

