import {
  type Hypervisor,
  isMigrationInProgress,
  listAllServers,
  listHypervisors,
  listMigrations,
  type Migration,
  type Server,
} from '../../openstack/compute.js';
import {
  getProviderAllocations,
  listResourceProviders,
  listResourceProvidersWithTrait,
  type ResourceProvider,
} from '../../openstack/placement.js';
import type { CloudSession } from '../../openstack/types.js';
import { mapWithConcurrency } from './concurrency.js';
import {
  computeNodeTrait,
  type ProviderConsumerAllocation,
  type SweepData,
  selectExaminedProviders,
} from './orphan-analysis.js';

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** The Placement half of a sweep; the API path and the database path each provide one. */
export interface PlacementSnapshot {
  providers: readonly ResourceProvider[];
  computeNodeTraitUuids: ReadonlySet<string>;
  allocations: ReadonlyMap<string, Readonly<Record<string, ProviderConsumerAllocation>>>;
}

export interface PlacementReader {
  source: SweepData['source'];
  readProviders(): Promise<{ providers: ResourceProvider[]; computeNodeTraitUuids: Set<string> }>;
  /** Allocations of these providers; a provider that no longer exists is left out. */
  readAllocations(
    providerUuids: readonly string[],
  ): Promise<Map<string, Record<string, ProviderConsumerAllocation>>>;
  close?(): Promise<void>;
}

/** Placement through its API: one call for the providers, one for the trait, one per examined provider. */
export function createApiPlacementReader(cloud: CloudSession, concurrency: number): PlacementReader {
  return {
    source: 'api',
    async readProviders() {
      const [providers, computeNodes] = await Promise.all([
        listResourceProviders(cloud),
        listResourceProvidersWithTrait(cloud, computeNodeTrait),
      ]);
      return { providers, computeNodeTraitUuids: new Set(computeNodes.map((provider) => provider.uuid)) };
    },
    async readAllocations(providerUuids) {
      const allocations = new Map<string, Record<string, ProviderConsumerAllocation>>();
      await mapWithConcurrency(providerUuids, concurrency, async (uuid) => {
        const read = await getProviderAllocations(cloud, uuid);
        if (read !== null) allocations.set(uuid, read.allocations);
      });
      return allocations;
    },
  };
}

/**
 * One sweep. Nova's servers and migrations are listed after the allocations on purpose: any instance or
 * migration that held an allocation we read already existed when we list them (a build request included).
 */
export async function sweepAllocations(
  cloud: CloudSession,
  placement: PlacementReader,
  now: () => Date,
): Promise<SweepData> {
  const startedAt = now().toISOString();
  const [{ providers, computeNodeTraitUuids }, hypervisors] = await Promise.all([
    placement.readProviders(),
    collect<Hypervisor>(listHypervisors(cloud)),
  ]);
  const examined = selectExaminedProviders(providers, hypervisors, computeNodeTraitUuids);
  const allocations = await placement.readAllocations(examined.map((provider) => provider.uuid));
  const [servers, migrations] = await Promise.all([
    collect<Server>(listAllServers(cloud)),
    collect<Migration>(listMigrations(cloud)),
  ]);
  return {
    source: placement.source,
    startedAt,
    finishedAt: now().toISOString(),
    providers,
    computeNodeTraitUuids,
    hypervisors,
    allocations,
    servers,
    migrations: migrations.filter(isMigrationInProgress),
  };
}
