#!/usr/bin/env bash
# Concurrency specs: pg_isolation_regress runs test/isolation/specs/*.spec
# and compares each output with test/isolation/expected/*.out.
#
# scripts/test.sh runs it against its throwaway cluster (PGHOST, PGPORT,
# PGUSER exported). Run alone, as root, it starts a throwaway cluster of its
# own on PO_PORT (default 54352) with the installed extension:
#     sudo bash test/isolation/suite.sh
# The specs take no measurable time to wait: every interleaving is forced by
# the isolation tester through lock waits, never by sleeps.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../../scripts/common.sh"

ISOLATION_REGRESS=${ISOLATION_REGRESS:-$("$PG_BIN/pg_config" --pkglibdir)/pgxs/src/test/isolation/pg_isolation_regress}
DB=po_isolation

if [ -z "${PGHOST:-}" ]; then
    require_root
    PO_PORT=${PO_PORT:-54352}
    trap cluster_stop EXIT
    cluster_start
fi
[ -x "$ISOLATION_REGRESS" ] || die "pg_isolation_regress not found at $ISOLATION_REGRESS (package postgresql-server-dev-$PG_MAJOR)"

OUT=$(mktemp -d /tmp/po_isolation.XXXXXX)
chmod 755 "$OUT"

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" \
    && psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "CREATE EXTENSION projection_offset" \
    || die "could not create database $DB"

tests=()
for spec in "$HERE"/specs/*.spec; do
    tests+=("$(basename "$spec" .spec)")
done

"$ISOLATION_REGRESS" --use-existing --dbname="$DB" --bindir="$PG_BIN" \
    --inputdir="$HERE" --outputdir="$OUT" "${tests[@]}" | tee "$OUT/run.log"
status=${PIPESTATUS[0]}

# Each test reports one line: "test NAME ... ok" or "test NAME ... FAILED".
passed=$(grep -cE '^test +[^ ]+ +\.\.\. +ok ' "$OUT/run.log")
failed=$(( ${#tests[@]} - passed ))
if [ "$failed" -ne 0 ] || [ "$status" -ne 0 ]; then
    [ -f "$OUT/regression.diffs" ] && cat "$OUT/regression.diffs"
    echo "outputs kept in $OUT"
    [ "$failed" -ne 0 ] || failed=1
else
    rm -rf "$OUT"
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB"
fi
echo "isolation: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
