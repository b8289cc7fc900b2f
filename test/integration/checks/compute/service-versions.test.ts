import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createConnection } from 'mysql2/promise';
import { z } from 'zod';
import { canonicalJson, type Json } from '../../../../src/core/json.js';
import { parseDatabaseUrl } from '../../../../src/openstack/nova-db.js';
import type { CloudSession } from '../../../../src/openstack/types.js';
import {
  adminCloud,
  openCloud,
  readCloudEnv,
  repoRoot,
  runCli,
  temporaryJournalDir,
} from '../../../support/integration.js';

/*
 * Runbook 6 on the real local cloud. The stale row is the real sd-compute-2: stopped with the cloud scripts'
 * own stop_svc, disabled through the API, its `version` set to 22 (Pike) in the cell database. Whatever
 * sd-compute-2 looked like before (seed.sh may have staled it already) is restored afterwards, failure or not.
 * The delete path runs on a third, real nova-compute (sd-test-compute-del) started from a copy of
 * nova-compute-2.conf with another host name.
 */

const checkId = 'compute/service-versions';
const staleHost = 'sd-compute-2';
const deleteHost = 'sd-test-compute-del';
const aggregateName = 'sd-test-compute-agg';
const serverName = 'sd-test-compute-vm';
const microversion = '2.53';
// Nova calls a service down 60 s (service_down_time) after its last heartbeat.
const downWaitMs = 180_000;

const env = readCloudEnv();
const stateDir = env.STACKDOCTOR_CLOUD_DIR ?? '/var/tmp/stackdoctor-cloud';
const cellDbUrl = env.STACKDOCTOR_NOVA_DB_URL ?? '';
const apiDbUrl = env.STACKDOCTOR_NOVA_API_DB_URL ?? '';

const serviceSchema = z
  .object({
    id: z.string(),
    binary: z.string(),
    host: z.string(),
    status: z.string(),
    state: z.string(),
    forced_down: z.boolean(),
    disabled_reason: z.string().nullable(),
  })
  .catchall(z.unknown());
type Service = z.infer<typeof serviceSchema>;

const checkDocumentSchema = z.object({
  exit_code: z.number(),
  checks: z.array(
    z.object({
      id: z.string(),
      status: z.string(),
      findings: z.array(
        z.object({
          severity: z.string(),
          resource: z.object({ type: z.string(), id: z.string() }),
          message: z.string(),
          fixable: z.boolean(),
          evidence: z.record(z.string(), z.unknown()),
        }),
      ),
    }),
  ),
});

/** Runs a function of the cloud scripts' lib.sh (stop_svc, start_nova_compute, svc_pid), as they do. */
function cloudScript(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-c', `. ${path.join(repoRoot, 'test/cloud/lib.sh')}; ${command}`],
      { env: { ...process.env, STACKDOCTOR_CLOUD_DIR: stateDir } },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/**
 * Holds the cloud scripts' lock ($STATE/.lock, flock) for the whole file: this test stops and restarts a
 * compute and edits its row, so up.sh, down.sh and seed.sh must wait until everything is restored. The lock
 * is held by a `flock` child and released when its stdin closes, also when this process dies.
 */
function takeCloudLock(): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const holder = spawn(
      'flock',
      ['-w', '900', path.join(stateDir, '.lock'), 'sh', '-c', 'echo locked; exec cat >/dev/null'],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    holder.once('error', reject);
    holder.once('exit', (code) =>
      reject(new Error(`could not take ${stateDir}/.lock (flock exited ${code})`)),
    );
    holder.stdout.once('data', () => resolve(() => holder.stdin.end()));
  });
}

async function cellSql(sql: string, values: (string | number)[] = []): Promise<unknown[]> {
  const url = parseDatabaseUrl(cellDbUrl);
  const connection = await createConnection({
    host: url.host,
    port: url.port,
    user: url.user,
    password: url.password,
    database: url.database,
  });
  try {
    const [rows] = await connection.query(sql, values);
    return Array.isArray(rows) ? rows : [];
  } finally {
    await connection.end();
  }
}

