/**
 * The whole image audit (every image/* check, one shared sweep) over ≥ 10,000 Glance image records, side by
 * side in one run with `openstack image list --long` and a bare paged `GET /v2/images?limit=1000` sweep.
 *
 * Seeds `sd-bench-NNNNN` records that are missing (no data: POST /v2/images with bounded concurrency; every
 * eighth record is hidden, and the properties vary so that every check has something to decide), then times:
 *   1. `openstack --os-cloud stackdoctor-admin image list --long` (python3-openstackclient, a new process);
 *   2. the bare sweep: GET /v2/images?limit=1000 following `next`, one session;
 *   3. the audit: all image checks through the runner, as `stackdoctor check 'image/*'` runs them, one session;
 *   4. the same audit as the CLI, `stackdoctor check 'image/*' -f json` (a new process, auth included).
 * API calls are counted per service with a counting fetch. Records are deleted at the end unless --keep.
 *
 * Records without data stay `queued`, and the checks judge only active images: `--activate` uploads an empty
 * body to each new record (one PUT each, slow on a loaded machine) so that they are active and judged.
 *
 * Usage: node --import tsx bench/image-audit.ts [--count 10000] [--concurrency 16] [--rounds 3] [--activate] [--keep]
 * Needs the local cloud (npm run cloud:up).
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { inspectMultiqueue } from '../src/checks/image/multiqueue.js';
import { inspectOsDistro } from '../src/checks/image/os-distro.js';
import { inspectOsType } from '../src/checks/image/os-type.js';
import { viewImage } from '../src/checks/image/property-check.js';
import { inspectPropertyValues } from '../src/checks/image/property-values.js';
import { judgeImageFormat } from '../src/checks/image/qcow2-format.js';
import { inspectScsiBus } from '../src/checks/image/scsi-bus.js';
import { allChecks } from '../src/checks/index.js';
import { silentLogger } from '../src/core/logger.js';
import { runChecks } from '../src/core/runner.js';
import { indexOsinfo, loadOsinfoDatabase } from '../src/images/osinfo.js';
import { resolveCloudConfig } from '../src/openstack/config.js';
import { type Image, imagePath, listAllImages } from '../src/openstack/image.js';
import { openSession } from '../src/openstack/session.js';
import type { CloudSession } from '../src/openstack/types.js';
import { readCloudEnv, repoRoot } from '../test/support/integration.js';

const benchPrefix = 'sd-bench-';
/** Only this bench's records: other benches use `sd-bench-` too (e.g. `sd-bench-convert-`). */
const benchRecord = /^sd-bench-\d{5}-/;
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string, fallback: number) => {
  const index = argv.indexOf(`--${name}`);
  return index >= 0 ? Number(argv[index + 1]) : fallback;
};
const count = option('count', 10_000);
const concurrency = option('concurrency', 16);

interface Counter {
  calls: Map<string, number>;
  fetch: typeof fetch;
}

function countingFetch(): Counter {
  const calls = new Map<string, number>();
  return {
    calls,
    fetch: (input, init) => {
      const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      const key = `${init?.method ?? 'GET'} :${url.port}${url.pathname.replace(/[0-9a-f-]{36}/g, '{id}')}`;
      calls.set(key, (calls.get(key) ?? 0) + 1);
      return fetch(input, init);
    },
  };
}

async function openAdmin(counter?: Counter): Promise<CloudSession> {
  const env = readCloudEnv();
  const config = await resolveCloudConfig({
    cloudName: 'stackdoctor-admin',
    env: { OS_CLIENT_CONFIG_FILE: env.OS_CLIENT_CONFIG_FILE },
    cwd: os.tmpdir(),
    homeDir: os.tmpdir(),
  });
  return openSession(config, { log: silentLogger, ...(counter ? { fetch: counter.fetch } : {}) });
}

async function mapWithConcurrency<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// Property mixes: clean images, and one of each problem the checks look for.
const variants: Record<string, string>[] = [
  { os_type: 'linux', os_distro: 'ubuntu22.04', hw_vif_multiqueue_enabled: 'true' },
  {},
  { hw_vif_multiqueue_enabled: 'enabled', os_type: 'Linux ' },
  { os_distro: 'ubuntu', os_version: '22.04', hw_scsi_model: 'virtio-scsi' },
  { hw_disk_bus: 'scsi', hw_rng_model: 'virtio' },
  { hw_disk_bus: 'xen', hw_qemu_guest_agent: 'qga' },
  { os_type: 'windows', os_distro: 'win2k22', hw_vif_multiqueue_enabled: 'yes' },
  { os_distro: 'Debian11' },
];
const names = ['ubuntu-22.04', 'golden', 'debian-11', 'Windows Server 2022', 'rocky-9.3', 'cirros-0.5.2'];

