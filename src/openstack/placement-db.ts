import type { Connection, RowDataPacket } from 'mysql2/promise';
import { z } from 'zod';
import { StackdoctorError } from '../core/errors.js';
import type { ResourceProvider } from './placement.js';

/**
 * Placement read straight from its database (read-only; SELECTs only, in one read-only transaction), for
 * clouds where thousands of per-provider API calls are too slow. The schema is Placement's own
 * (`placement/db/sqlalchemy/models.py`, unchanged from Stein to 2026.1 for these tables).
 */

export class PlacementDatabaseError extends StackdoctorError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('placement-db', message, options);
    this.name = 'PlacementDatabaseError';
  }
}

export interface DatabaseTarget {
  host: string | undefined;
  port: number | undefined;
  socketPath: string | undefined;
  user: string;
  password: string;
  database: string;
}

/**
 * Parses the URL form of `[placement_database] connection` (SQLAlchemy: `mysql+pymysql://user:pass@host:port/db?charset=utf8`,
 * `?unix_socket=/path` for a socket). Only MySQL/MariaDB drivers are understood.
 */
export function parseDatabaseUrl(text: string): DatabaseTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new PlacementDatabaseError('--set placement-db: not a URL', {
      hint: 'use the [placement_database] connection value of placement.conf, e.g. mysql+pymysql://placement:PASS@db/placement',
    });
  }
  if (!/^mysql(\+[a-z0-9]+)?:$/.test(url.protocol)) {
    throw new PlacementDatabaseError(
      `--set placement-db: ${url.protocol.slice(0, -1)} databases are not supported`,
      {
        hint: 'only MySQL/MariaDB (mysql:// or mysql+pymysql://) is supported',
      },
    );
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database === '') throw new PlacementDatabaseError('--set placement-db: the URL names no database');
  return {
    host: url.hostname === '' ? undefined : url.hostname,
    port: url.port === '' ? undefined : Number(url.port),
    socketPath: url.searchParams.get('unix_socket') ?? undefined,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
  };
}

export interface PlacementDatabase {
  listProviders(): Promise<ResourceProvider[]>;
  listProviderUuidsWithTrait(trait: string): Promise<Set<string>>;
  /** Allocations of the given providers: provider → consumer → {resources, consumer_generation}. */
  readAllocations(
    providerUuids: readonly string[],
  ): Promise<
    Map<string, Record<string, { resources: Record<string, number>; consumer_generation: number | null }>>
  >;
  close(): Promise<void>;
}

const providerRow = z.object({
  uuid: z.string(),
  name: z.string().nullable(),
  generation: z.number().nullable(),
  root_uuid: z.string().nullable(),
  parent_uuid: z.string().nullable(),
});
const uuidRow = z.object({ uuid: z.string() });
const allocationRow = z.object({
  provider_uuid: z.string(),
  consumer: z.string(),
  resource_class: z.string(),
  used: z.number(),
  consumer_generation: z.number().nullable(),
});

function parseRows<T>(schema: z.ZodType<T>, rows: RowDataPacket[], what: string): T[] {
  const parsed = z.array(schema).safeParse(rows);
  if (!parsed.success)
    throw new PlacementDatabaseError(`unexpected ${what} rows from the Placement database`);
  return parsed.data;
}

/** Opens a connection and a read-only snapshot: every query sees the same moment of the database. */
export async function openPlacementDatabase(url: string): Promise<PlacementDatabase> {
  const target = parseDatabaseUrl(url);
  let connection: Connection;
  try {
    // mysql2 is loaded only when a database is really opened: it would slow every other command's start.
    const { createConnection } = await import('mysql2/promise');
    connection = await createConnection({
      ...(target.socketPath === undefined
        ? { host: target.host, port: target.port }
        : { socketPath: target.socketPath }),
      user: target.user,
      password: target.password,
      database: target.database,
      supportBigNumbers: true,
    });
    await connection.query('START TRANSACTION READ ONLY');
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'error';
    throw new PlacementDatabaseError(`cannot open the Placement database ${target.database} (${code})`, {
      hint: 'check the URL, that the database answers from here, and that the user may SELECT',
      cause: error,
    });
  }
  const select = async (sql: string, values: unknown[] = []): Promise<RowDataPacket[]> => {
    const [rows] = await connection.query<RowDataPacket[]>(sql, values);
    return rows;
  };
  return {
    async listProviders() {
      const rows = await select(
        `SELECT rp.uuid, rp.name, rp.generation, root.uuid AS root_uuid, parent.uuid AS parent_uuid
           FROM resource_providers rp
           LEFT JOIN resource_providers root ON root.id = rp.root_provider_id
           LEFT JOIN resource_providers parent ON parent.id = rp.parent_provider_id`,
      );
      return parseRows(providerRow, rows, 'provider').map((row) => ({
        uuid: row.uuid,
        name: row.name ?? '',
        generation: row.generation ?? 0,
        parent_provider_uuid: row.parent_uuid,
        root_provider_uuid: row.root_uuid ?? row.uuid,
      }));
    },
    async listProviderUuidsWithTrait(trait) {
      const rows = await select(
        `SELECT rp.uuid FROM resource_providers rp
           JOIN resource_provider_traits rpt ON rpt.resource_provider_id = rp.id
           JOIN traits t ON t.id = rpt.trait_id
          WHERE t.name = ?`,
        [trait],
      );
      return new Set(parseRows(uuidRow, rows, 'trait').map((row) => row.uuid));
    },
    async readAllocations(providerUuids) {
      const result = new Map<
        string,
        Record<string, { resources: Record<string, number>; consumer_generation: number | null }>
      >();
      if (providerUuids.length === 0) return result;
      const rows = await select(
        `SELECT rp.uuid AS provider_uuid, a.consumer_id AS consumer, rc.name AS resource_class, a.used,
                c.generation AS consumer_generation
           FROM allocations a
           JOIN resource_providers rp ON rp.id = a.resource_provider_id
           JOIN resource_classes rc ON rc.id = a.resource_class_id
           LEFT JOIN consumers c ON c.uuid = a.consumer_id
          WHERE rp.uuid IN (?)`,
        [providerUuids],
      );
      // The API answers for every existing provider, even one without allocations.
      const existing = new Set(
        parseRows(
          uuidRow,
          await select('SELECT uuid FROM resource_providers WHERE uuid IN (?)', [providerUuids]),
          'provider',
        ).map((row) => row.uuid),
      );
      for (const uuid of existing) result.set(uuid, {});
      for (const row of parseRows(allocationRow, rows, 'allocation')) {
        const byConsumer = result.get(row.provider_uuid) ?? {};
        const entry = byConsumer[row.consumer] ?? {
          resources: {},
          consumer_generation: row.consumer_generation,
        };
        entry.resources[row.resource_class] = row.used;
        byConsumer[row.consumer] = entry;
        result.set(row.provider_uuid, byConsumer);
      }
      return result;
    },
    async close() {
      try {
        await connection.query('ROLLBACK');
      } finally {
        await connection.end();
      }
    },
  };
}
