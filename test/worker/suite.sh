#!/usr/bin/env bash
# The projection worker and the handler registry against a live server:
# test/worker/worker.py (psycopg) registers handlers on event tables, appends
# events from several sessions in adversarial commit orders and under load,
# kills the worker and the server, and checks exactly-once, the order of
# application, error handling, pause/resume/rebuild, the status view and
# inline handlers. Every wait polls for a condition with a generous deadline
# (PO_WORKER_DEADLINE, default 60 s); no assertion is about a duration.
#
# It starts its own throwaway cluster on PO_WORKER_PORT (default 54364), as
# it must kill and restart the server and start it with
# projection_offset.worker_databases, a server-start setting. The database
# and the extension are created first and the server restarted with the
# setting, as an operator would. PO_FULL=1 runs larger loads and more crashes.
# Ends with "worker: N passed, N failed".
#     sudo bash test/worker/suite.sh          sudo PO_FULL=1 bash test/worker/suite.sh
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../../scripts/common.sh"
require_root

DB=po_worker
PYTHON=${PO_PYTHON:-/usr/bin/python3}
cannot_run() { echo "worker: cannot run: $*"; echo "worker: 0 passed, 1 failed"; exit 1; }
"$PYTHON" -c 'import psycopg' 2>/dev/null \
    || cannot_run "python3-psycopg is not installed (Debian package python3-psycopg)"

# The shared cluster of scripts/test.sh is not touched: this suite's own
# cluster replaces the PG* settings in this process only.
unset PGHOST PGPORT PGDATABASE CLUSTER_DIR
PO_PORT=${PO_WORKER_PORT:-54364}
trap cluster_stop EXIT
cluster_start "log_line_prefix = '%m [%p] %b '"

have_worker=$(psql -X -At -d postgres -c \
    "SELECT count(*) FROM pg_settings WHERE name = 'projection_offset.worker_databases'")
[ "$have_worker" = 1 ] || cannot_run "the installed extension has no projection worker (no setting projection_offset.worker_databases)"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB" \
    && psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "CREATE EXTENSION projection_offset" \
    || cannot_run "could not create the database and the extension"
have_registry=$(psql -X -At -d "$DB" -c "SELECT to_regproc('projection_register') IS NOT NULL")
[ "$have_registry" = t ] || cannot_run "the installed extension has no projection_register()"

# Two more listed databases that do not exist yet: worker.py creates and
# drops them while the server runs.
echo "projection_offset.worker_databases = '$DB, po_worker_late, po_worker_drop'" >>"$CLUSTER_DIR/data/postgresql.conf"
PG_CTL="runuser -u $PO_OS_USER -- $PG_BIN/pg_ctl -D $CLUSTER_DIR/data"
$PG_CTL -m fast -w restart -l "$CLUSTER_DIR/server.log" >/dev/null \
    || { tail -n 30 "$CLUSTER_DIR/server.log"; cannot_run "the server did not restart with the worker"; }

# worker.py crashes and restarts the server with these.
export PO_WORKER_DB=$DB PO_WORKER_LATE_DB=po_worker_late PO_WORKER_DROP_DB=po_worker_drop
export PO_WORKER_CRASH_CMD="$PG_CTL -m immediate -w stop"
export PO_WORKER_RESTART_CMD="$PG_CTL -l $CLUSTER_DIR/server.log -w -t 120 start"
export PO_WORKER_SERVER_LOG=$CLUSTER_DIR/server.log
"$PYTHON" "$HERE/worker.py"
