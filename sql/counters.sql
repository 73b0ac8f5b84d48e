-- Per-handler counters in shared memory (projection_offset in
-- shared_preload_libraries; expected/counters_1.out is the result without).
SELECT projection_offset_counters_reset();
SELECT offset_claim('k-1', 'counted');
SELECT offset_claim('k-1', 'counted');
SELECT offset_claim('k-2', 'counted', 'hash-a');
SELECT offset_claim('k-2', 'counted', 'hash-b');
SELECT * FROM offset_claim_batch(ARRAY['k-3', 'k-4', 'k-1', 'k-3'], 'counted');
SELECT handler_name, claims, duplicates, divergences, stats_reset <= now() AS reset_known
FROM projection_offset_counters() WHERE handler_name = 'counted';
-- They count calls, so a rolled-back claim still counts.
BEGIN;
SELECT offset_claim('k-5', 'counted');
ROLLBACK;
SELECT claims FROM projection_offset_counters() WHERE handler_name = 'counted';
SELECT projection_offset_counters_reset();
SELECT count(*) FROM projection_offset_counters();
