import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { HostCommandError, HostKeyError } from '../../src/hosts/errors.js';
import { forEachHost } from '../../src/hosts/fanout.js';
import { loadInventory } from '../../src/hosts/inventory.js';
import { resolveHosts } from '../../src/hosts/resolve.js';
import { createSshPool, type HostKeyAcceptance, type SshOptions, type SshPool } from '../../src/hosts/ssh.js';
import { startThrowawaySshd, type ThrowawaySshd } from '../hosts/sshd.js';

// A real OpenSSH server (Debian's openssh-server) on 127.0.0.1 and a random free port, with a generated host
// key and user key; the client uses `ssh -F` and UserKnownHostsFile in a temporary directory, so the
// machine's own ssh configuration is neither read nor touched.
const execFileAsync = promisify(execFile);
let sshd: ThrowawaySshd;
let files: string;
const pools: SshPool[] = [];
const runOptions = { timeoutMs: 60_000, maxOutputBytes: 1024 * 1024 };

before(async () => {
  sshd = await startThrowawaySshd();
  files = path.join(sshd.dir, 'remote-files');
  await mkdir(files);
});

after(async () => {
  await Promise.all(pools.map((pool) => pool.close()));
  await sshd?.stop();
});

async function openPool(overrides: Partial<SshOptions> = {}): Promise<SshPool> {
  const pool = await createSshPool({
    tempDir: tmpdir(),
    configFile: sshd.clientConfig,
    knownHostsFile: sshd.knownHosts,
    connectTimeoutMs: 10_000,
    ...overrides,
  });
  pools.push(pool);
  return pool;
}

const sshdSpec = () => ({ name: 'compute01', address: '127.0.0.1', port: sshd.port, user: 'root' });
let sharedPool: SshPool | undefined;
/** Tests that do not look at connection set-up share one pool: each handshake costs seconds here. */
async function sharedHost() {
  sharedPool ??= await openPool();
  return sharedPool.host(sshdSpec());
}

test('commands: tricky arguments arrive unchanged, nothing is injected, exit codes and stdin pass through', async () => {
  const host = await sharedHost();
  const marker = path.join(files, 'injected');
  const tricky = [
    'a b',
    "it's",
    '"dq"',
    '$HOME',
    `$(touch ${marker})`,
    `\`touch ${marker}\``,
    `x;touch ${marker}`,
    'new\nline',
    '',
    '*',
  ];
  const echoed = await host.run(['printf', '%s\\0', ...tricky], runOptions);
  assert.equal(echoed.exitCode, 0);
  assert.deepEqual(echoed.stdout.split('\0').slice(0, -1), tricky);
  await assert.rejects(access(marker));

  assert.equal((await host.run(['sh', '-c', 'exit 7'], runOptions)).exitCode, 7);
  // 255 chosen by the remote command is a result, not a connection failure
  assert.equal((await host.run(['sh', '-c', 'echo bye >&2; exit 255'], runOptions)).exitCode, 255);
  const piped = await host.run(['tr', 'a-z', 'A-Z'], { ...runOptions, stdin: 'over ssh\n' });
  assert.equal(piped.stdout, 'OVER SSH\n');
  const missing = await host.run(['stackdoctor-no-such-program'], runOptions);
  assert.equal(missing.exitCode, 127);
});

test('commands: many at once share one master connection', async () => {
  const pool = await openPool();
  const host = pool.host(sshdSpec());
  assert.deepEqual(await host.connect(), { acceptedNewHostKey: false });
  const results = await Promise.all(
    Array.from({ length: 12 }, (_, index) => host.run(['echo', String(index)], runOptions)),
  );
  assert.deepEqual(
    results.map((result) => result.stdout),
    Array.from({ length: 12 }, (_, index) => `${index}\n`),
  );
  const check = await execFileAsync('ssh', [
    '-F',
    sshd.clientConfig,
    '-o',
    `UserKnownHostsFile=${sshd.knownHosts}`,
    '-o',
    `ControlPath=${pool.controlDirectory}/%C`,
    '-p',
    String(sshd.port),
    '-l',
    'root',
    '-O',
    'check',
    '127.0.0.1',
  ]);
  assert.match(check.stderr, /Master running/);
});

