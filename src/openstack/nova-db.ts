import type { Connection, RowDataPacket } from 'mysql2/promise';
import { z } from 'zod';
import { StackdoctorError } from '../core/errors.js';

/**
 * Read-only access to Nova's databases. No API exposes a service's `version` column, so the check that
 * explains RPC pinning reads each cell's `services` table (openstack-reference §3.2, §4.4).
 */

/** A MySQL/MariaDB connection URL as nova.conf writes it (`mysql+pymysql://user:pass@host:port/db?…`). */
export interface DatabaseUrl {
  scheme: string;
  user: string;
  password: string;
  host: string;
  port: number;
  database: string;
  /** `?unix_socket=` as SQLAlchemy accepts it. */
  socketPath: string | undefined;
}

/** The boundary's one error: one line, names host and database, never the password. */
export class NovaDatabaseError extends StackdoctorError {
  readonly target: string;
  constructor(target: string, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super('nova-db', message, options);
    this.name = 'NovaDatabaseError';
    this.target = target;
  }
}

// SQLAlchemy dialect+driver names that speak the MySQL protocol.
const mysqlSchemes = new Set([
  'mysql',
  'mysql+pymysql',
  'mysql+mysqldb',
  'mysql+mysqlconnector',
  'mariadb',
  'mariadb+pymysql',
]);

export function parseDatabaseUrl(text: string): DatabaseUrl {
  const trimmed = text.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    throw new NovaDatabaseError(
      '(unparsable)',
      'not a database URL: expected mysql+pymysql://user:password@host:port/database',
    );
  }
  if (!mysqlSchemes.has(scheme)) {
    throw new NovaDatabaseError(
      `${scheme}://…`,
      `database URL scheme "${scheme}" is not MySQL/MariaDB; only those are supported`,
    );
  }
  let url: URL;
  try {
    // The WHATWG parser splits user, password, host and port of any scheme; the scheme itself is irrelevant.
    url = new URL(`mysql://${trimmed.slice(scheme.length + 3)}`);
  } catch {
    throw new NovaDatabaseError(
      `${scheme}://…`,
      'database URL cannot be parsed (check the host and the percent-encoding of the password)',
    );
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const parsed: DatabaseUrl = {
    scheme,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    host: host === '' ? 'localhost' : host,
    port: url.port === '' ? 3306 : Number(url.port),
    database,
    socketPath: url.searchParams.get('unix_socket') ?? undefined,
  };
  if (database === '')
    throw new NovaDatabaseError(describeDatabaseUrl(parsed), 'database URL names no database');
  return parsed;
}

/** The URL without its password: safe for messages, evidence and the journal. */
export function describeDatabaseUrl(url: DatabaseUrl): string {
  const user = url.user === '' ? '' : `${url.user}@`;
  const where =
    url.socketPath === undefined ? `${url.host}:${url.port}` : `${url.host}(socket ${url.socketPath})`;
  return `${url.scheme}://${user}${where}/${url.database}`;
}

/** Short form for one-line messages: `host:port/database`. */
export function describeDatabaseTarget(url: DatabaseUrl): string {
  return `${url.host}:${url.port}/${url.database}`;
}

const booleanColumn = z
  .union([z.number(), z.boolean(), z.null()])
  .transform((value) => value === true || value === 1);
const dateColumn = z
  .union([z.date(), z.string(), z.null()])
  .transform((value) => (value instanceof Date ? value.toISOString() : value));

export const serviceRowSchema = z.object({
  id: z.number(),
  uuid: z.string().nullable(),
  host: z.string().nullable(),
  binary: z.string().nullable(),
  topic: z.string().nullable(),
  version: z.number().nullable(),
  disabled: booleanColumn,
  disabled_reason: z.string().nullable(),
  forced_down: z
    .union([z.number(), z.boolean(), z.null()])
    .transform((value) => (value === null ? null : value === true || value === 1)),
  report_count: z.number(),
  last_seen_up: dateColumn,
  created_at: dateColumn,
  updated_at: dateColumn,
  deleted: z.number(),
});
/** One row of a cell's `services` table (§4.4). `forced_down` null is kept: Nova's filter excludes it. */
export type ServiceRow = z.infer<typeof serviceRowSchema>;

export const cellMappingSchema = z.object({
  id: z.number(),
  uuid: z.string(),
  name: z.string().nullable(),
  database_connection: z.string().nullable(),
  disabled: booleanColumn,
});
export type CellMapping = z.infer<typeof cellMappingSchema>;

