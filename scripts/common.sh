# Shared by scripts/demo.sh, scripts/test.sh and the suites: packages,
# build, and a throwaway PostgreSQL cluster on a private Unix socket.
# shellcheck shell=bash

# The host's PostgreSQL, from Debian 12's packages.
HOST_PG_MAJOR=15
# The PostgreSQL version in use: the host's, or another one in its Debian
# environment (scripts/pgversion.sh exports PO_PG_MAJOR, PO_PG_BIN and
# PO_PG_ENV when it enters one; `sudo bash scripts/pgversion.sh with 17 CMD`).
PG_MAJOR=${PO_PG_MAJOR:-$HOST_PG_MAJOR}
# PG_BIN: the version's programs as the host runs them (for another version:
# wrappers that run them in its environment). PG_CONFIG: pg_config where
# builds run (in the environment, through pg_env).
PG_BIN=${PO_PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
export PATH="$PG_BIN:$PATH"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/pgversion.sh
source "$ROOT/scripts/pgversion.sh"
# PostgreSQL refuses to run as root: the cluster runs as this OS user.
PO_OS_USER=${PO_OS_USER:-postgres}
# `make installcheck` runs as this unprivileged OS user when started as root.
PO_CHECK_USER=${PO_CHECK_USER:-nobody}

say() { printf '\n== %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require_root() {
    [ "$(id -u)" = 0 ] || die "run as root (or with sudo): it installs packages and the extension"
}

# Debian packages the build and the tests need; installed only when missing.
PACKAGES=(postgresql-$HOST_PG_MAJOR postgresql-server-dev-$HOST_PG_MAJOR postgresql-contrib
          build-essential g++ cmake libgtest-dev clang-14 llvm-14 libclang-rt-14-dev
          gnuplot-nox libpq-dev python3-psycopg sqlsmith bc
          postgresql-server-dev-all debhelper dpkg-dev debootstrap)

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
    make -C "$ROOT" -s -j2 PG_CONFIG="$PG_CONFIG" >/dev/null
    make -C "$ROOT" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
}

# Copies the source tree (tracked files, and new files git does not ignore)
# into a directory.
source_copy() {
    local dest=$1
    mkdir -p "$dest"
    if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$ROOT" && git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
            [ -e "$f" ] && printf '%s\0' "$f"
        done | tar --null -T - -cf -) | tar -C "$dest" -xf -
    else
        tar -C "$ROOT" --exclude=.git --exclude=node_modules --exclude='./build*' --exclude=./dist -cf - . \
            | tar -C "$dest" -xf -
    fi
}

# Benchmarks run on the host's PostgreSQL or, with --pg MAJOR, on another
# version in its Debian environment (scripts/pgversion.sh).
#     bench_version MAJOR SCRIPT ARGS...
# re-executes SCRIPT with ARGS there, once (the environment is held until it
# ends); returns when MAJOR is the version in use.
bench_version() {
    local major=$1 script=$2; shift 2
    [ "$major" = "$PG_MAJOR" ] && return 0
    [ -z "${PO_PG_ENV:-}" ] || die "already in the environment of PostgreSQL $PG_MAJOR"
    [ "$major" != "$HOST_PG_MAJOR" ] || die "PostgreSQL $major is the host's: run without --pg"
    pgv_suite "$major" >/dev/null || die "no environment for PostgreSQL $major (known: $HOST_PG_MAJOR, 17, 18)"
    exec bash "$ROOT/scripts/pgversion.sh" with "$major" bash "$script" "$@"
}

# The server settings of every benchmark: synchronous_commit = off (unless
# given "on") measures the work of each way rather than the latency of the
# disk's flush, which would be the same for all of them; no autovacuum, JIT
# or checkpoint lands in the middle of a point. Sets BENCH_SETTINGS.
bench_settings() {  # [synchronous_commit]
    BENCH_SETTINGS=(
        "shared_buffers = 256MB"
        "max_wal_size = 4GB"
        "checkpoint_timeout = 30min"
        "autovacuum = off"
        "jit = off"
        "synchronous_commit = ${1:-off}"
    )
}

# bench_install BUILD: the extension a benchmark measures (BUILD=1: this
# checkout's, built now; 0: the one installed). A benchmark starts backends
# for minutes, each loading the library from disk, so it must not share the
# host's PostgreSQL tree with other checkouts' installs: on the host it runs
# a private copy of that tree (PostgreSQL finds its files relative to its
# programs), copied under /tmp/po-pg15.lock, with the build installed into
# it; PG_BIN then names the copy. In an environment (bench_version), which
# the run holds alone, it builds in a fresh copy of the sources, build-MAJOR
# (not out of the tree with VPATH: make would take the host build's objects
# in the tree for up to date), and installs there. bench_cleanup removes
# the private copy.
BENCH_PREFIX=
bench_install() {
    local build=$1
    if [ -n "${PO_PG_ENV:-}" ]; then
        [ "$build" = 1 ] || return 0
        local dir=$ROOT/build-$PG_MAJOR
        say "building and installing the extension for PostgreSQL $PG_MAJOR (in $dir)"
        rm -rf "$dir"
        source_copy "$dir"
        pg_env make -C "$dir" -s -j2 PG_CONFIG="$PG_CONFIG" >/dev/null
        pg_env make -C "$dir" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
        return
    fi
    if [ "$build" = 1 ]; then
        say "building the extension"
        make -C "$ROOT" -s -j2 PG_CONFIG="$PG_CONFIG" >/dev/null
    fi
    BENCH_PREFIX=$(mktemp -d /tmp/po_bench_pg.XXXXXX)
    chmod 755 "$BENCH_PREFIX"
    local lib=/usr/lib/postgresql/$PG_MAJOR share=/usr/share/postgresql/$PG_MAJOR
    mkdir -p "$BENCH_PREFIX${lib%/*}" "$BENCH_PREFIX${share%/*}"
    pg15_lock
    cp -a "$lib" "$BENCH_PREFIX$lib" && cp -a "$share" "$BENCH_PREFIX$share"
    pg15_unlock
    if [ "$build" = 1 ]; then
        make -C "$ROOT" -s install PG_CONFIG="$PG_CONFIG" DESTDIR="$BENCH_PREFIX" >/dev/null
    fi
    PG_BIN=$BENCH_PREFIX$lib/bin
    PATH="$PG_BIN:$PATH"
    export PG_BIN PATH
    echo "PostgreSQL $PG_MAJOR and the extension: a private copy in $BENCH_PREFIX"
}
bench_cleanup() {
    [ -z "$BENCH_PREFIX" ] || rm -rf "$BENCH_PREFIX"
    BENCH_PREFIX=
}