// The ControlMaster writes into the client's pipes itself, so giving up must not wait for the remote command:
// a regression hangs here until the test's own timeout fails it.
test('commands: a timeout and an output bound are enforced over ssh', { timeout: 300_000 }, async () => {
  const host = await sharedHost();
  await assert.rejects(
    host.run(['sleep', '600'], { timeoutMs: 1500, maxOutputBytes: 1024 }),
    (error: unknown) => {
      assert.ok(error instanceof HostCommandError);
      assert.match(error.message, /sleep 600 on compute01 timed out after 1500 ms/);
      return true;
    },
  );
  const endless = await host.run(['yes'], { timeoutMs: 240_000, maxOutputBytes: 5000 });
  assert.equal(endless.truncated, true);
  assert.equal(endless.exitCode, null);
  assert.equal(endless.stdout.length, 5000);
  // the connection is still good afterwards
  assert.equal((await host.run(['echo', 'still here'], runOptions)).stdout, 'still here\n');
});

test('files: read, absent, bounded, listed (odd names too), links and stat', async () => {
  const host = await sharedHost();
  await writeFile(path.join(files, 'kvm.conf'), 'options kvm_intel nested=1\n');
  await writeFile(path.join(files, 'name with\nnewline'), '');
  await symlink('/etc/hostname', path.join(files, 'link'));
  assert.equal(await host.readFile(path.join(files, 'kvm.conf')), 'options kvm_intel nested=1\n');
  assert.equal(await host.readFile(path.join(files, 'absent.conf')), null);
  assert.equal(
    await host.readFile(path.join(files, 'kvm.conf'), { maxBytes: 27 }),
    'options kvm_intel nested=1\n',
  );
  await assert.rejects(
    host.readFile(path.join(files, 'kvm.conf'), { maxBytes: 26 }),
    /is larger than 26 bytes/,
  );
  assert.deepEqual(await host.listDir(files), (await readdir(files)).sort());
  assert.ok((await host.listDir(files))?.includes('name with\nnewline'));
  assert.equal(await host.listDir(path.join(files, 'nope')), null);
  assert.equal(await host.readLink(path.join(files, 'link')), '/etc/hostname');
  assert.equal(await host.readLink(path.join(files, 'kvm.conf')), null);
  const info = await host.stat(path.join(files, 'kvm.conf'));
  const local = await stat(path.join(files, 'kvm.conf'));
  assert.deepEqual(info, {
    type: 'file',
    size: 27,
    mode: local.mode & 0o7777,
    uid: local.uid,
    gid: local.gid,
    mtimeMs: Math.floor(local.mtimeMs / 1000) * 1000,
  });
  assert.equal((await host.stat(path.join(files, 'link')))?.type, 'symlink');
  assert.equal((await host.stat(files))?.type, 'directory');
  assert.equal(await host.stat(path.join(files, 'absent')), null);
  await assert.rejects(host.readFile(files), HostCommandError);
});

test('processes: the list over ssh holds the sshd we started, with its argv', async () => {
  const host = await sharedHost();
  const processes = await host.listProcesses();
  const daemon = processes.find((entry) => entry.pid === sshd.pid);
  assert.ok(daemon !== undefined);
  assert.equal(daemon.uid, 0);
  // sshd rewrites its title ("sshd: /usr/sbin/sshd -D -e -f CONFIG [listener] …") over its argv
  assert.match(daemon.cmdline.join(' '), new RegExp(`-D -e -f ${sshd.dir}/sshd_config_${sshd.port}`));
});

