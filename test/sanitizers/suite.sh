#!/usr/bin/env bash
# The core's GoogleTest unit tests built with AddressSanitizer and
# UndefinedBehaviorSanitizer (CMake option PO_SANITIZE) in their own build
# directory. Any sanitizer report fails the test that triggered it.
# Usage: bash test/sanitizers/suite.sh   (PO_ASAN_BUILD overrides the directory)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${PO_ASAN_BUILD:-$ROOT/build-asan}

cmake -S "$ROOT" -B "$BUILD" -DPO_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$BUILD" -j2 >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
(cd "$BUILD" && ctest --output-on-failure) >"$log" 2>&1 || rc=$?
# A report that did not abort (none should, with halt_on_error) still fails.
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then rc=1; fi
grep -E 'tests passed|tests failed|Failed|SUMMARY|runtime error' "$log" || true
[ "$rc" = 0 ] || tail -60 "$log"
total=$(sed -n 's/.* tests failed out of \([0-9]*\)$/\1/p' "$log")
failed_n=$(sed -n 's/.*, \([0-9]*\) tests failed out of .*/\1/p' "$log")
total=${total:-0}; failed_n=${failed_n:-0}
if [ "$rc" != 0 ] && [ "$failed_n" = 0 ]; then failed_n=1; fi
echo "sanitizers: $((total - failed_n)) passed, $failed_n failed"
[ "$rc" = 0 ]
