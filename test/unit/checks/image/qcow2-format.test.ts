import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import qcow2Format, {
  headBytes,
  inspectHead,
  judgeImageFormat,
} from '../../../../src/checks/image/qcow2-format.js';
import type { FindingInput } from '../../../../src/core/check.js';
import { silentLogger } from '../../../../src/core/logger.js';
import { type Image, readImageHead } from '../../../../src/openstack/image.js';
import { ImageMemoryCloud } from './image-cloud.js';

/** A qcow2 v3 header as qemu-img writes it (reference §7.3), optionally with a backing file. */
function qcow2Header(options: { backingFileOffset?: number } = {}): Uint8Array {
  const bytes = new Uint8Array(headBytes);
  const view = new DataView(bytes.buffer);
  bytes.set([0x51, 0x46, 0x49, 0xfb], 0);
  view.setUint32(4, 3);
  view.setBigUint64(8, BigInt(options.backingFileOffset ?? 0));
  view.setUint32(16, options.backingFileOffset ? 8 : 0);
  view.setUint32(20, 16);
  view.setBigUint64(24, 1n << 30n);
  view.setUint32(36, 2);
  view.setBigUint64(40, 0x30000n);
  view.setBigUint64(48, 0x10000n);
  view.setUint32(56, 1);
  view.setUint32(96, 4);
  view.setUint32(100, 112);
  if (options.backingFileOffset)
    bytes.set(new TextEncoder().encode('/etc/passwd\0'), options.backingFileOffset);
  return bytes;
}

const image = (fields: Record<string, unknown>): Image => ({
  id: '11111111-2222-3333-4444-555555555555',
  name: 'img',
  status: 'active',
  size: 1 << 20,
  ...fields,
});
const offCeph = { onCeph: false, why: 'Glance reports no RBD store or location' };
const onCeph = { onCeph: true, why: 'store "ceph" is RBD' };
const notRead = { kind: 'skipped', reason: '--set read_headers=no' } as const;

describe('image/qcow2-format decisions', () => {
  it('raw images whose bytes are raw are fine, on Ceph or not', async () => {
    const head = {
      kind: 'read',
      status: 206,
      inspection: await inspectHead(new Uint8Array(headBytes), 'raw'),
    } as const;
    assert.equal(judgeImageFormat(image({ disk_format: 'raw' }), head, onCeph), null);
    assert.equal(judgeImageFormat(image({ disk_format: 'raw' }), head, offCeph), null);
  });

  const labelCases: [string, Record<string, unknown>, typeof onCeph, string | null][] = [
    ['qcow2 on Ceph is critical', { disk_format: 'qcow2' }, onCeph, 'critical'],
    ['qcow2 elsewhere is a warning', { disk_format: 'qcow2' }, offCeph, 'warning'],
    ['vmdk on Ceph is critical (no RBD clone either)', { disk_format: 'vmdk' }, onCeph, 'critical'],
    ['vmdk elsewhere is not this check’s business', { disk_format: 'vmdk' }, offCeph, null],
    ['iso on Ceph clones fine', { disk_format: 'iso' }, onCeph, null],
  ];
  for (const [title, fields, ceph, severity] of labelCases) {
    it(title, () => {
      const finding = judgeImageFormat(image(fields), notRead, ceph);
      assert.equal(finding?.severity ?? null, severity);
      if (finding) {
        assert.equal(finding.fixable, false);
        assert.match(finding.message, /stackdoctor image convert 11111111-2222-3333-4444-555555555555/);
      }
    });
  }

  it('flags a raw-labelled image whose bytes are qcow2 as critical, whatever the store', async () => {
    const head = { kind: 'read', status: 206, inspection: await inspectHead(qcow2Header(), 'raw') } as const;
    const finding = judgeImageFormat(image({ disk_format: 'raw' }), head, offCeph) as FindingInput;
    assert.equal(finding.severity, 'critical');
    assert.match(finding.message, /disk_format is raw but the data is qcow2/);
    assert.equal(finding.evidence.detected_format, 'qcow2');
    assert.equal(finding.evidence.header_read, 'range (206)');
  });

  it('reports a backing file in the header as unsafe', async () => {
    const head = {
      kind: 'read',
      status: 206,
      inspection: await inspectHead(qcow2Header({ backingFileOffset: 0x200 }), 'qcow2'),
    } as const;
    const finding = judgeImageFormat(image({ disk_format: 'qcow2' }), head, offCeph) as FindingInput;
    assert.equal(finding.severity, 'critical');
    assert.deepEqual(finding.evidence.header_problems, ['qcow2.backing-file']);
  });

  it('ignores what a head-only read cannot settle (tables beyond 64 KiB)', async () => {
    const inspection = await inspectHead(qcow2Header(), 'qcow2');
    assert.deepEqual(inspection.problems, []);
    assert.equal(inspection.format, 'qcow2');
  });
});

describe('readImageHead', () => {
  it('asks for a byte range and takes the 206 answer', async () => {
    const cloud = new ImageMemoryCloud();
    cloud.data.set('a', { bytes: qcow2Header(), honourRange: true });
    const head = await readImageHead(cloud, 'a', headBytes);
    assert.equal(head?.status, 206);
    assert.equal(head?.bytes.length, headBytes);
    assert.deepEqual(cloud.streams, [{ path: '/v2/images/a/file', range: 'bytes=0-65535' }]);
  });

  it('stops reading and cancels the body when the server sends the whole image', async () => {
    const cloud = new ImageMemoryCloud();
    cloud.data.set('b', { bytes: new Uint8Array(10 * headBytes), honourRange: false });
    const head = await readImageHead(cloud, 'b', headBytes);
    assert.equal(head?.status, 200);
    assert.equal(head?.bytes.length, headBytes);
    // one chunk read, at most one more pulled ahead by the stream's queue: never the 10 the image has
    assert.ok((cloud.chunksSent[0] ?? 0) <= 2, `pulled ${cloud.chunksSent[0]} chunks`);
  });

  it('returns null for an image without data (204)', async () => {
    assert.equal(await readImageHead(new ImageMemoryCloud(), 'none', headBytes), null);
  });
});

describe('image/qcow2-format detect', () => {
  it('reads the head of active images with data only, and judges each', async () => {
    const cloud = new ImageMemoryCloud();
    cloud.addImage({
      id: '00000000-0000-0000-0000-00000000000a',
      name: 'raw-but-qcow2',
      disk_format: 'raw',
      size: 1 << 20,
    });
    cloud.addImage({
      id: '00000000-0000-0000-0000-00000000000b',
      name: 'queued',
      status: 'queued',
      disk_format: 'qcow2',
    });
    cloud.addImage({
      id: '00000000-0000-0000-0000-00000000000c',
      name: 'hidden-qcow2',
      disk_format: 'qcow2',
      size: 1 << 20,
      os_hidden: true,
    });
    cloud.data.set('00000000-0000-0000-0000-00000000000a', { bytes: qcow2Header(), honourRange: true });
    const ctx = {
      cloud,
      parameters: {},
      now: () => new Date(0),
      log: silentLogger,
      signal: new AbortController().signal,
    };
    const findings: FindingInput[] = [];
    for await (const finding of qcow2Format.detect(ctx)) findings.push(finding);
    assert.deepEqual(
      findings.map((finding) => [finding.resource.name, finding.severity]),
      [
        ['raw-but-qcow2', 'critical'],
        ['hidden-qcow2', 'warning'],
      ],
    );
    assert.equal(cloud.streams.length, 2);
    assert.equal(findings[1]?.evidence.header_read, 'skipped: no data');
  });
});
