#!/usr/bin/env bash
# Debian packages the tests need beyond the local cloud's (test/cloud/install.sh installs those):
# a real browser for the dashboard, and the tools the image tests build disks with.
set -euo pipefail
packages=(chromium genisoimage fdisk util-linux)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps.sh: run as root, or install: ${missing[*]}" >&2
  exit 1
fi
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "install-test-deps.sh: installed ${missing[*]}"
