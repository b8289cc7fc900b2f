/** Pure parsers for the /proc files `trace` reads (proc(5), kernel Documentation/networking/proc_net_tcp.rst). */

export interface ProcStat {
  comm: string;
  state: string;
  ppid: number;
  /** Clock ticks. */
  utime: number;
  stime: number;
  /** Clock ticks after boot. */
  startTime: number;
}

/** `/proc/PID/stat`; the command name may hold spaces and parentheses, so fields are counted from the last `)`. */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const fields = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state) of proc(5).
  const field = (n: number) => Number(fields[n - 3]);
  return {
    comm: text.slice(open + 1, close),
    state: fields[0] ?? '?',
    ppid: field(4),
    utime: field(14),
    stime: field(15),
    startTime: field(22),
  };
}

export interface ProcStatus {
  name: string;
  state: string;
  ppid: number;
  threads: number;
  /** PIDs from the outermost namespace inwards; more than one entry means a container's PID namespace. */
  nsPids: number[];
  voluntaryContextSwitches: number | null;
  nonvoluntaryContextSwitches: number | null;
}

export function parseProcStatus(text: string): ProcStatus {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const number = (key: string) => {
    const value = fields.get(key);
    return value === undefined || value === '' ? null : Number(value);
  };
  return {
    name: fields.get('Name') ?? '',
    state: fields.get('State') ?? '?',
    ppid: number('PPid') ?? 0,
    threads: number('Threads') ?? 1,
    nsPids: (fields.get('NSpid') ?? '').split(/\s+/).filter(Boolean).map(Number),
    voluntaryContextSwitches: number('voluntary_ctxt_switches'),
    nonvoluntaryContextSwitches: number('nonvoluntary_ctxt_switches'),
  };
}

export interface ContainerRef {
  runtime: 'docker' | 'podman' | 'containerd' | 'cri-o' | 'unknown';
  id: string;
}

// cgroup v2 `0::/system.slice/docker-<id>.scope`, v1 `…:/docker/<id>`, podman `libpod-<id>.scope`, cri-o `crio-<id>`.
const containerPattern =
  /(?<prefix>docker|libpod|crio|cri-containerd|containerd)?[-/](?<id>[0-9a-f]{64})(?:\.scope)?(?:\/|$)/;

/** The container a process runs in, from `/proc/PID/cgroup`, or null on the host. */
export function parseContainerFromCgroup(text: string): ContainerRef | null {
  for (const line of text.split('\n')) {
    const groups = containerPattern.exec(line)?.groups;
    if (groups?.id === undefined) continue;
    const prefix = groups.prefix ?? '';
    const runtime: ContainerRef['runtime'] =
      prefix === 'docker'
        ? 'docker'
        : prefix === 'libpod'
          ? 'podman'
          : prefix === 'crio'
            ? 'cri-o'
            : prefix.includes('containerd')
              ? 'containerd'
              : line.includes('/docker/')
                ? 'docker'
                : 'unknown';
    return { runtime, id: groups.id };
  }
  return null;
}

export type SocketProtocol = 'tcp' | 'tcp6' | 'udp' | 'udp6' | 'unix';

export interface SocketEntry {
  protocol: SocketProtocol;
  inode: number;
  local: string;
  remote: string;
  /** TCP state name (`ESTABLISHED`, `SYN_SENT`, …) or the unix socket state. */
  state: string;
  txQueue: number;
  rxQueue: number;
  /** Bound path of a unix socket (`@` = abstract). */
  path?: string;
}

const tcpStates: Readonly<Record<string, string>> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
  '0C': 'NEW_SYN_RECV',
};

/** `/proc/PID/net/{tcp,tcp6,udp,udp6}`: addresses are 32-bit words in host byte order (x86: little-endian). */
export function parseNetInet(text: string, protocol: Exclude<SocketProtocol, 'unix'>): SocketEntry[] {
  const entries: SocketEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const columns = line.trim().split(/\s+/);
    if (columns.length < 10) continue;
    const [, local, remote, state, queues, , , , , inode] = columns;
    const [tx, rx] = (queues ?? '').split(':');
    entries.push({
      protocol,
      inode: Number(inode),
      local: decodeInetAddress(local ?? ''),
      remote: decodeInetAddress(remote ?? ''),
      state: protocol.startsWith('tcp') ? (tcpStates[state ?? ''] ?? `0x${state}`) : `0x${state}`,
      txQueue: Number.parseInt(tx ?? '0', 16),
      rxQueue: Number.parseInt(rx ?? '0', 16),
    });
  }
  return entries;
}

/** `0100007F:1F91` → `127.0.0.1:8081`; IPv6 as `[::1]:8081`. */
export function decodeInetAddress(hex: string): string {
  const [address = '', port = '0'] = hex.split(':');
  const portNumber = Number.parseInt(port, 16);
  const bytes: number[] = [];
  for (let word = 0; word < address.length; word += 8) {
    const chunk = address.slice(word, word + 8);
    for (let at = 6; at >= 0; at -= 2) bytes.push(Number.parseInt(chunk.slice(at, at + 2), 16));
  }
  if (bytes.length === 4) return `${bytes.join('.')}:${portNumber}`;
  return `[${formatIpv6(bytes)}]:${portNumber}`;
}

function formatIpv6(bytes: number[]): string {
  const isV4Mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (isV4Mapped) return `::ffff:${bytes.slice(12).join('.')}`;
  const groups: string[] = [];
  for (let at = 0; at < 16; at += 2)
    groups.push((((bytes[at] ?? 0) << 8) | (bytes[at + 1] ?? 0)).toString(16));
  // The URL parser prints IPv6 hosts in their canonical compressed form.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

const unixStates: Readonly<Record<string, string>> = {
  '01': 'UNCONNECTED',
  '02': 'CONNECTING',
  '03': 'CONNECTED',
  '04': 'DISCONNECTING',
};

/** `/proc/PID/net/unix`: `Num RefCount Protocol Flags Type St Inode [Path]`. */
export function parseNetUnix(text: string): SocketEntry[] {
  const entries: SocketEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const columns = line.trim().split(/\s+/);
    if (columns.length < 7) continue;
    const [, , , flags, , state, inode, path] = columns;
    const listening = (Number.parseInt(flags ?? '0', 16) & 0x10000) !== 0;
    entries.push({
      protocol: 'unix',
      inode: Number(inode),
      local: path ?? '',
      remote: '',
      state: listening ? 'LISTEN' : (unixStates[state ?? ''] ?? `0x${state}`),
      txQueue: 0,
      rxQueue: 0,
      ...(path === undefined ? {} : { path }),
    });
  }
  return entries;
}

/** `/proc/PID/fdinfo/EPFD` of an epoll fd: the fds it watches (`tfd:` lines). */
export function parseEpollTargets(text: string): number[] {
  return [...text.matchAll(/^tfd:\s+(\d+)/gm)].map((m) => Number(m[1]));
}
