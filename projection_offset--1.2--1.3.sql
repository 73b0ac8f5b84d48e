/* projection_offset--1.2--1.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION projection_offset UPDATE TO '1.3'" to load this file. \quit

-- Projections that run themselves: a registry of handlers, each reading a
-- source table of the caller's (its events), applied in the appending
-- transaction (inline) and by the projection worker (async), which also
-- catches inline handlers up after a pause or a rebuild.
--
-- One row per handler: its registration (dumped, so that a restore keeps
-- it) and the worker's progress. "position" is the handler's cursor: every
-- event of the source at or below it is applied or parked; NULL before the
-- first event. The projector is kept as its signature text, schema-qualified,
-- and resolved at each use: a reg* column other than regclass or regrole
-- would stop pg_upgrade.
CREATE TABLE @extschema@.projection_offset_handler (
    handler_name text NOT NULL,
    projector text NOT NULL,
    source regclass NOT NULL,
    id_column text NOT NULL,
    type_column text NOT NULL,
    payload_column text NOT NULL,
    position_column text NOT NULL,
    event_types text[],
    mode text NOT NULL,
    on_error text NOT NULL,
    max_attempts integer NOT NULL,
    batch_size integer NOT NULL,
    run_as regrole NOT NULL,
    state text NOT NULL DEFAULT 'running',
    "position" bigint,
    rebuild_target bigint,
    behind_since timestamptz,
    error_event text,
    error_position bigint,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error jsonb,
    registered_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT projection_offset_handler_pkey PRIMARY KEY (handler_name),
    CONSTRAINT projection_offset_handler_mode_check CHECK (mode IN ('async', 'inline')),
    CONSTRAINT projection_offset_handler_on_error_check CHECK (on_error IN ('stop', 'dead_letter')),
    CONSTRAINT projection_offset_handler_state_check
        CHECK (state IN ('running', 'paused', 'stopped', 'rebuilding')),
    CONSTRAINT projection_offset_handler_max_attempts_check CHECK (max_attempts >= 1),
    CONSTRAINT projection_offset_handler_batch_size_check CHECK (batch_size BETWEEN 1 AND 10000)
);

COMMENT ON TABLE @extschema@.projection_offset_handler IS
    'registered projections: source, projector, mode, error policy, and the worker''s progress';

-- Events whose projector kept failing, for handlers that park them
-- (on_error = 'dead_letter'); projection_retry applies one again.
CREATE TABLE @extschema@.projection_offset_dead_letter (
    handler_name text NOT NULL,
    event_id text NOT NULL,
    "position" bigint,
    sqlstate text NOT NULL,
    message text NOT NULL,
    detail text,
    hint text,
    context text,
    attempts integer NOT NULL,
    first_failure timestamptz NOT NULL,
    last_failure timestamptz NOT NULL,
    CONSTRAINT projection_offset_dead_letter_pkey PRIMARY KEY (handler_name, event_id)
);

COMMENT ON TABLE @extschema@.projection_offset_dead_letter IS
    'events parked after their projector failed max_attempts times, with the last error';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.projection_offset_handler', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.projection_offset_dead_letter', '');

-- Statement trigger on an async handler's source: wakes the database's
-- projection worker when the appending transaction ends.
CREATE FUNCTION @extschema@._projection_offset_wake()
RETURNS trigger
AS 'MODULE_PATHNAME', 'po_projection_offset_wake'
LANGUAGE C VOLATILE SECURITY INVOKER;

-- REGISTRY FUNCTIONS
--
-- Registering a handler and its life cycle. These functions are PL/pgSQL,
-- SECURITY INVOKER, with the search_path pinned to pg_catalog, so that the
-- caller's search_path captures no operator or function. They find the
-- extension's tables through pg_extension at each call (a schema rename
-- leaves nothing stale), quote every identifier with format('%I') and bind
-- every value as a parameter. Each runs in the caller's transaction: an
-- error anywhere undoes all it wrote, triggers included.

-- The statement trigger on an inline handler's source (AFTER INSERT,
-- REFERENCING NEW TABLE): applies the rows the statement appended, in the
-- appending transaction and as the appending role; a projector error
-- aborts the append.
CREATE FUNCTION @extschema@._projection_offset_inline()
RETURNS trigger
AS 'MODULE_PATHNAME', 'po_projection_offset_inline'
LANGUAGE C VOLATILE SECURITY INVOKER;

CREATE FUNCTION @extschema@.projection_register(
    handler_name text,
    projector regprocedure,
    source regclass,
    id_column text DEFAULT 'id',
    type_column text DEFAULT 'type',
    payload_column text DEFAULT 'payload',
    position_column text DEFAULT 'position',
    event_types text[] DEFAULT NULL,
    mode text DEFAULT 'async',
    on_error text DEFAULT 'stop',
    max_attempts integer DEFAULT 5,
    batch_size integer DEFAULT 500)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $register$
DECLARE
    ext text;
    missing text;
    fn record;
    rel record;
    col record;
    arg text[];
    seq record;
    inserted bigint;
    trigger_name text;
    trigger_function regprocedure;
    existing oid;
    distributed boolean := false;
BEGIN
    missing := CASE WHEN handler_name IS NULL THEN 'handler_name'
                    WHEN projector IS NULL THEN 'projector'
                    WHEN source IS NULL THEN 'source'
                    WHEN id_column IS NULL THEN 'id_column'
                    WHEN type_column IS NULL THEN 'type_column'
                    WHEN payload_column IS NULL THEN 'payload_column'
                    WHEN position_column IS NULL THEN 'position_column'
                    WHEN mode IS NULL THEN 'mode'
                    WHEN on_error IS NULL THEN 'on_error'
                    WHEN max_attempts IS NULL THEN 'max_attempts'
                    WHEN batch_size IS NULL THEN 'batch_size' END;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION '% must not be null', missing USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- The handler name keys offsets too: the limits of offset_claim.
    IF handler_name = '' THEN
        RAISE EXCEPTION 'handler_name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF octet_length(handler_name) > 256 THEN
        RAISE EXCEPTION 'handler_name is too long' USING ERRCODE = 'string_data_right_truncation',
            DETAIL = format('The value is %s bytes; the limit is 256 bytes.', octet_length(handler_name)),
            HINT = 'Use a shorter identifier, for example a hash of the long one.';
    END IF;
    IF mode NOT IN ('async', 'inline') THEN
        RAISE EXCEPTION 'unrecognized mode "%"', mode USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use ''async'' (applied by the projection worker) or ''inline'' (applied in the appending transaction).';
    END IF;
    IF on_error NOT IN ('stop', 'dead_letter') THEN
        RAISE EXCEPTION 'unrecognized on_error "%"', on_error USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use ''stop'' or ''dead_letter''.';
    END IF;
    IF max_attempts < 1 THEN
        RAISE EXCEPTION 'max_attempts must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF batch_size NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'batch_size must be between 1 and 10000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF event_types IS NOT NULL THEN
        IF array_ndims(event_types) > 1 THEN
            RAISE EXCEPTION 'event_types must be a one-dimensional array' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF cardinality(event_types) = 0 THEN
            RAISE EXCEPTION 'event_types must not be empty' USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Pass NULL to apply events of every type.';
        END IF;
        IF array_position(event_types, NULL) IS NOT NULL THEN
            RAISE EXCEPTION 'element % of event_types must not be null', array_position(event_types, NULL)
                USING ERRCODE = 'null_value_not_allowed';
        END IF;
    END IF;

    -- The projector: the shapes apply_with_offset_batch accepts.
    SELECT p.prokind, p.proretset, p.pronamespace, p.pronargs,
           p.proargtypes[0] AS arg1, p.proargtypes[1] AS arg2 INTO fn
      FROM pg_proc p WHERE p.oid = projector;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'function with OID % does not exist', projector::oid USING ERRCODE = 'undefined_function';
    END IF;
    IF fn.prokind <> 'f' THEN
        RAISE EXCEPTION '% is %, not a function', projector,
            CASE fn.prokind WHEN 'p' THEN 'a procedure' WHEN 'a' THEN 'an aggregate function' ELSE 'a window function' END
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'A projector is a plain function taking (jsonb) or (text, jsonb), or (text[], jsonb[]) for a set projector.';
    END IF;
    IF fn.proretset THEN
        RAISE EXCEPTION 'projector % returns a set', projector USING ERRCODE = 'wrong_object_type',
            HINT = 'A projector''s result is ignored; declare it RETURNS void.';
    END IF;
    IF NOT (fn.pronargs = 1 AND fn.arg1 = 'jsonb'::regtype
            OR fn.pronargs = 2 AND fn.arg1 = 'text'::regtype AND fn.arg2 = 'jsonb'::regtype
            OR fn.pronargs = 2 AND fn.arg1 = 'text[]'::regtype AND fn.arg2 = 'jsonb[]'::regtype) THEN
        RAISE EXCEPTION 'projector % has no matching signature', projector USING ERRCODE = 'datatype_mismatch',
            DETAIL = 'A projector takes (jsonb) or (text, jsonb), the event id and its payload, or (text[], jsonb[]) for the whole batch.';
    END IF;
    IF fn.pronamespace = pg_my_temp_schema() THEN
        RAISE EXCEPTION 'projector % is a temporary function', projector USING ERRCODE = 'feature_not_supported',
            HINT = 'The projection worker runs in a session of its own: register a function of a permanent schema.';
    END IF;
    IF NOT has_function_privilege(projector, 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied for function %', projector USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'The projection worker calls the projector as the role that registers the handler.';
    END IF;

    -- The source: a permanent table the caller may read and put triggers on.
    SELECT c.relkind, c.relpersistence INTO rel FROM pg_class c WHERE c.oid = source;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation with OID % does not exist', source::oid USING ERRCODE = 'undefined_table';
    END IF;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', source USING ERRCODE = 'wrong_object_type',
            DETAIL = 'Events are read from a table or a partitioned table.';
    END IF;
    IF rel.relpersistence = 't' THEN
        RAISE EXCEPTION 'table % is temporary', source USING ERRCODE = 'feature_not_supported',
            HINT = 'The projection worker runs in a session of its own: register a permanent table.';
    END IF;
    -- Citus runs no triggers on distributed tables: the worker finds an
    -- async handler's events by its poll (projection_offset.worker_naptime)
    -- instead of being woken, and inline mode cannot run there.
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p'
                ' WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1)' INTO distributed USING source;
    END IF;
    IF distributed AND mode = 'inline' THEN
        RAISE EXCEPTION 'inline mode is not supported on distributed table %', source
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Register the handler in async mode: the projection worker reads distributed tables.';
    END IF;
    IF NOT has_table_privilege(source, 'TRIGGER') THEN
        RAISE EXCEPTION 'permission denied for table %', source USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'Registering a handler creates a trigger on its source, which needs the TRIGGER privilege.';
    END IF;
    IF NOT has_table_privilege(source, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for table %', source USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'The role that registers a handler must be able to read its events.';
    END IF;

    -- The columns: they exist; the payload is jsonb; the position an
    -- integer that is never NULL, drawn from a sequence without a cache.
    FOREACH arg SLICE 1 IN ARRAY ARRAY[['id_column', id_column], ['type_column', type_column],
                                       ['payload_column', payload_column], ['position_column', position_column]] LOOP
        SELECT a.attnum, a.atttypid, a.attnotnull, format_type(a.atttypid, a.atttypmod) AS type_name INTO col
          FROM pg_attribute a
         WHERE a.attrelid = source AND a.attname = arg[2] AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" of table % does not exist', arg[2], source USING ERRCODE = 'undefined_column',
                HINT = format('Name the column with the argument %s.', arg[1]);
        END IF;
        IF arg[1] = 'payload_column' AND col.atttypid <> 'jsonb'::regtype THEN
            RAISE EXCEPTION 'payload column "%" of table % is of type %, not jsonb', arg[2], source, col.type_name
                USING ERRCODE = 'datatype_mismatch';
        END IF;
        IF arg[1] = 'position_column' THEN
            IF col.atttypid NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
                RAISE EXCEPTION 'position column "%" of table % is of type %, not an integer type', arg[2], source, col.type_name
                    USING ERRCODE = 'datatype_mismatch',
                          HINT = 'Use a bigint column drawn from a sequence, such as bigserial or GENERATED ALWAYS AS IDENTITY.';
            END IF;
            IF NOT col.attnotnull THEN
                RAISE EXCEPTION 'position column "%" of table % is not declared NOT NULL', arg[2], source
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = 'An event without a position would never be applied by the projection worker.';
            END IF;
            -- The sequences behind the column: its identity or serial
            -- sequence, and any sequence its default draws from.
            FOR seq IN
                SELECT s.seqrelid::regclass AS name, s.seqcache
                  FROM pg_sequence s
                 WHERE s.seqrelid = pg_get_serial_sequence(source::text, arg[2])::regclass
                    OR s.seqrelid IN (SELECT d.refobjid FROM pg_attrdef ad
                                        JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
                                                        AND d.refclassid = 'pg_class'::regclass
                                       WHERE ad.adrelid = source AND ad.adnum = col.attnum)
            LOOP
                IF seq.seqcache > 1 THEN
                    RAISE EXCEPTION 'sequence % of position column "%" of table % has CACHE %', seq.name, arg[2], source, seq.seqcache
                        USING ERRCODE = 'invalid_parameter_value',
                              DETAIL = 'With a cache, a session can draw a position below one already committed by another session, and the projection worker would skip that event.',
                              HINT = format('Run ALTER SEQUENCE %s CACHE 1 first.', seq.name);
                END IF;
            END LOOP;
        END IF;
    END LOOP;

    SELECT quote_ident(n.nspname) INTO ext
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'projection_offset';
    -- Registrations and unregistrations of one source take turns, so that
    -- an unregistration never drops a trigger that a registration
    -- committing meanwhile relies on.
    PERFORM pg_advisory_xact_lock(hashtext('projection_offset_handler'), (source::oid::bigint - 2147483648)::integer);

    -- The projector is kept as its schema-qualified signature, resolved at
    -- each use; run_as is the registering role.
    EXECUTE format('INSERT INTO %s.projection_offset_handler (handler_name, projector, source, id_column,'
                   ' type_column, payload_column, position_column, event_types, mode, on_error,'
                   ' max_attempts, batch_size, run_as)'
                   ' VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)'
                   ' ON CONFLICT (handler_name) DO NOTHING', ext)
        USING handler_name, projector::text, source, id_column, type_column, payload_column, position_column,
              event_types, mode, on_error, max_attempts, batch_size,
              (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user)::regrole;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted = 0 THEN
        RAISE EXCEPTION 'projection handler "%" already exists', handler_name USING ERRCODE = 'duplicate_object',
            HINT = 'Unregister it first with projection_unregister(), or choose another name.';
    END IF;

    -- The trigger its mode needs, unless an earlier handler created it.
    IF mode = 'async' THEN
        trigger_name := 'projection_offset_wake';
        trigger_function := format('%s._projection_offset_wake()', ext)::regprocedure;
    ELSE
        trigger_name := 'projection_offset_inline';
        trigger_function := format('%s._projection_offset_inline()', ext)::regprocedure;
    END IF;
    SELECT t.tgfoid INTO existing FROM pg_trigger t WHERE t.tgrelid = source AND t.tgname = trigger_name;
    IF distributed THEN
        NULL;
    ELSIF NOT FOUND THEN
        IF mode = 'async' THEN
            EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s FOR EACH STATEMENT EXECUTE FUNCTION %s',
                           trigger_name, source, trigger_function);
        ELSE
            EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS projection_offset_new'
                           ' FOR EACH STATEMENT EXECUTE FUNCTION %s', trigger_name, source, trigger_function);
        END IF;
    ELSIF existing <> trigger_function THEN
        RAISE EXCEPTION 'trigger "%" for relation % already exists', trigger_name, source
            USING ERRCODE = 'duplicate_object',
                  DETAIL = format('It calls %s, not %s.', existing::regprocedure, trigger_function),
                  HINT = 'Rename or drop that trigger: the extension names its own triggers so.';
    END IF;
END
$register$;

COMMENT ON FUNCTION @extschema@.projection_register(text, regprocedure, regclass, text, text, text, text, text[], text, text, integer, integer) IS
    'registers a handler: its projector applies the events of source, in the appending transaction (inline) or by the projection worker (async)';

-- Forgets a handler: its registration, its dead letters and the triggers
-- no other handler of its source needs. Its offsets stay.
CREATE FUNCTION @extschema@.projection_unregister(handler_name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $unregister$
DECLARE
    ext text;
    src regclass;
    gone_mode text;
    remaining boolean;
    trigger_name text;
    trigger_function regprocedure;
BEGIN
    IF handler_name IS NULL THEN
        RAISE EXCEPTION 'handler_name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT quote_ident(n.nspname) INTO ext
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'projection_offset';
    EXECUTE format('SELECT h.source FROM %s.projection_offset_handler h WHERE h.handler_name = $1', ext)
       INTO src USING handler_name;
    IF src IS NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('projection_offset_handler'), (src::oid::bigint - 2147483648)::integer);
    EXECUTE format('DELETE FROM %s.projection_offset_handler h WHERE h.handler_name = $1 RETURNING h.source, h.mode', ext)
       INTO src, gone_mode USING handler_name;
    IF src IS NULL THEN
        RETURN false;  -- unregistered by another transaction meanwhile
    END IF;
    EXECUTE format('DELETE FROM %s.projection_offset_dead_letter d WHERE d.handler_name = $1', ext) USING handler_name;

    -- A source dropped since keeps no trigger to drop.
    IF EXISTS (SELECT FROM pg_class c WHERE c.oid = src) THEN
        EXECUTE format('SELECT EXISTS (SELECT FROM %s.projection_offset_handler h WHERE h.source = $1 AND h.mode = $2)', ext)
           INTO remaining USING src, gone_mode;
        IF NOT remaining THEN
            IF gone_mode = 'async' THEN
                trigger_name := 'projection_offset_wake';
                trigger_function := format('%s._projection_offset_wake()', ext)::regprocedure;
            ELSE
                trigger_name := 'projection_offset_inline';
                trigger_function := format('%s._projection_offset_inline()', ext)::regprocedure;
            END IF;
            IF EXISTS (SELECT FROM pg_trigger t
                        WHERE t.tgrelid = src AND t.tgname = trigger_name AND t.tgfoid = trigger_function) THEN
                EXECUTE format('DROP TRIGGER %I ON %s', trigger_name, src);
            END IF;
        END IF;
    END IF;
    RETURN true;
END
$unregister$;

COMMENT ON FUNCTION @extschema@.projection_unregister(text) IS
    'forgets a handler, its dead letters and the triggers its source no longer needs, keeping its offsets; false if it was not registered';

CREATE FUNCTION @extschema@.projection_pause(handler_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $pause$
DECLARE
    ext text;
    found_it boolean;
BEGIN
    IF handler_name IS NULL THEN
        RAISE EXCEPTION 'handler_name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT quote_ident(n.nspname) INTO ext
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'projection_offset';
    EXECUTE format('UPDATE %s.projection_offset_handler h SET state = ''paused'''
                   ' WHERE h.handler_name = $1 RETURNING true', ext)
       INTO found_it USING handler_name;
    IF found_it IS NULL THEN
        RAISE EXCEPTION 'projection handler "%" does not exist', handler_name USING ERRCODE = 'undefined_object';
    END IF;
END
$pause$;

COMMENT ON FUNCTION @extschema@.projection_pause(text) IS
    'stops applying a handler''s events (inline and by the worker) until projection_resume';

-- A paused or stopped handler runs again; one paused or stopped during a
-- rebuild that has not reached its target goes on rebuilding. A stopped
-- handler's attempts start again from zero, at once.
CREATE FUNCTION @extschema@.projection_resume(handler_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $resume$
DECLARE
    ext text;
    found_it boolean;
BEGIN
    IF handler_name IS NULL THEN
        RAISE EXCEPTION 'handler_name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT quote_ident(n.nspname) INTO ext
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'projection_offset';
    EXECUTE format('UPDATE %s.projection_offset_handler h'
                   ' SET state = CASE WHEN h.state IN (''running'', ''rebuilding'') THEN h.state'
                   '                  WHEN h.rebuild_target IS NOT NULL'
                   '                   AND (h."position" IS NULL OR h."position" < h.rebuild_target) THEN ''rebuilding'''
                   '                  ELSE ''running'' END,'
                   '     attempts = CASE WHEN h.state = ''stopped'' THEN 0 ELSE h.attempts END,'
                   '     next_attempt_at = CASE WHEN h.state = ''stopped'' THEN NULL ELSE h.next_attempt_at END'
                   ' WHERE h.handler_name = $1 RETURNING true', ext)
       INTO found_it USING handler_name;
    IF found_it IS NULL THEN
        RAISE EXCEPTION 'projection handler "%" does not exist', handler_name USING ERRCODE = 'undefined_object';
    END IF;
END
$resume$;

COMMENT ON FUNCTION @extschema@.projection_resume(text) IS
    'runs a paused or stopped handler again; a stopped one retries its failing event at once';

-- Replays a handler from the start of its source. The read model is the
-- caller's to clear, in the same transaction.
CREATE FUNCTION @extschema@.projection_rebuild(handler_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $rebuild$
DECLARE
    ext text;
    src regclass;
    pos_column text;
    target bigint;
BEGIN
    IF handler_name IS NULL THEN
        RAISE EXCEPTION 'handler_name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT quote_ident(n.nspname) INTO ext
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'projection_offset';
    -- The row lock waits for a batch of the worker in flight.
    EXECUTE format('SELECT h.source, h.position_column FROM %s.projection_offset_handler h'
                   ' WHERE h.handler_name = $1 FOR UPDATE', ext)
       INTO src, pos_column USING handler_name;
    IF src IS NULL THEN
        RAISE EXCEPTION 'projection handler "%" does not exist', handler_name USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = src) THEN
        RAISE EXCEPTION 'source table of projection handler "%" does not exist', handler_name
            USING ERRCODE = 'undefined_table', HINT = 'Unregister the handler.';
    END IF;
    EXECUTE format('SELECT max(e.%I)::bigint FROM %s e', pos_column, src) INTO target;
    EXECUTE format('SELECT %s.offset_reset($1)', ext) USING handler_name;
    EXECUTE format('DELETE FROM %s.projection_offset_dead_letter d WHERE d.handler_name = $1', ext) USING handler_name;
    -- Nothing to replay in an empty source: the handler runs at once.
    EXECUTE format('UPDATE %s.projection_offset_handler h'
                   ' SET "position" = NULL, rebuild_target = $2,'
                   '     state = CASE WHEN $2 IS NULL THEN ''running'' ELSE ''rebuilding'' END,'
                   '     behind_since = NULL, error_event = NULL, error_position = NULL, attempts = 0,'
                   '     next_attempt_at = NULL, last_error = NULL'
                   ' WHERE h.handler_name = $1', ext)
        USING handler_name, target;
END
$rebuild$;

COMMENT ON FUNCTION @extschema@.projection_rebuild(text) IS
    'forgets a handler''s offsets and dead letters and replays its source from the start up to its current last position';

-- The registered projector, resolved now: NULL when no function has that
-- signature any more. The signature was written with the search_path
-- pinned to pg_catalog, and is read back so, whatever the caller's.
CREATE FUNCTION @extschema@._projection_offset_projector(projector text)
RETURNS regprocedure
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT to_regprocedure(projector) $$;

-- Applies a parked event, or the event a handler fails on, again, in the
-- caller's transaction and as the caller. True if the projector applied it
-- now; false if it was neither parked nor failing, or already applied.
-- It calls the caller's projector, which must see the caller's search_path:
-- this function cannot pin its own, so it names every type, function and
-- operator by schema, as the idempotency harness does.
CREATE FUNCTION @extschema@.projection_retry(handler_name text, event_id text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $retry$
DECLARE
    ext pg_catalog.text;
    h record;
    parked pg_catalog.bool;
    failing pg_catalog.bool;
    id_type pg_catalog.text;
    ev record;
    fn pg_catalog.regprocedure;
    applied pg_catalog.int8;
BEGIN
    IF handler_name IS NULL THEN
        RAISE EXCEPTION 'handler_name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF event_id IS NULL THEN
        RAISE EXCEPTION 'event_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT pg_catalog.quote_ident(n.nspname) INTO ext
      FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
     WHERE e.extname OPERATOR(pg_catalog.=) 'projection_offset';
    EXECUTE pg_catalog.format('SELECT h.handler_name, h.projector, h.source, h.id_column, h.payload_column,'
                              ' h.position_column, h.error_event'
                              ' FROM %s.projection_offset_handler h'
                              ' WHERE h.handler_name OPERATOR(pg_catalog.=) $1 FOR UPDATE', ext)
       INTO h USING handler_name;
    IF h.handler_name IS NULL THEN
        RAISE EXCEPTION 'projection handler "%" does not exist', handler_name USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE pg_catalog.format('SELECT EXISTS (SELECT FROM %s.projection_offset_dead_letter d'
                              ' WHERE d.handler_name OPERATOR(pg_catalog.=) $1'
                              ' AND d.event_id OPERATOR(pg_catalog.=) $2)', ext)
       INTO parked USING handler_name, event_id;
    failing := COALESCE(h.error_event OPERATOR(pg_catalog.=) event_id, false);
    IF NOT parked AND NOT failing THEN
        RETURN false;
    END IF;

    -- The event, read by its id compared in the id column's own type, so
    -- that an index on it serves; the first of its rows if several.
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) h.source) THEN
        RAISE EXCEPTION 'source table of projection handler "%" does not exist', handler_name
            USING ERRCODE = 'undefined_table', HINT = 'Unregister the handler.';
    END IF;
    SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO id_type
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) h.source AND a.attname OPERATOR(pg_catalog.=) h.id_column
       AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
    IF id_type IS NULL THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', h.id_column, h.source
            USING ERRCODE = 'undefined_column';
    END IF;
    -- format_type leaves a type's schema out only when the caller's
    -- search_path finds this very type by its bare name, so the cast names
    -- the column's type under that search_path.
    EXECUTE pg_catalog.format('SELECT e.%1$I::pg_catalog.text AS id, e.%2$I AS payload, e.%3$I::pg_catalog.int8 AS pos'
                              ' FROM %4$s e WHERE e.%1$I OPERATOR(pg_catalog.=) $1::%5$s ORDER BY e.%3$I LIMIT 1',
                              h.id_column, h.payload_column, h.position_column,
                              h.source, id_type)
       INTO ev USING event_id;
    IF ev.id IS NULL THEN
        RAISE EXCEPTION 'event "%" of projection handler "%" is not in table %', event_id, handler_name,
                        h.source
            USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE pg_catalog.format('SELECT %s._projection_offset_projector($1)', ext) INTO fn USING h.projector;
    IF fn IS NULL THEN
        RAISE EXCEPTION 'projector function % of projection handler "%" does not exist', h.projector, handler_name
            USING ERRCODE = 'undefined_function';
    END IF;
    EXECUTE pg_catalog.format('SELECT %s.apply_with_offset_batch($1, $2, $3)', ext)
       INTO applied
       USING handler_name, fn,
             pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('event_id', ev.id, 'payload', ev.payload,
                                                                        'position', ev.pos));

    EXECUTE pg_catalog.format('DELETE FROM %s.projection_offset_dead_letter d'
                              ' WHERE d.handler_name OPERATOR(pg_catalog.=) $1 AND d.event_id OPERATOR(pg_catalog.=) $2', ext)
        USING handler_name, event_id;
    IF failing THEN
        EXECUTE pg_catalog.format('UPDATE %s.projection_offset_handler h'
                                  ' SET error_event = NULL, error_position = NULL, attempts = 0, next_attempt_at = NULL,'
                                  '     last_error = NULL,'
                                  '     state = CASE WHEN h.state OPERATOR(pg_catalog.=) ''stopped'' THEN ''running'' ELSE h.state END'
                                  ' WHERE h.handler_name OPERATOR(pg_catalog.=) $1', ext)
            USING handler_name;
    END IF;
    RETURN applied OPERATOR(pg_catalog.>) 0;
END
$retry$;

COMMENT ON FUNCTION @extschema@.projection_retry(text, text) IS
    'applies a parked event, or the event a handler stopped on, in the caller''s transaction; true if applied now';

-- The events of a handler's source after its cursor (of its types), for
-- the status view: NULL for no handler, a source gone or changed, or a
-- caller who may not read the source. It counts rows: cheap with an index
-- on the position and a handler close to the end.
CREATE FUNCTION @extschema@._projection_offset_lag(source regclass, position_column text, type_column text,
                                                   event_types text[], after bigint)
RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $lag$
DECLARE
    n bigint;
BEGIN
    IF source IS NULL OR has_table_privilege(source, 'SELECT') IS NOT TRUE THEN
        RETURN NULL;
    END IF;
    SELECT count(DISTINCT a.attname) INTO n FROM pg_attribute a
     WHERE a.attrelid = source AND a.attname IN (position_column, type_column)
       AND a.attnum > 0 AND NOT a.attisdropped;
    IF n < 2 AND position_column <> type_column THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT count(*) FROM %s e WHERE true', source)
            || CASE WHEN after IS NULL THEN '' ELSE format(' AND e.%I > $1', position_column) END
            || CASE WHEN event_types IS NULL THEN '' ELSE format(' AND e.%I::text = ANY ($2)', type_column) END
       INTO n USING after, event_types;
    RETURN n;
END
$lag$;

-- The status view gains, at the end, the registered handlers' state,
-- cursor and lag, and their last error.
CREATE OR REPLACE VIEW @extschema@.projection_offset_status AS
SELECT COALESCE(o."handlerName", c."handlerName", h.handler_name) AS handler_name,
       COALESCE(o.offsets, 0) AS offsets,
       o.first_applied_at,
       o.last_applied_at,
       c."position" AS checkpoint,
       h.state,
       h."position",
       @extschema@._projection_offset_lag(h.source, h.position_column, h.type_column, h.event_types, h."position") AS lag_events,
       CASE WHEN h.handler_name IS NULL THEN NULL
            WHEN h.behind_since IS NULL THEN 0
            ELSE extract(epoch FROM now() - h.behind_since) END AS lag_seconds,
       h.last_error
FROM (SELECT "handlerName", count(*) AS offsets,
             min("appliedAt") AS first_applied_at, max("appliedAt") AS last_applied_at
      FROM @extschema@.projection_offset GROUP BY "handlerName") o
FULL JOIN @extschema@.projection_offset_checkpoint c ON c."handlerName" = o."handlerName"
FULL JOIN @extschema@.projection_offset_handler h ON h.handler_name = COALESCE(o."handlerName", c."handlerName");

COMMENT ON VIEW @extschema@.projection_offset_status IS
    'per handler: offsets recorded, first and last appliedAt, checkpoint; for registered handlers, state, cursor, lag and last error';

-- Privileges. Managing projections is for the extension's owner and the
-- roles it grants EXECUTE (revoked from PUBLIC here) and the rights on what
-- each function reads and writes (docs/reference.md, Privileges):
-- projection_offset_handler, projection_offset_dead_letter, the source
-- (registering needs TRIGGER and SELECT on it, and EXECUTE on the
-- projector; dropping the last trigger of a mode needs its ownership), and
-- offset_reset's for a rebuild. The trigger functions keep EXECUTE for
-- PUBLIC: CREATE TRIGGER checks it for the registering role.
REVOKE ALL ON FUNCTION @extschema@.projection_register(text, regprocedure, regclass, text, text, text, text, text[], text, text, integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.projection_unregister(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.projection_pause(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.projection_resume(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.projection_rebuild(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.projection_retry(text, text) FROM PUBLIC;
