import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { LogScanError } from '../../../src/logs/errors.js';
import { createDefaultHostFromPath, parseHostFromPathRule } from '../../../src/logs/host-from-path.js';
import { type LogFinding, scanLogs } from '../../../src/logs/scan.js';

const fixtures = fileURLToPath(new URL('../fixtures/logs/', import.meta.url));
const guideTraceback = join(fixtures, 'operators-guide-rpcversioncaperror.log');
const guideSelection = join(fixtures, 'operators-guide-rpc-selection.log');
const guideWrappedAllocation = join(fixtures, 'operators-guide-wrapped-allocation.txt');

const orphan = '44c356ef-edd0-43a3-bd46-17aed65ea1a6';
function makeOrphanLine(timestamp: string, instance = orphan): string {
  return `${timestamp} 3558 INFO nova.compute.resource_tracker [req-f76d5408-00f8-4a67-854e-ad3da2098811 - - - - -] Instance ${instance} has allocations against this compute host but is not found in the database.`;
}
function makeNoise(timestamp: string, count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) =>
      `${timestamp} 3558 DEBUG oslo_service.periodic_task [req-f76d5408-00f8-4a67-854e-ad3da2098811 - - - - -] Running periodic task ComputeManager._poll_volume_usage ${i}`,
  );
}
function findOnly(findings: LogFinding[], signatureId: string): LogFinding {
  const found = findings.filter((f) => f.signatureId === signatureId);
  assert.equal(found.length, 1, `one ${signatureId} finding`);
  return found[0] as LogFinding;
}

