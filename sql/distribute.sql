-- Without Citus in the database, projection_offset_distribute() refuses
-- plainly and changes nothing; projection_offset_undistribute() has
-- nothing to undo.
\set VERBOSITY default
-- A zone far from the suite's: the times below compare in it.
SET TimeZone = 'Asia/Tokyo';
SELECT projection_offset_distribute();
\echo :LAST_ERROR_SQLSTATE
SELECT projection_offset_undistribute();
SELECT offset_claim('d-1', 'distribute') AS still_claims;
-- Both are for the extension's owner only.
CREATE ROLE regress_distribute_nobody;
SET ROLE regress_distribute_nobody;
SELECT projection_offset_distribute();
SELECT projection_offset_undistribute();
RESET ROLE;
DROP ROLE regress_distribute_nobody;
-- Checkpoint and age-based prune take their times from the caller: the
-- checkpoint's "updatedAt" is the transaction's start, as the column
-- default gives it, and the cut-off compares in the session's time zone,
-- in which the offsets were stored.
SELECT offset_claim('d-2', 'distribute');
BEGIN;
SELECT offset_checkpoint('distribute', 3) AS cp;
SELECT "updatedAt" = CURRENT_TIMESTAMP::timestamp(3) AS updated_now
FROM projection_offset_checkpoint WHERE "handlerName" = 'distribute';
SELECT offset_checkpoint('distribute', 2) AS cp_kept;
SELECT offset_prune('distribute', CURRENT_TIMESTAMP - interval '1 hour') AS pruned_none,
       offset_prune('distribute', CURRENT_TIMESTAMP + interval '1 hour') AS pruned_both;
ROLLBACK;
RESET TimeZone;
SELECT offset_reset('distribute');