const createdSchema = z.object({ id: z.string() }).catchall(z.unknown());

async function seed(cloud: CloudSession): Promise<{ existing: number; created: number; ms: number }> {
  const present = new Set<string>();
  for await (const image of listAllImages(cloud)) {
    const name = image.name ?? '';
    if (benchRecord.test(name)) present.add(name);
  }
  const missing: number[] = [];
  for (let index = 0; index < count; index++) {
    if (!present.has(benchName(index))) missing.push(index);
  }
  const started = performance.now();
  let done = 0;
  let failed = 0;
  await mapWithConcurrency(missing, concurrency, async (index) => {
    try {
      await createRecord(cloud, index);
    } catch (error) {
      // A record that failed is created by the next run; the bench reports how many exist.
      failed++;
      if (failed <= 3)
        process.stderr.write(
          `  ${benchName(index)}: ${error instanceof Error ? error.message : String(error)}\n`,
        );
    }
    if (++done % 500 === 0) process.stderr.write(`  seeded ${done}/${missing.length}\n`);
  });
  return { existing: present.size, created: missing.length - failed, ms: performance.now() - started };
}

async function createRecord(cloud: CloudSession, index: number): Promise<void> {
  const created = await cloud.request('image', {
    method: 'POST',
    path: '/v2/images',
    body: {
      name: benchName(index),
      disk_format: index % 5 === 0 ? 'qcow2' : 'raw',
      container_format: 'bare',
      visibility: index % 3 === 0 ? 'public' : 'private',
      ...(index % 8 === 7 ? { os_hidden: true } : {}),
      ...variants[index % variants.length],
    },
    schema: createdSchema,
    acceptStatus: [201],
  });
  if (!flag('activate')) return;
  const response = await cloud.stream('image', {
    method: 'PUT',
    path: `${imagePath(created.body.id)}/file`,
    body: new Uint8Array(0),
    contentLength: 0,
    acceptStatus: [204, 409],
  });
  await response.body?.cancel();
}

function benchName(index: number): string {
  return `${benchPrefix}${String(index).padStart(5, '0')}-${names[index % names.length]}`;
}

async function cleanUp(cloud: CloudSession): Promise<number> {
  const ids: string[] = [];
  for await (const image of listAllImages(cloud)) if (benchRecord.test(image.name ?? '')) ids.push(image.id);
  await mapWithConcurrency(ids, concurrency, async (id) => {
    await cloud.request('image', { method: 'DELETE', path: imagePath(id), acceptStatus: [204, 404] });
  });
  return ids.length;
}

function runProcess(command: string, args: readonly string[], env: Record<string, string>) {
  return new Promise<{ ms: number; code: number | null; stdoutBytes: number }>((resolve) => {
    const started = performance.now();
    const child = spawn(command, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), ...env },
    });
    let stdoutBytes = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
    });
    child.stderr.resume();
    child.on('close', (code) => resolve({ ms: performance.now() - started, code, stdoutBytes }));
  });
}

/** GET /v2/images?limit=1000 following `next`: the least any full listing must do. */
async function bareSweep(cloud: CloudSession): Promise<number> {
  let images = 0;
  for await (const _ of cloud.paginate('image', {
    path: '/v2/images',
    itemsKey: 'images',
    paging: { kind: 'next', nextKey: 'next' },
    itemSchema: z.unknown(),
    pageSize: 1000,
  })) {
    images++;
  }
  return images;
}

/**
 * The bench records have no data, so they stay queued and the checks skip them. This times the decisions
 * the audit would make if all of them were active: every check's pure inspector over every record.
 */
