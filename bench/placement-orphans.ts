/**
 * placement/orphaned-allocations at scale, side by side with `nova-manage placement audit --verbose` in one run.
 *
 * Seeds ≥ 500 resource providers (`sd-bench-rp-NNNN`, COMPUTE_NODE trait, no Nova compute node behind them:
 * dead hosts' providers) carrying ≥ 10,000 allocations of consumers that are no instance, measures Placement's
 * peak requests per second, then times: nova-manage's audit, our API sweep, our read-only database sweep, and
 * (with --with-confirmation) the confirming sweep that re-reads each candidate. Each contender runs in its own
 * process so that its peak RSS is its own.
 *
 * Usage: node --import tsx bench/placement-orphans.ts [--providers 500] [--per-provider 20] [--keep] [--with-confirmation]
 *        node --import tsx bench/placement-orphans.ts --cleanup-only   (after --keep)
 * Needs the local cloud (npm run cloud:up). Cleans up what it seeded unless --keep.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { mapWithConcurrency } from '../src/checks/placement/concurrency.js';
import { judgeSweep, readSettings, sweepCloud } from '../src/checks/placement/orphaned-allocations.js';
import type { CheckContext, FindingInput } from '../src/core/check.js';
import { silentLogger } from '../src/core/logger.js';
import { resolveCloudConfig } from '../src/openstack/config.js';
import { HttpError } from '../src/openstack/errors.js';
import { openSession } from '../src/openstack/session.js';
import type { CloudSession } from '../src/openstack/types.js';
import { readCloudEnv } from '../test/support/integration.js';

const benchPrefix = 'sd-bench-rp-';
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string, fallback: number) => {
  const index = argv.indexOf(`--${name}`);
  return index >= 0 ? Number(argv[index + 1]) : fallback;
};

interface CallCounter {
  byService: Map<string, number>;
  fetch: typeof fetch;
}

function countingFetch(ports: Map<string, string>): CallCounter {
  const byService = new Map<string, number>();
  return {
    byService,
    fetch: (input, init) => {
      const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      const service = ports.get(url.port) ?? url.port;
      byService.set(service, (byService.get(service) ?? 0) + 1);
      return fetch(input, init);
    },
  };
}

async function openAdmin(deps: { fetch?: typeof fetch } = {}): Promise<CloudSession> {
  const env = readCloudEnv();
  const config = await resolveCloudConfig({
    cloudName: 'stackdoctor-admin',
    env: { OS_CLIENT_CONFIG_FILE: env.OS_CLIENT_CONFIG_FILE },
    cwd: os.tmpdir(),
    homeDir: os.tmpdir(),
  });
  return openSession(config, { log: silentLogger, ...deps });
}

// ---------------------------------------------------------------------------------------------
// Child: one contender, in its own process.

interface ChildResult {
  mode: string;
  sweepMs: number;
  calls: Record<string, number>;
  findings: number;
  confirmed: number;
  /** sha256 of the sorted `id|message` lines: equal digests = identical findings. */
  digest: string;
  maxRssKiB: number;
}

