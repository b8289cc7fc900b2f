/**
 * Nova service versions and compute RPC versions by release.
 *
 * Source: docs/openstack-reference.md §4.1–4.2, read from `nova/objects/service.py` (SERVICE_VERSION_HISTORY,
 * SERVICE_VERSION_ALIASES, OLDEST_SUPPORTED_SERVICE_VERSION) and `nova/compute/rpcapi.py` (VERSION_ALIASES) at
 * every release tag from 12.0.0 to 33.0.0 and master `00a0304`.
 */

export interface NovaRelease {
  /** Lower-case code name as used by `[upgrade_levels]compute=<name>`. */
  name: string;
  /** Display name, with the year-based name where the release has one. */
  title: string;
  novaMajor: number;
  /** Service versions that first appeared during this release's cycle; null when the release added none. */
  serviceVersions: { first: number; last: number } | null;
  /** SERVICE_VERSION of the released code (X.0.0 and its eol/eom tag). */
  shippedServiceVersion: number;
  /** Compute RPC API version of the released code. */
  computeRpc: string;
}

export const novaReleases: readonly NovaRelease[] = [
  defineRelease('liberty', 'Liberty', 12, [1, 2], 2, '4.5'),
  defineRelease('mitaka', 'Mitaka', 13, [3, 9], 9, '4.11'),
  defineRelease('newton', 'Newton', 14, [10, 15], 15, '4.13'),
  defineRelease('ocata', 'Ocata', 15, [16, 16], 16, '4.13'),
  defineRelease('pike', 'Pike', 16, [17, 22], 22, '4.17'),
  defineRelease('queens', 'Queens', 17, [23, 30], 30, '5.0'),
  defineRelease('rocky', 'Rocky', 18, [31, 35], 35, '5.0'),
  defineRelease('stein', 'Stein', 19, [36, 37], 37, '5.1'),
  defineRelease('train', 'Train', 20, [38, 40], 40, '5.3'),
  defineRelease('ussuri', 'Ussuri', 21, [41, 51], 51, '5.11'),
  defineRelease('victoria', 'Victoria', 22, [52, 53], 53, '5.12'),
  defineRelease('wallaby', 'Wallaby', 23, [54, 56], 56, '6.0'),
  defineRelease('xena', 'Xena', 24, [57, 60], 60, '6.0'),
  defineRelease('yoga', 'Yoga', 25, [61, 61], 61, '6.0'),
  defineRelease('zed', 'Zed', 26, [62, 64], 64, '6.1'),
  defineRelease('antelope', '2023.1 Antelope', 27, [65, 66], 66, '6.2'),
  defineRelease('bobcat', '2023.2 Bobcat', 28, null, 66, '6.2'),
  defineRelease('caracal', '2024.1 Caracal', 29, [67, 67], 67, '6.3'),
  defineRelease('dalmatian', '2024.2 Dalmatian', 30, null, 67, '6.3'),
  defineRelease('epoxy', '2025.1 Epoxy', 31, [68, 68], 68, '6.4'),
  defineRelease('flamingo', '2025.2 Flamingo', 32, [69, 70], 70, '6.4'),
  defineRelease('gazpacho', '2026.1 Gazpacho', 33, [71, 72], 72, '6.5'),
];

/** Newest service version known to this table (master at the time the reference was written). */
export const newestKnownServiceVersion = 73;

/**
 * `[upgrade_levels]compute=<name>` aliases older than Liberty; Liberty onwards they equal the release's
 * shipped compute RPC version.
 */
const preLibertyComputeRpcAliases: Readonly<Record<string, string>> = {
  icehouse: '3.23',
  juno: '3.35',
  kilo: '4.0',
};

function defineRelease(
  name: string,
  title: string,
  novaMajor: number,
  added: readonly [number, number] | null,
  shippedServiceVersion: number,
  computeRpc: string,
): NovaRelease {
  return {
    name,
    title,
    novaMajor,
    serviceVersions: added === null ? null : { first: added[0], last: added[1] },
    shippedServiceVersion,
    computeRpc,
  };
}

/**
 * The release whose development cycle introduced this service version. Maps by ranges, not by alias
 * equality: several releases' aliases lag what they shipped (§4.1 notes). Version 0 means the row was never
 * written by a versioned service; versions past the table are unknown (newer than this tool).
 */
export function findReleaseOfServiceVersion(version: number): NovaRelease | undefined {
  return novaReleases.find(
    (r) =>
      r.serviceVersions !== null && version >= r.serviceVersions.first && version <= r.serviceVersions.last,
  );
}

/** Releases that shipped exactly this service version (e.g. 66: Antelope and Bobcat). */
export function listReleasesShippingServiceVersion(version: number): NovaRelease[] {
  return novaReleases.filter((r) => r.shippedServiceVersion === version);
}

/** Releases whose shipped compute RPC version is this one (e.g. "4.17": Pike; "6.0": Wallaby, Xena, Yoga). */
export function listReleasesWithComputeRpc(rpcVersion: string): NovaRelease[] {
  return novaReleases.filter((r) => r.computeRpc === rpcVersion);
}

/** Compute RPC version of a `[upgrade_levels]compute=<name>` alias, or undefined when the name is unknown. */
export function findComputeRpcOfAlias(name: string): string | undefined {
  const key = name.toLowerCase();
  return preLibertyComputeRpcAliases[key] ?? novaReleases.find((r) => r.name === key)?.computeRpc;
}

/** Short human label for a service version, e.g. `22 (Pike)`, `0 (never written)`, `80 (newer than known)`. */
export function describeServiceVersion(version: number): string {
  if (version === 0) return '0 (never written by a versioned service)';
  const found = findReleaseOfServiceVersion(version);
  if (found) return `${version} (${found.title})`;
  if (version > 0 && version <= newestKnownServiceVersion) return `${version} (master, unreleased)`;
  return `${version} (unknown: newer than this tool's table)`;
}
