import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostKeyError, HostUnreachableError } from '../../../src/hosts/errors.js';
import { classifySshFailure } from '../../../src/hosts/ssh.js';

// stderr recorded from OpenSSH_9.2p1 (Debian 12) against a throwaway sshd; paths shortened
const changedKey = `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the ED25519 key sent by the remote host is
SHA256:ABcUFnwMiaXnH2WNrhnuttN542uPqQ8JXNcI51Veon8.
Please contact your system administrator.
Add correct host key in /tmp/t/known_hosts to get rid of this message.
Offending ED25519 key in /tmp/t/known_hosts:1
  remove with:
  ssh-keygen -f "/tmp/t/known_hosts" -R "[127.0.0.1]:22999"
Host key for [127.0.0.1]:22999 has changed and you have requested strict checking.
Host key verification failed.
`;
const unknownKey = `No ED25519 host key is known for [127.0.0.1]:22999 and you have requested strict checking.
Host key verification failed.
`;
const spec = { name: 'compute01', address: '127.0.0.1', port: 22999 };

test('a changed host key: one line naming the host and the offending known_hosts entry', () => {
  const error = classifySshFailure(spec, changedKey);
  assert.ok(error instanceof HostKeyError);
  assert.equal(error.kind, 'host-key');
  assert.equal(
    error.message,
    'host key for compute01 (127.0.0.1) does not match known_hosts (entry /tmp/t/known_hosts:1)',
  );
  assert.match(error.hint ?? '', /ssh-keygen -R/);
  assert.equal(error.details, changedKey);
  assert.equal(error.exitCode, 3);
});

test('an unknown host key: refused, with the way to accept it', () => {
  const error = classifySshFailure(spec, unknownKey);
  assert.ok(error instanceof HostKeyError);
  assert.equal(error.message, 'host key for compute01 (127.0.0.1) is not in known_hosts');
  assert.match(error.hint ?? '', /--accept-new-host-keys/);
});

test('network and login failures become HostUnreachableError with ssh’s line', () => {
  const cases: [string, string][] = [
    [
      'ssh: connect to host 127.0.0.1 port 1: Connection refused\n',
      'cannot reach compute01 (127.0.0.1): connect to host 127.0.0.1 port 1: Connection refused',
    ],
    [
      'ssh: Could not resolve hostname nonexistent.invalid: Name or service not known\n',
      'cannot reach compute01 (127.0.0.1): Could not resolve hostname nonexistent.invalid: Name or service not known',
    ],
    [
      'Connection timed out during banner exchange\nConnection to 10.255.255.1 port 22 timed out\n',
      'cannot reach compute01 (127.0.0.1): Connection timed out during banner exchange',
    ],
    [
      'root@127.0.0.1: Permission denied (publickey).\n',
      'cannot log in to compute01 (127.0.0.1): permission denied (publickey)',
    ],
  ];
  for (const [stderr, message] of cases) {
    const error = classifySshFailure(spec, stderr);
    assert.ok(error instanceof HostUnreachableError, stderr);
    assert.equal(error.kind, 'host-unreachable');
    assert.equal(error.message, message);
  }
});

test('a remote command that exits 255 on its own is not mistaken for an ssh failure', () => {
  assert.equal(classifySshFailure(spec, 'my-tool: giving up\n'), null);
  assert.equal(classifySshFailure(spec, ''), null);
});