async function runChild(mode: string): Promise<void> {
  const ports = new Map([
    ['8778', 'placement'],
    ['8774', 'compute'],
    ['5000', 'identity'],
  ]);
  const counter = countingFetch(ports);
  const cloud = await openAdmin({ fetch: counter.fetch });
  const stateDirectory = mkdtempSync(path.join(os.tmpdir(), 'sd-bench-state-'));
  const parameters: Record<string, string> = { 'confirm-after': '0' };
  if (mode === 'database') parameters['placement-db'] = readCloudEnv().STACKDOCTOR_PLACEMENT_DB_URL ?? '';
  const ctx: CheckContext = {
    cloud,
    parameters,
    log: silentLogger,
    signal: new AbortController().signal,
    now: () => new Date(),
    stateDirectory,
  };
  const settings = readSettings(parameters);
  const sweep = async () => {
    const findings: FindingInput[] = [];
    for await (const finding of judgeSweep(await sweepCloud(ctx, settings), ctx, settings))
      findings.push(finding);
    return findings;
  };
  // The confirming sweep needs an earlier one to confirm: run it first, uncounted.
  if (mode === 'confirmation') await sweep();
  counter.byService.clear();
  const started = performance.now();
  const findings = await sweep();
  const sweepMs = performance.now() - started;
  const lines = findings.map((finding) => `${finding.resource.id}|${finding.message}`).sort();
  const result: ChildResult = {
    mode,
    sweepMs,
    calls: Object.fromEntries(counter.byService),
    findings: findings.length,
    confirmed: findings.filter((finding) => finding.confidence !== 'suspected').length,
    digest: createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16),
    maxRssKiB: process.resourceUsage().maxRSS,
  };
  await cloud.close();
  rmSync(stateDirectory, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Parent: seed, measure, compare, clean up.

const providerList = z.object({
  resource_providers: z.array(z.object({ uuid: z.string(), name: z.string() })),
});
const providerAllocations = z.object({
  allocations: z.record(
    z.string(),
    z.object({
      resources: z.record(z.string(), z.number()),
      consumer_generation: z.number().nullable().optional(),
    }),
  ),
});

async function listBenchProviders(cloud: CloudSession): Promise<{ uuid: string; name: string }[]> {
  const { body } = await cloud.request('placement', {
    path: '/resource_providers',
    microversion: '1.14',
    schema: providerList,
  });
  return body.resource_providers.filter((provider) => provider.name.startsWith(benchPrefix));
}

async function seed(cloud: CloudSession, providers: number, perProvider: number): Promise<string[]> {
  const existing = new Map(
    (await listBenchProviders(cloud)).map((provider) => [provider.name, provider.uuid]),
  );
  const names = Array.from(
    { length: providers },
    (_, index) => `${benchPrefix}${String(index).padStart(4, '0')}`,
  );
  const uuids = await mapWithConcurrency(names, 8, async (name) => {
    const known = existing.get(name);
    if (known) return known;
    const { body } = await cloud.request('placement', {
      method: 'POST',
      path: '/resource_providers',
      microversion: '1.20',
      body: { name },
      schema: z.object({ uuid: z.string(), generation: z.number() }),
    });
    const { body: inventory } = await cloud.request('placement', {
      method: 'PUT',
      path: `/resource_providers/${body.uuid}/inventories`,
      microversion: '1.20',
      body: {
        resource_provider_generation: body.generation,
        inventories: {
          VCPU: { total: 100_000 },
          MEMORY_MB: { total: 100_000_000 },
          DISK_GB: { total: 1_000_000 },
        },
      },
      schema: z.object({ resource_provider_generation: z.number() }),
    });
    await cloud.request('placement', {
      method: 'PUT',
      path: `/resource_providers/${body.uuid}/traits`,
      microversion: '1.20',
      body: {
        resource_provider_generation: inventory.resource_provider_generation,
        traits: ['COMPUTE_NODE'],
      },
    });
    return body.uuid;
  });
  const project = cloud.identity.projectId ?? '';
  const user = cloud.identity.userId;
  const empty = await mapWithConcurrency(uuids, 8, async (uuid) => {
    const { body } = await cloud.request('placement', {
      path: `/resource_providers/${uuid}/allocations`,
      microversion: '1.28',
      schema: providerAllocations,
    });
    return Object.keys(body.allocations).length === 0 ? uuid : undefined;
  });
  const batches: string[][] = [];
  const toFill = empty.filter((uuid): uuid is string => uuid !== undefined);
  for (let index = 0; index < toFill.length; index += 5) batches.push(toFill.slice(index, index + 5));
  await mapWithConcurrency(batches, 4, async (batch) => {
    const body: Record<string, unknown> = {};
    for (const uuid of batch) {
      for (let n = 0; n < perProvider; n++) {
        body[randomUUID()] = {
          allocations: { [uuid]: { resources: { VCPU: 1, MEMORY_MB: 128, DISK_GB: 1 } } },
          project_id: project,
          user_id: user,
          consumer_generation: null,
        };
      }
    }
    await cloud.request('placement', {
      method: 'POST',
      path: '/allocations',
      microversion: '1.28',
      body: JSON.parse(JSON.stringify(body)),
    });
  });
  return uuids;
}

async function cleanUp(cloud: CloudSession): Promise<void> {
  const providers = await listBenchProviders(cloud);
  await mapWithConcurrency(providers, 8, async ({ uuid }) => {
    // Placement answers 409 concurrent_update when parallel writes race on its internal generations: read again.
    for (let attempt = 0; ; attempt++) {
      try {
        await cleanUpProvider(cloud, uuid);
        return;
      } catch (error) {
        if (attempt === 3 || !(error instanceof HttpError) || error.status !== 409) throw error;
      }
    }
  });
}

async function cleanUpProvider(cloud: CloudSession, uuid: string): Promise<void> {
  const { body } = await cloud.request('placement', {
    path: `/resource_providers/${uuid}/allocations`,
    microversion: '1.28',
    schema: providerAllocations,
  });
  const emptied: Record<string, unknown> = {};
  for (const [consumer, allocation] of Object.entries(body.allocations)) {
    emptied[consumer] = {
      allocations: {},
      project_id: cloud.identity.projectId ?? '',
      user_id: cloud.identity.userId,
      consumer_generation: allocation.consumer_generation ?? null,
    };
  }
  if (Object.keys(emptied).length > 0) {
    await cloud.request('placement', {
      method: 'POST',
      path: '/allocations',
      microversion: '1.28',
      body: JSON.parse(JSON.stringify(emptied)),
    });
  }
  await cloud.request('placement', {
    method: 'DELETE',
    path: `/resource_providers/${uuid}`,
    acceptStatus: [204, 404],
  });
}

/** Placement's best rate for the sweep's own request (provider allocations), over a few concurrency levels. */
async function measurePeakRate(
  cloud: CloudSession,
  uuids: readonly string[],
): Promise<{ perSecond: number; concurrency: number }> {
  let best = { perSecond: 0, concurrency: 0 };
  for (const concurrency of [1, 4, 8, 16, 32]) {
    const started = performance.now();
    await mapWithConcurrency(uuids, concurrency, (uuid) =>
      cloud.request('placement', { path: `/resource_providers/${uuid}/allocations`, microversion: '1.28' }),
    );
    const perSecond = uuids.length / ((performance.now() - started) / 1000);
    if (perSecond > best.perSecond) best = { perSecond, concurrency };
  }
  return best;
}

interface Measured {
  wallMs: number;
  maxRssKiB: number;
  stdout: string;
  code: number | null;
}

/** Runs a command, measuring its wall time and (through Python's getrusage of children) its peak RSS. */
function measure(command: string, args: readonly string[]): Promise<Measured> {
  const wrapper = [
    '-c',
    'import resource, subprocess, sys\n' +
      'r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)\n' +
      'sys.stdout.buffer.write(r.stdout)\n' +
      'sys.stderr.write("maxrss=%d code=%d\\n" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode))\n',
    command,
    ...args,
  ];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/usr/bin/python3', wrapper, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', () => {
      const match = /maxrss=(\d+) code=(-?\d+)/.exec(stderr);
      if (!match) {
        reject(new Error(`${command}: no measurement (${stderr.slice(-500)})`));
        return;
      }
      resolve({
        wallMs: performance.now() - started,
        maxRssKiB: Number(match[1]),
        stdout,
        code: Number(match[2]),
      });
    });
  });
}

