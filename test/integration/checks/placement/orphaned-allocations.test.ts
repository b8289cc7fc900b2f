import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import check, {
  judgeSweep,
  readSettings,
  sweepCloud,
} from '../../../../src/checks/placement/orphaned-allocations.js';
import type { CheckContext, FindingInput } from '../../../../src/core/check.js';
import { applyFixes, planFixes } from '../../../../src/core/fixer.js';
import { Journal } from '../../../../src/core/journal.js';
import { canonicalJson } from '../../../../src/core/json.js';
import { silentLogger } from '../../../../src/core/logger.js';
import { cloudTarget, completeFinding } from '../../../../src/core/runner.js';
import type { CloudSession, RequestOptions, ServiceType } from '../../../../src/openstack/types.js';
import {
  memberCloud,
  openCloud,
  readCloudEnv,
  runCli,
  temporaryJournalDir,
} from '../../../support/integration.js';

/**
 * Against the real local cloud (two fake-driver computes). What it builds, all named or numbered so that a
 * crashed earlier run is cleaned up by the next:
 * - a consumer that is no instance (UUID prefix 5d7e5700-, "sd test");
 * - the allocation of a deleted instance: a server booted on sd-compute-1, deleted (Nova removes its
 *   allocation), then its allocation PUT back as it was — what a delete during a compute outage leaves;
 * - an evacuation-style leftover: a live server on sd-compute-2 whose consumer also holds sd-compute-1;
 * - not to be flagged: a member-project server, with an extra DISK_GB allocation on a sharing provider.
 * Booting costs ~8 s per server, so the servers are shared by every test of this file.
 */

const prefix = 'sd-test-placement-';
const strangerPrefix = '5d7e5700-';
const sharedName = `${prefix}shared`;
const deadNodeName = `${prefix}dead-node`;
const tiny = { VCPU: 1, MEMORY_MB: 64 };

const allocationBody = z.object({
  allocations: z.record(
    z.string(),
    z.object({ resources: z.record(z.string(), z.number()), generation: z.number().optional() }),
  ),
  project_id: z.string().optional(),
  user_id: z.string().optional(),
  consumer_generation: z.number().optional(),
});
type AllocationBody = z.infer<typeof allocationBody>;

async function readAllocations(cloud: CloudSession, consumer: string): Promise<AllocationBody> {
  const response = await cloud.request('placement', {
    path: `/allocations/${consumer}`,
    microversion: '1.28',
    schema: allocationBody,
  });
  return response.body;
}

/** The GET body without the two counters every write moves on (provider and consumer generations). */
function withoutGenerations(body: AllocationBody): string {
  const allocations = Object.fromEntries(
    Object.entries(body.allocations).map(([provider, { resources }]) => [provider, { resources }]),
  );
  return canonicalJson({ allocations, project_id: body.project_id ?? null, user_id: body.user_id ?? null });
}

async function putAllocations(
  cloud: CloudSession,
  consumer: string,
  allocations: Record<string, Record<string, number>>,
  owner: { project: string; user: string },
): Promise<void> {
  const current = await readAllocations(cloud, consumer);
  await cloud.request('placement', {
    method: 'PUT',
    path: `/allocations/${consumer}`,
    microversion: '1.28',
    body: {
      allocations: Object.fromEntries(
        Object.entries(allocations).map(([rp, resources]) => [rp, { resources }]),
      ),
      project_id: current.project_id ?? owner.project,
      user_id: current.user_id ?? owner.user,
      consumer_generation: current.consumer_generation ?? null,
    },
  });
}

async function emptyConsumer(cloud: CloudSession, consumer: string): Promise<void> {
  const current = await readAllocations(cloud, consumer);
  if (
    current.consumer_generation === undefined ||
    current.project_id === undefined ||
    current.user_id === undefined
  )
    return;
  await cloud.request('placement', {
    method: 'PUT',
    path: `/allocations/${consumer}`,
    microversion: '1.28',
    body: {
      allocations: {},
      project_id: current.project_id,
      user_id: current.user_id,
      consumer_generation: current.consumer_generation,
    },
  });
}

