import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { HostAccessError, HostCommandError, HostKeyError, HostUnreachableError } from './errors.js';
import {
  defaultMaxReadBytes,
  describeArgv,
  type FileStat,
  fileTypeFromMode,
  type Host,
  type HostSpec,
  type ProcessInfo,
  type ReadOptions,
  type RemoveResult,
  type RunOptions,
  type RunResult,
  summariseOutput,
  type WriteResult,
} from './host.js';
import { parseProcessDump, processDumpScript } from './proc.js';
import { joinShellCommand } from './quote.js';
import { runProcess } from './spawn.js';

export interface SshOptions {
  /** A private directory for the control sockets is made inside it (the CLI passes os.tmpdir()). */
  tempDir: string;
  /** The OpenSSH client; default `ssh` from PATH. */
  sshCommand?: string;
  /** `ssh -F`; default: the operator's own ~/.ssh/config and /etc/ssh/ssh_config. */
  configFile?: string;
  knownHostsFile?: string;
  identityFile?: string;
  /**
   * Trust a host key seen for the first time (`StrictHostKeyChecking=accept-new`). A changed key is still
   * refused. Each acceptance is reported through `onHostKeyAccepted` so the caller can journal it.
   */
  acceptNewHostKeys?: boolean;
  onHostKeyAccepted?: (acceptance: HostKeyAcceptance) => void;
  /** TCP connect plus handshake (default 10 s). */
  connectTimeoutMs?: number;
  /** Bound on each file read/list/stat/write and on the process listing (default 60 s). */
  operationTimeoutMs?: number;
  /** How long an idle master connection stays up if `close()` is never reached (default 300 s). */
  controlPersistSeconds?: number;
}

export interface HostKeyAcceptance {
  host: string;
  address: string;
  /** ssh's own line, e.g. `Warning: Permanently added '[10.0.0.5]:22' (ED25519) to the list of known hosts.` */
  message: string;
}

/** A control socket path must fit in sockaddr_un (108 bytes); `%C` expands to 40 hex characters. */
const maxControlDirLength = 60;

/**
 * Hosts reached with the system OpenSSH client, so the operator's ~/.ssh/config, keys and agent apply as
 * they do for `ssh` itself. Each host gets one master connection (ControlMaster) in a private directory, so
 * the many small commands a check runs cost a channel each, not a handshake each.
 */
export async function createSshPool(options: SshOptions): Promise<SshPool> {
  const controlDir = await mkdtemp(path.join(options.tempDir, 'sdssh-'));
  if (controlDir.length > maxControlDirLength) {
    await rm(controlDir, { recursive: true, force: true });
    throw new HostAccessError(
      'ssh',
      `temporary directory ${controlDir} is too long for ssh control sockets`,
      {
        hint: 'point TMPDIR at a shorter path such as /tmp',
      },
    );
  }
  return new SshPool(options, controlDir);
}

export class SshPool {
  private readonly hosts = new Map<string, SshHost>();
  private readonly accepted: HostKeyAcceptance[] = [];

  constructor(
    private readonly options: SshOptions,
    /** Private (0700) directory of the control sockets; removed by close(). */
    readonly controlDirectory: string,
  ) {}

  /** The host for a spec; asking twice for one name gives the same connection. */
  host(spec: HostSpec): SshHost {
    const existing = this.hosts.get(spec.name);
    if (existing !== undefined) return existing;
    const host = new SshHost(spec, this.options, this.controlDirectory, (acceptance) => {
      this.accepted.push(acceptance);
      this.options.onHostKeyAccepted?.(acceptance);
    });
    this.hosts.set(spec.name, host);
    return host;
  }

  get acceptedHostKeys(): readonly HostKeyAcceptance[] {
    return this.accepted;
  }

  /** Stops every master connection and removes the control directory. */
  async close(): Promise<void> {
    await Promise.all([...this.hosts.values()].map((host) => host.close()));
    await rm(this.controlDirectory, { recursive: true, force: true });
  }
}

/** Exit status the file scripts use for "absent"; no tool they run exits with it. */
const absentStatus = 66;

const readScript = '[ -e "$1" ] || exit 66\nexec head -c "$2" -- "$1"';
// find -printf '%f\0' rather than ls: names may hold newlines
const listScript =
  '[ -e "$1" ] || exit 66\ncd -- "$1" || exit 1\nexec find . -mindepth 1 -maxdepth 1 -printf \'%f\\0\'';
