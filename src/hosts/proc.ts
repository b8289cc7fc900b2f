import type { ProcessInfo } from './host.js';

/**
 * `/proc/PID/stat` is `pid (comm) state ppid …`; comm may itself hold spaces and parentheses, so it is
 * everything between the first `(` and the last `)`.
 */
export function parseProcStat(text: string): { pid: number; comm: string; ppid: number } | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const ppid = Number(fields[1]);
  if (!Number.isInteger(pid) || !Number.isInteger(ppid)) return null;
  return { pid, comm: text.slice(open + 1, close), ppid };
}

/** The effective uid from `/proc/PID/status` (`Uid: real effective saved fs`). */
export function parseStatusEffectiveUid(text: string): number | null {
  const match = /^Uid:\s+\d+\s+(\d+)/m.exec(text);
  return match?.[1] === undefined ? null : Number(match[1]);
}

/** `/proc/PID/cmdline` is NUL-terminated arguments; kernel threads have none. */
export function parseCmdline(raw: string): string[] {
  if (raw === '') return [];
  const parts = raw.split('\0');
  if (parts.at(-1) === '') parts.pop();
  return parts;
}

/**
 * Lists every process in one remote command: `ps` for pid, ppid, euid and name (it shows control characters
 * in names as `?`, so each process is one line), then each cmdline as hex (`od`), because arguments may hold
 * any byte, newlines included, and a process must not be able to forge another's entry. The markers `@`
 * never occur in `od` output. One fork per process: reading stat and status the same way would triple that.
 */
export const processDumpScript = [
  'ps -e -o pid= -o ppid= -o euid= -o comm= || exit 1',
  `printf '\\n@@\\n'`,
  'cd /proc || exit 1',
  'for p in [0-9]*; do',
  `  printf '\\n@%s\\n' "$p"`,
  '  od -An -v -tx1 "$p/cmdline" 2>/dev/null',
  'done',
].join('\n');

export function parseProcessDump(text: string): ProcessInfo[] {
  const split = text.indexOf('\n@@\n');
  if (split < 0) return [];
  const cmdlines = new Map<number, string[]>();
  for (const record of text
    .slice(split + 4)
    .split('\n@')
    .slice(1)) {
    const newline = record.indexOf('\n');
    const pid = Number(newline < 0 ? record : record.slice(0, newline));
    if (Number.isInteger(pid))
      cmdlines.set(pid, parseCmdline(decodeHex(newline < 0 ? '' : record.slice(newline))));
  }
  const processes: ProcessInfo[] = [];
  for (const line of text.slice(0, split).split('\n')) {
    const match = /^\s*(\d+)\s+(\d+)\s+(\d+)\s(.*)$/.exec(line);
    if (match === null) continue;
    const pid = Number(match[1]);
    processes.push({
      pid,
      ppid: Number(match[2]),
      uid: Number(match[3]),
      comm: (match[4] ?? '').trim(),
      // a process that exited between `ps` and the loop has no cmdline left; kernel threads have none either
      cmdline: cmdlines.get(pid) ?? [],
    });
  }
  return processes;
}

function decodeHex(odOutput: string): string {
  return Buffer.from(odOutput.replace(/\s+/g, ''), 'hex').toString('utf8');
}
