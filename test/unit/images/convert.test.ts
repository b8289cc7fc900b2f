import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  buildCreateBody,
  createRawCopy,
  findWhyNotConvertible,
  planConversion,
  type RawCopyArgs,
} from '../../../src/images/convert.js';
import { imageSchema } from '../../../src/openstack/image.js';
import { FakeGlance } from './convert-fake-glance.js';
import { makeTempDir, requireQemuImg, runQemuImg } from './helpers.js';

const sourceId = '11111111-1111-4111-8111-111111111111';
const newId = '22222222-2222-4222-8222-222222222222';
let scratch: { dir: string; remove(): void };
let qcow2: Buffer;
let expectedRaw: Buffer;
let tmpDir: string;
let glance: FakeGlance;

function argsFor(overrides: Partial<RawCopyArgs> = {}): RawCopyArgs {
  const image = glance.images.get(sourceId)!;
  return {
    source_id: sourceId,
    create: { id: newId, name: 'img', disk_format: 'raw', container_format: 'bare', protected: false },
    members: [],
    protect: false,
    tmp_dir: tmpDir,
    expected: {
      size: Number(image.size),
      hash_algo: 'sha512',
      hash_value: String(image.os_hash_value),
      virtual_size: 8 * 1024 * 1024,
    },
    ...overrides,
  };
}

async function expectFailure(promise: Promise<unknown>, kind: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof Error && 'kind' in error, String(error));
    assert.equal(error.kind, kind, error.message);
    assert.match(error.message, message);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });
}

function assertNothingCreated(): void {
  assert.equal(glance.calls.filter((call) => call.startsWith('POST')).length, 0, glance.calls.join(', '));
  assert.equal(glance.images.has(newId), false);
}

function assertTmpEmpty(): void {
  assert.deepEqual(readdirSync(tmpDir), []);
}

