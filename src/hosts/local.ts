import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir, readlink, realpath, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { HostAccessError, HostCommandError } from './errors.js';
import {
  defaultMaxReadBytes,
  describeArgv,
  type FileStat,
  fileTypeFromMode,
  type Host,
  type ProcessInfo,
  type ReadOptions,
  type RemoveResult,
  type RunOptions,
  type RunResult,
  type WriteResult,
} from './host.js';
import { parseCmdline, parseProcStat, parseStatusEffectiveUid } from './proc.js';
import { PathOutsideRootError, resolveUnderRoot } from './rooted-path.js';
import { runProcess } from './spawn.js';

export interface LocalHostOptions {
  /** The name findings and journal entries carry (the CLI passes the machine's hostname). */
  name?: string;
  /**
   * A collected copy of a host's files (`--root DIR`, an sosreport, a test fixture): every path is read
   * relative to it. Commands and writes would act on this machine, not on the host the copy came from, so
   * they are refused unless allowed explicitly.
   */
  root?: string;
  allowRunWithRoot?: boolean;
  /** Writes then go inside the copy (a fixture whose fix is tested for real). */
  allowWriteWithRoot?: boolean;
}

/** This machine, or a collected copy of another one. */
export class LocalHost implements Host {
  readonly name: string;
  private readonly root: string | undefined;
  private readonly allowRun: boolean;
  private readonly allowWrite: boolean;
  private realRoot: Promise<string> | undefined;

  constructor(options: LocalHostOptions = {}) {
    this.name = options.name ?? 'localhost';
    this.root = options.root === undefined ? undefined : path.resolve(options.root);
    this.allowRun = options.allowRunWithRoot ?? false;
    this.allowWrite = options.allowWriteWithRoot ?? false;
  }

  async readFile(file: string, options: ReadOptions = {}): Promise<string | null> {
    const target = await this.locate(file, true);
    const maxBytes = options.maxBytes ?? defaultMaxReadBytes;
    const content = await readBounded(target, maxBytes).catch(this.absentAsNull(file));
    if (content === 'too-large') {
      throw new HostCommandError(this.name, `${file} on ${this.name} is larger than ${maxBytes} bytes`);
    }
    return content;
  }

  async listDir(dir: string): Promise<string[] | null> {
    const target = await this.locate(dir, true);
    const names = await readdir(target).catch(this.absentAsNull(dir));
    return names === null ? null : names.sort();
  }

