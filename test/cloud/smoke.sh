#!/usr/bin/env bash
# Smoke test of the running test cloud (see smoke.py).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ -e "$STATE/cloud.env" ] || die "no $STATE/cloud.env: run up.sh first"
set -a; . "$STATE/cloud.env"; set +a
exec "$PY" "$CLOUD_SRC/smoke.py"
