#!/usr/bin/env bash
# seed.sh [--undo]: creates (or removes) the broken states the runbooks describe,
# on the running test cloud, for the demo. Everything seeded is named sd-seed-*.
#   - an orphaned Placement allocation on sd-compute-1 (random consumer uuid)
#   - a stale nova-compute service: sd-compute-2 stopped, disabled, version 22
#     in the cell DB (undo: version restored, enabled, restarted)
#   - images: a QCOW2, a QCOW2 labelled raw, a raw one without properties
#   - Mistral with an empty action list (legacy action provider disabled)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
take_lock
. "$CLOUD_SRC/configs.sh"

undo=0
case "${1:-}" in
  --undo) undo=1 ;;
  "") ;;
  *) echo "usage: $0 [--undo]" >&2; exit 2 ;;
esac
[ -e "$STATE/cloud.env" ] || die "no $STATE/cloud.env: run up.sh first"
set -a; . "$STATE/cloud.env"; set +a
seedpy() { "$PY" "$CLOUD_SRC/seed.py" "$@"; }
mkdir -p "$STATE/seed"
# the version a current nova-compute writes into its row (64 on Zed)
nova_service_version() {
  sed -n 's/^SERVICE_VERSION = \([0-9][0-9]*\).*/\1/p' /usr/lib/python3/dist-packages/nova/objects/service.py
}

cell_sql() { "${MYSQL[@]}" nova -N -e "$1"; }
STALE_WHERE="host='sd-compute-2' AND \`binary\`='nova-compute' AND deleted=0"

if [ "$undo" = 0 ]; then
  seedpy apply-api

  if [ ! -e "$STAMPS/seed-stale-compute" ]; then
    touch "$STAMPS/seed-stale-compute"          # up.sh keeps sd-compute-2 down from now on
    write_configs                               # nova: tolerate the old row on restart
    # disable first: while the compute still runs, the API's RPC that sets the
    # COMPUTE_STATUS_DISABLED trait gets an answer instead of a 60 s timeout
    seedpy disable-stale
    log "stopping nova-compute-2"
    stop_svc nova-compute-2 30
    old="$(cell_sql "SELECT version FROM services WHERE $STALE_WHERE")"
    cell_sql "UPDATE services SET version=22 WHERE $STALE_WHERE"
    log "sd-compute-2: stopped, disabled, services.version ${old:-?} -> 22 (cell DB nova)"
  fi

  if [ ! -e "$STAMPS/seed-mistral" ]; then
    touch "$STAMPS/seed-mistral"
    write_configs                               # [legacy_action_provider] load_* = false
    stop_svc mistral-api 30
    start_mistral_api
    wait_ready mistral-api 120
  fi
  seedpy expect-actions-empty
  log "seeded; undo with: bash $CLOUD_SRC/seed.sh --undo"
else
  seedpy undo-api

  if [ -e "$STAMPS/seed-stale-compute" ]; then
    version="$(nova_service_version)"
    cell_sql "UPDATE services SET version=${version:-64} WHERE $STALE_WHERE"
    seedpy enable-stale
    rm -f "$STAMPS/seed-stale-compute"
    write_configs
    start_nova_compute 2
    wait_ready nova-compute-2 30
    seedpy wait-compute-up
  fi

  if [ -e "$STAMPS/seed-mistral" ]; then
    rm -f "$STAMPS/seed-mistral"
    write_configs
    stop_svc mistral-api 30
    start_mistral_api
    wait_ready mistral-api 120
  fi
  seedpy expect-actions-present
  log "seeded faults removed"
fi
