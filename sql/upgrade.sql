-- ALTER EXTENSION projection_offset UPDATE along the chain 1.0 -> 1.1 -> 1.2
-- keeps every offset and gives the same objects, with the same privileges,
-- as a fresh install.

-- Every object of the extension, with, for functions, the symbol,
-- volatility, parallel safety, security, strictness and privileges.
CREATE FUNCTION pg_temp.extension_objects(OUT object text, OUT acl text, OUT definition text)
RETURNS SETOF record LANGUAGE sql AS $$
SELECT pg_describe_object(d.classid, d.objid, 0),
       p.proacl::text,
       concat_ws(' ', p.prosrc, p.provolatile, p.proparallel, p.prosecdef, p.proisstrict)
FROM pg_depend d
LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'projection_offset')
  AND d.deptype = 'e'
$$;
CREATE TEMP TABLE fresh_objects AS SELECT * FROM pg_temp.extension_objects();

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

ALTER EXTENSION projection_offset UPDATE;
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

-- The same objects as a fresh install, none missing and none extra, and
-- every function alike.
SELECT * FROM fresh_objects EXCEPT SELECT * FROM pg_temp.extension_objects() ORDER BY 1;
SELECT * FROM pg_temp.extension_objects() EXCEPT SELECT * FROM fresh_objects ORDER BY 1;
SELECT count(*) > 20 AS many_objects, count(acl) > 3 AS some_acls FROM fresh_objects;
SELECT has_function_privilege('public', 'offset_reset(text)', 'EXECUTE') AS public_may_reset;
