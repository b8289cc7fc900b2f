import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createProgressParser,
  crossCheckInfo,
  QemuImgError,
  QemuImgInfoSchema,
  qemuImgCompare,
  qemuImgConvert,
  qemuImgInfo,
} from '../../../src/images/qemu-img.js';
import { createImage, inspectFile, makeTempDir, requireQemuImg, runQemuImg } from './helpers.js';

const MiB = 1024 * 1024;

async function expectRejection(promise: Promise<unknown>, kind: string): Promise<QemuImgError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof QemuImgError, `expected QemuImgError, got ${String(error)}`);
    assert.equal(error.kind, kind);
    assert.equal(error.exitCode, 3);
    return error;
  }
  assert.fail(`expected a ${kind} error`);
}

function writeScript(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

function findProcessesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(text)) found.push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return found;
}

describe('qemu-img wrapper', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let original: Buffer;
  let rawPath: string;
  let qcow2Path: string;
  before(() => {
    requireQemuImg();
    temp = makeTempDir();
    original = Buffer.alloc(8 * MiB);
    randomBytes(2 * MiB).copy(original, 0);
    randomBytes(100_000).copy(original, 5 * MiB + 123);
    rawPath = join(temp.dir, 'original.raw');
    writeFileSync(rawPath, original);
    qcow2Path = join(temp.dir, 'original.qcow2');
    runQemuImg(['convert', '-f', 'raw', '-O', 'qcow2', rawPath, qcow2Path]);
  });
  after(() => temp.remove());

  it('reads qemu-img info and finds it consistent with the inspection', async () => {
    const inspection = await inspectFile(qcow2Path, { claimedFormat: 'qcow2' });
    const info = await qemuImgInfo(qcow2Path, 'qcow2');
    assert.equal(info.format, 'qcow2');
    assert.equal(info['virtual-size'], 8 * MiB);
    assert.deepEqual(crossCheckInfo(info, inspection), { safe: true, problems: [] });
  });

  it('runs qemu-img info under prlimit with an explicit format and an absolute path', async () => {
    const fake = writeScript(
      temp.dir,
      'fake-qemu-img',
      'printf \'{"format":"raw","virtual-size":%s,"filename":"%s","backing-filename-format":"cpu=%s"}\' "$(ulimit -v)" "$*" "$(ulimit -t)"',
    );
    const info = await qemuImgInfo('relative/disk.img', 'raw', { qemuImgCommand: fake });
    assert.equal(info['virtual-size'], 1024 * 1024, 'address space limit in KiB');
    assert.equal(info['backing-filename-format'], 'cpu=30');
    assert.match(info.filename ?? '', /^info -f raw --output=json \/.*\/relative\/disk\.img$/);
  });

  it('reports a missing qemu-img or prlimit as qemu-img-missing', async () => {
    await expectRejection(
      qemuImgInfo(qcow2Path, 'qcow2', { qemuImgCommand: '/nonexistent/qemu-img' }),
      'qemu-img-missing',
    );
    await expectRejection(
      qemuImgInfo(qcow2Path, 'qcow2', { prlimitCommand: '/nonexistent/prlimit' }),
      'qemu-img-missing',
    );
    await expectRejection(
      qemuImgConvert({
        src: qcow2Path,
        srcFormat: 'qcow2',
        dst: join(temp.dir, 'never.raw'),
        qemuImgCommand: '/nonexistent/qemu-img',
      }),
      'qemu-img-missing',
    );
  });

  it('refuses output that is not the expected JSON', async () => {
    const notJson = writeScript(temp.dir, 'not-json', 'echo "this is not json"');
    await expectRejection(qemuImgInfo(qcow2Path, 'qcow2', { qemuImgCommand: notJson }), 'qemu-img-output');
    const wrongShape = writeScript(temp.dir, 'wrong-shape', 'echo \'{"format": 7}\'');
    await expectRejection(qemuImgInfo(qcow2Path, 'qcow2', { qemuImgCommand: wrongShape }), 'qemu-img-output');
  });

  it('reports a failing qemu-img with the tail of its stderr', async () => {
    const error = await expectRejection(
      qemuImgInfo(join(temp.dir, 'missing.qcow2'), 'qcow2'),
      'qemu-img-failed',
    );
    assert.match(error.message, /exit code 1/);
    assert.match(error.stderrTail, /missing\.qcow2/);
  });

  it('cross-check refuses a backing file, a data file, a format or size disagreement', async () => {
    const backing = createImage(temp.dir, 'backing.qcow2', 'qcow2', '1M', ['-b', '/etc/passwd', '-F', 'raw']);
    const backingCheck = crossCheckInfo(await qemuImgInfo(backing, 'qcow2'), await inspectFile(backing));
    assert.deepEqual(
      backingCheck.problems.map((p) => p.rule),
      ['qemu.inspection-refused', 'qemu.backing-file'],
    );

    const dataFile = createImage(temp.dir, 'df.qcow2', 'qcow2', '1M', [
      '-o',
      `data_file=${join(temp.dir, 'df.raw')}`,
    ]);
    const dataCheck = crossCheckInfo(await qemuImgInfo(dataFile, 'qcow2'), await inspectFile(dataFile));
    assert.ok(dataCheck.problems.some((p) => p.rule === 'qemu.data-file'));

    const asRaw = crossCheckInfo(await qemuImgInfo(qcow2Path, 'raw'), await inspectFile(qcow2Path));
    assert.deepEqual(
      asRaw.problems.map((p) => p.rule),
      ['qemu.format', 'qemu.virtual-size'],
    );

    const flat = createImage(temp.dir, 'flat.vmdk', 'vmdk', '1M', ['-o', 'subformat=monolithicFlat']);
    const flatCheck = crossCheckInfo(await qemuImgInfo(flat, 'vmdk'), await inspectFile(flat));
    assert.ok(flatCheck.problems.some((p) => p.rule === 'qemu.vmdk-create-type'));
    assert.ok(flatCheck.problems.some((p) => p.rule === 'qemu.vmdk-extent'));

    const inspection = await inspectFile(qcow2Path);
    const smaller = QemuImgInfoSchema.parse({ format: 'qcow2', 'virtual-size': 4 * MiB });
    assert.equal(crossCheckInfo(smaller, inspection).safe, false);
    const withEncryption = QemuImgInfoSchema.parse({
      format: 'qcow2',
      'virtual-size': 8 * MiB,
      'format-specific': { type: 'qcow2', data: { encrypt: { format: 'luks' }, corrupt: true } },
    });
    assert.deepEqual(
      crossCheckInfo(withEncryption, inspection).problems.map((p) => p.rule),
      ['qemu.encrypted', 'qemu.corrupt'],
    );
  });

  it('converts qcow2 to a sparse raw file with the original bytes, reporting progress', async () => {
    const output = join(temp.dir, 'converted.raw');
    const progress: number[] = [];
    await qemuImgConvert({
      src: qcow2Path,
      srcFormat: 'qcow2',
      dst: output,
      onProgress: (p) => progress.push(p),
    });
    assert.ok(readFileSync(output).equals(original), 'converted bytes differ from the original');
    assert.ok(await qemuImgCompare(qcow2Path, 'qcow2', output, 'raw'));
    assert.ok(progress.length > 0);
    assert.equal(progress.at(-1), 100);
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
      'progress never goes backwards',
    );
    const allocated = statSync(output).blocks * 512;
    assert.ok(allocated < original.length, `raw output is not sparse (${allocated} bytes allocated)`);
    const outputInspection = await inspectFile(output, { claimedFormat: 'raw' });
    assert.equal(outputInspection.safe, true);
  });

  it('compare reports different content as false', async () => {
    const changed = Buffer.from(original);
    changed[7 * MiB] = 1;
    const changedPath = join(temp.dir, 'changed.raw');
    writeFileSync(changedPath, changed);
    assert.equal(await qemuImgCompare(qcow2Path, 'qcow2', changedPath, 'raw'), false);
  });

  it('kills the conversion when aborted', async () => {
    // Reading from a FIFO with no writer blocks forever, so only the abort can end this conversion.
    const fifo = join(temp.dir, 'blocked-source');
    execFileSync('mkfifo', [fifo]);
    const controller = new AbortController();
    const converting = qemuImgConvert({
      src: fifo,
      srcFormat: 'raw',
      dst: join(temp.dir, 'aborted.raw'),
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    await expectRejection(converting, 'qemu-img-aborted');
    assert.deepEqual(findProcessesMentioning(fifo), []);
  });

  it('does not start when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expectRejection(
      qemuImgConvert({
        src: qcow2Path,
        srcFormat: 'qcow2',
        dst: join(temp.dir, 'pre.raw'),
        signal: controller.signal,
      }),
      'qemu-img-aborted',
    );
  });

  it('parses progress updates split across chunks', () => {
    const seen: number[] = [];
    const parse = createProgressParser((p) => seen.push(p));
    parse('    (0.00/100%)\r    (12.');
    parse('50/100%)\r    (100.00/100%)\r');
    parse('\n');
    assert.deepEqual(seen, [0, 12.5, 100]);
  });
});
