/* projection_offset--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION projection_offset" to load this file. \quit

-- The offset table, in the shape an application's own migration gives it
-- (the Prisma model "ProjectionOffset"), so that such an application keeps
-- reading and writing it unchanged. When the caller already owns a table of
-- exactly this shape in the target schema, the extension adopts it with its
-- rows instead of failing; any other table of that name is an error.
DO $adopt$
DECLARE
    existing pg_catalog.regclass := pg_catalog.to_regclass('@extschema@.projection_offset');
    shape text;
BEGIN
    IF existing IS NULL THEN
        CREATE TABLE @extschema@.projection_offset (
            "eventId" text NOT NULL,
            "handlerName" text NOT NULL,
            "appliedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
            "payloadHash" text,
            CONSTRAINT "projection_offset_pkey" PRIMARY KEY ("eventId", "handlerName")
        );
    ELSE
        -- Columns, types, NOT NULL, defaults and collations: a missing
        -- default would fail every claim, and another collation could make
        -- distinct ids equal.
        SELECT pg_catalog.string_agg(a.attname OPERATOR(pg_catalog.||) ' '
                   OPERATOR(pg_catalog.||) pg_catalog.format_type(a.atttypid, a.atttypmod)
                   OPERATOR(pg_catalog.||) CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                   OPERATOR(pg_catalog.||) COALESCE(' default ' OPERATOR(pg_catalog.||) pg_catalog.pg_get_expr(d.adbin, d.adrelid), '')
                   OPERATOR(pg_catalog.||) CASE WHEN a.attcollation OPERATOR(pg_catalog.=) ANY ('{0,100}'::pg_catalog.oid[]) THEN ''
                                                ELSE ' collate ' OPERATOR(pg_catalog.||) a.attcollation::pg_catalog.regcollation::pg_catalog.text END,
                   ', ' ORDER BY a.attnum)
          INTO shape
          FROM pg_catalog.pg_attribute a
          LEFT JOIN pg_catalog.pg_attrdef d
            ON d.adrelid OPERATOR(pg_catalog.=) a.attrelid AND d.adnum OPERATOR(pg_catalog.=) a.attnum
         WHERE a.attrelid OPERATOR(pg_catalog.=) existing
           AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;

        -- A permanent table: an unlogged one would lose offsets in a crash.
        IF (shape OPERATOR(pg_catalog.=) 'eventId text not null, handlerName text not null, '
                                        'appliedAt timestamp(3) without time zone not null default CURRENT_TIMESTAMP, '
                                        'payloadHash text') IS NOT TRUE
           OR (SELECT c.relpersistence FROM pg_catalog.pg_class c
                WHERE c.oid OPERATOR(pg_catalog.=) existing) OPERATOR(pg_catalog.<>) 'p'
           OR NOT EXISTS (
                SELECT FROM pg_catalog.pg_class c
                  JOIN pg_catalog.pg_index i ON i.indrelid OPERATOR(pg_catalog.=) c.oid
                  JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid
                 WHERE c.oid OPERATOR(pg_catalog.=) existing
                   AND c.relkind OPERATOR(pg_catalog.=) 'r'
                   AND i.indisprimary
                   AND ic.relname OPERATOR(pg_catalog.=) 'projection_offset_pkey'
                   AND i.indnkeyatts OPERATOR(pg_catalog.=) 2
                   AND i.indkey[0] OPERATOR(pg_catalog.=) 1
                   AND i.indkey[1] OPERATOR(pg_catalog.=) 2)
        THEN
            RAISE EXCEPTION 'table %.projection_offset exists and does not have the shape of an offset table', '@extschema@'
                USING ERRCODE = 'duplicate_table',
                      DETAIL = pg_catalog.format('Its columns are: %s.%s', shape,
                          CASE WHEN (SELECT c.relpersistence FROM pg_catalog.pg_class c
                                      WHERE c.oid OPERATOR(pg_catalog.=) existing) OPERATOR(pg_catalog.=) 'p'
                               THEN '' ELSE ' It is not a permanent (logged) table.' END),
                      HINT = 'Rename or drop it, or give it the columns, primary key and types of the projection_offset migration.';
        END IF;
        -- Ownership itself, not membership: a superuser must not adopt a
        -- table that another role could still alter under the extension.
        IF (SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c
             WHERE c.oid OPERATOR(pg_catalog.=) existing) OPERATOR(pg_catalog.<>) CURRENT_USER THEN
            RAISE EXCEPTION 'table %.projection_offset is not owned by the installing role', '@extschema@'
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Have the table''s owner create the extension, or change the table''s owner first.';
        END IF;
        IF EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgrelid OPERATOR(pg_catalog.=) existing)
           OR EXISTS (SELECT FROM pg_catalog.pg_rewrite WHERE ev_class OPERATOR(pg_catalog.=) existing) THEN
            RAISE EXCEPTION 'table %.projection_offset has triggers or rules', '@extschema@'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Drop them before creating the extension: they would run inside every claim.';
        END IF;
        ALTER EXTENSION projection_offset ADD TABLE @extschema@.projection_offset;
    END IF;

    -- Handler-scoped scans for reconciliation, as in the migration.
    IF pg_catalog.to_regclass('@extschema@."projection_offset_handlerName_appliedAt_idx"') IS NULL THEN
        CREATE INDEX "projection_offset_handlerName_appliedAt_idx"
            ON @extschema@.projection_offset ("handlerName", "appliedAt" DESC);
    END IF;
END
$adopt$;

COMMENT ON TABLE @extschema@.projection_offset IS
    'one row per (eventId, handlerName) applied; written by offset_claim and apply_with_offset';

-- The rows are user data: pg_dump must dump them although the table belongs
-- to the extension.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.projection_offset', '');

CREATE FUNCTION @extschema@.offset_claim(event_id text, handler_name text, payload_hash text DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'po_offset_claim'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;

COMMENT ON FUNCTION @extschema@.offset_claim(text, text, text) IS
    'records (event_id, handler_name) in the current transaction; true if recorded now, false for a re-delivery';

CREATE FUNCTION @extschema@.offset_claim(event_ids text[], handler_name text)
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'po_offset_claim_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER ROWS 100;

COMMENT ON FUNCTION @extschema@.offset_claim(text[], text) IS
    'records every id not yet recorded for handler_name; returns the ids recorded by this call';

CREATE FUNCTION @extschema@.apply_with_offset(event_id text, handler_name text, projector regprocedure, payload jsonb DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'po_apply_with_offset'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;

COMMENT ON FUNCTION @extschema@.apply_with_offset(text, text, regprocedure, jsonb) IS
    'claims (event_id, handler_name) and calls projector in the same transaction; false for a re-delivery';