describe('createRawCopy', () => {
  before(() => {
    requireQemuImg();
    scratch = makeTempDir();
    const raw = path.join(scratch.dir, 'disk.raw');
    const data = Buffer.alloc(8 * 1024 * 1024);
    randomBytes(512 * 1024).copy(data, 1024 * 1024);
    writeFileSync(raw, data);
    runQemuImg(['convert', '-f', 'raw', '-O', 'qcow2', raw, path.join(scratch.dir, 'disk.qcow2')]);
    qcow2 = readFileSync(path.join(scratch.dir, 'disk.qcow2'));
    runQemuImg([
      'convert',
      '-f',
      'qcow2',
      '-O',
      'raw',
      path.join(scratch.dir, 'disk.qcow2'),
      path.join(scratch.dir, 'back.raw'),
    ]);
    expectedRaw = readFileSync(path.join(scratch.dir, 'back.raw'));
  });
  after(() => scratch.remove());
  beforeEach(() => {
    tmpDir = makeTempDir().dir;
    glance = new FakeGlance();
    glance.addImage({ id: sourceId, name: 'img', disk_format: 'qcow2', container_format: 'bare' }, qcow2);
  });

  it('creates the new image from qemu-img’s raw output and verifies what Glance stored', async () => {
    const stages: string[] = [];
    const result = await createRawCopy(
      glance,
      argsFor({ members: [{ member_id: 'p-other', status: 'accepted' }], protect: true }),
      new AbortController().signal,
      { onProgress: (progress) => stages.at(-1) !== progress.stage && stages.push(progress.stage) },
    );
    assert.deepEqual(Buffer.from(glance.data.get(newId)!), expectedRaw);
    assert.equal(result.hashValue, createHash('sha512').update(expectedRaw).digest('hex'));
    assert.equal(glance.images.get(newId)?.protected, true);
    assert.deepEqual(glance.members.get(newId), [{ member_id: 'p-other', status: 'pending' }]);
    assert.deepEqual(result.memberStatusesNotCopied, ['p-other (accepted)']);
    assert.deepEqual(stages, ['download', 'inspect', 'convert', 'create', 'upload', 'verify']);
    assertTmpEmpty();
  });

  it('copies a member’s status where Glance lets the admin set it', async () => {
    glance.adminMaySetMemberStatus = true;
    const result = await createRawCopy(
      glance,
      argsFor({ members: [{ member_id: 'p-other', status: 'accepted' }] }),
      new AbortController().signal,
    );
    assert.deepEqual(glance.members.get(newId), [{ member_id: 'p-other', status: 'accepted' }]);
    assert.deepEqual(result.memberStatusesNotCopied, []);
  });

  it('stops with a hash mismatch when the downloaded bytes differ from Glance’s hash, creating nothing', async () => {
    const tampered = Buffer.from(qcow2);
    tampered[tampered.length - 1] = tampered.at(-1)! ^ 0xff;
    glance.addImage({ id: sourceId, name: 'img', disk_format: 'qcow2' }, tampered, qcow2);
    await expectFailure(
      createRawCopy(glance, argsFor(), new AbortController().signal),
      'convert-hash-mismatch',
      /^hash mismatch: image \S+ downloaded as \d+ bytes with sha512 [0-9a-f]{16}…, Glance records/,
    );
    assertNothingCreated();
    assertTmpEmpty();
  });

  it('verifies by md5 checksum when Glance has no os_hash_value', async () => {
    const md5 = createHash('md5').update(qcow2).digest('hex');
    const result = await createRawCopy(
      glance,
      argsFor({
        expected: { size: qcow2.length, hash_algo: 'md5', hash_value: md5, virtual_size: 8 * 1024 * 1024 },
      }),
      new AbortController().signal,
    );
    assert.equal(result.newImageId, newId);
    await expectFailure(
      createRawCopy(
        glance,
        argsFor({
          create: { id: '33333333-3333-4333-8333-333333333333' },
          expected: { size: qcow2.length, hash_algo: 'md5', hash_value: '0'.repeat(32), virtual_size: null },
        }),
        new AbortController().signal,
      ),
      'convert-hash-mismatch',
      /with md5/,
    );
  });

  it('refuses when the temporary directory is too small, before downloading', async () => {
    await expectFailure(
      createRawCopy(
        glance,
        argsFor({ expected: { ...argsFor().expected, virtual_size: 2 ** 52 } }),
        new AbortController().signal,
      ),
      'convert-disk-space',
      /^not enough disk in \S+: 4\.0 PiB|^not enough disk in \S+: 4096\.0 TiB/,
    );
    assert.deepEqual(glance.calls, []);
    assertTmpEmpty();
  });

  it('says qemu-img is missing before downloading', async () => {
    await expectFailure(
      createRawCopy(glance, argsFor(), new AbortController().signal, {
        qemuImg: { qemuImgCommand: '/nonexistent/qemu-img' },
      }),
      'qemu-img-missing',
      /qemu-img is not installed or not on PATH/,
    );
    assert.deepEqual(glance.calls, []);
  });

  it('refuses a qcow2 with a backing file, naming the rule and offset, before qemu-img reads it', async () => {
    const bad = path.join(scratch.dir, 'backing.qcow2');
    runQemuImg(['create', '-q', '-f', 'qcow2', '-b', '/etc/passwd', '-F', 'raw', bad, '8M']);
    glance.addImage({ id: sourceId, name: 'img', disk_format: 'qcow2' }, readFileSync(bad));
    // A qemu-img that fails any real use proves it was never asked to look at the file.
    const fake = path.join(scratch.dir, 'fake-qemu-img');
    writeFileSync(fake, '#!/bin/sh\n[ "$1" = --version ] && exit 0\necho "ran $*" >&2\nexit 99\n', {
      mode: 0o755,
    });
    await expectFailure(
      createRawCopy(glance, argsFor(), new AbortController().signal, { qemuImg: { qemuImgCommand: fake } }),
      'convert-unsafe-image',
      /^unsafe image \S+, refused before conversion: qcow2\.backing-file at offset 8: /,
    );
    assertNothingCreated();
    assertTmpEmpty();
  });

  it('turns Glance refusing the upload into upload-refused with status and message, and deletes the new image', async () => {
    glance.refuseUpload = { status: 413, message: 'Image storage media is full' };
    await expectFailure(
      createRawCopy(glance, argsFor(), new AbortController().signal),
      'convert-upload-refused',
      /^Glance refused the upload to image \S+: 413 Image storage media is full$/,
    );
    assert.equal(glance.images.has(newId), false);
    assert.ok(glance.calls.includes(`DELETE /v2/images/${newId}`));
    assertTmpEmpty();
  });

  it('deletes the new image when Glance’s hash of it differs from what was sent', async () => {
    glance.storeWrongHash = true;
    await expectFailure(
      createRawCopy(glance, argsFor({ protect: true }), new AbortController().signal),
      'convert-hash-mismatch',
      /Glance stored image \S+ differently from what was sent: sha512/,
    );
    assert.equal(glance.images.has(newId), false);
    assertTmpEmpty();
  });

  it('stops when cancelled, removing its temporary files and anything it created', async () => {
    const controller = new AbortController();
    await expectFailure(
      createRawCopy(glance, argsFor(), controller.signal, {
        onProgress: (progress) => {
          if (progress.stage === 'upload') controller.abort(new Error('interrupted'));
        },
      }),
      'convert-aborted',
      /^conversion cancelled; temporary files removed/,
    );
    assert.equal(glance.images.has(newId), false);
    assertTmpEmpty();
  });
});

