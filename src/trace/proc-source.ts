import { spawn } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';

export interface RunResult {
  /** null when the command was ended by a signal. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** The safety timeout fired and the command was killed. */
  timedOut: boolean;
  /** Output beyond `maxBytes` (per stream) was dropped. */
  truncated: boolean;
}

/**
 * What `trace` needs from a host: /proc reads and running a command. The host layer (local, SSH, inside a
 * container) provides the same shape; a missing command must resolve with exit code 127, like a shell.
 */
export interface ProcSource {
  /** File contents, or null when absent or unreadable (processes come and go). */
  readFile(path: string): Promise<string | null>;
  readLink(path: string): Promise<string | null>;
  listDir(path: string): Promise<string[] | null>;
  run(argv: readonly string[], options: { timeoutMs: number; maxBytes: number }): Promise<RunResult>;
}

/** This machine's /proc and processes. */
export function createLocalProcSource(): ProcSource {
  return {
    readFile: (path) => readFile(path, 'utf8').catch(() => null),
    readLink: (path) => readlink(path).catch(() => null),
    listDir: (path) => readdir(path).catch(() => null),
    run: runLocal,
  };
}

function runLocal(
  argv: readonly string[],
  options: { timeoutMs: number; maxBytes: number },
): Promise<RunResult> {
  const [command, ...args] = argv;
  if (command === undefined) return Promise.reject(new Error('run: empty argv'));
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
    const sizes = { stdout: 0, stderr: 0 };
    let truncated = false;
    let timedOut = false;
    const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const room = options.maxBytes - sizes[stream];
      if (room <= 0) {
        truncated = true;
        return;
      }
      if (chunk.length > room) truncated = true;
      const kept = chunk.subarray(0, room);
      out[stream].push(kept);
      sizes[stream] += kept.length;
    };
    child.stdout.on('data', collect('stdout'));
    child.stderr.on('data', collect('stderr'));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const missing = error.code === 'ENOENT';
      resolve({
        exitCode: missing ? 127 : 126,
        signal: null,
        stdout: '',
        stderr: `${command}: ${missing ? 'command not found' : error.message}`,
        timedOut: false,
        truncated: false,
      });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        exitCode: code,
        signal,
        stdout: Buffer.concat(out.stdout).toString('utf8'),
        stderr: Buffer.concat(out.stderr).toString('utf8'),
        timedOut,
        truncated,
      });
    });
  });
}
