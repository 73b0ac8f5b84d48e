# Shared by test/stress/suite.sh and test/crash/suite.sh: builds the driver
# and prepares a database for it. Source scripts/common.sh first.
# shellcheck shell=bash

STRESS_SRC="$ROOT/test/stress"
STRESS_BUILD=${PO_STRESS_BUILD:-$ROOT/build-stress}
STRESS_BIN="$STRESS_BUILD/po_stress"

# Compiles test/stress/stress.cpp against libpq when the binary is missing
# or older than the source.
build_driver() {
    mkdir -p "$STRESS_BUILD" || return 1
    if [ ! -x "$STRESS_BIN" ] || [ "$STRESS_SRC/stress.cpp" -nt "$STRESS_BIN" ]; then
        local tmp="$STRESS_BIN.$$"
        g++ -std=c++17 -O2 -Wall -Wextra -pthread -I"$("$PG_BIN/pg_config" --includedir)" \
            "$STRESS_SRC/stress.cpp" -L"$("$PG_BIN/pg_config" --libdir)" -lpq -o "$tmp" \
            && mv -f "$tmp" "$STRESS_BIN" || { rm -f "$tmp"; return 1; }
    fi
}

# prepare_db DB: (re)creates DB with the extension and the suite's schema;
# prepare_schema DB EVENTS: (re)seeds the counters for EVENTS events.
prepare_db() {
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" \
        && psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c "CREATE EXTENSION projection_offset"
}

prepare_schema() {
    psql -X -q -v ON_ERROR_STOP=1 -d "$1" -v events="$2" -f "$STRESS_SRC/schema.sql"
}
