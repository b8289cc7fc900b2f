import { writeFile } from 'node:fs/promises';
import {
  describeProcess,
  type FdDescription,
  formatFd,
  type KnownPeers,
  sampleProcessCpu,
} from './describe.js';
import { TraceError } from './errors.js';
import type { ProcSource } from './proc-source.js';

export type StraceEvent =
  | {
      kind: 'complete';
      tid: number | null;
      time: string;
      syscall: string;
      args: string;
      result: string;
      seconds: number | null;
    }
  | { kind: 'unfinished'; tid: number | null; time: string; syscall: string; args: string }
  | {
      kind: 'resumed';
      tid: number | null;
      time: string;
      syscall: string;
      result: string;
      seconds: number | null;
    }
  | { kind: 'detached'; tid: number | null; time: string; syscall: string; args: string }
  | { kind: 'exit'; tid: number | null; time: string | null; text: string }
  | { kind: 'signal'; tid: number | null; time: string | null; text: string };

// `-f` writes `[pid  N] ` to a terminal and `N ` to a file; `-tt` the wall-clock time.
const linePrefix =
  /^(?:\[pid\s+(?<bracketed>\d+)\]\s+|(?<bare>\d+)\s+)?(?:(?<time>\d{2}:\d{2}:\d{2}\.\d+)\s+)?(?<body>.*)$/;
const straceNote = /strace: Process \d+ (?:attached|detached)[^\n]*\n?/g;
const resultSuffix = /\)\s+=\s+(?<result>.*?)(?:\s+<(?<seconds>\d+\.\d+)>)?$/;

