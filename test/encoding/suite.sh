#!/usr/bin/env bash
# Databases in UTF8, LATIN1 and EUC_JP, read by a real client (psycopg,
# client_encoding UTF8): errors quoting long multibyte ids keep their
# SQLSTATE, and payload hashes are those of the documented formula. See
# encoding.py.
#
# scripts/test.sh runs it against its throwaway cluster (PGHOST, PGPORT,
# PGUSER exported). Run alone, as root, it starts a throwaway cluster of its
# own on PO_PORT (default 54353):
#     sudo bash test/encoding/suite.sh
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../../scripts/common.sh"

run_python_suite encoding 54353 "$HERE/encoding.py"