describe('which images can be converted', () => {
  const base = imageSchema.parse({
    id: sourceId,
    name: 'img',
    status: 'active',
    disk_format: 'qcow2',
    container_format: 'bare',
    size: 10,
    os_hash_algo: 'sha512',
    os_hash_value: 'ab',
    checksum: 'cd',
  });
  const cases: [string, Record<string, unknown>, RegExp | undefined][] = [
    ['an active qcow2 image', {}, undefined],
    ['a raw image', { disk_format: 'raw' }, /disk_format is raw, not qcow2/],
    ['a deactivated image', { status: 'deactivated' }, /status is deactivated/],
    [
      'an image already converted',
      { stackdoctor_replaced_by: newId },
      /already converted: replaced by image 2222/,
    ],
    ['an ovf container', { container_format: 'ovf' }, /container_format is ovf/],
    ['an image without data', { size: 0 }, /no data/],
    ['an image without any hash', { os_hash_value: null, checksum: null }, /cannot be verified/],
    ['a signed image', { img_signature: 'x' }, /signed/],
  ];
  for (const [what, change, why] of cases) {
    it(why ? `refuses ${what}` : `accepts ${what}`, () => {
      const verdict = findWhyNotConvertible(imageSchema.parse({ ...base, ...change }));
      if (why === undefined) assert.equal(verdict, undefined);
      else assert.match(verdict ?? '', why);
    });
  }

  it('refuses a temporary directory that does not exist, as a usage error', async () => {
    await assert.rejects(
      planConversion(base, {
        tmpDir: '/nonexistent/sd-convert',
        retiredSuffix: ' (retired)',
        deactivateOld: false,
        newImageId: newId,
        members: [],
      }),
      (error: unknown) => {
        assert.ok(error instanceof Error && 'kind' in error);
        assert.equal(error.kind, 'usage');
        assert.match(error.message, /^temporary directory \/nonexistent\/sd-convert cannot be used: /);
        return true;
      },
    );
  });

  it('builds the new image from every property but the reserved and the hashes of the old bytes', () => {
    const image = imageSchema.parse({
      ...base,
      visibility: 'shared',
      os_hidden: false,
      owner: 'p1',
      min_disk: 2,
      min_ram: 512,
      tags: ['a', 'b'],
      protected: true,
      hw_disk_bus: 'scsi',
      os_glance_importing_to_stores: '',
      'owner_specified.openstack.md5': 'abc',
      'owner_specified.openstack.object': 'images/img',
      stores: 'fs',
    });
    const { body, notCopied } = buildCreateBody(image, newId);
    assert.deepEqual(body, {
      id: newId,
      name: 'img',
      disk_format: 'raw',
      container_format: 'bare',
      protected: false,
      visibility: 'shared',
      os_hidden: false,
      owner: 'p1',
      min_disk: 2,
      min_ram: 512,
      tags: ['a', 'b'],
      hw_disk_bus: 'scsi',
      'owner_specified.openstack.object': 'images/img',
    });
    assert.deepEqual(notCopied.sort(), ['os_glance_importing_to_stores', 'owner_specified.openstack.md5']);
  });
});
