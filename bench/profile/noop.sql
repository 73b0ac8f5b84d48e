-- The floor: one prepared statement doing the same argument work and nothing else.
\set n random(1, :range)
SELECT :pfx || :n, bench_hash(bench_payload(:n));
