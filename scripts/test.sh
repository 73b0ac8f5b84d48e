#!/usr/bin/env bash
# Runs every test suite on every supported PostgreSQL version and exits
# non-zero on any failure.
#     sudo bash scripts/test.sh             PostgreSQL 15, 17 and 18
#     sudo bash scripts/test.sh 15 18       the versions named
# (or PO_PG_VERSIONS="15 17"). PO_FULL=1 asks suites for their full sizes.
#
# PostgreSQL 15, the host's: the extension is built and installed with make,
# the C++ suites run (unit tests, fuzzing, sanitizers: they do not depend on
# the server version, so they run here only), then `make installcheck`'s
# regression tests and every test/*/suite.sh against a throwaway cluster;
# then the Debian package is built, installed in place of the make-installed
# files, checked in a new cluster, and removed again. The host's PostgreSQL
# tree is shared with other checkouts: this part holds /tmp/po-pg15.lock.
#
# PostgreSQL 17 and 18, each in its Debian environment (scripts/pgversion.sh;
# built on first use, a few minutes, then reused): the Debian package is
# built with that version's PGXS (pg_buildext), installed, and checked in a
# new cluster; then, against the installed package on a throwaway cluster,
# the regression tests and the same test/*/suite.sh as on 15 (isolation,
# crash, dump, drivers, node-client, memory, stress, ...). Host programs (the
# suites, Node.js, libpq clients) reach the environment's server through its
# socket in /tmp.
#
# PO_SUITES="isolation dump" runs only the suites named (after the
# regression tests); the C++ suites run whenever 15 is among the versions.
#
# Prints the time and a summary per version, and at the end
# "suites: N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$ROOT/scripts/package.sh"
require_root

