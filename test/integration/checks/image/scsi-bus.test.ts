import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CloudSession } from '../../../../src/openstack/types.js';
import { openCloud, temporaryJournalDir } from '../../../support/integration.js';
import {
  applyImageFix,
  createTestImage,
  deleteStaleTestImages,
  deleteTestImages,
  imageTestPrefix,
  rawBytes,
  readImageDocument,
  runImageCheck,
  testRun,
  undoRun,
} from './glance.js';

const prefix = `${imageTestPrefix}${testRun}-scsi-`;
let cloud: CloudSession;
const ids: Record<string, string> = {};

describe('image/scsi-bus on the real Glance', () => {
  before(async () => {
    cloud = await openCloud();
    await deleteStaleTestImages(cloud);
    const make = (name: string, properties: Record<string, string>) =>
      createTestImage(cloud, { name: `scsi-${name}`, properties, data: rawBytes() });
    ids.modelOnly = await make('model-only', { hw_scsi_model: 'virtio-scsi' });
    ids.busOnly = await make('bus-only', { hw_disk_bus: 'scsi' });
    ids.pair = await make('pair', { hw_scsi_model: 'virtio-scsi', hw_disk_bus: 'scsi' });
    ids.linux = await make('ubuntu-22.04', { os_type: 'linux' });
  });
  after(async () => {
    await deleteTestImages(cloud, prefix);
    await cloud.close();
  });

  it('flags each half of the pair with the missing half as its fix; leaves the pair alone', async () => {
    const findings = await runImageCheck('image/scsi-bus', Object.values(ids));
    assert.match(
      findings.get(ids.modelOnly!)?.message ?? '',
      /virtio-scsi without hw_disk_bus=scsi.*fix: hw_disk_bus=scsi/,
    );
    assert.match(
      findings.get(ids.busOnly!)?.message ?? '',
      /hw_disk_bus=scsi without hw_scsi_model.*fix: hw_scsi_model=virtio-scsi/,
    );
    assert.equal(findings.has(ids.pair!), false);
    // the local Glance stores on a file backend: no Ceph, no recommendation
    assert.equal(findings.has(ids.linux!), false);
  });

  it('recommends the pair for a Linux image once the operator says the images are on Ceph', async () => {
    const findings = await runImageCheck('image/scsi-bus', [ids.linux!], ['--set', 'ceph=yes']);
    assert.equal(findings.get(ids.linux!)?.severity, 'info');
    assert.match(findings.get(ids.linux!)?.message ?? '', /discard\/TRIM/);
  });

  it('fix then undo restores byte-equal metadata', async () => {
    const targets = [ids.modelOnly!, ids.busOnly!];
    const before = await Promise.all(targets.map((id) => readImageDocument(cloud, id)));
    const journalDir = temporaryJournalDir();
    const fix = await applyImageFix('image/scsi-bus', targets, journalDir);
    assert.equal(fix.code, 0, fix.stderr);
    for (const id of targets) {
      const image = await readImageDocument(cloud, id);
      assert.deepEqual([image.hw_scsi_model, image.hw_disk_bus], ['virtio-scsi', 'scsi']);
    }
    const undo = await undoRun(fix.runId!, journalDir);
    assert.equal(undo.code, 0, undo.stderr);
    assert.deepEqual(await Promise.all(targets.map((id) => readImageDocument(cloud, id))), before);
  });
});
