import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { describeError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

/**
 * Two-sweep confirmation. A (provider, consumer) pair becomes fixable only when an earlier sweep, at least
 * `confirm-after` seconds before, saw it orphaned with the same consumer generation: a consumer that is being
 * created, moved or deleted right now changes its generation or goes away in between.
 */

export interface SuspectRecord {
  firstSeenAt: string;
  consumerGeneration: number | null;
}

export interface SuspectState {
  version: 1;
  sweptAt: string;
  suspects: Record<string, SuspectRecord>;
}

const suspectStateSchema = z.object({
  version: z.literal(1),
  sweptAt: z.string(),
  suspects: z.record(
    z.string(),
    z.object({ firstSeenAt: z.string(), consumerGeneration: z.number().nullable() }),
  ),
});

export function makeSuspectKey(providerUuid: string, consumerUuid: string): string {
  return `${providerUuid}/${consumerUuid}`;
}

export interface SuspectSighting {
  key: string;
  consumerGeneration: number | null;
}

export interface SuspectProgress {
  /** The state to keep for the next sweep (only what this sweep saw). */
  next: Record<string, SuspectRecord>;
  /** Keys seen by an earlier sweep, long enough ago, with the same consumer generation. */
  due: Set<string>;
}

export function advanceSuspects(
  previous: SuspectState | undefined,
  sightings: readonly SuspectSighting[],
  now: Date,
  confirmAfterSeconds: number,
): SuspectProgress {
  const next: Record<string, SuspectRecord> = {};
  const due = new Set<string>();
  for (const { key, consumerGeneration } of sightings) {
    const earlier = previous?.suspects[key];
    if (earlier === undefined || earlier.consumerGeneration !== consumerGeneration) {
      next[key] = { firstSeenAt: now.toISOString(), consumerGeneration };
      continue;
    }
    next[key] = earlier;
    const age = now.getTime() - Date.parse(earlier.firstSeenAt);
    if (Number.isFinite(age) && age >= confirmAfterSeconds * 1000) due.add(key);
  }
  return { next, due };
}

export interface SuspectStore {
  /** Where the state lives, for the evidence. */
  readonly location: string;
  load(): Promise<SuspectState | undefined>;
  save(state: SuspectState): Promise<void>;
}

/** A file name for a cloud (and region) that cannot escape the directory. */
function buildStateFileName(cloudName: string, region: string | undefined): string {
  const name = region === undefined ? cloudName : `${cloudName}@${region}`;
  return `${encodeURIComponent(name).replaceAll('.', '%2E')}.json`;
}

/**
 * One small JSON file per cloud under the state directory. A file that cannot be read back is treated as no
 * earlier sweep: that only delays confirmation, it never makes anything fixable.
 */
export function openSuspectStore(
  directory: string,
  cloudName: string,
  region: string | undefined,
  log: Logger,
): SuspectStore {
  const folder = path.join(directory, 'placement-orphaned-allocations');
  const file = path.join(folder, buildStateFileName(cloudName, region));
  return {
    location: file,
    async load() {
      let text: string;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch (error) {
        if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return undefined;
        log.warn(`cannot read ${file}: ${describeError(error)}; starting a new confirmation window`);
        return undefined;
      }
      try {
        const parsed = suspectStateSchema.safeParse(JSON.parse(text));
        if (parsed.success) return parsed.data;
      } catch {
        // Falls through to the warning: a torn write or a hand edit.
      }
      log.warn(`${file} is not a suspect list; starting a new confirmation window`);
      return undefined;
    },
    async save(state) {
      await fs.mkdir(folder, { recursive: true, mode: 0o700 });
      // Write aside and rename: a run that dies mid-write leaves the previous state, not half a file.
      const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
      await fs.writeFile(temporary, `${JSON.stringify(state)}\n`, { mode: 0o600 });
      await fs.rename(temporary, file);
    },
  };
}
