#!/usr/bin/env bash
# Instructions per event of each way, counted by callgrind in a single-user
# backend (postgres --single): a count, not a time, so it does not move with
# the machine's load. Each way runs as a prepared statement, one transaction
# per event (per batch of 1000 for the batch forms); the figure is the
# difference between a short and a long run divided by the extra events, so
# start-up and preparation cancel out. Commit work is in every figure alike.
#
#   sudo bash bench/instructions.sh [--events N] [--no-build] [--pg MAJOR]
#
# --pg 17 or --pg 18 counts on that version, in its Debian environment
# (scripts/pgversion.sh: built on first use, then reused), with this
# checkout built there; valgrind is installed into the environment if
# missing. Without it, PostgreSQL 15, the host's.
#
# Prints a table with the ratio of each way to (b) (single events) or to
# set-based SQL (batches): a ratio above 1 means fewer instructions than the
# hand-written SQL. Writes bench/out/instructions.txt.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../scripts/common.sh
source "$BENCH/../scripts/common.sh"

EVENTS=1000
BUILD=1
VERSION=$PG_MAJOR
ARGS=("$@")
while [ $# -gt 0 ]; do
    case $1 in
        --events) EVENTS=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --pg) VERSION=$2; shift 2 ;;
        *) die "unknown option $1" ;;
    esac
done

require_root
ensure_packages
bench_version "$VERSION" "$0" "${ARGS[@]}"
# valgrind where the server runs: on the host, or in the environment.
if ! pg_env dpkg-query -W -f='${Status}' valgrind 2>/dev/null | grep -q 'install ok installed'; then
    say "installing valgrind${PO_PG_ENV:+ into the environment of PostgreSQL $PG_MAJOR}"
    pg_env env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null \
        || { pg_env apt-get update -qq && pg_env env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq --no-install-recommends valgrind >/dev/null; } \
        || die "could not install valgrind"
fi
trap 'cluster_stop; bench_cleanup' EXIT
bench_install "$BUILD"

OUT=$BENCH/out
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/po_instructions.XXXXXX)
chmod 777 "$WORK"
export PO_PORT=${PO_PORT:-54374}
trap 'cluster_stop; bench_cleanup; rm -rf "$WORK"' EXIT
cluster_start "shared_buffers = 256MB" "synchronous_commit = off" "autovacuum = off" "jit = off" >/dev/null
createdb bench
psql -qX -d bench -v ON_ERROR_STOP=1 -f "$BENCH/setup.sql" >/dev/null
DATA=$CLUSTER_DIR/data
as_os_user pg_ctl -D "$DATA" -m fast -w stop >/dev/null

# The statement of each way, prepared as s(text, bigint): $1 the event id
# prefix, $2 the event number (the first event of a block for batches).
batch_events='(SELECT jsonb_agg(jsonb_build_object('"'event_id'"', $1 || n, '"'payload'"', bench_payload(n))) FROM generate_series($2 + 1, $2 + 1000) n)'
prepared() {
    local body
    case $1 in
        b) body=$(sed -e '/^\\set/d' -e '/^--/d' "$BENCH/single/b_cte.sql" | tr '\n' ' ' \
               | sed -e 's/:pfx/$1/g; s/:n/$2/g; s/:ord/($2 % 100000)/g; s/:amt/($2 % 100 + 1)/g') ;;
        d) body="SELECT apply_with_offset(\$1 || \$2, 'bench', 'bench_project(text,jsonb)', bench_payload(\$2))" ;;
        ds|du) body="SELECT apply_with_offset(\$1 || \$2, 'bench', 'bench_project_sql(text,jsonb)', bench_payload(\$2))" ;;
        p) body="SELECT bench_project_claiming_plpgsql(\$1 || \$2, bench_payload(\$2))" ;;
        e) body="SELECT bench_project_claiming(\$1 || \$2, bench_payload(\$2))" ;;
        set) body=$(sed -e '/^\\set/d' -e '/^--/d' "$BENCH/batch/set_based.sql" | tr '\n' ' ' \
               | sed -e 's/:pfx/$1/g; s/:base::bigint/$2/g') ;;
        batch) body="SELECT apply_with_offset_batch('bench', 'bench_project(text,jsonb)', $batch_events)" ;;
        bset) body="SELECT apply_with_offset_batch('bench', 'bench_project_batch(text[],jsonb[])', $batch_events)" ;;
    esac
    echo "PREPARE s(text, bigint) AS $body"
}