const readLinkScript = '[ -L "$1" ] || exit 66\nexec readlink -- "$1"';
const statScript = '[ -e "$1" ] || [ -L "$1" ] || exit 66\nexec stat -c \'%f %s %u %g %Y\' -- "$1"';

/** Prints `A` for an absent file, or `P <octal mode>` and the content; refuses what it could not restore. */
const printPriorFunction = [
  'print_prior() {',
  '  if [ ! -e "$1" ] && [ ! -L "$1" ]; then printf \'A\\n\'; return 0; fi',
  '  [ -f "$1" ] && [ ! -L "$1" ] || { echo "$1 is not a regular file" >&2; exit 65; }',
  '  size=$(wc -c < "$1")',
  '  [ "$size" -le "$2" ] || { echo "$1 is too large to keep as prior state" >&2; exit 65; }',
  '  printf \'P %s\\n\' "$(stat -c %a -- "$1")"',
  '  cat -- "$1"',
  '}',
].join('\n');

// the temporary file sits next to the target so mv is a rename on one filesystem; its name does not end
// in the target's suffix, so a reader of e.g. /etc/modprobe.d/*.conf never picks it up half-written
const writeScript = [
  'set -e',
  printPriorFunction,
  'tmp=$(mktemp "$1.stackdoctor.XXXXXX")',
  'trap \'rm -f -- "$tmp"\' EXIT',
  'cat > "$tmp"',
  'chmod "$2" "$tmp"',
  'sync "$tmp" 2>/dev/null || true',
  'print_prior "$1" "$3"',
  'mv -f -- "$tmp" "$1"',
  'trap - EXIT',
].join('\n');

const removeScript = ['set -e', printPriorFunction, 'print_prior "$1" "$2"', 'rm -f -- "$1"'].join('\n');

export class SshHost implements Host {
  readonly name: string;
  private readonly spec: HostSpec;
  private connection: Promise<{ acceptedNewHostKey: boolean }> | undefined;
  private closed = false;
  private acceptedCount = 0;
  private readonly ssh: string;
  private readonly operationTimeoutMs: number;

  constructor(
    spec: HostSpec,
    private readonly options: SshOptions,
    private readonly controlDir: string,
    private readonly recordAcceptance: (acceptance: HostKeyAcceptance) => void,
  ) {
    validateSpec(spec);
    this.name = spec.name;
    this.spec = spec;
    this.ssh = options.sshCommand ?? 'ssh';
    this.operationTimeoutMs = options.operationTimeoutMs ?? 60_000;
  }

  /**
   * Opens the master connection (once; later calls share the outcome, so an unreachable host is tried once
   * per run). Rejects with HostUnreachableError or HostKeyError.
   */
  connect(): Promise<{ acceptedNewHostKey: boolean }> {
    this.connection ??= this.openMaster();
    return this.connection;
  }

  async run(argv: readonly string[], options: RunOptions): Promise<RunResult> {
    if (this.closed) throw new HostCommandError(this.name, `connection to ${this.name} is closed`);
    await this.connect();
    // Killing our ssh client does not stop the remote command (sshd keeps a session whose client vanished
    // running), so the remote side bounds itself too: coreutils timeout, a little after our own deadline so
    // ours is the one reported. A `strace -p` must not stay attached to a service after we gave up on it.
    const remoteSeconds = Math.ceil(options.timeoutMs / 1000) + 2;
    const remote = joinShellCommand(['timeout', '-k', '5', String(remoteSeconds), ...argv]);
    const outcome = await runProcess(
      this.ssh,
      [...this.commonArgs(), '-o', 'ControlMaster=no', '-T', '--', this.spec.address, remote],
      {
        timeoutMs: options.timeoutMs,
        maxOutputBytes: options.maxOutputBytes,
        stdin: options.stdin,
        signal: options.signal,
      },
    );
    if (outcome.spawnError !== null) {
      throw new HostCommandError(this.name, `cannot start ${this.ssh}: ${outcome.spawnError.message}`, {
        cause: outcome.spawnError,
      });
    }
    const stderr = this.digestStderr(outcome.stderr);
    if (outcome.timedOut) {
      throw new HostCommandError(
        this.name,
        `${describeArgv(argv)} on ${this.name} timed out after ${options.timeoutMs} ms`,
        { details: stderr },
      );
    }
    // 255 is ssh's own failure, unless the remote command chose it: only ssh's messages make it an error
    if (outcome.exitCode === 255) {
      const failure = classifySshFailure(this.spec, stderr);
      if (failure !== null) throw failure;
    }
    if (
      outcome.exitCode === 127 &&
      /^(\S+: )*(line \d+: )?timeout: (command )?not found|command not found: timeout$/m.test(stderr)
    ) {
      throw new HostCommandError(this.name, `coreutils timeout is missing on ${this.name}`, {
        hint: 'stackdoctor bounds every remote command with timeout(1) from coreutils',
      });
    }
    return { exitCode: outcome.exitCode, stdout: outcome.stdout, stderr, truncated: outcome.truncated };
  }

