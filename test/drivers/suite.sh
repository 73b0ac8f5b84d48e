#!/usr/bin/env bash
# The driver suite: real client drivers call every documented function of
# projection_offset the way an application writes it (host values bound as
# parameters, no casts in the SQL text) and check each outcome in the
# database. Drivers: node-postgres 8, Prisma 7 with @prisma/adapter-pg,
# psycopg 3 (plain and prepare=True), asyncpg, pgJDBC with its default
# settings, and psql with plain literals. Each prints "ok"/"not ok" lines and
# the call shapes it tried; this script counts them and prints the table of
# call shapes and outcomes.
#
# scripts/test.sh runs it against its throwaway cluster (PGHOST, PGPORT,
# PGUSER exported). Run alone, as root, it starts a throwaway cluster of its
# own on PO_PORT (default 54356) with the installed extension:
#     sudo bash test/drivers/suite.sh
# It installs what it needs when missing: the Debian packages python3-psycopg,
# python3-asyncpg, libpostgresql-jdbc-java and a JDK, and the npm packages
# pinned in test/drivers/node/package-lock.json (npm ci).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../../scripts/common.sh"

DB=po_drivers
# Debian's python3-psycopg and python3-asyncpg are modules of Debian's python3.
PYTHON=/usr/bin/python3
JDBC_JAR=/usr/share/java/postgresql.jar
NODE_DIR=$HERE/node

WORK=$(mktemp -d /tmp/po-drivers.XXXXXX)
own_cluster=0
cleanup() {
    rm -rf "$WORK"
    if [ "$own_cluster" = 1 ]; then cluster_stop; fi
}
trap cleanup EXIT
if [ -z "${PGHOST:-}" ]; then
    require_root
    PO_PORT=${PO_PORT:-54356}
    own_cluster=1
    cluster_start
fi

passed=0
failed=0
# A driver that cannot run is a failure, with the reason in plain words.
cannot_run() {
    echo "not ok $1: cannot run: $2"
    failed=$((failed + 1))
}