/** Parses `strace -f -tt -T [-yy]` output into events; lines it does not know are skipped. */
export function parseStrace(text: string): StraceEvent[] {
  const events: StraceEvent[] = [];
  // strace writes its own notes to the same stream and may cut into an unfinished call's line with them.
  const traceOnly = text.replace(straceNote, '');
  for (const line of traceOnly.split('\n')) {
    const groups = linePrefix.exec(line)?.groups;
    if (groups === undefined) continue;
    const tidText = groups.bracketed ?? groups.bare;
    const tid = tidText === undefined ? null : Number(tidText);
    const time = groups.time ?? '';
    const body = (groups.body ?? '').trim();
    if (body === '' || body.startsWith('strace:')) continue;
    if (body.startsWith('+++')) {
      events.push({ kind: 'exit', tid, time: time || null, text: body });
      continue;
    }
    if (body.startsWith('---')) {
      events.push({ kind: 'signal', tid, time: time || null, text: body });
      continue;
    }
    const resumed = /^<\.\.\. (?<syscall>\w+) resumed>(?<rest>.*)$/.exec(body)?.groups;
    if (resumed !== undefined) {
      const result = resultSuffix.exec(resumed.rest ?? '')?.groups;
      events.push({
        kind: 'resumed',
        tid,
        time,
        syscall: resumed.syscall ?? '?',
        result: result?.result ?? '?',
        seconds: result?.seconds === undefined ? null : Number(result.seconds),
      });
      continue;
    }
    const call = /^(?<syscall>\w+)\((?<rest>.*)$/.exec(body)?.groups;
    if (call === undefined) continue;
    const syscall = call.syscall ?? '?';
    const rest = call.rest ?? '';
    const unfinished = /^(?<args>.*?),?\s*<unfinished \.\.\.>$/.exec(rest)?.groups;
    if (unfinished !== undefined) {
      events.push({ kind: 'unfinished', tid, time, syscall, args: unfinished.args ?? '' });
      continue;
    }
    const detached = /^(?<args>.*?),?\s*<detached \.\.\.>$/.exec(rest)?.groups;
    if (detached !== undefined) {
      events.push({ kind: 'detached', tid, time, syscall, args: detached.args ?? '' });
      continue;
    }
    const result = resultSuffix.exec(rest);
    if (result?.groups === undefined) {
      // Cut off by the detach before strace could finish the line: still in progress.
      events.push({ kind: 'detached', tid, time, syscall, args: rest.replace(/,\s*$/, '') });
      continue;
    }
    events.push({
      kind: 'complete',
      tid,
      time,
      syscall,
      args: rest.slice(0, result.index),
      result: result.groups.result ?? '?',
      seconds: result.groups.seconds === undefined ? null : Number(result.groups.seconds),
    });
  }
  return events;
}

export interface SyscallStats {
  syscall: string;
  count: number;
  seconds: number;
  errors: number;
}

export interface BlockedCall {
  tid: number | null;
  syscall: string;
  args: string;
  since: string;
  /** The fds the call waits on (first argument, poll/select sets, an epoll fd's watched fds). */
  fds: number[];
  /** Those fds described (file, pipe, socket with peer), when the process's fd table is known. */
  waitsOn: string[];
}

export interface TraceSummary {
  syscalls: SyscallStats[];
  blocked: BlockedCall[];
  threadsSeen: number;
  signals: string[];
  exits: string[];
}

// Calls whose first argument is the fd they wait on or work with.
const fdFirstSyscalls = new Set([
  'read',
  'readv',
  'pread64',
  'preadv',
  'write',
  'writev',
  'pwrite64',
  'recvfrom',
  'recvmsg',
  'recvmmsg',
  'sendto',
  'sendmsg',
  'sendmmsg',
  'connect',
  'accept',
  'accept4',
  'epoll_wait',
  'epoll_pwait',
  'epoll_pwait2',
  'fsync',
  'fdatasync',
  'flock',
  'ioctl',
  'fcntl',
  'lseek',
]);

/**
 * What the traced threads did and what they are blocked in. A call is blocked when a thread's last event is
 * a call that never returned (`<unfinished ...>` without `resumed`, or cut off by the detach).
 */
export function summariseTrace(
  text: string,
  context: { fds?: readonly FdDescription[]; defaultTid?: number } = {},
): TraceSummary {
  const events = parseStrace(text);
  const stats = new Map<string, SyscallStats>();
  const open = new Map<number | null, { syscall: string; args: string; since: string } | null>();
  const signals: string[] = [];
  const exits: string[] = [];
  const count = (syscall: string, seconds: number | null, result: string) => {
    const entry = stats.get(syscall) ?? { syscall, count: 0, seconds: 0, errors: 0 };
    entry.count += 1;
    entry.seconds += seconds ?? 0;
    if (/^-1 /.test(result)) entry.errors += 1;
    stats.set(syscall, entry);
  };
  for (const event of events) {
    const tid = event.tid ?? context.defaultTid ?? null;
    switch (event.kind) {
      case 'complete':
        count(event.syscall, event.seconds, event.result);
        open.set(tid, null);
        break;
      case 'resumed':
        count(event.syscall, event.seconds, event.result);
        open.set(tid, null);
        break;
      case 'unfinished':
      case 'detached':
        open.set(tid, { syscall: event.syscall, args: event.args, since: event.time });
        break;
      case 'exit':
        exits.push(tid === null ? event.text : `${tid}: ${event.text}`);
        open.delete(tid);
        break;
      case 'signal':
        signals.push(event.text);
        break;
    }
  }
  const fdTable = new Map((context.fds ?? []).map((fd) => [fd.fd, fd]));
  const blocked: BlockedCall[] = [];
  for (const [tid, call] of open) {
    if (call === null) continue;
    const fds = listWaitedFds(call.syscall, call.args, fdTable);
    const waitsOn = fds.map((fd) => {
      const described = fdTable.get(fd);
      return described === undefined ? `fd ${fd}` : formatFd(described);
    });
    blocked.push({ tid, ...call, fds, waitsOn });
  }
  return {
    syscalls: [...stats.values()]
      .map((entry) => ({ ...entry, seconds: Math.round(entry.seconds * 1e6) / 1e6 }))
      .sort((a, b) => b.count - a.count || b.seconds - a.seconds),
    blocked,
    threadsSeen: open.size,
    signals,
    exits,
  };
}

function listWaitedFds(syscall: string, args: string, fdTable: Map<number, FdDescription>): number[] {
  if (syscall === 'poll' || syscall === 'ppoll') {
    return [...args.matchAll(/fd=(\d+)/g)].map((m) => Number(m[1]));
  }
  if (syscall === 'select' || syscall === 'pselect6') {
    const readSet = /^\d+,\s*\[(?<fds>[\d ]*)\]/.exec(args)?.groups?.fds ?? '';
    return readSet.split(' ').filter(Boolean).map(Number);
  }
  if (!fdFirstSyscalls.has(syscall)) return [];
  const first = /^(\d+)/.exec(args)?.[1];
  if (first === undefined) return [];
  const fd = Number(first);
  const watches = fdTable.get(fd)?.watches;
  return syscall.startsWith('epoll_') && watches ? [fd, ...watches] : [fd];
}

export interface TraceOptions {
  /** How long strace stays attached (default 10). */
  seconds?: number;
  /** Keep strace's raw output in this file. */
  rawOutputPath?: string;
  knownPeers?: KnownPeers;
  /** Bound on the output kept from strace (default 32 MiB). */
  maxBytes?: number;
}

export interface TraceResult {
  pid: number;
  seconds: number;
  summary: TraceSummary;
  /** CPU used during the trace, as a share of one core (1 = 100 %). */
  cpuShare: number | null;
  /** The one-line answer: what the process is waiting for, or that it is busy. */
  verdict: { kind: 'blocked' | 'busy' | 'active' | 'idle'; text: string };
  outputTruncated: boolean;
}

/**
 * Attaches `strace -f -tt -T -yy -s 128` for a bounded time (ended with SIGINT by coreutils `timeout`, so it
 * detaches cleanly — also through a remote shell) and says what the process was doing.
 */
export async function traceProcess(
  source: ProcSource,
  pid: number,
  options: TraceOptions = {},
): Promise<TraceResult> {
  const seconds = options.seconds ?? 10;
  const before = await describeProcess(source, pid, options.knownPeers);
  const cpuBefore = await sampleProcessCpu(source, pid);
  const argv = [
    'timeout',
    '-s',
    'INT',
    String(seconds),
    'strace',
    '-f',
    '-tt',
    '-T',
    '-yy',
    '-s',
    '128',
    '-p',
    String(pid),
  ];
  const run = await source.run(argv, {
    timeoutMs: (seconds + 15) * 1000,
    maxBytes: options.maxBytes ?? 32 * 1024 * 1024,
  });
  const cpuAfter = await sampleProcessCpu(source, pid);
  checkStraceRan(run.exitCode, run.stderr, pid);
  if (options.rawOutputPath !== undefined) {
    await writeFile(options.rawOutputPath, run.stderr);
  }
  const summary = summariseTrace(run.stderr, { fds: before.fds, defaultTid: pid });
  const cpuShare =
    cpuBefore === null || cpuAfter === null ? null : (cpuAfter.cpuSeconds - cpuBefore.cpuSeconds) / seconds;
  const running = cpuBefore?.state === 'R' && cpuAfter?.state === 'R';
  return {
    pid,
    seconds,
    summary,
    cpuShare,
    verdict: judgeTrace(summary, { cpuShare, running, seconds }),
    outputTruncated: run.truncated,
  };
}

function checkStraceRan(exitCode: number | null, stderr: string, pid: number): void {
  if (exitCode === 127 || /failed to run command .strace.|strace: (?:command )?not found/.test(stderr)) {
    throw new TraceError('trace-strace-missing', 'strace is not installed on the host', {
      hint: 'install it (Debian/Ubuntu: apt-get install strace) on the host that runs the process',
    });
  }
  if (/Operation not permitted/.test(stderr)) {
    throw new TraceError('trace-ptrace-denied', `not permitted to attach to process ${pid} (ptrace)`, {
      hint:
        'run as root (or the process owner) on the host; check /proc/sys/kernel/yama/ptrace_scope (1 allows only ' +
        'parents, 3 nobody) and that CAP_SYS_PTRACE is not dropped; `docker exec` into the container will not help, ' +
        'since kolla containers lack SYS_PTRACE',
    });
  }
  if (/No such process/.test(stderr)) {
    throw new TraceError('trace-process-gone', `process ${pid} ended before strace could attach`);
  }
  // 124: ended by our SIGINT after the time was up, the normal case; 0: the process exited meanwhile.
  if (exitCode !== 0 && exitCode !== 124 && exitCode !== 130) {
    throw new TraceError(
      'trace-strace-failed',
      `strace failed (exit ${exitCode}): ${stderr.trim().split('\n')[0] ?? ''}`,
    );
  }
}

/**
 * Busy: CPU used while strace saw (almost) no system calls. The bar is a fifth of a core, not a full one, so
 * a loaded host that gives the process little time still reads as busy rather than idle.
 */
const busyShare = 0.2;

export function judgeTrace(
  summary: TraceSummary,
  sample: { cpuShare: number | null; running: boolean; seconds: number },
): TraceResult['verdict'] {
  const { cpuShare, seconds } = sample;
  const calls = summary.syscalls.reduce((sum, s) => sum + s.count, 0);
  // Runnable before and after with no system call between: on a loaded host its CPU share can be small.
  const busy = (cpuShare !== null && cpuShare > busyShare) || (sample.running && calls === 0);
  if (summary.blocked.length > 0 && !busy) {
    const parts = summary.blocked.map((b) => {
      const thread = b.tid === null ? '' : `thread ${b.tid} `;
      const on = b.waitsOn.length > 0 ? ` on ${b.waitsOn.join('; ')}` : '';
      return `${thread}blocked in ${b.syscall}()${on} since ${b.since}`;
    });
    return { kind: 'blocked', text: parts.join(' | ') };
  }
  if (busy && calls < seconds * 10) {
    return {
      kind: 'busy',
      text: `busy: ${Math.round((cpuShare ?? 0) * 100)}% of a core with ${calls} system calls in ${seconds} s (looping in user space)`,
    };
  }
  if (calls === 0) return { kind: 'idle', text: `no system calls in ${seconds} s and no CPU used` };
  const top = summary.syscalls
    .slice(0, 3)
    .map((s) => `${s.syscall} ×${s.count}`)
    .join(', ');
  return { kind: 'active', text: `active: ${calls} system calls in ${seconds} s (${top})` };
}
