import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CloudSession } from '../../src/openstack/types.js';
import {
  memberCloud,
  openCloud,
  readCloudEnv,
  repoRoot,
  runCli,
  temporaryJournalDir,
} from '../support/integration.js';
import {
  deletePrefixed,
  downloadSha512,
  dropExpectedChanges,
  listMembers,
  listPrefixed,
  makeQcow2,
  requireImage,
  sha512File,
  uploadImage,
} from './image-convert-helpers.js';

const prefix = 'sd-test-convert-';
const tsxLoader = import.meta.resolve('tsx');
let admin: CloudSession;
let member: CloudSession;
let memberProject: string;
let work: string;
let tmpDir: string;
let journalDir: string;
/** A PATH whose qemu-img logs every call before running the real one. */
let loggingPath: string;
let qemuLog: string;

function cli(args: string[], env: Record<string, string> = {}) {
  return runCli(
    [...args, '--os-cloud', 'stackdoctor-admin', '--journal-dir', journalDir, '--tmp-dir', tmpDir],
    { PATH: loggingPath, ...env },
  );
}

function qemuCalls(): string[] {
  try {
    return readFileSync(qemuLog, 'utf8')
      .split('\n')
      .filter((line) => line !== '' && line !== '--version');
  } catch {
    return [];
  }
}

function assertTmpDirEmpty(): void {
  assert.deepEqual(readdirSync(tmpDir), [], 'temporary files were left behind');
}

/** The image and its members, for before/after comparisons of images that must not change. */
async function readSnapshot(id: string) {
  const image = await requireImage(admin, id);
  const { updated_at: _updated, ...rest } = image;
  return { image: rest, members: image.visibility === 'shared' ? await listMembers(admin, id) : [] };
}

