import {
  getServer,
  isMigrationInProgress,
  listMigrations,
  type Migration,
  type Server,
} from '../../openstack/compute.js';
import {
  type ConsumerAllocations,
  getConsumerAllocations,
  type ResourceAmounts,
} from '../../openstack/placement.js';
import type { CloudSession } from '../../openstack/types.js';

/** One consumer as it stands now: its instance (if any) and its full allocation picture. */
export interface ConsumerView {
  server: Server | null;
  allocations: ConsumerAllocations;
}

/**
 * The per-item reads, spent only on candidates. `GET /servers/{id}` answers for build requests too (an
 * instance still being scheduled) and, at 2.69, for servers of a down cell (`UNKNOWN`).
 */
export async function readConsumer(cloud: CloudSession, consumer: string): Promise<ConsumerView> {
  const [server, allocations] = await Promise.all([
    getServer(cloud, consumer),
    getConsumerAllocations(cloud, consumer),
  ]);
  return { server, allocations };
}

/**
 * In-progress migrations of the instance with this UUID. Enough to re-verify a candidate after the sweep: a
 * consumer that was a finished migration cannot become an in-progress one again, and migration UUIDs are new.
 */
export async function readInstanceMigrations(cloud: CloudSession, consumer: string): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for await (const migration of listMigrations(cloud, { instance_uuid: consumer })) {
    if (isMigrationInProgress(migration)) migrations.push(migration);
  }
  return migrations;
}

/** `{provider: resources}`: the allocation picture without provider generations, for comparing and writing. */
export function listResourcesByProvider(allocations: ConsumerAllocations): Record<string, ResourceAmounts> {
  return Object.fromEntries(
    Object.entries(allocations.allocations).map(([provider, allocation]) => [
      provider,
      { ...allocation.resources },
    ]),
  );
}
