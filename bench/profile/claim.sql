-- offset_claim alone, with a payload hash, as one statement.
\set n random(1, :range)
SELECT offset_claim(:pfx || :n, 'bench', bench_hash(bench_payload(:n)));
