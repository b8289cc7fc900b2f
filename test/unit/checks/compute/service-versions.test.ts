import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseNovaConfDatabases } from '../../../../src/checks/compute/nova-conf.js';
import { type AnalysisInput, analyse } from '../../../../src/checks/compute/service-analysis.js';
import {
  computeCellMinimum,
  computeMinimumAllCells,
  countsTowardsMinimum,
  describeComputeRpc,
  findOldestSupportedVersion,
  isSupportedSkew,
} from '../../../../src/checks/compute/service-minimum.js';
import { clearForcedDown } from '../../../../src/checks/compute/service-repair.js';
import {
  fillTemplate,
  readServiceRows,
  resolveDatabaseSources,
} from '../../../../src/checks/compute/service-rows.js';
import {
  createServiceVersionsCheck,
  defaultServiceVersionsDeps,
  type ServiceVersionsDeps,
} from '../../../../src/checks/compute/service-versions.js';
import type { CheckContext, Finding, FindingInput } from '../../../../src/core/check.js';
import type { Json } from '../../../../src/core/json.js';
import { silentLogger } from '../../../../src/core/logger.js';
import { completeFinding } from '../../../../src/core/runner.js';
import type { ComputeService } from '../../../../src/openstack/compute.js';
import { HttpError } from '../../../../src/openstack/errors.js';
import {
  describeDatabaseUrl,
  type NovaDatabase,
  NovaDatabaseError,
  openNovaDatabase,
  parseDatabaseUrl,
  type ServiceRow,
} from '../../../../src/openstack/nova-db.js';
import type {
  ApiResponse,
  CloudSession,
  PaginateOptions,
  RequestOptions,
} from '../../../../src/openstack/types.js';

const now = new Date('2026-06-01T12:00:00Z');

function row(fields: Partial<ServiceRow> & { id: number }): ServiceRow {
  return {
    uuid: `00000000-0000-0000-0000-${String(fields.id).padStart(12, '0')}`,
    host: `host-${fields.id}`,
    binary: 'nova-compute',
    topic: 'compute',
    version: 64,
    disabled: false,
    disabled_reason: null,
    forced_down: false,
    report_count: 10,
    last_seen_up: '2026-06-01T11:59:50.000Z',
    created_at: '2020-01-01T00:00:00.000Z',
    updated_at: '2026-06-01T11:59:50.000Z',
    deleted: 0,
    ...fields,
  };
}

function apiOf(r: ServiceRow, fields: Partial<ComputeService> = {}): ComputeService {
  return {
    id: r.uuid ?? '',
    binary: r.binary ?? '',
    host: r.host ?? '',
    zone: 'nova',
    status: r.disabled ? 'disabled' : 'enabled',
    state: 'up',
    forced_down: r.forced_down ?? false,
    updated_at: '2026-06-01T11:59:50.000000',
    disabled_reason: r.disabled_reason,
    ...fields,
  };
}

const conductor = row({ id: 1, binary: 'nova-conductor', topic: 'conductor', host: 'ctl-1' });
const compute1 = row({ id: 2, host: 'sd-compute-1' });
// The runbook's stale hypervisor: stopped, disabled, still at Pike's version.
const stalePike = row({
  id: 3,
  host: 'sd-compute-2',
  version: 22,
  disabled: true,
  disabled_reason: 'retired',
  last_seen_up: '2019-03-01T10:00:00.000Z',
  updated_at: '2019-03-01T10:00:00.000Z',
});
const staleApi = apiOf(stalePike, { state: 'down', updated_at: '2019-03-01T10:00:00.000000' });

function input(fields: Partial<AnalysisInput>): AnalysisInput {
  return {
    services: [],
    database: undefined,
    now,
    downAfterSeconds: 3600,
    action: 'force-down',
    hosts: [],
    logEvidence: undefined,
    loggedMinimum: undefined,
    ...fields,
  };
}

const cellOf = (rows: ServiceRow[]) => ({
  cellUuid: 'c1',
  cellName: 'cell1',
  target: '127.0.0.1:3306/nova',
  rows,
});

