#!/usr/bin/env bash
# The whole regression suite again with projection_offset.cache_sql_projectors
# off, so that every LANGUAGE sql projector runs through PostgreSQL's SQL
# function handler instead of the extension's kept plans. Both runs compare
# against the same expected files: the kept plans change no result, no
# error, no SQLSTATE and no context line.
# Runs against the cluster in PGHOST/PGPORT (scripts/test.sh exports them),
# through `make installcheck` with the version's own PGXS (see
# pgxs_installcheck in scripts/common.sh).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$ROOT/scripts/common.sh"

PGOPTIONS="${PGOPTIONS:+$PGOPTIONS }-c projection_offset.cache_sql_projectors=off" \
    pgxs_installcheck uncached-sql-projectors ISOLATION=
