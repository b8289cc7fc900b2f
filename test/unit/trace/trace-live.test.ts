import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeProcess } from '../../../src/trace/describe.js';
import { TraceError } from '../../../src/trace/errors.js';
import { createLocalProcSource, type ProcSource } from '../../../src/trace/proc-source.js';
import { findServiceProcesses } from '../../../src/trace/processes.js';
import { formatServiceTrace, traceService } from '../../../src/trace/service.js';
import { traceProcess } from '../../../src/trace/strace.js';

// Plain CPython so the syscalls are the obvious ones. The marker makes the command lines findable.
const python = '/usr/bin/python3';
const marker = `stackdoctor-trace-test-${process.pid}`;

// Listener with backlog 0 that never accepts: the first connect fills the queue, the second stays in SYN_SENT.
const connectScript = `# ${marker}-connect
import socket, sys
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen(0)
port = listener.getsockname()[1]
first = socket.socket(); first.connect(("127.0.0.1", port))
print(port, flush=True)
second = socket.socket(); second.connect(("127.0.0.1", port))
`;
// Reads its own pipe, whose write end nobody writes to (node's stdio "pipes" are socketpairs).
const pipeScript = `# ${marker}-pipe
import os
r, w = os.pipe()
print(r, flush=True)
os.read(r, 1)
`;
const busyScript = `# ${marker}-busy
print("ready", flush=True)
while True:
    pass
`;

const source = createLocalProcSource();
const children: ChildProcess[] = [];

