import { openPlacementDatabase } from '../../openstack/placement-db.js';
import type { PlacementReader } from './allocation-sweep.js';
import { computeNodeTrait } from './orphan-analysis.js';

/** The read-only database path: three queries however many providers and consumers there are. */
export async function openDatabasePlacementReader(url: string): Promise<PlacementReader> {
  const database = await openPlacementDatabase(url);
  return {
    source: 'database',
    async readProviders() {
      const [providers, computeNodeTraitUuids] = await Promise.all([
        database.listProviders(),
        database.listProviderUuidsWithTrait(computeNodeTrait),
      ]);
      return { providers, computeNodeTraitUuids };
    },
    readAllocations: (providerUuids) => database.readAllocations(providerUuids),
    close: () => database.close(),
  };
}
