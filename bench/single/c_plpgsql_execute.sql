-- (c) A generic apply written in PL/pgSQL, calling the projector with EXECUTE.
\set n random(1, :range)
SELECT bench_apply_plpgsql(:pfx || :n, 'bench', 'bench_project(text,jsonb)', bench_payload(:n));
