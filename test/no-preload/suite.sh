#!/usr/bin/env bash
# The extension in a server without shared_preload_libraries, where the
# library is loaded only by the first call in each session: the replay flag
# reads right in every session through offset_replaying(), the counters
# refuse with a hint, and claims and applies work as usual.
# Starts a throwaway cluster of its own (as root); ends with
# "no-preload: N passed, N failed".
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../../scripts/common.sh"
require_root

PO_PORT=${PO_NO_PRELOAD_PORT:-54361}
# A server of its own: scripts/test.sh runs this script as a child process,
# so its cluster variables are not the caller's.
CLUSTER_DIR=
cluster_start "shared_preload_libraries = ''"
trap cluster_stop EXIT

passed=0
failed=0
check() {
    local name=$1 expected=$2 actual=$3
    if [ "$expected" = "$actual" ]; then
        passed=$((passed + 1)); echo "ok - $name"
    else
        failed=$((failed + 1)); echo "not ok - $name"; echo "  expected: $expected"; echo "  actual:   $actual"
    fi
}
# Each call is a new session, so the library is not loaded at its start.
q() { psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate "$@" 2>&1 | sed 's/^ERROR: *//'; }

q -c "CREATE EXTENSION projection_offset" >/dev/null
check "the library is not preloaded" "" "$(q -c "SHOW shared_preload_libraries")"
check "current_setting() fails before the library is loaded" "42704" \
    "$(q -c "SELECT current_setting('projection_offset.replaying')")"
check "offset_replaying() is false in a fresh session" "f" "$(q -c "SELECT offset_replaying()")"
check "offset_replaying() sees a SET made before the library was loaded" "t" \
    "$(q -c "SET projection_offset.replaying = on" -c "SELECT offset_replaying()")"
check "SET LOCAL ends with its transaction" "t|f" \
    "$(q -c "BEGIN" -c "SET LOCAL projection_offset.replaying = on" -c "SELECT offset_replaying()" \
         -c "COMMIT" -c "SELECT offset_replaying()" | tr '\n' '|' | sed 's/|$//')"

# The pattern the documentation gives: a trigger that stays quiet while
# replaying, in sessions that never loaded the library before.
q -c "CREATE TABLE orders (id text PRIMARY KEY);
      CREATE TABLE outbox (id text);
      CREATE FUNCTION orders_outbox() RETURNS trigger LANGUAGE plpgsql AS \$\$
      BEGIN
          IF NOT offset_replaying() THEN INSERT INTO outbox VALUES (NEW.id); END IF;
          RETURN NEW;
      END \$\$;
      CREATE TRIGGER orders_outbox AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION orders_outbox();
      CREATE FUNCTION project_order(event_id text, payload jsonb) RETURNS void
      LANGUAGE sql AS \$\$ INSERT INTO orders VALUES (event_id) \$\$;" >/dev/null
check "a live apply writes to the outbox" "t" \
    "$(q -c "SELECT apply_with_offset('o-1', 'orders', 'project_order(text,jsonb)', '{}')")"
check "a replayed apply does not" "t" \
    "$(q -c "SET projection_offset.replaying = on" -c "SELECT apply_with_offset('o-2', 'orders', 'project_order(text,jsonb)', '{}')")"
check "outbox rows" "o-1" "$(q -c "SELECT string_agg(id, ',' ORDER BY id) FROM outbox")"
check "a re-delivery applies nothing" "f" \
    "$(q -c "SELECT apply_with_offset('o-1', 'orders', 'project_order(text,jsonb)', '{}')")"
check "counters need shared_preload_libraries" "55000" "$(q -c "SELECT * FROM projection_offset_counters()")"

echo "no-preload: $passed passed, $failed failed"
[ "$failed" = 0 ]