function placementLogRequests(logFile: string, from: number): number | undefined {
  try {
    const text = readFileSync(logFile, 'utf8').slice(from);
    return text.split('\n').filter((line) => / (GET|PUT|POST|DELETE) \/.* => generated /.test(line)).length;
  } catch {
    return undefined;
  }
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

async function runParent(): Promise<void> {
  const providers = option('providers', 500);
  const perProvider = option('per-provider', 20);
  const env = readCloudEnv();
  const cloud = await openAdmin();
  const self = path.resolve(import.meta.dirname, 'placement-orphans.ts');
  try {
    const seeding = performance.now();
    const uuids = await seed(cloud, providers, perProvider);
    console.log(
      `seeded ${uuids.length} providers × ${perProvider} allocations in ${((performance.now() - seeding) / 1000).toFixed(1)} s`,
    );
    const peak = await measurePeakRate(cloud, uuids);
    console.log(
      `Placement peak: ${peak.perSecond.toFixed(0)} requests/s (GET provider allocations, concurrency ${peak.concurrency})`,
    );

    const stateDir = env.STACKDOCTOR_CLOUD_DIR ?? '/var/tmp/stackdoctor-cloud';
    const placementLog = path.join(
      env.STACKDOCTOR_CLOUD_LOG_DIR ?? path.join(stateDir, 'log'),
      'placement.log',
    );
    const logStart = fileSize(placementLog);
    const novaManage = await measure(path.join(stateDir, 'bin', 'nova-manage'), [
      '--config-file',
      env.STACKDOCTOR_NOVA_CONF ?? path.join(stateDir, 'etc', 'nova', 'nova.conf'),
      'placement',
      'audit',
      '--verbose',
    ]);
    const novaManageCalls = placementLogRequests(placementLog, logStart);
    const novaManageOrphans = novaManage.stdout
      .split('\n')
      .filter((line) => /Allocations for consumer UUID/.test(line)).length;

    const modes = ['api', 'database', ...(flag('with-confirmation') ? ['confirmation'] : [])];
    const results: (ChildResult & { processMs: number })[] = [];
    for (const mode of modes) {
      const run = await measure(process.execPath, ['--import', 'tsx', self, '--child', mode]);
      const parsed: ChildResult = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}');
      results.push({ ...parsed, processMs: run.wallMs, maxRssKiB: run.maxRssKiB });
    }

    const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
    const rows: string[][] = [
      [
        'contender',
        'wall (process)',
        'sweep',
        'Placement calls',
        'other calls',
        'vs nova-manage',
        'vs floor',
        'peak RSS',
        'findings',
      ],
      [
        'nova-manage placement audit --verbose',
        `${(novaManage.wallMs / 1000).toFixed(2)} s`,
        '',
        novaManageCalls === undefined ? 'n/a' : String(novaManageCalls),
        'DB queries',
        '1.0×',
        novaManageCalls === undefined
          ? ''
          : `${(novaManage.wallMs / 1000 / (novaManageCalls / peak.perSecond)).toFixed(2)}×`,
        mib(novaManage.maxRssKiB),
        `${novaManageOrphans} orphans (exit ${novaManage.code})`,
      ],
    ];
    for (const result of results) {
      const placementCalls = result.calls.placement ?? 0;
      const other = Object.entries(result.calls)
        .filter(([service]) => service !== 'placement')
        .map(([service, count]) => `${service} ${count}`)
        .join(', ');
      const floorSeconds = placementCalls / peak.perSecond;
      rows.push([
        `stackdoctor ${result.mode} sweep`,
        `${(result.processMs / 1000).toFixed(2)} s`,
        `${(result.sweepMs / 1000).toFixed(2)} s`,
        String(placementCalls),
        other || '-',
        `${(novaManage.wallMs / result.processMs).toFixed(1)}× faster`,
        placementCalls > 0 ? `${(result.sweepMs / 1000 / floorSeconds).toFixed(2)}×` : '-',
        mib(result.maxRssKiB),
        `${result.findings} (${result.confirmed} confirmed) #${result.digest}`,
      ]);
    }
    const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
    for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  '));
    const api = results.find((result) => result.mode === 'api');
    const database = results.find((result) => result.mode === 'database');
    if (api && database) {
      console.log(
        `API and database paths: findings ${api.digest === database.digest ? 'identical' : 'DIFFER'}`,
      );
    }
  } finally {
    if (!flag('keep')) {
      const cleaning = performance.now();
      await cleanUp(cloud);
      console.log(`cleaned up in ${((performance.now() - cleaning) / 1000).toFixed(1)} s`);
    }
    await cloud.close();
  }
}

const childIndex = argv.indexOf('--child');
if (childIndex >= 0) await runChild(argv[childIndex + 1] ?? 'api');
else if (flag('cleanup-only')) {
  const cloud = await openAdmin();
  await cleanUp(cloud);
  await cloud.close();
} else await runParent();
