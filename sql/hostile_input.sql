-- Hostile arguments: NULLs, empty strings, values at and far over the
-- limits, unicode, and SQL fragments. Each case shows its SQLSTATE and
-- message; afterwards the table has lost nothing and holds exactly the rows
-- the accepted cases recorded.
\set VERBOSITY default
\set SHOW_CONTEXT never

-- Runs one statement and reports its result, or its SQLSTATE, message and
-- detail (a detail over 200 characters is cut and its length given).
CREATE FUNCTION hostile_try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result text;
    state text;
    msg text;
    det text;
BEGIN
    EXECUTE stmt INTO result;
    RETURN 'ok: ' || coalesce(result, 'NULL');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    RETURN state || ': ' || msg ||
        CASE WHEN det = '' THEN ''
             WHEN length(det) > 200 THEN ' | ' || left(det, 120) || '... (' || length(det) || ' characters)'
             ELSE ' | ' || det END;
END
$$;

CREATE FUNCTION hostile_noop(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ SELECT $$;

-- A snapshot of every row recorded before the hostile cases.
SELECT count(*) AS seeded FROM offset_claim_batch(
    ARRAY(SELECT 'seed-' || g FROM generate_series(1, 50) g), 'hostile-seed');
CREATE TEMP TABLE hostile_before AS SELECT * FROM projection_offset;

-- NULL in every argument of every function: 22004 naming the argument.
-- A NULL payload hash or payload is allowed: the pair is recorded without a hash.
SELECT label, hostile_try(stmt) AS outcome FROM (VALUES
    ('claim(NULL, h)',             $$SELECT offset_claim(NULL, 'hostile-null')$$),
    ('claim(e, NULL)',             $$SELECT offset_claim('e', NULL)$$),
    ('claim(NULL, NULL, NULL)',    $$SELECT offset_claim(NULL, NULL, NULL)$$),
    ('claim(NULL::text, h)',       $$SELECT offset_claim(NULL::text, 'hostile-null')$$),
    ('claim(NULL::text[], h)',     $$SELECT string_agg(x, ',') FROM offset_claim_batch(NULL::text[], 'hostile-null') x$$),
    ('claim(ids, NULL)',           $$SELECT string_agg(x, ',') FROM offset_claim_batch(ARRAY['e'], NULL) x$$),
    ('claim({NULL}, h)',           $$SELECT string_agg(x, ',') FROM offset_claim_batch(ARRAY[NULL]::text[], 'hostile-null') x$$),
    ('claim({e,NULL,f}, h)',       $$SELECT string_agg(x, ',') FROM offset_claim_batch(ARRAY['e', NULL, 'f'], 'hostile-null') x$$),
    ('apply(NULL, h, p, j)',       $$SELECT apply_with_offset(NULL, 'hostile-null', 'hostile_noop(text,jsonb)', '{}')$$),
    ('apply(e, NULL, p, j)',       $$SELECT apply_with_offset('e', NULL, 'hostile_noop(text,jsonb)', '{}')$$),
    ('apply(e, h, NULL, j)',       $$SELECT apply_with_offset('e', 'hostile-null', NULL, '{}')$$),
    ('apply(NULL, NULL, NULL, NULL)', $$SELECT apply_with_offset(NULL, NULL, NULL, NULL)$$),
    ('claim(e, h, NULL hash)',     $$SELECT offset_claim('null-hash', 'hostile-null', NULL)$$),
    ('apply(e, h, p, NULL)',       $$SELECT apply_with_offset('null-payload', 'hostile-null', 'hostile_noop(text,jsonb)', NULL)$$)
) AS cases(label, stmt);
SELECT "eventId", "payloadHash" IS NULL AS no_hash FROM projection_offset
WHERE "handlerName" = 'hostile-null' ORDER BY 1;

-- Empty strings: 22023. An empty projector name is not a function name:
-- the regprocedure cast fails before the call.
SELECT label, hostile_try(stmt) AS outcome FROM (VALUES
    ('claim('''', h)',             $$SELECT offset_claim('', 'hostile-empty')$$),
    ('claim(e, '''')',             $$SELECT offset_claim('e', '')$$),
    ('claim(e, h, '''')',          $$SELECT offset_claim('e', 'hostile-empty', '')$$),
    ('claim({''''}, h)',           $$SELECT string_agg(x, ',') FROM offset_claim_batch(ARRAY[''], 'hostile-empty') x$$),
    ('claim({}, '''')',            $$SELECT string_agg(x, ',') FROM offset_claim_batch(ARRAY[]::text[], '') x$$),
    ('apply('''', h, p, j)',       $$SELECT apply_with_offset('', 'hostile-empty', 'hostile_noop(text,jsonb)', '{}')$$),
    ('apply(e, '''', p, j)',       $$SELECT apply_with_offset('e', '', 'hostile_noop(text,jsonb)', '{}')$$),
    ('apply(e, h, '''', j)',       $$SELECT apply_with_offset('e', 'hostile-empty', '', '{}')$$),
    ('apply(e, h, p, '''')',       $$SELECT apply_with_offset('e', 'hostile-empty', 'hostile_noop(text,jsonb)', '')$$),
    ('blank id is not empty',      $$SELECT offset_claim(' ', 'hostile-empty')$$)
) AS cases(label, stmt);
SELECT format('%L', "eventId") AS recorded FROM projection_offset WHERE "handlerName" = 'hostile-empty';

-- Odd arrays: an empty array records nothing; a multi-dimensional one is
-- refused; an element is named by its position counted from 1, whatever
-- the array's lower bound.
SELECT label, hostile_try(stmt) AS outcome FROM (VALUES
    ('empty array',      $$SELECT count(*)::text FROM offset_claim_batch(ARRAY[]::text[], 'hostile-array')$$),
    ('2-D array',        $$SELECT count(*)::text FROM offset_claim_batch(ARRAY[['a'], ['b']], 'hostile-array')$$),
    ('bounds [5:6]',     $$SELECT string_agg(x, ',') FROM offset_claim_batch('[5:6]={a5,a6}'::text[], 'hostile-array') x$$),
    ('NULL at [7:8][2]', $$SELECT string_agg(x, ',') FROM offset_claim_batch('[7:8]={b7,NULL}'::text[], 'hostile-array') x$$)
) AS cases(label, stmt);

-- Lengths, in bytes: an event id up to 1024, a handler name up to 256.
-- Over the limit is 22001 whatever the size; the message never echoes the
-- value, the detail gives its size.
SELECT label, hostile_try(stmt) AS outcome FROM (VALUES
    ('event id 1024 B',         $$SELECT offset_claim(repeat('x', 1024), 'hostile-long')$$),
    ('event id 1025 B',         $$SELECT offset_claim(repeat('x', 1025), 'hostile-long')$$),
    ('handler 256 B',           $$SELECT offset_claim('long-1', repeat('h', 256))$$),
    ('handler 257 B',           $$SELECT offset_claim('long-1', repeat('h', 257))$$),
    ('event id 4 MB',           $$SELECT offset_claim(repeat('x', 4 * 1024 * 1024), 'hostile-long')$$),
    ('handler 4 MB',            $$SELECT offset_claim('long-2', repeat('h', 4 * 1024 * 1024))$$),
    ('batch element 2 of 4 MB', $$SELECT string_agg(x, ',') FROM offset_claim_batch(ARRAY['long-3', repeat('x', 4 * 1024 * 1024)], 'hostile-long') x$$),
    ('apply, event id 4 MB',    $$SELECT apply_with_offset(repeat('x', 4 * 1024 * 1024), 'hostile-long', 'hostile_noop(text,jsonb)', '{}')$$),
    ('apply, handler 4 MB',     $$SELECT apply_with_offset('long-4', repeat('h', 4 * 1024 * 1024), 'hostile_noop(text,jsonb)', '{}')$$),
    ('both at the limit',       $$SELECT apply_with_offset(repeat('y', 1024), repeat('h', 256), 'hostile_noop(text,jsonb)', '{}')$$)
) AS cases(label, stmt);
-- The batch with a bad element recorded none of its good ones.
SELECT count(*) AS long_3 FROM projection_offset WHERE "eventId" = 'long-3';
SELECT "handlerName" = repeat('h', 256) AS at_handler_limit, length("eventId") AS event_id_bytes
FROM projection_offset WHERE "eventId" IN (repeat('x', 1024), repeat('y', 1024), 'long-1') ORDER BY 2, 1;

-- The payload hash is not a key column: it has no length limit.
SELECT hostile_try($$SELECT offset_claim('long-hash', 'hostile-long', repeat('a', 1024 * 1024))$$) AS first;
SELECT hostile_try($$SELECT offset_claim('long-hash', 'hostile-long', repeat('a', 1024 * 1024))$$) AS same_hash;
SELECT split_part(hostile_try($$SELECT offset_claim('long-hash', 'hostile-long', repeat('b', 1024 * 1024))$$), ' | ', 1) AS other_hash;

-- Unicode: limits count bytes, not characters. "é" is 2 bytes, "€" 3,
-- the emoji 4; a combining sequence is several code points.
SELECT label, octet_length(v) AS bytes, char_length(v) AS chars, hostile_try(format('SELECT offset_claim(%L, %L)', 'uni-' || label, v)) AS as_handler
FROM (VALUES
    ('e-acute x128', repeat('é', 128)),
    ('e-acute x129', repeat('é', 129)),
    ('euro x85',     repeat('€', 85)),
    ('euro x86',     repeat('€', 86)),
    ('emoji x64',    repeat('🎉', 64)),
    ('emoji x65',    repeat('🎉', 65)),
    ('family x10',   repeat('👨‍👩‍👧‍👦', 10)),
    ('combining',    'e' || repeat(U&'\0301', 127))
) AS cases(label, v);
-- Precomposed and decomposed forms are different keys: ids are compared
-- byte for byte, without normalization.
SELECT offset_claim(U&'caf\00E9', 'hostile-unicode') AS precomposed,
       offset_claim(U&'cafe\0301', 'hostile-unicode') AS decomposed,
       offset_claim(U&'caf\00E9', 'hostile-unicode') AS precomposed_again;
SELECT offset_claim('📦 order ✓ Ω 日本語 עברית', 'hostile-unicode ☃') AS mixed_scripts;
SELECT "eventId", octet_length("eventId") AS bytes, "eventId" IS NFC NORMALIZED AS nfc
FROM projection_offset WHERE "handlerName" LIKE 'hostile-unicode%' ORDER BY 2, 1;
-- Long multi-byte ids are shortened in messages on a character boundary.
CREATE FUNCTION hostile_fail(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'projector refused %', octet_length(event_id); END $$;
\set SHOW_CONTEXT errors
SELECT apply_with_offset(repeat('é', 40), repeat('€', 30), 'hostile_fail(text,jsonb)', '{}');
SELECT apply_with_offset('a' || repeat('🎉', 20), 'hostile-unicode', 'hostile_fail(text,jsonb)', '{}');
\set SHOW_CONTEXT never

-- NUL cannot be part of a text value, so it can never reach the extension:
-- every way of writing one is refused by PostgreSQL first.
SELECT label, hostile_try(stmt) AS outcome FROM (VALUES
    ('chr(0)',              $$SELECT offset_claim('nul' || chr(0), 'hostile-nul')$$),
    ('Unicode escape',      $$SELECT offset_claim(U&'nul\0000', 'hostile-nul')$$),
    ('bytea to text',       $$SELECT offset_claim(convert_from('\x6e756c00'::bytea, 'UTF8'), 'hostile-nul')$$),
    ('jsonb \u0000',        $$SELECT apply_with_offset('nul', 'hostile-nul', 'hostile_noop(text,jsonb)', '{"a": "\u0000"}')$$),
    ('invalid UTF-8',       $$SELECT offset_claim(convert_from('\xc328'::bytea, 'UTF8'), 'hostile-nul')$$),
    ('backslash-zero text', $$SELECT offset_claim(E'nul\\000', 'hostile-nul')$$)
) AS cases(label, stmt);
SELECT "eventId" FROM projection_offset WHERE "handlerName" = 'hostile-nul';

-- Quotes and SQL fragments are data: recorded verbatim, never executed.
-- Format directives in names do not reach a format string.
SELECT v AS value, offset_claim(v, 'hostile-sql') AS as_event_id, offset_claim('sql-' || md5(v), v) AS as_handler
FROM (VALUES
    ($$'); DROP TABLE projection_offset; --$$),
    ($$"; DROP TABLE projection_offset; --$$),
    ($$x' OR '1'='1$$),
    ($$$$ || chr(36) || chr(36) || $$; TRUNCATE projection_offset; $$ || chr(36) || chr(36)),
    ($$\'; SELECT pg_sleep(10); --$$),
    ($$%s%s%s%n%x %1$s$$),
    ($$handler"name$$),
    ($$ab$$ || chr(10) || $$cd$$ || chr(9) || chr(13)),
    ($$Robert'); DELETE FROM projection_offset WHERE true; --$$)
) AS cases(v) ORDER BY 1;
SELECT offset_claim($$'); DROP TABLE projection_offset; --$$, 'hostile-sql') AS again;
SELECT * FROM offset_claim_batch(ARRAY[$$a'); DROP TABLE projection_offset; --$$, '%s%n', $$'; TRUNCATE x; --$$], 'hostile-sql') ORDER BY 1;
SELECT apply_with_offset($$'); DROP TABLE projection_offset; --$$, $$%s%n'); --$$, 'hostile_noop(text,jsonb)', '{"q": "''); DROP TABLE x; --"}');
\set SHOW_CONTEXT errors
SELECT apply_with_offset($$'); DROP TABLE projection_offset; --$$, $$%s%n"); --$$, 'hostile_fail(text,jsonb)', '{}');
\set SHOW_CONTEXT never
SELECT count(*) AS sql_event_ids FROM projection_offset WHERE "handlerName" = 'hostile-sql';
SELECT "handlerName" FROM projection_offset WHERE "eventId" = 'sql-' || md5($$x' OR '1'='1$$);
SELECT to_regclass('projection_offset') IS NOT NULL AS table_still_there;

-- Projector names are looked up by PostgreSQL's own regprocedure input:
-- fragments in them are syntax errors or unknown functions.
SELECT label, hostile_try(stmt) AS outcome FROM (VALUES
    ('injected name', $$SELECT apply_with_offset('e', 'hostile-sql', 'hostile_noop(text,jsonb); DROP TABLE projection_offset', '{}')$$),
    ('quoted name',   $$SELECT apply_with_offset('e', 'hostile-sql', '"hostile_noop; --"(jsonb)', '{}')$$),
    ('OID 0',         $$SELECT apply_with_offset('e', 'hostile-sql', 0::oid::regprocedure, '{}')$$),
    ('OID -1',        $$SELECT apply_with_offset('e', 'hostile-sql', 4294967295::oid::regprocedure, '{}')$$)
) AS cases(label, stmt);

-- Nothing was lost: every row from before is there unchanged, the table
-- keeps its shape, and the only new rows are those of the accepted cases.
SELECT count(*) AS missing_or_changed FROM (
    SELECT * FROM hostile_before EXCEPT SELECT * FROM projection_offset) gone;
SELECT count(*) AS rows_added, count(DISTINCT "handlerName") AS handlers,
       count(*) FILTER (WHERE "handlerName" LIKE 'hostile-%') AS under_hostile_handlers
FROM (SELECT * FROM projection_offset EXCEPT SELECT * FROM hostile_before) added;
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_attribute a WHERE a.attrelid = 'projection_offset'::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;
SELECT indexrelid::regclass, indisprimary FROM pg_index WHERE indrelid = 'projection_offset'::regclass
ORDER BY indexrelid::regclass::text;

DELETE FROM projection_offset p
WHERE NOT EXISTS (SELECT FROM hostile_before b WHERE (b."eventId", b."handlerName") = (p."eventId", p."handlerName"))
   OR "handlerName" = 'hostile-seed';
DROP TABLE hostile_before;
DROP FUNCTION hostile_fail(text, jsonb);
DROP FUNCTION hostile_noop(text, jsonb);
DROP FUNCTION hostile_try(text);