describe('scanLogs', () => {
  let directory = '';
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'stackdoctor-logs-'));
  });
  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it("counts the operators' RPCVersionCapError traceback once, on its final line, with versions and releases", async () => {
    const result = await scanLogs([guideTraceback]);
    const finding = findOnly(result.findings, 'nova-rpc-version-cap');
    assert.equal(finding.relatedCheck, 'compute/service-versions');
    assert.equal(finding.severity, 'critical');
    assert.equal(finding.evidence.count, 1);
    assert.deepEqual(finding.evidence.firstSeen, {
      timestamp: '12:05:33.840',
      file: guideTraceback,
      line: 17,
      host: null,
    });
    assert.deepEqual(finding.evidence.values, [
      {
        requestedVersion: '5.0',
        capVersion: '4.17',
        capReleases: ['pike'],
        requestedReleases: ['queens', 'rocky'],
        count: 1,
      },
    ]);
  });

  it("extracts RPC version, minimum service version and its release from the operators' selection lines", async () => {
    const result = await scanLogs([guideSelection]);
    const finding = findOnly(result.findings, 'nova-rpc-version-selected');
    assert.equal(finding.evidence.count, 2);
    assert.deepEqual(finding.evidence.values, [
      { computeRpcVersion: '4.17', minimumServiceVersion: 22, minimumServiceRelease: 'pike', count: 1 },
      { computeRpcVersion: '5.0', minimumServiceVersion: 35, minimumServiceRelease: 'rocky', count: 1 },
    ]);
    assert.equal((finding.evidence.firstSeen as { line: number }).line, 1);
    assert.equal((finding.evidence.lastSeen as { timestamp: string }).timestamp, '13:43:15.488');
  });

  it('gives the same findings when the files are read in tiny chunks', async () => {
    const whole = await scanLogs([guideTraceback, guideSelection]);
    const tiny = await scanLogs([guideTraceback, guideSelection], { chunkBytes: 7 });
    assert.deepEqual(tiny.findings, whole.findings);
    assert.equal(tiny.bytesScanned, whole.bytesScanned);
  });

  it('matches the orphaned-allocation line as nova writes it (one line), not as wrapped in a paste', async () => {
    const wrapped = await scanLogs([guideWrappedAllocation]);
    assert.deepEqual(wrapped.findings, []);
    const file = join(directory, 'one-line.log');
    await writeFile(file, `${makeOrphanLine('2024-05-01 15:23:36.136')}\n`);
    const finding = findOnly((await scanLogs([file])).findings, 'nova-orphaned-allocation');
    assert.deepEqual(finding.resource, { type: 'instance', id: orphan });
    assert.equal(finding.relatedCheck, 'placement/orphaned-allocations');
  });

  it('scans a collected <host>/<service>/<file> tree with rotated and gzipped files', async () => {
    const root = join(directory, 'collected');
    const other = '6f1b8c1e-2a47-4b9f-9b0e-1c2d3e4f5a6b';
    await mkdir(join(root, 'hostA', 'nova'), { recursive: true });
    await mkdir(join(root, 'hostB', 'nova'), { recursive: true });
    await writeFile(
      join(root, 'hostA', 'nova', 'nova-compute.log.1'),
      [...makeNoise('2024-05-01 09:00:00.000', 50), makeOrphanLine('2024-05-01 09:30:00.000'), ''].join('\n'),
    );
    await writeFile(
      join(root, 'hostA', 'nova', 'nova-compute.log'),
      [...makeNoise('2024-05-02 09:00:00.000', 10), makeOrphanLine('2024-05-02 10:00:00.000'), ''].join('\n'),
    );
    await writeFile(
      join(root, 'hostB', 'nova', 'nova-compute.log.2.gz'),
      gzipSync(
        [
          makeOrphanLine('2024-04-30 08:00:00.000'),
          makeOrphanLine('2024-04-30 08:00:01.000', other),
          '',
        ].join('\n'),
      ),
    );
    await writeFile(
      join(root, 'hostB', 'nova', 'nova-compute.log'),
      makeNoise('2024-05-02 11:00:00.000', 5).join('\n'),
    );
    await writeFile(join(root, 'hostB', 'nova', 'README'), makeOrphanLine('2024-06-01 00:00:00.000'));

    const result = await scanLogs([root]);
    assert.equal(result.filesScanned, 4, 'README is not a log file');
    assert.deepEqual(result.problems, []);
    const findings = result.findings.filter((f) => f.signatureId === 'nova-orphaned-allocation');
    assert.deepEqual(
      findings.map((f) => f.resource.id),
      [orphan, other].sort(),
    );
    const main = findings.find((f) => f.resource.id === orphan);
    assert.ok(main);
    assert.equal(main.evidence.count, 3);
    assert.deepEqual(main.evidence.hosts, ['hostA', 'hostB']);
    assert.deepEqual(main.evidence.firstSeen, {
      timestamp: '2024-04-30 08:00:00.000',
      file: join(root, 'hostB', 'nova', 'nova-compute.log.2.gz'),
      line: 1,
      host: 'hostB',
    });
    assert.deepEqual(main.evidence.lastSeen, {
      timestamp: '2024-05-02 10:00:00.000',
      file: join(root, 'hostA', 'nova', 'nova-compute.log'),
      line: 11,
      host: 'hostA',
    });
  });

  it('reports a truncated gzip as a problem of that file, keeps what it read, and scans the rest', async () => {
    const root = join(directory, 'truncated');
    await mkdir(root);
    const lines: string[] = [];
    for (let i = 0; i < 2000; i += 1)
      lines.push(...makeNoise('2024-05-01 09:00:00.000', 20), makeOrphanLine('2024-05-01 09:00:01.000'));
    const gz = gzipSync(lines.join('\n'));
    await writeFile(join(root, 'nova-compute.log.1.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
    await writeFile(join(root, 'nova-compute.log'), `${makeOrphanLine('2024-05-02 09:00:00.000')}\n`);

    const result = await scanLogs([root]);
    assert.equal(result.problems.length, 1);
    assert.equal(result.problems[0]?.kind, 'corrupt-gzip');
    assert.equal(result.problems[0]?.path, join(root, 'nova-compute.log.1.gz'));
    assert.equal(result.filesScanned, 2);
    const finding = findOnly(result.findings, 'nova-orphaned-allocation');
    const count = Number(finding.evidence.count);
    assert.ok(count > 1 && count < 2001, `partial count ${count}`);
    assert.equal((finding.evidence.lastSeen as { timestamp: string }).timestamp, '2024-05-02 09:00:00.000');
  });

  it('reports missing paths as problems and goes on', async () => {
    const result = await scanLogs([join(directory, 'absent'), guideSelection]);
    assert.deepEqual(
      result.problems.map((p) => p.kind),
      ['not-found'],
    );
    assert.equal(result.filesScanned, 1);
    assert.equal(findOnly(result.findings, 'nova-rpc-version-selected').evidence.count, 2);
  });

  it('follows symlinks to log files but not to directories', async () => {
    const root = join(directory, 'links');
    await mkdir(join(root, 'real'), { recursive: true });
    await writeFile(join(root, 'real', 'nova-compute.log'), `${makeOrphanLine('2024-05-01 15:23:36.136')}\n`);
    await symlink(join(root, 'real', 'nova-compute.log'), join(root, 'linked.log'));
    await symlink(root, join(root, 'real', 'loop'));
    const result = await scanLogs([root]);
    assert.equal(result.filesScanned, 2);
    assert.equal(findOnly(result.findings, 'nova-orphaned-allocation').evidence.count, 2);
  });

  it('bounds the distinct values kept but reports how many there were', async () => {
    const file = join(directory, 'many.log');
    const lines = Array.from(
      { length: 30 },
      (_, i) =>
        `2024-05-01 12:00:${String(i).padStart(2, '0')}.000 7 INFO nova.compute.rpcapi [-] Automatically selected compute RPC version 6.0 from minimum service version ${40 + i}`,
    );
    await writeFile(file, lines.join('\n'));
    const finding = findOnly(
      (await scanLogs([file], { maxValues: 5 })).findings,
      'nova-rpc-version-selected',
    );
    assert.equal((finding.evidence.values as unknown[]).length, 5);
    assert.equal(finding.evidence.distinctValues, 30);
    assert.equal(finding.evidence.count, 30);
  });

  it("the operators' traceback fixture holds the error text twice, so counting once is meaningful", async () => {
    const text = await readFile(guideTraceback, 'utf8');
    assert.equal(text.split('\n').filter((l) => l.includes('RPCVersionCapError')).length, 2);
  });
});

