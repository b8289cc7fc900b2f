import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  AllocationRepairError,
  planProviderRemoval,
  removeProviderAllocations,
  restoreConsumerAllocations,
} from '../../../../src/checks/placement/allocation-repair.js';
import {
  analyseSweep,
  type ComputeTree,
  judgeConsumer,
  type ProviderConsumerAllocation,
  type SweepData,
  selectExaminedProviders,
} from '../../../../src/checks/placement/orphan-analysis.js';
import check, {
  judgeSweep,
  readSettings,
  sweepCloud,
} from '../../../../src/checks/placement/orphaned-allocations.js';
import {
  advanceSuspects,
  makeSuspectKey,
  openSuspectStore,
} from '../../../../src/checks/placement/suspect-state.js';
import type { CheckContext, FindingInput } from '../../../../src/core/check.js';
import { applyFixes, planFixes } from '../../../../src/core/fixer.js';
import { Journal } from '../../../../src/core/journal.js';
import type { JsonObject } from '../../../../src/core/json.js';
import { silentLogger } from '../../../../src/core/logger.js';
import { cloudTarget, completeFinding } from '../../../../src/core/runner.js';
import { applyUndo, planUndo } from '../../../../src/core/undo.js';
import type { Hypervisor, Migration, Server } from '../../../../src/openstack/compute.js';
import type { ResourceProvider } from '../../../../src/openstack/placement.js';
import { FakeNovaPlacement } from './fake-cloud.js';

// Stable UUIDs: A and B are compute nodes, S a sharing provider, N a nested child of A, X a dead node's provider.
const A = 'aaaaaaaa-0000-0000-0000-000000000001';
const B = 'bbbbbbbb-0000-0000-0000-000000000002';
const S = 'cccccccc-0000-0000-0000-000000000003';
const N = 'dddddddd-0000-0000-0000-000000000004';
const X = 'eeeeeeee-0000-0000-0000-000000000005';
const INSTANCE = '11111111-1111-1111-1111-111111111111';
const STRANGER = '22222222-2222-2222-2222-222222222222';
const MIGRATION = '33333333-3333-3333-3333-333333333333';

const provider = (uuid: string, name: string, root = uuid): ResourceProvider => ({
  uuid,
  name,
  generation: 1,
  parent_provider_uuid: root === uuid ? null : root,
  root_provider_uuid: root,
});
const hypervisor = (id: string, node: string): Hypervisor => ({
  id,
  hypervisor_hostname: node,
  service: { id: `svc-${node}`, host: node },
});
const server = (id: string, node: string | null, status = 'ACTIVE', extra: Partial<Server> = {}): Server => ({
  id,
  name: `vm-${id.slice(0, 4)}`,
  status,
  tenant_id: 'p1',
  'OS-EXT-SRV-ATTR:host': node,
  'OS-EXT-SRV-ATTR:hypervisor_hostname': node,
  'OS-EXT-STS:task_state': null,
  ...extra,
});
const migration = (fields: Partial<Migration> & { status: string }): Migration => ({
  id: 7,
  uuid: MIGRATION,
  instance_uuid: INSTANCE,
  source_compute: 'node-a',
  dest_compute: 'node-b',
  ...fields,
});
const tree = (node: string | null, root = A): ComputeTree => ({
  rootUuid: root,
  rootName: node ?? 'dead',
  node,
  host: node,
  computeNode: node === null ? 'not-listed' : 'listed',
});
const vm = { VCPU: 1, MEMORY_MB: 256, DISK_GB: 1 };

function allocationMap(entries: [string, Record<string, ProviderConsumerAllocation>][]) {
  return new Map(entries);
}

function sweep(fields: Partial<SweepData>): SweepData {
  return {
    source: 'api',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    providers: [provider(A, 'node-a'), provider(B, 'node-b'), provider(S, 'shared-disk')],
    computeNodeTraitUuids: new Set([A, B]),
    hypervisors: [hypervisor(A, 'node-a'), hypervisor(B, 'node-b')],
    allocations: new Map(),
    servers: [],
    migrations: [],
    ...fields,
  };
}

