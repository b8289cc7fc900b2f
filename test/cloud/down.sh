#!/usr/bin/env bash
# Stops the test-cloud services that up.sh started (only the pids in $STATE/run),
# in reverse start order: TERM, wait, then KILL after a bound. Data is kept.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
take_lock

BOUND="${STACKDOCTOR_CLOUD_STOP_TIMEOUT:-30}"
# Nova, Neutron, Glance, Mistral and the APIs are independent of each other:
# stop them in parallel (a stopping Nova service needs 5-10 s), then the
# infrastructure they use.
apis=(mistral-api nova-compute-1 nova-compute-2 nova-scheduler nova-conductor nova-api neutron glance placement keystone)
pids=()
for s in "${apis[@]}"; do
  if svc_alive "$s"; then log "stopping $s"; stop_svc "$s" "$BOUND" & pids+=($!); else rm -f "$RUN/$s.pid"; fi
done
for p in "${pids[@]}"; do wait "$p"; done
for s in mariadb rabbitmq epmd; do
  if svc_alive "$s"; then log "stopping $s"; stop_svc "$s" "$BOUND"; else rm -f "$RUN/$s.pid"; fi
done
log "test cloud stopped (data kept in $STATE)"
