#!/usr/bin/env bash
# Runs every test suite against a throwaway cluster and exits non-zero on any
# failure. Usage: sudo scripts/test.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_root
ensure_packages
build_and_install

passed=0
failed=0
failures=()
suite() {
    local name=$1; shift
    say "suite: $name"
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$name"); fi
}

unit_tests() {
    cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$ROOT/build" -j2 >/dev/null
    (cd "$ROOT/build" && ctest --output-on-failure)
}

regression_tests() {
    make -C "$ROOT" -s installcheck PG_CONFIG="$PG_BIN/pg_config" \
        || { cat "$ROOT/regression.diffs" 2>/dev/null | head -200; return 1; }
}

trap cluster_stop EXIT
suite "unit tests (GoogleTest)" unit_tests
cluster_start
suite "regression tests (pg_regress)" regression_tests
# Further suites: every test/*/suite.sh, run in name order against the same
# cluster (PGHOST, PGPORT, PGUSER, CLUSTER_DIR are exported). A suite that
# must stop or crash a server starts its own with cluster_start.
# PO_FULL=1 asks suites for their full, slow sizes.
for s in "$ROOT"/test/*/suite.sh; do
    [ -e "$s" ] || continue
    suite "$(basename "$(dirname "$s")")" bash "$s"
done
cluster_stop

say "summary"
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "suites: $passed passed, $failed failed"
[ "$failed" = 0 ]
