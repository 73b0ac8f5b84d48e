#!/usr/bin/env bash
# PostgreSQL versions the host's Debian does not package, each in an
# environment of its own: a chroot built with debootstrap from the Debian
# suite that packages it (17: trixie, 18: sid), with Debian's own
# postgresql-NN, postgresql-server-dev-NN and package build tools.
#
# Environments are built once, on first use, in PO_CHROOT_CACHE (default
# /var/cache/projection_offset/chroot-NN), and reused afterwards. The
# chroot's postgres user has the host's uid and gid, as clusters live in the
# host's /tmp, which the environment shares.
#
# While an environment is entered, /proc, /dev, /tmp and the source tree are
# bind-mounted at the same paths inside it, so that a path names the same
# file on both sides, and PG_BIN is a directory of small wrappers (psql,
# pg_ctl, initdb, pg_dump, pg_config, pg_regress, pg_isolation_regress, ...)
# that run the environment's programs. Host programs (the suites, Node.js,
# libpq clients) reach the environment's server through its socket in /tmp.
# `runuser -u USER -- PROGRAM ...`, for a PROGRAM of that directory, runs it
# as USER inside the environment, as the suites start servers that way.
# Everything is unmounted when the process that entered exits.
#
# As a library (scripts/common.sh sources it):
#     pgv_enter 17 DIR...  build if needed, mount, set PG_BIN and PG_CONFIG
#     pg_env CMD ...       run CMD inside the entered environment, as root
# As a command, as root:
#     bash scripts/pgversion.sh build 17      build (or update) the environment
#     bash scripts/pgversion.sh shell 17      a shell inside it, mounts included
#     bash scripts/pgversion.sh run 17 CMD    run CMD inside it, mounts included
#     bash scripts/pgversion.sh with 17 CMD   run CMD on the host with the
#                                             wrappers first in PATH, e.g. a
#                                             suite: bash test/crash/suite.sh
#     bash scripts/pgversion.sh remove 17     delete it
# shellcheck shell=bash

PO_CHROOT_CACHE=${PO_CHROOT_CACHE:-/var/cache/projection_offset}
PO_DEBIAN_MIRROR=${PO_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# The Debian suite that packages each version.
pgv_suite() {
    case $1 in
        17) echo trixie ;;
        18) echo sid ;;
        *) return 1 ;;
    esac
}

# What the build, the tests and the package build need inside. The
# server-dev package brings clang and llvm for PGXS's bitcode; pgTAP is for
# test/pgtap (pg_prove runs on the host).
pgv_packages() {
    echo "postgresql-$1 postgresql-server-dev-$1 postgresql-server-dev-all postgresql-$1-pgtap" \
         "build-essential debhelper dpkg-dev ${PO_CHROOT_EXTRA_PACKAGES:-}"
}

pgv_dir() { echo "$PO_CHROOT_CACHE/chroot-$1"; }

pgv_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Mount points at or below a directory, deepest first.
pgv_mounts_under() {
    awk -v d="$1" '{ m = $5; gsub(/\\040/, " ", m); if (m == d || index(m, d "/") == 1) print m }' \
        /proc/self/mountinfo | sort -r
}

# Deletes an environment; refuses while anything is mounted inside it (a
# bind-mounted /tmp or source tree would be deleted with it).
pgv_remove_dir() {
    local dir=$1
    [ -e "$dir" ] || return 0
    if [ -n "$(pgv_mounts_under "$dir")" ]; then
        pgv_die "$dir has mounts inside it (in use by another run?): not deleted"
    fi
    rm -rf "$dir"
}

# Runs a command inside a chroot directory, in the caller's working
# directory when that path exists inside, with the environment's PATH.
pgv_chroot_exec() {
    local root=$1 major=$2; shift 2
    PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$root" /bin/sh -c \
        'cd "$0" 2>/dev/null || cd /; PATH=/usr/lib/postgresql/'"$major"'/bin:/usr/sbin:/usr/bin:/sbin:/bin; exec "$@"' \
        "$PWD" "$@"
}

