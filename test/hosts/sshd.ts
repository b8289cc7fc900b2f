import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const sshdBinary = '/usr/sbin/sshd';

/** A private sshd on 127.0.0.1 for one test file, with its own host key, user key and client config. */
export interface ThrowawaySshd {
  port: number;
  dir: string;
  /** `ssh -F` file: the generated user key only, no system known_hosts. */
  clientConfig: string;
  /** known_hosts holding this sshd's real key. */
  knownHosts: string;
  /** `[127.0.0.1]:PORT ssh-ed25519 AAAA…` as a known_hosts line. */
  knownHostsLine: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startThrowawaySshd(): Promise<ThrowawaySshd> {
  await access(sshdBinary).catch(() => {
    throw new Error(
      `${sshdBinary} is missing: run test/hosts/ensure-sshd.sh (installs Debian's openssh-server)`,
    );
  });
  // Debian's sshd refuses to start without its compiled-in privilege separation directory
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(path.join(tmpdir(), 'sshd-test-'));
  try {
    for (const key of ['host_key', 'user_key']) {
      await run('ssh-keygen', [
        '-q',
        '-t',
        'ed25519',
        '-N',
        '',
        '-C',
        `stackdoctor-test-${key}`,
        '-f',
        path.join(dir, key),
      ]);
    }
    await writeFile(path.join(dir, 'authorized_keys'), await readFile(path.join(dir, 'user_key.pub')));
    const clientConfig = path.join(dir, 'ssh_config');
    await writeFile(
      clientConfig,
      [
        'Host *',
        `  IdentityFile ${path.join(dir, 'user_key')}`,
        '  IdentitiesOnly yes',
        '  GlobalKnownHostsFile /dev/null',
        '',
      ].join('\n'),
    );
    for (let attempt = 0; ; attempt += 1) {
      const port = await findFreePort();
      const started = await launch(dir, port).catch((error: unknown) => {
        // another process took the port between our probe and sshd's bind
        if (attempt < 5 && String(error).includes('Address already in use')) return null;
        throw error;
      });
      if (started === null) continue;
      const hostKey = (await readFile(path.join(dir, 'host_key.pub'), 'utf8'))
        .split(' ')
        .slice(0, 2)
        .join(' ');
      const knownHostsLine = `[127.0.0.1]:${port} ${hostKey}`;
      const knownHosts = path.join(dir, 'known_hosts');
      await writeFile(knownHosts, `${knownHostsLine}\n`);
      return {
        port,
        dir,
        clientConfig,
        knownHosts,
        knownHostsLine,
        pid: started.pid!,
        stop: async () => {
          await stopProcess(started);
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function launch(dir: string, port: number): Promise<ChildProcess> {
  const config = path.join(dir, `sshd_config_${port}`);
  await writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'StrictModes no',
      'UsePAM no',
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      // many parallel channels and connections come from one test
      'MaxSessions 50',
      'MaxStartups 50',
      '',
    ].join('\n'),
  );
  const child = spawn(sshdBinary, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let log = '';
    const onData = (chunk: Buffer) => {
      log += chunk.toString('utf8');
      if (log.includes(`Server listening on 127.0.0.1 port ${port}`)) {
        // keep draining so sshd never blocks on a full stderr pipe
        resolve(child);
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`sshd exited with ${code}: ${log.trim()}`)));
    child.once('error', reject);
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
