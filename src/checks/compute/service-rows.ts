import { describeError } from '../../core/errors.js';
import {
  type DatabaseUrl,
  describeDatabaseTarget,
  type HostMapping,
  type NovaDatabase,
  parseDatabaseUrl,
  type ServiceRow,
} from '../../openstack/nova-db.js';
import { parseNovaConfDatabases } from './nova-conf.js';

/** Where the `services` rows come from, from the check's parameters (and nova.conf when given). */
export interface DatabaseSources {
  /** Cell databases given directly (`nova-db`, or nova.conf `[database]` without an API database). */
  cellUrls: string[];
  apiUrl: string | undefined;
  /** nova.conf `[database] connection`: fills templated `cell_mappings.database_connection` values. */
  templateUrl: string | undefined;
}

export interface SourceDeps {
  readTextFile: (path: string) => Promise<string>;
  openDatabase: (url: DatabaseUrl) => Promise<NovaDatabase>;
}

export function splitList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/**
 * `nova-db` and `nova-api-db` win over nova.conf. With only an API database, the cells come from its
 * `cell_mappings`; with only nova.conf `[database]`, that one cell is read.
 */
export async function resolveDatabaseSources(
  parameters: Readonly<Record<string, string>>,
  readTextFile: SourceDeps['readTextFile'],
): Promise<DatabaseSources> {
  let confDatabase: string | undefined;
  let confApiDatabase: string | undefined;
  const confPath = parameters['nova-conf'];
  if (confPath !== undefined) {
    const settings = parseNovaConfDatabases(await readTextFile(confPath));
    confDatabase = settings.database;
    confApiDatabase = settings.apiDatabase;
  }
  const given = splitList(parameters['nova-db']);
  const apiUrl = parameters['nova-api-db'] ?? confApiDatabase;
  const cellUrls =
    given.length > 0 ? given : apiUrl === undefined && confDatabase !== undefined ? [confDatabase] : [];
  return { cellUrls, apiUrl, templateUrl: confDatabase ?? given[0] };
}

export interface CellRows {
  cellUuid: string | null;
  cellName: string | null;
  /** `host:port/database` (no credentials). */
  target: string;
  rows: ServiceRow[];
}

export interface SkippedSource {
  target: string;
  reason: string;
}

export interface ServiceRowsResult {
  cells: CellRows[];
  skipped: SkippedSource[];
  /** Host mappings live in the API database; without it they are unknown. */
  hostMappingOf: ((host: string) => Promise<HostMapping | null>) | undefined;
  close: () => Promise<void>;
}

// Nova's cell0 holds instances that failed to schedule, never services (§4.4).
const cell0Uuid = '00000000-0000-0000-0000-000000000000';

/**
 * Reads every reachable cell's live service rows. A database that cannot be reached is a skipped source with
 * its reason, never an error of the check: the API half of the check still reports.
 */
export async function readServiceRows(
  sources: DatabaseSources,
  deps: SourceDeps,
): Promise<ServiceRowsResult> {
  const cells: CellRows[] = [];
  const skipped: SkippedSource[] = [];
  const open: NovaDatabase[] = [];
  let api: NovaDatabase | undefined;
  let mappings: { uuid: string; name: string | null; url: string | undefined; target: string }[] = [];

  if (sources.apiUrl !== undefined) {
    const opened = await openOrSkip(sources.apiUrl, deps, skipped);
    if (opened !== undefined) {
      api = opened;
      open.push(opened);
      try {
        mappings = (await opened.listCellMappings()).map((cell) => {
          const url = cell.database_connection ?? undefined;
          const filled = url === undefined ? undefined : fillTemplate(url, sources.templateUrl);
          return {
            uuid: cell.uuid,
            name: cell.name,
            url: filled,
            target: filled === undefined ? '' : safeTarget(filled),
          };
        });
      } catch (error) {
        skipped.push({ target: opened.target, reason: describeError(error) });
      }
    }
  }

  const cellTargets: { url: string; uuid: string | null; name: string | null }[] = [];
  if (sources.cellUrls.length > 0) {
    for (const url of sources.cellUrls) {
      const mapping = mappings.find((m) => m.target !== '' && m.target === safeTarget(url));
      cellTargets.push({ url, uuid: mapping?.uuid ?? null, name: mapping?.name ?? null });
    }
  } else {
    for (const mapping of mappings) {
      if (mapping.uuid === cell0Uuid) continue;
      if (mapping.url === undefined) {
        skipped.push({
          target: `cell ${mapping.name ?? mapping.uuid}`,
          reason:
            'its database_connection is a template and no nova.conf [database] connection was given to fill it',
        });
        continue;
      }
      cellTargets.push({ url: mapping.url, uuid: mapping.uuid, name: mapping.name });
    }
  }

  for (const cell of cellTargets) {
    const database = await openOrSkip(cell.url, deps, skipped);
    if (database === undefined) continue;
    open.push(database);
    try {
      cells.push({
        cellUuid: cell.uuid,
        cellName: cell.name,
        target: database.target,
        rows: await database.listServices(),
      });
    } catch (error) {
      skipped.push({ target: database.target, reason: describeError(error) });
    }
  }

  const apiDatabase = api;
  return {
    cells,
    skipped,
    hostMappingOf: apiDatabase === undefined ? undefined : (host) => apiDatabase.findHostMapping(host),
    close: async () => {
      await Promise.all(open.map((database) => database.close()));
    },
  };
}

async function openOrSkip(
  url: string,
  deps: SourceDeps,
  skipped: SkippedSource[],
): Promise<NovaDatabase | undefined> {
  let parsed: DatabaseUrl;
  try {
    parsed = parseDatabaseUrl(url);
  } catch (error) {
    skipped.push({ target: 'database URL', reason: describeError(error) });
    return undefined;
  }
  try {
    return await deps.openDatabase(parsed);
  } catch (error) {
    skipped.push({ target: describeDatabaseTarget(parsed), reason: describeError(error) });
    return undefined;
  }
}

function safeTarget(url: string): string {
  try {
    return describeDatabaseTarget(parseDatabaseUrl(url));
  } catch {
    return '';
  }
}

/**
 * Nova (Rocky+) lets `cell_mappings.database_connection` be a template filled from the local
 * `[database] connection`: `{scheme}`, `{username}`, `{password}`, `{hostname}`, `{port}`, `{path}`,
 * `{query}`, `{fragment}`. Undefined when a template cannot be filled.
 */
export function fillTemplate(url: string, localUrl: string | undefined): string | undefined {
  if (!url.includes('{')) return url;
  if (localUrl === undefined) return undefined;
  const scheme = /^([^:]+):\/\//.exec(localUrl)?.[1];
  let parsed: URL;
  try {
    parsed = new URL(`mysql://${localUrl.slice((scheme ?? '').length + 3)}`);
  } catch {
    return undefined;
  }
  const values: Record<string, string> = {
    scheme: scheme ?? '',
    username: parsed.username,
    password: parsed.password,
    hostname: parsed.hostname,
    port: parsed.port,
    path: parsed.pathname.replace(/^\//, ''),
    query: parsed.search.replace(/^\?/, ''),
    fragment: parsed.hash.replace(/^#/, ''),
  };
  let unknown = false;
  const filled = url.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) unknown = true;
    return value ?? '';
  });
  return unknown ? undefined : filled;
}
