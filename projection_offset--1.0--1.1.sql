/* projection_offset--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION projection_offset UPDATE TO '1.1'" to load this file. \quit

-- Checkpoints: a handler that has handled everything up to a position
-- declares it, and claims at or below it are duplicates that store nothing.
-- Positions live beside the offset table, so that table keeps exactly the
-- columns of the application's migration.
CREATE TABLE @extschema@.projection_offset_checkpoint (
    "handlerName" text NOT NULL,
    "position" bigint NOT NULL,
    "updatedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "projection_offset_checkpoint_pkey" PRIMARY KEY ("handlerName")
);

CREATE TABLE @extschema@.projection_offset_position (
    "eventId" text NOT NULL,
    "handlerName" text NOT NULL,
    "position" bigint NOT NULL,
    CONSTRAINT "projection_offset_position_pkey" PRIMARY KEY ("eventId", "handlerName")
);
CREATE INDEX "projection_offset_position_handlerName_position_idx"
    ON @extschema@.projection_offset_position ("handlerName", "position");

COMMENT ON TABLE @extschema@.projection_offset_checkpoint IS
    'per handler: every event at or below "position" is handled';
COMMENT ON TABLE @extschema@.projection_offset_position IS
    'the position of each offset claimed with one, so that offsets at or below a checkpoint can be pruned';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.projection_offset_checkpoint', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.projection_offset_position', '');

CREATE FUNCTION @extschema@.offset_claim(event_id text, handler_name text, event_position bigint, payload_hash text DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'po_offset_claim_at'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;

COMMENT ON FUNCTION @extschema@.offset_claim(text, text, bigint, text) IS
    'like offset_claim(event_id, handler_name, payload_hash), and a duplicate when event_position is at or below the handler''s checkpoint';

CREATE FUNCTION @extschema@.apply_with_offset(handler_name text, projector regprocedure, events jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'po_apply_batch'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;

COMMENT ON FUNCTION @extschema@.apply_with_offset(text, regprocedure, jsonb) IS
    'applies every event of a JSON array [{"event_id", "payload", "position"}] not yet applied, in order; returns how many it applied';

-- Forgetting offsets.
CREATE FUNCTION @extschema@.offset_release(event_id text, handler_name text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'po_offset_release'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;

COMMENT ON FUNCTION @extschema@.offset_release(text, text) IS
    'forgets one offset so that the event is applied again on its next delivery';

CREATE FUNCTION @extschema@.offset_reset(handler_name text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'po_offset_reset'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;

COMMENT ON FUNCTION @extschema@.offset_reset(text) IS
    'forgets every offset, position and the checkpoint of a handler, to rebuild its projection';

CREATE FUNCTION @extschema@.offset_prune(handler_name text, older_than timestamptz)
RETURNS bigint
AS 'MODULE_PATHNAME', 'po_offset_prune'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;

COMMENT ON FUNCTION @extschema@.offset_prune(text, timestamptz) IS
    'removes a handler''s offsets applied before older_than, for retention';

CREATE FUNCTION @extschema@.offset_prune(handler_name text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'po_offset_prune_to_checkpoint'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;

COMMENT ON FUNCTION @extschema@.offset_prune(text) IS
    'removes a handler''s offsets whose position is at or below its checkpoint';

CREATE FUNCTION @extschema@.offset_checkpoint(handler_name text, "position" bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'po_offset_checkpoint'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;

COMMENT ON FUNCTION @extschema@.offset_checkpoint(text, bigint) IS
    'declares that the handler has handled every event up to position; returns the checkpoint, which never moves back';

-- Operations.
CREATE VIEW @extschema@.projection_offset_status AS
SELECT COALESCE(o."handlerName", c."handlerName") AS handler_name,
       COALESCE(o.offsets, 0) AS offsets,
       o.first_applied_at,
       o.last_applied_at,
       c."position" AS checkpoint
FROM (SELECT "handlerName", count(*) AS offsets,
             min("appliedAt") AS first_applied_at, max("appliedAt") AS last_applied_at
      FROM @extschema@.projection_offset GROUP BY "handlerName") o
FULL JOIN @extschema@.projection_offset_checkpoint c ON c."handlerName" = o."handlerName";

COMMENT ON VIEW @extschema@.projection_offset_status IS
    'per handler: offsets recorded, first and last appliedAt, checkpoint';

CREATE FUNCTION @extschema@.projection_offset_counters(
    OUT handler_name text, OUT claims bigint, OUT duplicates bigint, OUT divergences bigint,
    OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'po_counters'
LANGUAGE C VOLATILE PARALLEL SAFE SECURITY INVOKER;

COMMENT ON FUNCTION @extschema@.projection_offset_counters() IS
    'claims, duplicates and divergences per handler of this database since server start or the last reset (needs shared_preload_libraries)';

CREATE FUNCTION @extschema@.projection_offset_counters_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'po_counters_reset'
LANGUAGE C VOLATILE PARALLEL SAFE SECURITY INVOKER;

-- The idempotency harness for users' own regression suites.
CREATE FUNCTION @extschema@.assert_projector_idempotent(
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
-- Every name below is schema-qualified and every operator spelled
-- OPERATOR(pg_catalog.x): the harness runs the caller's projector under the
-- caller's search_path, so it cannot pin its own.
DECLARE
    -- Types too are qualified: PL/pgSQL resolves them at first call, under
    -- the caller's search_path.
    own_tables pg_catalog.oid[];
    call_sql pg_catalog.text;
    ids pg_catalog.text[];
    payloads pg_catalog.jsonb[];
    n pg_catalog.int4;
    pass pg_catalog.int4;
    idx pg_catalog.int4;
    delivery_order pg_catalog.int4[];
    before_pass pg_catalog.jsonb;
    before_call pg_catalog.jsonb;
    after_call pg_catalog.jsonb;
    changes pg_catalog.text;
    state_first pg_catalog.text[];
    state_last pg_catalog.text[];
    state_sql pg_catalog.text;
    bad pg_catalog.text;
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

    SELECT pg_catalog.format('SELECT %I.%I($1::pg_catalog.text, $2::pg_catalog.jsonb)', ns.nspname, p.proname)
      INTO call_sql
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace ns ON ns.oid OPERATOR(pg_catalog.=) p.pronamespace
     WHERE p.oid OPERATOR(pg_catalog.=) projector
       AND p.prokind OPERATOR(pg_catalog.=) 'f'
       AND p.pronargs OPERATOR(pg_catalog.=) 2
       AND p.proargtypes[0] OPERATOR(pg_catalog.=) 'pg_catalog.text'::pg_catalog.regtype
       AND p.proargtypes[1] OPERATOR(pg_catalog.=) 'pg_catalog.jsonb'::pg_catalog.regtype;
    IF call_sql IS NULL THEN
        RAISE EXCEPTION 'projector % must be a function taking (text, jsonb)', projector
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'The harness delivers (event_id, payload) to a projector that claims its own offset.';
    END IF;

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

    own_tables := ARRAY['@extschema@.projection_offset'::pg_catalog.regclass,
                        '@extschema@.projection_offset_position'::pg_catalog.regclass,
                        '@extschema@.projection_offset_checkpoint'::pg_catalog.regclass]::pg_catalog.oid[];
    IF state_query IS NOT NULL THEN
        state_sql := pg_catalog.format(
            'SELECT pg_catalog.array_agg(q::pg_catalog.text ORDER BY q::pg_catalog.text) FROM (%s) q', state_query);
    END IF;

    BEGIN
        -- First pass: every event once.
        before_pass := @extschema@._projection_offset_table_counts(own_tables);
        FOR idx IN 1 .. n LOOP
            EXECUTE call_sql USING ids[idx], payloads[idx];
        END LOOP;
        after_call := @extschema@._projection_offset_table_counts(own_tables);
        SELECT pg_catalog.array_agg(t ORDER BY t)
          INTO tables_touched
          FROM pg_catalog.unnest(@extschema@._projection_offset_changes(before_pass, after_call, false)) t;
        tables_touched := COALESCE(tables_touched, '{}');

        FOR idx IN 1 .. n LOOP
            IF NOT EXISTS (SELECT FROM @extschema@.projection_offset o
                            WHERE o."eventId" OPERATOR(pg_catalog.=) ids[idx]
                              AND (handler_name IS NULL OR o."handlerName" OPERATOR(pg_catalog.=) handler_name)) THEN
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
                before_call := @extschema@._projection_offset_table_counts(own_tables);
                EXECUTE call_sql USING ids[idx], payloads[idx];
                after_call := @extschema@._projection_offset_table_counts(own_tables);
                changes := pg_catalog.array_to_string(
                    @extschema@._projection_offset_changes(before_call, after_call, true), '; ');
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
            RAISE EXCEPTION USING ERRCODE = 'PJ900';
        END IF;
    EXCEPTION WHEN SQLSTATE 'PJ900' THEN
        NULL;
    END;
END
$harness$;

COMMENT ON FUNCTION @extschema@.assert_projector_idempotent(regprocedure, jsonb, int, text, text, boolean) IS
    'delivers every event, then re-delivers them replays-1 times in other orders, and raises PJ002 unless the re-deliveries changed nothing';

-- Row counters of this transaction for every user table but the extension's
-- own, as {"table oid": [inserted, updated, deleted]}.
CREATE FUNCTION @extschema@._projection_offset_table_counts(own_tables oid[])
RETURNS jsonb
LANGUAGE sql STABLE SECURITY INVOKER
BEGIN ATOMIC
    SELECT COALESCE(pg_catalog.jsonb_object_agg(s.relid, pg_catalog.jsonb_build_array(s.n_tup_ins, s.n_tup_upd, s.n_tup_del)), '{}')
      FROM pg_catalog.pg_stat_xact_user_tables s
     WHERE s.relid OPERATOR(pg_catalog.<>) ALL (own_tables);
END;

-- The tables whose counters differ, named, optionally with what changed.
CREATE FUNCTION @extschema@._projection_offset_changes(before jsonb, after jsonb, describe boolean)
RETURNS text[]
LANGUAGE sql STABLE SECURITY INVOKER
BEGIN ATOMIC
    SELECT COALESCE(pg_catalog.array_agg(
               CASE WHEN describe THEN pg_catalog.format('%s (%s inserted, %s updated, %s deleted)',
                        a.key::pg_catalog.oid::pg_catalog.regclass,
                        (a.value OPERATOR(pg_catalog.->>) 0)::pg_catalog.int8 OPERATOR(pg_catalog.-) COALESCE((b.value OPERATOR(pg_catalog.->>) 0)::pg_catalog.int8, 0),
                        (a.value OPERATOR(pg_catalog.->>) 1)::pg_catalog.int8 OPERATOR(pg_catalog.-) COALESCE((b.value OPERATOR(pg_catalog.->>) 1)::pg_catalog.int8, 0),
                        (a.value OPERATOR(pg_catalog.->>) 2)::pg_catalog.int8 OPERATOR(pg_catalog.-) COALESCE((b.value OPERATOR(pg_catalog.->>) 2)::pg_catalog.int8, 0))
                    ELSE a.key::pg_catalog.oid::pg_catalog.regclass::pg_catalog.text END
               ORDER BY a.key::pg_catalog.oid::pg_catalog.regclass::pg_catalog.text), '{}')
      FROM pg_catalog.jsonb_each(after) a
      LEFT JOIN pg_catalog.jsonb_each(before) b ON b.key OPERATOR(pg_catalog.=) a.key
     WHERE a.value OPERATOR(pg_catalog.<>) COALESCE(b.value, '[0, 0, 0]'::pg_catalog.jsonb);
END;

-- Privileges. Claiming needs SELECT and INSERT on the offset table (and on
-- projection_offset_position, SELECT on projection_offset_checkpoint for
-- positioned claims); releasing needs DELETE. Nothing on the tables is
-- granted to PUBLIC. Resetting and pruning forget many offsets at once and
-- are not for every role: EXECUTE is revoked from PUBLIC.
REVOKE ALL ON FUNCTION @extschema@.offset_reset(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.offset_prune(text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.offset_prune(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.projection_offset_counters_reset() FROM PUBLIC;
-- Handler names and volumes are monitoring data, as in pg_stat_statements.
REVOKE ALL ON FUNCTION @extschema@.projection_offset_counters() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.projection_offset_counters() TO pg_read_all_stats;
