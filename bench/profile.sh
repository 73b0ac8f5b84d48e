#!/usr/bin/env bash
# Where the time of offset_claim and apply_with_offset goes, on a throwaway
# cluster:
#   1. perf record (CPU-clock samples) of one backend serving one pgbench
#      client, -M prepared: calls/s and the hottest functions, self time.
#   2. valgrind --tool=callgrind on a single-user backend (postgres --single)
#      running the call N times, one transaction each, collecting only
#      inside the extension's C function: instructions per call (the
#      difference of two runs, so first-call setup is excluded) and their
#      split over the functions it calls.
#
#   sudo bash bench/profile.sh [--duration S] [--calls N] [--no-build] [--no-perf]
#
# Reports go to bench/out/profile-<case>.txt and bench/out/callgrind.txt.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../scripts/common.sh
source "$BENCH/../scripts/common.sh"

DURATION=6
CALLS=2000
BUILD=1
PERF=1
while [ $# -gt 0 ]; do
    case $1 in
        --duration) DURATION=$2; shift 2 ;;
        --calls) CALLS=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --no-perf) PERF=0; shift ;;
        *) die "unknown option $1" ;;
    esac
done

require_root
ensure_packages
for pkg in valgrind linux-perf; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' && continue
    say "installing $pkg"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null; } \
        || echo "could not install $pkg"
done
command -v valgrind >/dev/null || die "valgrind not found (Debian package valgrind)"
if [ "$PERF" = 1 ] && ! perf record -q -o /dev/null -- true >/dev/null 2>&1; then
    echo "perf cannot record here: callgrind only"; PERF=0
fi
trap 'cluster_stop; bench_cleanup' EXIT
bench_install "$BUILD"

OUT=$BENCH/out
mkdir -p "$OUT"
export PO_PORT=${PO_PORT:-54373}
cluster_start "shared_buffers = 256MB" "synchronous_commit = off" "autovacuum = off" "jit = off" \
    "max_wal_size = 4GB" "checkpoint_timeout = 30min"
createdb bench
psql -qX -d bench -v ON_ERROR_STOP=1 -f "$BENCH/setup.sql" >/dev/null