describe('the minimum, as Nova computes it', () => {
  it('counts disabled and dead rows, not forced-down or deleted ones, and not forced_down NULL', () => {
    assert.equal(countsTowardsMinimum(stalePike), true);
    assert.equal(countsTowardsMinimum({ ...stalePike, forced_down: true }), false);
    assert.equal(countsTowardsMinimum({ ...stalePike, deleted: 3 }), false);
    assert.equal(countsTowardsMinimum({ ...stalePike, forced_down: null }), false);
  });

  it('takes MIN per binary within a cell, ignoring NULL versions', () => {
    const rows = [compute1, stalePike, row({ id: 9, version: null }), conductor];
    assert.equal(computeCellMinimum(rows, 'nova-compute'), 22);
    assert.equal(computeCellMinimum(rows, 'nova-conductor'), 64);
    assert.equal(computeCellMinimum(rows, 'nova-scheduler'), undefined);
    assert.equal(computeCellMinimum([compute1, { ...stalePike, forced_down: true }], 'nova-compute'), 64);
  });

  it('ignores cells whose minimum is 0 or missing across cells, and returns 0 without computes', () => {
    const cellA = [compute1];
    const cellB = [row({ id: 5, version: 0 }), row({ id: 6, version: 30 })];
    assert.equal(computeMinimumAllCells([cellA, cellB], 'nova-compute'), 64);
    assert.equal(computeMinimumAllCells([cellA, [stalePike]], 'nova-compute'), 22);
    assert.equal(computeMinimumAllCells([[conductor]], 'nova-compute'), 0);
  });

  it('names releases and compute RPC versions, exact only at a shipped version', () => {
    assert.equal(describeComputeRpc(22), '4.17 (Pike)');
    assert.equal(describeComputeRpc(64), '6.1 (Zed)');
    assert.match(describeComputeRpc(25), /^at most 5\.0 \(Queens/);
  });

  it('knows the oldest supported compute per running release (Wallaby onwards)', () => {
    assert.deepEqual(findOldestSupportedVersion(64), { release: 'Yoga', version: 61 });
    assert.deepEqual(findOldestSupportedVersion(56), { release: 'Victoria', version: 52 });
    assert.equal(findOldestSupportedVersion(51), undefined);
    assert.equal(findOldestSupportedVersion(73)?.version, 72);
  });

  it('allows N-1, and N-2 only between skip-level releases', () => {
    assert.equal(isSupportedSkew(61, 64), true); // Yoga - Zed
    assert.equal(isSupportedSkew(60, 64), false); // Xena - Zed
    assert.equal(isSupportedSkew(66, 67), true); // Antelope - Caracal (SLURP)
    assert.equal(isSupportedSkew(64, 67), false); // Zed - Caracal
    assert.equal(isSupportedSkew(64, 64), true);
  });
});

describe('analyse', () => {
  it('names the pinning row, its release and the cap it causes, as a fixable critical finding', () => {
    const findings = analyse(
      input({
        services: [apiOf(conductor), apiOf(compute1), staleApi],
        database: { cells: [cellOf([conductor, compute1, stalePike])], skipped: [] },
      }),
    );
    const pin = findings.find((f) => f.resource.id === stalePike.uuid);
    assert.ok(pin, 'the stale row is reported');
    assert.equal(pin.severity, 'critical');
    assert.equal(pin.fixable, true);
    assert.match(pin.message, /sd-compute-2/);
    assert.match(pin.message, /22 \(Pike\)/);
    assert.match(pin.message, /capped at 4\.17 \(Pike\)/);
    assert.match(pin.message, /TooOldComputeService/);
    const problems = pin.evidence.problems;
    assert.deepEqual(problems, ['pins-compute-rpc-cap', 'older-than-supported', 'disabled-and-down']);
    assert.equal(readPath(pin.evidence, ['deployment', 'computeMinimum']), 22);
    assert.equal(readPath(pin.evidence, ['deployment', 'computeRpcCap']), '4.17');
    assert.equal(readPath(pin.evidence, ['service', 'database', 'release']), 'Pike');
  });

  it('once the row is forced down the minimum moves to the newest and nothing is reported', () => {
    const forced = { ...stalePike, forced_down: true };
    const findings = analyse(
      input({
        services: [
          apiOf(conductor),
          apiOf(compute1),
          apiOf(forced, { state: 'down', updated_at: staleApi.updated_at ?? null }),
        ],
        database: { cells: [cellOf([conductor, compute1, forced])], skipped: [] },
      }),
    );
    assert.deepEqual(
      findings.map((f) => f.resource.id),
      ['compute-rpc-cap'],
    );
    assert.equal(findings[0]?.severity, 'info');
    assert.match(
      findings[0]?.message ?? '',
      /minimum nova-compute version 64 \(Zed\): compute RPC cap 6\.1 \(Zed\)/,
    );
  });

  it('reports a live compute one release behind as an upgrade in progress, not as a pin', () => {
    const yoga = row({ id: 7, host: 'hv-7', version: 61 });
    const findings = analyse(
      input({
        services: [apiOf(conductor), apiOf(compute1), apiOf(yoga)],
        database: { cells: [cellOf([conductor, compute1, yoga])], skipped: [] },
      }),
    );
    assert.deepEqual(
      findings.map((f) => [f.resource.id, f.severity]),
      [
        ['compute-rpc-cap', 'info'],
        ['compute-rpc', 'info'],
      ],
    );
    assert.match(findings[1]?.message ?? '', /upgrade in progress/);
  });

  it('reports skew of more than one release among live services as critical', () => {
    const xena = row({ id: 8, host: 'hv-8', version: 60 });
    const findings = analyse(
      input({
        services: [apiOf(conductor), apiOf(xena)],
        database: { cells: [cellOf([conductor, xena])], skipped: [] },
      }),
    );
    const skew = findings.find((f) => f.resource.id === 'compute-rpc');
    assert.equal(skew?.severity, 'critical');
    assert.match(skew?.message ?? '', /60 \(Xena\)/);
    // The live Xena compute also pins the cap below what the conductor runs.
    assert.equal(findings.find((f) => f.resource.id === xena.uuid)?.severity, 'critical');
  });

  it('without databases still reports from the API, and says the versions were not read', () => {
    const findings = analyse(input({ services: [apiOf(compute1), staleApi] }));
    const stale = findings.find((f) => f.resource.id === stalePike.uuid);
    assert.equal(stale?.severity, 'warning');
    assert.deepEqual(stale?.evidence.problems, ['disabled-and-down']);
    assert.ok(findings.some((f) => f.resource.type === 'nova-database' && f.severity === 'info'));
  });

  it('reports a skipped database as info, next to the API findings', () => {
    const findings = analyse(
      input({
        services: [apiOf(compute1), staleApi],
        database: { cells: [], skipped: [{ target: 'db:3306/nova', reason: 'Access denied' }] },
      }),
    );
    const skipped = findings.find((f) => f.resource.type === 'nova-database');
    assert.equal(skipped?.severity, 'info');
    assert.match(skipped?.message ?? '', /database part skipped for db:3306\/nova: Access denied/);
    assert.ok(findings.some((f) => f.resource.id === stalePike.uuid));
  });

  it('applies the down-after threshold and flags disabled services never seen up', () => {
    const downRecently = apiOf(row({ id: 11, host: 'hv-11' }), {
      state: 'down',
      updated_at: '2026-06-01T11:30:00.000000',
    });
    const neverUp = apiOf(row({ id: 12, host: 'hv-12', disabled: true }), {
      state: 'down',
      updated_at: null,
    });
    assert.deepEqual(
      analyse(input({ services: [downRecently] })).filter((f) => f.resource.type === 'nova-service'),
      [],
    );
    const strict = analyse(input({ services: [downRecently, neverUp], downAfterSeconds: 600 }));
    assert.deepEqual(strict.find((f) => f.resource.id === downRecently.id)?.evidence.problems, [
      'down-too-long',
    ]);
    assert.deepEqual(strict.find((f) => f.resource.id === neverUp.id)?.evidence.problems, [
      'disabled-never-up',
    ]);
  });

  it('offers only delete for other binaries, and nothing for a live service', () => {
    const deadConductor = apiOf(row({ id: 13, binary: 'nova-conductor', host: 'old-ctl', disabled: true }), {
      state: 'down',
      updated_at: '2020-01-01T00:00:00.000000',
    });
    const forceDown = analyse(input({ services: [deadConductor] })).find(
      (f) => f.resource.id === deadConductor.id,
    );
    assert.equal(forceDown?.fixable, false);
    assert.match(forceDown?.message ?? '', /only nova-compute services can be forced down/);
    const deletion = analyse(input({ services: [deadConductor], action: 'delete' })).find(
      (f) => f.resource.id === deadConductor.id,
    );
    assert.equal(deletion?.fixable, true);
  });

  it('limits findings to --set host, while the minimum still counts every row', () => {
    const findings = analyse(
      input({
        services: [apiOf(compute1), staleApi],
        database: { cells: [cellOf([compute1, stalePike])], skipped: [] },
        hosts: ['sd-compute-1'],
      }),
    );
    assert.equal(findings.filter((f) => f.resource.type === 'nova-service').length, 0);
  });

  it('warns when logs show a cap chosen from a lower minimum than today', () => {
    const findings = analyse(
      input({
        services: [apiOf(compute1)],
        database: { cells: [cellOf([compute1])], skipped: [] },
        loggedMinimum: 22,
        logEvidence: [{ signature: 'nova-rpc-version-selected' }],
      }),
    );
    const cached = findings.find((f) => f.severity === 'warning');
    assert.match(cached?.message ?? '', /minimum service version 22 \(Pike\).*now 64 \(Zed\)/);
  });
});

describe('database URLs and nova.conf', () => {
  it('parses nova.conf URLs and never shows the password', () => {
    const url = parseDatabaseUrl('mysql+pymysql://nova:s3cr%40t@db.example:3307/nova_cell1?charset=utf8');
    assert.deepEqual(
      { user: url.user, password: url.password, host: url.host, port: url.port, database: url.database },
      { user: 'nova', password: 's3cr@t', host: 'db.example', port: 3307, database: 'nova_cell1' },
    );
    assert.equal(describeDatabaseUrl(url), 'mysql+pymysql://nova@db.example:3307/nova_cell1');
    assert.equal(parseDatabaseUrl('mysql://nova:x@[::1]/nova').host, '::1');
    assert.equal(parseDatabaseUrl('mysql+pymysql://nova:x@db/nova').port, 3306);
  });

  it('refuses other databases with a one-line error', () => {
    assert.throws(() => parseDatabaseUrl('postgresql://nova:x@db/nova'), NovaDatabaseError);
    assert.throws(() => parseDatabaseUrl('mysql+pymysql://nova:x@db/'), /names no database/);
  });

  it('reports an unreachable database without the password', async () => {
    const url = parseDatabaseUrl('mysql+pymysql://nova:VerySecretPw@127.0.0.1:1/nova');
    await assert.rejects(openNovaDatabase(url, { connectTimeoutMs: 2000 }), (error: unknown) => {
      assert.ok(error instanceof NovaDatabaseError);
      assert.match(error.message, /^cannot connect to nova database 127\.0\.0\.1:1\/nova as nova: /);
      assert.doesNotMatch(`${error.message} ${error.hint ?? ''} ${String(error.cause)}`, /VerySecretPw/);
      return true;
    });
  });

  it('reads both connections from nova.conf', () => {
    const settings = parseNovaConfDatabases(
      '[DEFAULT]\nconnection = wrong\n[api_database]\n# comment\nconnection = mysql+pymysql://a:b@h/nova_api\n[database]\nconnection=mysql+pymysql://a:b@h/nova\n',
    );
    assert.deepEqual(settings, {
      database: 'mysql+pymysql://a:b@h/nova',
      apiDatabase: 'mysql+pymysql://a:b@h/nova_api',
    });
  });

  it('fills templated cell database URLs from the local [database] connection', () => {
    assert.equal(
      fillTemplate(
        '{scheme}://{username}:{password}@{hostname}/nova_cell2',
        'mysql+pymysql://n:p@db:3306/nova',
      ),
      'mysql+pymysql://n:p@db/nova_cell2',
    );
    assert.equal(fillTemplate('{scheme}://x/y', undefined), undefined);
    assert.equal(fillTemplate('mysql://a:b@h/n', undefined), 'mysql://a:b@h/n');
  });

  it('finds the cells through cell_mappings, skipping cell0, and skips an unreachable cell with its reason', async () => {
    const opened: string[] = [];
    const sources = await resolveDatabaseSources(
      { 'nova-api-db': 'mysql+pymysql://n:p@db/nova_api' },
      async () => '',
    );
    const result = await readServiceRows(sources, {
      readTextFile: async () => '',
      openDatabase: async (url) => {
        opened.push(url.database);
        if (url.database === 'nova_cell2')
          throw new NovaDatabaseError('db:3306/nova_cell2', 'cannot connect: ECONNREFUSED');
        return fakeDatabase(url.database, url.database === 'nova' ? [compute1] : []);
      },
    });
    assert.deepEqual(opened, ['nova_api', 'nova', 'nova_cell2']);
    assert.deepEqual(
      result.cells.map((c) => [c.cellName, c.rows.length]),
      [['cell1', 1]],
    );
    assert.deepEqual(result.skipped, [
      { target: 'db:3306/nova_cell2', reason: 'cannot connect: ECONNREFUSED' },
    ]);
  });
});

function fakeDatabase(name: string, rows: ServiceRow[]): NovaDatabase {
  return {
    target: `db:3306/${name}`,
    listServices: async () => rows,
    listCellMappings: async () => [
      {
        id: 1,
        uuid: '00000000-0000-0000-0000-000000000000',
        name: 'cell0',
        database_connection: 'mysql+pymysql://n:p@db/nova_cell0',
        disabled: false,
      },
      {
        id: 2,
        uuid: 'c1',
        name: 'cell1',
        database_connection: 'mysql+pymysql://n:p@db/nova',
        disabled: false,
      },
      {
        id: 3,
        uuid: 'c2',
        name: 'cell2',
        database_connection: 'mysql+pymysql://n:p@db/nova_cell2',
        disabled: false,
      },
    ],
    findHostMapping: async (host) => ({
      id: 1,
      host,
      cell_id: 2,
      cell_uuid: 'c1',
      cell_name: 'cell1',
      created_at: null,
      updated_at: null,
    }),
    close: async () => {},
  };
}

function readPath(value: Json | undefined, keys: string[]): Json | undefined {
  let current = value;
  for (const key of keys) {
    if (Array.isArray(current)) current = current[Number(key)];
    else if (current !== null && typeof current === 'object') current = current[key];
    else return undefined;
  }
  return current;
}

/** Just enough of Nova's API for planning: services, servers by host, migrations, aggregates, hypervisors. */
class FakeNova {
  services: ComputeService[] = [];
  serversByHost = new Map<string, string[]>();
  requests: string[] = [];

  bodyOf(path: string): Json {
    if (path === '/os-services') return { services: this.services.map(toJson) };
    if (path === '/os-aggregates')
      return { aggregates: [{ id: 1, name: 'agg', hosts: ['sd-compute-2'], metadata: {} }] };
    if (path === '/resource_providers') return { resource_providers: [] };
    return {};
  }

  session(): CloudSession {
    const fake = this;
    return {
      cloudName: 'fake',
      region: undefined,
      identity: {
        userId: 'u',
        userName: 'admin',
        userDomain: undefined,
        projectId: 'p',
        projectName: 'admin',
        projectDomain: undefined,
        roles: ['admin'],
        isAdmin: true,
        method: 'password',
        expiresAt: '2099-01-01T00:00:00Z',
      },
      hasService: () => true,
      endpoint: (service) => ({
        serviceType: service,
        interface: 'public',
        region: undefined,
        url: 'fake://',
      }),
      versionInfo: async () => ({ version: '2.1', minMicroversion: '2.1', maxMicroversion: '2.93' }),
      async request<T>(_service: string, options: RequestOptions<T>): Promise<ApiResponse<T>> {
        fake.requests.push(`${options.method ?? 'GET'} ${options.path}`);
        if (!options.schema)
          throw new Error(`the fake answers only schema-checked requests: ${options.path}`);
        const body = options.schema.parse(fake.bodyOf(options.path));
        return { status: 200, headers: new Headers(), body, requestId: undefined };
      },
      async *paginate<T>(_service: string, options: PaginateOptions<T>): AsyncIterable<T> {
        fake.requests.push(`GET ${options.path}`);
        const host = options.query?.host;
        if (options.path === '/servers/detail' && typeof host === 'string') {
          for (const id of fake.serversByHost.get(host) ?? [])
            yield options.itemSchema.parse({ id, status: 'ACTIVE' });
        }
      },
      stream: async () => {
        throw new Error('not used');
      },
      close: async () => {},
    };
  }
}

function toJson(value: unknown): Json {
  const document: Json = JSON.parse(JSON.stringify(value));
  return document;
}

function contextFor(cloud: CloudSession, parameters: Record<string, string>): CheckContext {
  return { cloud, parameters, now: () => now, log: silentLogger, signal: new AbortController().signal };
}

describe('the check: detect, recheck and plan against a fake Nova', () => {
  const deps: ServiceVersionsDeps = {
    readTextFile: async () => '',
    openDatabase: async () => fakeDatabase('nova', [conductor, compute1, stalePike]),
    scanLogs: async () => ({ evidence: [], loggedMinimum: undefined }),
  };
  const check = createServiceVersionsCheck(deps);
  const nova = new FakeNova();
  nova.services = [apiOf(conductor), apiOf(compute1), staleApi];

  async function findingFor(parameters: Record<string, string>): Promise<Finding> {
    const ctx = contextFor(nova.session(), parameters);
    const inputs: FindingInput[] = [];
    for await (const item of check.detect(ctx)) inputs.push(item);
    const pin = inputs.find((f) => f.resource.id === stalePike.uuid);
    assert.ok(pin);
    return completeFinding(check, { kind: 'cloud', name: 'fake' }, pin);
  }

  it('plans force-down as a reversible PUT at 2.53 with a read-back', async () => {
    const parameters = { 'nova-db': 'mysql+pymysql://n:p@db/nova' };
    const finding = await findingFor(parameters);
    const steps = await check.plan?.(finding, contextFor(nova.session(), parameters));
    assert.equal(steps?.length, 1);
    const step = steps?.[0];
    assert.deepEqual(step?.apply, {
      kind: 'http',
      service: 'compute',
      method: 'PUT',
      path: `/os-services/${stalePike.uuid}`,
      microversion: '2.53',
      body: { forced_down: true },
    });
    assert.notEqual(step?.undo, 'irreversible');
    assert.deepEqual(step?.undo, {
      kind: 'procedure',
      name: 'clear-forced-down',
      args: { serviceId: stalePike.uuid, label: 'nova-compute on sd-compute-2', version: 22 },
    });
    // The other compute is at 64: Nova will refuse to bring a version-22 row back, and the plan says so.
    assert.match(step?.describe ?? '', /Nova refuses the undo \(ServiceTooOld\)/);
    assert.equal(step?.after?.path, '/os-services?host=sd-compute-2&binary=nova-compute');
    assert.equal(step?.destructive, undefined);
    assert.equal(readPath(step?.priorState, ['databaseRow', 'version']), 22);
  });

  it('plans delete as an irreversible destructive step that journals aggregates and the host mapping', async () => {
    const parameters = { 'nova-api-db': 'mysql+pymysql://n:p@db/nova_api', action: 'delete' };
    const finding = await findingFor(parameters);
    const steps = await check.plan?.(finding, contextFor(nova.session(), parameters));
    const step = steps?.[0];
    assert.equal(step?.undo, 'irreversible');
    assert.equal(step?.destructive, true);
    assert.equal(step?.apply.kind === 'http' ? step.apply.method : null, 'DELETE');
    assert.deepEqual(readPath(step?.priorState, ['aggregates', '0', 'name']), 'agg');
    assert.equal(readPath(step?.priorState, ['hostMapping', 'cell_name']), 'cell1');
  });

  it('refuses to plan a delete while the host has instances', async () => {
    nova.serversByHost.set('sd-compute-2', ['11111111-1111-1111-1111-111111111111']);
    try {
      const parameters = { 'nova-db': 'mysql+pymysql://n:p@db/nova', action: 'delete' };
      const finding = await findingFor(parameters);
      await assert.rejects(
        check.plan?.(finding, contextFor(nova.session(), parameters)) ?? Promise.resolve(),
        /refusing to delete nova-compute on sd-compute-2: it hosts 1 instance\(s\) \(11111111-1111-1111-1111-111111111111\)/,
      );
      assert.ok(!nova.requests.some((r) => r.startsWith('DELETE')));
    } finally {
      nova.serversByHost.clear();
    }
  });

  it('re-checks to null once the row is forced down', async () => {
    const parameters = { 'nova-db': 'mysql+pymysql://n:p@db/nova' };
    const finding = await findingFor(parameters);
    const forced = { ...stalePike, forced_down: true };
    const after = createServiceVersionsCheck({
      ...deps,
      openDatabase: async () => fakeDatabase('nova', [conductor, compute1, forced]),
    });
    const fresh = new FakeNova();
    fresh.services = [apiOf(conductor), apiOf(compute1), { ...staleApi, forced_down: true }];
    assert.equal(await after.recheck?.(finding, contextFor(fresh.session(), parameters)), null);
  });
});

describe('log evidence', () => {
  it('collects cap selections and RPCVersionCapError lines, and the lowest logged minimum', async () => {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'sd-unit-compute-logs-'));
    try {
      const file = path.join(directory, 'nova-conductor.log');
      writeFileSync(
        file,
        [
          '2024-05-01 12:38:01.998 7 INFO nova.compute.rpcapi [req-1 - - - - -] Automatically selected compute RPC version 4.17 from minimum service version 22',
          '2024-05-01 12:05:33.840 35 ERROR oslo_messaging.rpc.server RPCVersionCapError: Requested message version, 5.0 is incompatible.  It needs to be equal in major version and less than or equal in minor version as the specified version cap 4.17.',
          '2024-05-01 13:43:15.488 7 INFO nova.compute.rpcapi [req-2 - - - - -] Automatically selected compute RPC version 5.0 from minimum service version 35',
          '',
        ].join('\n'),
      );
      const { evidence, loggedMinimum } = await defaultServiceVersionsDeps.scanLogs([file]);
      assert.equal(loggedMinimum, 22);
      assert.deepEqual(evidence.map((e) => e.signature).sort(), [
        'nova-rpc-version-cap',
        'nova-rpc-version-selected',
      ]);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('what force-down may touch', () => {
  it('does not force down an enabled compute that is only down, but deletes it when asked', () => {
    const quiet = apiOf(row({ id: 14, host: 'hv-maint' }), {
      state: 'down',
      updated_at: '2026-06-01T08:00:00.000000',
    });
    const forceDown = analyse(input({ services: [quiet] })).find((f) => f.resource.id === quiet.id);
    assert.equal(forceDown?.severity, 'warning');
    assert.equal(forceDown?.fixable, false);
    assert.match(forceDown?.message ?? '', /enabled and only down/);
    assert.equal(
      analyse(input({ services: [quiet], action: 'delete' })).find((f) => f.resource.id === quiet.id)
        ?.fixable,
      true,
    );
  });
});

describe('an unreadable nova.conf', () => {
  it('is a skipped database part, not an error of the check', async () => {
    const check = createServiceVersionsCheck({
      readTextFile: async (file) => {
        throw new Error(`ENOENT: no such file or directory, open '${file}'`);
      },
      openDatabase: async () => fakeDatabase('nova', []),
      scanLogs: async () => ({ evidence: [], loggedMinimum: undefined }),
    });
    const nova = new FakeNova();
    nova.services = [apiOf(compute1)];
    const found: FindingInput[] = [];
    for await (const item of check.detect(
      contextFor(nova.session(), { 'nova-conf': '/etc/nova/missing.conf' }),
    ))
      found.push(item);
    assert.deepEqual(
      found.map((f) => [f.resource.type, f.severity]),
      [['nova-database', 'info']],
    );
    assert.match(found[0]?.message ?? '', /skipped for nova\.conf \/etc\/nova\/missing\.conf: ENOENT/);
  });
});

describe('undoing a force-down', () => {
  const failingWith = (error: Error): CheckContext => {
    const nova = new FakeNova();
    const session = nova.session();
    return contextFor(
      {
        ...session,
        request: async () => {
          throw error;
        },
      },
      {},
    );
  };
  const args = { serviceId: stalePike.uuid ?? '', label: 'nova-compute on sd-compute-2', version: 22 };

  it("explains Nova's ServiceTooOld refusal", async () => {
    const error = new HttpError({
      service: 'compute',
      method: 'PUT',
      url: 'http://nova/os-services/x',
      status: 500,
      requestId: 'req-1',
      serverMessage: "Unexpected API Error. <class 'nova.exception.ServiceTooOld'>",
      code: undefined,
    });
    await assert.rejects(
      clearForcedDown(args, failingWith(error)),
      /Nova refuses to clear forced_down on nova-compute on sd-compute-2: its row \(version 22 \(Pike\)\) is older than every other counted row/,
    );
  });

  it('explains the refusal while done evacuations exist', async () => {
    const error = new HttpError({
      service: 'compute',
      method: 'PUT',
      url: 'http://nova/os-services/x',
      status: 400,
      requestId: 'req-2',
      serverMessage: 'Service is forced down and has done evacuations',
      code: undefined,
    });
    await assert.rejects(
      clearForcedDown(args, failingWith(error)),
      /Nova refuses to clear forced_down.*evacuations/,
    );
  });
});
