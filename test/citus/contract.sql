-- The contract through the coordinator of a distributed install. Each
-- single call in autocommit is delegated to the worker holding its
-- handler's shards; the same calls inside a transaction block run on the
-- coordinator. Both must give the results of a single server.
\set VERBOSITY terse
\set SHOW_CONTEXT never
SET client_min_messages = warning;

-- A read model colocated with the offsets, and one on another key, whose
-- writes cross shards.
CREATE TABLE totals (handler text, k text, n int NOT NULL, PRIMARY KEY (handler, k));
SELECT create_distributed_table('totals', 'handler', colocate_with => 'projection_offset');
CREATE TABLE by_key (k text PRIMARY KEY, n int NOT NULL);
SELECT create_distributed_table('by_key', 'k');
CREATE FUNCTION project_total(event_id text, payload jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO totals VALUES (payload->>'h', payload->>'k', 1)
    ON CONFLICT (handler, k) DO UPDATE SET n = totals.n + 1 $$;
CREATE FUNCTION project_by_key(event_id text, payload jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO by_key VALUES (payload->>'k', 1)
    ON CONFLICT (k) DO UPDATE SET n = by_key.n + 1 $$;
CREATE FUNCTION project_fails(event_id text, payload jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO totals VALUES (payload->>'h', 'failed', 1);
    RAISE EXCEPTION 'projector failed on %', event_id USING ERRCODE = 'P0001';
END $$;

-- Single claims: first delivery, re-delivery, payload hashes, divergence.
SELECT offset_claim('c-1', 'claims');
SELECT offset_claim('c-1', 'claims');
SELECT offset_claim('c-2', 'claims', 'aaaa');
SELECT offset_claim('c-2', 'claims', 'aaaa');
SELECT offset_claim('c-2', 'claims', 'bbbb');
\echo :LAST_ERROR_SQLSTATE
BEGIN;
SELECT offset_claim('c-3', 'claims'), offset_claim('c-3', 'claims'), offset_claim('c-1', 'claims');
COMMIT;
SELECT offset_claim('c-4', 'claims', NULL);

-- Positions and checkpoints.
SELECT offset_claim_at('p-1', 'positions', 1);
SELECT offset_claim_at('p-1', 'positions', 1);
SELECT offset_checkpoint('positions', 5);
SELECT offset_checkpoint('positions', 3);
SELECT offset_claim_at('p-4', 'positions', 4);
SELECT offset_claim_at('p-6', 'positions', 6, 'hash-6');
BEGIN;
SELECT offset_checkpoint('positions', 6), offset_claim_at('p-5', 'positions', 5), offset_claim_at('p-7', 'positions', 7);
COMMIT;
SELECT "handlerName", "position", "updatedAt" IS NOT NULL AS updated FROM projection_offset_checkpoint ORDER BY 1;
SELECT "eventId", "position" FROM projection_offset_position WHERE "handlerName" = 'positions' ORDER BY 1;

-- Batch claims.
SELECT * FROM offset_claim_batch(ARRAY['b-3', 'b-1', 'c-1', 'b-3'], 'claims');
SELECT * FROM offset_claim_batch(ARRAY['b-3', 'b-1', 'b-2'], 'claims');
BEGIN;
SELECT * FROM offset_claim_batch(ARRAY['b-4', 'b-1'], 'claims');
COMMIT;

-- Single applies, by regprocedure and by name, colocated and cross-shard.
SELECT apply_with_offset('a-1', 'totals', 'project_total(text,jsonb)'::regprocedure, '{"h": "totals", "k": "x"}');
SELECT apply_with_offset('a-1', 'totals', 'project_total(text,jsonb)'::regprocedure, '{"h": "totals", "k": "x"}');
SELECT apply_with_offset('a-2', 'totals', 'project_total', '{"h": "totals", "k": "x"}');
SELECT apply_with_offset('a-2', 'totals', 'project_total', '{"h": "totals", "k": "x"}');
SELECT apply_with_offset('a-2', 'totals', 'project_total', '{"h": "totals", "k": "other"}');
\echo :LAST_ERROR_SQLSTATE
SELECT apply_with_offset('k-1', 'keys', 'project_by_key', '{"k": "alpha"}');
SELECT apply_with_offset('k-1', 'keys', 'project_by_key', '{"k": "alpha"}');
BEGIN;
SELECT apply_with_offset('k-2', 'keys', 'project_by_key', '{"k": "beta"}'),
       apply_with_offset('k-2', 'keys', 'project_by_key', '{"k": "beta"}');
COMMIT;
-- A failing projector leaves neither its offset nor its writes.
SELECT apply_with_offset('f-1', 'totals', 'project_fails', '{"h": "totals"}');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS failed_offsets FROM projection_offset WHERE "eventId" = 'f-1';

-- Batch applies: first delivery, re-delivery, a mixed batch with
-- positions, and a divergent payload that rolls the whole batch back.
SELECT apply_with_offset_batch('totals', 'project_total(text,jsonb)'::regprocedure,
    '[{"event_id": "a-1", "payload": {"h": "totals", "k": "x"}},
      {"event_id": "a-3", "payload": {"h": "totals", "k": "y"}},
      {"event_id": "a-4", "payload": {"h": "totals", "k": "y"}}]');
SELECT apply_with_offset_batch('totals', 'project_total(text,jsonb)'::regprocedure,
    '[{"event_id": "a-1", "payload": {"h": "totals", "k": "x"}},
      {"event_id": "a-3", "payload": {"h": "totals", "k": "y"}},
      {"event_id": "a-4", "payload": {"h": "totals", "k": "y"}}]');
SELECT offset_checkpoint('totals', 10);
SELECT apply_with_offset_batch('totals', 'project_total',
    '[{"event_id": "a-4", "payload": {"h": "totals", "k": "y"}},
      {"event_id": "a-5", "payload": {"h": "totals", "k": "z"}, "position": 9},
      {"event_id": "a-6", "payload": {"h": "totals", "k": "z"}, "position": 11},
      {"event_id": "a-7", "payload": {"h": "totals", "k": "z"}}]');
BEGIN;
SELECT apply_with_offset_batch('totals', 'project_total',
    '[{"event_id": "a-6", "payload": {"h": "totals", "k": "z"}, "position": 11},
      {"event_id": "a-8", "payload": {"h": "totals", "k": "z"}, "position": 12}]');
COMMIT;
SELECT apply_with_offset_batch('totals', 'project_total',
    '[{"event_id": "a-9", "payload": {"h": "totals", "k": "z"}},
      {"event_id": "a-1", "payload": {"h": "totals", "k": "changed"}}]');
\echo :LAST_ERROR_SQLSTATE
SELECT apply_with_offset_batch('keys', 'project_by_key',
    '[{"event_id": "k-1", "payload": {"k": "alpha"}},
      {"event_id": "k-3", "payload": {"k": "gamma"}},
      {"event_id": "k-4", "payload": {"k": "alpha"}}]');
SELECT * FROM totals ORDER BY 1, 2;
SELECT * FROM by_key ORDER BY 1;

-- Release, prune to the checkpoint, prune by age, reset.
SELECT offset_release('c-1', 'claims');
SELECT offset_release('c-1', 'claims');
SELECT offset_claim('c-1', 'claims');
BEGIN;
SELECT offset_release('c-3', 'claims'), offset_claim('c-3', 'claims', 'cccc'), offset_claim('c-3', 'claims', 'cccc');
COMMIT;
SELECT offset_claim('c-3', 'claims', 'dddd');
\echo :LAST_ERROR_SQLSTATE
SELECT offset_prune('positions');
SELECT "eventId" FROM projection_offset WHERE "handlerName" = 'positions' ORDER BY 1;
SELECT offset_prune('claims', CURRENT_TIMESTAMP - interval '1 hour');
SELECT offset_prune('claims', CURRENT_TIMESTAMP + interval '1 hour');
BEGIN;
SELECT offset_prune('keys', CURRENT_TIMESTAMP + interval '1 hour'), offset_reset('keys');
ROLLBACK;
SELECT offset_reset('positions');
SELECT count(*) AS positions_left FROM projection_offset_position WHERE "handlerName" = 'positions';
SELECT offset_claim_at('p-1', 'positions', 1);

-- Status, across the shards.
SELECT handler_name, offsets, first_applied_at <= last_applied_at AS ordered, checkpoint
FROM projection_offset_status ORDER BY 1;
