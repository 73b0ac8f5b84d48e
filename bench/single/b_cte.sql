-- (b) One hand-written statement: claim, divergence check and mutation.
\set n random(1, :range)
\set ord :n % 100000
\set amt :n % 100 + 1
WITH ev AS (
    SELECT :pfx || :n AS id, bench_hash(bench_payload(:n)) AS hash
), claimed AS (
    INSERT INTO projection_offset ("eventId", "handlerName", "payloadHash")
    SELECT id, 'bench', hash FROM ev
    ON CONFLICT ("eventId", "handlerName") DO NOTHING
    RETURNING 1
), applied AS (
    UPDATE order_totals SET total = total + :amt, events = events + 1
     WHERE order_id = 'o-' || :ord AND EXISTS (SELECT FROM claimed)
    RETURNING 1
)
SELECT EXISTS (SELECT FROM claimed) AS recorded,
       (SELECT p."payloadHash" <> ev.hash FROM projection_offset p, ev
         WHERE p."eventId" = ev.id AND p."handlerName" = 'bench') AS diverged;
