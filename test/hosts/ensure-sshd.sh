#!/bin/sh
# Makes sure Debian's OpenSSH server binary is present for test/integration/hosts-ssh.test.ts.
# The tests start their own sshd on 127.0.0.1 with a temporary config; no system sshd is configured or started.
set -e
if [ ! -x /usr/sbin/sshd ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server openssh-client
fi
/usr/sbin/sshd -V 2>&1 | head -n 1 || true
