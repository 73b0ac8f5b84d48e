-- (e) A projector in LANGUAGE sql that claims through offset_claim.
\set n random(1, :range)
SELECT bench_project_claiming(:pfx || :n, bench_payload(:n));
