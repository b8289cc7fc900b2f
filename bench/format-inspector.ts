/**
 * Header inspections per second over a corpus of real and crafted images (valid and hostile).
 * Usage: node --import tsx bench/format-inspector.ts [--rounds 200]
 * Two figures: from files on disk (open + reads + close per inspection) and from bytes in memory (parsing only).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createBufferByteSource, openFileByteSource } from '../src/images/byte-source.js';
import { inspectImage } from '../src/images/format-inspector.js';

const roundsFlag = process.argv.indexOf('--rounds');
const rounds = roundsFlag > 0 ? Number(process.argv[roundsFlag + 1]) : 200;
const dir = mkdtempSync(path.join(tmpdir(), 'stackdoctor-bench-inspector-'));

function createWithQemuImg(name: string, format: string, size: string, options: string[] = []): string {
  const file = path.join(dir, name);
  execFileSync('qemu-img', ['create', '-q', '-f', format, ...options, file, size]);
  return file;
}

function patchCopy(source: string, name: string, edit: (bytes: Buffer) => void): string {
  const bytes = readFileSync(source);
  edit(bytes);
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

try {
  const qcow2 = createWithQemuImg('v3.qcow2', 'qcow2', '10G');
  const files = [
    qcow2,
    createWithQemuImg('v2.qcow2', 'qcow2', '10G', ['-o', 'compat=0.10']),
    createWithQemuImg('backing.qcow2', 'qcow2', '1M', ['-b', '/etc/passwd', '-F', 'raw']),
    createWithQemuImg('sparse.vmdk', 'vmdk', '10G'),
    createWithQemuImg('stream.vmdk', 'vmdk', '10G', ['-o', 'subformat=streamOptimized']),
    createWithQemuImg('flat.vmdk', 'vmdk', '1M', ['-o', 'subformat=monolithicFlat']),
    createWithQemuImg('dynamic.vhd', 'vpc', '10G'),
    createWithQemuImg('disk.vhdx', 'vhdx', '10G'),
    createWithQemuImg('disk.vdi', 'vdi', '10G'),
    createWithQemuImg('disk.qed', 'qed', '1G'),
    createWithQemuImg('disk.raw', 'raw', '64M'),
    patchCopy(qcow2, 'l1-size.qcow2', (bytes) => bytes.writeUInt32BE(0xffffffff, 36)),
    patchCopy(qcow2, 'data-file-bit.qcow2', (bytes) => bytes.writeBigUInt64BE(4n, 72)),
  ];
  const inMemory = files.map((file) => readFileSync(file));

  const measure = async (inspectOne: (index: number) => Promise<unknown>): Promise<number> => {
    const started = process.hrtime.bigint();
    for (let round = 0; round < rounds; round++) {
      for (let index = 0; index < files.length; index++) await inspectOne(index);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return (rounds * files.length) / seconds;
  };

  const fromDisk = await measure(async (index) => {
    const source = await openFileByteSource(files[index]!);
    try {
      return await inspectImage(source);
    } finally {
      await source.close();
    }
  });
  const fromMemory = await measure((index) => inspectImage(createBufferByteSource(inMemory[index]!)));
  console.log(`${files.length} images x ${rounds} rounds`);
  console.log(`from files:  ${fromDisk.toFixed(0).padStart(8)} inspections/s`);
  console.log(`from memory: ${fromMemory.toFixed(0).padStart(8)} inspections/s`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