  async readFile(file: string, options: ReadOptions = {}): Promise<string | null> {
    const maxBytes = options.maxBytes ?? defaultMaxReadBytes;
    // one byte more than allowed tells "exactly the limit" from "too large"
    const result = await this.runScript(readScript, [file, String(maxBytes + 1)], maxBytes);
    if (result.exitCode === absentStatus) return null;
    if (result.truncated)
      throw new HostCommandError(this.name, `${file} on ${this.name} is larger than ${maxBytes} bytes`);
    this.expectSuccess(result, `cannot read ${file}`);
    return result.stdout;
  }

  async listDir(dir: string): Promise<string[] | null> {
    const result = await this.runScript(listScript, [dir], defaultMaxReadBytes);
    if (result.exitCode === absentStatus) return null;
    this.expectComplete(result, `listing ${dir}`);
    this.expectSuccess(result, `cannot list ${dir}`);
    return result.stdout
      .split('\0')
      .filter((name) => name !== '')
      .sort();
  }

  async readLink(link: string): Promise<string | null> {
    const result = await this.runScript(readLinkScript, [link], 64 * 1024);
    if (result.exitCode === absentStatus) return null;
    this.expectSuccess(result, `cannot read link ${link}`);
    return result.stdout.endsWith('\n') ? result.stdout.slice(0, -1) : result.stdout;
  }

  async stat(file: string): Promise<FileStat | null> {
    const result = await this.runScript(statScript, [file], 4096);
    if (result.exitCode === absentStatus) return null;
    this.expectSuccess(result, `cannot stat ${file}`);
    const [rawMode, size, uid, gid, mtime] = result.stdout
      .trim()
      .split(' ')
      .map((field, index) => (index === 0 ? Number.parseInt(field, 16) : Number(field)));
    if ([rawMode, size, uid, gid, mtime].some((value) => value === undefined || !Number.isFinite(value))) {
      throw new HostCommandError(
        this.name,
        `unexpected stat output for ${file} on ${this.name}: ${result.stdout.trim()}`,
      );
    }
    return {
      type: fileTypeFromMode(rawMode!),
      size: size!,
      mode: rawMode! & 0o7777,
      uid: uid!,
      gid: gid!,
      mtimeMs: mtime! * 1000,
    };
  }

  async listProcesses(): Promise<ProcessInfo[]> {
    const result = await this.runScript(processDumpScript, [], 64 * 1024 * 1024);
    this.expectComplete(result, 'the process list');
    this.expectSuccess(result, 'cannot list processes');
    return parseProcessDump(result.stdout);
  }

  async writeFileAtomic(file: string, content: string, mode: number): Promise<WriteResult> {
    const result = await this.runScript(
      writeScript,
      [file, mode.toString(8), String(defaultMaxReadBytes)],
      defaultMaxReadBytes + 64,
      content,
    );
    this.expectSuccess(result, `cannot write ${file}`);
    return this.parsePrior(result.stdout, file);
  }

  async removeFile(file: string): Promise<RemoveResult> {
    const result = await this.runScript(
      removeScript,
      [file, String(defaultMaxReadBytes)],
      defaultMaxReadBytes + 64,
    );
    this.expectSuccess(result, `cannot remove ${file}`);
    return this.parsePrior(result.stdout, file);
  }