const providerList = z.object({
  resource_providers: z.array(z.object({ uuid: z.string(), name: z.string(), generation: z.number() })),
});
const serverList = z.object({ servers: z.array(z.object({ id: z.string(), name: z.string() })) });
const serverShow = z.object({
  server: z.looseObject({
    id: z.string(),
    status: z.string(),
    'OS-EXT-SRV-ATTR:host': z.string().nullable().optional(),
  }),
});

async function providerByName(cloud: CloudSession, name: string) {
  const { body } = await cloud.request('placement', {
    path: '/resource_providers',
    query: { name },
    microversion: '1.14',
    schema: providerList,
  });
  return body.resource_providers[0];
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, seconds = 120): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function bootServer(
  cloud: CloudSession,
  name: string,
  ids: { flavor: string; image: string },
  host?: string,
): Promise<string> {
  const { body } = await cloud.request('compute', {
    method: 'POST',
    path: '/servers',
    microversion: '2.74',
    body: {
      server: {
        name,
        flavorRef: ids.flavor,
        imageRef: ids.image,
        networks: 'none',
        ...(host === undefined ? {} : { host }),
      },
    },
    schema: z.object({ server: z.object({ id: z.string() }) }),
  });
  return body.server.id;
}

async function waitActive(cloud: CloudSession, id: string): Promise<string> {
  return waitFor(`server ${id} ACTIVE`, async () => {
    const { body } = await cloud.request('compute', {
      path: `/servers/${id}`,
      microversion: '2.74',
      schema: serverShow,
    });
    if (body.server.status === 'ERROR') throw new Error(`server ${id} went to ERROR`);
    return body.server.status === 'ACTIVE' ? (body.server['OS-EXT-SRV-ATTR:host'] ?? '') : undefined;
  });
}

/** A provider with inventory and one trait, as an operator (or a dead host's left-over record) would have it. */
async function createProvider(
  cloud: CloudSession,
  name: string,
  inventories: Record<string, { total: number }>,
  trait: string,
): Promise<string> {
  const { body: created } = await cloud.request('placement', {
    method: 'POST',
    path: '/resource_providers',
    microversion: '1.20',
    body: { name },
    schema: z.object({ uuid: z.string(), generation: z.number() }),
  });
  const { body: inventory } = await cloud.request('placement', {
    method: 'PUT',
    path: `/resource_providers/${created.uuid}/inventories`,
    microversion: '1.20',
    body: { resource_provider_generation: created.generation, inventories },
    schema: z.object({ resource_provider_generation: z.number() }),
  });
  await cloud.request('placement', {
    method: 'PUT',
    path: `/resource_providers/${created.uuid}/traits`,
    microversion: '1.20',
    body: { resource_provider_generation: inventory.resource_provider_generation, traits: [trait] },
  });
  return created.uuid;
}

async function bootActive(
  cloud: CloudSession,
  name: string,
  ids: { flavor: string; image: string },
  host?: string,
): Promise<string> {
  // A loaded shared cloud sometimes misses compute heartbeats (NoValidHost): try again, unpinned after the first.
  for (let attempt = 0; ; attempt++) {
    const id = await bootServer(cloud, name, ids, attempt === 0 ? host : undefined);
    try {
      await waitActive(cloud, id);
      return id;
    } catch (error) {
      await deleteServer(cloud, id);
      if (attempt === 2) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10_000));
    }
  }
}

async function deleteServer(cloud: CloudSession, id: string): Promise<void> {
  await cloud.request('compute', { method: 'DELETE', path: `/servers/${id}`, acceptStatus: [204, 404] });
  await waitFor(`server ${id} gone`, async () => {
    const response = await cloud.request('compute', { path: `/servers/${id}`, acceptStatus: [200, 404] });
    return response.status === 404 ? true : undefined;
  });
}

