import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeInetAddress,
  parseContainerFromCgroup,
  parseEpollTargets,
  parseNetInet,
  parseNetUnix,
  parseProcStat,
  parseProcStatus,
} from '../../../src/trace/proc-parse.js';

describe('/proc parsers', () => {
  it('reads stat fields after a command name holding spaces and parentheses', () => {
    const stat = parseProcStat(
      '4242 (nova-compute (x) ) S 1 4242 4242 0 -1 4194560 5000 0 0 0 1234 567 0 0 20 0 17 0 98387 1000000 5000 18446744073709551615',
    );
    assert.deepEqual(stat, {
      comm: 'nova-compute (x) ',
      state: 'S',
      ppid: 1,
      utime: 1234,
      stime: 567,
      startTime: 98387,
    });
  });

  it('reads status, including the PID inside a container from NSpid', () => {
    const status = parseProcStatus(
      'Name:\tnova-compute\nState:\tS (sleeping)\nPPid:\t3021\nNSpid:\t3187\t7\nThreads:\t23\nvoluntary_ctxt_switches:\t150\nnonvoluntary_ctxt_switches:\t3\n',
    );
    assert.equal(status.state, 'S (sleeping)');
    assert.deepEqual(status.nsPids, [3187, 7]);
    assert.equal(status.threads, 23);
    assert.equal(status.voluntaryContextSwitches, 150);
  });

  it('names docker and podman containers from cgroup v1 and v2 paths, and none on the host', () => {
    const id = 'a'.repeat(64);
    assert.deepEqual(parseContainerFromCgroup(`0::/system.slice/docker-${id}.scope\n`), {
      runtime: 'docker',
      id,
    });
    assert.deepEqual(parseContainerFromCgroup(`12:pids:/docker/${id}\n0::/docker/${id}\n`), {
      runtime: 'docker',
      id,
    });
    assert.deepEqual(parseContainerFromCgroup(`0::/machine.slice/libpod-${id}.scope/container\n`), {
      runtime: 'podman',
      id,
    });
    assert.equal(parseContainerFromCgroup('0::/user.slice/user-0.slice/session-1.scope\n'), null);
  });

  it('decodes IPv4 and IPv6 addresses as the kernel prints them (host byte order words)', () => {
    assert.equal(decodeInetAddress('0100007F:1F91'), '127.0.0.1:8081');
    assert.equal(decodeInetAddress('0500000A:1628'), '10.0.0.5:5672');
    assert.equal(decodeInetAddress('00000000000000000000000001000000:0016'), '[::1]:22');
    assert.equal(decodeInetAddress('0000000000000000FFFF00000100007F:0CEA'), '[::ffff:127.0.0.1]:3306');
  });

  it('reads tcp rows: listener, established pair and a connect stuck in SYN_SENT (recorded on this machine)', () => {
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   1: 0100007F:9B83 00000000:0000 0A 00000000:00000001 00:00000000 00000000     0        0 30651 2 00000000fcc0eeca 100 0 0 10 0',
      '  10: 0100007F:A2BA 0100007F:9B83 01 00000000:00000000 00:00000000 00000000     0        0 32582 1 0000000039744f6b 20 0 0 10 -1',
      '  11: 0100007F:A2BC 0100007F:9B83 02 00000001:00000000 01:00000002 00000001     0        0 32583 2 0000000057d312b6 100 0 0 1 -1',
    ].join('\n');
    const rows = parseNetInet(text, 'tcp');
    assert.deepEqual(
      rows.map((r) => [r.inode, r.local, r.remote, r.state, r.txQueue, r.rxQueue]),
      [
        [30651, '127.0.0.1:39811', '0.0.0.0:0', 'LISTEN', 0, 1],
        [32582, '127.0.0.1:41658', '127.0.0.1:39811', 'ESTABLISHED', 0, 0],
        [32583, '127.0.0.1:41660', '127.0.0.1:39811', 'SYN_SENT', 1, 0],
      ],
    );
  });

  it('reads unix sockets with their paths and listening flag', () => {
    const text = [
      'Num       RefCount Protocol Flags    Type St Inode Path',
      '0000000000000000: 00000002 00000000 00010000 0001 01 20493 /run/mysqld/mysqld.sock',
      '0000000000000000: 00000003 00000000 00000000 0001 03 31337',
    ].join('\n');
    assert.deepEqual(
      parseNetUnix(text).map((r) => [r.inode, r.state, r.path ?? null]),
      [
        [20493, 'LISTEN', '/run/mysqld/mysqld.sock'],
        [31337, 'CONNECTED', null],
      ],
    );
  });

  it('lists the fds an epoll fd watches', () => {
    const text =
      'pos:\t0\nflags:\t02\nmnt_id:\t15\ntfd:        5 events:       19 data:                5  pos:0 ino:7a sdev:8\ntfd:       12 events:       19 data:                c  pos:0 ino:7b sdev:8\n';
    assert.deepEqual(parseEpollTargets(text), [5, 12]);
  });
});
