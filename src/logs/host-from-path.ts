import { LogScanError } from './errors.js';

/** Where a scanned file was found: its absolute path and its path below the argument that led to it. */
export interface LogFileLocation {
  absolutePath: string;
  /** `/`-separated path relative to the scanned root (the file's own name when a file was given). */
  relativePath: string;
}

export type HostFromPath = (location: LogFileLocation) => string | undefined;

/**
 * The default host rule, for the layouts operators actually have:
 * - `…/<host>/var/log/kolla/<service>/<file>` (collected copies of whole hosts): the segment before `var`;
 * - `/var/log/kolla/<service>/<file>` on this machine: `localHost`;
 * - `<host>/<service>/<file>` below the scanned directory (collected logs): the first segment.
 */
export function createDefaultHostFromPath(localHost: string | undefined): HostFromPath {
  return ({ absolutePath, relativePath }) => {
    const segments = relativePath.split('/');
    const kollaAt = segments.findIndex(
      (s, i) => s === 'var' && segments[i + 1] === 'log' && segments[i + 2] === 'kolla',
    );
    if (kollaAt > 0) return segments[kollaAt - 1];
    if (absolutePath.startsWith('/var/log/kolla/')) return localHost;
    if (kollaAt === -1 && segments.length >= 3) return segments[0];
    return undefined;
  };
}

/**
 * `--host-from-path REGEX`: a regular expression with a named group `host`, matched against the path
 * relative to the scanned directory (e.g. `^(?<host>[^/]+)/`), falling back to the absolute path.
 */
export function parseHostFromPathRule(rule: string): HostFromPath {
  let pattern: RegExp;
  try {
    pattern = new RegExp(rule);
  } catch (error) {
    throw new LogScanError(`--host-from-path is not a valid regular expression: ${rule}`, { cause: error });
  }
  if (!rule.includes('(?<host>')) {
    throw new LogScanError(`--host-from-path needs a named group "host": ${rule}`, {
      hint: 'e.g. --host-from-path "^(?<host>[^/]+)/" for <host>/<service>/<file>',
    });
  }
  return ({ absolutePath, relativePath }) =>
    pattern.exec(relativePath)?.groups?.host ?? pattern.exec(absolutePath)?.groups?.host;
}