# Builds the environment for a version when missing, or installs what its
# package list gained since. A build that stopped half-way is redone.
pgv_build() {
    local major=$1 suite dir stamp want
    suite=$(pgv_suite "$major") || pgv_die "no Debian environment for PostgreSQL $major (known: 17, 18)"
    dir=$(pgv_dir "$major")
    stamp="$dir/.projection_offset-environment"
    want="suite=$suite packages=$(pgv_packages "$major")"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    if ! command -v debootstrap >/dev/null 2>&1; then
        echo "installing debootstrap"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get install -y -qq --no-install-recommends debootstrap \
            || { apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap; }; } >/dev/null \
            || pgv_die "could not install debootstrap"
    fi
    mkdir -p "$PO_CHROOT_CACHE"
    local start=$SECONDS log="$PO_CHROOT_CACHE/build-$major.log"
    : >"$log"
    if [ ! -f "$stamp" ]; then
        echo "building the PostgreSQL $major environment: debootstrap $suite into $dir (log: $log)"
        pgv_remove_dir "$dir"
        pgv_remove_dir "$dir.partial"
        debootstrap --variant=minbase "$suite" "$dir.partial" "$PO_DEBIAN_MIRROR" >>"$log" 2>&1 \
            || { tail -n 20 "$log" >&2; pgv_die "debootstrap of $suite failed (log: $log)"; }
        pgv_configure "$dir.partial"
        mv "$dir.partial" "$dir"
    else
        echo "updating the PostgreSQL $major environment in $dir (log: $log)"
    fi
    # Package scripts need /proc and /dev: mounted for the install only.
    mount -t proc proc "$dir/proc"
    mount --rbind /dev "$dir/dev" && mount --make-rslave "$dir/dev"
    local rc=0
    # shellcheck disable=SC2046 # the package list is words
    {
        pgv_chroot_exec "$dir" "$major" apt-get update \
            && pgv_chroot_exec "$dir" "$major" env DEBIAN_FRONTEND=noninteractive apt-get install -y \
                -o Dpkg::Options::=--force-confold $(pgv_packages "$major") \
            && pgv_chroot_exec "$dir" "$major" apt-get clean
    } >>"$log" 2>&1 || rc=$?
    umount -R "$dir/dev" 2>/dev/null || umount -R -l "$dir/dev"
    umount "$dir/proc" 2>/dev/null || umount -l "$dir/proc"
    [ "$rc" = 0 ] || { tail -n 30 "$log" >&2; pgv_die "installing packages in $dir failed (log: $log)"; }
    [ -x "$dir/usr/lib/postgresql/$major/bin/pg_config" ] || pgv_die "$dir has no PostgreSQL $major after the install"
    echo "$want" >"$stamp"
    echo "PostgreSQL $major environment ready in $((SECONDS - start)) s"
}