# The host's PostgreSQL 15 install tree is shared by every checkout on the
# machine: whoever installs into it and tests holds /tmp/po-pg15.lock
# meanwhile. pg15_lock takes it unless an ancestor process holds it already
# (flock /tmp/po-pg15.lock sudo bash scripts/test.sh); pg15_unlock lets go.
PO_PG15_LOCK=${PO_PG15_LOCK:-/tmp/po-pg15.lock}
pg15_lock() {
    exec {PG15_LOCK_FD}>>"$PO_PG15_LOCK"
    local inode holder p
    inode=$(stat -c %i "$PO_PG15_LOCK")
    for holder in $(awk -v i="$inode" '$2 == "FLOCK" { split($6, f, ":"); if (f[3] == i) print $5 }' /proc/locks); do
        p=$$
        while [ -n "$p" ] && [ "$p" -gt 1 ]; do
            [ "$p" = "$holder" ] && { echo "$PO_PG15_LOCK is held by a parent process"; return 0; }
            p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
        done
    done
    if ! flock -n "$PG15_LOCK_FD"; then
        echo "waiting for $PO_PG15_LOCK (another checkout is testing against the host's PostgreSQL)"
        flock "$PG15_LOCK_FD"
    fi
}
pg15_unlock() {
    [ -n "${PG15_LOCK_FD:-}" ] || return 0
    exec {PG15_LOCK_FD}>&-
    PG15_LOCK_FD=
}

# Counts the tests of a pg_regress or pg_isolation_regress log, in the
# output format of PostgreSQL 15 ("test name ... ok") and of 16 and later
# ("ok 1 - name"): prints "PASSED FAILED".
regress_counts() {
    local passed failed
    passed=$(grep -cE '\.\.\. +ok( |$)|^ok [0-9]+ ' "$1" || true)
    failed=$(grep -cE '\.\.\. +(FAILED|failed)|^not ok [0-9]+ ' "$1" || true)
    echo "$passed $failed"
}

# pgxs_installcheck NAME [MAKE VARIABLES]: the source tree's `make
# installcheck` against the server in PGHOST/PGPORT/PGUSER, built out of the
# tree in a temporary directory, with the version's own PGXS. Started as
# root, it runs as PO_CHECK_USER, as `make installcheck` needs no privilege.
# ISOLATION= runs the regression tests only, REGRESS= the isolation specs only.
# Ends with "NAME: N passed, N failed".
pgxs_installcheck() {
    local name=$1; shift
    local dir status=0 passed failed
    dir=$(mktemp -d "/tmp/po_$name.XXXXXX")
    local make_cmd=(make -C "$dir" -f "$ROOT/Makefile" VPATH="$ROOT" PG_CONFIG="$PG_CONFIG" installcheck "$@")
    if [ "$(id -u)" = 0 ]; then
        chown "$PO_CHECK_USER" "$dir"
        pg_env runuser -u "$PO_CHECK_USER" -- "${make_cmd[@]}" >"$dir.log" 2>&1 || status=$?
    else
        pg_env "${make_cmd[@]}" >"$dir.log" 2>&1 || status=$?
    fi
    grep -vE '^make(\[[0-9]+\])?: (Entering|Leaving) directory' "$dir.log"
    read -r passed failed < <(regress_counts "$dir.log")
    if [ "$status" != 0 ] || [ "$failed" != 0 ] || [ "$passed" = 0 ]; then
        cat "$dir"/regression.diffs "$dir"/output_iso/regression.diffs 2>/dev/null | head -300
        echo "outputs kept in $dir"
        [ "$failed" != 0 ] || failed=1
    else
        rm -rf "$dir"
    fi
    rm -f "$dir.log"
    echo "$name: $passed passed, $failed failed"
    [ "$failed" = 0 ]
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

# A suite written in Python against psycopg (Debian's python3-psycopg): runs
# SCRIPT against the cluster in PGHOST, or, when run alone as root, against a
# throwaway cluster of its own on PO_PORT (default PORT).
#     run_python_suite NAME PORT SCRIPT
run_python_suite() {
    local name=$1 port=$2 script=$3
    local python=${PO_PYTHON:-/usr/bin/python3}
    "$python" -c 'import psycopg' 2>/dev/null || {
        echo "$name: cannot run: python3-psycopg is not installed (Debian package python3-psycopg)"
        echo "$name: 0 passed, 1 failed"
        return 1
    }
    if [ -z "${PGHOST:-}" ]; then
        require_root
        PO_PORT=${PO_PORT:-$port}
        trap cluster_stop EXIT
        cluster_start
    fi
    "$python" "$script"
}
