#!/usr/bin/env bash
# Throughput of five ways to apply an event exactly once, side by side, plus
# the batch forms, on a throwaway cluster. Prints a table of events/s with
# ratios and draws bench/out/results.png.
#
#   sudo bash bench/run.sh                 # default run, about 5 minutes
#   sudo bash bench/run.sh --long          # 10 s per point, 3 rounds (about 30 minutes)
#   sudo bash bench/run.sh --duration 10 --rounds 2 --clients "1 4"
#
# Options:
#   --duration S    seconds per measured point (pgbench -T), default 2
#   --rounds R      measure every point R times, in interleaved rounds, and
#                   keep the median (the mean of the middle two for even R), default 2
#   --clients LIST  client counts, default "1 2 4 8"
#   --long          --duration 10 --rounds 3
#   --no-batch      skip the batch forms
#   --sync          keep synchronous_commit = on (commits wait for the WAL flush)
#   --tcp           clients connect over TCP to 127.0.0.1 instead of the Unix socket
#   --rtt US        emulated network round trip: the client waits US
#                   microseconds after each statement's result (pgbench
#                   \sleep), as a client behind a network of that round-trip
#                   time would before sending the next one; (a) pays it per
#                   statement, the one-statement ways once per event
#   --best          keep the best of the rounds instead of the median
#   --no-build      use the installed extension as it is
#   --pg MAJOR      run on PostgreSQL 17 or 18, in its Debian environment
#                   (scripts/pgversion.sh), with this checkout built there
# Environment: PO_PORT (default 54371), PO_KEEP_CLUSTER=1 keeps the cluster.
#
# Ways, each doing the same work: record (eventId, handlerName, payloadHash)
# and add the event's amount to a row of a read model, once per event.
#   a  client-side transaction: BEGIN; INSERT .. ON CONFLICT DO NOTHING
#      RETURNING; UPDATE (only when recorded); COMMIT  (what an ORM adapter does)
#   b  one hand-written statement: a CTE doing claim + mutation
#   c  a generic apply in PL/pgSQL calling the projector with EXECUTE
#   d  apply_with_offset(event_id, handler, projector, payload), PL/pgSQL projector
#   ds the same with a LANGUAGE sql projector (its plans kept by the extension)
#   du the same with projection_offset.cache_sql_projectors = off
#   p  a PL/pgSQL projector calling offset_claim
#   e  a LANGUAGE sql projector calling offset_claim
# Batches of 1000 events per call:
#   batch   apply_with_offset_batch(handler_name, projector, events) when installed,
#           else offset_claim_batch(text[], text) plus a set-based UPDATE
#   set     INSERT .. SELECT .. ON CONFLICT DO NOTHING plus a set-based UPDATE
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../scripts/common.sh
source "$BENCH/../scripts/common.sh"

DURATION=2
ROUNDS=2
CLIENTS="1 2 4 8"
BATCH=1
SYNC=0
TCP=0
RTT=0
BEST=0
BUILD=1
VERSION=$PG_MAJOR
ARGS=("$@")
while [ $# -gt 0 ]; do
    case $1 in
        --duration) DURATION=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --clients) CLIENTS=$2; shift 2 ;;
        --long) DURATION=10; ROUNDS=3; shift ;;
        --no-batch) BATCH=0; shift ;;
        --sync) SYNC=1; shift ;;
        --tcp) TCP=1; shift ;;
        --rtt) RTT=$2; shift 2 ;;
        --best) BEST=1; shift ;;
        --no-build) BUILD=0; shift ;;
        --pg) VERSION=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

[[ "$RTT" =~ ^[0-9]+$ ]] || die "--rtt takes microseconds, an integer"
require_root
ensure_packages
bench_version "$VERSION" "$0" "${ARGS[@]}"
trap 'cluster_stop; bench_cleanup' EXIT
bench_install "$BUILD"
command -v pgbench >/dev/null || die "pgbench not found"
command -v gnuplot >/dev/null || die "gnuplot not found (Debian package gnuplot-nox)"

