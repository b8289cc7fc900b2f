import { z } from 'zod';
import { type CheckContext, defineCheck, type FindingInput } from '../../core/check.js';
import { UsageError } from '../../core/errors.js';
import { isJsonObject, type JsonObject } from '../../core/json.js';
import { getConsumerAllocations, type ResourceAmounts } from '../../openstack/placement.js';
import {
  planProviderRemoval,
  removeProcedureName,
  removeProviderAllocations,
  restoreConsumerAllocations,
  restoreProcedureName,
} from './allocation-repair.js';
import { createApiPlacementReader, type PlacementReader, sweepAllocations } from './allocation-sweep.js';
import { mapWithConcurrency } from './concurrency.js';
import {
  type ConsumerView,
  listResourcesByProvider,
  readConsumer,
  readInstanceMigrations,
} from './consumer-view.js';
import {
  analyseSweep,
  type ComputeTree,
  type ExaminedProvider,
  type Judgement,
  judgeConsumer,
  type MissingAllocationCandidate,
  type OrphanCandidate,
  readServerHost,
  readServerNode,
  type SweepAnalysis,
  type SweepData,
} from './orphan-analysis.js';
import { openDatabasePlacementReader } from './placement-db-reader.js';
import { advanceSuspects, makeSuspectKey, openSuspectStore, type SuspectRecord } from './suspect-state.js';

export const checkId = 'placement/orphaned-allocations';
const defaultConfirmAfterSeconds = 60;
const defaultConcurrency = 8;

export interface OrphanSettings {
  confirmAfterSeconds: number;
  concurrency: number;
  placementDb: string | undefined;
}

export function readSettings(parameters: Readonly<Record<string, string>>): OrphanSettings {
  const whole = (name: string, fallback: number, minimum: number): number => {
    const text = parameters[name];
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < minimum) {
      throw new UsageError(`--set ${name}=${text}: expected a whole number ≥ ${minimum}`);
    }
    return value;
  };
  const placementDb = parameters['placement-db'];
  return {
    confirmAfterSeconds: whole('confirm-after', defaultConfirmAfterSeconds, 0),
    concurrency: whole('concurrency', defaultConcurrency, 1),
    placementDb: placementDb === undefined || placementDb === '' ? undefined : placementDb,
  };
}

/** Sorted by class: the API and the database list a consumer's classes in different orders. */
function formatResources(resources: ResourceAmounts): string {
  return Object.entries(resources)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([resourceClass, amount]) => `${resourceClass}=${amount}`)
    .join(', ');
}

function describeProvider(provider: { uuid: string; name: string; tree: ComputeTree }): JsonObject {
  return {
    uuid: provider.uuid,
    name: provider.name,
    root_uuid: provider.tree.rootUuid,
    root_name: provider.tree.rootName,
    node: provider.tree.node,
    host: provider.tree.host,
    compute_node: provider.tree.computeNode,
  };
}

function toResourcesJson(map: Record<string, ResourceAmounts>): JsonObject {
  return Object.fromEntries(Object.entries(map).map(([provider, resources]) => [provider, { ...resources }]));
}

function describeSweep(data: SweepData, analysis: SweepAnalysis): JsonObject {
  return {
    source: data.source,
    sweep_started_at: data.startedAt,
    sweep_finished_at: data.finishedAt,
    providers_seen: data.providers.length,
    providers_examined: analysis.examinedProviders,
    servers_seen: data.servers.length,
    migrations_in_progress: analysis.inProgressMigrations,
  };
}

type Orphaned = Extract<Judgement, { verdict: 'orphaned' }>;

function describeOwner(judgement: Orphaned): string {
  if (judgement.reason === 'no-instance') return 'belongs to no instance or in-progress migration';
  const { server } = judgement;
  return `belongs to instance ${server.name ?? server.id} (${server.status}), which lives on ${readServerNode(server) ?? readServerHost(server) ?? '?'}`;
}

interface OrphanReport {
  provider: ExaminedProvider;
  consumer: string;
  resources: ResourceAmounts;
  judgement: Orphaned;
  /** Full picture (GET /allocations) when confirmed; the examined providers only when merely suspected. */
  picture:
    | { kind: 'full'; view: ConsumerView }
    | { kind: 'sweep'; elsewhere: Record<string, ResourceAmounts>; generation: number | null };
  confidence: 'confirmed' | 'suspected';
  status: string;
  record: SuspectRecord | undefined;
  checked: JsonObject;
  confirmAfterSeconds: number;
}

