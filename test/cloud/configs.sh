# Writes every configuration file of the test cloud under $ETC (sourced by up.sh).
# shellcheck shell=bash

# Config text is built in variables, without $(...) subshells: each fork costs
# ~50 ms on this kind of VM under load, and there are dozens.
declare -gA SECRET AUTH AUTHTOKEN DBURL
load_config_vars() {
  local n
  for n in db rabbit admin sd-member nova placement glance neutron mistral; do
    # the files have no trailing newline: read returns 1 at EOF but sets the value
    IFS= read -r "SECRET[$n]" < "$SECRETS/$n" || [ -n "${SECRET[$n]}" ] || die "empty secret $n"
  done
  for n in keystone placement glance nova_api nova nova_cell0 neutron mistral; do
    DBURL[$n]="mysql+pymysql://stackdoctor:${SECRET[db]}@127.0.0.1:3306/$n?charset=utf8"
  done
  TRANSPORT_URL="rabbit://stackdoctor:${SECRET[rabbit]}@127.0.0.1:5672/"
  for n in nova placement glance neutron mistral; do
    # keystoneauth password plugin options of service user $n
    AUTH[$n]="auth_type = password
auth_url = http://127.0.0.1:5000/v3
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $n
password = ${SECRET[$n]}
region_name = RegionOne"
    AUTHTOKEN[$n]="[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:5000/v3
${AUTH[$n]}
service_token_roles_required = true
# validated tokens are cached in-process, keystone is asked once per token
memcached_servers =
token_cache_time = 300"
  done
}
db_url() { load_config_vars; echo "${DBURL[$1]}"; }

# write_file PATH (content on stdin). Builtins only: a fork+exec costs ~50 ms on
# this kind of VM under load, and there are dozens of files. Files are created
# 0600 (write_configs sets umask 077); they hold passwords.
write_file() {
  local content
  IFS= read -r -d '' content || true
  printf '%s' "$content" > "$1"
}

