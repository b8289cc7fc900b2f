import { spawn } from 'node:child_process';

export interface ProcessOutcome {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
  aborted: boolean;
  /** Set when the program could not be started at all (e.g. ENOENT). */
  spawnError: NodeJS.ErrnoException | null;
}

export interface SpawnOptions {
  timeoutMs: number;
  maxOutputBytes: number;
  stdin?: string | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Runs one program with argv (no shell), collecting at most `maxOutputBytes` of each stream. The program gets
 * its own process group so a timeout also kills what it started (a `sh -c` pipeline).
 */
export function runProcess(
  command: string,
  args: readonly string[],
  options: SpawnOptions,
): Promise<ProcessOutcome> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const stdout = new BoundedBuffer(options.maxOutputBytes);
    const stderr = new BoundedBuffer(options.maxOutputBytes);
    let timedOut = false;
    let aborted = false;
    let spawnError: NodeJS.ErrnoException | null = null;
    let settled = false;

    let stopping = false;
    const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
    // Something outside the group may still hold our pipes: an ssh ControlMaster writes into the client's
    // stdout itself (the client hands it its descriptors) until the remote command ends, however long that
    // is. Once we have given up on the command, closing our ends is what stops it (the master gets EPIPE).
    const abandonPipes = (): void => {
      child.stdout?.destroy();
      child.stderr?.destroy();
      finish(null);
    };
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // the group is already gone
        }
      }
      if (exited()) abandonPipes();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      stop();
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (exitCode: number | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve({
        exitCode: timedOut || aborted || stdout.overflowed || stderr.overflowed ? null : exitCode,
        stdout: stdout.text(),
        stderr: stderr.text(),
        truncated: stdout.overflowed || stderr.overflowed,
        timedOut,
        aborted,
        spawnError,
      });
    };

    const collect = (buffer: BoundedBuffer) => (chunk: Buffer) => {
      if (!buffer.push(chunk)) stop();
    };
    child.stdout?.on('data', collect(stdout));
    child.stderr?.on('data', collect(stderr));
    child.on('error', (error: NodeJS.ErrnoException) => {
      spawnError = error;
      finish(null);
    });
    child.on('exit', () => {
      if (stopping) abandonPipes();
    });
    child.on('close', (code) => finish(code));
    if (child.stdin) {
      // a program that exits without reading its input must not crash us with EPIPE
      child.stdin.on('error', () => {});
      child.stdin.end(options.stdin);
    }
  });
}

class BoundedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  overflowed = false;

  constructor(private readonly limit: number) {}

  /** Returns false once the limit is passed; the caller then stops the producer. */
  push(chunk: Buffer): boolean {
    if (this.overflowed) return false;
    const room = this.limit - this.size;
    if (chunk.length > room) {
      this.chunks.push(chunk.subarray(0, room));
      this.size = this.limit;
      this.overflowed = true;
      return false;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    return true;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