# The server program as valgrind runs it: the private copy's on the host,
# the environment's own inside it.
postgres_program() {
    if [ -n "${PO_PG_ENV:-}" ]; then echo "/usr/lib/postgresql/$PG_MAJOR/bin/postgres"; else echo "$PG_BIN/postgres"; fi
}

# Instructions of one single-user run of `calls` executions.
count() {  # way calls prefix
    local way=$1 calls=$2 prefix=$3 step=1 options=
    case $way in set|batch|bset) step=1000 ;; esac
    [ "$way" = du ] && options="-c projection_offset.cache_sql_projectors=off"
    local input=$WORK/$way-$calls-$prefix.sql log=$WORK/$way-$calls-$prefix.log
    { prepared "$way"; for i in $(seq 0 $((calls - 1))); do echo "EXECUTE s('$way-$prefix-', $((i * step)))"; done; } >"$input"
    # shellcheck disable=SC2086 # options are words
    pg_env runuser -u "$PO_OS_USER" -- valgrind --tool=callgrind \
        --callgrind-out-file="$WORK/callgrind.$way.$calls.$prefix" \
        "$(postgres_program)" --single -D "$DATA" $options bench <"$input" >"$log" 2>&1
    if grep -q ERROR "$log"; then grep -m1 ERROR "$log" >&2; die "$way failed"; fi
    awk '/Collected :/ {print $4}' "$log"
}

# Instructions per event: (long run - short run) / extra events.
per_event() {  # way prefix (the same prefix again: re-deliveries)
    local way=$1 prefix=$2 short=$((EVENTS / 5)) long=$EVENTS per=1
    case $way in set|batch|bset) short=2; long=$((2 + EVENTS / 100)); per=1000 ;; esac
    local a b
    a=$(count "$way" "$short" "$prefix-s")
    b=$(count "$way" "$long" "$prefix-l")
    echo $(( (b - a) / ((long - short) * per) ))
}

declare -A fresh redelivered
for way in b d ds du p e set batch bset; do
    fresh[$way]=$(per_event "$way" f)
    case $way in set|batch|bset) redelivered[$way]=$(per_event "$way" f) ;; esac
    echo "  $way: ${fresh[$way]} instructions per fresh event" >&2
done

label() {
    case $1 in
        b) echo "(b) one-statement CTE" ;;
        d) echo "(d) apply_with_offset, PL/pgSQL projector" ;;
        ds) echo "(ds) apply_with_offset, SQL projector" ;;
        du) echo "(du) the same, plans not kept" ;;
        p) echo "(p) PL/pgSQL projector + offset_claim" ;;
        e) echo "(e) SQL projector + offset_claim" ;;
        set) echo "set-based INSERT..SELECT + UPDATE" ;;
        batch) echo "apply_with_offset_batch, per-event projector" ;;
        bset) echo "apply_with_offset_batch, set projector" ;;
    esac
}
{
    echo "instructions per event, callgrind, PostgreSQL $(pg_env "$(dirname "$(postgres_program)")/postgres" --version | awk '{print $3}'), single-user backend"
    echo "(ratio = hand-written / way: above 1, the way needs fewer instructions)"
    echo
    printf '| %-46s | %12s | %7s | %14s | %7s |\n' way fresh ratio re-delivered ratio
    printf '|%s|%s|%s|%s|%s|\n' "------------------------------------------------" "--------------" "---------" "----------------" "---------"
    for way in b d ds du p e set batch bset; do
        ref=b; case $way in set|batch|bset) ref=set ;; esac
        f=${fresh[$way]}; r=${redelivered[$way]:-}
        fr=$(awk -v a="${fresh[$ref]}" -v b="$f" 'BEGIN {printf "%.2f", a / b}')
        rr=; [ -n "$r" ] && rr=$(awk -v a="${redelivered[$ref]}" -v b="$r" 'BEGIN {printf "%.2f", a / b}')
        printf '| %-46s | %12s | %7s | %14s | %7s |\n' "$(label "$way")" "$f" "$fr" "${r:--}" "${rr:--}"
    done
} | tee "$OUT/instructions.txt"
