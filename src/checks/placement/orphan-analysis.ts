import type { Hypervisor, Migration, Server } from '../../openstack/compute.js';
import { isMigrationInProgress } from '../../openstack/compute.js';
import type { ResourceAmounts, ResourceProvider } from '../../openstack/placement.js';

/**
 * The pure half of the check: given what one sweep read, which allocations does no Nova instance or
 * migration own, and which instances hold no allocation on their own compute node. No I/O here.
 */

// The classes Nova allocates for instances (the list `nova-manage placement audit` examines). A consumer with
// none of them on a compute node (e.g. a Blazar reservation) is someone else's, not Nova's leftover.
export const novaResourceClasses: ReadonlySet<string> = new Set([
  'VCPU',
  'PCPU',
  'MEMORY_MB',
  'DISK_GB',
  'VGPU',
  'NET_BW_EGR_KILOBIT_PER_SEC',
  'NET_BW_IGR_KILOBIT_PER_SEC',
  'MEM_ENCRYPTION_CONTEXT',
]);

export const computeNodeTrait = 'COMPUTE_NODE';

/** One consumer's allocation on one provider, as `GET /resource_providers/{uuid}/allocations` shows it. */
export interface ProviderConsumerAllocation {
  resources: ResourceAmounts;
  consumer_generation?: number | null | undefined;
}

/** Everything one sweep read; the API path and the database path both produce this. */
export interface SweepData {
  source: 'api' | 'database';
  startedAt: string;
  finishedAt: string;
  providers: readonly ResourceProvider[];
  /** Providers carrying the COMPUTE_NODE trait (Nova sets it on its compute-node providers). */
  computeNodeTraitUuids: ReadonlySet<string>;
  hypervisors: readonly Hypervisor[];
  /** Allocations of each examined provider, keyed by consumer; a provider that vanished mid-sweep is absent. */
  allocations: ReadonlyMap<string, Readonly<Record<string, ProviderConsumerAllocation>>>;
  servers: readonly Server[];
  migrations: readonly Migration[];
}

/** A compute node's provider tree: the root is the compute node, children are its nested providers. */
export interface ComputeTree {
  rootUuid: string;
  rootName: string;
  /** Nova's node name (hypervisor_hostname); null when Nova lists no hypervisor for this provider. */
  node: string | null;
  host: string | null;
  /** `listed`: Nova knows the compute node; `not-listed`: only the COMPUTE_NODE trait says it was one. */
  computeNode: 'listed' | 'not-listed';
}

export interface ExaminedProvider {
  uuid: string;
  name: string;
  tree: ComputeTree;
}

/**
 * The providers whose allocations are Nova's to judge: every provider in the tree of a compute node Nova
 * lists, and of a root provider with the COMPUTE_NODE trait whose compute node Nova no longer lists (a dead,
 * deleted host whose provider was left behind). Sharing providers and every other provider are never examined.
 */
export function selectExaminedProviders(
  providers: readonly ResourceProvider[],
  hypervisors: readonly Hypervisor[],
  computeNodeTraitUuids: ReadonlySet<string>,
): ExaminedProvider[] {
  const byUuid = new Map(providers.map((provider) => [provider.uuid, provider]));
  const hypervisorById = new Map(hypervisors.map((hypervisor) => [hypervisor.id, hypervisor]));
  const trees = new Map<string, ComputeTree | null>();
  const treeOf = (rootUuid: string): ComputeTree | null => {
    if (trees.has(rootUuid)) return trees.get(rootUuid) ?? null;
    const root = byUuid.get(rootUuid);
    const hypervisor = hypervisorById.get(rootUuid);
    let tree: ComputeTree | null = null;
    if (root && hypervisor) {
      tree = {
        rootUuid,
        rootName: root.name,
        node: hypervisor.hypervisor_hostname,
        host: hypervisor.service?.host ?? null,
        computeNode: 'listed',
      };
    } else if (root && computeNodeTraitUuids.has(rootUuid)) {
      tree = { rootUuid, rootName: root.name, node: null, host: null, computeNode: 'not-listed' };
    }
    trees.set(rootUuid, tree);
    return tree;
  };
  const examined: ExaminedProvider[] = [];
  for (const provider of providers) {
    const tree = treeOf(provider.root_provider_uuid ?? provider.uuid);
    if (tree) examined.push({ uuid: provider.uuid, name: provider.name, tree });
  }
  return examined;
}

export type Judgement =
  | { verdict: 'owned'; by: string }
  | { verdict: 'orphaned'; reason: 'no-instance' }
  | { verdict: 'orphaned'; reason: 'instance-elsewhere'; server: Server }
  | { verdict: 'undecidable'; why: string };

export function readServerHost(server: Server): string | null {
  return server['OS-EXT-SRV-ATTR:host'] ?? null;
}

export function readServerNode(server: Server): string | null {
  return server['OS-EXT-SRV-ATTR:hypervisor_hostname'] ?? null;
}

function isOnTree(server: Server, tree: ComputeTree): boolean {
  const node = readServerNode(server);
  if (tree.node !== null && node !== null) return tree.node === node;
  const host = readServerHost(server);
  return tree.host !== null && host !== null && tree.host === host;
}

/**
 * Whether Nova owns `consumer`'s allocation on a provider of `tree`. `server` is the instance with that UUID
 * (null: none), `migrations` the in-progress migrations known at the time.
 */
