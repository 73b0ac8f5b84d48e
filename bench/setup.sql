-- Schema of the benchmark: a read model, the projectors, and the hand-written
-- alternatives to apply_with_offset. Loaded into a fresh database.
--
-- Event n carries the payload {"order": "o-<n % 100000>", "amount": <n % 100 + 1>};
-- the projection adds the amount to the order's total. Every way records the
-- payload hash, encode(sha256(convert_to(payload::text, 'UTF8')), 'hex'), as
-- apply_with_offset does.
\set ON_ERROR_STOP on
CREATE EXTENSION IF NOT EXISTS projection_offset;

CREATE TABLE order_totals (
    order_id text PRIMARY KEY,
    total bigint NOT NULL DEFAULT 0,
    events bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 70);
INSERT INTO order_totals (order_id) SELECT 'o-' || g FROM generate_series(0, 99999) g;

-- The helpers are STABLE, as jsonb_build_object and convert_to are: a SQL
-- function declared more strictly than its body is not inlined, and would
-- cost a SQL-function call per use in every way measured.
CREATE FUNCTION bench_payload(n bigint) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
RETURN jsonb_build_object('order', 'o-' || n % 100000, 'amount', n % 100 + 1);

CREATE FUNCTION bench_hash(payload jsonb) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN encode(sha256(convert_to(payload::text, 'UTF8')), 'hex');

-- The projector of (c) and (d): the mutation, in PL/pgSQL (its plan is cached
-- for the session).
CREATE FUNCTION bench_project(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE order_totals
       SET total = total + (payload->>'amount')::bigint, events = events + 1
     WHERE order_id = payload->>'order';
END
$$;

-- The same projector in LANGUAGE sql, for (ds) and (du): PostgreSQL 15 to 17
-- plan a SQL function's body again in every transaction, unless the
-- extension keeps its plans (projection_offset.cache_sql_projectors).
CREATE FUNCTION bench_project_sql(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$
    UPDATE order_totals
       SET total = total + (payload->>'amount')::bigint, events = events + 1
     WHERE order_id = payload->>'order';
$$;

-- (c) a generic apply in PL/pgSQL: claim, compare hashes, EXECUTE the projector.
CREATE FUNCTION bench_apply_plpgsql(event_id text, handler_name text, projector regprocedure, payload jsonb)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    hash text := encode(sha256(convert_to(payload::text, 'UTF8')), 'hex');
    stored text;
BEGIN
    INSERT INTO projection_offset ("eventId", "handlerName", "payloadHash")
    VALUES (event_id, handler_name, hash)
    ON CONFLICT ("eventId", "handlerName") DO NOTHING;
    IF NOT FOUND THEN
        SELECT "payloadHash" INTO stored FROM projection_offset
         WHERE "eventId" = event_id AND "handlerName" = handler_name;
        IF stored <> hash THEN
            RAISE EXCEPTION 'payload hash mismatch for event "%"', event_id USING ERRCODE = 'PJ001';
        END IF;
        RETURN false;
    END IF;
    EXECUTE format('SELECT %s($1, $2)', projector::regproc) USING event_id, payload;
    RETURN true;
END
$$;

-- (e) a projector in LANGUAGE sql that claims through offset_claim.
CREATE FUNCTION bench_project_claiming(event_id text, payload jsonb) RETURNS boolean
LANGUAGE sql AS $$
    WITH claim AS (
        SELECT offset_claim(event_id, 'bench',
                            encode(sha256(convert_to(payload::text, 'UTF8')), 'hex')) AS recorded
    ), applied AS (
        UPDATE order_totals o
           SET total = o.total + (payload->>'amount')::bigint, events = o.events + 1
          FROM claim
         WHERE claim.recorded AND o.order_id = payload->>'order'
        RETURNING 1
    )
    SELECT recorded FROM claim;
$$;

-- (p) the same in PL/pgSQL: a projector that claims through offset_claim.
CREATE FUNCTION bench_project_claiming_plpgsql(event_id text, payload jsonb) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF offset_claim(event_id, 'bench', encode(sha256(convert_to(payload::text, 'UTF8')), 'hex')) THEN
        UPDATE order_totals
           SET total = total + (payload->>'amount')::bigint, events = events + 1
         WHERE order_id = payload->>'order';
        RETURN true;
    END IF;
    RETURN false;
END
$$;

-- Re-deliveries replay events r-1 .. r-<count>, recorded beforehand with the
-- hash of their payload. bench_reset() restores that state (and empties the
-- table of every fresh event) before each measured point.
CREATE TABLE bench_recorded AS
SELECT 'r-' || n AS "eventId", 'bench'::text AS "handlerName", bench_hash(bench_payload(n)) AS "payloadHash"
  FROM generate_series(1, 100000) n;

CREATE FUNCTION bench_reset() RETURNS void LANGUAGE sql AS $$
    TRUNCATE projection_offset;
    INSERT INTO projection_offset ("eventId", "handlerName", "payloadHash")
    SELECT "eventId", "handlerName", "payloadHash" FROM bench_recorded;
$$;

SELECT bench_reset();
VACUUM ANALYZE;

-- The set projector of the batch form: called once per batch with the
-- events applied now, it updates each order once.
CREATE FUNCTION bench_project_batch(event_ids text[], payloads jsonb[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE order_totals o
       SET total = o.total + s.amount, events = o.events + s.n
      FROM (SELECT p->>'order' AS order_id, sum((p->>'amount')::bigint) AS amount, count(*) AS n
              FROM unnest(payloads) AS p GROUP BY 1) s
     WHERE o.order_id = s.order_id;
END
$$;
