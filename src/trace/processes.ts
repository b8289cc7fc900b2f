import { TraceError } from './errors.js';
import { type ContainerRef, parseContainerFromCgroup, parseProcStatus } from './proc-parse.js';
import type { ProcSource } from './proc-source.js';

export interface ServiceProcess {
  pid: number;
  /** argv joined with spaces, as `pgrep -a` prints it. */
  commandLine: string;
  name: string;
  container: (ContainerRef & { pidInContainer: number }) | null;
}

/**
 * Processes whose command line matches `pattern`, like `pgrep -af PATTERN` (so `nova-compute` finds
 * `/usr/bin/python3 /usr/bin/nova-compute …`), host and container processes alike (containers share the
 * host's /proc; NSpid gives the PID inside). The reading process and its ancestors (which carry the
 * pattern in their own arguments) are left out, as pgrep leaves itself out.
 */
export async function findServiceProcesses(
  source: ProcSource,
  pattern: string | RegExp,
): Promise<ServiceProcess[]> {
  const matcher = typeof pattern === 'string' ? compilePattern(pattern) : pattern;
  const excluded = await listSelfAndAncestors(source);
  const entries = (await source.listDir('/proc')) ?? [];
  const pids = entries
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => !excluded.has(pid))
    .sort((a, b) => a - b);
  const found: ServiceProcess[] = [];
  for (const pid of pids) {
    const raw = await source.readFile(`/proc/${pid}/cmdline`);
    // Kernel threads have an empty command line; pgrep -f does not match them either.
    if (raw === null || raw === '') continue;
    const commandLine = raw.replace(/\0+$/, '').split('\0').join(' ');
    if (!matcher.test(commandLine)) continue;
    const status = await source.readFile(`/proc/${pid}/status`);
    if (status === null) continue;
    const parsed = parseProcStatus(status);
    const cgroup = await source.readFile(`/proc/${pid}/cgroup`);
    const container = cgroup === null ? null : parseContainerFromCgroup(cgroup);
    const innermost = parsed.nsPids.at(-1) ?? pid;
    found.push({
      pid,
      commandLine,
      name: parsed.name,
      container:
        container !== null || parsed.nsPids.length > 1
          ? { ...(container ?? { runtime: 'unknown', id: '' }), pidInContainer: innermost }
          : null,
    });
  }
  return found;
}

function compilePattern(pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch (error) {
    throw new TraceError('trace-bad-pattern', `not a valid pattern: ${pattern}`, {
      cause: error,
      hint: 'the pattern is a regular expression matched against the command line, as with pgrep -f',
    });
  }
}

async function listSelfAndAncestors(source: ProcSource): Promise<Set<number>> {
  const excluded = new Set<number>();
  const self = await source.readLink('/proc/self');
  let pid = self === null ? Number.NaN : Number(self);
  while (Number.isInteger(pid) && pid > 1 && !excluded.has(pid)) {
    excluded.add(pid);
    const status = await source.readFile(`/proc/${pid}/status`);
    pid = status === null ? Number.NaN : parseProcStatus(status).ppid;
  }
  return excluded;
}
