# Shared helpers of the test-cloud scripts (sourced, not run).
# shellcheck shell=bash

STATE="${STACKDOCTOR_CLOUD_DIR:-/var/tmp/stackdoctor-cloud}"
CLOUD_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=/usr/bin/python3            # Debian's python: the one with the OpenStack libraries
ETC="$STATE/etc"
LOG="$STATE/log"
RUN="$STATE/run"
DATA="$STATE/data"
SECRETS="$STATE/secrets"
STAMPS="$STATE/stamps"
PKGROOT="$STATE/pkgroot"

# Start order; down.sh stops in reverse.
SERVICES=(epmd rabbitmq mariadb keystone placement glance neutron
          nova-api nova-conductor nova-scheduler nova-compute-1 nova-compute-2 mistral-api)

# name -> TCP port that answers when the service is usable ("" = none)
declare -A PORT=(
  [epmd]=4369 [rabbitmq]=5672 [mariadb]=3306 [keystone]=5000 [placement]=8778 [glance]=9292
  [neutron]=9696 [nova-api]=8774 [mistral-api]=8989
)
# name -> URL that must answer HTTP (any status below 500) when the API is up
declare -A HEALTH_URL=(
  [keystone]=http://127.0.0.1:5000/v3 [placement]=http://127.0.0.1:8778/
  [glance]=http://127.0.0.1:9292/versions [neutron]=http://127.0.0.1:9696/
  [nova-api]=http://127.0.0.1:8774/ [mistral-api]=http://127.0.0.1:8989/
)

# up.sh, down.sh and seed.sh never run at the same time on one state dir
take_lock() {
  mkdir -p "$STATE"
  exec 9>>"$STATE/.lock"
  if ! flock -n 9; then
    log "waiting for another test-cloud script (lock $STATE/.lock)"
    flock -w 900 9 || die "could not take $STATE/.lock within 900 s"
  fi
}

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The pid file holds "PID STARTTIME" (field 22 of /proc/PID/stat), so a
# recycled pid is never mistaken for ours.
# (parsed after the last ")": the command name may contain spaces)
proc_starttime() {
  local stat
  { IFS= read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 0
  stat="${stat##*) }"
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20:-}"
}

svc_pid() {
  local f="$RUN/$1.pid" pid st
  [ -s "$f" ] || return 1
  read -r pid st < "$f" || true
  [ -n "${pid:-}" ] && [ -d "/proc/$pid" ] && [ "$(proc_starttime "$pid")" = "${st:-}" ] || return 1
  echo "$pid"
}

svc_alive() { svc_pid "$1" >/dev/null; }

# start_svc NAME CMD... : runs CMD in its own session, output to $LOG/NAME.log
start_svc() {
  local name="$1"; shift
  mkdir -p "$RUN" "$LOG"
  setsid "$@" >>"$LOG/$name.log" 2>&1 < /dev/null 9>&- &   # 9: the scripts' lock
  local pid=$!
  local st=""
  for _ in 1 2 3 4 5 6 7 8 9 10; do st="$(proc_starttime "$pid")"; [ -n "$st" ] && break; sleep 0.05; done
  echo "$pid $st" > "$RUN/$name.pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_ok() {
  local code
  code="$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null || true)"
  [ -n "$code" ] && [ "$code" != 000 ] && [ "$code" -lt 500 ]
}

svc_ready() {
  local name="$1"
  svc_alive "$name" || return 1
  if [ -n "${HEALTH_URL[$name]:-}" ]; then http_ok "${HEALTH_URL[$name]}"
  elif [ -n "${PORT[$name]:-}" ]; then port_open "${PORT[$name]}"
  else return 0; fi
}

# pid_running PID STARTTIME: the process still exists and is not a zombie
pid_running() {
  local stat
  { IFS= read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
  [ -n "$stat" ] || return 1
  stat="${stat##*) }"                      # fields after "(comm) ": state is field 3
  # shellcheck disable=SC2086
  set -- "$2" $stat                        # now $2 = state, ${21} = starttime (field 22)
  [ "$2" != Z ] && [ "${21}" = "$1" ]
}

# Stop one service: TERM its process group (it was started with setsid, so the
# group is exactly what we started: master + workers), wait, then KILL.
stop_svc() {
  local name="$1" bound="${2:-30}" pid st i=0
  if ! pid="$(svc_pid "$name")"; then rm -f "$RUN/$name.pid"; return 0; fi
  st="$(proc_starttime "$pid")"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  while pid_running "$pid" "$st" && [ $i -lt $((bound * 10)) ]; do sleep 0.1; i=$((i + 1)); done
  if pid_running "$pid" "$st"; then
    log "$name (pid $pid) did not exit within ${bound}s: KILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  # workers that outlived their master (same process group)
  if pgrep -g "$pid" >/dev/null 2>&1; then
    sleep 1
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$name.pid"
}

secret() { printf '%s' "$(<"$SECRETS/$1")"; }

start_if_down() { # start_if_down NAME CMD...
  local name="$1"; shift
  if svc_alive "$name"; then return 0; fi
  log "starting $name"
  start_svc "$name" "$@"
}

# Shared with seed.sh, which restarts these two.
start_mistral_api() {
  start_if_down mistral-api "$STATE/bin/mistral-server" --server api --config-file "$ETC/mistral/mistral.conf"
}
start_nova_compute() { # 1|2
  start_if_down "nova-compute-$1" "$STATE/bin/nova-compute" --config-file "$ETC/nova/nova-compute-$1.conf"
}

fail_svc() {
  log "ERROR: $1 failed to start; last lines of $LOG/$1.log:"
  tail -n 40 "$LOG/$1.log" >&2 2>/dev/null || true
  exit 1
}

# wait_ready NAME TIMEOUT: until the service answers; on death or timeout, show its log and exit 1
wait_ready() {
  local name="$1" timeout="$2" i=0
  while ! svc_ready "$name"; do
    svc_alive "$name" || fail_svc "$name"
    i=$((i + 1)); [ $i -gt $((timeout * 4)) ] && { log "timeout waiting for $name"; fail_svc "$name"; }
    sleep 0.25
  done
  log "$name ready${T0:+ ($(( $(date +%s) - T0 ))s)}"
}

MYSQL=(mariadb --defaults-file="$ETC/mysql/my.cnf" -uroot)
