#!/usr/bin/env bash
# Concurrency specs: pg_isolation_regress runs test/isolation/specs/*.spec
# and compares each output with test/isolation/expected/*.out. They run
# through PGXS, as the ISOLATION part of `make installcheck` (the Makefile
# names them), built out of the tree with the version's own PGXS.
#
# Against a running server (PGHOST, PGPORT, PGUSER of a superuser), as any
# user:
#     make installcheck REGRESS=         (or plain make installcheck, which
#                                          runs the regression tests first)
#     bash test/isolation/suite.sh
# scripts/test.sh runs it against its throwaway cluster. Run alone as root
# with no PGHOST, it starts a throwaway cluster of its own on PO_PORT
# (default 54352) with the installed extension, and runs the specs as an
# unprivileged user (PO_CHECK_USER, default nobody):
#     sudo bash test/isolation/suite.sh
# The specs take no measurable time to wait: every interleaving is forced by
# the isolation tester through lock waits, never by sleeps.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../../scripts/common.sh"

if [ -z "${PGHOST:-}" ]; then
    require_root
    PO_PORT=${PO_PORT:-54352}
    trap cluster_stop EXIT
    cluster_start
fi

pgxs_installcheck isolation REGRESS=
