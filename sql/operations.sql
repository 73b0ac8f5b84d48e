-- Operations: releasing, resetting and pruning offsets, checkpoints, the
-- status view and the replay setting.
CREATE TABLE ops_applied (event_id text, handler text);
CREATE FUNCTION ops_projector(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO ops_applied VALUES (event_id, payload->>'handler') $$;

SELECT offset_claim('r-' || g, 'ops-a') FROM generate_series(1, 3) g;
SELECT offset_claim('r-' || g, 'ops-b') FROM generate_series(1, 2) g;

-- offset_release forgets one offset: the next delivery applies again.
SELECT offset_release('r-1', 'ops-a');
SELECT offset_release('r-1', 'ops-a');
SELECT offset_claim('r-1', 'ops-a');

-- offset_reset forgets a whole handler, and nothing of another one.
SELECT offset_reset('ops-a');
SELECT handler_name, offsets FROM projection_offset_status WHERE handler_name LIKE 'ops-%' ORDER BY 1;

-- offset_prune removes offsets applied before a time.
UPDATE projection_offset SET "appliedAt" = '2020-01-01' WHERE "handlerName" = 'ops-b' AND "eventId" = 'r-1';
SELECT offset_prune('ops-b', '2021-01-01');
SELECT "eventId" FROM projection_offset WHERE "handlerName" = 'ops-b';

-- Checkpoints: claims carry a position; at or below the checkpoint they are
-- duplicates and store nothing.
SELECT offset_claim_at('p-' || g, 'ops-c', g) FROM generate_series(1, 5) g;
SELECT offset_checkpoint('ops-c', 3);
SELECT offset_checkpoint('ops-c', 2);  -- never moves back
SELECT offset_claim_at('p-late', 'ops-c', 2);
SELECT offset_claim_at('p-6', 'ops-c', 6);
SELECT count(*) AS late_rows FROM projection_offset WHERE "eventId" = 'p-late';
-- Offsets at or below the checkpoint can then be pruned, without opening a
-- hole: a late re-delivery of p-2, with its position, is still a duplicate.
SELECT offset_prune('ops-c');
SELECT "eventId" FROM projection_offset WHERE "handlerName" = 'ops-c' ORDER BY 1;
SELECT offset_claim_at('p-2', 'ops-c', 2);
SELECT count(*) AS position_rows FROM projection_offset_position WHERE "handlerName" = 'ops-c';
SELECT handler_name, offsets, checkpoint FROM projection_offset_status WHERE handler_name = 'ops-c';
SELECT first_applied_at <= last_applied_at AS ordered FROM projection_offset_status WHERE handler_name = 'ops-c';

-- Positions in batches: below the checkpoint is skipped.
SELECT apply_with_offset_batch('ops-c', 'ops_projector(text,jsonb)',
    '[{"event_id": "p-3", "position": 3, "payload": {"handler": "ops-c"}},
      {"event_id": "p-7", "position": 7, "payload": {"handler": "ops-c"}}]'::jsonb);
SELECT event_id FROM ops_applied;

-- A positioned claim keeps comparing hashes above the checkpoint.
SELECT offset_claim_at('p-7', 'ops-c', 7, 'not-the-hash');
\echo :LAST_ERROR_SQLSTATE

-- Below the checkpoint, a row not yet pruned still has its hash compared.
SELECT offset_claim_at('p-8', 'ops-c', 8, 'hash-8'), offset_checkpoint('ops-c', 9);
SELECT offset_claim_at('p-8', 'ops-c', 8, 'hash-8');
SELECT offset_claim_at('p-8', 'ops-c', 8, 'other-hash');
\echo :LAST_ERROR_SQLSTATE

-- Resetting a handler drops its checkpoint too, so a rebuild applies all.
SELECT offset_reset('ops-c');
SELECT offset_claim_at('p-1', 'ops-c', 1);
SELECT count(*) AS checkpoints FROM projection_offset_checkpoint WHERE "handlerName" = 'ops-c';

-- Bad input.
SELECT offset_release(NULL, 'ops-a');
SELECT offset_reset('');
SELECT offset_prune('ops-b', NULL);
SELECT offset_checkpoint('ops-c', NULL);
SELECT offset_claim_at('p-9', 'ops-c', NULL::bigint);

-- The replay setting: off by default, set by a rebuild, read by projectors.
SHOW projection_offset.replaying;
CREATE FUNCTION notify_unless_replaying(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT current_setting('projection_offset.replaying')::boolean THEN
        RAISE NOTICE 'side effect for %', event_id;
    END IF;
END
$$;
SELECT apply_with_offset('g-1', 'ops-replay', 'notify_unless_replaying(text,jsonb)'::regprocedure);
BEGIN;
SET LOCAL projection_offset.replaying = on;
SELECT offset_reset('ops-replay');
SELECT apply_with_offset('g-1', 'ops-replay', 'notify_unless_replaying(text,jsonb)'::regprocedure);
COMMIT;
SHOW projection_offset.replaying;
SET projection_offset.no_such_setting = 1;