  async readLink(link: string): Promise<string | null> {
    const target = await this.locate(link, false);
    return readlink(target).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EINVAL') return null;
      return this.absentAsNull(link)(error);
    });
  }

  async stat(file: string): Promise<FileStat | null> {
    const target = await this.locate(file, false);
    const info = await lstat(target).catch(this.absentAsNull(file));
    if (info === null) return null;
    return {
      type: fileTypeFromMode(info.mode),
      size: info.size,
      mode: info.mode & 0o7777,
      uid: info.uid,
      gid: info.gid,
      mtimeMs: info.mtimeMs,
    };
  }

  async listProcesses(): Promise<ProcessInfo[]> {
    const entries = await this.listDir('/proc');
    if (entries === null) {
      throw new HostAccessError(this.name, `no /proc in ${this.root ?? '/'}: the process list is unknown`, {
        hint: 'a collected copy needs proc/PID/{stat,status,cmdline} to answer questions about processes',
      });
    }
    const processes: ProcessInfo[] = [];
    // one process at a time: thousands of parallel opens would exhaust file descriptors
    for (const entry of entries.filter((name) => /^\d+$/.test(name))) {
      const stat = await this.readFile(`/proc/${entry}/stat`);
      const status = await this.readFile(`/proc/${entry}/status`);
      const cmdline = await this.readFile(`/proc/${entry}/cmdline`);
      // a process that exits while we read it is simply gone
      if (stat === null || status === null) continue;
      const parsed = parseProcStat(stat);
      const uid = parseStatusEffectiveUid(status);
      if (parsed === null || uid === null) continue;
      processes.push({ ...parsed, uid, cmdline: parseCmdline(cmdline ?? '') });
    }
    return processes;
  }

  async run(argv: readonly string[], options: RunOptions): Promise<RunResult> {
    if (this.root !== undefined && !this.allowRun) {
      throw new HostAccessError(
        this.name,
        `refusing to run ${describeArgv(argv)}: ${this.root} is a collected copy`,
        {
          hint: 'commands would run on this machine, not on the host the files came from',
        },
      );
    }
    const [command, ...args] = argv;
    if (command === undefined) throw new HostCommandError(this.name, 'empty command');
    const outcome = await runProcess(command, args, options);
    if (outcome.spawnError?.code === 'ENOENT') {
      // what a shell (and so the ssh implementation) reports for a missing program
      return { exitCode: 127, stdout: '', stderr: `${command}: command not found\n`, truncated: false };
    }
    if (outcome.spawnError !== null) {
      throw new HostCommandError(
        this.name,
        `cannot start ${command} on ${this.name}: ${outcome.spawnError.message}`,
        {
          cause: outcome.spawnError,
        },
      );
    }
    if (outcome.timedOut) {
      throw new HostCommandError(
        this.name,
        `${describeArgv(argv)} on ${this.name} timed out after ${options.timeoutMs} ms`,
        { details: outcome.stderr },
      );
    }
    return {
      exitCode: outcome.exitCode,
      stdout: outcome.stdout,
      stderr: outcome.stderr,
      truncated: outcome.truncated,
    };
  }

  async writeFileAtomic(file: string, content: string, mode: number): Promise<WriteResult> {
    this.refuseWriteOnCopy(file);
    const target = await this.locate(file, true);
    const prior = await this.readPrior(file, target);
    const temporary = path.join(
      path.dirname(target),
      `.${path.basename(target)}.stackdoctor-${randomBytes(6).toString('hex')}`,
    );
    try {
      await writeDurably(temporary, content, mode);
      await rename(temporary, target);
      await syncDirectory(path.dirname(target));
    } catch (error) {
      await unlink(temporary).catch(() => {});
      throw new HostCommandError(
        this.name,
        `cannot write ${file} on ${this.name}: ${describeFsError(error)}`,
        {
          cause: error,
        },
      );
    }
    return prior;
  }

  async removeFile(file: string): Promise<RemoveResult> {
    this.refuseWriteOnCopy(file);
    const target = await this.locate(file, false);
    const prior = await this.readPrior(file, target);
    if (prior.prior !== null) {
      try {
        await unlink(target);
        await syncDirectory(path.dirname(target));
      } catch (error) {
        throw new HostCommandError(
          this.name,
          `cannot remove ${file} on ${this.name}: ${describeFsError(error)}`,
          {
            cause: error,
          },
        );
      }
    }
    return prior;
  }

  async close(): Promise<void> {}

  /** Absence is an answer; anything else (permissions, I/O) is a host error naming the path. */
  private absentAsNull(file: string): (error: NodeJS.ErrnoException) => null {
    return (error) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
      throw new HostCommandError(
        this.name,
        `cannot read ${file} on ${this.name}: ${error.code ?? error.message}`,
        {
          cause: error,
        },
      );
    };
  }

  private async readPrior(file: string, target: string): Promise<WriteResult> {
    const info = await lstat(target).catch(this.absentAsNull(file));
    if (info === null) return { prior: null, priorMode: null };
    if (!info.isFile())
      throw new HostCommandError(this.name, `${file} on ${this.name} is not a regular file`);
    const content = await readBounded(target, defaultMaxReadBytes).catch(this.absentAsNull(file));
    if (content === null) return { prior: null, priorMode: null };
    if (content === 'too-large') {
      throw new HostCommandError(this.name, `${file} on ${this.name} is too large to keep as prior state`);
    }
    return { prior: content, priorMode: info.mode & 0o7777 };
  }

  private refuseWriteOnCopy(file: string): void {
    if (this.root !== undefined && !this.allowWrite) {
      throw new HostAccessError(this.name, `refusing to change ${file}: ${this.root} is a collected copy`);
    }
  }

  /** The real path to open for a host path, confined to the root when there is one. */
  private async locate(file: string, followFinal: boolean): Promise<string> {
    if (!file.startsWith('/')) throw new HostAccessError(this.name, `path ${file} is not absolute`);
    if (this.root === undefined) return path.normalize(file);
    this.realRoot ??= realpath(this.root);
    const root = await this.realRoot.catch((error: unknown) => {
      throw new HostAccessError(this.name, `root ${this.root} is not readable: ${String(error)}`);
    });
    try {
      return await resolveUnderRoot(root, file, followFinal);
    } catch (error) {
      if (error instanceof PathOutsideRootError) {
        throw new HostAccessError(this.name, `refusing ${file}: ${error.message} (root ${this.root})`);
      }
      throw error;
    }
  }
}

/** Reads at most maxBytes; /proc files report size 0, so the size is learnt by reading, not from stat. */
async function readBounded(file: string, maxBytes: number): Promise<string | 'too-large'> {
  const handle = await open(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buffer = Buffer.alloc(Math.min(65536, maxBytes + 1 - total));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      chunks.push(buffer.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) return 'too-large';
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** A new file (never an existing one: O_EXCL) holding content, with mode, on disk before it is renamed. */
async function writeDurably(file: string, content: string, mode: number): Promise<void> {
  const handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await handle.writeFile(content, 'utf8');
    // the umask may have narrowed the mode given to open
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function describeFsError(error: unknown): string {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.message : String(error);
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