write_configs() {
  local saved_umask
  saved_umask="$(umask)"
  umask 077
  load_config_vars
  # seed.sh faults that live in configuration
  local mistral_actions=true nova_ffu_check=false
  [ -e "$STAMPS/seed-mistral" ] && mistral_actions=false
  [ -e "$STAMPS/seed-stale-compute" ] && nova_ffu_check=true
  mkdir -p "$ETC"/{mysql,rabbitmq,keystone,placement,glance,neutron,nova,mistral,wsgi} \
           "$DATA"/{mysql,rabbitmq,keystone/fernet-keys,keystone/credential-keys,glance/images,glance/staging,glance/tasks,nova,nova-compute-1,nova-compute-2,mistral,locks}
  chmod 700 "$DATA/keystone/fernet-keys" "$DATA/keystone/credential-keys"

  write_file "$ETC/mysql/my.cnf" <<EOT
[mysqld]
user = root
datadir = $DATA/mysql
socket = $RUN/mysqld.sock
pid-file = $RUN/mysqld.pidfile
port = 3306
bind-address = 127.0.0.1
skip-name-resolve
skip-log-bin
log-error = $LOG/mariadb.log
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
max_connections = 1000
performance_schema = OFF
innodb_buffer_pool_size = 128M
innodb_log_file_size = 64M
innodb_flush_log_at_trx_commit = 2
innodb_flush_method = O_DIRECT_NO_FSYNC
innodb_doublewrite = 0
sync_binlog = 0
[client]
socket = $RUN/mysqld.sock
EOT

  # RabbitMQ: loopback only; the default user is created on the first boot.
  write_file "$ETC/rabbitmq/rabbitmq.conf" <<EOT
listeners.tcp.1 = 127.0.0.1:5672
default_user = stackdoctor
default_pass = ${SECRET[rabbit]}
default_vhost = /
loopback_users = none
log.console = true
log.console.level = warning
log.file = false
vm_memory_high_watermark.absolute = 512MiB
disk_free_limit.absolute = 50MB
EOT
  echo '[].' | write_file "$ETC/rabbitmq/enabled_plugins"
  : | write_file "$ETC/rabbitmq/rabbitmq-env.conf"

  write_file "$ETC/keystone/keystone.conf" <<EOT
[DEFAULT]
use_stderr = true
[database]
connection = ${DBURL[keystone]}
[token]
provider = fernet
[fernet_tokens]
key_repository = $DATA/keystone/fernet-keys
[credential]
key_repository = $DATA/keystone/credential-keys
[cache]
# without it keystone spends ~0.5 s CPU on every token validation
enabled = true
backend = dogpile.cache.memory
EOT

  write_file "$ETC/placement/placement.conf" <<EOT
[DEFAULT]
use_stderr = true
[api]
auth_strategy = keystone
[placement_database]
connection = ${DBURL[placement]}
${AUTHTOKEN[placement]}
EOT

  write_file "$ETC/glance/glance-api.conf" <<EOT
[DEFAULT]
use_stderr = true
bind_host = 127.0.0.1
bind_port = 9292
workers = 1
enabled_backends = fs:file
show_image_direct_url = false
[database]
connection = ${DBURL[glance]}
${AUTHTOKEN[glance]}
[paste_deploy]
flavor = keystone
config_file = $PKGROOT/usr/share/glance-common/glance-api-paste.ini
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $DATA/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $DATA/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $DATA/glance/tasks
[oslo_concurrency]
lock_path = $DATA/locks
EOT

  write_file "$ETC/neutron/neutron.conf" <<EOT
[DEFAULT]
use_stderr = true
bind_host = 127.0.0.1
bind_port = 9696
core_plugin = ml2
service_plugins =
auth_strategy = keystone
transport_url = $TRANSPORT_URL
api_paste_config = $PKGROOT/usr/share/neutron-common/api-paste.ini
state_path = $DATA/neutron
# API only: no separate RPC / state-report workers, one API worker
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
[database]
connection = ${DBURL[neutron]}
${AUTHTOKEN[neutron]}
[nova]
${AUTH[nova]}
[oslo_concurrency]
lock_path = $DATA/locks
[ml2]
type_drivers = flat,vlan
tenant_network_types =
mechanism_drivers =
extension_drivers = port_security
[ml2_type_flat]
flat_networks = *
EOT

  write_file "$ETC/mistral/mistral.conf" <<EOT
[DEFAULT]
use_stderr = true
transport_url = $TRANSPORT_URL
[api]
host = 127.0.0.1
port = 8989
api_workers = 1
[database]
connection = ${DBURL[mistral]}
[pecan]
auth_enable = true
${AUTHTOKEN[mistral]}
[oslo_policy]
policy_file = $PKGROOT/usr/share/mistral-common/policy.json
[legacy_action_provider]
load_action_plugins = $mistral_actions
load_action_generators = $mistral_actions
EOT

  # nova.conf: API, conductor, scheduler and nova-manage. Computes get their own
  # files below: no database credentials, no [upgrade_levels].
  local nova_common
  IFS= read -r -d '' nova_common <<EOT || true
[placement]
${AUTH[nova]}
valid_interfaces = public
[neutron]
${AUTH[nova]}
valid_interfaces = public
[glance]
valid_interfaces = public
[cinder]
os_region_name = RegionOne
[service_user]
send_service_user_token = true
${AUTH[nova]}
[oslo_concurrency]
lock_path = $DATA/locks
[oslo_messaging_notifications]
driver = noop
[vnc]
enabled = false
[spice]
enabled = false
[wsgi]
api_paste_config = $ETC/nova/api-paste.ini
EOT
  write_file "$ETC/nova/nova.conf" <<EOT
[DEFAULT]
use_stderr = true
host = sd-controller
transport_url = $TRANSPORT_URL
my_ip = 127.0.0.1
state_path = $DATA/nova
enabled_apis = osapi_compute
compute_driver = fake.FakeDriver
[api]
auth_strategy = keystone
[api_database]
connection = ${DBURL[nova_api]}
[database]
connection = ${DBURL[nova]}
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = -1
[upgrade_levels]
compute = auto
[workarounds]
# true only while seed.sh's stale sd-compute-2 row (version 22) exists: without
# it nova-api/conductor/scheduler refuse to (re)start (TooOldComputeService)
disable_compute_service_check_for_ffu = $nova_ffu_check
${AUTHTOKEN[nova]}
$nova_common
EOT
  # only for "nova-manage db sync --local_cell" of cell0 (see up.sh)
  write_file "$ETC/nova/nova-cell0-sync.conf" <<EOT
[database]
connection = ${DBURL[nova_cell0]}
EOT
  local i
  for i in 1 2; do
    write_file "$ETC/nova/nova-compute-$i.conf" <<EOT
[DEFAULT]
use_stderr = true
host = sd-compute-$i
transport_url = $TRANSPORT_URL
my_ip = 127.0.0.1
state_path = $DATA/nova-compute-$i
instances_path = $DATA/nova-compute-$i/instances
compute_driver = fake.FakeDriver
$nova_common
EOT
  done

  # nova's WSGI app reads $OS_NOVA_CONFIG_DIR/{api-paste.ini,nova.conf}
  cp -f "$PKGROOT/usr/share/nova-common/api-paste.ini" "$ETC/nova/api-paste.ini"

  # WSGI entry files for uwsgi
  write_file "$ETC/wsgi/keystone.py" <<'EOT'
from keystone.server.wsgi import initialize_public_application
application = initialize_public_application()
EOT
  write_file "$ETC/wsgi/placement.py" <<'EOT'
from placement.wsgi import init_application
application = init_application()
EOT
  write_file "$ETC/wsgi/nova-api.py" <<'EOT'
from nova.api.openstack.compute.wsgi import init_application
application = init_application()
EOT
  umask "$saved_umask"
}

# Console scripts named like Debian's, so `ps`/`pgrep -a nova-compute` find them.
write_bin() {
  mkdir -p "$STATE/bin"
  local spec name mod fn new=0
  for spec in nova-compute:nova.cmd.compute:main nova-conductor:nova.cmd.conductor:main \
              nova-scheduler:nova.cmd.scheduler:main nova-manage:nova.cmd.manage:main \
              nova-status:nova.cmd.status:main \
              glance-api:glance.cmd.api:main glance-manage:glance.cmd.manage:main \
              neutron-server:neutron.cmd.eventlet.server:main \
              neutron-db-manage:neutron.db.migration.cli:main \
              mistral-server:mistral.cmd.launch:main \
              mistral-db-manage:mistral.db.sqlalchemy.migration.cli:main; do
    IFS=: read -r name mod fn <<< "$spec"
    [ -x "$STATE/bin/$name" ] || new=1
    write_file "$STATE/bin/$name" <<EOT
#!$PY
import sys
from $mod import $fn
if __name__ == '__main__':
    sys.exit($fn())
EOT
  done
  [ "$new" = 0 ] || chmod 755 "$STATE"/bin/*
}