describe('selectExaminedProviders', () => {
  it('examines compute nodes and their nested providers, never sharing or foreign providers', () => {
    const examined = selectExaminedProviders(
      [
        provider(A, 'node-a'),
        provider(N, 'node-a_pci', A),
        provider(S, 'shared-disk'),
        provider(X, 'gone-node'),
      ],
      [hypervisor(A, 'node-a')],
      new Set([A, X]),
    );
    assert.deepEqual(
      examined.map((p) => [p.name, p.tree.computeNode, p.tree.node]),
      [
        ['node-a', 'listed', 'node-a'],
        ['node-a_pci', 'listed', 'node-a'],
        // COMPUTE_NODE trait but no hypervisor: a dead host's provider left behind.
        ['gone-node', 'not-listed', null],
      ],
    );
  });
});

describe('judgeConsumer', () => {
  const cases: [string, Server | null, Migration[], string][] = [
    ['no instance, no migration', null, [], 'orphaned:no-instance'],
    ['instance on this node', server(INSTANCE, 'node-a'), [], 'owned'],
    ['instance on another node (evacuated)', server(INSTANCE, 'node-b'), [], 'orphaned:instance-elsewhere'],
    ['instance still being scheduled (build request, no host)', server(INSTANCE, null, 'BUILD'), [], 'owned'],
    ['instance in a down cell', server(INSTANCE, null, 'UNKNOWN'), [], 'undecidable'],
    [
      'instance moving away with an in-progress migration',
      server(INSTANCE, 'node-b'),
      [migration({ status: 'migrating' })],
      'owned',
    ],
    [
      'instance awaiting resize confirmation (finished = in progress)',
      server(INSTANCE, 'node-b'),
      [migration({ status: 'finished' })],
      'owned',
    ],
    [
      'instance whose migration is confirmed',
      server(INSTANCE, 'node-b'),
      [migration({ status: 'confirmed' })],
      'orphaned:instance-elsewhere',
    ],
  ];
  for (const [name, found, migrations, expected] of cases) {
    it(name, () => {
      const judgement = judgeConsumer(INSTANCE, tree('node-a'), found, migrations);
      const label = judgement.verdict === 'orphaned' ? `orphaned:${judgement.reason}` : judgement.verdict;
      assert.equal(label, expected);
    });
  }

  it('a migration UUID holding the source node is owned while the migration runs, orphaned after', () => {
    assert.equal(
      judgeConsumer(MIGRATION, tree('node-a'), null, [migration({ status: 'running' })]).verdict,
      'owned',
    );
    assert.equal(
      judgeConsumer(MIGRATION, tree('node-a'), null, [migration({ status: 'error' })]).verdict,
      'orphaned',
    );
  });
});

describe('analyseSweep', () => {
  it('evacuation: an instance alive on B with a leftover on A is orphaned on A only', () => {
    const analysis = analyseSweep(
      sweep({
        allocations: allocationMap([
          [A, { [INSTANCE]: { resources: vm, consumer_generation: 4 } }],
          [B, { [INSTANCE]: { resources: vm, consumer_generation: 4 } }],
        ]),
        servers: [server(INSTANCE, 'node-b')],
      }),
    );
    assert.deepEqual(
      analysis.candidates.map((c) => [c.provider.uuid, c.consumer, c.judgement.reason]),
      [[A, INSTANCE, 'instance-elsewhere']],
    );
    assert.deepEqual(analysis.candidates[0]?.elsewhere, { [B]: vm });
  });

  it('never reads or flags a sharing provider, and ignores consumers without Nova classes', () => {
    const analysis = analyseSweep(
      sweep({
        allocations: allocationMap([
          [A, { [STRANGER]: { resources: { CUSTOM_RESERVATION: 1 }, consumer_generation: 1 } }],
          [S, { [STRANGER]: { resources: { DISK_GB: 10 }, consumer_generation: 1 } }],
        ]),
      }),
    );
    assert.deepEqual(analysis.candidates, []);
    assert.equal(analysis.examinedProviders, 2);
  });

  it('recorded in-progress resize: migration holds the source, instance the destination — nothing flagged', () => {
    const analysis = analyseSweep(
      sweep({
        allocations: allocationMap([
          [A, { [MIGRATION]: { resources: vm, consumer_generation: 1 } }],
          [B, { [INSTANCE]: { resources: { VCPU: 2, MEMORY_MB: 512, DISK_GB: 1 }, consumer_generation: 2 } }],
        ]),
        // During a resize the instance's host is still the source until it is confirmed.
        servers: [server(INSTANCE, 'node-a', 'VERIFY_RESIZE')],
        migrations: [migration({ status: 'finished', migration_type: 'resize' })],
      }),
    );
    assert.deepEqual(analysis.candidates, []);
    assert.deepEqual(analysis.missing, []);
  });

  it('refuses to judge anything while a cell is down', () => {
    const analysis = analyseSweep(
      sweep({
        allocations: allocationMap([[A, { [STRANGER]: { resources: vm, consumer_generation: 1 } }]]),
        servers: [server(INSTANCE, null, 'UNKNOWN')],
      }),
    );
    assert.deepEqual(analysis.downCellServers, [INSTANCE]);
    assert.deepEqual(analysis.candidates, []);
  });

  it('reports an active instance with no allocation on its node (the heal_allocations case)', () => {
    const analysis = analyseSweep(
      sweep({
        allocations: allocationMap([
          [A, {}],
          [B, {}],
        ]),
        servers: [
          server(INSTANCE, 'node-a'),
          server(STRANGER, 'node-b', 'ACTIVE', { 'OS-EXT-STS:task_state': 'migrating' }),
        ],
      }),
    );
    assert.deepEqual(
      analysis.missing.map((m) => [m.server.id, m.tree.rootUuid]),
      [[INSTANCE, A]],
    );
  });
});

