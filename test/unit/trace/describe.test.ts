import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeProcess, namePeer } from '../../../src/trace/describe.js';
import type { ProcSource } from '../../../src/trace/proc-source.js';

const containerId = 'f'.repeat(64);

/** A kolla nova_compute process as the host sees it: its own net namespace, a RabbitMQ socket with unread data. */
function makeFakeSource(): ProcSource {
  const files: Record<string, string> = {
    '/proc/3187/stat':
      '3187 (nova-compute) S 3021 3187 3187 0 -1 4194560 5000 0 0 0 1500 500 0 0 20 0 23 0 100000 1000000 5000 0',
    '/proc/3187/status':
      'Name:\tnova-compute\nState:\tS (sleeping)\nPPid:\t3021\nNSpid:\t3187\t7\nThreads:\t23\nvoluntary_ctxt_switches:\t10\nnonvoluntary_ctxt_switches:\t2\n',
    '/proc/3187/cmdline': '/usr/bin/python3\0/var/lib/kolla/venv/bin/nova-compute\0',
    '/proc/3187/wchan': 'do_epoll_wait',
    '/proc/3187/cgroup': `0::/system.slice/docker-${containerId}.scope\n`,
    '/proc/uptime': '1500.50 2000.00\n',
    '/proc/3187/net/tcp': [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0200000A:C350 0500000A:1628 01 00000000:00000040 00:00000000 00000000 42436 0 5001 1',
      '   1: 0200000A:C351 0600000A:0CEA 02 00000001:00000000 01:00000002 00000001 42436 0 5002 2',
      '   2: 0200000A:C352 0700000A:1F90 01 00000010:00000000 00:00000000 00000000 42436 0 5003 1',
    ].join('\n'),
    '/proc/3187/net/unix': 'Num       RefCount Protocol Flags    Type St Inode Path\n',
    '/proc/3187/fdinfo/3': 'pos:\t0\nflags:\t02\ntfd:        4 events:       19 data: 4\n',
  };
  const links: Record<string, string> = {
    '/proc/3187/fd/0': '/dev/null',
    '/proc/3187/fd/3': 'anon_inode:[eventpoll]',
    '/proc/3187/fd/4': 'socket:[5001]',
    '/proc/3187/fd/5': 'socket:[5002]',
    '/proc/3187/fd/6': 'socket:[5003]',
    '/proc/3187/fd/7': 'pipe:[9]',
  };
  return {
    readFile: async (path) => files[path] ?? null,
    readLink: async (path) => links[path] ?? null,
    listDir: async (path) => (path === '/proc/3187/fd' ? ['0', '3', '4', '5', '6', '7'] : null),
    run: async () => ({
      exitCode: 0,
      signal: null,
      stdout: '100\n',
      stderr: '',
      timedOut: false,
      truncated: false,
    }),
  };
}

describe("describeProcess (a containerised service's /proc, written for the test)", () => {
  it('reads state, CPU, age, threads and the container with the PID inside it', async () => {
    const d = await describeProcess(makeFakeSource(), 3187);
    assert.equal(d.name, 'nova-compute');
    assert.equal(d.commandLine, '/usr/bin/python3 /var/lib/kolla/venv/bin/nova-compute');
    assert.equal(d.state, 'S (sleeping)');
    assert.equal(d.wchan, 'do_epoll_wait');
    assert.equal(d.threads, 23);
    assert.equal(d.cpuSeconds, 20);
    assert.equal(d.ageSeconds, 500.5);
    assert.deepEqual(d.container, { runtime: 'docker', id: containerId, pidInContainer: 7 });
  });

  it('resolves sockets to peers, names them, and highlights connect, unread and unsent data', async () => {
    const d = await describeProcess(makeFakeSource(), 3187, { '10.0.0.7:8080': 'test endpoint' });
    assert.deepEqual(
      d.fds.map((fd) => [fd.fd, fd.kind, fd.socket?.remote ?? null, fd.socket?.peerName ?? null]),
      [
        [0, 'file', null, null],
        [3, 'anon', null, null],
        [4, 'socket', '10.0.0.5:5672', 'RabbitMQ'],
        [5, 'socket', '10.0.0.6:3306', 'MariaDB'],
        [6, 'socket', '10.0.0.7:8080', 'test endpoint'],
        [7, 'pipe', null, null],
      ],
    );
    assert.deepEqual(d.fds[1]?.watches, [4]);
    assert.deepEqual(d.highlights, [
      'fd 4: tcp 10.0.0.2:50000 -> 10.0.0.5:5672 (RabbitMQ) ESTABLISHED: 64 bytes received but not read by the process',
      'fd 5: tcp 10.0.0.2:50001 -> 10.0.0.6:3306 (MariaDB) SYN_SENT: stuck in connect() — the peer does not answer',
      'fd 6: tcp 10.0.0.2:50002 -> 10.0.0.7:8080 (test endpoint) ESTABLISHED: 16 bytes not yet acknowledged by the peer',
    ]);
  });

  it('names peers from the catalog map first, then well-known ports', () => {
    assert.equal(namePeer('10.0.0.9:5000', {}), 'Keystone');
    assert.equal(namePeer('10.0.0.9:8780', {}), 'Placement (kolla)');
    assert.equal(namePeer('10.0.0.9:5000', { '10.0.0.9:5000': 'keystone internal' }), 'keystone internal');
    assert.equal(namePeer('10.0.0.9:12345', {}), null);
  });
});
