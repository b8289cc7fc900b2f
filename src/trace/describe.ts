import { TraceError } from './errors.js';
import {
  type ContainerRef,
  parseContainerFromCgroup,
  parseEpollTargets,
  parseNetInet,
  parseNetUnix,
  parseProcStat,
  parseProcStatus,
  type SocketEntry,
} from './proc-parse.js';
import type { ProcSource } from './proc-source.js';

/** Default ports of the services an OpenStack process talks to (reference §0, §11.2). */
export const wellKnownPorts: Readonly<Record<number, string>> = {
  3306: 'MariaDB',
  5672: 'RabbitMQ',
  11211: 'memcached',
  5000: 'Keystone',
  8774: 'Nova API',
  8775: 'Nova metadata',
  8778: 'Placement',
  8780: 'Placement (kolla)',
  9292: 'Glance',
  9696: 'Neutron',
  8989: 'Mistral',
  8776: 'Cinder',
  6789: 'Ceph monitor',
  3300: 'Ceph monitor (msgr2)',
};

/** Catalog endpoints as `host:port` → service name, e.g. from the Keystone catalog. */
export type KnownPeers = Readonly<Record<string, string>>;

export interface SocketDescription extends SocketEntry {
  /** Who is at the other end (or, for a listener, what this is), when known. */
  peerName: string | null;
  /** TCP SYN_SENT: the process is waiting for connect() to complete. */
  connecting: boolean;
}

export interface FdDescription {
  fd: number;
  /** The /proc/PID/fd link target: a path, `socket:[INODE]`, `pipe:[INODE]`, `anon_inode:[eventpoll]`. */
  target: string;
  kind: 'file' | 'socket' | 'pipe' | 'anon' | 'other';
  socket: SocketDescription | null;
  /** For an epoll fd: the fds it watches. */
  watches: number[] | null;
}

export interface ProcessDescription {
  pid: number;
  name: string;
  commandLine: string;
  /** One letter (R, S, D, Z, T…) and its word, as in /proc/PID/status. */
  state: string;
  /** Kernel function the main thread sleeps in; null while running. */
  wchan: string | null;
  threads: number;
  cpuSeconds: number;
  ageSeconds: number | null;
  voluntaryContextSwitches: number | null;
  nonvoluntaryContextSwitches: number | null;
  container: (ContainerRef & { pidInContainer: number }) | null;
  fds: FdDescription[];
  /** One line each: sockets stuck connecting, unread or unsent data, uninterruptible sleep. */
  highlights: string[];
}

/** Linux's USER_HZ on every architecture OpenStack runs on; `getconf CLK_TCK` is asked when available. */
const defaultClockTicks = 100;

/** State, CPU, age and open fds (sockets resolved to peers) of one process, from /proc only. */
export async function describeProcess(
  source: ProcSource,
  pid: number,
  knownPeers: KnownPeers = {},
): Promise<ProcessDescription> {
  const [statText, statusText, cmdline, wchanText, cgroup, uptimeText] = await Promise.all([
    source.readFile(`/proc/${pid}/stat`),
    source.readFile(`/proc/${pid}/status`),
    source.readFile(`/proc/${pid}/cmdline`),
    source.readFile(`/proc/${pid}/wchan`),
    source.readFile(`/proc/${pid}/cgroup`),
    source.readFile('/proc/uptime'),
  ]);
  const stat = statText === null ? null : parseProcStat(statText);
  if (stat === null || statusText === null) {
    throw new TraceError('trace-process-gone', `process ${pid} does not exist (any more)`);
  }
  const status = parseProcStatus(statusText);
  const ticks = await readClockTicks(source);
  const uptime = uptimeText === null ? Number.NaN : Number(uptimeText.split(' ')[0]);
  const container = cgroup === null ? null : parseContainerFromCgroup(cgroup);
  const fds = await describeFds(source, pid, knownPeers);
  const description: ProcessDescription = {
    pid,
    name: status.name,
    commandLine: (cmdline ?? '').replace(/\0+$/, '').split('\0').join(' '),
    state: status.state,
    wchan: wchanText === null || wchanText === '0' || wchanText === '' ? null : wchanText.trim(),
    threads: status.threads,
    cpuSeconds: (stat.utime + stat.stime) / ticks,
    ageSeconds: Number.isFinite(uptime) ? Math.max(0, uptime - stat.startTime / ticks) : null,
    voluntaryContextSwitches: status.voluntaryContextSwitches,
    nonvoluntaryContextSwitches: status.nonvoluntaryContextSwitches,
    container:
      container !== null || status.nsPids.length > 1
        ? { ...(container ?? { runtime: 'unknown', id: '' }), pidInContainer: status.nsPids.at(-1) ?? pid }
        : null,
    fds,
    highlights: [],
  };
  description.highlights = listHighlights(description);
  return description;
}

/** CPU seconds (user + system) used so far and the run state letter; null when the process is gone. */
export async function sampleProcessCpu(
  source: ProcSource,
  pid: number,
): Promise<{ cpuSeconds: number; state: string } | null> {
  const text = await source.readFile(`/proc/${pid}/stat`);
  const stat = text === null ? null : parseProcStat(text);
  if (stat === null) return null;
  return { cpuSeconds: (stat.utime + stat.stime) / (await readClockTicks(source)), state: stat.state };
}

