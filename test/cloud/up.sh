#!/usr/bin/env bash
# Brings the local OpenStack test cloud up (idempotent). See README.md.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ "$(id -u)" -eq 0 ] || die "up.sh must run as root (it installs Debian packages and runs the services as root)."
take_lock
. "$CLOUD_SRC/configs.sh"

T0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - T0 ))s"; }

all_ready() {
  local s
  [ -e "$STAMPS/provisioned" ] && [ -e "$STATE/cloud.env" ] || return 1
  for s in "${SERVICES[@]}"; do
    [ "$s" = nova-compute-2 ] && [ -e "$STAMPS/seed-stale-compute" ] && continue
    svc_ready "$s" || return 1
  done
}


if all_ready; then
  log "test cloud already up (state: $STATE); source $STATE/cloud.env"
  exit 0
fi

mkdir -p "$STATE" "$ETC" "$LOG" "$RUN" "$DATA" "$SECRETS" "$STAMPS"
chmod 700 "$STATE" "$SECRETS"

# --- packages -----------------------------------------------------------------
need_install=0
for c in /usr/bin/uwsgi /usr/sbin/mariadbd /usr/lib/rabbitmq/bin/rabbitmq-server /usr/bin/qemu-img \
         /usr/bin/keystone-manage /usr/bin/placement-manage /usr/bin/epmd; do
  [ -x "$c" ] || need_install=1
done
for m in nova glance neutron mistral; do
  [ -d "/usr/lib/python3/dist-packages/$m" ] || need_install=1
done
[ -e "$PKGROOT/debs/nova-common.unpacked" ] || need_install=1
if [ "$need_install" = 1 ]; then
  bash "$CLOUD_SRC/install.sh"
  T0=$(date +%s)   # the budget counts from installed packages
fi