function buildOrphanFinding(report: OrphanReport): FindingInput {
  const { provider, consumer, judgement, picture } = report;
  const allocations = picture.kind === 'full' ? picture.view.allocations : undefined;
  const elsewhere =
    picture.kind === 'full'
      ? (() => {
          const all = listResourcesByProvider(picture.view.allocations);
          delete all[provider.uuid];
          return all;
        })()
      : picture.elsewhere;
  const server = judgement.reason === 'instance-elsewhere' ? judgement.server : undefined;
  return {
    resource: {
      type: 'allocation',
      id: `${consumer}@${provider.uuid}`,
      name: `${consumer} on ${provider.name}`,
    },
    message:
      `allocation of ${consumer} on ${provider.name} (${formatResources(report.resources)}) ${describeOwner(judgement)}` +
      (report.confidence === 'confirmed' ? '' : `; suspected: ${report.status}`),
    evidence: {
      kind: 'orphaned-allocation',
      reason: judgement.reason,
      provider: describeProvider(provider),
      consumer: {
        uuid: consumer,
        project_id: allocations?.project_id ?? null,
        user_id: allocations?.user_id ?? null,
        consumer_generation:
          picture.kind === 'full' ? (allocations?.consumer_generation ?? null) : picture.generation,
      },
      instance:
        server === undefined
          ? null
          : {
              id: server.id,
              name: server.name ?? null,
              status: server.status,
              host: readServerHost(server),
              node: readServerNode(server),
              project_id: server.tenant_id ?? null,
            },
      resources: { ...report.resources },
      resources_elsewhere: toResourcesJson(elsewhere),
      picture:
        picture.kind === 'full' ? 'GET /allocations/{consumer}' : 'examined compute-node providers only',
      confirmation: {
        status: report.status,
        first_seen_at: report.record?.firstSeenAt ?? null,
        confirm_after_seconds: report.confirmAfterSeconds,
      },
      checked: report.checked,
    },
    confidence: report.confidence,
  };
}

function buildMissingFinding(
  candidate: MissingAllocationCandidate,
  elsewhere: Record<string, ResourceAmounts>,
  checked: JsonObject,
): FindingInput {
  const { server, tree } = candidate;
  return {
    resource: { type: 'server', id: server.id, name: server.name ?? undefined },
    message:
      `instance ${server.name ?? server.id} is ${server.status} on ${tree.node ?? tree.rootName} but holds no allocation there; ` +
      `run \`nova-manage placement heal_allocations --instance ${server.id}\``,
    severity: 'warning',
    fixable: false,
    evidence: {
      kind: 'missing-allocation',
      instance: {
        id: server.id,
        name: server.name ?? null,
        status: server.status,
        host: readServerHost(server),
        node: readServerNode(server),
        project_id: server.tenant_id ?? null,
        user_id: server.user_id ?? null,
      },
      provider: { uuid: tree.rootUuid, name: tree.rootName },
      allocations_elsewhere: toResourcesJson(elsewhere),
      checked,
    },
  };
}

function buildDownCellFinding(analysis: SweepAnalysis, checked: JsonObject): FindingInput {
  return {
    resource: { type: 'cell', id: 'down-cells', name: 'cells that did not answer' },
    message:
      `${analysis.downCellServers.length} server(s) came back UNKNOWN (a cell is down): their instances cannot be ` +
      'told from orphans, so no allocation is judged orphaned in this sweep',
    severity: 'warning',
    fixable: false,
    evidence: {
      kind: 'down-cells',
      unknown_servers: analysis.downCellServers.slice(0, 50),
      unknown_server_count: analysis.downCellServers.length,
      checked,
    },
  };
}

async function openPlacementReader(ctx: CheckContext, settings: OrphanSettings): Promise<PlacementReader> {
  if (settings.placementDb === undefined) return createApiPlacementReader(ctx.cloud, settings.concurrency);
  return openDatabasePlacementReader(settings.placementDb);
}

/** Runs one sweep and returns what it read (exported for the benchmark and the API/database comparison test). */
export async function sweepCloud(ctx: CheckContext, settings: OrphanSettings): Promise<SweepData> {
  const reader = await openPlacementReader(ctx, settings);
  try {
    return await sweepAllocations(ctx.cloud, reader, ctx.now);
  } finally {
    await reader.close?.();
  }
}

