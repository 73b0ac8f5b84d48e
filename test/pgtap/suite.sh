#!/usr/bin/env bash
# pgTAP: the test files of test/pgtap/*.sql, run by pg_prove in a database of
# their own with the pgtap and projection_offset extensions, as a team runs
# its own projector tests. pgTAP is Debian's postgresql-NN-pgtap for the
# server's major version, pg_prove Debian's
# libtap-parser-sourcehandler-pgtap-perl; both are installed when missing
# (as root; otherwise the suite says what to install and fails).
#
# scripts/test.sh runs it against its throwaway cluster (PGHOST, PGPORT,
# PGUSER exported). Run alone, as root, with no PGHOST, it starts a
# throwaway cluster of its own on PO_PORT (default 54362) with the
# installed extension:
#     sudo bash test/pgtap/suite.sh
# Ends with "pgtap: N passed, N failed", counting pgTAP assertions.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../../scripts/common.sh"
# Runs a command where the server's packages live (inside the Debian
# environment of another PostgreSQL version when one is entered).
type pg_env >/dev/null 2>&1 || pg_env() { "$@"; }

DB=po_pgtap
LOG=$(mktemp /tmp/po_pgtap.XXXXXX)
trap 'rm -f "$LOG"' EXIT

if [ -z "${PGHOST:-}" ]; then
    require_root
    PO_PORT=${PO_PORT:-54362}
    # A cluster of its own, stopped on exit (never the caller's).
    trap 'rm -f "$LOG"; cluster_stop' EXIT
    cluster_start
fi

cannot_run() {
    echo "pgtap: cannot run: $*"
    echo "pgtap: 0 passed, 1 failed"
    exit 1
}

apt_install() {  # apt_install [pg_env] PACKAGE...
    local run=()
    [ "$1" = pg_env ] && { run=(pg_env); shift; }
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends)
    "${run[@]}" "${apt[@]}" "$@" >/dev/null 2>&1 \
        || { "${run[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null 2>&1 \
             && "${run[@]}" "${apt[@]}" "$@" >/dev/null; }
}

q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

major=$(q -d postgres -c "SELECT current_setting('server_version_num')::int / 10000") \
    || cannot_run "no server at PGHOST=${PGHOST:-} PGPORT=${PGPORT:-}"

# pgTAP in the server: the package of the server's major version.
if [ "$(q -d postgres -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'pgtap'")" = 0 ]; then
    [ "$(id -u)" = 0 ] || cannot_run "the server has no pgtap extension: install postgresql-$major-pgtap"
    echo "installing postgresql-$major-pgtap"
    apt_install pg_env "postgresql-$major-pgtap" || cannot_run "could not install postgresql-$major-pgtap"
fi
# pg_prove runs here, as a client: it needs only psql.
if ! command -v pg_prove >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || cannot_run "pg_prove not found: install libtap-parser-sourcehandler-pgtap-perl"
    echo "installing libtap-parser-sourcehandler-pgtap-perl (pg_prove)"
    apt_install libtap-parser-sourcehandler-pgtap-perl || cannot_run "could not install pg_prove"
fi

q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null \
    && q -d "$DB" -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION projection_offset" >/dev/null \
    || cannot_run "could not create database $DB with the pgtap and projection_offset extensions"
echo "pgTAP $(q -d "$DB" -c "SELECT pgtap_version()") on PostgreSQL $(q -d "$DB" -c "SHOW server_version")"

files=("$HERE"/*.sql)
pg_prove --verbose --dbname "$DB" "${files[@]}" 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}

# Assertions from the TAP stream: "ok N - ..." and "not ok N - ...". A file
# that stopped before its plan's end (an SQL error, a bad plan) counts its
# missing assertions as failed; a failing run without any of these still
# fails.
passed=$(grep -cE '^ok [0-9]+' "$LOG")
failed=$(grep -cE '^not ok [0-9]+' "$LOG")
planned=$(awk '/^1\.\.[0-9]+/ { sub(/^1\.\./, ""); n += $1 } END { print n + 0 }' "$LOG")
ran=$((passed + failed))
if [ "$planned" -gt "$ran" ]; then
    echo "$((planned - ran)) planned assertions did not run"
    failed=$((failed + planned - ran))
fi
if [ "$status" != 0 ] && [ "$failed" = 0 ]; then
    echo "pg_prove failed (exit status $status)"
    failed=1
fi
if [ "$ran" = 0 ] && [ "$failed" = 0 ]; then
    echo "no assertion ran"
    failed=1
fi
[ "$failed" = 0 ] && q -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null
echo "${#files[@]} test files, $planned assertions planned"
echo "pgtap: $passed passed, $failed failed"
[ "$failed" = 0 ]
