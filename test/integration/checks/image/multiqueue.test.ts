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

const prefix = `${imageTestPrefix}${testRun}-mq-`;
let cloud: CloudSession;
const ids: Record<string, string> = {};

describe('image/multiqueue on the real Glance', () => {
  before(async () => {
    cloud = await openCloud();
    await deleteStaleTestImages(cloud);
    const make = (name: string, properties: Record<string, string>, hidden = false) =>
      createTestImage(cloud, { name: `mq-${name}`, properties, hidden, data: rawBytes() });
    ids.absent = await make('absent', {});
    ids.enabled = await make('enabled', { hw_vif_multiqueue_enabled: 'enabled' });
    ids.good = await make('good', { hw_vif_multiqueue_enabled: 'True' });
    ids.off = await make('off', { hw_vif_multiqueue_enabled: 'false' });
    ids.hidden = await make('hidden', {}, true);
  });
  after(async () => {
    await deleteTestImages(cloud, prefix);
    await cloud.close();
  });

  it('flags absent and unreadable values, hidden images included; leaves true and an explicit false alone', async () => {
    const findings = await runImageCheck('image/multiqueue', Object.values(ids));
    assert.match(findings.get(ids.absent!)?.message ?? '', /has no hw_vif_multiqueue_enabled/);
    assert.match(findings.get(ids.enabled!)?.message ?? '', /"enabled" is not a boolean Nova understands/);
    assert.ok(findings.has(ids.hidden!), 'the hidden image was not swept');
    assert.equal(findings.has(ids.good!), false);
    assert.equal(findings.has(ids.off!), false);
    assert.equal(findings.get(ids.enabled!)?.fixable, true);
  });

  it('fixes with one patch per image and undo restores the metadata exactly, absence included', async () => {
    const targets = [ids.absent!, ids.enabled!];
    const before = await Promise.all(targets.map((id) => readImageDocument(cloud, id)));
    const journalDir = temporaryJournalDir();
    const fix = await applyImageFix('image/multiqueue', targets, journalDir);
    assert.equal(fix.code, 0, fix.stderr);
    assert.ok(fix.runId, fix.stderr);
    const fixed = await Promise.all(targets.map((id) => readImageDocument(cloud, id)));
    assert.deepEqual(
      fixed.map((image) => image.hw_vif_multiqueue_enabled),
      ['true', 'true'],
    );
    assert.equal((await runImageCheck('image/multiqueue', targets)).size, 0);

    const undo = await undoRun(fix.runId!, journalDir);
    assert.equal(undo.code, 0, undo.stderr);
    const restored = await Promise.all(targets.map((id) => readImageDocument(cloud, id)));
    assert.deepEqual(restored, before);
    assert.equal(Object.hasOwn(restored[0]!, 'hw_vif_multiqueue_enabled'), false);
  });
});
