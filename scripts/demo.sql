\pset footer off
\echo '-- A read model and a projector that, on its own, would count every delivery.'
CREATE EXTENSION projection_offset;
CREATE TABLE order_totals (order_id text PRIMARY KEY, total numeric NOT NULL);
CREATE FUNCTION project_order_placed(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO order_totals VALUES (payload->>'order', (payload->>'amount')::numeric)
    ON CONFLICT (order_id) DO UPDATE SET total = order_totals.total + EXCLUDED.total
$$;

\echo
\echo '-- 1. The event is delivered: the projector runs and the offset is recorded.'
SELECT apply_with_offset('evt-1', 'order-totals', 'project_order_placed(text,jsonb)',
                         '{"order": "o-1", "amount": 25}') AS applied;

\echo '-- 2. The bus delivers it again, four times: every re-delivery is skipped.'
SELECT apply_with_offset('evt-1', 'order-totals', 'project_order_placed(text,jsonb)',
                         '{"order": "o-1", "amount": 25}') AS applied
FROM generate_series(1, 4);
SELECT * FROM order_totals;
SELECT "eventId", "handlerName", left("payloadHash", 16) || '...' AS "payloadHash" FROM projection_offset;

\echo '-- 3. The same event id arrives with a different payload: rejected loudly (SQLSTATE PJ001).'
SELECT apply_with_offset('evt-1', 'order-totals', 'project_order_placed(text,jsonb)',
                         '{"order": "o-1", "amount": 999}') AS applied;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM order_totals;

\echo '-- 4. A batch of three events, one of them already applied: two are applied, in one call.'
SELECT apply_with_offset_batch('order-totals', 'project_order_placed(text,jsonb)',
    '[{"event_id": "evt-1", "payload": {"order": "o-1", "amount": 25}},
               {"event_id": "evt-2", "payload": {"order": "o-1", "amount": 5}},
               {"event_id": "evt-3", "payload": {"order": "o-2", "amount": 7}}]') AS applied;
SELECT * FROM order_totals ORDER BY order_id;

\echo '-- 5. Per handler: offsets recorded, and claims, duplicates and divergences counted.'
SELECT handler_name, offsets FROM projection_offset_status;
SELECT handler_name, claims, duplicates, divergences FROM projection_offset_counters();
