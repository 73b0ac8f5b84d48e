#!/usr/bin/env bash
# Installs what is needed, builds and installs the extension, and shows it at
# work on a throwaway cluster. Usage: sudo scripts/demo.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_root
ensure_packages
build_and_install
trap cluster_stop EXIT
PO_PORT=${PO_PORT:-54330} cluster_start
say "demo (psql on $PGHOST, port $PGPORT)"
psql -X -q -v ON_ERROR_STOP=0 -f "$ROOT/scripts/demo.sql"
