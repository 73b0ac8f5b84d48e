-- ALTER EXTENSION projection_offset UPDATE from the first version to the
-- latest keeps every offset and gives the same objects as a fresh install.
CREATE TEMP TABLE fresh_objects AS
SELECT pg_describe_object(classid, objid, 0) AS object
FROM pg_depend WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'projection_offset')
  AND deptype = 'e';

DROP EXTENSION projection_offset;
CREATE EXTENSION projection_offset VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'projection_offset';
SELECT offset_claim('u-1', 'upgrade', 'hash-1');
SELECT * FROM offset_claim(ARRAY['u-2', 'u-3'], 'upgrade');

ALTER EXTENSION projection_offset UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'projection_offset';
SELECT "eventId", "payloadHash" FROM projection_offset WHERE "handlerName" = 'upgrade' ORDER BY 1;
SELECT offset_claim('u-1', 'upgrade', 'hash-1'), offset_claim('u-4', 'upgrade', 4);
SELECT offset_checkpoint('upgrade', 10), offset_claim('u-5', 'upgrade', 5);
SELECT handler_name, offsets, checkpoint FROM projection_offset_status WHERE handler_name = 'upgrade';

-- The same objects as a fresh install, none missing and none extra.
SELECT object AS missing_after_update FROM fresh_objects
EXCEPT SELECT pg_describe_object(classid, objid, 0) FROM pg_depend
WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'projection_offset') AND deptype = 'e';
SELECT pg_describe_object(classid, objid, 0) AS extra_after_update FROM pg_depend
WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'projection_offset') AND deptype = 'e'
EXCEPT SELECT object FROM fresh_objects;
SELECT count(*) > 15 AS many_objects FROM fresh_objects;
-- The privileges a fresh install sets are set by the update too.
SELECT has_function_privilege('public', 'offset_reset(text)', 'EXECUTE') AS public_may_reset;
