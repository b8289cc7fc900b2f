#!/usr/bin/env bash
# mistral-providers.sh disable|enable: restarts the test cloud's mistral-api with the legacy action provider
# off (seed.sh's Mistral fault, and only that one) or back on. Uses the cloud scripts' own helpers and lock;
# `seed.sh --undo` also restores it, as the same stamp drives both.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../../cloud/lib.sh"
take_lock
. "$CLOUD_SRC/configs.sh"
case "${1:-}" in
  disable) touch "$STAMPS/seed-mistral" ;;
  enable) rm -f "$STAMPS/seed-mistral" ;;
  *) echo "usage: $0 disable|enable" >&2; exit 2 ;;
esac
write_configs
stop_svc mistral-api 30
start_mistral_api
wait_ready mistral-api 120
