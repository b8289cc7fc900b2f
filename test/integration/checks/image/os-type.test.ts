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

const prefix = `${imageTestPrefix}${testRun}-ostype-`;
let cloud: CloudSession;
const ids: Record<string, string> = {};

describe('image/os-type on the real Glance', () => {
  before(async () => {
    cloud = await openCloud();
    await deleteStaleTestImages(cloud);
    const make = (name: string, properties: Record<string, string>, data = true) =>
      createTestImage(cloud, { name: `ostype-${name}`, properties, ...(data ? { data: rawBytes() } : {}) });
    ids.ubuntu = await make('ubuntu-22.04', {});
    ids.spaced = await make('spaced', { os_type: 'Linux ' });
    ids.unknown = await make('golden', {});
    ids.good = await make('good', { os_type: 'windows' });
    ids.queued = await make('queued-ubuntu', {}, false);
  });
  after(async () => {
    await deleteTestImages(cloud, prefix);
    await cloud.close();
  });

  it('flags missing and unknown values with a guess, and never queued images', async () => {
    const findings = await runImageCheck('image/os-type', Object.values(ids));
    assert.match(
      findings.get(ids.ubuntu!)?.message ?? '',
      /image has no os_type; looks like linux \(medium confidence/,
    );
    assert.match(findings.get(ids.spaced!)?.message ?? '', /os_type "Linux ", which Nova does not know/);
    assert.equal(findings.get(ids.unknown!)?.fixable, false);
    assert.equal(findings.has(ids.good!), false);
    assert.equal(findings.has(ids.queued!), false);
  });

  it('takes the policy value for matching names', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = `${mkdtempSync(`${tmpdir()}/sd-test-image-`)}/stackdoctor.yaml`;
    writeFileSync(
      file,
      `images:\n  - match: { name: "${prefix}golden*" }\n    properties: { os_type: windows }\n`,
    );
    const findings = await runImageCheck('image/os-type', [ids.unknown!], ['--set', `policy=${file}`]);
    assert.match(findings.get(ids.unknown!)?.message ?? '', /stackdoctor\.yaml:2 wants os_type=windows/);
    assert.equal(findings.get(ids.unknown!)?.fixable, true);
  });

  it('fix then undo restores byte-equal metadata', async () => {
    const targets = [ids.ubuntu!, ids.spaced!];
    const before = await Promise.all(targets.map((id) => readImageDocument(cloud, id)));
    const journalDir = temporaryJournalDir();
    const fix = await applyImageFix('image/os-type', targets, journalDir);
    assert.equal(fix.code, 0, fix.stderr);
    const fixed = await Promise.all(targets.map((id) => readImageDocument(cloud, id)));
    assert.deepEqual(
      fixed.map((image) => image.os_type),
      ['linux', 'linux'],
    );
    const undo = await undoRun(fix.runId!, journalDir);
    assert.equal(undo.code, 0, undo.stderr);
    assert.deepEqual(await Promise.all(targets.map((id) => readImageDocument(cloud, id))), before);
  });
});