# --- what the drivers need ---------------------------------------------------
need_debs=()
for p in python3-psycopg python3-asyncpg libpostgresql-jdbc-java; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_debs+=("$p")
done
command -v javac >/dev/null 2>&1 || need_debs+=(openjdk-17-jdk-headless)
command -v npm >/dev/null 2>&1 || need_debs+=(nodejs npm)
if [ ${#need_debs[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "-- installing Debian packages: ${need_debs[*]}"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need_debs[@]}"; } >"$WORK/apt.log" 2>&1 \
            || { tail -20 "$WORK/apt.log"; echo "apt-get install failed"; }
    else
        echo "-- missing Debian packages (run as root to install them): ${need_debs[*]}"
    fi
fi

# --- the database ----------------------------------------------------------------
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" \
    && psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "CREATE EXTENSION projection_offset" -f "$HERE/setup.sql" \
    || die "could not create database $DB with the extension and test/drivers/setup.sql"
[ "$(psql -X -qAt -d "$DB" -c "SELECT to_regprocedure('offset_claim_at(text,text,bigint,text)') IS NOT NULL")" = t ] \
    || die "the installed projection_offset has no offset_claim_at: the suite needs version 1.2"
export PGDATABASE=$DB

# --- running one driver -------------------------------------------------------------
# Runs the command, shows its ok/not ok lines, counts them. A driver that
# exits non-zero without a failed check (it crashed) counts one failure.
ran=()
run_driver() {
    local name=$1; shift
    echo "-- $name"
    ran+=("$WORK/$name.out")
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
    local rc=$?
    grep -E '^(ok|not ok) ' "$WORK/$name.out"
    local p f
    p=$(grep -c '^ok ' "$WORK/$name.out")
    f=$(grep -c '^not ok ' "$WORK/$name.out")
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        echo "not ok $name: exited with status $rc"
        tail -30 "$WORK/$name.err"
        failed=$((failed + 1))
    elif [ "$p" = 0 ]; then
        echo "not ok $name: ran no check"
        tail -30 "$WORK/$name.err"
        failed=$((failed + 1))
    fi
}

# --- node-postgres and Prisma ---------------------------------------------------------
node_ok=0
if ! command -v npm >/dev/null 2>&1; then
    cannot_run node-postgres "npm is not installed"
    cannot_run prisma "npm is not installed"
elif ! (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error) >"$WORK/npm.log" 2>&1; then
    tail -20 "$WORK/npm.log"
    cannot_run node-postgres "npm ci in test/drivers/node failed (output above)"
    cannot_run prisma "npm ci in test/drivers/node failed (output above)"
else
    node_ok=1
fi
if [ "$node_ok" = 1 ]; then
    rm -rf "$NODE_DIR/dist" "$NODE_DIR/generated"
    if (cd "$NODE_DIR" && npx --no-install tsc -p tsconfig.node-postgres.json) >"$WORK/tsc.log" 2>&1; then
        run_driver node-postgres node "$NODE_DIR/dist/src/run-node-postgres.js"
    else
        cat "$WORK/tsc.log"
        cannot_run node-postgres "the TypeScript build failed (output above)"
    fi

    # Prisma's CLI downloads its schema engine before it generates a client,
    # and cannot here. The generator of Prisma 7 does not run that engine,
    # and the client with a driver adapter needs no engine at all, so any
    # executable stands in for it.
    if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
        cannot_run prisma "Prisma 7 needs Node.js 20.19 or later; this is $(node --version)"
    elif ! (cd "$NODE_DIR" && CHECKPOINT_DISABLE=1 PRISMA_HIDE_UPDATE_MESSAGE=1 \
            PRISMA_SCHEMA_ENGINE_BINARY=${PRISMA_SCHEMA_ENGINE_BINARY:-/bin/true} \
            npx --no-install prisma generate) >"$WORK/prisma-generate.log" 2>&1; then
        cat "$WORK/prisma-generate.log"
        cannot_run prisma "prisma generate failed (output above), so there is no Prisma client to call"
    elif ! (cd "$NODE_DIR" && npx --no-install tsc -p tsconfig.json) >"$WORK/tsc.log" 2>&1; then
        cat "$WORK/tsc.log"
        cannot_run prisma "the TypeScript build of the generated Prisma client failed (output above)"
    else
        run_driver prisma node "$NODE_DIR/dist/src/run-prisma.js"
    fi
fi

# --- psycopg and asyncpg --------------------------------------------------------------
for d in psycopg psycopg-prepared asyncpg; do
    module=${d%-prepared}
    if ! "$PYTHON" -c "import $module" 2>"$WORK/import.err"; then
        cannot_run "$d" "$PYTHON cannot import $module ($(tail -1 "$WORK/import.err")); Debian package python3-$module"
    else
        run_driver "$d" "$PYTHON" "$HERE/python/drivers.py" "$d"
    fi
done

# --- pgJDBC ---------------------------------------------------------------------
if [ ! -r "$JDBC_JAR" ]; then
    cannot_run jdbc "$JDBC_JAR is missing (Debian package libpostgresql-jdbc-java)"
elif ! command -v javac >/dev/null 2>&1; then
    cannot_run jdbc "no javac (Debian package openjdk-17-jdk-headless)"
elif ! javac -Xlint:all -Werror -cp "$JDBC_JAR" -d "$WORK/java" "$HERE/java/Drivers.java" >"$WORK/javac.log" 2>&1; then
    cat "$WORK/javac.log"
    cannot_run jdbc "javac failed (output above)"
else
    run_driver jdbc java -cp "$JDBC_JAR:$WORK/java" Drivers
fi

# --- psql literals ---------------------------------------------------------------
run_driver psql psql -X -At -d "$DB" -f "$HERE/psql/literals.sql"

# --- the call shapes --------------------------------------------------------------
echo
echo "-- call shapes tried and their outcomes"
echo "| driver | call | bound as | outcome | checked in the database |"
echo "|---|---|---|---|---|"
[ ${#ran[@]} -gt 0 ] && cat "${ran[@]}" | awk -F'\t' '$1 == "shape" {
    gsub(/\|/, "\\|")
    printf "| %s | `%s` | %s | %s | %s |\n", $2, $3, $4, $5, $6 }'

if [ "$failed" = 0 ]; then
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB"
else
    echo "database $DB kept for inspection"
fi
echo "drivers: $passed passed, $failed failed"
[ "$failed" = 0 ]
