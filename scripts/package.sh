#!/usr/bin/env bash
# Debian packages postgresql-NN-projection-offset, built as Debian builds its
# own PostgreSQL extensions: `pg_buildext updatecontrol` writes debian/control
# for the versions the machine supports, then dpkg-buildpackage runs
# pg_buildext (debhelper's pgxs sequence), a PGXS build per version.
# PostgreSQL 15 builds on the host; 17 and 18 each in their Debian
# environment (scripts/pgversion.sh).
#
#     sudo bash scripts/package.sh [MAJOR...]          build into dist/
#     sudo bash scripts/package.sh --check [MAJOR...]  build, install into the
#         environment, and check the installed package in a new cluster
# MAJOR defaults to 15. On the host, --check removes the package afterwards
# (the host's PostgreSQL 15 tree is shared: see pg15_lock in common.sh).
#
# As a library (scripts/test.sh): package_build WORKDIR sets PACKAGE_DEB;
# package_check DEB installs it and checks it; package_remove DEB.
# shellcheck shell=bash

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# The regression tests run against the installed package: the offset
# contract, and the upgrade through every shipped script.
PO_PACKAGE_TESTS=${PO_PACKAGE_TESTS:-contract upgrade}

# package_build WORKDIR: builds the package of PG_MAJOR from a copy of the
# source tree in WORKDIR/projection-offset; sets PACKAGE_DEB.
package_build() {
    local work=$1 src status=0
    src="$work/projection-offset"
    rm -rf "$src"
    source_copy "$src"
    chmod 755 "$work"
    echo "building postgresql-$PG_MAJOR-projection-offset with pg_buildext (log: $work/build.log)"
    (cd "$src" && pg_env sh -c 'pg_buildext updatecontrol && grep -q "^Package: postgresql-$0-projection-offset\$" debian/control \
            && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -b -us -uc -Pnocheck' "$PG_MAJOR") \
        >"$work/build.log" 2>&1 || status=$?
    PACKAGE_DEB=$(ls "$work"/postgresql-"$PG_MAJOR"-projection-offset_*.deb 2>/dev/null | head -1)
    if [ "$status" != 0 ] || [ -z "$PACKAGE_DEB" ]; then
        tail -n 60 "$work/build.log"
        echo "the package build failed (log: $work/build.log)"
        return 1
    fi
    grep -iE '^dpkg-deb: building package' "$work/build.log" | grep -v dbgsym
}

# package_check DEB: installs the package into the environment, starts a new
# cluster of its own with its library preloaded, and checks the installed
# extension. Ends with "package: N passed, N failed". It runs in a subshell,
# so that its cluster and settings stay its own.
package_check() (
    set +e
    local deb=$1 pkg libdir sharedir out passed=0 failed=0 files f
    pkg=$(dpkg-deb -f "$deb" Package)
    libdir=$(pg_env "$PG_CONFIG" --pkglibdir)
    sharedir=$(pg_env "$PG_CONFIG" --sharedir)
    check() {  # check NAME COMMAND...
        if "${@:2}"; then passed=$((passed + 1)); echo "ok - $1"; else failed=$((failed + 1)); echo "not ok - $1"; fi
    }
    install_deb() {
        pg_env env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            -o DPkg::Lock::Timeout=600 "$1" >"$1.log" 2>&1 || { cat "$1.log"; return 1; }
    }
    check "$pkg installs" install_deb "$deb"
    files=$(pg_env dpkg -L "$pkg" 2>/dev/null)
    check "the installed module belongs to $pkg" \
        test "$(pg_env dpkg -S "$libdir/projection_offset.so" 2>/dev/null | cut -d: -f1)" = "$pkg"
    local missing=()
    for f in projection_offset.control $(cd "$ROOT" && ls projection_offset--*.sql); do
        grep -qxF "$sharedir/extension/$f" <<<"$files" || missing+=("$f")
    done
    [ ${#missing[@]} = 0 ] || echo "missing from $pkg: ${missing[*]}"
    check "$pkg ships the control file and every install and upgrade script" test ${#missing[@]} = 0
    check "$pkg ships the JIT bitcode" grep -q "^$libdir/bitcode/projection_offset/" <<<"$files"

    PO_PORT=${PO_PACKAGE_PORT:-54363}
    trap cluster_stop EXIT
    if cluster_start; then
        passed=$((passed + 1)); echo "ok - a new cluster starts with the packaged library preloaded"
        local installed default
        installed=$(psql -X -q -At -v ON_ERROR_STOP=1 -d postgres -c "CREATE EXTENSION projection_offset" \
            -c "SELECT extversion FROM pg_extension WHERE extname = 'projection_offset'")
        default=$(psql -X -q -At -d postgres -c "SELECT default_version FROM pg_available_extensions WHERE name = 'projection_offset'")
        check "CREATE EXTENSION installs the default version ($default)" test -n "$installed" -a "$installed" = "$default"
        out=$(mktemp -d /tmp/po_package.XXXXXX)
        # shellcheck disable=SC2086 # the test list is words
        if pg_env "$libdir/pgxs/src/test/regress/pg_regress" --inputdir="$ROOT" --outputdir="$out" \
                --bindir="/usr/lib/postgresql/$PG_MAJOR/bin" --dbname=po_package \
                --load-extension=projection_offset $PO_PACKAGE_TESTS >"$out/run.log" 2>&1; then
            passed=$((passed + 1)); echo "ok - pg_regress $PO_PACKAGE_TESTS against the installed package"
            rm -rf "$out"
        else
            cat "$out/run.log" "$out/regression.diffs" 2>/dev/null | head -200
            failed=$((failed + 1)); echo "not ok - pg_regress $PO_PACKAGE_TESTS against the installed package (outputs in $out)"
        fi
        cluster_stop
    else
        failed=$((failed + 1)); echo "not ok - a new cluster starts with the packaged library preloaded"
    fi
    echo "package: $passed passed, $failed failed"
    [ "$failed" = 0 ]
)

package_remove() {
    pg_env env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq -o DPkg::Lock::Timeout=600 \
        "$(dpkg-deb -f "$1" Package)" >/dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    require_root
    do_check=
    if [ "${1:-}" = --check ]; then do_check=1; shift; fi
    [ $# -gt 0 ] || set -- "$HOST_PG_MAJOR"
    mkdir -p "$ROOT/dist"
    for major in "$@"; do
        (
            work=$(mktemp -d /tmp/po_deb.XXXXXX)
            if [ "$major" = "$HOST_PG_MAJOR" ]; then
                ensure_packages
            else
                PGV_EXIT_HOOK=cluster_stop
                pgv_enter "$major" "$ROOT"
            fi
            package_build "$work"
            cp "$PACKAGE_DEB" "$ROOT/dist/"
            echo "dist/$(basename "$PACKAGE_DEB")"
            if [ -n "$do_check" ]; then
                if [ "$major" = "$HOST_PG_MAJOR" ]; then
                    pg15_lock
                    trap 'cluster_stop; package_remove "$PACKAGE_DEB" || true' EXIT
                fi
                package_check "$PACKAGE_DEB"
            fi
            rm -rf "$work"
        )
    done
fi
