-- (d) The extension: claim and projector call in one function.
\set n random(1, :range)
SELECT apply_with_offset(:pfx || :n, 'bench', 'bench_project(text,jsonb)', bench_payload(:n));
