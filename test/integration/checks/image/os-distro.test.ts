import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  guessOsinfoShortId,
  indexOsinfo,
  matchOsDistro,
  readOsinfoTree,
  readShippedOsinfo,
  systemOsinfoDir,
} from '../../../../src/images/osinfo.js';
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

const prefix = `${imageTestPrefix}${testRun}-distro-`;

describe('osinfo lookups against the installed osinfo-db package', () => {
  it('reads the tree Debian installs and agrees with the shipped list', async () => {
    assert.ok(existsSync(`${systemOsinfoDir}/os`), 'osinfo-db is not installed: apt-get install osinfo-db');
    const installed = await readOsinfoTree(systemOsinfoDir);
    const shipped = await readShippedOsinfo();
    assert.match(installed.version, /^\d{8}$/);
    const index = indexOsinfo(installed);
    assert.equal(matchOsDistro(index, 'ubuntu22.04').kind, 'short-id');
    assert.equal(matchOsDistro(index, 'win2k19').kind, 'short-id');
    assert.equal(matchOsDistro(index, 'http://debian.org/debian/11').kind, 'id');
    assert.equal(matchOsDistro(index, 'ubuntu').kind, 'distro');
    assert.equal(guessOsinfoShortId(index, { name: 'Ubuntu 22.04 LTS' })?.shortId, 'ubuntu22.04');
    if (installed.version === shipped.version) {
      assert.deepEqual(
        installed.entries.map((entry) => entry.id),
        shipped.entries.map((entry) => entry.id),
      );
    }
  });
});

describe('image/os-distro on the real Glance', () => {
  let cloud: CloudSession;
  const ids: Record<string, string> = {};
  before(async () => {
    cloud = await openCloud();
    await deleteStaleTestImages(cloud);
    const make = (name: string, properties: Record<string, string>) =>
      createTestImage(cloud, { name: `distro-${name}`, properties, data: rawBytes() });
    ids.named = await make('Ubuntu 22.04 LTS', {});
    ids.glanceStyle = await make('base', { os_distro: 'ubuntu', os_version: '22.04' });
    ids.upper = await make('upper', { os_distro: 'Debian11' });
    ids.good = await make('good', { os_distro: 'ubuntu22.04' });
    ids.nothing = await make('golden', {});
  });
  after(async () => {
    await deleteTestImages(cloud, prefix);
    await cloud.close();
  });

  it('flags absent, Glance-style and mis-cased values with a suggestion and its confidence', async () => {
    const findings = await runImageCheck('image/os-distro', Object.values(ids));
    assert.match(
      findings.get(ids.named!)?.message ?? '',
      /no os_distro.*suggest "ubuntu22\.04" \(high confidence/,
    );
    assert.equal(findings.get(ids.glanceStyle!)?.severity, 'info');
    assert.match(findings.get(ids.glanceStyle!)?.message ?? '', /Glance's convention.*"ubuntu22\.04"/);
    assert.equal(findings.get(ids.upper!)?.evidence.proposed, 'debian11');
    assert.equal(findings.has(ids.good!), false);
    assert.equal(findings.get(ids.nothing!)?.fixable, false);
  });

  it('fix then undo restores byte-equal metadata', async () => {
    const targets = [ids.named!, ids.glanceStyle!, ids.upper!];
    const before = await Promise.all(targets.map((id) => readImageDocument(cloud, id)));
    const journalDir = temporaryJournalDir();
    const fix = await applyImageFix('image/os-distro', targets, journalDir);
    assert.equal(fix.code, 0, fix.stderr);
    const fixed = await Promise.all(targets.map((id) => readImageDocument(cloud, id)));
    assert.deepEqual(
      fixed.map((image) => image.os_distro),
      ['ubuntu22.04', 'ubuntu22.04', 'debian11'],
    );
    const undo = await undoRun(fix.runId!, journalDir);
    assert.equal(undo.code, 0, undo.stderr);
    assert.deepEqual(await Promise.all(targets.map((id) => readImageDocument(cloud, id))), before);
  });
});
