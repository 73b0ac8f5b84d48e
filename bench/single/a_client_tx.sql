-- (a) The client-side transaction of an ORM adapter: four round trips for a
-- fresh event (three for a re-delivery, which skips the mutation).
-- Variables: pfx (event id prefix), range (event numbers drawn from 1..range).
\set n random(1, :range)
\set ord :n % 100000
\set amt :n % 100 + 1
\set claimed 0
BEGIN;
INSERT INTO projection_offset ("eventId", "handlerName", "payloadHash")
VALUES (:pfx || :n, 'bench', bench_hash(bench_payload(:n)))
ON CONFLICT ("eventId", "handlerName") DO NOTHING
RETURNING 1 AS claimed \aset
\if :claimed
UPDATE order_totals SET total = total + :amt, events = events + 1 WHERE order_id = 'o-' || :ord;
\endif
COMMIT;
