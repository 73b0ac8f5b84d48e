# Shared by scripts/demo.sh and scripts/test.sh: packages, build, and a
# throwaway PostgreSQL cluster on a private Unix socket.
# shellcheck shell=bash

PG_MAJOR=15
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
export PATH="$PG_BIN:$PATH"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# PostgreSQL refuses to run as root: the cluster runs as this OS user.
PO_OS_USER=${PO_OS_USER:-postgres}

say() { printf '\n== %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require_root() {
    [ "$(id -u)" = 0 ] || die "run as root (or with sudo): it installs packages and the extension"
}

# Debian packages the build and the tests need; installed only when missing.
PACKAGES=(postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-contrib
          build-essential g++ cmake libgtest-dev clang-14 llvm-14 libclang-rt-14-dev
          gnuplot-nox libpq-dev python3-psycopg sqlsmith bc)

ensure_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # Node.js may come from Debian or from an upstream build that bundles npm.
    if ! command -v npm >/dev/null 2>&1; then
        say "installing Node.js and npm"
        apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    fi
    id -u "$PO_OS_USER" >/dev/null 2>&1 || useradd --system --user-group --no-create-home "$PO_OS_USER"
}

build_and_install() {
    say "building and installing the extension"
    make -C "$ROOT" -s -j2 PG_CONFIG="$PG_BIN/pg_config" >/dev/null
    make -C "$ROOT" -s install PG_CONFIG="$PG_BIN/pg_config" >/dev/null
}

as_os_user() { runuser -u "$PO_OS_USER" -- "$@"; }

# Starts a cluster in a new temporary directory; sets PGHOST, PGPORT, PGUSER.
# Extra postgresql.conf lines can be given as arguments.
cluster_start() {
    CLUSTER_DIR=$(mktemp -d /tmp/projection_offset.XXXXXX)
    chown "$PO_OS_USER" "$CLUSTER_DIR"
    chmod 755 "$CLUSTER_DIR"
    mkdir -p "$CLUSTER_DIR/socket"
    chown "$PO_OS_USER" "$CLUSTER_DIR/socket"
    as_os_user initdb -D "$CLUSTER_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    {
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$CLUSTER_DIR/socket'"
        echo "port = ${PO_PORT:-54329}"
        echo "fsync = on"
        echo "max_connections = 50"
        echo "shared_preload_libraries = 'projection_offset'"
        for line in "$@"; do echo "$line"; done
    } >>"$CLUSTER_DIR/data/postgresql.conf"
    as_os_user pg_ctl -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w -t 60 start >/dev/null \
        || { cat "$CLUSTER_DIR/server.log" >&2; die "the throwaway cluster did not start"; }
    export CLUSTER_DIR PO_OS_USER
    export PGHOST="$CLUSTER_DIR/socket" PGPORT=${PO_PORT:-54329} PGUSER=postgres PGDATABASE=postgres
}

cluster_stop() {
    [ -n "${CLUSTER_DIR:-}" ] || return 0
    as_os_user pg_ctl -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    if [ -n "${PO_KEEP_CLUSTER:-}" ]; then
        echo "cluster kept in $CLUSTER_DIR"
    else
        rm -rf "$CLUSTER_DIR"
    fi
    CLUSTER_DIR=
}
