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

-- REGISTRY FUNCTIONS (projection_register, projection_unregister,
-- projection_pause, projection_resume, projection_rebuild, projection_retry,
-- the inline trigger function and the status view) follow here.
