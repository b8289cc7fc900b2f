import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { HostAccessError, HostCommandError } from '../../../src/hosts/errors.js';
import { runChecked } from '../../../src/hosts/host.js';
import { LocalHost } from '../../../src/hosts/local.js';

let scratch: string;
let root: string;

before(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'localhost-test-'));
  root = path.join(scratch, 'collected');
  // a collected copy of a host: files, an absolute symlink (like /etc/alternatives), a symlink climbing out
  await mkdir(path.join(root, 'etc/modprobe.d'), { recursive: true });
  await mkdir(path.join(root, 'etc/real'), { recursive: true });
  await writeFile(path.join(root, 'etc/hostname'), 'compute01\n');
  await writeFile(path.join(root, 'etc/modprobe.d/kvm.conf'), 'options kvm_intel nested=1\n');
  await writeFile(path.join(root, 'etc/real/file'), 'inside the copy\n');
  await symlink('/etc/real', path.join(root, 'etc/alias'));
  await symlink('/etc/passwd', path.join(root, 'etc/passwd-link'));
  await symlink('../../../../../../../../etc/passwd', path.join(root, 'etc/climbing-link'));
  await writeFile(path.join(scratch, 'secret'), 'outside the copy\n');
  // processes as /proc shows them; the second one's name holds spaces and parentheses
  await mkdir(path.join(root, 'proc/4242'), { recursive: true });
  await writeFile(path.join(root, 'proc/4242/stat'), '4242 (qemu-system-x86) S 1 4242 4242 0 -1 4194560 0\n');
  await writeFile(
    path.join(root, 'proc/4242/status'),
    'Name:\tqemu-system-x86\nUid:\t64055\t64055\t64055\t64055\n',
  );
  await writeFile(
    path.join(root, 'proc/4242/cmdline'),
    '/usr/bin/qemu-system-x86_64\0-name\0guest=instance-0001\0',
  );
  await mkdir(path.join(root, 'proc/77'), { recursive: true });
  await writeFile(path.join(root, 'proc/77/stat'), '77 (odd) name) R 4242 77 77 0 -1 0\n');
  await writeFile(path.join(root, 'proc/77/status'), 'Name:\todd\nUid:\t0\t1000\t0\t0\n');
  await writeFile(path.join(root, 'proc/77/cmdline'), '');
  await mkdir(path.join(root, 'proc/self-not-a-pid'), { recursive: true });
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

test('--root: reads are relative to the copy; absent files are null', async () => {
  const host = new LocalHost({ name: 'compute01', root });
  assert.equal(await host.readFile('/etc/hostname'), 'compute01\n');
  assert.equal(await host.readFile('/etc/nonexistent'), null);
  assert.equal(await host.readFile('/etc/hostname/below-a-file'), null);
  assert.deepEqual(await host.listDir('/etc/modprobe.d'), ['kvm.conf']);
  assert.equal(await host.listDir('/etc/nothing'), null);
});

test('--root: a path climbing above / with .. is refused, as is a relative path', async () => {
  const host = new LocalHost({ name: 'compute01', root });
  for (const attempt of ['/../secret', '/etc/../../secret', '/etc/modprobe.d/../../../secret']) {
    await assert.rejects(host.readFile(attempt), (error: unknown) => {
      assert.ok(error instanceof HostAccessError);
      assert.equal(error.kind, 'host-access');
      assert.match(error.message, /climbs above the root/);
      return true;
    });
  }
  await assert.rejects(host.readFile('etc/hostname'), /is not absolute/);
  await assert.rejects(host.listDir('/..'), HostAccessError);
  // .. that stays inside is fine
  assert.equal(await host.readFile('/etc/modprobe.d/../hostname'), 'compute01\n');
});

test('--root: symlinks resolve inside the copy, as in a chroot, never to this machine', async () => {
  const host = new LocalHost({ name: 'compute01', root });
  assert.equal(await host.readFile('/etc/alias/file'), 'inside the copy\n');
  // /etc/passwd exists on this machine but not in the copy
  assert.equal(await host.readFile('/etc/passwd-link'), null);
  assert.equal(await host.readFile('/etc/climbing-link'), null);
  assert.equal(await host.readLink('/etc/passwd-link'), '/etc/passwd');
  assert.equal(await host.readLink('/etc/hostname'), null);
  assert.equal(await host.readLink('/etc/absent'), null);
  assert.equal((await host.stat('/etc/alias'))?.type, 'symlink');
  assert.equal((await host.stat('/etc/alias/file'))?.type, 'file');
  assert.equal((await host.stat('/etc/real'))?.type, 'directory');
  assert.equal(await host.stat('/etc/absent'), null);
});

