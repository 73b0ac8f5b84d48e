-- (p) A projector in PL/pgSQL that claims through offset_claim.
\set n random(1, :range)
SELECT bench_project_claiming_plpgsql(:pfx || :n, bench_payload(:n));