OUT=$BENCH/out
mkdir -p "$OUT"
RAW=$OUT/raw.tsv
: >"$RAW"

# The server configuration of every run (bench_settings); --sync measures
# with synchronous_commit = on.
bench_settings "$([ "$SYNC" = 1 ] && echo on || echo off)"
SETTINGS=("${BENCH_SETTINGS[@]}")
[ "$TCP" = 1 ] && SETTINGS+=("listen_addresses = '127.0.0.1'")
export PO_PORT=${PO_PORT:-54371}
cluster_start "${SETTINGS[@]}"
# pgbench connects through PGHOST; setup and resets keep the socket.
BENCH_HOST=$PGHOST
[ "$TCP" = 1 ] && BENCH_HOST=127.0.0.1

MAXC=0
for c in $CLIENTS; do [ "$c" -gt "$MAXC" ] && MAXC=$c; done
psql -qAtX -c "ALTER SYSTEM SET max_connections = $((MAXC + 10))" >/dev/null
[ "$MAXC" -gt 40 ] && { as_os_user pg_ctl -D "$CLUSTER_DIR/data" -w restart >/dev/null; }

createdb bench
psql -qX -d bench -v ON_ERROR_STOP=1 -f "$BENCH/setup.sql" >/dev/null
BATCH_APPLY=$(psql -qAtX -d bench -c \
    "SELECT to_regprocedure('apply_with_offset_batch(text,regprocedure,jsonb)') IS NOT NULL")
if [ "$BATCH_APPLY" = t ]; then BATCH_SCRIPT=batch_apply; BATCH_LABEL="batch apply_with_offset_batch (1000/call)"
else BATCH_SCRIPT=batch_claim; BATCH_LABEL="batch offset_claim_batch + UPDATE (1000/call)"; fi

# What a requested round trip costs the client in fact: pgbench's \sleep
# overshoots (timer slack, the scheduler). Measured as the difference of
# the mean latency of "SELECT 1" with and without the wait.
RTT_MEASURED=
if [ "$RTT" != 0 ]; then
    printf 'SELECT 1;\n' >"$OUT/rtt-0.sql"
    printf 'SELECT 1;\n\\sleep %s us\n' "$RTT" >"$OUT/rtt-1.sql"
    lat() {
        PGHOST=$BENCH_HOST pgbench -n -M prepared -c 1 -j 1 -T "$DURATION" -f "$1" bench 2>&1 \
            | awk '/^latency average = / {print $4}'
    }
    RTT_MEASURED=$(awk -v a="$(lat "$OUT/rtt-0.sql")" -v b="$(lat "$OUT/rtt-1.sql")" 'BEGIN {printf "%.0f", (b - a) * 1000}')
fi

{
    echo "== configuration"
    echo "machine:    $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "server:     $(psql -qAtX -c 'SHOW server_version'), $([ "$TCP" = 1 ] && echo "TCP to 127.0.0.1" || echo "Unix socket"), fsync = on"
    for s in "${SETTINGS[@]}"; do echo "            $s"; done
    echo "extension:  projection_offset $(psql -qAtX -d bench -c "SELECT extversion FROM pg_extension WHERE extname = 'projection_offset'")"
    echo "pgbench:    -M prepared, -T $DURATION per point, $([ "$BEST" = 1 ] && echo best || echo median) of $ROUNDS round(s), clients: $CLIENTS"
    [ "$RTT" = 0 ] || echo "round trip: $RTT us emulated after every statement (pgbench \\sleep); $RTT_MEASURED us measured"
    echo "batch form: $BATCH_LABEL"
    echo "load:       $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at start"
} | tee "$OUT/config.txt"