# shellcheck disable=SC2206 # version lists are words
VERSIONS=(${PO_PG_VERSIONS:-15 17 18})
[ $# -eq 0 ] || VERSIONS=("$@")
# Suites that test the C++ core alone: run once, whatever the version.
CPP_SUITES=" fuzz sanitizers "

RESULTS=$(mktemp /tmp/po_test_results.XXXXXX)
WORK=$(mktemp -d /tmp/po_test.XXXXXX)
trap 'cluster_stop; pg15_unlock; rm -rf "$WORK"' EXIT

record() { printf '%s\t%s\t%s\t%s\n' "$PG_MAJOR" "$1" "$2" "$3" >>"$RESULTS"; }

# suite NAME COMMAND...: runs one suite and records its outcome and time.
suite() {
    local name=$1 start=$SECONDS status=0; shift
    say "suite: $name (PostgreSQL $PG_MAJOR)"
    "$@" || status=$?
    if [ "$status" = 0 ]; then record "$name" passed $((SECONDS - start)); else record "$name" FAILED $((SECONDS - start)); fi
    return 0
}

unit_tests() {
    cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null \
        && cmake --build "$ROOT/build" -j2 >/dev/null \
        && (cd "$ROOT/build" && ctest --output-on-failure)
}

# make installcheck's regression tests (its isolation specs are the
# isolation suite), as an unprivileged user.
regression_tests() { pgxs_installcheck regression ISOLATION=; }

# Builds the package, installs and checks it; the package stays installed
# for the suites that follow (in an environment of their own).
package_suite() {
    # A package left installed by an earlier run must not stand in for this
    # build if it fails.
    pg_env dpkg --purge "postgresql-$PG_MAJOR-projection-offset" >/dev/null 2>&1
    package_build "$WORK/deb-$PG_MAJOR" && package_check "$PACKAGE_DEB"
}

# On the host: the package replaces the make-installed files for the check,
# then goes, and make puts the checkout's build back.
host_package_suite() {
    local status=0
    package_check "$PACKAGE_DEB" || status=$?
    package_remove "$PACKAGE_DEB" || { echo "could not remove the package"; status=1; }
    make -C "$ROOT" -s install PG_CONFIG="$PG_CONFIG" >/dev/null || status=1
    return "$status"
}

# The regression tests, then every test/*/suite.sh but the C++ ones, in
# name order, against one throwaway cluster (PGHOST, PGPORT, PGUSER,
# CLUSTER_DIR are exported). A suite that must stop or crash a server starts
# its own with cluster_start. PO_SUITES, if set, names the suites to run.
server_suites() {
    local s name
    cluster_start
    echo "server: $(psql -X -At -d postgres -c 'SELECT version()')"
    suite "regression" regression_tests
    for s in "$ROOT"/test/*/suite.sh; do
        name=$(basename "$(dirname "$s")")
        [[ $CPP_SUITES == *" $name "* ]] && continue
        [ -z "${PO_SUITES:-}" ] || [[ " $PO_SUITES " == *" $name "* ]] || continue
        suite "$name" bash "$s"
    done
    cluster_stop
}

host_version() {
    suite "unit tests (GoogleTest)" unit_tests
    local s name
    for s in "$ROOT"/test/*/suite.sh; do
        name=$(basename "$(dirname "$s")")
        [[ $CPP_SUITES == *" $name "* ]] && suite "$name" bash "$s"
    done
    mkdir -p "$WORK/deb-$PG_MAJOR"
    package_build "$WORK/deb-$PG_MAJOR" || record "package build" FAILED 0

    local wait_start=$SECONDS
    pg15_lock
    LOCK_WAIT=$((SECONDS - wait_start))
    if ! build_and_install; then
        record "build and install" FAILED 0
        pg15_unlock
        return
    fi
    server_suites
    if [ -n "${PACKAGE_DEB:-}" ]; then suite "package" host_package_suite; fi
    pg15_unlock
}

# Runs in a subshell: leaving it stops the cluster and unmounts.
env_version() (
    PGV_EXIT_HOOK=cluster_stop
    pgv_enter "$1" "$ROOT"
    mkdir -p "$WORK/deb-$PG_MAJOR"
    suite "package" package_suite
    if [ -z "$(pg_env dpkg-query -W -f='${Status}' "postgresql-$PG_MAJOR-projection-offset" 2>/dev/null | grep 'ok installed')" ]; then
        echo "the package is not installed: no other suite can run on PostgreSQL $PG_MAJOR"
        record "suites after the package" FAILED 0
        exit 0
    fi
    server_suites
)

ensure_packages
LOCK_WAIT=0
declare -A SECONDS_OF
for v in "${VERSIONS[@]}"; do
    say "PostgreSQL $v"
    start=$SECONDS
    if [ "$v" = "$HOST_PG_MAJOR" ]; then
        host_version
    else
        env_version "$v" || PG_MAJOR=$v record "environment" FAILED 0
    fi
    SECONDS_OF[$v]=$((SECONDS - start))
done

say "summary"
passed=0
failed=0
for v in "${VERSIONS[@]}"; do
    p=$(awk -F'\t' -v v="$v" '$1 == v && $3 == "passed"' "$RESULTS" | wc -l)
    f=$(awk -F'\t' -v v="$v" '$1 == v && $3 != "passed"' "$RESULTS" | wc -l)
    printf 'PostgreSQL %s: %d passed, %d failed in %d min %02d s' "$v" "$p" "$f" \
        $((SECONDS_OF[$v] / 60)) $((SECONDS_OF[$v] % 60))
    if [ "$v" = "$HOST_PG_MAJOR" ] && [ "$LOCK_WAIT" -gt 0 ]; then
        printf ' (of which %d s waiting for %s)' "$LOCK_WAIT" "$PO_PG15_LOCK"
    fi
    echo
    awk -F'\t' -v v="$v" '$1 == v { printf "    %-8s %-26s %4d s\n", $3, $2, $4 }' "$RESULTS"
    passed=$((passed + p))
    failed=$((failed + f))
done
rm -f "$RESULTS"
printf 'total time: %d min %02d s\n' $((SECONDS / 60)) $((SECONDS % 60))
echo "suites: $passed passed, $failed failed"
[ "$failed" = 0 ]
