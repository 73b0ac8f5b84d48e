-- Batch: the extension's batch apply, 1000 events per call.
-- Variables: pfx, blocks (event numbers base+1 .. base+1000, base = 1000 * random(0, blocks - 1)).
\set base 1000 * random(0, :blocks - 1)
SELECT apply_with_offset_batch(
    handler_name => 'bench',
    projector => 'bench_project(text,jsonb)',
    events => (SELECT jsonb_agg(jsonb_build_object('event_id', :pfx || n, 'payload', bench_payload(n)))
                 FROM generate_series(:base::bigint + 1, :base::bigint + 1000) n));