# The scripts pgbench runs: bench/'s, or with --rtt copies that wait the
# round-trip time after every statement (a line ending in ";", \aset or
# \gset ends a statement in a pgbench script).
SCRIPTS=$BENCH
if [ "$RTT" != 0 ]; then
    SCRIPTS=$OUT/scripts
    rm -rf "$SCRIPTS"
    for dir in single batch; do
        mkdir -p "$SCRIPTS/$dir"
        for f in "$BENCH/$dir"/*.sql; do
            awk -v rtt="$RTT" '{ print } /(;|\\[ag]set)[ \t]*$/ && !/^[ \t]*--/ { print "\\sleep " rtt " us" }' \
                "$f" >"$SCRIPTS/$dir/${f##*/}"
        done
    done
fi

# pgbench over one script; prints transactions per second.
run_point() {
    local script=$1 clients=$2 pfx=$3 range_var=$4 range=$5 options=${6:-}
    local log=$OUT/pgbench.log
    {
        echo "-- $script clients=$clients pfx=$pfx $range_var=$range ${options:+PGOPTIONS=$options}"
        PGOPTIONS=$options PGHOST=$BENCH_HOST pgbench -n -M prepared -c "$clients" -j "$clients" -T "$DURATION" --max-tries=10 \
            -D pfx="$pfx" -D "$range_var=$range" -f "$SCRIPTS/$script" bench 2>&1
    } >>"$log" || true
    local tps
    tps=$(tail -n 40 "$log" | awk '/^tps = / {t=$3} END {print t}')
    if [ -z "$tps" ] || ! tail -n 40 "$log" | grep -q 'number of failed transactions: 0 '; then
        echo "pgbench failed on $script (clients=$clients, $pfx); see $log" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    echo "$tps"
}

# Fresh points start from the same table: the recorded re-delivery set only.
# Re-delivery points write no offsets and start from where they are.
reset_offsets() {
    psql -qAtX -d bench -c "SELECT bench_reset()" -c "VACUUM ANALYZE projection_offset, order_totals" >/dev/null
}

WAYS="a:single/a_client_tx.sql b:single/b_cte.sql c:single/c_plpgsql_execute.sql d:single/d_apply_with_offset.sql"
WAYS="$WAYS ds:single/ds_apply_sql_projector.sql du:single/ds_apply_sql_projector.sql"
WAYS="$WAYS p:single/p_plpgsql_projector.sql e:single/e_sql_projector.sql"
NWAYS=$(echo "$WAYS" | wc -w)
BATCHES="batch:batch/$BATCH_SCRIPT.sql set:batch/set_based.sql"
[ "$BATCH_APPLY" = t ] && BATCHES="batch:batch/$BATCH_SCRIPT.sql bset:batch/batch_apply_set.sql set:batch/set_based.sql"
NBATCH=$(echo "$BATCHES" | wc -w)
: >"$OUT/pgbench.log"
points=$(( $(echo "$CLIENTS" | wc -w) * 2 * (NWAYS + NBATCH * BATCH) * ROUNDS ))
echo
echo "== measuring $points points of $DURATION s"
for round in $(seq 1 "$ROUNDS"); do
    psql -qAtX -d bench -c "SELECT bench_reset()" -c "VACUUM ANALYZE" -c CHECKPOINT >/dev/null
    for mode in fresh redelivery; do
        if [ "$mode" = fresh ]; then pfx=f-; range=1000000000000000; blocks=1000000000000
        else pfx=r-; range=100000; blocks=100; fi
        for c in $CLIENTS; do
            todo=$WAYS
            [ "$BATCH" = 1 ] && todo="$todo $BATCHES"
            for item in $todo; do
                way=${item%%:*} script=${item#*:}
                [ "$mode" = fresh ] && reset_offsets
                case $way in
                    batch|bset|set) tps=$(run_point "$script" "$c" "$pfx" blocks "$blocks"); per=1000 ;;
                    du) tps=$(run_point "$script" "$c" "$pfx" range "$range" \
                              "-c projection_offset.cache_sql_projectors=off"); per=1 ;;
                    *) tps=$(run_point "$script" "$c" "$pfx" range "$range"); per=1 ;;
                esac
                eps=$(awk -v t="$tps" -v p="$per" 'BEGIN {printf "%.0f", t * p}')
                printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$mode" "$c" "$way" "$eps" >>"$RAW"
                printf '  round %s  %-10s  clients %-3s  %-5s  %10s events/s\n' "$round" "$mode" "$c" "$way" "$eps"
            done
        done
    done
