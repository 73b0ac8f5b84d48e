-- (ds) The extension with a LANGUAGE sql projector; (du) runs this script
-- with projection_offset.cache_sql_projectors = off.
\set n random(1, :range)
SELECT apply_with_offset(:pfx || :n, 'bench', 'bench_project_sql(text,jsonb)', bench_payload(:n));