# First configuration of a fresh debootstrap, before any package is
# installed: no service starts, no default cluster, no documentation, a
# Release file past its Valid-Until date accepted (sid's on a mirror
# snapshot), and a postgres user with the host's uid and gid.
pgv_configure() {
    local dir=$1 uid gid
    printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
    chmod 755 "$dir/usr/sbin/policy-rc.d"
    mkdir -p "$dir/etc/postgresql-common"
    echo "create_main_cluster = false" >"$dir/etc/postgresql-common/createcluster.conf"
    cat >"$dir/etc/apt/apt.conf.d/90projection-offset" <<'EOF'
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
Acquire::Languages "none";
EOF
    cat >"$dir/etc/dpkg/dpkg.cfg.d/90projection-offset" <<'EOF'
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/info/*
EOF
    uid=$(id -u postgres) || pgv_die "no postgres user on the host"
    gid=$(id -g postgres)
    [ -z "$(chroot "$dir" getent passwd "$uid")" ] || pgv_die "uid $uid is taken inside $dir"
    [ -z "$(chroot "$dir" getent group "$gid")" ] || pgv_die "gid $gid is taken inside $dir"
    chroot "$dir" groupadd --system --gid "$gid" postgres
    chroot "$dir" useradd --system --uid "$uid" --gid "$gid" --home-dir /var/lib/postgresql \
        --no-create-home --shell /bin/bash --comment "PostgreSQL administrator" postgres
}

# Holds the environment while this process runs: one user at a time, as
# mounts are per environment.
pgv_lock() {
    local major=$1
    mkdir -p "$PO_CHROOT_CACHE"
    exec {PGV_LOCK_FD}>>"$PO_CHROOT_CACHE/chroot-$major.lock"
    if ! flock -n "$PGV_LOCK_FD"; then
        echo "waiting for the PostgreSQL $major environment (in use by another run)"
        flock "$PGV_LOCK_FD"
    fi
}

PGV_MOUNTED=()

pgv_bind() {  # pgv_bind SOURCE: at the same path inside the entered environment
    local target="$PGV_ROOT$1"
    mkdir -p "$target"
    mount --rbind "$1" "$target"
    # Unmounting below must never propagate back to the host's mounts.
    mount --make-rslave "$target"
    PGV_MOUNTED+=("$target")
}

pgv_umount_all() {
    local i m
    for ((i = ${#PGV_MOUNTED[@]} - 1; i >= 0; i--)); do
        m=${PGV_MOUNTED[i]}
        umount -R "$m" 2>/dev/null || umount -R -l "$m" 2>/dev/null || echo "warning: could not unmount $m" >&2
    done
    PGV_MOUNTED=()
}

# Writes the wrapper directory: one script per program of the version, and
# runuser (see the header).
pgv_wrappers() {
    local major=$1 bin=$2 real=/usr/lib/postgresql/$1/bin prog name realrunuser enter
    rm -rf "$bin"
    mkdir -p "$bin"
    realrunuser=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v runuser) || pgv_die "runuser not found"
    enter="exec chroot '$PGV_ROOT' /bin/sh -c 'cd \"\$0\" 2>/dev/null || cd /; PATH=$real:/usr/sbin:/usr/bin:/sbin:/bin; exec \"\$@\"' \"\$PWD\""
    for prog in "$PGV_ROOT$real"/* "$PGV_ROOT/usr/lib/postgresql/$major/lib/pgxs/src/test"/*/pg_*regress; do
        [ -x "$prog" ] || continue
        name=$(basename "$prog")
        cat >"$bin/$name" <<WRAPPER
#!/bin/sh
# $name of PostgreSQL $major, run in the environment $PGV_ROOT
# (written by scripts/pgversion.sh; valid while that environment is entered).
REAL=${prog#"$PGV_ROOT"}
[ "\$(id -u)" = 0 ] || { echo "$name: PostgreSQL $major runs in a chroot: run as root, or through runuser from root" >&2; exit 1; }
$enter "\$REAL" "\$@"
WRAPPER
        chmod 755 "$bin/$name"
    done
    cat >"$bin/runuser" <<WRAPPER
#!/bin/sh
# runuser -u USER -- PROGRAM ARGS, where PROGRAM is one of the wrappers of
# this directory: the program runs as USER inside the environment of
# PostgreSQL $major. Anything else goes to the host's runuser.
if [ "\$1" = -u ] && [ "\$3" = -- ] && [ "\$(id -u)" = 0 ]; then
    prog=\$4
    case \$prog in */*) ;; *) prog=\$(command -v "\$prog" || echo "\$prog") ;; esac
    if [ "\${prog%/*}" = "$bin" ] && [ "\${prog##*/}" != runuser ]; then
        user=\$2
        REAL=\$(sed -n 's/^REAL=//p' "\$prog")
        shift 4
        $enter runuser -u "\$user" -- "\$REAL" "\$@"
    fi
fi
exec $realrunuser "\$@"
WRAPPER
    chmod 755 "$bin/runuser"
}