# --- secrets (once per state dir) ---------------------------------------------
for s in db rabbit admin sd-member nova placement glance neutron mistral; do
  if [ ! -s "$SECRETS/$s" ]; then
    (umask 077; head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$SECRETS/$s")
  fi
done
chmod 600 "$SECRETS"/*
if [ ! -s "$DATA/rabbitmq/.erlang.cookie" ]; then
  mkdir -p "$DATA/rabbitmq"
  (umask 077; head -c 15 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr 'a-f' 'A-F' > "$DATA/rabbitmq/.erlang.cookie")
  chmod 400 "$DATA/rabbitmq/.erlang.cookie"
fi

write_configs
write_bin

# --- helpers --------------------------------------------------------------------
# run_step STAMP LOGNAME CMD... : run once per state dir, output to the log
run_step() {
  local stamp="$1" name="$2"; shift 2
  [ -e "$STAMPS/$stamp" ] && return 0
  if ! "$@" >>"$LOG/$name.log" 2>&1; then
    log "ERROR: step $stamp failed; last lines of $LOG/$name.log:"
    tail -n 40 "$LOG/$name.log" >&2
    return 1
  fi
  touch "$STAMPS/$stamp"
}

RABBIT_ENV=(env HOME="$DATA/rabbitmq" RABBITMQ_NODENAME=rabbit@localhost
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5672 RABBITMQ_DIST_PORT=25672
  ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=4369
  RABBITMQ_CONF_ENV_FILE="$ETC/rabbitmq/rabbitmq-env.conf"
  RABBITMQ_CONFIG_FILE="$ETC/rabbitmq/rabbitmq.conf"
  RABBITMQ_ENABLED_PLUGINS_FILE="$ETC/rabbitmq/enabled_plugins"
  RABBITMQ_MNESIA_BASE="$DATA/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$LOG"
  RABBITMQ_LOGS=- RABBITMQ_PID_FILE="$RUN/rabbitmq.pidfile"
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}")

# uwsgi_svc NAME PORT PROCESSES THREADS WSGIFILE ENV=VALUE... : starts NAME under uwsgi.
# "Connection: close": uwsgi's http-socket does not keep connections alive, and
# clients that reuse a connection otherwise see sporadic disconnects.
uwsgi_svc() {
  local name="$1" port="$2" procs="$3" threads="$4" file="$5" envs=() e; shift 5
  for e in "$@"; do envs+=(--env "$e"); done
  start_if_down "$name" /usr/bin/uwsgi --plugin python3 --http-socket "127.0.0.1:$port" --master --die-on-term \
    --need-app --lazy-apps --processes "$procs" --threads "$threads" --enable-threads \
    --buffer-size 65535 --add-header "Connection: close" --procname-prefix-spaced "$name" \
    --wsgi-file "$file" "${envs[@]}"
}

# --- infrastructure: epmd, RabbitMQ, MariaDB -----------------------------------------
start_if_down epmd /usr/bin/epmd -address 127.0.0.1 -port 4369
if ! svc_alive rabbitmq; then
  wait_ready epmd 10
  start_if_down rabbitmq "${RABBIT_ENV[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server
fi
if ! svc_alive mariadb; then
  if [ ! -d "$DATA/mysql/mysql" ]; then
    log "initialising MariaDB data directory"
    mariadb-install-db --defaults-file="$ETC/mysql/my.cnf" --auth-root-authentication-method=socket \
      --skip-test-db >>"$LOG/mariadb-init.log" 2>&1 || { tail -n 30 "$LOG/mariadb-init.log" >&2; die "mariadb-install-db failed"; }
  fi
  start_if_down mariadb /usr/sbin/mariadbd --defaults-file="$ETC/mysql/my.cnf"
fi
wait_ready mariadb 60
if [ ! -e "$STAMPS/databases" ]; then
  {
    for db in keystone placement glance nova_api nova nova_cell0 neutron mistral; do
      echo "CREATE DATABASE IF NOT EXISTS $db CHARACTER SET utf8;"
    done
    echo "CREATE USER IF NOT EXISTS 'stackdoctor'@'127.0.0.1' IDENTIFIED BY '$(secret db)';"
    echo "GRANT ALL PRIVILEGES ON *.* TO 'stackdoctor'@'127.0.0.1' WITH GRANT OPTION;"
    echo "FLUSH PRIVILEGES;"
  } | "${MYSQL[@]}" || die "creating databases failed"
  touch "$STAMPS/databases"
fi

# --- lanes: each service syncs its schema, then starts; all lanes run in parallel --------
# (first run: the syncs dominate; on 2 shared cores more parallel work also means
# a larger share of the CPU). Nova waits for the identity data: its conductor and
# scheduler authenticate to Placement at start.
KEYSTONE_MANAGE=(/usr/bin/keystone-manage --config-file "$ETC/keystone/keystone.conf")
NOVA_MANAGE=("$STATE/bin/nova-manage" --config-file "$ETC/nova/nova.conf")
IDENTITY_READY="$RUN/identity-ready"
LANE_FAILED="$RUN/lane-failed"
rm -f "$IDENTITY_READY" "$LANE_FAILED"

lane_keystone() {
  # key repositories need no database: set them up while the schema syncs
  local p1 p2 p3
  run_step keystone-db keystone-manage "${KEYSTONE_MANAGE[@]}" db_sync & p1=$!
  run_step keystone-fernet keystone-manage "${KEYSTONE_MANAGE[@]}" fernet_setup --keystone-user root --keystone-group root & p2=$!
  run_step keystone-credential keystone-manage "${KEYSTONE_MANAGE[@]}" credential_setup --keystone-user root --keystone-group root & p3=$!
  wait $p1 || return 1; wait $p2 || return 1; wait $p3 || return 1
  run_step keystone-bootstrap keystone-manage env OS_BOOTSTRAP_PASSWORD="$(secret admin)" "${KEYSTONE_MANAGE[@]}" bootstrap \
    --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
    --bootstrap-admin-url http://127.0.0.1:5000/v3 --bootstrap-internal-url http://127.0.0.1:5000/v3 \
    --bootstrap-public-url http://127.0.0.1:5000/v3 || return 1
  uwsgi_svc keystone 5000 1 8 "$ETC/wsgi/keystone.py" OS_KEYSTONE_CONFIG_DIR="$ETC/keystone" || return 1
  wait_ready keystone 300 || return 1
  if [ ! -e "$STAMPS/provisioned" ] || [ ! -e "$STATE/cloud.env" ]; then
    STATE="$STATE" "$PY" "$CLOUD_SRC/provision.py" identity >>"$LOG/provision.log" 2>&1 \
      || { tail -n 40 "$LOG/provision.log" >&2; die "provisioning identity failed"; }
    log "identity provisioned ($(elapsed))"
  fi
  touch "$IDENTITY_READY"
}
lane_placement() {
  run_step placement-db placement-manage /usr/bin/placement-manage --config-file "$ETC/placement/placement.conf" db sync || return 1
  uwsgi_svc placement 8778 1 4 "$ETC/wsgi/placement.py" OS_PLACEMENT_CONFIG_DIR="$ETC/placement" || return 1
}
lane_glance() {
  run_step glance-db glance-manage "$STATE/bin/glance-manage" --config-file "$ETC/glance/glance-api.conf" db_sync || return 1
  start_if_down glance "$STATE/bin/glance-api" --config-file "$ETC/glance/glance-api.conf" || return 1
}
lane_neutron() {
  run_step neutron-db neutron-db-manage "$STATE/bin/neutron-db-manage" --config-file "$ETC/neutron/neutron.conf" upgrade heads || return 1
  start_if_down neutron "$STATE/bin/neutron-server" --config-file "$ETC/neutron/neutron.conf" || return 1
}
lane_mistral() {
  run_step mistral-db mistral-db-manage "$STATE/bin/mistral-db-manage" --config-file "$ETC/mistral/mistral.conf" upgrade head || return 1
  start_mistral_api || return 1
}
lane_nova() {
  # the API DB, cell1 and cell0 schemas are independent: sync them in parallel
  # (cell0 through a config whose [database] points at nova_cell0)
  local p1 p2 p3
  run_step nova-api-db nova-manage "${NOVA_MANAGE[@]}" api_db sync & p1=$!
  run_step nova-db nova-manage "${NOVA_MANAGE[@]}" db sync --local_cell & p2=$!
  run_step nova-cell0-db nova-manage "${NOVA_MANAGE[@]}" --config-file "$ETC/nova/nova-cell0-sync.conf" \
    db sync --local_cell & p3=$!
  wait $p1 || return 1; wait $p2 || return 1; wait $p3 || return 1
  run_step nova-cell0 nova-manage "${NOVA_MANAGE[@]}" cell_v2 map_cell0 --database_connection "$(db_url nova_cell0)" || return 1
  if [ ! -e "$STAMPS/nova-cell1" ]; then
    if ! "${NOVA_MANAGE[@]}" cell_v2 list_cells 2>>"$LOG/nova-manage.log" | grep -q ' cell1 '; then
      run_step nova-cell1 nova-manage "${NOVA_MANAGE[@]}" cell_v2 create_cell --name cell1 || return 1
    fi
    touch "$STAMPS/nova-cell1"
  fi
  local i=0
  while [ ! -e "$IDENTITY_READY" ]; do
    [ -e "$LANE_FAILED" ] && return 1
    i=$((i + 1)); [ $i -gt 2400 ] && { log "timeout waiting for the identity data"; return 1; }
    sleep 0.25
  done
  # Nova services retry their RabbitMQ and conductor connections: start them together.
  start_if_down nova-conductor "$STATE/bin/nova-conductor" --config-file "$ETC/nova/nova.conf" || return 1
  start_if_down nova-scheduler "$STATE/bin/nova-scheduler" --config-file "$ETC/nova/nova.conf" || return 1
  # nova-api is eventlet-patched: one thread per process, or requests hang.
  uwsgi_svc nova-api 8774 2 1 "$ETC/wsgi/nova-api.py" OS_NOVA_CONFIG_DIR="$ETC/nova" || return 1
  start_nova_compute 1 || return 1
  # seed.sh stops sd-compute-2 on purpose (stale service row); keep it down until --undo
  if [ ! -e "$STAMPS/seed-stale-compute" ]; then start_nova_compute 2 || return 1; fi
}

# a lane stops at its first failure (explicit "|| return 1": errexit does not
# apply inside a function whose status is tested); wait_ready/die exit the subshell
run_lane() { ( "lane_$1" ) || { touch "$LANE_FAILED"; return 1; }; }
lanes=()
for l in keystone placement glance neutron mistral nova; do run_lane "$l" & lanes+=($!); done
failed=0
for p in "${lanes[@]}"; do wait "$p" || failed=1; done
[ "$failed" = 0 ] || die "starting the cloud failed (see above)"

for s in rabbitmq keystone placement glance neutron mistral-api nova-api nova-conductor nova-scheduler nova-compute-1; do
  wait_ready "$s" 300
done
[ -e "$STAMPS/seed-stale-compute" ] || wait_ready nova-compute-2 300

# --- computes: discover into cell1, wait for hypervisors and resource providers ---------
expect_up="sd-compute-1"; [ -e "$STAMPS/seed-stale-compute" ] || expect_up="sd-compute-1 sd-compute-2"
STATE="$STATE" EXPECT_UP="$expect_up" "$PY" "$CLOUD_SRC/provision.py" computes >>"$LOG/provision.log" 2>&1 \
  || { tail -n 40 "$LOG/provision.log" >&2; for c in nova-compute-1 nova-compute-2; do svc_alive $c || fail_svc $c; done; die "computes did not register"; }
log "computes registered ($(elapsed))"

if [ ! -e "$STAMPS/provisioned" ] || [ ! -e "$STATE/cloud.env" ]; then
  STATE="$STATE" "$PY" "$CLOUD_SRC/provision.py" resources >>"$LOG/provision.log" 2>&1 \
    || { tail -n 40 "$LOG/provision.log" >&2; die "provisioning flavor/image failed"; }
  touch "$STAMPS/provisioned"
fi
log "test cloud up in $(elapsed): source $STATE/cloud.env  (clouds: stackdoctor-admin, stackdoctor-member)"
