import { HostCommandError } from './errors.js';

/** Where a host is and how to log in; made by `resolveHosts` from `--host`, an inventory or Nova. */
export interface HostSpec {
  /** The name reports use (inventory name, `--host` value or Nova hypervisor name). */
  name: string;
  /** What ssh connects to (`ansible_host`, else the name). */
  address: string;
  user?: string | undefined;
  port?: number | undefined;
  /** The inventory says `ansible_connection=local`: this machine, no ssh. */
  local?: boolean | undefined;
}

export interface RunOptions {
  timeoutMs: number;
  /** Bound on each of stdout and stderr; past it the command is killed and `truncated` is set. */
  maxOutputBytes: number;
  stdin?: string;
  /** Aborting kills the command (the fan-out aborts a host that ran out of time). */
  signal?: AbortSignal;
}

export interface RunResult {
  /** null when the command was killed (output bound, abort). */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
}

export type FileType = 'file' | 'directory' | 'symlink' | 'other';

export interface FileStat {
  type: FileType;
  size: number;
  /** Permission bits only (e.g. 0o644). */
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** The kernel's 15-character process name (`/proc/PID/stat`), what `pgrep` matches. */
  comm: string;
  /** Empty for kernel threads. */
  cmdline: string[];
  /** Effective uid. */
  uid: number;
}

export interface WriteResult {
  /** The file's content before the write, or null when it did not exist: what the journal keeps for undo. */
  prior: string | null;
  /** The file's permission bits before the write, or null when it did not exist. */
  priorMode: number | null;
}

export interface RemoveResult {
  prior: string | null;
  priorMode: number | null;
}

export interface ReadOptions {
  /** Larger files are refused rather than cut (default 16 MiB). */
  maxBytes?: number;
}

/**
 * One machine a host check looks at: this one, one over ssh, or a collected copy of one (`--root`).
 * Paths are absolute; "absent" is null, anything else that goes wrong throws a host error.
 */
export interface Host {
  readonly name: string;
  readFile(path: string, options?: ReadOptions): Promise<string | null>;
  /** Entry names, sorted; null when the directory does not exist. */
  listDir(path: string): Promise<string[] | null>;
  /** The link's target as stored; null when the path is absent or not a symlink. */
  readLink(path: string): Promise<string | null>;
  /** Does not follow a final symlink (like lstat). */
  stat(path: string): Promise<FileStat | null>;
  listProcesses(): Promise<ProcessInfo[]>;
  /** Runs argv directly (never through a local shell); a non-zero exit is a result, not an error. */
  run(argv: readonly string[], options: RunOptions): Promise<RunResult>;
  /** Replaces the file in one rename, so a reader sees the old or the new content, never a mix. */
  writeFileAtomic(path: string, content: string, mode: number): Promise<WriteResult>;
  /** Removes a regular file; absent is not an error (prior is then null). */
  removeFile(path: string): Promise<RemoveResult>;
  /** Releases connections; the host is unusable afterwards. */
  close(): Promise<void>;
}

export const defaultMaxReadBytes = 16 * 1024 * 1024;

/** Runs a command that must succeed: a non-zero exit or cut output becomes a HostCommandError. */
export async function runChecked(
  host: Host,
  argv: readonly string[],
  options: RunOptions,
): Promise<RunResult> {
  const result = await host.run(argv, options);
  const shown = describeArgv(argv);
  if (result.truncated) {
    throw new HostCommandError(
      host.name,
      `${shown} on ${host.name} printed more than ${options.maxOutputBytes} bytes`,
    );
  }
  if (result.exitCode !== 0) {
    throw new HostCommandError(
      host.name,
      `${shown} on ${host.name} exited with ${result.exitCode}: ${summariseOutput(result.stderr)}`,
      { details: result.stderr },
    );
  }
  return result;
}

/** A short, single-line rendering of a command for messages. */
export function describeArgv(argv: readonly string[]): string {
  const text = argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg))).join(' ');
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** The last meaningful line of a command's output, for one-line messages. */
export function summariseOutput(text: string): string {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const last = lines.at(-1);
  if (last === undefined) return '(no output)';
  return last.length > 200 ? `${last.slice(0, 197)}...` : last;
}

/** The file type from st_mode bits (what `stat -c %f` prints in hex and lstat returns). */
export function fileTypeFromMode(mode: number): FileType {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'directory';
    case 0o120000:
      return 'symlink';
    default:
      return 'other';
  }
}