profile_case() {
    local name=$1 script=$2 pfx=$3 range=$4
    local report=$OUT/profile-$name.txt data=$OUT/perf-$name.data
    psql -qAtX -d bench -c "SELECT bench_reset()" -c "VACUUM ANALYZE projection_offset" -c CHECKPOINT >/dev/null
    # Calls/s without the profiler, then a profiled run.
    pgbench -n -M prepared -c 1 -T "$DURATION" -D pfx="$pfx" -D range="$range" -D blocks="$range" \
        -f "$script" bench >"$OUT/pgbench-$name.log" 2>&1
    pgbench -n -M prepared -c 1 -T $((DURATION + 3)) -D pfx="$pfx" -D range="$range" -D blocks="$range" \
        -f "$script" bench >/dev/null 2>&1 &
    local bench_pid=$!
    sleep 1.5
    local pid
    pid=$(psql -qAtX -d bench -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' LIMIT 1")
    [ -n "$pid" ] || die "no pgbench backend found"
    perf record -q -F 1999 -p "$pid" -o "$data" -- sleep "$DURATION" 2>/dev/null
    wait "$bench_pid" || true
    {
        echo "== $name: $(sed -n 's/^-- //p' "$script" | head -1)"
        echo "script $script, events ${pfx}*, 1 client, -M prepared"
        printf 'calls/s %.0f (without the profiler)\n\n' "$(awk '/^tps = / {print $3}' "$OUT/pgbench-$name.log")"
        echo "-- self time, top 30 (CPU-clock samples of the backend)"
        perf report -i "$data" --stdio --no-children --sort dso,symbol --percent-limit 0.3 2>/dev/null \
            | grep -E '^ +[0-9]' | sed 's/ \{2,\}/  /g' | head -30
    } >"$report"
    cat "$report"
    echo
}

single=$BENCH/single
if [ "$PERF" = 1 ]; then
    profile_case noop-fresh "$BENCH/profile/noop.sql" f- 1000000000000000
    profile_case claim-fresh "$BENCH/profile/claim.sql" f- 1000000000000000
    profile_case claim-redelivery "$BENCH/profile/claim.sql" r- 100000
    profile_case apply-fresh "$single/d_apply_with_offset.sql" f- 1000000000000000
    profile_case apply-redelivery "$single/d_apply_with_offset.sql" r- 100000
    profile_case apply-sqlprojector-fresh "$BENCH/profile/apply_sql_projector.sql" f- 1000000000000000
    profile_case cte-fresh "$single/b_cte.sql" f- 1000000000000000
    profile_case cte-redelivery "$single/b_cte.sql" r- 100000
fi
HAVE_BATCH=$(psql -qAtX -d bench -c "SELECT to_regprocedure('apply_with_offset_batch(text,regprocedure,jsonb)') IS NOT NULL")
psql -qAtX -d bench -c "SELECT bench_reset()" -c "VACUUM ANALYZE" -c CHECKPOINT >/dev/null

# Callgrind: the cluster is stopped and its data directory served by a
# single-user backend, one statement (one transaction) per input line.
as_os_user pg_ctl -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null
CG=$OUT/callgrind
rm -rf "$CG"; mkdir -p "$CG"; chown "$PO_OS_USER" "$CG"

# statement_for KIND N: one line of SQL for event number N.
statement_for() {
    case $1 in
        apply-fresh) echo "SELECT apply_with_offset('fa-$2', 'bench', 'bench_project(text,jsonb)', bench_payload($2))" ;;
        apply-redelivery) echo "SELECT apply_with_offset('r-$2', 'bench', 'bench_project(text,jsonb)', bench_payload($2))" ;;
        apply-sqlprojector-fresh) echo "SELECT apply_with_offset('fs-$2', 'bench', 'bench_project_sql(text,jsonb)', bench_payload($2))" ;;
        claim-fresh) echo "SELECT offset_claim('fc-$2', 'bench', bench_hash(bench_payload($2)))" ;;
        claim-redelivery) echo "SELECT offset_claim('r-$2', 'bench', bench_hash(bench_payload($2)))" ;;
        claim-nohash-fresh) echo "SELECT offset_claim('fn-$2', 'bench')" ;;
        batch-apply-fresh) echo "SELECT apply_with_offset_batch(handler_name => 'bench', projector => 'bench_project(text,jsonb)', events => (SELECT jsonb_agg(jsonb_build_object('event_id', 'fb-' || n, 'payload', bench_payload(n))) FROM generate_series($2 * 1000 + 1, $2 * 1000 + 1000) n))" ;;
        batch-apply-redelivery) echo "SELECT apply_with_offset_batch(handler_name => 'bench', projector => 'bench_project(text,jsonb)', events => (SELECT jsonb_agg(jsonb_build_object('event_id', 'r-' || n, 'payload', bench_payload(n))) FROM generate_series($2 * 1000 + 1, $2 * 1000 + 1000) n))" ;;
        batch-set-fresh) echo "SELECT apply_with_offset_batch(handler_name => 'bench', projector => 'bench_project_batch(text[],jsonb[])', events => (SELECT jsonb_agg(jsonb_build_object('event_id', 'fs-' || n, 'payload', bench_payload(n))) FROM generate_series($2 * 1000 + 1, $2 * 1000 + 1000) n))" ;;
    esac
}

# callgrind_run KIND FUNCTION FIRST LAST: prints the instructions collected.
callgrind_run() {
    local kind=$1 fn=$2 first=$3 last=$4 n
    local input=$CG/$kind-$first-$last.sql out=$CG/$kind-$first-$last.out
    for n in $(seq "$first" "$last"); do statement_for "$kind" "$n"; done >"$input"
    as_os_user valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="$fn" \
        "$PG_BIN/postgres" --single -D "$CLUSTER_DIR/data" -c jit=off bench <"$input" >"$CG/$kind.log" 2>&1
    if grep -q ERROR "$CG/$kind.log"; then grep -m3 ERROR "$CG/$kind.log" >&2; die "callgrind run $kind failed"; fi
    awk '/^summary:|^totals:/ {print $2; exit}' "$out"
}

