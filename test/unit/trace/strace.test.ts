import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FdDescription } from '../../../src/trace/describe.js';
import { judgeTrace, parseStrace, summariseTrace } from '../../../src/trace/strace.js';

// Recorded with strace 6.1 on this machine (`-f -tt -T -yy -s 128 -p PID`, stderr, ended by SIGINT).
const blockedInPipeRead = [
  'strace: Process 15024 attached',
  '04:07:20.440355 read(0<pipe:[30520]>, strace: Process 15024 detached',
  ' <detached ...>',
].join('\n');

const blockedInConnect = [
  'strace: Process 15118 attached',
  '04:07:29.588198 connect(4<TCP:[127.0.0.1:41660->127.0.0.1:39811]>, {sa_family=AF_INET, sin_port=htons(39811), sin_addr=inet_addr("127.0.0.1")}, 16strace: Process 15118 detached',
  ' <detached ...>',
].join('\n');

const twoThreads = [
  'strace: Process 26947 attached with 2 threads',
  '[pid 26956] 04:16:22.056627 clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, {tv_sec=1089, tv_nsec=426223088},  <unfinished ...>',
  '[pid 26947] 04:16:22.075072 read(0<pipe:[62995]>, strace: Process 26947 detached',
  ' <detached ...>',
  'strace: Process 26956 detached',
].join('\n');

const activeEventLoop = [
  '[pid  3001] 10:00:00.000001 epoll_wait(7<anon_inode:[eventpoll]>, [], 1023, 59743) = 0 <0.010012>',
  '[pid  3001] 10:00:00.010100 recvfrom(9<TCP:[10.0.0.2:50000->10.0.0.5:5672]>, "\\1\\0\\1", 7, 0, NULL, NULL) = 7 <0.000011>',
  '[pid  3001] 10:00:00.010200 recvfrom(9<TCP:[10.0.0.2:50000->10.0.0.5:5672]>, 0x7f, 7, 0, NULL, NULL) = -1 EAGAIN (Resource temporarily unavailable) <0.000008>',
  '[pid  3002] 10:00:00.020000 futex(0x55d0c0, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 0, NULL, FUTEX_BITSET_MATCH_ANY <unfinished ...>',
  '[pid  3001] 10:00:00.030000 epoll_wait(7<anon_inode:[eventpoll]>,  <unfinished ...>',
  '[pid  3002] 10:00:01.020000 <... futex resumed>) = 0 <1.000000>',
  '[pid  3001] 10:00:01.500000 <... epoll_wait resumed>[{events=EPOLLIN, data={u32=9, u64=9}}], 1023, 59743) = 1 <1.470000>',
  '[pid  3001] 10:00:01.500100 recvfrom(9<TCP:[10.0.0.2:50000->10.0.0.5:5672]>, "\\1\\0\\1", 7, 0, NULL, NULL) = 7 <0.000011>',
  '[pid  3001] 10:00:01.600000 epoll_wait(7<anon_inode:[eventpoll]>,  <unfinished ...>',
  '[pid  3003] 10:00:01.700000 +++ exited with 0 +++',
  '--- SIGINT {si_signo=SIGINT, si_code=SI_USER, si_pid=1, si_uid=0} ---',
].join('\n');

const rabbitSocket: FdDescription = {
  fd: 9,
  target: 'socket:[777]',
  kind: 'socket',
  watches: null,
  socket: {
    protocol: 'tcp',
    inode: 777,
    local: '10.0.0.2:50000',
    remote: '10.0.0.5:5672',
    state: 'ESTABLISHED',
    txQueue: 0,
    rxQueue: 0,
    peerName: 'RabbitMQ',
    connecting: false,
  },
};
const epollFd: FdDescription = {
  fd: 7,
  target: 'anon_inode:[eventpoll]',
  kind: 'anon',
  socket: null,
  watches: [9],
};