describe('advanceSuspects', () => {
  const t0 = new Date('2026-01-01T00:00:00Z');
  const later = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
  const key = makeSuspectKey(A, STRANGER);

  it('a first sighting is never due; the same generation ≥ confirm-after later is', () => {
    const first = advanceSuspects(undefined, [{ key, consumerGeneration: 3 }], t0, 60);
    assert.equal(first.due.size, 0);
    const state = { version: 1 as const, sweptAt: t0.toISOString(), suspects: first.next };
    assert.equal(advanceSuspects(state, [{ key, consumerGeneration: 3 }], later(59), 60).due.size, 0);
    const second = advanceSuspects(state, [{ key, consumerGeneration: 3 }], later(60), 60);
    assert.deepEqual([...second.due], [key]);
    assert.equal(second.next[key]?.firstSeenAt, t0.toISOString());
  });

  it('a changed generation starts the window again; a pair no longer seen is forgotten', () => {
    const state = {
      version: 1 as const,
      sweptAt: t0.toISOString(),
      suspects: {
        [key]: { firstSeenAt: t0.toISOString(), consumerGeneration: 3 },
        other: { firstSeenAt: t0.toISOString(), consumerGeneration: 1 },
      },
    };
    const progress = advanceSuspects(state, [{ key, consumerGeneration: 4 }], later(600), 60);
    assert.equal(progress.due.size, 0);
    assert.deepEqual(Object.keys(progress.next), [key]);
    assert.equal(progress.next[key]?.firstSeenAt, later(600).toISOString());
  });
});

describe('openSuspectStore', () => {
  let directory: string;
  beforeEach(async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), 'sd-unit-placement-'));
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('keeps one file per cloud and region and reads back what it wrote', async () => {
    const store = openSuspectStore(directory, 'prod/../x', 'RegionOne', silentLogger);
    assert.ok(store.location.startsWith(path.join(directory, 'placement-orphaned-allocations')));
    assert.equal(path.basename(path.dirname(store.location)), 'placement-orphaned-allocations');
    const state = {
      version: 1 as const,
      sweptAt: 'now',
      suspects: { k: { firstSeenAt: 't', consumerGeneration: null } },
    };
    await store.save(state);
    assert.deepEqual(await store.load(), state);
  });

  it('treats an unreadable file as no earlier sweep (delays, never confirms)', async () => {
    const store = openSuspectStore(directory, 'c', undefined, silentLogger);
    await store.save({ version: 1, sweptAt: 'x', suspects: {} });
    await writeFile(store.location, '{"version": 1, "suspects": [', 'utf8');
    assert.equal(await store.load(), undefined);
  });
});

describe('readSettings', () => {
  it('defaults to a 60 s confirmation window and rejects nonsense', () => {
    assert.deepEqual(readSettings({}), { confirmAfterSeconds: 60, concurrency: 8, placementDb: undefined });
    assert.equal(readSettings({ 'confirm-after': '0' }).confirmAfterSeconds, 0);
    assert.throws(() => readSettings({ 'confirm-after': '-1' }), /whole number/);
    assert.throws(() => readSettings({ concurrency: '0' }), /whole number/);
  });
});