done

# Median (or best, --best) over rounds: results.tsv has mode, clients, way, events/s.
sort -t$'\t' -k2,2 -k3,3n -k4,4 -k5,5n "$RAW" | awk -F'\t' -v best="$BEST" '
    { key = $2 "\t" $3 "\t" $4; v[key, ++n[key]] = $5; if (!(key in seen)) { seen[key] = 1; order[++k] = key } }
    END { for (i = 1; i <= k; i++) { key = order[i]; m = n[key];
          med = (m % 2) ? v[key, (m + 1) / 2] : (v[key, m / 2] + v[key, m / 2 + 1]) / 2;
          if (best) med = v[key, m]
          printf "%s\t%.0f\n", key, med } }' >"$OUT/results.tsv"

# The table: events/s and ratios against (a) and (b), per mode and client count.
table() {
    awk -F'\t' -v clients="$CLIENTS" -v batch_label="$BATCH_LABEL" '
    BEGIN {
        nc = split(clients, cs, " ")
        label["a"] = "(a) client tx, 4 round trips"; label["b"] = "(b) one-statement CTE"
        label["c"] = "(c) PL/pgSQL + EXECUTE"; label["d"] = "(d) apply_with_offset, PL/pgSQL projector"
        label["ds"] = "(ds) apply_with_offset, SQL projector"
        label["du"] = "(du) the same, plans not kept"
        label["p"] = "(p) PL/pgSQL projector + offset_claim"
        label["e"] = "(e) SQL projector + offset_claim"; label["batch"] = batch_label
        label["set"] = "set-based INSERT..SELECT + UPDATE (1000/call)"
        label["bset"] = "batch apply_with_offset, set projector (1000/call)"
        nw = split("a b c d ds du p e batch bset set", ws, " ")
        title["fresh"] = "fresh events"; title["redelivery"] = "re-deliveries"
    }
    function dashes(n,   s) { s = ""; while (n-- > 0) s = s "-"; return s }
    { r[$1, $2, $3] = $4 }
    END {
        split("fresh redelivery", modes, " ")
        for (mi = 1; mi <= 2; mi++) {
            m = modes[mi]
            printf "\n%s: events/s (x a = ratio to (a), x b = ratio to (b))\n\n", title[m]
            printf "| %-46s |", "way"
            for (i = 1; i <= nc; i++) printf " %-30s |", cs[i] (cs[i] == 1 ? " client" : " clients")
            printf "\n|%s|", dashes(48)
            for (i = 1; i <= nc; i++) printf "%s|", dashes(32)
            printf "\n"
            for (j = 1; j <= nw; j++) {
                w = ws[j]
                if (!((m, cs[1], w) in r)) continue
                printf "| %-46s |", label[w]
                for (i = 1; i <= nc; i++) {
                    c = cs[i]; v = r[m, c, w]; a = r[m, c, "a"]; b = r[m, c, "b"]
                    printf " %8d  x a %5.2f  x b %5.2f |", v, (a ? v / a : 0), (b ? v / b : 0)
                }
                printf "\n"
            }
        }
    }' "$OUT/results.tsv"
}

