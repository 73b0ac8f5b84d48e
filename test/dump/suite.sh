#!/usr/bin/env bash
# pg_dump / pg_restore round trip: every offset, position and checkpoint
# survives, in custom and plain format, for a default and a non-default
# schema installation. Runs against the cluster in PGHOST/PGPORT.
set -euo pipefail

passed=0
failed=0
check() {
    local name=$1 expected=$2 actual=$3
    if [ "$expected" = "$actual" ]; then
        passed=$((passed + 1)); echo "ok - $name"
    else
        failed=$((failed + 1)); echo "not ok - $name"
        diff <(echo "$expected") <(echo "$actual") | head -20 || true
    fi
}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

snapshot() {  # db schema
    q "$1" "SELECT \"eventId\", \"handlerName\", \"appliedAt\", \"payloadHash\" FROM $2.projection_offset ORDER BY 1, 2;
            SELECT * FROM $2.projection_offset_position ORDER BY 1, 2;
            SELECT \"handlerName\", \"position\", \"updatedAt\" FROM $2.projection_offset_checkpoint ORDER BY 1;"
}

for schema in public offsets; do
    src=dump_src_$schema
    dropdb --if-exists "$src" >/dev/null 2>&1; createdb "$src"
    [ "$schema" = public ] || q "$src" "CREATE SCHEMA $schema"
    q "$src" "CREATE EXTENSION projection_offset SCHEMA $schema"
    q "$src" "CREATE FUNCTION public.noop(payload jsonb) RETURNS void LANGUAGE sql AS 'SELECT';
              SELECT $schema.offset_claim('e-' || g, 'dump-a') FROM generate_series(1, 500) g;
              SELECT $schema.offset_claim_at('e-' || g, 'dump-b', g::bigint, md5(g::text)) FROM generate_series(1, 300) g;
              SELECT $schema.offset_checkpoint('dump-b', 100);
              SELECT $schema.apply_with_offset('x-1', 'dump-c', 'public.noop(jsonb)'::regprocedure, '{\"k\": [1, 2]}');
              SELECT $schema.offset_claim('quote''s \"and\" é', 'dump-c');" >/dev/null
    before=$(snapshot "$src" "$schema")
    rows=$(q "$src" "SELECT count(*) FROM $schema.projection_offset")
    check "$schema: source has the rows written" 802 "$rows"

    for format in custom plain; do
        dst=dump_dst_${schema}_$format
        dropdb --if-exists "$dst" >/dev/null 2>&1; createdb "$dst"
        if [ "$format" = custom ]; then
            pg_dump -Fc -f "$work/$src.dump" "$src"
            pg_restore --exit-on-error -d "$dst" "$work/$src.dump"
        else
            pg_dump -Fp -f "$work/$src.sql" "$src"
            psql -X -q -v ON_ERROR_STOP=1 -d "$dst" -f "$work/$src.sql" >/dev/null
        fi
        check "$schema/$format: every offset, position and checkpoint restored" "$before" "$(snapshot "$dst" "$schema")"
        check "$schema/$format: a restored offset is a re-delivery" "f" \
            "$(q "$dst" "SELECT $schema.offset_claim('e-1', 'dump-a')")"
        check "$schema/$format: the restored checkpoint still holds" "f" \
            "$(q "$dst" "SELECT $schema.offset_claim_at('late', 'dump-b', 50)")"
        check "$schema/$format: a restored hash still detects divergence" "PJ001" \
            "$(psql -X -q -At -d "$dst" -v VERBOSITY=sqlstate -c "SELECT $schema.offset_claim_at('e-200', 'dump-b', 200, 'other')" 2>&1 | sed 's/^ERROR: *//')"
        check "$schema/$format: new claims work" "t" "$(q "$dst" "SELECT $schema.offset_claim('new', 'dump-a')")"
        dropdb "$dst"
    done
    dropdb "$src"
done

echo "dump: $passed passed, $failed failed"
[ "$failed" = 0 ]