describe('planProviderRemoval', () => {
  const current = {
    allocations: { [A]: { generation: 9, resources: vm }, [B]: { generation: 2, resources: vm } },
    project_id: 'p1',
    user_id: 'u1',
    consumer_generation: 5,
  };

  it('keeps every other provider, journals the full body and probes for exactly that', () => {
    const step = planProviderRemoval(INSTANCE, { uuid: A, name: 'node-a', tree: tree('node-a') }, current);
    assert.deepEqual(step.priorState, current);
    assert.equal(step.apply.kind, 'procedure');
    assert.deepEqual(step.after?.expect, [
      { pointer: `/allocations/${A}`, absent: true },
      { pointer: `/allocations/${B}/resources`, value: vm },
    ]);
    assert.ok(step.undo !== 'irreversible' && step.undo.kind === 'procedure');
    assert.deepEqual(step.undo.args.left, { [B]: vm });
    assert.deepEqual(step.undo.args.allocations, { [A]: vm, [B]: vm });
  });

  it('empties the consumer when this was its only provider', () => {
    const single = { ...current, allocations: { [A]: { generation: 9, resources: vm } } };
    const step = planProviderRemoval(STRANGER, { uuid: A, name: 'node-a', tree: tree('node-a') }, single);
    assert.deepEqual(step.after?.expect, [{ pointer: '/allocations', value: {} }]);
  });
});

function context(
  cloud: FakeNovaPlacement,
  stateDirectory?: string,
  parameters: Record<string, string> = {},
): CheckContext {
  let tick = Date.parse('2026-01-01T00:00:00Z');
  return {
    cloud,
    parameters,
    log: silentLogger,
    signal: new AbortController().signal,
    // Each call is a second later: sweeps are ordered in time without real waiting.
    now: () => {
      tick += 1000;
      return new Date(tick);
    },
    stateDirectory,
  };
}

function buildCloud(): FakeNovaPlacement {
  const cloud = new FakeNovaPlacement();
  cloud.addProvider(
    { uuid: A, name: 'node-a', traits: ['COMPUTE_NODE'] },
    { node: 'node-a', host: 'node-a' },
  );
  cloud.addProvider(
    { uuid: B, name: 'node-b', traits: ['COMPUTE_NODE'] },
    { node: 'node-b', host: 'node-b' },
  );
  cloud.addProvider({ uuid: S, name: 'shared-disk', traits: ['MISC_SHARES_VIA_AGGREGATE'] });
  return cloud;
}

async function detectAll(ctx: CheckContext): Promise<FindingInput[]> {
  const findings: FindingInput[] = [];
  for await (const finding of check.detect(ctx)) findings.push(finding);
  return findings;
}

describe('detect (two sweeps against a fake Nova + Placement)', () => {
  let directory: string;
  beforeEach(async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), 'sd-unit-placement-'));
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('suspects on the first sweep, confirms on the second with the full picture', async () => {
    const cloud = buildCloud();
    cloud.allocate(STRANGER, { [A]: vm, [S]: { DISK_GB: 5 } });
    const ctx = context(cloud, directory, { 'confirm-after': '0' });
    const first = await detectAll(ctx);
    assert.deepEqual(
      first.map((f) => [f.resource.id, f.confidence]),
      [[`${STRANGER}@${A}`, 'suspected']],
    );
    // The first sweep spends no per-item call.
    assert.ok(!cloud.calls.some((call) => call.includes(`/allocations/${STRANGER}`)));
    const second = await detectAll(ctx);
    assert.equal(second[0]?.confidence, 'confirmed');
    const evidence = second[0]?.evidence as JsonObject;
    assert.deepEqual(evidence.resources_elsewhere, { [S]: { DISK_GB: 5 } });
    assert.deepEqual(evidence.consumer, {
      uuid: STRANGER,
      project_id: 'p1',
      user_id: 'u1',
      consumer_generation: 1,
    });
  });

  it('a consumer that becomes an instance between sweeps is not flagged, and one appearing in the second sweep is only suspected', async () => {
    const cloud = buildCloud();
    cloud.allocate(INSTANCE, { [A]: vm });
    const ctx = context(cloud, directory, { 'confirm-after': '0' });
    assert.equal((await detectAll(ctx))[0]?.confidence, 'suspected');
    cloud.servers.push(server(INSTANCE, 'node-a'));
    cloud.allocate(STRANGER, { [B]: vm });
    const second = await detectAll(ctx);
    assert.deepEqual(
      second.map((f) => [f.resource.id, f.confidence]),
      [[`${STRANGER}@${B}`, 'suspected']],
    );
  });

  it('without a state directory nothing is ever confirmed', async () => {
    const cloud = buildCloud();
    cloud.allocate(STRANGER, { [A]: vm });
    const ctx = context(cloud, undefined, { 'confirm-after': '0' });
    await detectAll(ctx);
    const second = await detectAll(ctx);
    assert.equal(second[0]?.confidence, 'suspected');
    assert.match(second[0]?.message ?? '', /no state directory/);
  });

  it('a down cell turns the sweep into one refusal finding', async () => {
    const cloud = buildCloud();
    cloud.allocate(STRANGER, { [A]: vm });
    cloud.servers.push({ id: INSTANCE, status: 'UNKNOWN' });
    const findings = await detectAll(context(cloud, directory));
    assert.deepEqual(
      findings.map((f) => [f.resource.type, f.fixable]),
      [['cell', false]],
    );
  });

  it('the same sweep read through a different Placement reader yields the same findings', async () => {
    const cloud = buildCloud();
    cloud.allocate(STRANGER, { [A]: vm });
    cloud.allocate(INSTANCE, { [A]: vm, [B]: vm });
    cloud.servers.push(server(INSTANCE, 'node-b'));
    const data = await sweepCloud(context(cloud), readSettings({}));
    // The database lists a consumer's classes in its own order.
    const reordered = new Map(
      [...data.allocations].map(([provider, byConsumer]) => [
        provider,
        Object.fromEntries(
          Object.entries(byConsumer).map(([consumer, allocation]) => [
            consumer,
            { ...allocation, resources: Object.fromEntries(Object.entries(allocation.resources).reverse()) },
          ]),
        ),
      ]),
    );
    const collect = async (source: SweepData['source']) => {
      const out: FindingInput[] = [];
      const read = source === 'database' ? { ...data, source, allocations: reordered } : { ...data, source };
      for await (const finding of judgeSweep(read, context(cloud), readSettings({}))) out.push(finding);
      return out.map((f) => [f.resource.id, f.message]);
    };
    assert.deepEqual(await collect('database'), await collect('api'));
    assert.equal((await collect('api')).length, 2);
  });
});

