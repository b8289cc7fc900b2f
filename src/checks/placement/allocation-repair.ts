import { z } from 'zod';
import type { CheckContext, ExpectedValue, FixStep, Procedure } from '../../core/check.js';
import { StackdoctorError } from '../../core/errors.js';
import { canonicalJson, escapePointerToken, type Json, type JsonObject } from '../../core/json.js';
import { HttpError } from '../../openstack/errors.js';
import {
  type ConsumerAllocations,
  placementMicroversions,
  type ResourceAmounts,
  replaceConsumerAllocations,
} from '../../openstack/placement.js';
import { listResourcesByProvider, readConsumer, readInstanceMigrations } from './consumer-view.js';
import type { ComputeTree } from './orphan-analysis.js';
import { judgeConsumer } from './orphan-analysis.js';

/**
 * The repair, as procedures the core runs: each re-reads the consumer at execution time and writes with its
 * consumer generation, so nothing planned from stale data is ever forced onto Placement.
 */

export const removeProcedureName = 'remove-provider-allocations';
export const restoreProcedureName = 'restore-consumer-allocations';

/**
 * Why a repair or its undo stopped. `conflict` carries status 409 so that the fixer re-checks and re-plans
 * once (never forces); `drift` and `capacity` stop the undo with a message an operator can act on.
 */
export class AllocationRepairError extends StackdoctorError {
  readonly status: number | undefined;

  constructor(
    kind: 'allocation-conflict' | 'allocation-drift' | 'allocation-capacity',
    message: string,
    options: { hint?: string; cause?: unknown } = {},
  ) {
    super(kind, message, options);
    this.name = 'AllocationRepairError';
    this.status = kind === 'allocation-conflict' ? 409 : undefined;
  }
}

const resourceMapSchema = z.record(z.string(), z.record(z.string(), z.number()));

const treeSchema = z.object({
  rootUuid: z.string(),
  rootName: z.string(),
  node: z.string().nullable(),
  host: z.string().nullable(),
  computeNode: z.enum(['listed', 'not-listed']),
});

const removeArgsSchema = z.object({
  consumer: z.string(),
  provider: z.string(),
  providerName: z.string(),
  tree: treeSchema,
  expectedGeneration: z.number().nullable(),
  expectedAllocations: resourceMapSchema,
});

const restoreArgsSchema = z.object({
  consumer: z.string(),
  provider: z.string(),
  providerName: z.string(),
  allocations: resourceMapSchema,
  projectId: z.string(),
  userId: z.string(),
  /** What the fix left behind: anything else found at undo time is someone else's change. */
  left: resourceMapSchema,
});

function toTreeArgs(tree: ComputeTree): JsonObject {
  return {
    rootUuid: tree.rootUuid,
    rootName: tree.rootName,
    node: tree.node,
    host: tree.host,
    computeNode: tree.computeNode,
  };
}

function toResourcesJson(map: Record<string, ResourceAmounts>): JsonObject {
  return Object.fromEntries(Object.entries(map).map(([provider, resources]) => [provider, { ...resources }]));
}

function dropProvider(
  map: Record<string, ResourceAmounts>,
  provider: string,
): Record<string, ResourceAmounts> {
  const rest = { ...map };
  delete rest[provider];
  return rest;
}

function buildConsumerPath(consumer: string): string {
  return `/allocations/${encodeURIComponent(consumer)}`;
}

/**
 * The step that takes `provider` out of the consumer's allocations and leaves every other provider as it is.
 * `current` is the consumer's allocation body as just read at 1.28 (it must hold `provider`).
 */
export function planProviderRemoval(
  consumer: string,
  provider: { uuid: string; name: string; tree: ComputeTree },
  current: ConsumerAllocations,
): FixStep {
  const all = listResourcesByProvider(current);
  const left = dropProvider(all, provider.uuid);
  const expect: ExpectedValue[] =
    Object.keys(left).length === 0
      ? [{ pointer: '/allocations', value: {} }]
      : [
          { pointer: `/allocations/${escapePointerToken(provider.uuid)}`, absent: true },
          ...Object.entries(left).map(([other, resources]) => ({
            pointer: `/allocations/${escapePointerToken(other)}/resources`,
            value: { ...resources },
          })),
        ];
  const priorState: Json = JSON.parse(JSON.stringify(current));
  const others = Object.keys(left).length;
  return {
    describe:
      `remove consumer ${consumer}'s allocation on ${provider.name}` +
      (others === 0
        ? ' (its only provider: the consumer is emptied)'
        : ` (keeps ${others} other provider(s))`),
    resource: {
      type: 'allocation',
      id: `${consumer}@${provider.uuid}`,
      name: `${consumer} on ${provider.name}`,
    },
    apply: {
      kind: 'procedure',
      name: removeProcedureName,
      args: {
        consumer,
        provider: provider.uuid,
        providerName: provider.name,
        tree: toTreeArgs(provider.tree),
        expectedGeneration: current.consumer_generation ?? null,
        expectedAllocations: toResourcesJson(all),
      },
    },
    undo: {
      kind: 'procedure',
      name: restoreProcedureName,
      args: {
        consumer,
        provider: provider.uuid,
        providerName: provider.name,
        allocations: toResourcesJson(all),
        projectId: current.project_id ?? '',
        userId: current.user_id ?? '',
        left: toResourcesJson(left),
      },
    },
    priorState,
    after: {
      service: 'placement',
      path: buildConsumerPath(consumer),
      microversion: placementMicroversions.allocations,
      expect,
    },
  };
}

