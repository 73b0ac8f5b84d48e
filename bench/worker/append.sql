-- pgbench: one event appended to the stream, in a transaction of its own.
\set order random(0, 99999)
\set amount random(1, 100)
INSERT INTO stream_events (payload) VALUES (jsonb_build_object('order', 'o-' || :order, 'amount', :amount));