test('writeFileAtomic over ssh: absence, then prior content and mode; removeFile gives the last content back', async () => {
  const host = await sharedHost();
  const target = path.join(files, 'modprobe.d-stackdoctor.conf');
  assert.deepEqual(await host.writeFileAtomic(target, 'options kvm_amd nested=1\n', 0o644), {
    prior: null,
    priorMode: null,
  });
  assert.equal(await readFile(target, 'utf8'), 'options kvm_amd nested=1\n');
  assert.equal((await stat(target)).mode & 0o777, 0o644);
  const content = "it's $HOME `x`\nline two\n";
  assert.deepEqual(await host.writeFileAtomic(target, content, 0o600), {
    prior: 'options kvm_amd nested=1\n',
    priorMode: 0o644,
  });
  assert.equal(await readFile(target, 'utf8'), content);
  assert.equal((await stat(target)).mode & 0o777, 0o600);
  assert.equal((await readdir(files)).filter((name) => name.includes('.stackdoctor.')).length, 0);
  assert.deepEqual(await host.removeFile(target), { prior: content, priorMode: 0o600 });
  await assert.rejects(access(target));
  assert.deepEqual(await host.removeFile(target), { prior: null, priorMode: null });
  await assert.rejects(host.writeFileAtomic(files, 'x', 0o644), /is not a regular file/);
});

test('host keys: a known_hosts entry with a different key is refused with HostKeyError', async () => {
  const wrong = path.join(sshd.dir, 'known_hosts_wrong');
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(sshd.dir, 'impostor')]);
  const impostor = (await readFile(path.join(sshd.dir, 'impostor.pub'), 'utf8'))
    .split(' ')
    .slice(0, 2)
    .join(' ');
  await writeFile(wrong, `[127.0.0.1]:${sshd.port} ${impostor}\n`);
  // accepting new keys never accepts a changed one
  const host = (await openPool({ knownHostsFile: wrong, acceptNewHostKeys: true })).host(sshdSpec());
  await assert.rejects(host.run(['true'], runOptions), (error: unknown) => {
    assert.ok(error instanceof HostKeyError);
    assert.equal(error.kind, 'host-key');
    assert.equal(
      error.message,
      `host key for compute01 (127.0.0.1) does not match known_hosts (entry ${wrong}:1)`,
    );
    return true;
  });
  assert.equal(await readFile(wrong, 'utf8'), `[127.0.0.1]:${sshd.port} ${impostor}\n`);
});

test('host keys: an unknown key is refused by default, accepted and reported with acceptNewHostKeys', async () => {
  const empty = path.join(sshd.dir, 'known_hosts_empty');
  await writeFile(empty, '');
  const refusing = (await openPool({ knownHostsFile: empty })).host(sshdSpec());
  await assert.rejects(refusing.readFile('/etc/hostname'), (error: unknown) => {
    assert.ok(error instanceof HostKeyError);
    assert.equal(error.message, 'host key for compute01 (127.0.0.1) is not in known_hosts');
    return true;
  });
  assert.equal(await readFile(empty, 'utf8'), '');

  const reported: HostKeyAcceptance[] = [];
  const accepting = await openPool({
    knownHostsFile: empty,
    acceptNewHostKeys: true,
    onHostKeyAccepted: (a) => reported.push(a),
  });
  const host = accepting.host(sshdSpec());
  assert.deepEqual(await host.connect(), { acceptedNewHostKey: true });
  assert.equal((await host.run(['echo', 'trusted'], runOptions)).stdout, 'trusted\n');
  assert.equal(reported.length, 1);
  assert.equal(reported[0]?.host, 'compute01');
  assert.match(
    reported[0]?.message ?? '',
    new RegExp(`Permanently added '\\[127\\.0\\.0\\.1\\]:${sshd.port}' \\(ED25519\\)`),
  );
  assert.deepEqual(accepting.acceptedHostKeys, reported);
  assert.equal((await readFile(empty, 'utf8')).trim(), sshd.knownHostsLine);

  // once known, nothing more is accepted
  const again = (await openPool({ knownHostsFile: empty, acceptNewHostKeys: true })).host(sshdSpec());
  assert.deepEqual(await again.connect(), { acceptedNewHostKey: false });
});