describe('parseStrace', () => {
  it('recognises complete, unfinished, resumed and detached calls, exits and signals', () => {
    assert.deepEqual(
      parseStrace(activeEventLoop).map((e) => e.kind),
      [
        'complete',
        'complete',
        'complete',
        'unfinished',
        'unfinished',
        'resumed',
        'resumed',
        'complete',
        'unfinished',
        'exit',
        'signal',
      ],
    );
    const [first] = parseStrace(activeEventLoop);
    assert.deepEqual(first, {
      kind: 'complete',
      tid: 3001,
      time: '10:00:00.000001',
      syscall: 'epoll_wait',
      args: '7<anon_inode:[eventpoll]>, [], 1023, 59743',
      result: '0',
      seconds: 0.010012,
    });
  });

  it("removes strace's own notes that cut into a call's line", () => {
    const events = parseStrace(blockedInPipeRead);
    assert.deepEqual(events, [
      { kind: 'detached', tid: null, time: '04:07:20.440355', syscall: 'read', args: '0<pipe:[30520]>' },
    ]);
  });
});

describe('summariseTrace', () => {
  it('says a single-threaded process is blocked in read() on its pipe', () => {
    const summary = summariseTrace(blockedInPipeRead, { defaultTid: 15024 });
    assert.deepEqual(summary.blocked, [
      {
        tid: 15024,
        syscall: 'read',
        args: '0<pipe:[30520]>',
        since: '04:07:20.440355',
        fds: [0],
        waitsOn: ['fd 0'],
      },
    ]);
    assert.deepEqual(summary.syscalls, []);
  });

  it('says which fd connect() waits on', () => {
    const summary = summariseTrace(blockedInConnect, { defaultTid: 15118 });
    assert.equal(summary.blocked[0]?.syscall, 'connect');
    assert.deepEqual(summary.blocked[0]?.fds, [4]);
  });

  it('reports each thread that never returned, with <unfinished ...> and cut-off calls alike', () => {
    const summary = summariseTrace(twoThreads, { defaultTid: 26947 });
    assert.deepEqual(
      summary.blocked.map((b) => [b.tid, b.syscall]),
      [
        [26956, 'clock_nanosleep'],
        [26947, 'read'],
      ],
    );
  });

  it('counts calls and time, and maps an epoll wait to the sockets it watches', () => {
    const summary = summariseTrace(activeEventLoop, { fds: [epollFd, rabbitSocket] });
    assert.deepEqual(summary.syscalls, [
      { syscall: 'recvfrom', count: 3, seconds: 0.00003, errors: 1 },
      { syscall: 'epoll_wait', count: 2, seconds: 1.480012, errors: 0 },
      { syscall: 'futex', count: 1, seconds: 1, errors: 0 },
    ]);
    assert.equal(summary.blocked.length, 1);
    assert.deepEqual(summary.blocked[0]?.fds, [7, 9]);
    assert.deepEqual(summary.blocked[0]?.waitsOn, [
      'fd 7: anon_inode:[eventpoll]',
      'fd 9: tcp 10.0.0.2:50000 -> 10.0.0.5:5672 (RabbitMQ) ESTABLISHED',
    ]);
    assert.deepEqual(summary.exits, ['3003: +++ exited with 0 +++']);
    assert.equal(summary.signals.length, 1);
  });
});

describe('judgeTrace', () => {
  it('calls a process blocked when a call never returned and it used no CPU', () => {
    const verdict = judgeTrace(summariseTrace(blockedInPipeRead, { defaultTid: 1 }), {
      cpuShare: 0,
      running: false,
      seconds: 10,
    });
    assert.equal(verdict.kind, 'blocked');
    assert.equal(verdict.text, 'thread 1 blocked in read() on fd 0 since 04:07:20.440355');
  });

  it('calls a process busy when it burns CPU without system calls, idle when it does neither', () => {
    const empty = summariseTrace('');
    assert.equal(judgeTrace(empty, { cpuShare: 0.98, running: true, seconds: 10 }).kind, 'busy');
    assert.equal(judgeTrace(empty, { cpuShare: 0.05, running: true, seconds: 10 }).kind, 'busy');
    assert.equal(judgeTrace(empty, { cpuShare: 0, running: false, seconds: 10 }).kind, 'idle');
  });

  it('calls an event loop that keeps making calls active, with its top calls', () => {
    const verdict = judgeTrace(summariseTrace(activeEventLoop.replace(/.*<unfinished \.\.\.>\n?/g, '')), {
      cpuShare: 0.01,
      running: false,
      seconds: 10,
    });
    assert.equal(verdict.kind, 'active');
    assert.match(verdict.text, /recvfrom ×3/);
  });
});