/** Turns one sweep into findings: suspects, confirmations (per-item reads only for those due), missing allocations. */
export async function* judgeSweep(
  data: SweepData,
  ctx: CheckContext,
  settings: OrphanSettings,
): AsyncGenerator<FindingInput> {
  const analysis = analyseSweep(data);
  const checked = describeSweep(data, analysis);
  if (analysis.downCellServers.length > 0) {
    yield buildDownCellFinding(analysis, checked);
    return;
  }
  const store =
    ctx.stateDirectory === undefined
      ? undefined
      : openSuspectStore(ctx.stateDirectory, ctx.cloud.cloudName, ctx.cloud.region, ctx.log);
  const sweptAt = new Date(data.startedAt);
  const previous = await store?.load();
  const keyOf = (candidate: OrphanCandidate) => makeSuspectKey(candidate.provider.uuid, candidate.consumer);
  const { next, due } = advanceSuspects(
    previous,
    analysis.candidates.map((candidate) => ({
      key: keyOf(candidate),
      consumerGeneration: candidate.consumerGeneration,
    })),
    sweptAt,
    settings.confirmAfterSeconds,
  );
  const dueCandidates = analysis.candidates.filter((candidate) => due.has(keyOf(candidate)));
  const views = await mapWithConcurrency(dueCandidates, settings.concurrency, (candidate) =>
    readConsumer(ctx.cloud, candidate.consumer),
  );
  const viewByKey = new Map(dueCandidates.map((candidate, index) => [keyOf(candidate), views[index]!]));
  const waiting =
    store === undefined
      ? 'no state directory to remember earlier sweeps, so it cannot be confirmed'
      : `first seen in this sweep; fixable once a sweep ≥ ${settings.confirmAfterSeconds} s later sees it unchanged`;

  for (const candidate of analysis.candidates) {
    const key = keyOf(candidate);
    const base = {
      provider: candidate.provider,
      consumer: candidate.consumer,
      resources: candidate.resources,
      checked,
      confirmAfterSeconds: settings.confirmAfterSeconds,
    };
    const sweepPicture = {
      kind: 'sweep' as const,
      elsewhere: candidate.elsewhere,
      generation: candidate.consumerGeneration,
    };
    const view = viewByKey.get(key);
    if (view === undefined) {
      const record = next[key];
      const firstSeenHere = record?.firstSeenAt === sweptAt.toISOString();
      yield buildOrphanFinding({
        ...base,
        judgement: candidate.judgement,
        picture: sweepPicture,
        confidence: 'suspected',
        status: firstSeenHere
          ? waiting
          : `seen since ${record?.firstSeenAt}; not yet ${settings.confirmAfterSeconds} s`,
        record,
      });
      continue;
    }
    const judgement = judgeConsumer(
      candidate.consumer,
      candidate.provider.tree,
      view.server,
      data.migrations,
    );
    const here = view.allocations.allocations[candidate.provider.uuid];
    if (judgement.verdict === 'owned' || here === undefined) {
      delete next[key];
      continue;
    }
    if (judgement.verdict === 'undecidable') {
      yield buildOrphanFinding({
        ...base,
        judgement: candidate.judgement,
        picture: sweepPicture,
        confidence: 'suspected',
        status: judgement.why,
        record: next[key],
      });
      continue;
    }
    const generation = view.allocations.consumer_generation ?? null;
    if (generation !== candidate.consumerGeneration) {
      // It moved between the provider read and the per-item read: someone is working on it. Start over.
      next[key] = { firstSeenAt: sweptAt.toISOString(), consumerGeneration: generation };
      yield buildOrphanFinding({
        ...base,
        judgement,
        picture: { kind: 'full', view },
        confidence: 'suspected',
        status: `the consumer changed during the sweep (generation ${candidate.consumerGeneration} → ${generation})`,
        record: next[key],
      });
      continue;
    }
    yield buildOrphanFinding({
      ...base,
      judgement,
      picture: { kind: 'full', view },
      confidence: 'confirmed',
      status: 'confirmed by two sweeps and a fresh read',
      record: next[key],
    });
  }
  await store?.save({ version: 1, sweptAt: data.startedAt, suspects: next });

  const pictures = await mapWithConcurrency(analysis.missing, settings.concurrency, (candidate) =>
    getConsumerAllocations(ctx.cloud, candidate.server.id),
  );
  const treeMembers = new Map<string, Set<string>>();
  for (const provider of data.providers) {
    const root = provider.root_provider_uuid ?? provider.uuid;
    treeMembers.set(root, (treeMembers.get(root) ?? new Set()).add(provider.uuid));
  }
  for (const [index, candidate] of analysis.missing.entries()) {
    const held = listResourcesByProvider(pictures[index]!);
    const members = treeMembers.get(candidate.tree.rootUuid) ?? new Set();
    // Allocated meanwhile (a heal, or a race with the provider read): not missing.
    if (Object.keys(held).some((provider) => members.has(provider))) continue;
    yield buildMissingFinding(candidate, held, checked);
  }
}

const orphanEvidenceSchema = z.object({
  kind: z.literal('orphaned-allocation'),
  provider: z.object({
    uuid: z.string(),
    name: z.string(),
    root_uuid: z.string(),
    root_name: z.string(),
    node: z.string().nullable(),
    host: z.string().nullable(),
    compute_node: z.enum(['listed', 'not-listed']),
  }),
  consumer: z.object({ uuid: z.string() }),
  confirmation: z.object({ first_seen_at: z.string().nullable(), confirm_after_seconds: z.number() }),
  checked: z.record(z.string(), z.unknown()),
});