# The performance goals: reported, not asserted. Each ratio is the way's
# events/s divided by the hand-written reference's (above 1 is better).
targets() {
    awk -F'\t' -v clients="$CLIENTS" -v tcp="$TCP" -v rtt="$RTT" -v rttm="$RTT_MEASURED" '
    { r[$1, $2, $3] = $4 }
    function check(name, m, num, den, want,   i, c, x, ok, s) {
        s = ""; ok = 1
        for (i = 1; i <= nc; i++) {
            c = cs[i]
            if (!((m, c, num) in r) || !((m, c, den) in r) || r[m, c, den] == 0) return
            x = r[m, c, num] / r[m, c, den]
            if (x < want) ok = 0
            s = s sprintf(" %s:%.2f", c, x)
        }
        if (want == "")
            printf "  %-46s        (clients:ratio%s)\n", name, s
        else
            printf "  %-46s %-4s  (clients:ratio%s)\n", name " >= " want, ok ? "MET" : "NOT", s
    }
    END {
        nc = split(clients, cs, " ")
        split("fresh redelivery", modes, " "); title["fresh"] = "fresh"; title["redelivery"] = "re-deliveries"
        print ""
        print "goals (per client count; MET when every client count meets it)"
        print " 1. apply_with_offset against (b), the one-statement CTE"
        check("(d)/(b) fresh, PL/pgSQL projector", "fresh", "d", "b", 1.0)
        check("(ds)/(b) fresh, SQL projector", "fresh", "ds", "b", 1.0)
        print " 2. a projector calling offset_claim against (b)"
        check("(p)/(b) fresh, PL/pgSQL", "fresh", "p", "b", 1.0)
        check("(e)/(b) fresh, SQL", "fresh", "e", "b", 1.0)
        print " 3. apply_with_offset_batch against set-based SQL"
        check("batch/set fresh", "fresh", "batch", "set", 1.0)
        check("batch/set re-deliveries", "redelivery", "batch", "set", 1.0)
        check("batch, set projector/set fresh", "fresh", "bset", "set", 1.0)
        check("batch, set projector/set re-deliveries", "redelivery", "bset", "set", 1.0)
        printf " 6. every way against (a), the client transaction (%s%s)\n", tcp ? "TCP" : "Unix socket",
               rtt ? ", round trip " rtt " us requested, " rttm " us measured" : ""
        for (mi = 1; mi <= 2; mi++) {
            nw = split("b c d ds du p e batch bset set", ws, " ")
            for (j = 1; j <= nw; j++) check("(" ws[j] ")/(a) " title[modes[mi]], modes[mi], ws[j], "a", "")
        }
        print ""
        print "what keeping SQL projector plans changes"
        check("(ds)/(du) fresh", "fresh", "ds", "du", 1.0)
    }' "$OUT/results.tsv"
}

scaling() {
    [ "$BATCH" = 1 ] && [ "$BATCH_APPLY" = t ] || return 0
    echo
    echo "batch form against batch size (one call, a projector inserting one row per event)"
    psql -qX -d bench -v ON_ERROR_STOP=1 -f "$BENCH/batch_scaling.sql"
}

{ table; targets; scaling; echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at the end"; } | tee "$OUT/table.txt"

# The plot: events/s against clients, one line per way, fresh and re-deliveries.
for mode in fresh redelivery; do
    awk -F'\t' -v m="$mode" -v clients="$CLIENTS" '
        { r[$1, $2, $3] = $4 }
        END { nc = split(clients, cs, " "); nw = split("a b c d e batch set bset ds du p", ws, " ")
              for (i = 1; i <= nc; i++) { line = cs[i]
                  for (j = 1; j <= nw; j++) line = line "\t" (((m, cs[i], ws[j]) in r) ? r[m, cs[i], ws[j]] : "NaN")
                  print line } }' "$OUT/results.tsv" >"$OUT/plot-$mode.dat"
done
plot_label=${BATCH_LABEL% (1000/call)}
plot_label=${plot_label//_/\\_}   # enhanced text: an underscore would be a subscript
gnuplot -e "outdir='$OUT'; hasbatch=$BATCH; batchlabel='$plot_label'; subtitle='$(nproc) CPUs, -T ${DURATION}s, median of $ROUNDS'" \
    "$BENCH/plot.gp"
echo
echo "wrote $OUT/results.png, $OUT/table.txt, $OUT/results.tsv (raw pgbench output: $OUT/pgbench.log)"