test('--root: processes come from the copy’s proc/, names with spaces and parentheses intact', async () => {
  const host = new LocalHost({ name: 'compute01', root });
  const processes = await host.listProcesses();
  assert.deepEqual(processes, [
    {
      pid: 4242,
      comm: 'qemu-system-x86',
      ppid: 1,
      uid: 64055,
      cmdline: ['/usr/bin/qemu-system-x86_64', '-name', 'guest=instance-0001'],
    },
    { pid: 77, comm: 'odd) name', ppid: 4242, uid: 1000, cmdline: [] },
  ]);
  const withoutProc = new LocalHost({ name: 'x', root: path.join(root, 'etc') });
  await assert.rejects(withoutProc.listProcesses(), /no \/proc in .*: the process list is unknown/);
});

test('--root: commands and writes are refused unless allowed explicitly', async () => {
  const host = new LocalHost({ name: 'compute01', root });
  await assert.rejects(host.run(['true'], { timeoutMs: 10_000, maxOutputBytes: 1024 }), (error: unknown) => {
    assert.ok(error instanceof HostAccessError);
    assert.match(error.message, /refusing to run true: .* is a collected copy/);
    return true;
  });
  await assert.rejects(host.writeFileAtomic('/etc/x.conf', 'x', 0o644), /refusing to change \/etc\/x.conf/);
  await assert.rejects(host.removeFile('/etc/hostname'), HostAccessError);
  const allowed = new LocalHost({ name: 'compute01', root, allowRunWithRoot: true });
  assert.equal((await allowed.run(['true'], { timeoutMs: 10_000, maxOutputBytes: 1024 })).exitCode, 0);
});

test('writeFileAtomic returns absence, then the prior content and mode; the new mode is applied', async () => {
  const host = new LocalHost({ name: 'compute01', root, allowWriteWithRoot: true });
  const first = await host.writeFileAtomic(
    '/etc/modprobe.d/stackdoctor-nested.conf',
    'options kvm_amd nested=1\n',
    0o644,
  );
  assert.deepEqual(first, { prior: null, priorMode: null });
  const written = path.join(root, 'etc/modprobe.d/stackdoctor-nested.conf');
  assert.equal(await readFile(written, 'utf8'), 'options kvm_amd nested=1\n');
  assert.equal((await stat(written)).mode & 0o777, 0o644);

  const second = await host.writeFileAtomic(
    '/etc/modprobe.d/stackdoctor-nested.conf',
    'options kvm_amd nested=0\n',
    0o600,
  );
  assert.deepEqual(second, { prior: 'options kvm_amd nested=1\n', priorMode: 0o644 });
  assert.equal((await stat(written)).mode & 0o777, 0o600);
  // nothing half-written is left next to the file (modprobe reads every *.conf there)
  assert.deepEqual(await readdir(path.join(root, 'etc/modprobe.d')), ['kvm.conf', 'stackdoctor-nested.conf']);

  assert.deepEqual(await host.removeFile('/etc/modprobe.d/stackdoctor-nested.conf'), {
    prior: 'options kvm_amd nested=0\n',
    priorMode: 0o600,
  });
  assert.deepEqual(await host.removeFile('/etc/modprobe.d/stackdoctor-nested.conf'), {
    prior: null,
    priorMode: null,
  });
  await assert.rejects(host.writeFileAtomic('/etc/modprobe.d', 'x', 0o644), /is not a regular file/);
  await assert.rejects(host.writeFileAtomic('/no/such/dir/file', 'x', 0o644), (error: unknown) => {
    assert.ok(error instanceof HostCommandError);
    assert.match(error.message, /cannot write \/no\/such\/dir\/file on compute01: ENOENT/);
    return true;
  });
});

test('readFile refuses a file larger than its bound instead of cutting it', async () => {
  const host = new LocalHost({ name: 'compute01', root });
  assert.equal(await host.readFile('/etc/hostname', { maxBytes: 10 }), 'compute01\n');
  await assert.rejects(
    host.readFile('/etc/hostname', { maxBytes: 9 }),
    /\/etc\/hostname on compute01 is larger than 9 bytes/,
  );
});

