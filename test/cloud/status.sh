#!/usr/bin/env bash
# Shows each test-cloud service: pid, alive, memory (RSS and PSS of its whole
# process group: master + workers), port and whether it answers.
# Exit 0 when every service is up and answering, 1 otherwise.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# group_mem PGID -> "RSS_KB PSS_KB NPROCS"
group_mem() {
  local rss=0 pss=0 n=0 p v
  for p in $(pgrep -g "$1" 2>/dev/null); do
    v=$(awk '/^Rss:/{r=$2} /^Pss:/{s=$2} END{print r+0, s+0}' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
    rss=$((rss + ${v% *})); pss=$((pss + ${v#* })); n=$((n + 1))
  done
  echo "$rss $pss $n"
}

printf '%-15s %8s %-5s %6s %9s %9s %6s %s\n' SERVICE PID ALIVE PROCS RSS_MiB PSS_MiB PORT ANSWERS
tot_rss=0 tot_pss=0 bad=0
for s in "${SERVICES[@]}"; do
  pid=$(svc_pid "$s") || pid=""
  if [ -n "$pid" ]; then
    read -r rss pss n < <(group_mem "$pid")
    alive=yes
  else
    rss=0 pss=0 n=0 alive=no
  fi
  tot_rss=$((tot_rss + rss)); tot_pss=$((tot_pss + pss))
  port="${PORT[$s]:--}"
  if [ -n "${HEALTH_URL[$s]:-}" ]; then
    http_ok "${HEALTH_URL[$s]}" && ans=yes || ans=no
  elif [ "$port" != - ]; then
    port_open "$port" && ans=yes || ans=no
  else
    ans=-
  fi
  note=""
  if [ "$s" = nova-compute-2 ] && [ -e "$STAMPS/seed-stale-compute" ]; then note=" (stopped by seed.sh)"
  elif [ "$alive" = no ] || [ "$ans" = no ]; then bad=1; fi
  printf '%-15s %8s %-5s %6s %9s %9s %6s %s%s\n' "$s" "${pid:--}" "$alive" "$n" \
    $((rss / 1024)) $((pss / 1024)) "$port" "$ans" "$note"
done
printf '%-15s %8s %-5s %6s %9s %9s\n' TOTAL "" "" "" $((tot_rss / 1024)) $((tot_pss / 1024))
echo "state: $STATE   env: $STATE/cloud.env   logs: $LOG"
exit $bad