async function start(script: string): Promise<{ child: ChildProcess; firstLine: string }> {
  const child = spawn(python, ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const stdout = child.stdout;
  assert.ok(stdout);
  const [chunk] = (await once(stdout, 'data')) as [Buffer];
  return { child, firstLine: chunk.toString().trim() };
}

/** Waits until the kernel shows the process asleep (it has reached the blocking call). */
async function waitForSleep(pid: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const status = await source.readFile(`/proc/${pid}/status`);
    if (status?.includes('State:\tS')) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('trace against real processes', () => {
  let directory = '';
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'stackdoctor-trace-'));
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await rm(directory, { recursive: true, force: true });
  });

  it('finds the processes by command line like pgrep -af, and not itself', async () => {
    const { child } = await start(pipeScript);
    const found = await findServiceProcesses(source, `${marker}-pipe`);
    assert.deepEqual(
      found.map((p) => p.pid),
      [child.pid],
    );
    assert.match(found[0]?.commandLine ?? '', /^\/usr\/bin\/python3 -c # stackdoctor-trace-test-/);
    assert.equal(found[0]?.container, null);
  });

  it('maps a process in its own PID namespace (as in a container) to its PID inside', async () => {
    const script = `# ${marker}-namespace\nprint("ready", flush=True)\nimport time\ntime.sleep(60)\n`;
    const child = spawn('unshare', ['--pid', '--fork', '--kill-child', python, '-c', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    assert.ok(child.stdout);
    await once(child.stdout, 'data');
    const found = await findServiceProcesses(source, `${marker}-namespace`);
    // unshare itself carries the script in its arguments and stays in the host namespace.
    const host = found.filter((p) => p.container === null).map((p) => p.pid);
    assert.deepEqual(host, [child.pid]);
    const inside = found.filter((p) => p.container !== null);
    assert.equal(inside.length, 1);
    assert.equal(inside[0]?.container?.pidInContainer, 1);
    assert.notEqual(inside[0]?.pid, 1);
  });

  it('names connect() and the peer for a process stuck connecting to a listener that never accepts', async () => {
    const { child, firstLine } = await start(connectScript);
    const pid = child.pid ?? 0;
    const port = Number(firstLine);
    await waitForSleep(pid);
    const peers = { [`127.0.0.1:${port}`]: 'test listener' };

    const description = await describeProcess(source, pid, peers);
    const stuck = description.fds.find((fd) => fd.socket?.connecting);
    assert.ok(stuck, 'a socket in SYN_SENT');
    assert.equal(stuck.socket?.remote, `127.0.0.1:${port}`);
    assert.equal(stuck.socket?.peerName, 'test listener');
    assert.ok(description.highlights.some((h) => h.includes('stuck in connect()')));

    const rawOutputPath = join(directory, 'connect.strace');
    const result = await traceProcess(source, pid, { seconds: 1, knownPeers: peers, rawOutputPath });
    assert.equal(result.verdict.kind, 'blocked');
    assert.equal(result.summary.blocked[0]?.syscall, 'connect');
    assert.deepEqual(result.summary.blocked[0]?.fds, [stuck.fd]);
    assert.match(
      result.verdict.text,
      new RegExp(
        `connect\\(\\) on fd ${stuck.fd}: tcp .* -> 127\\.0\\.0\\.1:${port} \\(test listener\\) SYN_SENT`,
      ),
    );
    assert.match(await readFile(rawOutputPath, 'utf8'), /connect\(/);
  });

  it('names read() on the pipe for a process waiting for input', async () => {
    const { child, firstLine } = await start(pipeScript);
    const pid = child.pid ?? 0;
    const readEnd = Number(firstLine);
    await waitForSleep(pid);
    const result = await traceProcess(source, pid, { seconds: 1 });
    assert.equal(result.verdict.kind, 'blocked');
    const blocked = result.summary.blocked[0];
    assert.equal(blocked?.syscall, 'read');
    assert.deepEqual(blocked?.fds, [readEnd]);
    assert.match(blocked?.waitsOn[0] ?? '', new RegExp(`^fd ${readEnd}: pipe:\\[\\d+\\]$`));
  });

  it('calls a process that loops without system calls busy', async () => {
    const { child } = await start(busyScript);
    const result = await traceProcess(source, child.pid ?? 0, { seconds: 1 });
    assert.equal(result.verdict.kind, 'busy', result.verdict.text);
    assert.deepEqual(result.summary.blocked, []);
  });

  it('traces every process of a service at once and prints one screen', async () => {
    const script = pipeScript.replace(`${marker}-pipe`, `${marker}-service`);
    const first = await start(script);
    const second = await start(script);
    await waitForSleep(first.child.pid ?? 0);
    await waitForSleep(second.child.pid ?? 0);
    const pattern = `${marker}-service`;
    const entries = await traceService(source, pattern, { seconds: 1 });
    assert.deepEqual(
      entries.map((e) => e.process.pid),
      [first.child.pid, second.child.pid],
    );
    assert.deepEqual(
      entries.map((e) => e.trace?.verdict.kind),
      ['blocked', 'blocked'],
    );
    const text = formatServiceTrace(entries);
    assert.equal(text.match(/=> thread \d+ blocked in read\(\) on fd \d+: pipe:/g)?.length, 2);
    await assert.rejects(traceService(source, pattern, { maxProcesses: 1 }), (error: unknown) => {
      assert.ok(error instanceof TraceError);
      assert.equal(error.kind, 'trace-too-many-processes');
      return true;
    });
    const described = await traceService(source, pattern, { describeOnly: true });
    assert.deepEqual(
      described.map((e) => e.trace),
      [null, null],
    );
  });

  it('explains a missing strace and a refused ptrace', async () => {
    const { child } = await start(pipeScript);
    const pid = child.pid ?? 0;
    const withRun = (run: ProcSource['run']): ProcSource => ({
      ...source,
      run: (argv, o) => (argv[0] === 'timeout' ? run(argv, o) : source.run(argv, o)),
    });
    const missing = withRun(async () => ({
      exitCode: 127,
      signal: null,
      stdout: '',
      stderr: "timeout: failed to run command 'strace': No such file or directory",
      timedOut: false,
      truncated: false,
    }));
    await assert.rejects(traceProcess(missing, pid, { seconds: 1 }), (error: unknown) => {
      assert.ok(error instanceof TraceError);
      assert.equal(error.kind, 'trace-strace-missing');
      assert.match(error.hint ?? '', /apt-get install strace/);
      return true;
    });
    const denied = withRun(async () => ({
      exitCode: 1,
      signal: null,
      stdout: '',
      stderr: `strace: attach: ptrace(PTRACE_SEIZE, ${pid}): Operation not permitted`,
      timedOut: false,
      truncated: false,
    }));
    await assert.rejects(traceProcess(denied, pid, { seconds: 1 }), (error: unknown) => {
      assert.ok(error instanceof TraceError);
      assert.equal(error.kind, 'trace-ptrace-denied');
      assert.match(error.hint ?? '', /ptrace_scope/);
      return true;
    });
  });

  it('rejects a pattern that is not a regular expression', async () => {
    await assert.rejects(findServiceProcesses(source, 'nova-(compute'), (error: unknown) => {
      assert.ok(error instanceof TraceError);
      assert.equal(error.kind, 'trace-bad-pattern');
      return true;
    });
  });

  it('reports a process that does not exist', async () => {
    await assert.rejects(describeProcess(source, 2 ** 22 + 7), (error: unknown) => {
      assert.ok(error instanceof TraceError);
      assert.equal(error.kind, 'trace-process-gone');
      return true;
    });
  });
});
