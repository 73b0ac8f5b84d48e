-- Batch: the extension's batch claim, offset_claim_batch(text[], text), and
-- a set-based UPDATE of the events it recorded, in one statement. Used when
-- the batch apply is not installed; it records no payload hash.
\set base 1000 * random(0, :blocks - 1)
WITH doc AS (
    SELECT jsonb_agg(jsonb_build_object('event_id', :pfx || n, 'payload', bench_payload(n))) AS events
      FROM generate_series(:base::bigint + 1, :base::bigint + 1000) n
), ev AS (
    SELECT e->>'event_id' AS id, e->'payload' AS payload FROM doc, jsonb_array_elements(doc.events) e
), claimed AS (
    SELECT id FROM offset_claim_batch(ARRAY(SELECT id FROM ev), 'bench') AS id
), sums AS (
    SELECT ev.payload->>'order' AS order_id, sum((ev.payload->>'amount')::bigint) AS amount, count(*) AS n
      FROM ev JOIN claimed USING (id) GROUP BY 1
), applied AS (
    UPDATE order_totals o SET total = o.total + sums.amount, events = o.events + sums.n
      FROM sums WHERE o.order_id = sums.order_id
    RETURNING 1
)
SELECT count(*) FROM claimed;
