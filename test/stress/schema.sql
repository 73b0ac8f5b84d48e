-- Tables, projectors and the invariant view of the stress and crash suites.
-- Run with psql -v events=M: one counter row per (handler, event) for the
-- handlers "totals" and "audit" and the events evt-1 .. evt-M.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

DROP VIEW IF EXISTS stress_invariant;
DROP TABLE IF EXISTS stress_applied;
DROP FUNCTION IF EXISTS stress_totals(text, jsonb);
DROP FUNCTION IF EXISTS stress_audit(jsonb);
DELETE FROM projection_offset WHERE "handlerName" IN ('totals', 'audit');

-- The projected state: how many times each event was applied per handler
-- (times) and the sum of the amounts it added (total). Neither projector is
-- idempotent on its own: every call adds.
CREATE TABLE stress_applied (
    handler text NOT NULL,
    event_id text NOT NULL,
    amount bigint NOT NULL,
    times int NOT NULL DEFAULT 0,
    total bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (handler, event_id)
);

-- The amount of event evt-i is (i % 97) + 1, as the driver sends it.
INSERT INTO stress_applied (handler, event_id, amount)
SELECT h, 'evt-' || i, (i % 97) + 1
FROM generate_series(1, :events) AS i, unnest(ARRAY['totals', 'audit']) AS h;

-- Projector of handler "totals": the (text, jsonb) form.
CREATE FUNCTION stress_totals(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$
    UPDATE stress_applied
       SET times = times + 1, total = total + (payload->>'amount')::bigint
     WHERE handler = 'totals' AND stress_applied.event_id = stress_totals.event_id
$$;

-- Projector of handler "audit": the (jsonb) form, in PL/pgSQL.
CREATE FUNCTION stress_audit(payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE stress_applied
       SET times = times + 1, total = total + (payload->>'amount')::bigint
     WHERE handler = 'audit' AND event_id = payload->>'event';
END
$$;

-- The invariant between offsets and mutations. The offset row and the
-- projector's write commit in one transaction, so any snapshot (after a
-- crash too) must see both or neither: the first three columns are 0 at
-- every moment. Once every delivery is done, offsets = mutated = pairs.
CREATE VIEW stress_invariant AS
WITH o AS (
    SELECT "eventId" AS event_id, "handlerName" AS handler
    FROM projection_offset WHERE "handlerName" IN ('totals', 'audit')
), a AS (
    SELECT handler, event_id, times, total, amount FROM stress_applied WHERE times > 0
)
SELECT
    count(*) FILTER (WHERE a.handler IS NULL) AS offsets_without_mutation,
    count(*) FILTER (WHERE o.handler IS NULL) AS mutations_without_offset,
    count(*) FILTER (WHERE a.times > 1 OR a.total <> a.amount * a.times) AS applied_more_than_once,
    count(o.handler) AS offsets,
    count(a.handler) AS mutated,
    (SELECT count(*) FROM stress_applied) AS pairs
FROM o FULL JOIN a ON a.handler = o.handler AND a.event_id = o.event_id;
