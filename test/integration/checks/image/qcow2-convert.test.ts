import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CloudSession } from '../../../../src/openstack/types.js';
import { openCloud, runCli, temporaryJournalDir } from '../../../support/integration.js';
import {
  deletePrefixed,
  dropExpectedChanges,
  listPrefixed,
  makeQcow2,
  requireImage,
  uploadImage,
} from '../../image-convert-helpers.js';

const prefix = 'sd-test-convert-check-';
let cloud: CloudSession;
let work: string;
let journalDir: string;

function cli(args: string[]) {
  return runCli([...args, '--os-cloud', 'stackdoctor-admin', '--journal-dir', journalDir]);
}

describe('image/qcow2-convert through check, fix and undo on the real Glance', () => {
  before(async () => {
    cloud = await openCloud();
    await deletePrefixed(cloud, prefix);
    work = mkdtempSync(path.join(os.tmpdir(), 'sd-convert-check-'));
    journalDir = temporaryJournalDir();
  });
  after(async () => {
    await deletePrefixed(cloud, prefix);
    await cloud.close();
    rmSync(work, { recursive: true, force: true });
    rmSync(journalDir, { recursive: true, force: true });
  });

  it('reports the qcow2 image, converts it with fix --apply --yes, and undo restores the old image', async () => {
    const made = makeQcow2(work, 'check', 1, 16);
    const id = await uploadImage(cloud, {
      name: `${prefix}one`,
      file: made.qcow2,
      properties: { hw_disk_bus: 'scsi' },
      tags: ['x'],
    });
    const before = await requireImage(cloud, id);
    const scope = ['--set', `image=${id}`];

    const check = await cli(['check', 'image/qcow2-convert', ...scope, '-f', 'json']);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, new RegExp(`stackdoctor image convert ${id}`));

    const tmpDir = path.join(work, 'tmp');
    rmSync(tmpDir, { recursive: true, force: true });
    mkdirSync(tmpDir);
    const declined = await cli([
      'fix',
      'image/qcow2-convert',
      ...scope,
      '--set',
      `tmp_dir=${tmpDir}`,
      '--apply',
    ]);
    assert.equal(declined.code, 4, declined.stderr + declined.stdout);
    assert.equal((await listPrefixed(cloud, prefix)).length, 1, 'a confirm fix ran without --yes');

    const fix = await cli([
      'fix',
      'image/qcow2-convert',
      ...scope,
      '--set',
      `tmp_dir=${tmpDir}`,
      '--apply',
      '--yes',
    ]);
    assert.equal(fix.code, 0, fix.stderr + fix.stdout);
    const runId = /journal: run (\S+)/.exec(fix.stderr)?.[1] ?? '';
    const images = await listPrefixed(cloud, prefix);
    const copy = images.find((image) => image.id !== id);
    assert.ok(copy, 'no raw copy');
    assert.equal(copy.disk_format, 'raw');
    assert.deepEqual(
      { ...dropExpectedChanges(copy), name: copy.name },
      { ...dropExpectedChanges(before), name: before.name },
    );
    assert.deepEqual(readdirSync(tmpDir), []);

    const again = await cli(['check', 'image/qcow2-convert', ...scope, '-f', 'json']);
    assert.doesNotMatch(again.stdout, new RegExp(`stackdoctor image convert ${id}`));

    const undo = await cli(['undo', runId, '--apply']);
    assert.equal(undo.code, 0, undo.stderr + undo.stdout);
    const restored = await requireImage(cloud, id);
    assert.deepEqual({ ...restored, updated_at: undefined }, { ...before, updated_at: undefined });
    assert.deepEqual(
      (await listPrefixed(cloud, prefix)).map((image) => image.id),
      [id],
    );
  });
});