  /** Stops the master connection, if one was opened. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const opened = await this.connection?.then(
      () => true,
      () => false,
    );
    if (!opened) return;
    await runProcess(this.ssh, [...this.commonArgs(), '-O', 'exit', '--', this.spec.address], {
      timeoutMs: 10_000,
      maxOutputBytes: 64 * 1024,
    });
  }

  private async openMaster(): Promise<{ acceptedNewHostKey: boolean }> {
    const connectTimeoutMs = this.options.connectTimeoutMs ?? 10_000;
    const outcome = await runProcess(
      this.ssh,
      [
        ...this.commonArgs(),
        '-o',
        'ControlMaster=yes',
        '-o',
        `ControlPersist=${this.options.controlPersistSeconds ?? 300}`,
        // -f: back to us once authenticated, the master stays in the background
        '-N',
        '-f',
        '--',
        this.spec.address,
      ],
      // ConnectTimeout covers TCP and the banner; the margin covers key exchange and authentication
      { timeoutMs: connectTimeoutMs + 15_000, maxOutputBytes: 64 * 1024 },
    );
    if (outcome.spawnError !== null) {
      throw new HostUnreachableError(this.name, `cannot start ${this.ssh}: ${outcome.spawnError.message}`, {
        cause: outcome.spawnError,
      });
    }
    const before = this.acceptedCount;
    const stderr = this.digestStderr(outcome.stderr);
    if (outcome.timedOut) {
      throw new HostUnreachableError(
        this.name,
        `no ssh session with ${this.name} (${this.spec.address}) within ${connectTimeoutMs + 15_000} ms`,
        { details: stderr },
      );
    }
    if (outcome.exitCode !== 0) {
      throw (
        classifySshFailure(this.spec, stderr) ??
        new HostUnreachableError(this.name, `cannot reach ${this.name}: ${summariseOutput(stderr)}`, {
          details: stderr,
        })
      );
    }
    return { acceptedNewHostKey: this.acceptedCount > before };
  }

  /** Records host-key acceptances and drops multiplexing chatter; what is left is the command's stderr. */
  private digestStderr(stderr: string): string {
    const kept: string[] = [];
    for (const line of stderr.split('\n')) {
      const clean = line.replace(/\r$/, '');
      if (/^Warning: Permanently added .* to the list of known hosts\.?$/.test(clean)) {
        this.acceptedCount += 1;
        this.recordAcceptance({ host: this.name, address: this.spec.address, message: clean });
        continue;
      }
      if (/^(Control socket connect\(|mux_client_|ControlSocket .* already exists)/.test(clean)) continue;
      kept.push(line);
    }
    return kept.join('\n');
  }

  private commonArgs(): string[] {
    const { options, spec } = this;
    const args: string[] = [];
    if (options.configFile !== undefined) args.push('-F', options.configFile);
    // command-line -o beats every config file (ssh keeps the first value it sees), so these always hold
    args.push(
      '-o',
      'BatchMode=yes',
      '-o',
      `StrictHostKeyChecking=${options.acceptNewHostKeys === true ? 'accept-new' : 'yes'}`,
      '-o',
      `ConnectTimeout=${Math.max(1, Math.ceil((options.connectTimeoutMs ?? 10_000) / 1000))}`,
      '-o',
      `ControlPath=${this.controlDir}/%C`,
      '-o',
      'ServerAliveInterval=15',
      '-o',
      'ServerAliveCountMax=3',
      // host-key acceptance is reported at INFO; an operator's LogLevel=QUIET would hide it from the journal
      '-o',
      'LogLevel=INFO',
      '-o',
      'ForwardAgent=no',
      '-o',
      'ForwardX11=no',
      '-o',
      'ClearAllForwardings=yes',
    );
    if (options.knownHostsFile !== undefined) args.push('-o', `UserKnownHostsFile=${options.knownHostsFile}`);
    if (options.identityFile !== undefined) args.push('-i', options.identityFile);
    if (spec.user !== undefined) args.push('-l', spec.user);
    if (spec.port !== undefined) args.push('-p', String(spec.port));
    return args;
  }

  /** The scripts' first argument is always a path; an absolute one can never be read as an option. */
  private runScript(script: string, args: readonly string[], maxOutputBytes: number, stdin?: string) {
    const [file] = args;
    if (file !== undefined && !file.startsWith('/')) {
      return Promise.reject(new HostAccessError(this.name, `path ${file} is not absolute`));
    }
    return this.run(['sh', '-c', script, 'sh', ...args], {
      timeoutMs: this.operationTimeoutMs,
      maxOutputBytes,
      ...(stdin === undefined ? {} : { stdin }),
    });
  }

  private expectSuccess(result: RunResult, what: string): void {
    if (result.exitCode === 0) return;
    throw new HostCommandError(this.name, `${what} on ${this.name}: ${summariseOutput(result.stderr)}`, {
      details: result.stderr,
    });
  }

  private expectComplete(result: RunResult, what: string): void {
    if (result.truncated)
      throw new HostCommandError(this.name, `${what} on ${this.name} is larger than we accept`);
  }

  private parsePrior(stdout: string, file: string): WriteResult {
    if (stdout.startsWith('A\n')) return { prior: null, priorMode: null };
    const match = /^P ([0-7]+)\n/.exec(stdout);
    if (match?.[1] === undefined) {
      throw new HostCommandError(this.name, `unexpected output while replacing ${file} on ${this.name}`);
    }
    return { prior: stdout.slice(match[0].length), priorMode: Number.parseInt(match[1], 8) };
  }
}

/**
 * Inventory files are data from outside: an address like `-oProxyCommand=…` would become an ssh option.
 */
function validateSpec(spec: HostSpec): void {
  const unsafe = (value: string) => value === '' || value.startsWith('-') || /[\s\p{Cc}]/u.test(value);
  if (unsafe(spec.address))
    throw new HostAccessError(spec.name, `refusing host address ${JSON.stringify(spec.address)}`);
  if (spec.user !== undefined && unsafe(spec.user)) {
    throw new HostAccessError(spec.name, `refusing ssh user ${JSON.stringify(spec.user)}`);
  }
  if (spec.port !== undefined && !(Number.isInteger(spec.port) && spec.port > 0 && spec.port < 65536)) {
    throw new HostAccessError(spec.name, `refusing ssh port ${spec.port}`);
  }
}

/**
 * Turns ssh's stderr into one error with a one-line message (the full text goes to `details`). Returns null
 * when the text is not ssh's own, e.g. the remote command exited 255 by itself.
 */
export function classifySshFailure(
  spec: HostSpec,
  stderr: string,
): HostKeyError | HostUnreachableError | null {
  const target = spec.address === spec.name ? spec.name : `${spec.name} (${spec.address})`;
  const details = stderr;
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/.test(stderr)) {
    const offending = /Offending \S+ key in (\S+:\d+)/.exec(stderr)?.[1];
    return new HostKeyError(
      spec.name,
      `host key for ${target} does not match known_hosts${offending === undefined ? '' : ` (entry ${offending})`}`,
      {
        details,
        hint: 'if the host was reinstalled, check its new key fingerprint out of band, then remove the old entry with ssh-keygen -R',
      },
    );
  }
  if (/No \S+ host key is known for|Host key verification failed/.test(stderr)) {
    return new HostKeyError(spec.name, `host key for ${target} is not in known_hosts`, {
      details,
      hint: 'check the fingerprint out of band and add it to known_hosts, or pass --accept-new-host-keys to trust new keys (journaled)',
    });
  }
  const denied = /Permission denied \(([^)]*)\)/.exec(stderr);
  if (denied !== null) {
    return new HostUnreachableError(
      spec.name,
      `cannot log in to ${target}${spec.user === undefined ? '' : ` as ${spec.user}`}: permission denied (${denied[1]})`,
      { details, hint: 'stackdoctor never prompts: the key must be in ssh-agent or named by IdentityFile' },
    );
  }
  const network =
    /(Could not resolve hostname|Connection refused|Connection timed out|timed out|No route to host|Network is unreachable|Connection closed by|Connection reset by|kex_exchange_identification|Host is down)/.exec(
      stderr,
    );
  if (network === null) return null;
  const line =
    stderr
      .split('\n')
      .map((text) => text.trim())
      .find((text) => text.includes(network[1]!)) ?? network[1]!;
  return new HostUnreachableError(spec.name, `cannot reach ${target}: ${line.replace(/^ssh: /, '')}`, {
    details,
  });
}