describe('repair procedures', () => {
  const args = (cloud: FakeNovaPlacement, consumer: string) => {
    const step = planProviderRemoval(
      consumer,
      { uuid: A, name: 'node-a', tree: tree('node-a') },
      JSON.parse(JSON.stringify(cloud.consumerBody(consumer))),
    );
    assert.ok(
      step.apply.kind === 'procedure' && step.undo !== 'irreversible' && step.undo.kind === 'procedure',
    );
    return { apply: step.apply.args, undo: step.undo.args };
  };

  it('removes this provider only, with the generation; undo restores the same allocations', async () => {
    const cloud = buildCloud();
    cloud.allocate(INSTANCE, { [A]: vm, [B]: vm });
    cloud.servers.push(server(INSTANCE, 'node-b'));
    const before = cloud.consumers.get(INSTANCE)?.allocations;
    const { apply, undo } = args(cloud, INSTANCE);
    await removeProviderAllocations(apply, context(cloud));
    assert.deepEqual(cloud.consumers.get(INSTANCE)?.allocations, { [B]: vm });
    await restoreConsumerAllocations(undo, context(cloud));
    assert.deepEqual(cloud.consumers.get(INSTANCE)?.allocations, before);
  });

  it('undo of an emptied consumer re-creates it with generation null', async () => {
    const cloud = buildCloud();
    cloud.allocate(STRANGER, { [A]: vm });
    const { apply, undo } = args(cloud, STRANGER);
    await removeProviderAllocations(apply, context(cloud));
    assert.equal(cloud.consumers.has(STRANGER), false);
    await restoreConsumerAllocations(undo, context(cloud));
    assert.deepEqual(cloud.consumers.get(STRANGER)?.allocations, { [A]: vm });
  });

  it('refuses (as a 409 conflict) when the consumer changed or became an instance since the plan', async () => {
    const cloud = buildCloud();
    cloud.allocate(STRANGER, { [A]: vm });
    const { apply } = args(cloud, STRANGER);
    cloud.allocate(STRANGER, { [A]: vm, [B]: vm });
    await assert.rejects(removeProviderAllocations(apply, context(cloud)), (error: unknown) => {
      assert.ok(error instanceof AllocationRepairError);
      assert.equal(error.status, 409);
      return true;
    });
    cloud.servers.push(server(STRANGER, null, 'BUILD'));
    await assert.rejects(removeProviderAllocations(args(cloud, STRANGER).apply, context(cloud)), /now owned/);
    assert.deepEqual(cloud.consumers.get(STRANGER)?.allocations, { [A]: vm, [B]: vm });
  });

  it('undo refuses when the allocations drifted, and names a capacity refusal', async () => {
    const cloud = buildCloud();
    cloud.providers.get(A)!.capacity = { VCPU: 1 };
    cloud.allocate(STRANGER, { [A]: vm });
    const { apply, undo } = args(cloud, STRANGER);
    await removeProviderAllocations(apply, context(cloud));
    cloud.allocate('44444444-4444-4444-4444-444444444444', { [A]: { VCPU: 1 } });
    await assert.rejects(restoreConsumerAllocations(undo, context(cloud)), (error: unknown) => {
      assert.ok(error instanceof AllocationRepairError);
      assert.equal(error.kind, 'allocation-capacity');
      return true;
    });
    cloud.allocate(STRANGER, { [B]: vm });
    await assert.rejects(restoreConsumerAllocations(undo, context(cloud)), (error: unknown) => {
      assert.ok(error instanceof AllocationRepairError);
      assert.equal(error.kind, 'allocation-drift');
      return true;
    });
  });
});

