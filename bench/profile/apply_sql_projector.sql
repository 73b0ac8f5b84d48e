-- apply_with_offset with the projector written in LANGUAGE sql.
\set n random(1, :range)
SELECT apply_with_offset(:pfx || :n, 'bench', 'bench_project_sql(text,jsonb)', bench_payload(:n));