/** Everything this file may have left behind, from this run or a crashed earlier one. */
async function cleanUp(admin: CloudSession, consumers: readonly string[]): Promise<void> {
  const { body: live } = await admin.request('compute', {
    path: '/servers/detail',
    query: { all_tenants: 1, name: `^${prefix}` },
    microversion: '2.69',
    schema: serverList,
  });
  await Promise.all(live.servers.map((server) => deleteServer(admin, server.id)));
  const { body: deleted } = await admin.request('compute', {
    path: '/servers/detail',
    query: { all_tenants: 1, deleted: 'true', name: `^${prefix}` },
    microversion: '2.69',
    schema: serverList,
  });
  const suspects = new Set([...consumers, ...deleted.servers.map((server) => server.id)]);
  for (const name of ['sd-compute-1', 'sd-compute-2']) {
    const provider = await providerByName(admin, name);
    if (!provider) continue;
    const { body } = await admin.request('placement', {
      path: `/resource_providers/${provider.uuid}/allocations`,
      microversion: '1.28',
      schema: z.object({ allocations: z.record(z.string(), z.unknown()) }),
    });
    for (const consumer of Object.keys(body.allocations))
      if (consumer.startsWith(strangerPrefix)) suspects.add(consumer);
  }
  for (const consumer of suspects) await emptyConsumer(admin, consumer);
  for (const name of [sharedName, deadNodeName]) {
    const shared = await providerByName(admin, name);
    if (!shared) continue;
    const { body } = await admin.request('placement', {
      path: `/resource_providers/${shared.uuid}/allocations`,
      microversion: '1.28',
      schema: z.object({ allocations: z.record(z.string(), z.unknown()) }),
    });
    for (const consumer of Object.keys(body.allocations)) {
      const current = await readAllocations(admin, consumer);
      const rest = Object.fromEntries(
        Object.entries(current.allocations)
          .filter(([provider]) => provider !== shared.uuid)
          .map(([provider, { resources }]) => [provider, resources]),
      );
      await putAllocations(admin, consumer, rest, { project: '', user: '' });
    }
    await admin.request('placement', {
      method: 'DELETE',
      path: `/resource_providers/${shared.uuid}`,
      acceptStatus: [204, 404],
    });
  }
}

const findingSchema = z.object({
  resource: z.object({ type: z.string(), id: z.string() }),
  confidence: z.string(),
  fixable: z.boolean(),
  message: z.string(),
  evidence: z.record(z.string(), z.unknown()),
});
const documentSchema = z.object({
  checks: z.array(
    z.object({
      id: z.string(),
      status: z.string(),
      reason: z.string().nullable(),
      findings: z.array(findingSchema),
    }),
  ),
});

async function runCheck(journalDir: string, extra: string[] = []) {
  const result = await runCli([
    'check',
    check.meta.id,
    '-f',
    'json',
    '--os-cloud',
    'stackdoctor-admin',
    '--journal-dir',
    journalDir,
    ...extra,
  ]);
  assert.ok(result.stdout.trim() !== '', `no output; stderr: ${result.stderr}`);
  const document = documentSchema.parse(JSON.parse(result.stdout));
  const ours = document.checks.find((entry) => entry.id === check.meta.id);
  assert.ok(ours, 'the check did not run');
  assert.notEqual(ours.status, 'error', `check failed: ${ours.reason}`);
  assert.notEqual(ours.status, 'skipped', `check skipped: ${ours.reason}`);
  return new Map(ours.findings.map((finding) => [finding.resource.id, finding]));
}

const stateSchema = z.object({
  version: z.literal(1),
  sweptAt: z.string(),
  suspects: z.record(
    z.string(),
    z.object({ firstSeenAt: z.string(), consumerGeneration: z.number().nullable() }),
  ),
});

/**
 * Keeps only `keys` in the check's memory and dates them two minutes back, so that the next sweep (with the
 * default 60 s window) confirms exactly our pairs and nothing else another test may have left in the cloud.
 */