export function judgeConsumer(
  consumer: string,
  tree: ComputeTree,
  server: Server | null,
  migrations: readonly Migration[],
): Judgement {
  for (const migration of migrations) {
    if (!isMigrationInProgress(migration)) continue;
    // Migration-based allocations: the source node's usage is held by the migration's own UUID.
    if (migration.uuid === consumer)
      return { verdict: 'owned', by: `in-progress migration (${migration.status})` };
    // The instance holds the destination while it moves; its host still names the source.
    if (migration.instance_uuid === consumer) {
      return {
        verdict: 'owned',
        by: `instance with an in-progress migration ${migration.uuid ?? migration.id}`,
      };
    }
  }
  if (server === null) return { verdict: 'orphaned', reason: 'no-instance' };
  if (server.status === 'UNKNOWN') return { verdict: 'undecidable', why: 'the instance is in a down cell' };
  // BUILD instances (build requests) already hold allocations but have no host yet.
  if (readServerHost(server) === null)
    return { verdict: 'owned', by: `instance without a host yet (${server.status})` };
  if (isOnTree(server, tree)) return { verdict: 'owned', by: `instance on this node (${server.status})` };
  return { verdict: 'orphaned', reason: 'instance-elsewhere', server };
}

export interface OrphanCandidate {
  provider: ExaminedProvider;
  consumer: string;
  resources: ResourceAmounts;
  consumerGeneration: number | null;
  /** The consumer's allocations on the other examined providers (the sweep's partial picture). */
  elsewhere: Record<string, ResourceAmounts>;
  judgement: Extract<Judgement, { verdict: 'orphaned' }>;
}

export interface MissingAllocationCandidate {
  server: Server;
  tree: ComputeTree;
}

export interface SweepAnalysis {
  examinedProviders: number;
  /** Servers that came back `UNKNOWN` (down cells): while any exist, nothing is judged orphaned. */
  downCellServers: string[];
  inProgressMigrations: number;
  candidates: OrphanCandidate[];
  missing: MissingAllocationCandidate[];
}

// Statuses of an instance that sits on its host and must hold allocations there (heal_allocations' case).
const settledStatuses = new Set(['ACTIVE', 'SHUTOFF', 'PAUSED', 'SUSPENDED', 'RESCUE', 'SHELVED']);

function holdsNovaClasses(resources: ResourceAmounts): boolean {
  return Object.keys(resources).some((resourceClass) => novaResourceClasses.has(resourceClass));
}

export function analyseSweep(data: SweepData): SweepAnalysis {
  const examined = selectExaminedProviders(data.providers, data.hypervisors, data.computeNodeTraitUuids);
  const inProgress = data.migrations.filter(isMigrationInProgress);
  const downCellServers = data.servers
    .filter((server) => server.status === 'UNKNOWN')
    .map((server) => server.id);
  const base = {
    examinedProviders: examined.length,
    downCellServers,
    inProgressMigrations: inProgress.length,
  };
  if (downCellServers.length > 0) return { ...base, candidates: [], missing: [] };

  const servers = new Map(data.servers.map((server) => [server.id, server]));
  const byConsumer = new Map<string, Record<string, ResourceAmounts>>();
  for (const provider of examined) {
    for (const [consumer, allocation] of Object.entries(data.allocations.get(provider.uuid) ?? {})) {
      const entry = byConsumer.get(consumer) ?? {};
      entry[provider.uuid] = allocation.resources;
      byConsumer.set(consumer, entry);
    }
  }

  const candidates: OrphanCandidate[] = [];
  for (const provider of examined) {
    for (const [consumer, allocation] of Object.entries(data.allocations.get(provider.uuid) ?? {})) {
      if (!holdsNovaClasses(allocation.resources)) continue;
      const judgement = judgeConsumer(consumer, provider.tree, servers.get(consumer) ?? null, inProgress);
      if (judgement.verdict !== 'orphaned') continue;
      const elsewhere = { ...byConsumer.get(consumer) };
      delete elsewhere[provider.uuid];
      candidates.push({
        provider,
        consumer,
        resources: allocation.resources,
        consumerGeneration: allocation.consumer_generation ?? null,
        elsewhere,
        judgement,
      });
    }
  }

  const treeByNode = new Map<string, ComputeTree>();
  const treeProviders = new Map<string, string[]>();
  for (const provider of examined) {
    if (provider.tree.node !== null) treeByNode.set(provider.tree.node, provider.tree);
    treeProviders.set(provider.tree.rootUuid, [
      ...(treeProviders.get(provider.tree.rootUuid) ?? []),
      provider.uuid,
    ]);
  }
  const migrating = new Set(inProgress.map((migration) => migration.instance_uuid));
  const missing: MissingAllocationCandidate[] = [];
  for (const server of data.servers) {
    const node = readServerNode(server);
    if (!settledStatuses.has(server.status) || node === null || readServerHost(server) === null) continue;
    if ((server['OS-EXT-STS:task_state'] ?? null) !== null || migrating.has(server.id)) continue;
    const tree = treeByNode.get(node);
    if (!tree) continue;
    const held = (treeProviders.get(tree.rootUuid) ?? []).some(
      (provider) => data.allocations.get(provider)?.[server.id] !== undefined,
    );
    // A provider that vanished mid-sweep has no entry: nothing can be said about it.
    const readAll = (treeProviders.get(tree.rootUuid) ?? []).every((provider) =>
      data.allocations.has(provider),
    );
    if (!held && readAll) missing.push({ server, tree });
  }
  return { ...base, candidates, missing };
}