export const hostMappingSchema = z.object({
  id: z.number(),
  host: z.string(),
  cell_id: z.number(),
  cell_uuid: z.string().nullable(),
  cell_name: z.string().nullable(),
  created_at: dateColumn,
  updated_at: dateColumn,
});
export type HostMapping = z.infer<typeof hostMappingSchema>;

export interface NovaDatabase {
  /** `host:port/database`, for messages. */
  readonly target: string;
  /** Every live row (`deleted = 0`): soft-deleted rows never count towards anything. */
  listServices(): Promise<ServiceRow[]>;
  /** API database only. */
  listCellMappings(): Promise<CellMapping[]>;
  /** API database only. */
  findHostMapping(host: string): Promise<HostMapping | null>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  connectTimeoutMs?: number;
}

/** Opens a read-only session (`START TRANSACTION READ ONLY`): nothing this module does can write. */
export async function openNovaDatabase(
  url: DatabaseUrl,
  options: OpenDatabaseOptions = {},
): Promise<NovaDatabase> {
  const target = describeDatabaseTarget(url);
  let connection: Connection;
  try {
    // mysql2 is loaded only when a database is really opened: it would slow every other command's start.
    const { createConnection } = await import('mysql2/promise');
    connection = await createConnection({
      host: url.host,
      port: url.port,
      user: url.user,
      password: url.password,
      database: url.database,
      ...(url.socketPath === undefined ? {} : { socketPath: url.socketPath }),
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      dateStrings: false,
      timezone: 'Z',
    });
    await connection.query('START TRANSACTION READ ONLY');
  } catch (error) {
    throw toDatabaseError(url, 'cannot connect to', error);
  }
  const query = async <T>(
    sql: string,
    values: readonly (string | number)[],
    schema: z.ZodType<T>,
  ): Promise<T[]> => {
    try {
      const [rows] = await connection.query<RowDataPacket[]>(sql, [...values]);
      return rows.map((row) => schema.parse({ ...row }));
    } catch (error) {
      throw toDatabaseError(url, 'cannot read', error);
    }
  };
  return {
    target,
    listServices: () =>
      query(
        'SELECT id, uuid, host, `binary`, topic, version, disabled, disabled_reason, forced_down, report_count, ' +
          'last_seen_up, created_at, updated_at, deleted FROM services WHERE deleted = 0 ORDER BY id',
        [],
        serviceRowSchema,
      ),
    listCellMappings: () =>
      query(
        'SELECT id, uuid, name, database_connection, disabled FROM cell_mappings ORDER BY id',
        [],
        cellMappingSchema,
      ),
    findHostMapping: async (host) => {
      const rows = await query(
        'SELECT h.id, h.host, h.cell_id, c.uuid AS cell_uuid, c.name AS cell_name, h.created_at, h.updated_at ' +
          'FROM host_mappings h LEFT JOIN cell_mappings c ON c.id = h.cell_id WHERE h.host = ?',
        [host],
        hostMappingSchema,
      );
      return rows[0] ?? null;
    },
    close: async () => {
      await connection.end().catch(() => connection.destroy());
    },
  };
}

function toDatabaseError(url: DatabaseUrl, action: string, error: unknown): NovaDatabaseError {
  const target = describeDatabaseTarget(url);
  const code =
    error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  const raw = error instanceof Error ? error.message : String(error);
  const scrubbed = scrubSecret(raw.split('\n')[0] ?? '', url.password);
  const who = url.user === '' ? '' : ` as ${url.user}`;
  return new NovaDatabaseError(
    target,
    `${action} nova database ${target}${who}: ${code === undefined ? '' : `${code}: `}${scrubbed}`.trim(),
    {
      cause: new Error(scrubbed),
      hint: hintFor(code),
    },
  );
}

function hintFor(code: string | undefined): string {
  if (code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR') {
    return 'check the user and password of the URL (as in nova.conf [database] connection)';
  }
  if (code === 'ECONNREFUSED' || code === 'ETIMEDOUT' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH') {
    return 'the database host does not answer from here; run from a host that reaches it';
  }
  return 'the database URL is the one in nova.conf [database] connection';
}

function scrubSecret(text: string, secret: string): string {
  return secret.length === 0 ? text : text.split(secret).join('***');
}