test('run: argv reaches the program unchanged, stdin is passed, exit codes are results', async () => {
  const host = new LocalHost({ name: 'here' });
  const tricky = ['a b', '$HOME', '`id`', "it's", 'line\nbreak'];
  const echoed = await host.run(['printf', '%s|', ...tricky], { timeoutMs: 10_000, maxOutputBytes: 4096 });
  assert.deepEqual(echoed, { exitCode: 0, stdout: `${tricky.join('|')}|`, stderr: '', truncated: false });
  const piped = await host.run(['cat'], { timeoutMs: 10_000, maxOutputBytes: 4096, stdin: 'from stdin' });
  assert.equal(piped.stdout, 'from stdin');
  assert.equal(
    (await host.run(['sh', '-c', 'exit 3'], { timeoutMs: 10_000, maxOutputBytes: 4096 })).exitCode,
    3,
  );
  const missing = await host.run(['stackdoctor-no-such-program'], {
    timeoutMs: 10_000,
    maxOutputBytes: 4096,
  });
  assert.equal(missing.exitCode, 127);
  assert.match(missing.stderr, /command not found/);
});

test('run: output past the bound is cut, the command killed and the result marked truncated', async () => {
  const host = new LocalHost({ name: 'here' });
  const result = await host.run(['yes'], { timeoutMs: 60_000, maxOutputBytes: 1000 });
  assert.equal(result.truncated, true);
  assert.equal(result.exitCode, null);
  assert.equal(result.stdout.length, 1000);
});

test('run: a command that outlives its timeout is killed with what it started, and reported', async () => {
  const host = new LocalHost({ name: 'here' });
  // the inner sleep keeps stdout open: if only sh were killed this would hang instead of failing
  await assert.rejects(
    host.run(['sh', '-c', 'sleep 1000; echo never'], { timeoutMs: 300, maxOutputBytes: 1024 }),
    (error: unknown) => {
      assert.ok(error instanceof HostCommandError);
      assert.equal(error.kind, 'host-command');
      assert.match(error.message, /sh -c "sleep 1000; echo never" on here timed out after 300 ms/);
      return true;
    },
  );
});

test('run: a timeout returns even when a process outside the group still holds the output pipe', {
  timeout: 120_000,
}, async () => {
  // setsid puts the inner sleep in its own session, as an ssh ControlMaster is: killing the group misses it,
  // and it holds stdout for longer than this test may take
  const host = new LocalHost({ name: 'here' });
  const pidFile = path.join(scratch, 'escaped.pid');
  try {
    await assert.rejects(
      host.run(['sh', '-c', `setsid sh -c 'echo $$ > ${pidFile}; exec sleep 600' & sleep 1000`], {
        timeoutMs: 1000,
        maxOutputBytes: 1024,
      }),
      /timed out after 1000 ms/,
    );
  } finally {
    const escaped = Number(await readFile(pidFile, 'utf8').catch(() => ''));
    if (escaped > 0) process.kill(escaped, 'SIGKILL');
  }
});

test('run: aborting kills the command', async () => {
  const host = new LocalHost({ name: 'here' });
  const controller = new AbortController();
  const running = host.run(['sleep', '1000'], {
    timeoutMs: 600_000,
    maxOutputBytes: 1024,
    signal: controller.signal,
  });
  controller.abort();
  assert.equal((await running).exitCode, null);
});

test('this machine: the process list holds this test process with its argv', async () => {
  const host = new LocalHost({ name: 'here' });
  const self = (await host.listProcesses()).find((process) => process.pid === globalThis.process.pid);
  assert.ok(self !== undefined);
  assert.equal(self.ppid, globalThis.process.ppid);
  assert.equal(self.uid, globalThis.process.geteuid?.());
  assert.ok(self.cmdline.some((arg) => arg.endsWith('local.test.ts')));
});

test('runChecked turns a failed or cut command into a one-line HostCommandError', async () => {
  const host = new LocalHost({ name: 'here' });
  const options = { timeoutMs: 10_000, maxOutputBytes: 100 };
  assert.equal((await runChecked(host, ['echo', 'fine'], options)).stdout, 'fine\n');
  await assert.rejects(
    runChecked(host, ['sh', '-c', 'echo first >&2; echo "last words" >&2; exit 4'], options),
    (error: unknown) => {
      assert.ok(error instanceof HostCommandError);
      assert.equal(
        error.message,
        'sh -c "echo first >&2; echo \\"last words\\" >&2; exit 4" on here exited with 4: last words',
      );
      assert.equal(error.details, 'first\nlast words\n');
      return true;
    },
  );
  await assert.rejects(runChecked(host, ['yes'], options), /yes on here printed more than 100 bytes/);
});
