import { z } from 'zod';
import type { CloudSession } from './types.js';

/**
 * Nova. Each call pins the microversion its schema was written for; see openstack-reference §3.
 * 2.53: service and hypervisor ids are UUIDs; 2.59: migrations carry `uuid` and page; 2.69: servers of a down
 * cell come back as minimal `UNKNOWN` records instead of silently missing.
 */
export const computeMicroversions = {
  services: '2.53',
  hypervisors: '2.53',
  migrations: '2.59',
  servers: '2.69',
} as const;

/** Nova's `[api]max_limit` default: the largest page it serves. */
const maxPageSize = 1000;

export const computeServiceSchema = z.object({
  id: z.string(),
  binary: z.string(),
  host: z.string(),
  zone: z.string().nullable().optional(),
  status: z.string(),
  state: z.string().nullable().optional(),
  forced_down: z.boolean().optional(),
  updated_at: z.string().nullable().optional(),
  disabled_reason: z.string().nullable().optional(),
});
export type ComputeService = z.infer<typeof computeServiceSchema>;

export async function listComputeServices(cloud: CloudSession): Promise<ComputeService[]> {
  const response = await cloud.request('compute', {
    path: '/os-services',
    microversion: computeMicroversions.services,
    schema: z.object({ services: z.array(computeServiceSchema) }),
  });
  return response.body.services;
}

export const serverSchema = z
  .object({
    id: z.string(),
    name: z.string().optional(),
    status: z.string(),
    tenant_id: z.string().optional(),
    user_id: z.string().optional(),
    'OS-EXT-SRV-ATTR:host': z.string().nullable().optional(),
    'OS-EXT-SRV-ATTR:hypervisor_hostname': z.string().nullable().optional(),
    'OS-EXT-STS:vm_state': z.string().nullable().optional(),
    'OS-EXT-STS:task_state': z.string().nullable().optional(),
  })
  .catchall(z.unknown());
export type Server = z.infer<typeof serverSchema>;

/** Every server of every project, paged with Nova's `servers_links`. */
export function listAllServers(cloud: CloudSession): AsyncIterable<Server> {
  return cloud.paginate('compute', {
    path: '/servers/detail',
    query: { all_tenants: 1 },
    microversion: computeMicroversions.servers,
    itemsKey: 'servers',
    paging: { kind: 'links', linksKey: 'servers_links' },
    itemSchema: serverSchema,
    pageSize: maxPageSize,
  });
}

/**
 * One server, including one that exists only as a build request (status BUILD, no host yet), or null when
 * Nova has no such instance.
 */
export async function getServer(cloud: CloudSession, id: string): Promise<Server | null> {
  const response = await cloud.request('compute', {
    path: `/servers/${encodeURIComponent(id)}`,
    microversion: computeMicroversions.servers,
    acceptStatus: [200, 404],
  });
  if (response.status === 404) return null;
  return z.object({ server: serverSchema }).parse(response.body).server;
}

export const migrationSchema = z
  .object({
    id: z.number(),
    uuid: z.string().optional(),
    instance_uuid: z.string(),
    source_compute: z.string().nullable().optional(),
    source_node: z.string().nullable().optional(),
    dest_compute: z.string().nullable().optional(),
    dest_node: z.string().nullable().optional(),
    status: z.string(),
    migration_type: z.string().optional(),
    created_at: z.string().optional(),
    updated_at: z.string().nullable().optional(),
  })
  .catchall(z.unknown());
export type Migration = z.infer<typeof migrationSchema>;

// Nova counts every other status as in progress, `finished` (a resize awaiting confirmation) included.
const finishedMigrationStatuses = new Set([
  'confirmed',
  'reverted',
  'error',
  'failed',
  'completed',
  'cancelled',
  'done',
]);

export function isMigrationInProgress(migration: Migration): boolean {
  return !finishedMigrationStatuses.has(migration.status);
}

export function listMigrations(
  cloud: CloudSession,
  query: Record<string, string> = {},
): AsyncIterable<Migration> {
  return cloud.paginate('compute', {
    path: '/os-migrations',
    query,
    microversion: computeMicroversions.migrations,
    itemsKey: 'migrations',
    paging: { kind: 'links', linksKey: 'migrations_links' },
    itemSchema: migrationSchema,
    pageSize: maxPageSize,
  });
}

export const hypervisorSchema = z
  .object({
    id: z.string(),
    hypervisor_hostname: z.string(),
    state: z.string().optional(),
    status: z.string().optional(),
    hypervisor_type: z.string().optional(),
    host_ip: z.string().nullable().optional(),
    service: z
      .object({ id: z.string(), host: z.string(), disabled_reason: z.string().nullable().optional() })
      .optional(),
  })
  .catchall(z.unknown());
export type Hypervisor = z.infer<typeof hypervisorSchema>;

export function listHypervisors(cloud: CloudSession): AsyncIterable<Hypervisor> {
  return cloud.paginate('compute', {
    path: '/os-hypervisors/detail',
    microversion: computeMicroversions.hypervisors,
    itemsKey: 'hypervisors',
    paging: { kind: 'links', linksKey: 'hypervisors_links' },
    itemSchema: hypervisorSchema,
    pageSize: maxPageSize,
  });
}

/** `PUT`/`DELETE` target of one service; at 2.53 the id is the service's UUID (openstack-reference §3.2). */
export function computeServicePath(serviceUuid: string): string {
  return `/os-services/${encodeURIComponent(serviceUuid)}`;
}

/** Every server (all projects, not deleted) whose instance is on this compute host. */
export function listServersOnHost(cloud: CloudSession, host: string): AsyncIterable<Server> {
  return cloud.paginate('compute', {
    path: '/servers/detail',
    query: { all_tenants: 1, host },
    microversion: computeMicroversions.servers,
    itemsKey: 'servers',
    paging: { kind: 'links', linksKey: 'servers_links' },
    itemSchema: serverSchema,
    pageSize: maxPageSize,
  });
}

export const aggregateSchema = z
  .object({
    id: z.number(),
    uuid: z.string().optional(),
    name: z.string(),
    availability_zone: z.string().nullable().optional(),
    hosts: z.array(z.string()).nullable().optional(),
    metadata: z.record(z.string(), z.string().nullable()).nullable().optional(),
  })
  .catchall(z.unknown());
export type Aggregate = z.infer<typeof aggregateSchema>;

/** Host aggregates; 2.41 adds `uuid`. The list is not paged. */
export async function listAggregates(cloud: CloudSession): Promise<Aggregate[]> {
  const response = await cloud.request('compute', {
    path: '/os-aggregates',
    microversion: '2.41',
    schema: z.object({ aggregates: z.array(aggregateSchema) }),
  });
  return response.body.aggregates;
}