function parseArgs<T>(schema: z.ZodType<T>, args: JsonObject, name: string): T {
  const parsed = schema.safeParse(args);
  if (!parsed.success)
    throw new StackdoctorError('plan', `${name}: malformed arguments in the plan or journal`);
  return parsed.data;
}

/**
 * Re-verifies, right before writing, that Nova still does not own the consumer on this provider and that the
 * allocations are exactly those planned; then PUTs them back without this provider, with the generation.
 */
export const removeProviderAllocations: Procedure = async (rawArgs, ctx) => {
  const args = parseArgs(removeArgsSchema, rawArgs, removeProcedureName);
  const [view, migrations] = await Promise.all([
    readConsumer(ctx.cloud, args.consumer),
    readInstanceMigrations(ctx.cloud, args.consumer),
  ]);
  const judgement = judgeConsumer(args.consumer, args.tree, view.server, migrations);
  if (judgement.verdict !== 'orphaned') {
    const why = judgement.verdict === 'owned' ? `now owned: ${judgement.by}` : judgement.why;
    throw new AllocationRepairError(
      'allocation-conflict',
      `consumer ${args.consumer} is ${why}; nothing removed`,
    );
  }
  const current = listResourcesByProvider(view.allocations);
  if (current[args.provider] === undefined) {
    return {
      summary: `consumer ${args.consumer} no longer has an allocation on ${args.providerName}; nothing to do`,
    };
  }
  const generation = view.allocations.consumer_generation ?? null;
  if (
    generation !== args.expectedGeneration ||
    canonicalJson(current) !== canonicalJson(args.expectedAllocations)
  ) {
    throw new AllocationRepairError(
      'allocation-conflict',
      `consumer ${args.consumer} changed since the plan (generation ${args.expectedGeneration} → ${generation}); nothing removed`,
    );
  }
  const { project_id: projectId, user_id: userId } = view.allocations;
  if (projectId === undefined || userId === undefined) {
    throw new StackdoctorError(
      'plan',
      `consumer ${args.consumer} has allocations but Placement shows no project/user`,
    );
  }
  const left = dropProvider(current, args.provider);
  const allocations = Object.fromEntries(
    Object.entries(left).map(([provider, resources]) => [provider, { resources }]),
  );
  // A 409 here (placement.concurrent_update) propagates as is: the fixer re-checks and re-plans, never forces.
  await replaceConsumerAllocations(ctx.cloud, args.consumer, {
    allocations,
    project_id: projectId,
    user_id: userId,
    consumer_generation: generation,
  });
  return {
    summary: `removed consumer ${args.consumer}'s allocation on ${args.providerName} (${Object.keys(left).length} other provider(s) kept)`,
    details: { consumerGenerationBefore: generation },
  };
};

/**
 * Puts the journaled allocations back. Refuses when the consumer's allocations are not what the fix left
 * (someone changed them since; writing over that would lose their change).
 */
export const restoreConsumerAllocations: Procedure = async (rawArgs, ctx: CheckContext) => {
  const args = parseArgs(restoreArgsSchema, rawArgs, restoreProcedureName);
  const { allocations: now } = await readConsumer(ctx.cloud, args.consumer);
  const current = listResourcesByProvider(now);
  if (canonicalJson(current) !== canonicalJson(args.left)) {
    throw new AllocationRepairError(
      'allocation-drift',
      `consumer ${args.consumer}'s allocations changed since the fix (now ${canonicalJson(current)}, the fix left ${canonicalJson(args.left)}); nothing restored`,
      {
        hint: 'the prior allocations are in `stackdoctor journal RUN-ID`; decide by hand whether they still belong',
      },
    );
  }
  // Placement deletes a consumer once it has no allocations: writing it again needs generation null.
  const generation = Object.keys(current).length === 0 ? null : (now.consumer_generation ?? null);
  try {
    await replaceConsumerAllocations(ctx.cloud, args.consumer, {
      allocations: Object.fromEntries(
        Object.entries(args.allocations).map(([provider, resources]) => [provider, { resources }]),
      ),
      project_id: args.projectId,
      user_id: args.userId,
      consumer_generation: generation,
    });
  } catch (error) {
    if (error instanceof HttpError && error.status === 409 && error.code !== 'placement.concurrent_update') {
      throw new AllocationRepairError(
        'allocation-capacity',
        `cannot restore consumer ${args.consumer} on ${args.providerName}: Placement has no room for it any more (${error.serverMessage ?? '409'})`,
        {
          hint: 'the capacity was given to someone else after the fix; free it or restore elsewhere by hand from the journal',
          cause: error,
        },
      );
    }
    throw error;
  }
  return {
    summary: `restored consumer ${args.consumer}'s allocations on ${Object.keys(args.allocations).length} provider(s)`,
    details: { consumerGenerationBefore: generation },
  };
};
