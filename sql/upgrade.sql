-- ALTER EXTENSION projection_offset UPDATE along the chain 1.0 -> 1.1 ->
-- 1.2 -> 1.3 keeps every offset and gives the same objects, with the same
-- privileges, as a fresh install.

-- Every object of the extension, with, for functions, the symbol (or the
-- body), volatility, parallel safety, security, strictness, settings and
-- privileges; for tables and views, the columns (type, NOT NULL, default),
-- constraints, indexes, view definition and privileges.
CREATE FUNCTION pg_temp.extension_objects(OUT object text, OUT acl text, OUT definition text)
RETURNS SETOF record LANGUAGE sql AS $$
SELECT pg_describe_object(d.classid, d.objid, 0),
       -- No ACL and the owner's default ACL written out (as REVOKE leaves
       -- it) grant the same.
       COALESCE(p.proacl, acldefault('f', p.proowner), c.relacl, acldefault('r', c.relowner))::text,
       CASE WHEN p.oid IS NOT NULL
            THEN concat_ws(' ', p.prosrc, p.provolatile, p.proparallel, p.prosecdef, p.proisstrict, p.proconfig)
            WHEN c.oid IS NOT NULL
            THEN concat_ws(' | ',
                    (SELECT string_agg(concat_ws(' ', a.attname, format_type(a.atttypid, a.atttypmod),
                                                 CASE WHEN a.attnotnull THEN 'not null' END,
                                                 pg_get_expr(ad.adbin, ad.adrelid)), ', ' ORDER BY a.attnum)
                     FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
                    (SELECT string_agg(n.conname || ' ' || pg_get_constraintdef(n.oid), ', ' ORDER BY n.conname)
                     FROM pg_constraint n WHERE n.conrelid = c.oid),
                    (SELECT string_agg(pg_get_indexdef(i.indexrelid), ', ' ORDER BY i.indexrelid::regclass::text)
                     FROM pg_index i WHERE i.indrelid = c.oid),
                    CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END) END
FROM pg_depend d
LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'projection_offset')
  AND d.deptype = 'e'
$$;
-- The tables whose rows pg_dump dumps.
CREATE FUNCTION pg_temp.config_tables() RETURNS text[] LANGUAGE sql AS $$
SELECT array_agg(t::regclass::text ORDER BY t::regclass::text)
FROM pg_extension e, unnest(e.extconfig) t WHERE e.extname = 'projection_offset'
$$;
CREATE TEMP TABLE fresh_objects AS SELECT * FROM pg_temp.extension_objects();
CREATE TEMP TABLE fresh_config AS SELECT pg_temp.config_tables() AS tables;

DROP EXTENSION projection_offset;
CREATE EXTENSION projection_offset VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'projection_offset';
SELECT offset_claim('u-1', 'upgrade', 'hash-1');
SELECT * FROM offset_claim(ARRAY['u-2', 'u-3'], 'upgrade');

ALTER EXTENSION projection_offset UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'projection_offset';
-- The 1.1 overloads, as applications called them.
SELECT offset_claim('u-4', 'upgrade', 4::bigint);
SELECT offset_checkpoint('upgrade', 10), offset_claim('u-5', 'upgrade', 5::bigint);

ALTER EXTENSION projection_offset UPDATE TO '1.2';
SELECT extversion FROM pg_extension WHERE extname = 'projection_offset';
SELECT "eventId", "payloadHash" FROM projection_offset WHERE "handlerName" = 'upgrade' ORDER BY 1;
SELECT * FROM projection_offset_position WHERE "handlerName" = 'upgrade' ORDER BY 1;
SELECT offset_claim('u-1', 'upgrade', 'hash-1'), offset_claim_at('u-6', 'upgrade', 6),
       offset_claim_at('u-11', 'upgrade', 11);
SELECT * FROM offset_claim_batch(ARRAY['u-2', 'u-12'], 'upgrade');
SELECT handler_name, offsets, checkpoint FROM projection_offset_status WHERE handler_name = 'upgrade';
-- The 1.1 overloads are gone: each call shape has one name.
SELECT to_regprocedure('offset_claim(text,text,bigint,text)') AS claim_at_overload,
       to_regprocedure('offset_claim(text[],text)') AS batch_claim_overload,
       to_regprocedure('apply_with_offset(text,regprocedure,jsonb)') AS batch_apply_overload;

-- 1.3: the registry. The offsets of every earlier version stay; a handler
-- registers, applies inline, and shows in the status view.
ALTER EXTENSION projection_offset UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'projection_offset';
SELECT count(*) AS offsets FROM projection_offset WHERE "handlerName" = 'upgrade';
CREATE TABLE upgrade_events (position bigserial, id text NOT NULL, type text NOT NULL, payload jsonb NOT NULL);
CREATE TABLE upgrade_seen (event_id text);
CREATE FUNCTION upgrade_projector(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO upgrade_seen VALUES (event_id) $$;
SELECT projection_register('upgrade-inline', 'upgrade_projector(text,jsonb)', 'upgrade_events', mode => 'inline');
INSERT INTO upgrade_events (id, type, payload) VALUES ('u-30', 't', '{}'), ('u-31', 't', '{}');
SELECT * FROM upgrade_seen;
SELECT handler_name, offsets, checkpoint, state, "position", lag_events, lag_seconds, last_error
FROM projection_offset_status WHERE handler_name LIKE 'upgrade%' ORDER BY 1;
SELECT projection_unregister('upgrade-inline');
DROP TABLE upgrade_events, upgrade_seen;
DROP FUNCTION upgrade_projector(text, jsonb);

-- The same objects as a fresh install, none missing and none extra, and
-- every function, table and view alike.
SELECT * FROM fresh_objects EXCEPT SELECT * FROM pg_temp.extension_objects() ORDER BY 1;
SELECT * FROM pg_temp.extension_objects() EXCEPT SELECT * FROM fresh_objects ORDER BY 1;
SELECT count(*) > 30 AS many_objects,
       count(*) FILTER (WHERE object LIKE 'function %' AND acl !~ '(^\{|,)=X/') AS not_for_public,
       count(*) FILTER (WHERE (object LIKE 'table %' OR object LIKE 'view %') AND definition LIKE '% | %') AS relations,
       count(*) FILTER (WHERE object LIKE 'function projection\_%') AS projection_functions
FROM fresh_objects;
SELECT tables AS dumped_tables, tables = pg_temp.config_tables() AS same_after_update FROM fresh_config;
SELECT has_function_privilege('public', 'offset_reset(text)', 'EXECUTE') AS public_may_reset;
