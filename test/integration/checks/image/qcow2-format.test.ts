import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CloudSession } from '../../../../src/openstack/types.js';
import { openCloud } from '../../../support/integration.js';
import {
  createTestImage,
  deleteStaleTestImages,
  deleteTestImages,
  imageTestPrefix,
  qcow2Bytes,
  rawBytes,
  runImageCheck,
  testRun,
} from './glance.js';

const prefix = `${imageTestPrefix}${testRun}-fmt-`;
let cloud: CloudSession;
const ids: Record<string, string> = {};

describe('image/qcow2-format on the real Glance', () => {
  before(async () => {
    cloud = await openCloud();
    await deleteStaleTestImages(cloud);
    const qcow2 = qcow2Bytes();
    ids.rawButQcow2 = await createTestImage(cloud, {
      name: 'fmt-raw-but-qcow2',
      diskFormat: 'raw',
      data: qcow2,
    });
    ids.qcow2 = await createTestImage(cloud, { name: 'fmt-qcow2', diskFormat: 'qcow2', data: qcow2 });
    ids.raw = await createTestImage(cloud, {
      name: 'fmt-raw',
      diskFormat: 'raw',
      data: rawBytes(256 * 1024),
    });
    ids.queued = await createTestImage(cloud, { name: 'fmt-queued', diskFormat: 'qcow2' });
  });
  after(async () => {
    await deleteTestImages(cloud, prefix);
    await cloud.close();
  });

  it('finds a raw-labelled image whose bytes are qcow2 by reading only its head', async () => {
    const findings = await runImageCheck('image/qcow2-format', Object.values(ids));
    const mismatch = findings.get(ids.rawButQcow2!);
    assert.equal(mismatch?.severity, 'critical');
    assert.match(mismatch?.message ?? '', /disk_format is raw but the data is qcow2/);
    assert.match(mismatch?.message ?? '', new RegExp(`stackdoctor image convert ${ids.rawButQcow2}`));
    assert.equal(mismatch?.evidence.detected_format, 'qcow2');
    assert.match(String(mismatch?.evidence.header_read), /^(range \(206\)|stopped after 64 KiB \(200\))$/);
    assert.equal(mismatch?.fixable, false);
  });

  it('flags qcow2 as a warning off Ceph and leaves raw images and images without data alone', async () => {
    const findings = await runImageCheck('image/qcow2-format', Object.values(ids));
    assert.equal(findings.get(ids.qcow2!)?.severity, 'warning');
    assert.equal(findings.get(ids.qcow2!)?.evidence.on_ceph, false);
    assert.equal(findings.has(ids.raw!), false);
    assert.equal(findings.has(ids.queued!), false);
  });

  it('makes qcow2 critical on Ceph', async () => {
    const findings = await runImageCheck('image/qcow2-format', [ids.qcow2!], ['--set', 'ceph=yes']);
    assert.equal(findings.get(ids.qcow2!)?.severity, 'critical');
    assert.match(findings.get(ids.qcow2!)?.message ?? '', /Nova cannot clone it copy-on-write/);
  });
});