# The functions whose inclusive instructions are shown per call.
SPLIT='execute_into|apply_each|apply_as_set|check_element|call_set_projector|SPI_execute_plan_extended|sha256_bytea|window_first_value|claim_pair|claim_one|call_projector|payload_hash|resolve_projector|check_execute_privilege|SPI_connect|SPI_finish|SPI_execute_plan|GetCachedPlan|RevalidateCachedQuery|BuildCachedPlan|ExecutorStart|ExecutorRun|ExecutorEnd|ExecInitModifyTable|ExecOpenIndices|ExecInsertIndexTuples|_bt_doinsert|_bt_check_unique|ExecCheckIndexConstraints|heap_insert|heap_update|index_getnext_slot|varstr_cmp|strcoll_l|SearchCatCache1|SearchSysCache1|pg_proc_aclcheck|fmgr_info_cxt|fmgr_sql|init_sql_fcache|pg_plan_query|pg_analyze_and_rewrite_fixedparams|plpgsql_exec_function|JsonbToCString|pg_cryptohash_create|pg_cryptohash_init|pg_cryptohash_final|pg_cryptohash_free|CopyErrorData|errfinish|relation_open|LockRelationOid|CommandCounterIncrement|PushActiveSnapshot|GetTransactionSnapshot|pgstat_count|count_claim|counters'

callgrind_case() {
    local kind=$1 fn=$2 small=$3 big=$4 per=${5:-1}
    local a b
    a=$(callgrind_run "$kind" "$fn" 1 "$small")
    b=$(callgrind_run "$kind" "$fn" $((small + 1)) $((small + big)))
    local out=$CG/$kind-$((small + 1))-$((small + big)).out
    {
        printf '== %s (%s), %s calls\n' "$kind" "$fn" "$big"
        printf 'instructions per %s: %s (marginal: (%s - %s) / (%s - %s) calls%s)\n' \
            "$([ "$per" = 1 ] && echo call || echo event)" \
            "$(awk -v a="$a" -v b="$b" -v s="$small" -v n="$big" -v p="$per" 'BEGIN {printf "%.0f", (b - a) / (n - s) / p}')" \
            "$b" "$a" "$big" "$small" "$([ "$per" = 1 ] || echo " of $per events")"
        echo "split (inclusive, averaged over the $big calls of the larger run):"
        callgrind_annotate --inclusive=yes "$out" 2>/dev/null \
            | awk -v n="$big" -v per="$per" -v re="$SPLIT" '
                /^ *[0-9,]+ +\( *[0-9.]+%\) / {
                    ir = $1; gsub(/,/, "", ir)
                    pct = $0; sub(/^ *[0-9,]+ +\( */, "", pct); sub(/%\).*$/, "%", pct)
                    name = $0; sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "", name); sub(/ \[.*$/, "", name)
                    sub(/^[^:]*:/, "", name)
                    short = name; sub(/\(.*$/, "", short); sub(/^.*::/, "", short); sub(/^.* /, "", short)
                    if (short ~ "^(" re ")$" && !(short in seen) && name !~ /lambda|pg_call|\x27[0-9]/) {
                        seen[short] = 1
                        printf "  %-36s %9.0f instructions/%s  %7s\n", short, ir / n / per, (per == 1 ? "call" : "event"), pct
                    }
                }'
        echo
    } | tee -a "$OUT/callgrind.txt"
}

: >"$OUT/callgrind.txt"
echo "== callgrind (single-user backend, one transaction per call)"
SMALL=$((CALLS / 10))
# The statements give the projector as a string literal, which reaches the
# projector-as-text forms of apply_with_offset and apply_with_offset_batch
# (symbols po_..._by_name).
callgrind_case apply-fresh po_apply_with_offset_by_name "$SMALL" "$CALLS"
callgrind_case apply-redelivery po_apply_with_offset_by_name "$SMALL" "$CALLS"
callgrind_case apply-sqlprojector-fresh po_apply_with_offset_by_name "$SMALL" "$CALLS"
callgrind_case claim-fresh po_offset_claim "$SMALL" "$CALLS"
callgrind_case claim-redelivery po_offset_claim "$SMALL" "$CALLS"
callgrind_case claim-nohash-fresh po_offset_claim "$SMALL" "$CALLS"
if [ "$HAVE_BATCH" = t ]; then
    callgrind_case batch-apply-fresh po_apply_with_offset_batch_by_name 2 20 1000
    callgrind_case batch-apply-redelivery po_apply_with_offset_batch_by_name 2 20 1000
    callgrind_case batch-set-fresh po_apply_with_offset_batch_by_name 2 20 1000
fi
echo "reports: $OUT/profile-*.txt, $OUT/callgrind.txt (callgrind data: $CG)"
