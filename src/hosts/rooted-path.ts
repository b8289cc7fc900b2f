import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';

/** Linux gives up after 40 links in one lookup (ELOOP); a copied tree gets the same bound. */
const maxSymlinkHops = 40;

export class PathOutsideRootError extends Error {}

/**
 * Maps an absolute path on the original host to the file inside a collected copy at `root`, resolving
 * symlinks the way a chroot would: an absolute target (`/etc/alternatives/x`) starts again at `root`, and a
 * `..` in a target stops at `root`. The requested path itself may not climb above `/` with `..`: that is a
 * caller bug or an attack, not a host path.
 */
export async function resolveUnderRoot(
  root: string,
  requested: string,
  followFinal: boolean,
): Promise<string> {
  if (!requested.startsWith('/')) throw new PathOutsideRootError(`path ${requested} is not absolute`);
  const pending = splitPath(requested);
  let depth = 0;
  for (const part of pending) {
    depth += part === '..' ? -1 : 1;
    if (depth < 0) throw new PathOutsideRootError(`path ${requested} climbs above the root with ..`);
  }

  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const isFinal = pending.length === 0;
    const candidate = path.join(root, ...resolved, part);
    if (isFinal && !followFinal) {
      resolved.push(part);
      break;
    }
    const info = await lstat(candidate).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
      throw error;
    });
    if (info === null) {
      // nothing further exists: the rest is taken as written, the caller's open reports the absence
      resolved.push(part, ...pending.filter((rest) => rest !== '..'));
      break;
    }
    if (!info.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    hops += 1;
    if (hops > maxSymlinkHops) throw new PathOutsideRootError(`too many symlinks resolving ${requested}`);
    const target = await readlink(candidate);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...splitPath(target));
  }
  return path.join(root, ...resolved);
}

function splitPath(value: string): string[] {
  return value.split('/').filter((part) => part !== '' && part !== '.');
}
