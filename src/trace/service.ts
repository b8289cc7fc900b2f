import { describeProcess, formatFd, type KnownPeers, type ProcessDescription } from './describe.js';
import { TraceError } from './errors.js';
import type { ProcSource } from './proc-source.js';
import { findServiceProcesses, type ServiceProcess } from './processes.js';
import { type TraceResult, traceProcess } from './strace.js';

export interface ServiceTraceOptions {
  seconds?: number;
  knownPeers?: KnownPeers;
  /** Raw strace output per process goes to `<rawOutputPrefix>.<pid>.strace`. */
  rawOutputPrefix?: string;
  /** Describe only, no strace. */
  describeOnly?: boolean;
  /** Refuse to attach to more processes than this at once (default 16). */
  maxProcesses?: number;
}

export interface ServiceTraceEntry {
  process: ServiceProcess;
  description: ProcessDescription;
  trace: TraceResult | null;
}

/**
 * Everything `stackdoctor trace SERVICE` shows: the matching processes, each described, and each traced at
 * the same time (one strace per process, so a service of N workers still takes `seconds`, not N × seconds).
 */
export async function traceService(
  source: ProcSource,
  pattern: string | RegExp,
  options: ServiceTraceOptions = {},
): Promise<ServiceTraceEntry[]> {
  const processes = await findServiceProcesses(source, pattern);
  const limit = options.maxProcesses ?? 16;
  if (processes.length > limit && options.describeOnly !== true) {
    throw new TraceError(
      'trace-too-many-processes',
      `${processes.length} processes match ${String(pattern)}`,
      {
        hint: `narrow the pattern (e.g. the full command line) or allow more with --max-processes (now ${limit})`,
      },
    );
  }
  return Promise.all(
    processes.map(async (process) => {
      const description = await describeProcess(source, process.pid, options.knownPeers);
      const trace =
        options.describeOnly === true
          ? null
          : await traceProcess(source, process.pid, {
              ...(options.seconds === undefined ? {} : { seconds: options.seconds }),
              ...(options.knownPeers === undefined ? {} : { knownPeers: options.knownPeers }),
              ...(options.rawOutputPrefix === undefined
                ? {}
                : { rawOutputPath: `${options.rawOutputPrefix}.${process.pid}.strace` }),
            });
      return { process, description, trace };
    }),
  );
}

/** The one-screen text report: per process, what it is, its sockets worth a look, and the verdict. */
export function formatServiceTrace(entries: readonly ServiceTraceEntry[]): string {
  if (entries.length === 0) return 'no matching process';
  const blocks = entries.map(({ process, description: d, trace }) => {
    const where =
      process.container === null
        ? ''
        : ` [container ${process.container.runtime} ${process.container.id.slice(0, 12) || '?'}, pid ${process.container.pidInContainer} inside]`;
    const lines = [
      `${process.pid}${where} ${process.commandLine}`,
      `  state ${d.state}, wchan ${d.wchan ?? '-'}, ${d.threads} thread(s), cpu ${d.cpuSeconds.toFixed(2)} s, age ${d.ageSeconds === null ? '?' : `${Math.round(d.ageSeconds)} s`}`,
    ];
    for (const fd of d.fds)
      if (fd.socket !== null && fd.socket.state !== 'LISTEN') lines.push(`  ${formatFd(fd)}`);
    for (const highlight of d.highlights) lines.push(`  ! ${highlight}`);
    if (trace !== null) {
      lines.push(`  => ${trace.verdict.text}`);
      const top = trace.summary.syscalls.slice(0, 8);
      if (top.length > 0) {
        lines.push(
          `  syscalls in ${trace.seconds} s: ${top.map((s) => `${s.syscall} ${s.count}× ${s.seconds.toFixed(3)} s${s.errors > 0 ? ` (${s.errors} failed)` : ''}`).join(', ')}`,
        );
      }
      if (trace.outputTruncated) lines.push('  (strace output truncated)');
    }
    return lines.join('\n');
  });
  return blocks.join('\n\n');
}
