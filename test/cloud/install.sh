#!/usr/bin/env bash
# Installs, from Debian 12's own packages, what the local test cloud needs.
# Idempotent: packages already installed are skipped; the *-common .debs (which
# hold the paste .ini files and default configs of nova/glance/neutron/mistral,
# but whose maintainer scripts want debconf and systemd) are only unpacked, never
# installed, into $STATE/pkgroot.
set -euo pipefail

STATE="${STACKDOCTOR_CLOUD_DIR:-/var/tmp/stackdoctor-cloud}"
PKGROOT="$STATE/pkgroot"

PACKAGES=(
  python3-keystone python3-placement python3-glance python3-nova python3-mistral python3-neutron
  uwsgi-core uwsgi-plugin-python3 rabbitmq-server mariadb-server python3-pymysql qemu-utils
  python3-openstackclient python3-osc-placement
  osinfo-db libosinfo-bin strace openssh-server openssh-client
  curl procps
)
# Unpacked only (dpkg -x), see above.
COMMON_DEBS=(nova-common glance-common neutron-common mistral-common placement-common keystone)

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: must run as root (it installs Debian packages with apt-get)." >&2
  echo "            run: sudo bash $0   (or install these packages: ${PACKAGES[*]})" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

apt_updated=0
apt_update() {
  [ "$apt_updated" = 1 ] && return 0
  echo "install.sh: apt-get update"
  # Third-party sources may be unreachable; Debian's mirrors are what matter.
  apt-get update -q >/dev/null || echo "install.sh: apt-get update reported errors (continuing)" >&2
  apt_updated=1
}

if [ "${#missing[@]}" -gt 0 ]; then
  start=$(date +%s)
  apt_update
  echo "install.sh: installing ${#missing[@]} missing package(s): ${missing[*]}"
  # Forbid maintainer scripts from starting daemons (no systemd here, and up.sh
  # runs the services itself, bound to 127.0.0.1). Keep a pre-existing policy.
  saved=""
  if [ -e /usr/sbin/policy-rc.d ]; then
    saved="$(mktemp)"
    cp -p /usr/sbin/policy-rc.d "$saved"
  fi
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  restore_policy() {
    if [ -n "$saved" ]; then cp -p "$saved" /usr/sbin/policy-rc.d; rm -f "$saved"
    else rm -f /usr/sbin/policy-rc.d; fi
  }
  trap restore_policy EXIT
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
  restore_policy
  trap - EXIT
  echo "install.sh: packages installed in $(( $(date +%s) - start )) s"
fi

# Unpack the *-common packages matching the installed library versions.
mkdir -p "$PKGROOT/debs"
for p in "${COMMON_DEBS[@]}"; do
  stamp="$PKGROOT/debs/$p.unpacked"
  [ -e "$stamp" ] && continue
  (
    cd "$PKGROOT/debs"
    if ! ls "${p}"_*.deb >/dev/null 2>&1; then
      apt-get download -q "$p" >/dev/null 2>&1 || { apt_update; apt-get download -q "$p"; }
    fi
    dpkg -x "$(ls "${p}"_*.deb | head -n1)" "$PKGROOT"
  )
  touch "$stamp"
done
echo "install.sh: ok (packages present, *-common unpacked in $PKGROOT)"