const clockTicksBySource = new WeakMap<ProcSource, Promise<number>>();

function readClockTicks(source: ProcSource): Promise<number> {
  let ticks = clockTicksBySource.get(source);
  if (ticks === undefined) {
    ticks = source.run(['getconf', 'CLK_TCK'], { timeoutMs: 5000, maxBytes: 64 }).then((result) => {
      const value = Number(result.stdout.trim());
      return result.exitCode === 0 && Number.isInteger(value) && value > 0 ? value : defaultClockTicks;
    });
    clockTicksBySource.set(source, ticks);
  }
  return ticks;
}

async function describeFds(
  source: ProcSource,
  pid: number,
  knownPeers: KnownPeers,
): Promise<FdDescription[]> {
  const names = (await source.listDir(`/proc/${pid}/fd`)) ?? [];
  const fdNumbers = names
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
  const targets = await Promise.all(fdNumbers.map((fd) => source.readLink(`/proc/${pid}/fd/${fd}`)));
  // The process's own network namespace view: a container's sockets are not in the host's /proc/net.
  const sockets = new Map<number, SocketEntry>();
  if (targets.some((t) => t?.startsWith('socket:'))) {
    const tables: [string, Parameters<typeof parseNetInet>[1] | 'unix'][] = [
      ['tcp', 'tcp'],
      ['tcp6', 'tcp6'],
      ['udp', 'udp'],
      ['udp6', 'udp6'],
      ['unix', 'unix'],
    ];
    for (const [file, protocol] of tables) {
      const text = await source.readFile(`/proc/${pid}/net/${file}`);
      if (text === null) continue;
      const entries = protocol === 'unix' ? parseNetUnix(text) : parseNetInet(text, protocol);
      for (const entry of entries) if (!sockets.has(entry.inode)) sockets.set(entry.inode, entry);
    }
  }
  const fds: FdDescription[] = [];
  for (const [index, fd] of fdNumbers.entries()) {
    const target = targets[index];
    if (target === null || target === undefined) continue;
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    const entry = inode === undefined ? undefined : sockets.get(Number(inode));
    const kind: FdDescription['kind'] = target.startsWith('socket:')
      ? 'socket'
      : target.startsWith('pipe:')
        ? 'pipe'
        : target.startsWith('anon_inode:')
          ? 'anon'
          : target.startsWith('/')
            ? 'file'
            : 'other';
    let watches: number[] | null = null;
    if (target === 'anon_inode:[eventpoll]') {
      const info = await source.readFile(`/proc/${pid}/fdinfo/${fd}`);
      watches = info === null ? null : parseEpollTargets(info);
    }
    fds.push({
      fd,
      target,
      kind,
      socket: entry === undefined ? null : describeSocket(entry, knownPeers),
      watches,
    });
  }
  return fds;
}

function describeSocket(entry: SocketEntry, knownPeers: KnownPeers): SocketDescription {
  const address = entry.state === 'LISTEN' ? entry.local : entry.remote;
  return {
    ...entry,
    peerName: entry.protocol === 'unix' ? null : namePeer(address, knownPeers),
    connecting: entry.state === 'SYN_SENT',
  };
}

/** `host:port` → a service name from the catalog map, else from the well-known port. */
export function namePeer(address: string, knownPeers: KnownPeers): string | null {
  const named = knownPeers[address];
  if (named !== undefined) return named;
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  return wellKnownPorts[port] ?? null;
}

/** A readable one-line account of an fd, e.g. `fd 4: tcp 127.0.0.1:41660 -> 127.0.0.1:5672 (RabbitMQ) SYN_SENT`. */
export function formatFd(fd: FdDescription): string {
  const socket = fd.socket;
  if (socket === null) return `fd ${fd.fd}: ${fd.target}`;
  if (socket.protocol === 'unix') return `fd ${fd.fd}: unix ${socket.path ?? '(unnamed)'} ${socket.state}`;
  const peer = socket.peerName === null ? '' : ` (${socket.peerName})`;
  const ends =
    socket.state === 'LISTEN' ? `listening on ${socket.local}` : `${socket.local} -> ${socket.remote}`;
  return `fd ${fd.fd}: ${socket.protocol} ${ends}${peer} ${socket.state}`;
}

function listHighlights(description: ProcessDescription): string[] {
  const lines: string[] = [];
  if (description.state.startsWith('D')) {
    lines.push(
      `uninterruptible sleep (D) in ${description.wchan ?? 'an unknown kernel function'}: waiting on I/O`,
    );
  }
  for (const fd of description.fds) {
    const socket = fd.socket;
    if (socket === null) continue;
    if (socket.connecting) lines.push(`${formatFd(fd)}: stuck in connect() — the peer does not answer`);
    if (socket.rxQueue > 0 && socket.state !== 'LISTEN') {
      lines.push(`${formatFd(fd)}: ${socket.rxQueue} bytes received but not read by the process`);
    }
    if (socket.txQueue > 0 && socket.state === 'ESTABLISHED') {
      lines.push(`${formatFd(fd)}: ${socket.txQueue} bytes not yet acknowledged by the peer`);
    }
  }
  return lines;
}
