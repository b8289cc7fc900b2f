import { z } from 'zod';
import { identityV3Url } from './keystone.js';
import type { ServiceType, ServiceVersionInfo } from './types.js';

/**
 * Versioned base URLs and version discovery (reference §1.6; keystoneauth `discover.py`).
 *
 * The base URL that request paths are joined to is derived from the catalog URL alone, so that a request
 * never waits for discovery; discovery (one GET, cached by the session) only feeds `versionInfo()`.
 * Hrefs inside version documents are never followed: they often name an internal host.
 */

const versionSegment = /^v\d+(\.\d+)?$/;

function splitUrl(endpointUrl: string): { origin: string; segments: string[]; search: string } {
  const url = new URL(endpointUrl);
  return {
    origin: url.origin,
    segments: url.pathname.split('/').filter((part) => part !== ''),
    search: url.search,
  };
}

function joinSegments(origin: string, segments: readonly string[]): string {
  return segments.length === 0 ? origin : `${origin}/${segments.join('/')}`;
}

/** The catalog URL without a trailing version segment (`…:9292/v2` → `…:9292`). */
function stripVersion(endpointUrl: string): string {
  const { origin, segments } = splitUrl(endpointUrl);
  const last = segments.at(-1);
  return joinSegments(
    origin,
    last !== undefined && versionSegment.test(last) ? segments.slice(0, -1) : segments,
  );
}

/**
 * The URL request paths are relative to:
 * - compute: the catalog URL, which names `/v2.1` (and, in old catalogs, a project id after it); a bare root
 *   gets `/v2.1`, and the legacy `/v2` mount (no microversions) is swapped for `/v2.1`;
 * - placement: the catalog URL (Placement is unversioned);
 * - image: the root without any version, because image paths are written `/v2/images`;
 * - workflowv2: the `/v2` URL (Mistral's catalog URL normally names it already);
 * - network: `<root>/v2.0`; identity: `<root>/v3`.
 */
export function serviceBaseUrl(service: ServiceType, endpointUrl: string): string {
  const { origin, segments } = splitUrl(endpointUrl);
  switch (service) {
    case 'compute': {
      const index = segments.findLastIndex((segment) => versionSegment.test(segment));
      if (index === -1) return joinSegments(origin, [...segments, 'v2.1']);
      const fixed = [...segments];
      if (fixed[index] === 'v2') fixed[index] = 'v2.1';
      return joinSegments(origin, fixed);
    }
    case 'placement':
      return joinSegments(origin, segments);
    case 'image':
      return stripVersion(endpointUrl);
    case 'workflowv2':
      return `${stripVersion(endpointUrl)}/v2`;
    case 'network':
      return `${stripVersion(endpointUrl)}/v2.0`;
    case 'identity':
      return identityV3Url(joinSegments(origin, segments));
  }
}

/** Where the version document is: the versioned URL for compute and identity, the root for the others. */
export function discoveryUrl(service: ServiceType, baseUrl: string): string {
  switch (service) {
    case 'compute': {
      // `GET /v2.1` answers with a redirect to `/v2.1/`; ask for the slash form. A project id after the
      // version (old catalogs) is not part of the document's URL.
      const { origin, segments } = splitUrl(baseUrl);
      const index = segments.findLastIndex((segment) => versionSegment.test(segment));
      return `${joinSegments(origin, segments.slice(0, index + 1))}/`;
    }
    case 'identity':
      return baseUrl;
    case 'placement':
    case 'image':
      return `${baseUrl}/`;
    case 'workflowv2':
    case 'network':
      return `${stripVersion(baseUrl)}/`;
  }
}

const emptyToUndefined = (value: string | undefined | null) =>
  value === '' || value === null ? undefined : value;

const versionEntrySchema = z.looseObject({
  id: z.string(),
  status: z.string().optional(),
  version: z.string().nullish(),
  max_version: z.string().nullish(),
  min_version: z.string().nullish(),
});
type VersionEntry = z.infer<typeof versionEntrySchema>;

/**
 * Keystone wraps the list in `values`; Nova, Glance, Placement, Neutron and Mistral do not; a versioned
 * URL answers with a single `version`. Parsed into the list of entries.
 */
export const versionDocumentSchema = z
  .union([
    z.object({ versions: z.array(versionEntrySchema) }),
    z.object({ versions: z.object({ values: z.array(versionEntrySchema) }) }),
    z.object({ version: versionEntrySchema }),
  ])
  .transform((document): VersionEntry[] => {
    if ('version' in document) return [document.version];
    return Array.isArray(document.versions) ? document.versions : document.versions.values;
  });

function numericVersion(id: string): number[] {
  return id
    .replace(/^v/i, '')
    .split('.')
    .map((part) => Number.parseInt(part, 10) || 0);
}

function compareIds(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = numericVersion(a);
  const [bMajor = 0, bMinor = 0] = numericVersion(b);
  return aMajor - bMajor || aMinor - bMinor;
}

/** The version in use: the one the base URL names, else the CURRENT one (highest if several), else the highest. */
function pickVersion(entries: readonly VersionEntry[], wanted: string | undefined): VersionEntry | undefined {
  if (wanted !== undefined) {
    const exact = entries.find((entry) => entry.id === wanted);
    if (exact !== undefined) return exact;
  }
  const usable = entries.filter((entry) => !/^(deprecated|experimental|deleted)$/i.test(entry.status ?? ''));
  const pool = usable.length > 0 ? usable : [...entries];
  const current = pool.filter((entry) => /^(current|stable)$/i.test(entry.status ?? ''));
  return (current.length > 0 ? current : pool).toSorted((a, b) => compareIds(b.id, a.id))[0];
}

/** The version segment the base URL names (`v2.1` for compute), used to pick it out of a list. */
function wantedVersion(service: ServiceType, baseUrl: string): string | undefined {
  if (service !== 'compute') return undefined;
  return splitUrl(baseUrl).segments.findLast((segment) => versionSegment.test(segment));
}

/** Version and microversion range from a version document; undefined when it names no version at all. */
export function versionInfoFromDocument(
  service: ServiceType,
  baseUrl: string,
  entries: readonly VersionEntry[],
): ServiceVersionInfo | undefined {
  const entry = pickVersion(entries, wantedVersion(service, baseUrl));
  if (entry === undefined) return undefined;
  const version = entry.id.replace(/^v/i, '');
  if (service !== 'compute' && service !== 'placement') {
    return { version, minMicroversion: undefined, maxMicroversion: undefined };
  }
  // keystoneauth prefers `max_version` and falls back to `version` (Nova uses `version` for the maximum).
  return {
    version,
    minMicroversion: emptyToUndefined(entry.min_version),
    maxMicroversion: emptyToUndefined(entry.max_version) ?? emptyToUndefined(entry.version),
  };
}