async function readVersion(host: string): Promise<number> {
  const rows = await cellSql(
    "SELECT version FROM services WHERE host = ? AND `binary` = 'nova-compute' AND deleted = 0",
    [host],
  );
  return (
    z
      .array(z.object({ version: z.number() }))
      .length(1)
      .parse(rows)[0]?.version ?? -1
  );
}

async function setVersion(host: string, version: number): Promise<void> {
  await cellSql(
    "UPDATE services SET version = ? WHERE host = ? AND `binary` = 'nova-compute' AND deleted = 0",
    [version, host],
  );
}

async function findService(cloud: CloudSession, host: string): Promise<Service | undefined> {
  const response = await cloud.request('compute', {
    path: '/os-services',
    query: { host, binary: 'nova-compute' },
    microversion,
    schema: z.object({ services: z.array(serviceSchema) }),
  });
  return response.body.services[0];
}

async function updateService(cloud: CloudSession, id: string, body: Json): Promise<void> {
  // A status change of a stopped compute waits for Nova's RPC timeout (60 s) before answering.
  await cloud.request('compute', {
    method: 'PUT',
    path: `/os-services/${id}`,
    microversion,
    body,
    timeoutMs: 150_000,
  });
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

function parseCheck(stdout: string) {
  const document = checkDocumentSchema.parse(JSON.parse(stdout));
  const check = document.checks.find((c) => c.id === checkId);
  assert.ok(check, `${checkId} is in the report`);
  return { exitCode: document.exit_code, status: check.status, findings: check.findings };
}

function runIdOf(stderr: string): string {
  const match = /journal: run (\S+)/.exec(stderr);
  assert.ok(match?.[1], `the fix run names its journal run: ${stderr}`);
  return match[1];
}

/** The service record without `updated_at`, which Nova bumps on every PUT (also on undo's). */
function comparable(service: Service | undefined): string {
  assert.ok(service);
  const { updated_at: _ignored, ...rest } = service;
  return canonicalJson(JSON.parse(JSON.stringify(rest)));
}

describe(checkId, { timeout: 900_000 }, () => {
  let cloud: CloudSession;
  const journalDir = temporaryJournalDir();
  const cli = (args: string[]) => runCli([...args, '--os-cloud', adminCloud, '--journal-dir', journalDir]);

  let releaseLock: (() => void) | undefined;

  before(async () => {
    releaseLock = await takeCloudLock();
    cloud = await openCloud();
  });
  after(async () => {
    await cloud?.close();
    rmSync(journalDir, { recursive: true, force: true });
    releaseLock?.();
  });

  it('names the stale Pike row and the cap it causes; force-down clears it, undo restores it', async () => {
    const initial = await findService(cloud, staleHost);
    assert.ok(initial, `${staleHost} is registered`);
    const initialVersion = await readVersion(staleHost);
    const wasRunning = (await cloudScript('svc_pid nova-compute-2')).code === 0;
    try {
      // Disabled while still running, as an operator retires a hypervisor: Nova syncs the disabled trait
      // with an RPC call to the compute, which a stopped compute answers only with a 60 s timeout.
      if (initial.status !== 'disabled') {
        await updateService(cloud, initial.id, {
          status: 'disabled',
          disabled_reason: 'sd-test-compute-stale',
        });
      }
      if (wasRunning) assert.equal((await cloudScript('stop_svc nova-compute-2 30')).code, 0);
      await setVersion(staleHost, 22);
      await waitFor(`${staleHost} to be reported down`, downWaitMs, async () =>
        (await findService(cloud, staleHost))?.state === 'down' ? true : undefined,
      );

      const detected = await cli(['check', checkId, '-f', 'json', '--set', `nova-db=${cellDbUrl}`]);
      const report = parseCheck(detected.stdout);
      assert.equal(detected.code, 2, detected.stderr);
      const pin = report.findings.find((f) => f.resource.id === initial.id);
      assert.ok(pin, `the stale row is reported: ${detected.stdout}`);
      assert.equal(pin.severity, 'critical');
      assert.match(pin.message, /sd-compute-2 \(version 22 \(Pike\)/);
      assert.match(pin.message, /compute RPC capped at 4\.17 \(Pike\)/);
      assert.match(pin.message, /TooOldComputeService/);
      assert.equal(pin.fixable, true);
      assert.doesNotMatch(
        detected.stdout + detected.stderr,
        new RegExp(escapeRegExp(parseDatabaseUrl(cellDbUrl).password)),
      );

      const before = comparable(await findService(cloud, staleHost));
      const fixArgs = ['fix', checkId, '--set', `nova-db=${cellDbUrl}`, '--set', `host=${staleHost}`];
      const dryRun = await cli(fixArgs);
      assert.equal(dryRun.code, 4, dryRun.stderr);
      assert.match(dryRun.stdout, /force nova-compute on sd-compute-2 down/);
      assert.equal(
        (await findService(cloud, staleHost))?.forced_down,
        initial.forced_down,
        'a dry run changes nothing',
      );

      const applied = await cli([...fixArgs, '--apply']);
      assert.equal(applied.code, 0, `${applied.stdout}\n${applied.stderr}`);
      assert.match(applied.stdout, /fixed/);
      const runId = runIdOf(applied.stderr);
      assert.equal((await findService(cloud, staleHost))?.forced_down, true);

      const redetected = parseCheck(
        (await cli(['check', checkId, '-f', 'json', '--set', `nova-db=${cellDbUrl}`])).stdout,
      );
      assert.equal(
        redetected.findings.find((f) => f.resource.id === initial.id),
        undefined,
        'the row no longer pins',
      );
      const summary = redetected.findings.find(
        (f) => f.resource.type === 'nova-deployment' && f.resource.id === 'compute-rpc-cap',
      );
      assert.ok(summary, 'the re-detection states the minimum');
      assert.equal(summary.evidence.computeMinimum, 64);
      assert.match(summary.message, /64 \(Zed\).*6\.1/);

      // Nova re-checks a saved row against the minimum of the others: a version-22 row among 64s cannot be
      // brought back (ServiceTooOld). The undo says so and changes nothing.
      const refused = await cli(['undo', runId, '--apply']);
      assert.equal(refused.code, 3, `${refused.stdout}\n${refused.stderr}`);
      assert.match(refused.stdout, /Nova refuses to clear forced_down on nova-compute on sd-compute-2/);
      assert.match(refused.stdout, /ServiceTooOld/);
      assert.equal(
        (await findService(cloud, staleHost))?.forced_down,
        true,
        'a refused undo changes nothing',
      );

      // As when the host is upgraded: its row is at the current version again, and the undo goes through.
      await setVersion(staleHost, 64);
      const undone = await cli(['undo', runId, '--apply']);
      assert.equal(undone.code, 0, `${undone.stdout}\n${undone.stderr}`);
      assert.equal(
        comparable(await findService(cloud, staleHost)),
        before,
        'undo restores the service record',
      );
      const again = parseCheck(
        (await cli(['check', checkId, '-f', 'json', '--set', `nova-db=${cellDbUrl}`])).stdout,
      );
      const row = again.findings.find((f) => f.resource.id === initial.id);
      assert.deepEqual(
        row?.evidence.problems,
        ['disabled-and-down'],
        'back in the minimum, at 64 it pins nothing',
      );
      assert.equal(row?.severity, 'warning');
    } finally {
      await restoreStaleHost(cloud, initial, initialVersion, wasRunning);
    }
  });

  it('skips the database part with its reason on wrong credentials or an unreachable host, and still reports the API', async () => {
    const url = parseDatabaseUrl(cellDbUrl);
    const wrongPassword = cellDbUrl.replace(
      `:${encodeURIComponent(url.password)}@`,
      ':sd-test-wrong-password@',
    );
    assert.notEqual(wrongPassword, cellDbUrl);
    const unreachable = `mysql+pymysql://${url.user}:sd-test-pw@127.0.0.1:1/nova`;
    for (const [given, reason] of [
      [wrongPassword, /Access denied/],
      [unreachable, /ECONNREFUSED/],
    ] as const) {
      const result = await cli([
        'check',
        checkId,
        '-f',
        'json',
        '--set',
        `nova-db=${given}`,
        '--set',
        'down-after=0',
      ]);
      assert.notEqual(result.code, 3, result.stderr);
      const report = parseCheck(result.stdout);
      assert.equal(report.status === 'findings' || report.status === 'ok', true);
      const skipped = report.findings.find((f) => f.resource.type === 'nova-database');
      assert.ok(skipped, result.stdout);
      assert.equal(skipped.severity, 'info');
      assert.match(skipped.message, /database part skipped for 127\.0\.0\.1:\d+\/nova: cannot connect/);
      assert.match(skipped.message, reason);
      assert.match(result.stderr, /database part skipped/);
      assert.doesNotMatch(result.stdout + result.stderr, /sd-test-wrong-password|sd-test-pw/);
      // The API half ran: every service is there to be judged, and the deployment summary is not.
      assert.equal(
        report.findings.some(
          (f) => f.resource.type === 'nova-deployment' && f.resource.id === 'compute-rpc-cap',
        ),
        false,
      );
    }
  });

  it('deletes a down compute without instances (irreversible, journaled), refusing while it hosts one', async () => {
    const minimum = await cellSql(
      "SELECT MIN(version) AS minimum FROM services WHERE `binary` = 'nova-compute' AND deleted = 0 AND forced_down = 0",
    );
    const lowest = z.array(z.object({ minimum: z.number().nullable() })).parse(minimum)[0]?.minimum ?? 0;
    assert.ok(
      lowest >= 61,
      `a nova-compute row at version ${lowest} pins this cloud (seed.sh?): a new compute would refuse to start; run bash test/cloud/seed.sh --undo first`,
    );
    const work = mkdtempSync(path.join(os.tmpdir(), 'sd-test-compute-'));
    let pid: number | undefined;
    try {
      await removeLeftovers(cloud);
      const conf = readFileSync(path.join(stateDir, 'etc/nova/nova-compute-2.conf'), 'utf8')
        .replace(/^host = .*$/m, `host = ${deleteHost}`)
        .replace(/^state_path = .*$/m, `state_path = ${work}/state`)
        .replace(/^instances_path = .*$/m, `instances_path = ${work}/instances`);
      const confPath = path.join(work, 'nova-compute.conf');
      writeFileSync(confPath, conf, { mode: 0o600 });
      chmodSync(work, 0o700);
      const child = spawn(path.join(stateDir, 'bin/nova-compute'), ['--config-file', confPath], {
        detached: true,
        stdio: ['ignore', 'ignore', 'ignore'],
      });
      child.unref();
      pid = child.pid;
      const service = await waitFor(`${deleteHost} to register and report up`, downWaitMs, async () => {
        const found = await findService(cloud, deleteHost);
        return found?.state === 'up' ? found : undefined;
      });
      const discovered = await new Promise<number>((resolve) => {
        execFile(
          path.join(stateDir, 'bin/nova-manage'),
          ['--config-file', path.join(stateDir, 'etc/nova/nova.conf'), 'cell_v2', 'discover_hosts'],
          (error) => resolve(error ? 1 : 0),
        );
      });
      assert.equal(discovered, 0, 'nova-manage cell_v2 discover_hosts maps the new host');

      await createAggregateWith(cloud, deleteHost);
      const serverId = await bootServerOn(cloud, deleteHost);

      process.kill(-(pid ?? 0), 'SIGTERM');
      await waitFor(`${deleteHost} to be reported down`, downWaitMs, async () =>
        (await findService(cloud, deleteHost))?.state === 'down' ? true : undefined,
      );
      pid = undefined;

      const deleteArgs = [
        'fix',
        checkId,
        '--set',
        'action=delete',
        '--set',
        `host=${deleteHost}`,
        '--set',
        'down-after=0',
        '--set',
        `nova-api-db=${apiDbUrl}`,
      ];
      const refused = await cli([...deleteArgs, '--apply', '--yes']);
      assert.match(
        refused.stdout,
        /refusing to delete nova-compute on sd-test-compute-del: it hosts 1 instance\(s\)/,
      );
      assert.ok(await findService(cloud, deleteHost), 'nothing was deleted');

      await cloud.request('compute', { method: 'DELETE', path: `/servers/${serverId}` });
      await waitFor('the server to be gone', 120_000, async () => {
        const response = await cloud.request('compute', {
          path: `/servers/${serverId}`,
          acceptStatus: [200, 404],
        });
        return response.status === 404 ? true : undefined;
      });

      const withoutYes = await cli([...deleteArgs, '--apply']);
      assert.match(withoutYes.stdout, /declined|needs confirmation/);
      assert.ok(await findService(cloud, deleteHost), 'a destructive step needs --yes');

      const plan = await cli(deleteArgs);
      assert.match(plan.stdout, /IRREVERSIBLE/);
      assert.match(plan.stdout, /irreversible/);

      const applied = await cli([...deleteArgs, '--apply', '--yes']);
      assert.equal(applied.code, 0, `${applied.stdout}\n${applied.stderr}`);
      assert.equal(await findService(cloud, deleteHost), undefined, 'the service is gone');
      const runId = runIdOf(applied.stderr);

      const journal = await cli(['journal', runId, '-f', 'json']);
      assert.equal(journal.code, 0, journal.stderr);
      assert.match(journal.stdout, new RegExp(service.id));
      assert.match(journal.stdout, new RegExp(aggregateName));
      assert.match(journal.stdout, /"cell_name": "cell1"/);
      assert.match(journal.stdout, /resourceProviders/);

      const undo = await cli(['undo', runId]);
      assert.match(undo.stdout, /irreversible/);
    } finally {
      if (pid !== undefined) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      rmSync(work, { recursive: true, force: true });
      // By name: whatever this run created (server, aggregate, service), even if it failed half-way.
      await removeLeftovers(cloud);
    }
  });
});

/** Puts sd-compute-2 back as it was; every step is tried even when an earlier one fails. */
async function restoreStaleHost(
  cloud: CloudSession,
  initial: Service,
  version: number,
  wasRunning: boolean,
): Promise<void> {
  const failures: string[] = [];
  const attempt = async (what: string, step: () => Promise<void>) => {
    try {
      await step();
    } catch (error) {
      failures.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  // The version first: a nova-compute refuses to start while a row below Yoga (61) counts.
  await attempt('restore the version column', () => setVersion(staleHost, version));
  await attempt('restore forced_down', async () => {
    const now = await findService(cloud, staleHost);
    if (now !== undefined && now.forced_down !== initial.forced_down) {
      await updateService(cloud, now.id, { forced_down: initial.forced_down });
    }
  });
  if (wasRunning) {
    await attempt('restart nova-compute-2', async () => {
      const started = await cloudScript('start_nova_compute 2');
      if (started.code !== 0) throw new Error(started.stderr);
      await waitFor(`${staleHost} to be up again`, downWaitMs, async () =>
        (await findService(cloud, staleHost))?.state === 'up' ? true : undefined,
      );
    });
  }
  // Status last: with the compute running again, Nova's trait sync answers at once.
  await attempt('restore the status', async () => {
    const now = await findService(cloud, staleHost);
    if (now === undefined || now.status === initial.status) return;
    await updateService(
      cloud,
      now.id,
      initial.status === 'enabled'
        ? { status: 'enabled' }
        : { status: 'disabled', disabled_reason: initial.disabled_reason ?? '' },
    );
  });
  // The runbook's last step, so that no process keeps a cap it may have chosen from version 22 meanwhile.
  await attempt('SIGHUP conductor and compute', async () => {
    await cloudScript(
      'for s in nova-conductor nova-compute-1; do p=$(svc_pid $s) && kill -HUP $p; done; true',
    );
  });
  if (failures.length > 0) throw new Error(`restoring ${staleHost} failed: ${failures.join('; ')}`);
}

async function removeLeftovers(cloud: CloudSession): Promise<void> {
  const aggregates = await cloud.request('compute', {
    path: '/os-aggregates',
    schema: z.object({ aggregates: z.array(aggregateSchema) }),
  });
  for (const aggregate of aggregates.body.aggregates.filter((a) => a.name === aggregateName)) {
    await deleteAggregate(cloud, aggregate.id);
  }
  const servers = await cloud.request('compute', {
    path: '/servers',
    query: { all_tenants: 1, name: `^${serverName}$` },
    schema: z.object({ servers: z.array(z.object({ id: z.string() })) }),
  });
  for (const server of servers.body.servers) {
    await cloud.request('compute', {
      method: 'DELETE',
      path: `/servers/${server.id}`,
      acceptStatus: [204, 404],
    });
  }
  const service = await findService(cloud, deleteHost);
  if (service !== undefined) {
    await waitFor('leftover servers to be gone', 120_000, async () => {
      const left = await cloud.request('compute', {
        path: '/servers',
        query: { all_tenants: 1, host: deleteHost },
        schema: z.object({ servers: z.array(z.object({ id: z.string() })) }),
      });
      return left.body.servers.length === 0 ? true : undefined;
    });
    await cloud.request('compute', {
      method: 'DELETE',
      path: `/os-services/${service.id}`,
      microversion,
      acceptStatus: [204, 404],
    });
  }
}

const aggregateSchema = z.object({
  id: z.number(),
  name: z.string(),
  hosts: z.array(z.string()).nullable().optional(),
});

async function createAggregateWith(cloud: CloudSession, host: string): Promise<void> {
  const existing = await cloud.request('compute', {
    path: '/os-aggregates',
    schema: z.object({ aggregates: z.array(aggregateSchema) }),
  });
  for (const aggregate of existing.body.aggregates.filter((a) => a.name === aggregateName))
    await deleteAggregate(cloud, aggregate.id);
  const created = await cloud.request('compute', {
    method: 'POST',
    path: '/os-aggregates',
    body: { aggregate: { name: aggregateName } },
    schema: z.object({ aggregate: aggregateSchema }),
  });
  const id = created.body.aggregate.id;
  await cloud.request('compute', {
    method: 'POST',
    path: `/os-aggregates/${id}/action`,
    body: { add_host: { host } },
  });
}

async function deleteAggregate(cloud: CloudSession, id: number): Promise<void> {
  const current = await cloud.request('compute', {
    path: `/os-aggregates/${id}`,
    acceptStatus: [200, 404],
  });
  if (current.status === 404) return;
  const aggregate = z.object({ aggregate: aggregateSchema }).parse(current.body).aggregate;
  for (const host of aggregate.hosts ?? []) {
    await cloud.request('compute', {
      method: 'POST',
      path: `/os-aggregates/${id}/action`,
      body: { remove_host: { host } },
    });
  }
  await cloud.request('compute', {
    method: 'DELETE',
    path: `/os-aggregates/${id}`,
    acceptStatus: [200, 204, 404],
  });
}

async function bootServerOn(cloud: CloudSession, host: string): Promise<string> {
  const flavors = await cloud.request('compute', {
    path: '/flavors',
    schema: z.object({ flavors: z.array(z.object({ id: z.string(), name: z.string() })) }),
  });
  const flavor = flavors.body.flavors.find((f) => f.name === 'sd.tiny');
  assert.ok(flavor, 'the cloud has the sd.tiny flavor');
  const images = await cloud.request('image', {
    path: '/v2/images',
    query: { name: 'sd-cirros-raw' },
    schema: z.object({ images: z.array(z.object({ id: z.string(), status: z.string() })) }),
  });
  const image = images.body.images.find((i) => i.status === 'active');
  assert.ok(image, 'the cloud has the sd-cirros-raw image');
  const created = await cloud.request('compute', {
    method: 'POST',
    path: '/servers',
    microversion: '2.74',
    body: { server: { name: serverName, flavorRef: flavor.id, imageRef: image.id, networks: 'none', host } },
    schema: z.object({ server: z.object({ id: z.string() }) }),
  });
  const id = created.body.server.id;
  await waitFor(`server ${serverName} to be ACTIVE on ${host}`, 180_000, async () => {
    const response = await cloud.request('compute', {
      path: `/servers/${id}`,
      microversion: '2.74',
      schema: z.object({
        server: z.object({ status: z.string(), 'OS-EXT-SRV-ATTR:host': z.string().nullable().optional() }),
      }),
    });
    const { status } = response.body.server;
    if (status === 'ERROR') throw new Error(`server ${serverName} went to ERROR`);
    return status === 'ACTIVE' ? response.body.server['OS-EXT-SRV-ATTR:host'] : undefined;
  }).then((placed) => assert.equal(placed, host));
  return id;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