describe('fix and undo through the engine', () => {
  let directory: string;
  beforeEach(async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), 'sd-unit-placement-'));
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  async function confirmedFindings(cloud: FakeNovaPlacement, ctx: CheckContext) {
    await detectAll(ctx);
    const findings = (await detectAll(ctx)).map((input) => completeFinding(check, cloudTarget(cloud), input));
    assert.ok(findings.every((finding) => finding.fixable));
    return findings;
  }

  it('a concurrent write between plan and apply ends in one re-plan and keeps the other change', async () => {
    const cloud = buildCloud();
    cloud.allocate(INSTANCE, { [A]: vm, [B]: vm });
    cloud.servers.push(server(INSTANCE, 'node-b'));
    const ctx = context(cloud, path.join(directory, 'state'), { 'confirm-after': '0' });
    const findings = await confirmedFindings(cloud, ctx);
    const { planned } = await planFixes(
      findings.map((finding) => ({ check, finding })),
      ctx,
    );
    let raced = false;
    cloud.beforePut = (consumer) => {
      if (raced) return;
      raced = true;
      // Nova resizes the live instance on B in between: the consumer generation moves on.
      cloud.allocate(consumer, { [A]: vm, [B]: { VCPU: 2, MEMORY_MB: 512, DISK_GB: 1 } });
    };
    const journal = new Journal(path.join(directory, 'journal'));
    const { outcomes, runId } = await applyFixes(
      planned,
      { journal, ctx, operator: 'test', toolVersion: '0', confirm: async () => false },
      { max: 25, yes: false },
    );
    assert.equal(outcomes[0]?.result, 'fixed');
    assert.deepEqual(
      outcomes[0]?.steps.map((step) => step.status),
      ['conflict', 'applied'],
    );
    assert.deepEqual(cloud.consumers.get(INSTANCE)?.allocations, {
      [B]: { VCPU: 2, MEMORY_MB: 512, DISK_GB: 1 },
    });

    const undo = await applyUndo(await planUndo(journal, runId), {
      journal,
      ctx,
      findCheck: () => check,
      operator: 'test',
      toolVersion: '0',
    });
    assert.deepEqual(
      undo.outcomes.map((o) => o.result),
      ['undone'],
    );
    assert.deepEqual(cloud.consumers.get(INSTANCE)?.allocations, {
      [A]: vm,
      [B]: { VCPU: 2, MEMORY_MB: 512, DISK_GB: 1 },
    });
    const journalText = await readFile(path.join(directory, 'journal', `${runId}.jsonl`), 'utf8');
    assert.match(journalText, /"consumer_generation":/);
  });

  it('the blast-radius cap refuses before anything is written', async () => {
    const cloud = buildCloud();
    cloud.allocate(STRANGER, { [A]: vm });
    cloud.allocate(INSTANCE, { [B]: vm });
    const ctx = context(cloud, path.join(directory, 'state'), { 'confirm-after': '0' });
    const findings = await confirmedFindings(cloud, ctx);
    const { planned } = await planFixes(
      findings.map((finding) => ({ check, finding })),
      ctx,
    );
    const journal = new Journal(path.join(directory, 'journal'));
    await assert.rejects(
      applyFixes(
        planned,
        { journal, ctx, operator: 't', toolVersion: '0', confirm: async () => false },
        { max: 1, yes: false },
      ),
      /--max 1/,
    );
    assert.equal(cloud.consumers.size, 2);
  });
});
