-- Installing into a non-default schema, and staying correct when the
-- caller's search_path holds hostile look-alikes.
DROP EXTENSION projection_offset;
CREATE SCHEMA offsets;
CREATE EXTENSION projection_offset SCHEMA offsets;
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname LIKE 'projection_offset%' ORDER BY 2;
SELECT p.oid::regprocedure, p.prosecdef FROM pg_proc p
JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'projection_offset'
ORDER BY p.oid::regprocedure::text COLLATE "C";

-- A hostile schema first on the path: a fake table, a fake "=" operator
-- for text and a fake unnest. None of them may capture the extension's SQL.
CREATE SCHEMA hostile;
CREATE TABLE hostile.projection_offset ("eventId" text PRIMARY KEY, "handlerName" text, "appliedAt" timestamp(3), "payloadHash" text);
CREATE FUNCTION hostile.text_eq(a text, b text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile operator called'; END $$;
CREATE OPERATOR hostile.= (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile.text_eq);
CREATE FUNCTION hostile.unnest(anyarray) RETURNS SETOF anyelement
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile unnest called'; END $$;
CREATE FUNCTION hostile.min(bigint) RETURNS bigint
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile min called'; END $$;
SET search_path = hostile, offsets, pg_catalog;
-- The traps are live: unqualified SQL here would call them.
SELECT 'x'::text = 'x'::text;
SELECT count(*) FROM projection_offset;

SELECT offsets.offset_claim('s-1', 'schema-test', 'h1');
SELECT offsets.offset_claim('s-1', 'schema-test', 'h1');
SELECT offsets.offset_claim('s-1', 'schema-test', 'h2');
SELECT * FROM offsets.offset_claim_batch(ARRAY['s-2', 's-1', 's-3'], 'schema-test');

CREATE TABLE public.schema_hits (event_id text);
CREATE FUNCTION public.hit(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO public.schema_hits VALUES (event_id) $$;
SELECT offsets.apply_with_offset('s-4', 'schema-test', 'public.hit(text,jsonb)', '{"a": 1}');
SELECT offsets.apply_with_offset('s-4', 'schema-test', 'public.hit(text,jsonb)', '{"a": 1}');
SELECT offsets.apply_with_offset('s-4', 'schema-test', 'public.hit(text,jsonb)', '{"a": 2}');

-- The harness too, with look-alike types as well: a text domain whose check
-- would run hostile code.
CREATE FUNCTION hostile.trap(value pg_catalog.text) RETURNS pg_catalog.bool
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile type used'; END $$;
CREATE DOMAIN hostile.text AS pg_catalog.text CHECK (hostile.trap(VALUE));
CREATE DOMAIN hostile.jsonb AS pg_catalog.jsonb CHECK (hostile.trap(VALUE::pg_catalog.text));
CREATE FUNCTION public.claiming(event_id pg_catalog.text, payload pg_catalog.jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN PERFORM offsets.offset_claim(event_id, 'schema-harness'); END $$;
SELECT * FROM offsets.assert_projector_idempotent('public.claiming(pg_catalog.text,pg_catalog.jsonb)',
    '[{"event_id": "s-h1", "payload": {"a": 1}}, {"event_id": "s-h2"}]', 3,
    'SELECT pg_catalog.count(*) FROM public.schema_hits');

-- The registry too: an inline handler applies through the trigger, and a
-- parked event is retried, under the hostile search_path.
CREATE TABLE public.schema_events (position bigserial, id pg_catalog.text NOT NULL,
                                   type pg_catalog.text NOT NULL, payload pg_catalog.jsonb NOT NULL);
SELECT offsets.projection_register('schema-inline', 'public.hit(pg_catalog.text,pg_catalog.jsonb)',
                                   'public.schema_events', event_types => '{t}', mode => 'inline');
INSERT INTO public.schema_events (id, type, payload) VALUES ('s-i1', 't', '{}'), ('s-i2', 'u', '{}');
INSERT INTO offsets.projection_offset_dead_letter
VALUES ('schema-inline', 's-i2', 2, 'XX000', 'parked', NULL, NULL, NULL, 1, pg_catalog.now(), pg_catalog.now());
SELECT offsets.projection_retry('schema-inline', 's-i2');
SELECT handler_name, offsets, state, lag_events FROM offsets.projection_offset_status
WHERE handler_name OPERATOR(pg_catalog.=) 'schema-inline';

RESET search_path;
SELECT count(*) AS hostile_rows FROM hostile.projection_offset;
SELECT "eventId" FROM offsets.projection_offset ORDER BY 1;
SELECT * FROM public.schema_hits;

-- The cached plans follow a schema rename.
ALTER SCHEMA offsets RENAME TO offsets_renamed;
SELECT offsets_renamed.offset_claim('s-5', 'schema-test');
SELECT count(*) FROM offsets_renamed.projection_offset;
-- So does the inline trigger, and the registry functions.
INSERT INTO public.schema_events (id, type, payload) VALUES ('s-i3', 't', '{}');
SELECT * FROM public.schema_hits;
SELECT offsets_renamed.projection_unregister('schema-inline');
DROP TABLE public.schema_events;

-- Back to the default installation for the suites that follow.
DROP EXTENSION projection_offset;
DROP SCHEMA offsets_renamed;
DROP SCHEMA hostile CASCADE;
CREATE EXTENSION projection_offset;
SELECT offset_claim('s-6', 'schema-test');