async function ageSuspects(stateDir: string, keys: readonly string[]): Promise<void> {
  const file = path.join(
    stateDir,
    'placement-orphaned-allocations',
    `${encodeURIComponent('stackdoctor-admin@RegionOne')}.json`,
  );
  const state = stateSchema.parse(JSON.parse(await readFile(file, 'utf8')));
  const aged = new Date(Date.now() - 120_000).toISOString();
  const suspects = Object.fromEntries(
    keys.map((key) => {
      const record = state.suspects[key];
      assert.ok(record, `the first sweep did not remember ${key}`);
      return [key, { ...record, firstSeenAt: aged }];
    }),
  );
  await writeFile(file, JSON.stringify({ ...state, suspects }), { mode: 0o600 });
}

describe('placement/orphaned-allocations on the local cloud', () => {
  let admin: CloudSession;
  let member: CloudSession;
  let compute1: string;
  let compute2: string;
  let deletedRp = '';
  let liveRp = '';
  let leftoverRp = '';
  let sharedUuid: string;
  const stranger = `${strangerPrefix}${randomUUID().slice(9)}`;
  let deletedInstance = '';
  let evacuated = '';
  let memberServer = '';
  const owner = { project: '', user: '' };
  const journalDir = temporaryJournalDir();
  const stateDir = path.join(journalDir, 'state');

  before(async () => {
    admin = await openCloud();
    member = await openCloud(memberCloud);
    owner.project = admin.identity.projectId ?? '';
    owner.user = admin.identity.userId;
    await cleanUp(admin, []);
    const one = await providerByName(admin, 'sd-compute-1');
    const two = await providerByName(admin, 'sd-compute-2');
    assert.ok(one && two, 'the local cloud has no sd-compute-1/sd-compute-2 providers');
    compute1 = one.uuid;
    compute2 = two.uuid;

    const { body: flavors } = await admin.request('compute', {
      path: '/flavors',
      schema: z.object({ flavors: z.array(z.object({ id: z.string(), name: z.string() })) }),
    });
    const { body: images } = await admin.request('image', {
      path: '/v2/images',
      query: { name: 'sd-cirros-raw' },
      schema: z.object({ images: z.array(z.object({ id: z.string() })) }),
    });
    const ids = {
      flavor: flavors.flavors.find((f) => f.name === 'sd.tiny')?.id ?? '',
      image: images.images[0]?.id ?? '',
    };
    assert.ok(ids.flavor && ids.image, 'flavor sd.tiny or image sd-cirros-raw missing');

    // Other tests on the shared cloud may disable a compute for a while: pin where asked, fall back to anywhere.
    [deletedInstance, evacuated, memberServer] = await Promise.all([
      bootActive(admin, `${prefix}deleted`, ids, 'sd-compute-1'),
      bootActive(admin, `${prefix}evacuated`, ids),
      bootActive(member, `${prefix}member`, ids),
    ]);

    // The deleted instance: Nova removes its allocation on delete; put it back as it was.
    const leftover = await readAllocations(admin, deletedInstance);
    const bootedOn = Object.keys(leftover.allocations)[0] ?? '';
    assert.ok(
      bootedOn === compute1 || bootedOn === compute2,
      'the deleted server did not allocate on a compute node',
    );
    await deleteServer(admin, deletedInstance);
    await waitFor('the deleted instance to lose its allocation', async () =>
      Object.keys((await readAllocations(admin, deletedInstance)).allocations).length === 0
        ? true
        : undefined,
    );
    // Put back on a live compute, nova-compute's resource tracker deletes a deleted instance's allocation
    // within a minute (it finds the deleted row). It stays where no tracker runs: on the provider of a host
    // that died and was removed from Nova, the case operators meet. So it goes to such a provider.
    deletedRp = await createProvider(
      admin,
      deadNodeName,
      { VCPU: { total: 64 }, MEMORY_MB: { total: 65536 }, DISK_GB: { total: 1000 } },
      'COMPUTE_NODE',
    );
    await putAllocations(
      admin,
      deletedInstance,
      { [deletedRp]: leftover.allocations[bootedOn]?.resources ?? tiny },
      { project: leftover.project_id ?? '', user: leftover.user_id ?? '' },
    );

    // The evacuation leftover: the live instance also holds the other compute node (the "dead" host).
    const live = await readAllocations(admin, evacuated);
    liveRp = Object.keys(live.allocations)[0] ?? '';
    leftoverRp = liveRp === compute1 ? compute2 : compute1;
    const liveResources = live.allocations[liveRp]?.resources;
    assert.ok(
      liveResources && (liveRp === compute1 || liveRp === compute2),
      'the evacuated server is on no compute node',
    );
    await putAllocations(admin, evacuated, { [liveRp]: liveResources, [leftoverRp]: liveResources }, owner);

    await putAllocations(admin, stranger, { [leftoverRp]: tiny }, owner);

    // A sharing provider (shared storage) holding part of the member instance: not a compute node.
    sharedUuid = await createProvider(
      admin,
      sharedName,
      { DISK_GB: { total: 100 } },
      'MISC_SHARES_VIA_AGGREGATE',
    );
    const memberAllocations = await readAllocations(admin, memberServer);
    await putAllocations(
      admin,
      memberServer,
      {
        ...Object.fromEntries(
          Object.entries(memberAllocations.allocations).map(([rp, { resources }]) => [rp, resources]),
        ),
        [sharedUuid]: { DISK_GB: 1 },
      },
      owner,
    );
  });

  after(async () => {
    try {
      if (admin)
        await cleanUp(
          admin,
          [stranger, deletedInstance, evacuated].filter((id) => id !== ''),
        );
    } finally {
      await admin?.close();
      await member?.close();
      await rm(journalDir, { recursive: true, force: true });
    }
  });

  it('suspects on the first sweep, confirms on the second, and flags only what no instance owns', async () => {
    const first = await runCheck(journalDir, ['--set', 'confirm-after=0']);
    for (const key of [
      `${stranger}@${leftoverRp}`,
      `${deletedInstance}@${deletedRp}`,
      `${evacuated}@${leftoverRp}`,
    ]) {
      assert.equal(first.get(key)?.confidence, 'suspected', `${key} in the first sweep`);
      assert.equal(first.get(key)?.fixable, false);
    }
    const second = await runCheck(journalDir, ['--set', 'confirm-after=0']);
    for (const key of [
      `${stranger}@${leftoverRp}`,
      `${deletedInstance}@${deletedRp}`,
      `${evacuated}@${leftoverRp}`,
    ]) {
      assert.equal(second.get(key)?.confidence, 'confirmed', `${key} in the second sweep`);
      assert.equal(second.get(key)?.fixable, true);
    }
    assert.equal(second.get(`${evacuated}@${leftoverRp}`)?.evidence.reason, 'instance-elsewhere');
    assert.deepEqual(
      Object.keys(second.get(`${evacuated}@${leftoverRp}`)?.evidence.resources_elsewhere as object),
      [liveRp],
    );
    const flaggedConsumers = [...second.keys()].map((key) => key.split('@')[0]);
    const flaggedProviders = [...second.keys()].map((key) => key.split('@')[1]);
    assert.ok(!second.has(`${evacuated}@${liveRp}`), 'the live host of the evacuated instance was flagged');
    assert.ok(!flaggedConsumers.includes(memberServer), "another project's live instance was flagged");
    assert.ok(!flaggedProviders.includes(sharedUuid), 'a sharing provider was flagged');
  });

  it('the read-only database path finds exactly what the API path finds', async () => {
    const url = readCloudEnv().STACKDOCTOR_PLACEMENT_DB_URL;
    assert.ok(url, 'cloud.env has no STACKDOCTOR_PLACEMENT_DB_URL');
    const ctx: CheckContext = {
      cloud: admin,
      parameters: {},
      log: silentLogger,
      signal: new AbortController().signal,
      now: () => new Date(),
    };
    const collect = async (parameters: Record<string, string>) => {
      const settings = readSettings(parameters);
      const data = await sweepCloud(ctx, settings);
      const lines: string[] = [];
      for await (const finding of judgeSweep(data, ctx, settings)) {
        // What was checked (source, sweep times) and when a pair was first seen differ by design.
        const { checked: _checked, confirmation: _confirmation, ...evidence } = finding.evidence;
        lines.push(`${finding.resource.id} ${finding.message} ${canonicalJson(evidence)}`);
      }
      return { source: data.source, lines: lines.sort() };
    };
    const api = await collect({});
    const database = await collect({ 'placement-db': url });
    assert.equal(api.source, 'api');
    assert.equal(database.source, 'database');
    assert.ok(api.lines.some((line) => line.startsWith(`${stranger}@${leftoverRp}`)));
    assert.deepEqual(database.lines, api.lines);
  });

  it('reports a live instance that holds no allocation on its node (heal_allocations), detection only', async () => {
    const before = await readAllocations(admin, memberServer);
    const memberOwner = { project: before.project_id ?? '', user: before.user_id ?? '' };
    try {
      await emptyConsumer(admin, memberServer);
      const sweep = await runCheck(journalDir);
      const finding = sweep.get(memberServer);
      assert.equal(finding?.resource.type, 'server');
      assert.equal(finding?.fixable, false);
      assert.match(finding?.message ?? '', /heal_allocations --instance/);
    } finally {
      await putAllocations(
        admin,
        memberServer,
        Object.fromEntries(Object.entries(before.allocations).map(([rp, { resources }]) => [rp, resources])),
        memberOwner,
      );
    }
    assert.equal(withoutGenerations(await readAllocations(admin, memberServer)), withoutGenerations(before));
  });

  it('a consumer appearing between sweeps is only suspected', async () => {
    const newcomer = `${strangerPrefix}${randomUUID().slice(9)}`;
    try {
      await putAllocations(admin, newcomer, { [liveRp]: tiny }, owner);
      const sweep = await runCheck(journalDir, ['--set', 'confirm-after=0']);
      assert.equal(sweep.get(`${newcomer}@${liveRp}`)?.confidence, 'suspected');
      assert.equal(sweep.get(`${stranger}@${leftoverRp}`)?.confidence, 'confirmed');
    } finally {
      await emptyConsumer(admin, newcomer);
    }
  });

  it('fix removes only the orphaned provider; undo restores the allocations exactly', async () => {
    const consumers = [stranger, deletedInstance, evacuated];
    const before = new Map(
      await Promise.all(consumers.map(async (c) => [c, await readAllocations(admin, c)] as const)),
    );
    const fixDir = temporaryJournalDir();
    try {
      await runCheck(fixDir);
      await ageSuspects(path.join(fixDir, 'state'), [
        `${leftoverRp}/${stranger}`,
        `${deletedRp}/${deletedInstance}`,
        `${leftoverRp}/${evacuated}`,
      ]);
      const fix = await runCli([
        'fix',
        check.meta.id,
        '--apply',
        '--os-cloud',
        'stackdoctor-admin',
        '--journal-dir',
        fixDir,
        '-f',
        'json',
      ]);
      assert.equal(fix.code, 0, `fix failed: ${fix.stdout}\n${fix.stderr}`);
      const runId = /journal: run (\S+)/.exec(fix.stderr)?.[1];
      assert.ok(runId, `no run id in: ${fix.stderr}`);

      assert.deepEqual((await readAllocations(admin, stranger)).allocations, {});
      assert.deepEqual((await readAllocations(admin, deletedInstance)).allocations, {});
      const evacuatedNow = await readAllocations(admin, evacuated);
      assert.deepEqual(Object.keys(evacuatedNow.allocations), [liveRp]);
      assert.deepEqual(
        evacuatedNow.allocations[liveRp]?.resources,
        before.get(evacuated)?.allocations[liveRp]?.resources,
      );

      const undo = await runCli([
        'undo',
        runId,
        '--apply',
        '--os-cloud',
        'stackdoctor-admin',
        '--journal-dir',
        fixDir,
      ]);
      assert.equal(undo.code, 0, `undo failed: ${undo.stdout}\n${undo.stderr}`);
      for (const consumer of consumers) {
        assert.equal(
          withoutGenerations(await readAllocations(admin, consumer)),
          withoutGenerations(before.get(consumer) as AllocationBody),
          `${consumer} not restored`,
        );
      }
    } finally {
      await rm(fixDir, { recursive: true, force: true });
    }
  });

  it('a concurrent change between plan and apply ends in a clean re-plan, with no lost update', async () => {
    const raceDir = temporaryJournalDir();
    try {
      let raced = false;
      const racing = racingSession(admin, async (consumer) => {
        if (raced || consumer !== evacuated) return;
        raced = true;
        // Someone resizes the live instance on sd-compute-2 in between: its consumer generation moves on.
        const current = await readAllocations(admin, evacuated);
        await putAllocations(
          admin,
          evacuated,
          {
            [liveRp]: { ...tiny, DISK_GB: 1 },
            [leftoverRp]: current.allocations[leftoverRp]?.resources ?? tiny,
          },
          owner,
        );
      });
      const ctx: CheckContext = {
        cloud: racing,
        parameters: { 'confirm-after': '0' },
        log: silentLogger,
        signal: new AbortController().signal,
        now: () => new Date(),
        stateDirectory: path.join(raceDir, 'state'),
      };
      const detect = async () => {
        const all: FindingInput[] = [];
        for await (const finding of check.detect(ctx)) all.push(finding);
        return all.filter((finding) => finding.resource.id === `${evacuated}@${leftoverRp}`);
      };
      await detect();
      const findings = (await detect()).map((input) => completeFinding(check, cloudTarget(admin), input));
      assert.equal(findings[0]?.fixable, true);
      const { planned } = await planFixes(
        findings.map((finding) => ({ check, finding })),
        ctx,
      );
      const journal = new Journal(path.join(raceDir, 'journal'));
      const { outcomes } = await applyFixes(
        planned,
        { journal, ctx, operator: 'integration-test', toolVersion: '0', confirm: async () => false },
        { max: 1, yes: false },
      );
      assert.equal(raced, true, 'the concurrent change did not happen');
      assert.equal(outcomes[0]?.result, 'fixed', outcomes[0]?.detail);
      assert.deepEqual(
        outcomes[0]?.steps.map((step) => step.status),
        ['conflict', 'applied'],
      );
      const now = await readAllocations(admin, evacuated);
      assert.deepEqual(Object.keys(now.allocations), [liveRp]);
      assert.deepEqual(
        now.allocations[liveRp]?.resources,
        { ...tiny, DISK_GB: 1 },
        'the concurrent change was lost',
      );
    } finally {
      await rm(raceDir, { recursive: true, force: true });
    }
  });
});

/** The admin session, with `beforePut(consumer)` run before each allocation PUT goes out. */
function racingSession(inner: CloudSession, beforePut: (consumer: string) => Promise<void>): CloudSession {
  return {
    cloudName: inner.cloudName,
    region: inner.region,
    identity: inner.identity,
    hasService: (service) => inner.hasService(service),
    endpoint: (service) => inner.endpoint(service),
    versionInfo: (service) => inner.versionInfo(service),
    async request<T>(service: ServiceType, options: RequestOptions<T>) {
      const consumer = /^\/allocations\/([^/]+)$/.exec(options.path)?.[1];
      if (service === 'placement' && options.method === 'PUT' && consumer !== undefined)
        await beforePut(consumer);
      return inner.request(service, options);
    },
    paginate: (service, options) => inner.paginate(service, options),
    stream: (service, options) => inner.stream(service, options),
    close: async () => {},
  };
}