# pgv_enter MAJOR [DIR...]: builds the environment if needed, takes it,
# mounts /proc, /dev, /tmp and the given directories, writes the wrappers,
# and sets PG_MAJOR, PG_BIN (the wrappers, first in PATH), PG_CONFIG (its
# path inside) and PGV_ROOT. An EXIT trap runs PGV_EXIT_HOOK (if set), stops
# any process left inside, and unmounts.
pgv_enter() {
    local major=$1 d; shift
    [ "$(id -u)" = 0 ] || pgv_die "entering the PostgreSQL $major environment needs root (chroot and mount)"
    pgv_lock "$major"
    pgv_build "$major"
    PGV_ROOT=$(pgv_dir "$major")
    # Holding the lock, anything still running or mounted in the environment
    # was left by a run that was killed: it goes first.
    pgv_stop_processes
    local m
    for m in $(pgv_mounts_under "$PGV_ROOT"); do
        echo "unmounting $m, left by an earlier run" >&2
        umount -l "$m" || true
    done
    [ -z "$(pgv_mounts_under "$PGV_ROOT")" ] \
        || pgv_die "$PGV_ROOT still has mounts from an earlier run: umount -R them (findmnt -R $PGV_ROOT)"
    trap 'pgv_leave' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    mount -t proc proc "$PGV_ROOT/proc"
    PGV_MOUNTED+=("$PGV_ROOT/proc")
    pgv_bind /dev
    pgv_bind /tmp
    for d in "$@"; do
        d=$(cd "$d" && pwd -P)
        case $d/ in /tmp/*) continue ;; esac
        pgv_bind "$d"
    done
    PG_MAJOR=$major
    PG_BIN="$PO_CHROOT_CACHE/bin-$major"
    PG_CONFIG=/usr/lib/postgresql/$major/bin/pg_config
    pgv_wrappers "$major" "$PG_BIN"
    PATH="$PG_BIN:$PATH"
    export PATH PG_MAJOR PG_BIN PG_CONFIG PGV_ROOT
    # Read by scripts/common.sh in every suite started from here.
    export PO_PG_MAJOR=$major PO_PG_BIN=$PG_BIN PO_PG_ENV=$PGV_ROOT
}

# Processes whose root directory is the environment's.
pgv_processes() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$PGV_ROOT" ] && echo "${p#/proc/}"
    done
    return 0
}

# Stops whatever still runs inside the environment (a server that a failed
# suite left running would keep the mounts busy).
pgv_stop_processes() {
    local pids
    pids=$(pgv_processes)
    [ -n "$pids" ] || return 0
    echo "stopping processes left in $PGV_ROOT:" $pids >&2
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null || true
    sleep 2
    pids=$(pgv_processes)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

pgv_leave() {
    local rc=$?
    trap - EXIT
    if [ -n "${PGV_EXIT_HOOK:-}" ]; then $PGV_EXIT_HOOK || true; fi
    pgv_stop_processes
    pgv_umount_all
    if [ -n "${PGV_LOCK_FD:-}" ]; then exec {PGV_LOCK_FD}>&-; fi
    exit "$rc"
}

# Runs a command in the entered environment, as root, in the current
# directory. With no environment entered, on the host.
pg_env() {
    if [ -n "${PO_PG_ENV:-}" ]; then
        pgv_chroot_exec "$PO_PG_ENV" "$PG_MAJOR" "$@"
    else
        "$@"
    fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    [ "$(id -u)" = 0 ] || pgv_die "run as root: it builds and enters chroots"
    action=${1:-}
    major=${2:-}
    [ -n "$action" ] && [ -n "$major" ] || pgv_die "usage: $0 build|shell|run|with|remove MAJOR [CMD ...]"
    shift 2
    here=$(cd "$(dirname "$0")/.." && pwd)
    case $action in
        build) pgv_lock "$major"; pgv_build "$major" ;;
        shell) pgv_enter "$major" "$here"; pg_env bash -i ;;
        run) pgv_enter "$major" "$here"; pg_env "$@" ;;
        with) pgv_enter "$major" "$here"; "$@" ;;
        remove)
            pgv_lock "$major"
            pgv_remove_dir "$(pgv_dir "$major")"
            pgv_remove_dir "$(pgv_dir "$major").partial"
            rm -rf "$PO_CHROOT_CACHE/bin-$major"
            ;;
        *) pgv_die "unknown action $action" ;;
    esac
fi
