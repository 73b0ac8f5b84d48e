-- Hostile payloads: jsonb scalars, arrays, JSON null against SQL NULL,
-- deep nesting and documents of several megabytes. The recorded hash is
-- always the SHA-256 of the payload's canonical jsonb text.
\set VERBOSITY default
\set SHOW_CONTEXT errors

CREATE TABLE hostile_seen (event_id text, kind text, bytes int);
CREATE FUNCTION hostile_look(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO hostile_seen VALUES (event_id, coalesce(jsonb_typeof(payload), 'SQL NULL'), octet_length(payload::text))
$$;
CREATE FUNCTION hostile_expected_hash(payload jsonb) RETURNS text
LANGUAGE sql AS $$ SELECT encode(sha256(convert_to(payload::text, 'UTF8')), 'hex') $$;

SELECT count(*) AS seeded FROM offset_claim_batch(
    ARRAY(SELECT 'seed-' || g FROM generate_series(1, 20) g), 'hostile-payload-seed');
CREATE TEMP TABLE hostile_before AS SELECT * FROM projection_offset;

-- Every kind of jsonb value is a payload; each is hashed, recorded and
-- handed to the projector unchanged.
SELECT label, apply_with_offset('kind-' || label, 'hostile-payload', 'hostile_look(text,jsonb)', payload) AS applied
FROM (VALUES
    ('number',        '42'::jsonb),
    ('negative-zero', '-0.0'),
    ('big-number',    '1e1000'),
    ('string',        '"a string"'),
    ('empty-string',  '""'),
    ('true',          'true'),
    ('false',         'false'),
    ('json-null',     'null'),
    ('empty-array',   '[]'),
    ('array',         '[1, "two", null, [3], {"four": 4}]'),
    ('empty-object',  '{}'),
    ('unicode',       '{"名前": "🎉", "e\u0301": "\ud83d\ude00"}'),
    ('sql-text',      $${"q": "'); DROP TABLE projection_offset; --"}$$),
    ('duplicate-key', '{"a": 1, "a": 2}')
) AS cases(label, payload);
SELECT s.event_id, s.kind, s.bytes, o."payloadHash" = hostile_expected_hash(p.payload) AS hash_ok
FROM hostile_seen s
JOIN projection_offset o ON o."eventId" = s.event_id AND o."handlerName" = 'hostile-payload'
JOIN (VALUES ('kind-number', '42'::jsonb), ('kind-negative-zero', '-0.0'), ('kind-big-number', '1e1000'),
             ('kind-string', '"a string"'), ('kind-empty-string', '""'), ('kind-true', 'true'),
             ('kind-false', 'false'), ('kind-json-null', 'null'), ('kind-empty-array', '[]'),
             ('kind-array', '[1, "two", null, [3], {"four": 4}]'), ('kind-empty-object', '{}'),
             ('kind-unicode', '{"名前": "🎉", "e\u0301": "\ud83d\ude00"}'),
             ('kind-sql-text', $${"q": "'); DROP TABLE projection_offset; --"}$$),
             ('kind-duplicate-key', '{"a": 1, "a": 2}')) AS p(event_id, payload)
  ON p.event_id = s.event_id
ORDER BY 1;
-- Canonical text: a later duplicate key wins, numbers keep their written
-- scale, so '{"a": 2}' is the same payload as '{"a": 1, "a": 2}' but 42.0 is
-- not 42.
SELECT apply_with_offset('kind-duplicate-key', 'hostile-payload', 'hostile_look(text,jsonb)', '{"a": 2}') AS same_document;
SELECT apply_with_offset('kind-number', 'hostile-payload', 'hostile_look(text,jsonb)', '42.0');
\echo :LAST_ERROR_SQLSTATE

-- JSON null is a value with a hash; SQL NULL is no payload and no hash.
-- A re-delivery without a payload cannot be compared, so it is a plain
-- duplicate; with another payload it diverges.
SELECT apply_with_offset('null-1', 'hostile-payload', 'hostile_look(text,jsonb)', 'null') AS json_null,
       apply_with_offset('null-2', 'hostile-payload', 'hostile_look(text,jsonb)', NULL) AS sql_null;
SELECT "eventId", "payloadHash" = hostile_expected_hash('null') AS is_hash_of_json_null, "payloadHash" IS NULL AS no_hash
FROM projection_offset WHERE "eventId" IN ('null-1', 'null-2') ORDER BY 1;
SELECT apply_with_offset('null-1', 'hostile-payload', 'hostile_look(text,jsonb)', NULL) AS redelivered_without_payload;
SELECT apply_with_offset('null-2', 'hostile-payload', 'hostile_look(text,jsonb)', 'null') AS redelivered_with_payload;
SELECT apply_with_offset('null-1', 'hostile-payload', 'hostile_look(text,jsonb)', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT event_id, kind FROM hostile_seen WHERE event_id LIKE 'null-%' ORDER BY 1;

-- Deep nesting: PostgreSQL's parser limits it, not the extension; what
-- parses is hashed.
SELECT apply_with_offset('deep-1000', 'hostile-payload', 'hostile_look(text,jsonb)',
                         (repeat('[', 1000) || repeat(']', 1000))::jsonb) AS depth_1000;
\set SHOW_CONTEXT never
SELECT apply_with_offset('deep-1000000', 'hostile-payload', 'hostile_look(text,jsonb)',
                         (repeat('[', 1000000) || repeat(']', 1000000))::jsonb);
\set SHOW_CONTEXT errors
\echo :LAST_ERROR_SQLSTATE

-- Documents of several megabytes: an 8 MB string, and 60,000 objects (about
-- 5 MB of text). Hashing and recording are the same as for small ones; a
-- re-delivery is a duplicate, one changed byte diverges.
CREATE TEMP TABLE hostile_big AS
SELECT to_jsonb(repeat('x', 8 * 1024 * 1024)) AS big_string,
       (SELECT jsonb_agg(jsonb_build_object('i', g, 'pad', repeat('y', 60))) FROM generate_series(1, 60000) g) AS big_array;
SELECT octet_length(big_string::text) AS string_bytes, octet_length(big_array::text) AS array_bytes,
       jsonb_array_length(big_array) AS elements FROM hostile_big;
SELECT apply_with_offset('big-string', 'hostile-payload', 'hostile_look(text,jsonb)', big_string) AS first,
       apply_with_offset('big-string', 'hostile-payload', 'hostile_look(text,jsonb)', big_string) AS again
FROM hostile_big;
SELECT apply_with_offset('big-array', 'hostile-payload', 'hostile_look(text,jsonb)', big_array) AS first,
       apply_with_offset('big-array', 'hostile-payload', 'hostile_look(text,jsonb)', big_array) AS again
FROM hostile_big;
SELECT apply_with_offset('big-array', 'hostile-payload', 'hostile_look(text,jsonb)',
                         jsonb_set(big_array, '{59999,pad}', '"z"')) FROM hostile_big;
\echo :LAST_ERROR_SQLSTATE
SELECT o."eventId", o."payloadHash" = hostile_expected_hash(CASE o."eventId" WHEN 'big-string' THEN b.big_string ELSE b.big_array END) AS hash_ok,
       s.bytes
FROM projection_offset o JOIN hostile_seen s ON s.event_id = o."eventId" CROSS JOIN hostile_big b
WHERE o."eventId" LIKE 'big-%' ORDER BY 1;
-- A large payload in a batch of applies in one statement.
SELECT count(*) FILTER (WHERE applied) AS applied, count(*) AS calls FROM (
    SELECT apply_with_offset('big-many-' || (g % 5), 'hostile-payload', 'hostile_look(text,jsonb)',
                             jsonb_build_object('n', g % 5, 'pad', repeat('w', 1024 * 1024))) AS applied
    FROM generate_series(1, 20) g) calls;
SELECT count(*) AS seen FROM hostile_seen WHERE event_id LIKE 'big-many-%';

-- A projector that changes the payload it was given changes nothing
-- recorded: jsonb arguments are values.
CREATE FUNCTION hostile_mutate(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    payload := jsonb_set(payload, '{changed}', 'true');
    INSERT INTO hostile_seen VALUES (event_id, payload::text, 0);
END
$$;
SELECT apply_with_offset('mutate-1', 'hostile-payload', 'hostile_mutate(text,jsonb)', '{"k": 1}');
SELECT "payloadHash" = hostile_expected_hash('{"k": 1}') AS hash_of_original FROM projection_offset WHERE "eventId" = 'mutate-1';
SELECT kind AS projector_saw FROM hostile_seen WHERE event_id = 'mutate-1';

-- Nothing was lost.
SELECT count(*) AS missing_or_changed FROM (
    SELECT * FROM hostile_before EXCEPT SELECT * FROM projection_offset) gone;
SELECT count(*) AS rows_added FROM (SELECT * FROM projection_offset EXCEPT SELECT * FROM hostile_before) added;

DELETE FROM projection_offset p
WHERE NOT EXISTS (SELECT FROM hostile_before b WHERE (b."eventId", b."handlerName") = (p."eventId", p."handlerName"))
   OR "handlerName" = 'hostile-payload-seed';
DROP TABLE hostile_before, hostile_big;
DROP FUNCTION hostile_look(text, jsonb), hostile_expected_hash(jsonb), hostile_mutate(text, jsonb);
DROP TABLE hostile_seen;