describe('host from path', () => {
  const defaultRule = createDefaultHostFromPath('ctl1');

  it('names live kolla logs after the local host', () => {
    assert.equal(
      defaultRule({
        absolutePath: '/var/log/kolla/nova/nova-compute.log',
        relativePath: 'nova/nova-compute.log',
      }),
      'ctl1',
    );
  });

  it('takes the segment before var/log/kolla in collected copies of whole hosts', () => {
    assert.equal(
      defaultRule({
        absolutePath: '/tmp/c/compute7/var/log/kolla/nova/nova-compute.log',
        relativePath: 'compute7/var/log/kolla/nova/nova-compute.log',
      }),
      'compute7',
    );
  });

  it('leaves the host unknown for a file given on its own', () => {
    assert.equal(
      defaultRule({ absolutePath: '/tmp/nova-compute.log', relativePath: 'nova-compute.log' }),
      undefined,
    );
  });

  it('applies a --host-from-path rule and rejects one without a host group', () => {
    const rule = parseHostFromPathRule('^logs-(?<host>[^/]+)/');
    assert.equal(rule({ absolutePath: '/x/logs-n1/nova.log', relativePath: 'logs-n1/nova.log' }), 'n1');
    assert.throws(() => parseHostFromPathRule('^([^/]+)/'), LogScanError);
    assert.throws(() => parseHostFromPathRule('(?<host>['), LogScanError);
  });
});
