import {
  findReleaseOfServiceVersion,
  type NovaRelease,
  newestKnownServiceVersion,
  novaReleases,
} from '../../releases/nova-versions.js';

/**
 * How Nova computes the minimum service version, and what follows from it. Pure functions; the sources are
 * openstack-reference §4.1–4.2 (`nova/objects/service.py`, `nova/db/main/api.py`, `nova/compute/rpcapi.py`).
 */

/** The columns of a `services` row this needs. */
export interface VersionedRow {
  binary: string | null;
  version: number | null;
  deleted: number;
  /** null is kept as null: Nova's `forced_down == false` filter does not match it. */
  forced_down: boolean | null;
}

/**
 * Whether a row counts towards `Service.get_minimum_version`: `deleted = 0 AND forced_down = false`.
 * Disabled rows count, dead rows count: only forcing down or deleting removes a row.
 */
export function countsTowardsMinimum(row: VersionedRow): boolean {
  return row.deleted === 0 && row.forced_down === false;
}

/**
 * `MIN(version)` of one cell for one binary, as the SQL computes it: NULL versions are ignored by MIN, and a
 * cell without counting rows has no result (undefined).
 */
export function computeCellMinimum(rows: readonly VersionedRow[], binary: string): number | undefined {
  let minimum: number | undefined;
  for (const row of rows) {
    if (row.binary !== binary || !countsTowardsMinimum(row) || row.version === null) continue;
    if (minimum === undefined || row.version < minimum) minimum = row.version;
  }
  return minimum;
}

/**
 * `get_minimum_version_all_cells`: the smallest per-cell minimum, ignoring cells whose result is 0 or
 * missing. 0 means "no such services" (for nova-compute Nova then uses its own version, uncached).
 */
export function computeMinimumAllCells(cells: readonly (readonly VersionedRow[])[], binary: string): number {
  let minimum = 0;
  for (const rows of cells) {
    const cellMinimum = computeCellMinimum(rows, binary);
    if (cellMinimum === undefined || cellMinimum === 0) continue;
    if (minimum === 0 || cellMinimum < minimum) minimum = cellMinimum;
  }
  return minimum;
}

/** The compute RPC version a service version implies: exact at a release's shipped version, else bounded. */
export interface ComputeRpcOfVersion {
  /** e.g. `4.17`; undefined for versions outside the table. */
  rpc: string | undefined;
  /** false when the version is a mid-cycle one: its RPC version is at most `rpc`. */
  exact: boolean;
  release: NovaRelease | undefined;
}

export function findComputeRpcOfServiceVersion(version: number): ComputeRpcOfVersion {
  const release = findReleaseOfServiceVersion(version);
  if (release === undefined) return { rpc: undefined, exact: false, release: undefined };
  return { rpc: release.computeRpc, exact: release.shippedServiceVersion === version, release };
}

/** `4.17 (Pike)` or `at most 5.0 (Queens, mid-cycle version 25)`. */
export function describeComputeRpc(version: number): string {
  const { rpc, exact, release } = findComputeRpcOfServiceVersion(version);
  if (rpc === undefined || release === undefined) return 'unknown';
  return exact
    ? `${rpc} (${release.title})`
    : `at most ${rpc} (${release.title}, mid-cycle version ${version})`;
}

/**
 * `SERVICE_VERSION_ALIASES[OLDEST_SUPPORTED_SERVICE_VERSION]` of each release: below it, nova-api,
 * conductor, scheduler and compute refuse to start (TooOldComputeService, Wallaby onwards). §4.2.
 */
const oldestSupportedByRelease: Readonly<Record<string, { release: string; version: number }>> = {
  wallaby: { release: 'Victoria', version: 52 },
  xena: { release: 'Wallaby', version: 54 },
  yoga: { release: 'Xena', version: 57 },
  zed: { release: 'Yoga', version: 61 },
  antelope: { release: 'Yoga', version: 61 },
  bobcat: { release: '2023.1 Antelope', version: 66 },
  caracal: { release: '2023.1 Antelope', version: 66 },
  dalmatian: { release: '2024.1 Caracal', version: 66 },
  epoxy: { release: '2024.1 Caracal', version: 66 },
  flamingo: { release: '2025.1 Epoxy', version: 68 },
  gazpacho: { release: '2025.1 Epoxy', version: 68 },
};
const oldestSupportedByMaster = { release: '2026.1 Gazpacho', version: 72 };

/**
 * The oldest compute version the Nova running at `runningVersion` starts with, or undefined before Wallaby
 * (no such check). A service version cannot tell Antelope from Bobcat (both 66) or Caracal from Dalmatian
 * (67): the earlier, more lenient release is assumed, so a finding is never raised on a guess.
 */
export function findOldestSupportedVersion(
  runningVersion: number,
): { release: string; version: number } | undefined {
  const release = findReleaseOfServiceVersion(runningVersion);
  if (release !== undefined) return oldestSupportedByRelease[release.name];
  if (runningVersion > 0 && runningVersion <= newestKnownServiceVersion) return oldestSupportedByMaster;
  return undefined;
}

// Skip-level upgrade releases (2023.1 onwards): Nova supports N-2 between two of them, N-1 otherwise. §4.2.
const slurpReleases = new Set(['antelope', 'caracal', 'epoxy', 'gazpacho']);

function releaseIndex(version: number): number | undefined {
  const release = findReleaseOfServiceVersion(version);
  if (release !== undefined) return novaReleases.indexOf(release);
  return version > 0 && version <= newestKnownServiceVersion ? novaReleases.length : undefined;
}

/** Whether services at these two versions are within the skew Nova supports between releases. */
export function isSupportedSkew(older: number, newer: number): boolean {
  const a = releaseIndex(Math.min(older, newer));
  const b = releaseIndex(Math.max(older, newer));
  if (a === undefined || b === undefined) return true;
  const distance = b - a;
  if (distance <= 1) return true;
  const names = [novaReleases[a]?.name, novaReleases[b]?.name];
  return distance === 2 && names.every((name) => name !== undefined && slurpReleases.has(name));
}

export function findReleaseTitle(version: number | null): string | null {
  if (version === null) return null;
  return findReleaseOfServiceVersion(version)?.title ?? null;
}
