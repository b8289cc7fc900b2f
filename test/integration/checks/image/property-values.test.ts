import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CloudSession } from '../../../../src/openstack/types.js';
import { adminCloud, openCloud, runCli, temporaryJournalDir } from '../../../support/integration.js';
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

const prefix = `${imageTestPrefix}${testRun}-pv-`;
let cloud: CloudSession;
const ids: Record<string, string> = {};

describe('image/property-values on the real Glance', () => {
  before(async () => {
    cloud = await openCloud();
    await deleteStaleTestImages(cloud);
    const make = (name: string, properties: Record<string, string>) =>
      createTestImage(cloud, { name: `pv-${name}`, properties, data: rawBytes() });
    ids.xen = await make('xen', { hw_disk_bus: 'xen' });
    ids.nvme = await make('nvme', { hw_disk_bus: 'nvme' });
    ids.mixed = await make('mixed', {
      hw_rng_model: 'virtio',
      hw_qemu_guest_agent: 'enabled',
      hw_vif_model: 'VirtIO',
    });
    ids.good = await make('good', {
      hw_disk_bus: 'virtio',
      hw_qemu_guest_agent: 'yes',
      hw_machine_type: 'q35',
    });
  });
  after(async () => {
    await deleteTestImages(cloud, prefix);
    await cloud.close();
  });

  it('flags values Nova rejects (critical), misreads and ignores, and says why', async () => {
    const findings = await runImageCheck('image/property-values', Object.values(ids));
    assert.equal(findings.get(ids.xen!)?.severity, 'critical');
    assert.match(findings.get(ids.xen!)?.message ?? '', /UnsupportedHardware/);
    assert.equal(findings.get(ids.xen!)?.fixable, false);
    assert.match(findings.get(ids.nvme!)?.message ?? '', /400 "Invalid image metadata"/);
    const mixed = findings.get(ids.mixed!);
    assert.equal(mixed?.severity, 'critical');
    assert.match(mixed?.message ?? '', /hw_rng_model has had no effect since Ussuri/);
    assert.match(mixed?.message ?? '', /"enabled" is not a boolean Nova understands/);
    assert.deepEqual(mixed?.evidence.changes, {
      hw_qemu_guest_agent: 'true',
      hw_rng_model: null,
      hw_vif_model: 'virtio',
    });
    assert.equal(findings.has(ids.good!), false);
  });

  it('lets the policy settle what stackdoctor cannot guess', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'sd-test-image-')), 'stackdoctor.yaml');
    writeFileSync(
      file,
      `images:\n  - match: { name: "${prefix}xen" }\n    properties: { hw_disk_bus: virtio }\n`,
    );
    const findings = await runImageCheck('image/property-values', [ids.xen!], ['--set', `policy=${file}`]);
    assert.deepEqual(findings.get(ids.xen!)?.evidence.changes, { hw_disk_bus: 'virtio' });
  });

  it('reports a broken policy file with FILE:LINE and exit code 3', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'sd-test-image-')), 'stackdoctor.yaml');
    writeFileSync(file, 'images:\n  - properties:\n      hw_disk_bus: xen\n');
    const result = await runCli([
      'check',
      'image/property-values',
      '-f',
      'json',
      '--os-cloud',
      adminCloud,
      '--set',
      `policy=${file}`,
    ]);
    assert.equal(result.code, 3);
    assert.match(result.stdout, /stackdoctor\.yaml:3: hw_disk_bus: \\"xen\\" is not accepted by Nova on KVM/);
  });

  it('fix (add, replace and remove in one patch) then undo restores byte-equal metadata', async () => {
    const before = await readImageDocument(cloud, ids.mixed!);
    const journalDir = temporaryJournalDir();
    const fix = await applyImageFix('image/property-values', [ids.mixed!], journalDir);
    assert.equal(fix.code, 0, fix.stderr);
    const fixed = await readImageDocument(cloud, ids.mixed!);
    assert.equal(fixed.hw_vif_model, 'virtio');
    assert.equal(fixed.hw_qemu_guest_agent, 'true');
    assert.equal(Object.hasOwn(fixed, 'hw_rng_model'), false);
    const undo = await undoRun(fix.runId!, journalDir);
    assert.equal(undo.code, 0, undo.stderr);
    assert.deepEqual(await readImageDocument(cloud, ids.mixed!), before);
  });
});
