import { readdir, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { describeError } from '../core/errors.js';
import type { LogFileLocation } from './host-from-path.js';

export interface LogScanProblem {
  path: string;
  kind: 'not-found' | 'unreadable' | 'corrupt-gzip';
  message: string;
}

// nova-compute.log, .log.1, .log.2.gz, .log-20240501, .txt copies, syslog/messages and their rotations.
const logFileName = /(?:\.(?:log|txt)(?:[.-][\w.-]*)?|^(?:syslog|messages|kern\.log)(?:[.-][\w.-]*)?)$/;
const rotation = /^(?<base>.*?\.log)(?:\.(?<index>\d+))?(?:\.gz)?$/;

/** Whether a file met while walking a directory is a log; files named explicitly are always scanned. */
export function isLogFileName(name: string): boolean {
  return logFileName.test(name);
}

/**
 * Orders a directory's files so rotations come oldest first (`x.log.3.gz`, `x.log.2`, `x.log.1`, `x.log`):
 * without timestamps, first/last seen then follow the order the lines were written.
 */
export function compareLogFileNames(a: string, b: string): number {
  const ka = readRotationKey(a);
  const kb = readRotationKey(b);
  if (ka.base !== kb.base) return ka.base < kb.base ? -1 : 1;
  if (ka.age !== kb.age) return kb.age - ka.age;
  return a < b ? -1 : a > b ? 1 : 0;
}

function readRotationKey(name: string): { base: string; age: number } {
  const groups = rotation.exec(name)?.groups;
  if (groups === undefined) return { base: name, age: 0 };
  return { base: groups.base ?? name, age: groups.index === undefined ? 0 : Number(groups.index) };
}

/** Expands files and directories (recursively) into the log files to scan, in a stable order. */
export async function discoverLogFiles(
  paths: readonly string[],
): Promise<{ files: LogFileLocation[]; problems: LogScanProblem[] }> {
  const files: LogFileLocation[] = [];
  const problems: LogScanProblem[] = [];
  for (const path of paths) {
    const absolute = resolve(path);
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(absolute);
    } catch (error) {
      problems.push({ path, kind: 'not-found', message: describeError(error) });
      continue;
    }
    if (info.isDirectory()) await walk(absolute, absolute, files, problems);
    else files.push({ absolutePath: absolute, relativePath: basename(absolute) });
  }
  return { files, problems };
}

/** Symlinks are followed to files only: following them to directories could loop. */
async function isFileBehindLink(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function walk(
  root: string,
  directory: string,
  files: LogFileLocation[],
  problems: LogScanProblem[],
): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    problems.push({ path: directory, kind: 'unreadable', message: describeError(error) });
    return;
  }
  const names = entries.map((entry) => entry.name).sort(compareLogFileNames);
  const byName = new Map(entries.map((entry) => [entry.name, entry]));
  for (const name of names) {
    const entry = byName.get(name);
    const path = join(directory, name);
    if (entry?.isDirectory()) await walk(root, path, files, problems);
    else if (
      (entry?.isFile() || (entry?.isSymbolicLink() && (await isFileBehindLink(path)))) &&
      isLogFileName(name)
    ) {
      files.push({ absolutePath: path, relativePath: relative(root, path).split(sep).join('/') });
    }
  }
}
