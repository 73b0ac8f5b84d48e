# A three-node Citus cluster on loopback for test/citus/suite.sh: a
# coordinator and two workers, each a throwaway data directory run as the
# unprivileged OS user. Source scripts/common.sh first.
# shellcheck shell=bash

CITUS_BASE_PORT=${PO_CITUS_PORT:-54481}
CITUS_DB=po_citus
CITUS_NODES=(coordinator worker1 worker2)

node_port() { # index
    echo $((CITUS_BASE_PORT + $1))
}

# psql on node N (0 = coordinator), over TCP as the cluster does itself.
nq() {
    local n=$1; shift
    psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(node_port "$n")" -U postgres -d "$CITUS_DB" "$@"
}

citus_node_start() { # index
    as_os_user "$PG_BIN/pg_ctl" -D "$CITUS_DIR/${CITUS_NODES[$1]}" -l "$CITUS_DIR/${CITUS_NODES[$1]}.log" \
        -w -t 120 start >/dev/null
}

citus_node_stop() { # index mode
    as_os_user "$PG_BIN/pg_ctl" -D "$CITUS_DIR/${CITUS_NODES[$1]}" -m "$2" -w -t 120 stop >/dev/null
}

citus_cluster_start() {
    CITUS_DIR=$(mktemp -d /tmp/projection_offset_citus.XXXXXX)
    chown "$PO_OS_USER" "$CITUS_DIR"
    chmod 755 "$CITUS_DIR"
    local i
    for i in 0 1 2; do
        local dir="$CITUS_DIR/${CITUS_NODES[$i]}"
        mkdir -p "$CITUS_DIR/socket$i" && chown "$PO_OS_USER" "$CITUS_DIR/socket$i"
        as_os_user "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null || return 1
        {
            echo "listen_addresses = '127.0.0.1'"
            echo "unix_socket_directories = '$CITUS_DIR/socket$i'"
            echo "port = $(node_port "$i")"
            echo "shared_preload_libraries = 'citus,projection_offset'"
            echo "max_connections = 100"
            echo "max_prepared_transactions = 100"
            echo "fsync = on"
            echo "citus.shard_count = 8"
            echo "citus.log_remote_commands = off"
            # The projection worker runs on the coordinator. It starts before
            # the database exists and is restarted until it does.
            [ "$i" != 0 ] || echo "projection_offset.worker_databases = '$CITUS_DB'"
            [ "$i" != 0 ] || echo "projection_offset.worker_naptime = 100ms"
        } >>"$dir/postgresql.conf"
        # Trust on loopback only: the nodes connect to each other over TCP.
        echo "host all all 127.0.0.1/32 trust" >"$dir/pg_hba.conf"
        echo "local all all trust" >>"$dir/pg_hba.conf"
        citus_node_start "$i" || { cat "$CITUS_DIR/${CITUS_NODES[$i]}.log" >&2; return 1; }
        psql -X -q -h 127.0.0.1 -p "$(node_port "$i")" -U postgres -d postgres \
            -c "CREATE DATABASE $CITUS_DB" >/dev/null || return 1
        nq "$i" -c "CREATE EXTENSION citus" >/dev/null || return 1
    done
    nq 0 -c "SELECT citus_set_coordinator_host('127.0.0.1', $(node_port 0))" \
         -c "SELECT citus_add_node('127.0.0.1', $(node_port 1))" \
         -c "SELECT citus_add_node('127.0.0.1', $(node_port 2))" >/dev/null
}

citus_cluster_stop() {
    [ -n "${CITUS_DIR:-}" ] || return 0
    local i
    for i in 0 1 2; do citus_node_stop "$i" fast 2>/dev/null || true; done
    if [ -n "${PO_KEEP_CLUSTER:-}" ]; then echo "cluster kept in $CITUS_DIR"; else rm -rf "$CITUS_DIR"; fi
    CITUS_DIR=
}
