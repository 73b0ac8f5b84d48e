#!/usr/bin/env bash
# Builds the libFuzzer targets over the pure core (src/core) with clang-14,
# AddressSanitizer and UndefinedBehaviorSanitizer, and runs each for a share
# of a bounded time. Exits non-zero on any crash, property violation or
# sanitizer report; the input that caused it is kept under
# build-fuzz/artifacts/ and can be replayed with
#   build-fuzz/<target> build-fuzz/artifacts/<target>-crash-...
#
# The committed seeds in test/fuzz/corpus/<target> (minimized with
# -merge=1) start every run; new inputs go to build-fuzz/corpus/<target>.
#
# Usage: bash test/fuzz/run.sh [TOTAL_SECONDS]     (default 300)
# Environment: PO_FUZZ_BUILD  build directory (default <repo>/build-fuzz)
#              PO_FUZZ_TARGETS  space-separated subset of targets to run
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TOTAL=${1:-300}
BUILD=${PO_FUZZ_BUILD:-$ROOT/build-fuzz}
CXX=${PO_FUZZ_CXX:-clang++-14}
FLAGS=(-std=c++17 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined
       -fno-sanitize-recover=all -I"$ROOT/src" -I"$HERE")

command -v "$CXX" >/dev/null || { echo "fuzz: $CXX not found (Debian packages clang-14, libclang-rt-14-dev)" >&2; exit 2; }
[[ "$TOTAL" =~ ^[0-9]+$ ]] && [ "$TOTAL" -gt 0 ] || { echo "usage: $0 [TOTAL_SECONDS]" >&2; exit 2; }

mkdir -p "$BUILD/obj" "$BUILD/artifacts" "$BUILD/logs"

# The core once, instrumented for coverage; then one binary per target.
core_objs=()
for src in "$ROOT"/src/core/*.cpp; do
    obj="$BUILD/obj/$(basename "${src%.cpp}").o"
    "$CXX" "${FLAGS[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
    core_objs+=("$obj")
done
targets=()
for src in "$HERE"/fuzz_*.cpp; do
    name=$(basename "${src%.cpp}")
    if [ -n "${PO_FUZZ_TARGETS:-}" ] && [[ " $PO_FUZZ_TARGETS " != *" $name "* ]]; then continue; fi
    "$CXX" "${FLAGS[@]}" -fsanitize=fuzzer "$src" "${core_objs[@]}" -o "$BUILD/$name"
    targets+=("$name")
done
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets" >&2; exit 2; }

per_target=$(( TOTAL / ${#targets[@]} ))
[ "$per_target" -ge 1 ] || per_target=1

passed=0
failed=0
total_runs=0
for name in "${targets[@]}"; do
    work="$BUILD/corpus/$name"
    seeds="$HERE/corpus/$name"
    mkdir -p "$work"
    dirs=("$work")
    [ -d "$seeds" ] && dirs+=("$seeds")
    log="$BUILD/logs/$name.log"
    rc=0
    # -error_exitcode: a crash or sanitizer report; -timeout: a single input
    # running for 10 s counts as a hang and fails the run.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$BUILD/$name" -max_total_time="$per_target" -max_len=8192 -timeout=10 \
        -error_exitcode=77 -print_final_stats=1 \
        -artifact_prefix="$BUILD/artifacts/$name-" "${dirs[@]}" >"$log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    runs=${runs:-0}
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    if [ "$rc" = 0 ] && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|property violated' "$log"; then
        passed=$((passed + 1))
        total_runs=$((total_runs + runs))
        printf 'ok    %-18s %10s runs in %ss, corpus %s inputs\n' "$name" "$runs" "${secs:-?}" \
            "$(find "$work" -type f | wc -l)"
    else
        failed=$((failed + 1))
        printf 'FAIL  %-18s exit %s, log %s\n' "$name" "$rc" "$log"
        grep -E 'ERROR:|runtime error:|property violated|SUMMARY|Test unit written' "$log" | head -20 || true
    fi
done
echo "fuzz executions: $total_runs in about $TOTAL s over ${#targets[@]} targets"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
