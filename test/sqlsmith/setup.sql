-- The database SQLsmith runs against: the extension, projectors of every
-- kind, tables of sample arguments (well-formed and hostile) for the
-- generator to draw from, a role to run as, and the schema sqlsmith_focus,
-- whose pg_proc view narrows the routines SQLsmith knows to the
-- extension's and a few that build arguments for them.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION projection_offset;

-- Projectors. Lower-case names throughout: SQLsmith does not quote identifiers.
CREATE TABLE smith_sink (event_id text, payload jsonb, seen_at timestamptz DEFAULT now());
CREATE FUNCTION smith_sql(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO public.smith_sink (event_id, payload) VALUES (event_id, payload) $$;
CREATE FUNCTION smith_payload(payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO public.smith_sink (payload) VALUES (payload) $$;
CREATE FUNCTION smith_plpgsql(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF payload ? 'fail' THEN
        RAISE EXCEPTION 'projector refused %', event_id USING ERRCODE = 'data_exception';
    END IF;
    INSERT INTO public.smith_sink (event_id, payload) VALUES (event_id, payload);
END
$$;
CREATE FUNCTION smith_strict(event_id text, payload jsonb) RETURNS void STRICT
LANGUAGE sql AS $$ INSERT INTO public.smith_sink (event_id, payload) VALUES (event_id, payload) $$;
CREATE FUNCTION smith_set(event_ids text[], payloads jsonb[]) RETURNS void
LANGUAGE sql AS $$ INSERT INTO public.smith_sink (event_id, payload) SELECT * FROM unnest(event_ids, payloads) $$;
-- A projector that applies a further event with itself.
CREATE FUNCTION smith_nested(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF length(event_id) < 40 THEN
        PERFORM public.apply_with_offset(event_id || '-nested', 'smith-nested',
                                         'public.smith_nested(text,jsonb)'::regprocedure, payload);
    END IF;
END
$$;
CREATE PROCEDURE smith_procedure(event_id text, payload jsonb) LANGUAGE sql AS $$ SELECT $$;

-- Sample arguments.
CREATE TABLE smith_args (
    event_id text, handler text, payload jsonb, event_position bigint, hash text,
    projector regprocedure, events jsonb, ids text[], older_than timestamptz);
INSERT INTO smith_args VALUES
    ('e-1', 'h-1', '{"n": 1}', 1, encode(sha256('x'), 'hex'), 'smith_sql(text,jsonb)',
     '[{"event_id": "e-1", "payload": {"n": 1}}, {"event_id": "e-2", "payload": {"n": 2}, "position": 2}]',
     ARRAY['e-1', 'e-2', 'e-1'], now()),
    ('e-2', 'h-2', '{"fail": true}', 9223372036854775807, 'not-a-sha', 'smith_plpgsql(text,jsonb)',
     '[{"event_id": "e-3", "payload": {"fail": true}}]', ARRAY['e-3'], 'infinity'),
    ('', '', 'null', -9223372036854775808, '', 'smith_strict(text,jsonb)',
     '[{"event_id": "s-1"}, {"event_id": "s-2", "payload": null}]', ARRAY[''], '-infinity'),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (repeat('x', 2000), repeat('h', 300), jsonb_build_object('big', repeat('y', 5000)), 0, repeat('z', 200),
     'smith_set(text[],jsonb[])',
     (SELECT jsonb_agg(jsonb_build_object('event_id', 'b-' || g, 'payload', g, 'position', g)) FROM generate_series(1, 500) g),
     ARRAY(SELECT 'b-' || g FROM generate_series(1, 500) g), now() - interval '1 day'),
    ('é漢😀', 'ハンドラ', '{"text": "é漢😀"}', 3, 'h', 'smith_payload(jsonb)',
     '[{"event_id": "é漢😀", "payload": 1}, {"event_id": "é漢😀", "payload": 2}]', ARRAY['é漢😀', NULL], now()),
    ('nested', 'smith-nested', '{}', 4, NULL, 'smith_nested(text,jsonb)',
     '[1, "x", {"id": "no event_id"}, {"event_id": 5}, {"event_id": "p", "position": 1.5}]', ARRAY[]::text[], now()),
    ('wrong', 'h-3', '[1, 2]', 5, NULL, 'lower(text)', '{"not": "an array"}', ARRAY[ARRAY['a'], ARRAY['b']], now()),
    ('proc', 'h-4', '"scalar"', 6, NULL, 'smith_procedure(text,jsonb)', '[]', ARRAY['p'], now()),
    ('agg', 'h-5', '{}', 7, NULL, 'count("any")', '[{"event_id": "a"}]', ARRAY['a'], now());
SELECT offset_claim('e-1', 'h-1', encode(sha256('x'), 'hex')), offset_claim_at('e-2', 'h-2', 2),
       offset_checkpoint('h-2', 1);

-- The role SQLsmith runs as: no superuser, every right on the extension.
CREATE ROLE po_smith LOGIN;
GRANT pg_read_all_stats TO po_smith;
GRANT SELECT, INSERT, UPDATE, DELETE ON projection_offset, projection_offset_checkpoint,
    projection_offset_position, smith_sink, smith_args TO po_smith;
GRANT SELECT ON projection_offset_status TO po_smith;
GRANT EXECUTE ON FUNCTION offset_reset(text), offset_prune(text, timestamptz), offset_prune(text),
    projection_offset_counters_reset() TO po_smith;

-- SQLsmith reads "pg_proc" and "pg_attribute" unqualified: with
-- sqlsmith_focus first in its search_path it sees these views instead.
-- The first narrows the routines it knows, so that its queries call the
-- extension's functions (and the projectors) often, not once in a few
-- thousand catalog functions; the second gives it column names quoted as
-- needed ("eventId"), since it does not quote identifiers itself.
CREATE SCHEMA sqlsmith_focus;
GRANT USAGE ON SCHEMA sqlsmith_focus TO po_smith;
CREATE VIEW sqlsmith_focus.pg_proc AS
SELECT p.* FROM pg_catalog.pg_proc p
WHERE p.pronamespace = 'public'::regnamespace
   OR p.proname IN ('jsonb_build_object', 'jsonb_build_array', 'to_jsonb', 'jsonb_set', 'jsonb_agg',
                    'jsonb_object_agg', 'array_agg', 'array_append', 'string_to_array', 'to_regprocedure',
                    'repeat', 'concat', 'md5', 'chr', 'upper', 'encode', 'sha256', 'convert_to',
                    'count', 'max', 'min', 'now', 'int8', 'text', 'length');
CREATE VIEW sqlsmith_focus.pg_attribute AS
SELECT a.attrelid, pg_catalog.quote_ident(a.attname)::pg_catalog.name AS attname, a.atttypid, a.attisdropped,
       a.attnum
FROM pg_catalog.pg_attribute a;
GRANT SELECT ON sqlsmith_focus.pg_proc, sqlsmith_focus.pg_attribute TO po_smith;