function readOrphanEvidence(evidence: JsonObject) {
  const parsed = orphanEvidenceSchema.safeParse(evidence);
  if (!parsed.success) return undefined;
  const { provider } = parsed.data;
  const tree: ComputeTree = {
    rootUuid: provider.root_uuid,
    rootName: provider.root_name,
    node: provider.node,
    host: provider.host,
    computeNode: provider.compute_node,
  };
  return { ...parsed.data, examined: { uuid: provider.uuid, name: provider.name, tree } };
}

export default defineCheck({
  meta: {
    id: checkId,
    title: 'Placement allocations that no instance or migration owns',
    description:
      'Allocations left behind by deleted, failed or evacuated instances keep compute capacity booked: the ' +
      'scheduler sees hosts as full that are not. nova-compute logs "has allocations against this compute host ' +
      'but is not found in the database".',
    severity: 'warning',
    targets: ['cloud'],
    requires: {
      services: ['placement', 'compute'],
      microversions: { placement: '1.28', compute: '2.69' },
      admin: true,
    },
    references: [
      'https://docs.openstack.org/nova/latest/cli/nova-manage.html#placement-audit',
      'https://docs.openstack.org/api-ref/placement/#update-allocations',
      'https://docs.openstack.org/nova/latest/admin/troubleshooting/orphaned-allocations.html',
      'nova/scheduler/client/report.py (delete_allocation_for_instance: the generation-guarded delete)',
    ],
    parameters: {
      'confirm-after':
        'seconds that must pass between the sweep that first sees an orphan and the one that confirms it (default 60)',
      concurrency: 'Placement and Nova reads in flight at once during a sweep (default 8)',
      'placement-db':
        'read Placement from its database instead of its API (read-only; the [placement_database] connection URL, e.g. mysql+pymysql://user:pass@host/placement)',
    },
    fix: {
      safety: 'safe',
      reversible: true,
      description:
        "per finding, PUTs the consumer's allocations back without that provider, guarded by the consumer generation " +
        '(empty when it was the only one); undo PUTs the journaled allocations back',
    },
  },
  async *detect(ctx) {
    const settings = readSettings(ctx.parameters);
    const data = await sweepCloud(ctx, settings);
    yield* judgeSweep(data, ctx, settings);
  },
  async recheck(finding, ctx) {
    const evidence = readOrphanEvidence(finding.evidence);
    if (evidence === undefined) return null;
    const consumer = evidence.consumer.uuid;
    const [view, migrations] = await Promise.all([
      readConsumer(ctx.cloud, consumer),
      readInstanceMigrations(ctx.cloud, consumer),
    ]);
    const judgement = judgeConsumer(consumer, evidence.examined.tree, view.server, migrations);
    const here = view.allocations.allocations[evidence.examined.uuid];
    if (judgement.verdict === 'owned' || here === undefined) return null;
    const previousChecked = isJsonObject(finding.evidence.checked) ? finding.evidence.checked : {};
    const record =
      evidence.confirmation.first_seen_at === null
        ? undefined
        : {
            firstSeenAt: evidence.confirmation.first_seen_at,
            consumerGeneration: view.allocations.consumer_generation ?? null,
          };
    const base = {
      provider: evidence.examined,
      consumer,
      resources: here.resources,
      picture: { kind: 'full' as const, view },
      record,
      checked: { ...previousChecked, rechecked_at: ctx.now().toISOString() },
      confirmAfterSeconds: evidence.confirmation.confirm_after_seconds,
    };
    if (judgement.verdict === 'undecidable') {
      const fallback: Orphaned = { verdict: 'orphaned', reason: 'no-instance' };
      return buildOrphanFinding({
        ...base,
        judgement: fallback,
        confidence: 'suspected',
        status: judgement.why,
      });
    }
    return buildOrphanFinding({
      ...base,
      judgement,
      confidence: finding.confidence,
      status:
        finding.confidence === 'confirmed' ? 'confirmed, and still orphaned when re-read' : 'still suspected',
    });
  },
  async plan(finding, ctx) {
    const evidence = readOrphanEvidence(finding.evidence);
    if (evidence === undefined) return [];
    const current = await getConsumerAllocations(ctx.cloud, evidence.consumer.uuid);
    if (current.allocations[evidence.examined.uuid] === undefined) return [];
    return [planProviderRemoval(evidence.consumer.uuid, evidence.examined, current)];
  },
  procedures: {
    [removeProcedureName]: removeProviderAllocations,
    [restoreProcedureName]: restoreConsumerAllocations,
  },
});