describe('stackdoctor image convert on the real Glance and qemu-img', () => {
  before(async () => {
    readCloudEnv();
    admin = await openCloud();
    member = await openCloud(memberCloud);
    memberProject = member.identity.projectId ?? '';
    assert.notEqual(memberProject, '');
    await deletePrefixed(admin, prefix);
    work = mkdtempSync(path.join(os.tmpdir(), 'sd-convert-it-'));
    tmpDir = path.join(work, 'tmp');
    execFileSync('mkdir', ['-p', tmpDir]);
    journalDir = temporaryJournalDir();
    const bin = path.join(work, 'bin');
    execFileSync('mkdir', ['-p', bin]);
    qemuLog = path.join(work, 'qemu-img.log');
    const realQemuImg = execFileSync('sh', ['-c', 'command -v qemu-img'], { encoding: 'utf8' }).trim();
    writeFileSync(
      path.join(bin, 'qemu-img'),
      `#!/bin/sh\necho "$*" >> ${qemuLog}\nif [ "$1" = convert ] && [ -n "$SD_SLOW_CONVERT" ]; then sleep "$SD_SLOW_CONVERT"; fi\nexec ${realQemuImg} "$@"\n`,
    );
    chmodSync(path.join(bin, 'qemu-img'), 0o755);
    loggingPath = `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`;
  });

  after(async () => {
    await deletePrefixed(admin, prefix);
    await admin.close();
    await member.close();
    rmSync(work, { recursive: true, force: true });
    rmSync(journalDir, { recursive: true, force: true });
  });

  it('converts a shared qcow2 image with properties, tags and an accepted member; undo restores it', async () => {
    const made = makeQcow2(work, 'good', 6, 64);
    const oldId = await uploadImage(admin, {
      name: `${prefix}good`,
      file: made.qcow2,
      visibility: 'shared',
      properties: {
        hw_disk_bus: 'scsi',
        hw_scsi_model: 'virtio-scsi',
        os_distro: 'debian',
        os_type: 'linux',
      },
      tags: ['golden', 'sd-test'],
      minDisk: 1,
      minRam: 128,
    });
    await admin.request('image', {
      method: 'POST',
      path: `/v2/images/${oldId}/members`,
      body: { member: memberProject },
    });
    await member.request('image', {
      method: 'PUT',
      path: `/v2/images/${oldId}/members/${memberProject}`,
      body: { status: 'accepted' },
    });
    const before = await readSnapshot(oldId);
    const oldImage = await requireImage(admin, oldId);

    const dry = await cli(['image', 'convert', oldId, '-f', 'json']);
    assert.equal(dry.code, 4, dry.stderr);
    const [planRow] = JSON.parse(dry.stdout) as Record<string, string>[];
    assert.equal(planRow?.Image, oldId);
    assert.equal(planRow?.Virtual, '64.0 MiB');
    assert.match(
      planRow?.['Old image'] ?? '',
      /renamed .*\(qcow2, retired \d{4}-\d{2}-\d{2}\)", hidden, still active, never deleted/,
    );
    assert.deepEqual(await readSnapshot(oldId), before, 'the dry run changed the image');

    const run = await cli(['image', 'convert', oldId, '--apply', '-f', 'json']);
    assert.equal(run.code, 0, run.stderr);
    const [outcome] = JSON.parse(run.stdout) as Record<string, string>[];
    assert.equal(outcome?.Result, 'fixed');
    const newId = /created raw image ([0-9a-f-]{36})/.exec(outcome?.Detail ?? '')?.[1];
    assert.ok(newId, outcome?.Detail);
    const runId = /journal: run (\S+)/.exec(run.stderr)?.[1];
    assert.ok(runId, run.stderr);
    assertTmpDirEmpty();

    const newImage = await requireImage(admin, newId);
    assert.equal(newImage.disk_format, 'raw');
    assert.equal(newImage.status, 'active');
    const oldFields = dropExpectedChanges(oldImage);
    const newFields = dropExpectedChanges(newImage);
    for (const key of new Set([...Object.keys(oldFields), ...Object.keys(newFields)])) {
      assert.deepEqual(newFields[key], oldFields[key], `field ${key} differs`);
    }
    assert.equal(newImage.size, 64 * 1024 * 1024);
    assert.equal(await downloadSha512(admin, newId), await sha512File(made.qemuRaw));
    assert.equal(newImage.os_hash_value, await sha512File(made.qemuRaw));
    // Zed's default policy lets an admin set a member's status, so even `accepted` is copied here.
    assert.deepEqual(await listMembers(admin, newId), [{ member_id: memberProject, status: 'accepted' }]);
    assert.doesNotMatch(outcome?.Detail ?? '', /member status left pending/);

    const retired = await requireImage(admin, oldId);
    assert.match(retired.name ?? '', /^sd-test-convert-good \(qcow2, retired \d{4}-\d{2}-\d{2}\)$/);
    assert.equal(retired.os_hidden, true);
    assert.equal(retired.status, 'active');
    assert.equal(retired.stackdoctor_replaced_by, newId);

    const again = await cli(['image', 'convert', oldId, '--apply']);
    assert.equal(again.code, 3);
    assert.match(again.stderr, new RegExp(`already converted: replaced by image ${newId}`));

    const undo = await runCli([
      'undo',
      runId,
      '--apply',
      '--journal-dir',
      journalDir,
      '--os-cloud',
      'stackdoctor-admin',
    ]);
    assert.equal(undo.code, 0, undo.stderr + undo.stdout);
    assert.deepEqual(await readSnapshot(oldId), before, 'undo did not restore the old image');
    assert.equal(
      (await listPrefixed(admin, prefix)).some((image) => image.id === newId),
      false,
      'the new image survived undo',
    );
  });

  it('deactivates the old image with --deactivate-old --yes, and undo reactivates it', async () => {
    const made = makeQcow2(work, 'deact', 1, 16);
    const oldId = await uploadImage(admin, { name: `${prefix}deact`, file: made.qcow2 });
    const before = await readSnapshot(oldId);
    const refused = await cli(['image', 'convert', oldId, '--apply', '--deactivate-old']);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /--deactivate-old needs --yes/);
    assert.deepEqual(await readSnapshot(oldId), before);

    const run = await cli(['image', 'convert', oldId, '--apply', '--deactivate-old', '--yes']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await requireImage(admin, oldId)).status, 'deactivated');
    const runId = /journal: run (\S+)/.exec(run.stderr)?.[1] ?? '';
    const undo = await runCli([
      'undo',
      runId,
      '--apply',
      '--journal-dir',
      journalDir,
      '--os-cloud',
      'stackdoctor-admin',
    ]);
    assert.equal(undo.code, 0, undo.stderr + undo.stdout);
    assert.deepEqual(await readSnapshot(oldId), before);
  });

  for (const unsafe of [
    {
      name: 'backing-file',
      rule: /qcow2\.backing-file at offset \d+/,
      make: (file: string) =>
        execFileSync('qemu-img', [
          'create',
          '-q',
          '-f',
          'qcow2',
          '-b',
          '/etc/passwd',
          '-F',
          'raw',
          file,
          '16M',
        ]),
    },
    {
      name: 'data-file',
      rule: /qcow2\.data-file/,
      make: (file: string) =>
        execFileSync('qemu-img', [
          'create',
          '-q',
          '-f',
          'qcow2',
          '-o',
          `data_file=${file}.data`,
          file,
          '16M',
        ]),
    },
  ]) {
    it(`refuses a qcow2 with a ${unsafe.name} before qemu-img sees it, changing nothing in Glance`, async () => {
      const file = path.join(work, `unsafe-${unsafe.name}.qcow2`);
      unsafe.make(file);
      const id = await uploadImage(admin, { name: `${prefix}unsafe-${unsafe.name}`, file });
      const before = await readSnapshot(id);
      const imagesBefore = (await listPrefixed(admin, prefix)).map((image) => image.id).sort();
      writeFileSync(qemuLog, '');
      for (const args of [[], ['--apply']]) {
        const run = await cli(['image', 'convert', id, ...args]);
        assert.equal(run.code, 3, run.stderr);
        assert.match(run.stderr, /^stackdoctor: unsafe image /m);
        assert.match(run.stderr, unsafe.rule);
      }
      assert.deepEqual(qemuCalls(), [], 'qemu-img ran on an unsafe image');
      assert.deepEqual(await readSnapshot(id), before);
      assert.deepEqual((await listPrefixed(admin, prefix)).map((image) => image.id).sort(), imagesBefore);
      assertTmpDirEmpty();
    });
  }

  it('stops with a hash mismatch when the stored data no longer matches Glance’s hash, changing nothing', async () => {
    const made = makeQcow2(work, 'rot', 2, 16);
    const id = await uploadImage(admin, { name: `${prefix}rot`, file: made.qcow2 });
    // Bit rot in the store: flip one byte of the data in Glance's file store (the local cloud's `fs` backend).
    const stored = path.join(
      readCloudEnv().STACKDOCTOR_CLOUD_DIR ?? '/var/tmp/stackdoctor-cloud',
      'data/glance/images',
      id,
    );
    const fd = openSync(stored, 'r+');
    writeSync(fd, Buffer.from([0x5a]), 0, 1, 300 * 1024);
    closeSync(fd);
    const before = await readSnapshot(id);
    const imagesBefore = (await listPrefixed(admin, prefix)).map((image) => image.id).sort();
    writeFileSync(qemuLog, '');
    const run = await cli(['image', 'convert', id, '--apply']);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /^stackdoctor: hash mismatch: image \S+ downloaded as \d+ bytes with sha512/m);
    assert.deepEqual(qemuCalls(), []);
    assert.deepEqual(await readSnapshot(id), before);
    assert.deepEqual((await listPrefixed(admin, prefix)).map((image) => image.id).sort(), imagesBefore);
    assertTmpDirEmpty();
  });

  it('says qemu-img is missing before downloading anything', async () => {
    const made = makeQcow2(work, 'noqemu', 1, 16);
    const id = await uploadImage(admin, { name: `${prefix}noqemu`, file: made.qcow2 });
    const empty = path.join(work, 'empty-bin');
    execFileSync('mkdir', ['-p', empty]);
    const run = await cli(['image', 'convert', id, '--apply'], { PATH: empty });
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /^stackdoctor: qemu-img is not installed or not on PATH/m);
    assert.match(run.stderr, /hint: install qemu-utils/);
    assertTmpDirEmpty();
  });

  it('cleans up on Ctrl-C in the middle of qemu-img convert', async () => {
    const made = makeQcow2(work, 'sigint', 4, 32);
    const id = await uploadImage(admin, { name: `${prefix}sigint`, file: made.qcow2 });
    const before = await readSnapshot(id);
    const imagesBefore = (await listPrefixed(admin, prefix)).map((image) => image.id).sort();
    const env = readCloudEnv();
    const child = spawn(
      process.execPath,
      [
        '--import',
        tsxLoader,
        path.join(repoRoot, 'src/cli/main.ts'),
        'image',
        'convert',
        id,
        '--apply',
        '--os-cloud',
        'stackdoctor-admin',
        '--journal-dir',
        journalDir,
        '--tmp-dir',
        tmpDir,
      ],
      {
        cwd: os.tmpdir(),
        env: {
          PATH: loggingPath,
          HOME: os.tmpdir(),
          NO_COLOR: '1',
          OS_CLIENT_CONFIG_FILE: env.OS_CLIENT_CONFIG_FILE ?? '',
          SD_SLOW_CONVERT: '60',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    let sawWork = false;
    const exitCode = await new Promise<number | null>((resolve) => {
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (text: string) => {
        stderr += text;
        if (!sawWork && stderr.includes('converting\n')) {
          // The download is on disk and qemu-img has started: this is the middle of the pipeline.
          sawWork = readdirSync(tmpDir).length > 0;
          child.kill('SIGINT');
        }
      });
      child.stdout.resume();
      child.on('close', (code) => resolve(code));
    });
    assert.ok(sawWork, `the temporary directory was empty mid-conversion; stderr: ${stderr}`);
    assert.equal(exitCode, 3, stderr);
    assert.match(stderr, /interrupted: stopping and cleaning up/);
    assert.match(stderr, /stackdoctor: conversion cancelled; temporary files removed/);
    assertTmpDirEmpty();
    assert.deepEqual(await readSnapshot(id), before);
    assert.deepEqual((await listPrefixed(admin, prefix)).map((image) => image.id).sort(), imagesBefore);
  });
});