test('fan-out: an unreachable host is skipped with the reason while the reachable one answers', async () => {
  const pool = await openPool();
  const unusedPort = await findUnusedPort();
  const specs = [{ name: 'gone01', address: '127.0.0.1', port: unusedPort, user: 'root' }, sshdSpec()];
  const outcomes = await forEachHost(
    specs.map((spec) => pool.host(spec)),
    async (host) => (await host.run(['echo', 'alive'], runOptions)).stdout.trim(),
    { forks: 2, perHostTimeoutMs: 60_000 },
  );
  assert.deepEqual(outcomes, [
    {
      host: 'gone01',
      status: 'skipped',
      reason: `cannot reach gone01 (127.0.0.1): connect to host 127.0.0.1 port ${unusedPort}: Connection refused`,
      kind: 'host-unreachable',
    },
    { host: 'compute01', status: 'ok', value: 'alive' },
  ]);
});

test('inventory end to end: INI and YAML name the sshd host; --limit picks it; commands run there', async () => {
  const ini = path.join(sshd.dir, 'multinode');
  await writeFile(
    ini,
    [
      '[control]',
      `control01 ansible_host=127.0.0.1 ansible_port=${sshd.port}`,
      '[compute]',
      `compute01 ansible_host=127.0.0.1 ansible_port=${sshd.port}`,
      'compute02 ansible_host=127.0.0.1 ansible_port=1',
      '[all:vars]',
      'ansible_user=root',
      '',
    ].join('\n'),
  );
  const yaml = path.join(sshd.dir, 'inventory.yml');
  await writeFile(
    yaml,
    [
      'all:',
      '  vars:',
      '    ansible_user: root',
      '  children:',
      '    compute:',
      '      hosts:',
      '        compute01:',
      '          ansible_host: 127.0.0.1',
      `          ansible_port: ${sshd.port}`,
      '',
    ].join('\n'),
  );
  const read = (file: string) => readFile(file, 'utf8').catch(() => null);
  const pool = await openPool();
  const fromIni = resolveHosts({ inventory: await loadInventory(ini, read), limit: ['compute:!compute02'] });
  const fromYaml = resolveHosts({ inventory: await loadInventory(yaml, read), limit: ['compute'] });
  assert.deepEqual(fromIni, [
    { name: 'compute01', address: '127.0.0.1', user: 'root', port: sshd.port, local: false },
  ]);
  assert.deepEqual(fromYaml, fromIni);
  const outcomes = await forEachHost(
    [...fromIni, ...fromYaml].map((spec) => pool.host(spec)),
    async (host) => (await host.run(['id', '-un'], runOptions)).stdout.trim(),
  );
  assert.deepEqual(outcomes, [
    { host: 'compute01', status: 'ok', value: 'root' },
    { host: 'compute01', status: 'ok', value: 'root' },
  ]);
});

test('close: master connections end and the private control directory is removed', async () => {
  const pool = await createSshPool({
    tempDir: tmpdir(),
    configFile: sshd.clientConfig,
    knownHostsFile: sshd.knownHosts,
  });
  const host = pool.host(sshdSpec());
  await host.run(['true'], runOptions);
  const dir = pool.controlDirectory;
  assert.equal((await readdir(dir)).length, 1);
  await pool.close();
  await assert.rejects(access(dir));
  await assert.rejects(host.run(['true'], runOptions), /connection to compute01 is closed/);
});

test('unsafe inventory values never become ssh options', async () => {
  const pool = await openPool();
  assert.throws(
    () => pool.host({ name: 'evil', address: '-oProxyCommand=touch /tmp/x' }),
    /refusing host address/,
  );
  assert.throws(
    () => pool.host({ name: 'evil2', address: 'h', user: '-oProxyCommand=x' }),
    /refusing ssh user/,
  );
  assert.throws(() => pool.host({ name: 'evil3', address: 'h', port: 0 }), /refusing ssh port/);
});

async function findUnusedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 1));
    });
  });
}
