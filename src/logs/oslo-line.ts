/** The oslo.log line prefix: `2024-05-01 12:05:33.840 35 ERROR oslo_messaging.rpc.server [req-… …] message`. */
export interface OsloLine {
  /** As written: `2024-05-01 12:05:33.840`, or only the time when the date was cut off (pasted excerpts). */
  timestamp: string | null;
  pid: number | null;
  level: string | null;
  logger: string | null;
  requestId: string | null;
  /** The text after the prefix, or the whole line when it has no oslo.log prefix. */
  message: string;
}

// An optional `file.log: ` label is what `grep` prints for several files; operators paste lines that way.
// The context bracket never starts with `instance:`, which is the message's own prefix.
const prefixPattern =
  /^(?:[\w.-]+\.log(?:\.\d+)?(?:\.gz)?:\s*)?(?:(?<date>\d{4}-\d{2}-\d{2})[ T])?(?<time>\d{2}:\d{2}:\d{2}(?:[.,]\d+)?) (?<pid>\d+) (?<level>TRACE|DEBUG|INFO|AUDIT|WARNING|ERROR|CRITICAL) (?<logger>\S+)(?: \[(?!instance: )(?<context>[^\]]*)\])? ?(?<message>.*)$/;
const requestIdPattern = /\breq-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/;

export function parseOsloLine(line: string): OsloLine {
  const groups = prefixPattern.exec(line)?.groups;
  if (groups === undefined) {
    return { timestamp: null, pid: null, level: null, logger: null, requestId: null, message: line };
  }
  const time = groups.time ?? '';
  return {
    timestamp: groups.date === undefined ? time : `${groups.date} ${time}`,
    pid: Number(groups.pid),
    level: groups.level ?? null,
    logger: groups.logger ?? null,
    requestId: requestIdPattern.exec(groups.context ?? '')?.[0] ?? null,
    message: groups.message ?? '',
  };
}