async function timeDecisions(images: readonly Image[]): Promise<{ ms: number; verdicts: number }> {
  const osinfo = indexOsinfo(await loadOsinfoDatabase());
  const started = performance.now();
  let verdicts = 0;
  const offCeph = { onCeph: false, why: 'bench' };
  for (const record of images) {
    const image = { ...record, status: 'active' };
    const view = viewImage(image, undefined);
    const results = [
      inspectMultiqueue(view),
      inspectScsiBus(view, { cephStores: new Set(), declaredCeph: true }),
      inspectOsType(view, { override: undefined }),
      inspectOsDistro(view, { osinfo, override: undefined }),
      inspectPropertyValues(view),
      judgeImageFormat(image, { kind: 'skipped', reason: 'bench' }, offCeph),
    ];
    verdicts += results.filter((result) => result !== null).length;
  }
  return { ms: performance.now() - started, verdicts };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function total(counter: Counter): number {
  return [...counter.calls.values()].reduce((sum, value) => sum + value, 0);
}

async function main(): Promise<void> {
  const cloudEnv = readCloudEnv();
  const admin = await openAdmin();
  try {
    process.stderr.write(`seeding up to ${count} records (${concurrency} at a time)…\n`);
    const seeded = await seed(admin);
    const imageChecks = allChecks.filter((check) => check.meta.id.startsWith('image/'));

    const openstackCli = await runProcess(
      '/usr/bin/openstack',
      ['--os-cloud', 'stackdoctor-admin', 'image', 'list', '--long', '-f', 'value'],
      {
        OS_CLIENT_CONFIG_FILE: cloudEnv.OS_CLIENT_CONFIG_FILE ?? '',
      },
    );

    // Both in-process contenders start from an authenticated session, so only the image work is timed. They
    // alternate for a few rounds and the medians are compared: the machine's load moves between runs.
    const bareRuns: number[] = [];
    const auditRuns: number[] = [];
    let bareCalls = 0;
    let listed = 0;
    let auditCounter = countingFetch();
    let results: Awaited<ReturnType<typeof runChecks>> = [];
    for (let round = 0; round < option('rounds', 3); round++) {
      const bareCounter = countingFetch();
      const bareSession = await openAdmin(bareCounter);
      await bareSession.versionInfo('image');
      bareCounter.calls.clear();
      let started = performance.now();
      listed = await bareSweep(bareSession);
      bareRuns.push(performance.now() - started);
      bareCalls = total(bareCounter);
      await bareSession.close();

      auditCounter = countingFetch();
      const auditSession = await openAdmin(auditCounter);
      await auditSession.versionInfo('image');
      auditCounter.calls.clear();
      started = performance.now();
      results = await runChecks(
        imageChecks,
        (signal) => ({
          cloud: auditSession,
          parameters: {},
          now: () => new Date(),
          log: silentLogger,
          signal,
        }),
        { concurrency: imageChecks.length, timeoutMs: 600_000 },
      );
      auditRuns.push(performance.now() - started);
      await auditSession.close();
      process.stderr.write(
        `  round ${round + 1}: bare ${Math.round(bareRuns.at(-1)!)} ms, audit ${Math.round(auditRuns.at(-1)!)} ms\n`,
      );
    }
    const bareMs = median(bareRuns);
    const auditMs = median(auditRuns);
    const findings = results.reduce((sum, result) => sum + result.findings.length, 0);
    const failed = results.filter(
      (result) => result.outcome.status === 'error' || result.outcome.status === 'skipped',
    );

    const swept: Image[] = [];
    for await (const image of listAllImages(admin)) swept.push(image);
    const decisions = await timeDecisions(swept);

    const cli = await runProcess(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(repoRoot, 'src/cli/main.ts'),
        'check',
        'image/*',
        '-f',
        'json',
        '--os-cloud',
        'stackdoctor-admin',
      ],
      { OS_CLIENT_CONFIG_FILE: cloudEnv.OS_CLIENT_CONFIG_FILE ?? '', NO_COLOR: '1' },
    );

    const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const lines = [
      `machine: ${os.cpus().length} cores, load average ${os
        .loadavg()
        .map((load) => load.toFixed(1))
        .join(' ')}`,
      `records: ${seeded.existing} present + ${seeded.created} created in ${seconds(seeded.ms)}; the bare sweep listed ${listed} images (all visible)`,
      '',
      '| contender | wall time | API calls | ratio to bare sweep |',
      '|---|---|---|---|',
      `| openstack image list --long (new process) | ${seconds(openstackCli.ms)} | – | ${(openstackCli.ms / bareMs).toFixed(2)}× |`,
      `| bare GET /v2/images?limit=1000 sweep (median; ${bareRuns.map(seconds).join(', ')}) | ${seconds(bareMs)} | ${bareCalls} | 1.00× |`,
      `| image audit, ${imageChecks.length} checks, in-process (median; ${auditRuns.map(seconds).join(', ')}) | ${seconds(auditMs)} | ${total(auditCounter)} | ${(auditMs / bareMs).toFixed(2)}× |`,
      `| stackdoctor check 'image/*' -f json (new process) | ${seconds(cli.ms)} | – | ${(cli.ms / bareMs).toFixed(2)}× |`,
      '',
      `audit: ${findings} findings; listing ${(openstackCli.ms / auditMs).toFixed(1)}× slower than the audit; calls: ${[
        ...auditCounter.calls,
      ]
        .map(([key, value]) => `${key} ×${value}`)
        .join(', ')}`,
      `decisions as if all ${swept.length} swept images were active: ${seconds(decisions.ms)} for 6 checks, ${decisions.verdicts} findings`,
      ...(failed.length > 0
        ? [
            `NOT RUN: ${failed.map((result) => `${result.checkId} ${JSON.stringify(result.outcome)}`).join('; ')}`,
          ]
        : []),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (!flag('keep')) process.stderr.write(`deleted ${await cleanUp(admin)} bench records\n`);
  } finally {
    await admin.close();
  }
}

await main();
