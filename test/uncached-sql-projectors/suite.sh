#!/usr/bin/env bash
# The whole regression suite again with projection_offset.cache_sql_projectors
# off, so that every LANGUAGE sql projector runs through PostgreSQL's SQL
# function handler instead of the extension's kept plans. Both runs compare
# against the same expected files: the kept plans change no result, no
# error, no SQLSTATE and no context line.
# Runs against the cluster in PGHOST/PGPORT (scripts/test.sh exports them).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$ROOT/scripts/common.sh"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
PGOPTIONS="-c projection_offset.cache_sql_projectors=off" \
    make -C "$ROOT" -s installcheck PG_CONFIG="$PG_BIN/pg_config" >"$log" 2>&1
status=$?
grep -E '^(ok|not ok|test) ' "$log"
passed=$(grep -cE '^(ok +[0-9]+ +-|test .* \.\.\. ok)' "$log")
failed=$(grep -cE '^(not ok|test .* \.\.\. FAILED)' "$log")
if [ "$status" -ne 0 ]; then
    cat "$ROOT/regression.diffs" 2>/dev/null | head -200
    [ "$failed" -gt 0 ] || failed=1
fi
echo "uncached-sql-projectors: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
