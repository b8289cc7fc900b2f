import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createBufferByteSource } from '../../../src/images/byte-source.js';
import type { ImageFormat } from '../../../src/images/format-inspector.js';
import { inspectImage } from '../../../src/images/format-inspector.js';
import { crossCheckInfo, qemuImgInfo, toQemuFormat } from '../../../src/images/qemu-img.js';
import {
  buildGptDisk,
  buildIso,
  createImage,
  hasCommand,
  inspectFile,
  makeTempDir,
  patchImage,
  requireQemuImg,
  runQemuImg,
  writeBytes,
  writePartition,
} from './helpers.js';

interface ValidCase {
  name: string;
  build(dir: string): string;
  format: ImageFormat;
  claimedFormat: string;
  virtualSize?: number;
  skip?: string | false;
}

const MiB = 1024 * 1024;

/** A raw disk with some random data, converted into other formats so they carry real allocated clusters. */
function createRawWithData(dir: string): string {
  const path = join(dir, 'data.raw');
  const bytes = Buffer.alloc(4 * MiB);
  randomBytes(MiB).copy(bytes, 0);
  randomBytes(64 * 1024).copy(bytes, 3 * MiB);
  writeFileSync(path, bytes);
  return path;
}

function convertTo(dir: string, name: string, format: string, options: string[] = []): string {
  const path = join(dir, name);
  runQemuImg(['convert', '-f', 'raw', '-O', format, ...options, createRawWithData(dir), path]);
  return path;
}

const cases: ValidCase[] = [
  {
    name: 'qcow2 v3',
    build: (dir) => createImage(dir, 'v3.qcow2', 'qcow2', '1G'),
    format: 'qcow2',
    claimedFormat: 'qcow2',
    virtualSize: 1024 * MiB,
  },
  {
    name: 'qcow2 v2 (compat=0.10)',
    build: (dir) => createImage(dir, 'v2.qcow2', 'qcow2', '1G', ['-o', 'compat=0.10']),
    format: 'qcow2',
    claimedFormat: 'qcow2',
    virtualSize: 1024 * MiB,
  },
  {
    name: 'qcow2 with zstd compression (incompatible bit 3)',
    build: (dir) => createImage(dir, 'zstd.qcow2', 'qcow2', '64M', ['-o', 'compression_type=zstd']),
    format: 'qcow2',
    claimedFormat: 'qcow2',
  },
  {
    name: 'qcow2 with data, 512-byte clusters',
    build: (dir) => convertTo(dir, 'small-clusters.qcow2', 'qcow2', ['-o', 'cluster_size=512']),
    format: 'qcow2',
    claimedFormat: 'qcow2',
    virtualSize: 4 * MiB,
  },
  {
    name: 'qcow2 with data, 2 MiB clusters, lazy refcounts',
    build: (dir) =>
      convertTo(dir, 'big-clusters.qcow2', 'qcow2', ['-o', 'cluster_size=2M,lazy_refcounts=on']),
    format: 'qcow2',
    claimedFormat: 'qcow2',
  },
  {
    name: 'compressed qcow2',
    build: (dir) => convertTo(dir, 'compressed.qcow2', 'qcow2', ['-c']),
    format: 'qcow2',
    claimedFormat: 'qcow2',
  },
  {
    name: 'qcow2 with an internal snapshot and a bitmap',
    build: (dir) => {
      const path = convertTo(dir, 'snapshot.qcow2', 'qcow2');
      runQemuImg(['snapshot', '-c', 'before', path]);
      runQemuImg(['bitmap', '--add', path, 'dirty']);
      return path;
    },
    format: 'qcow2',
    claimedFormat: 'qcow2',
  },
  {
    name: 'qcow2 of 100 TiB',
    build: (dir) => createImage(dir, 'large.qcow2', 'qcow2', '100T'),
    format: 'qcow2',
    claimedFormat: 'qcow2',
    virtualSize: 100 * 1024 * 1024 * MiB,
  },
  {
    name: 'empty qcow2',
    build: (dir) => createImage(dir, 'empty.qcow2', 'qcow2', '0'),
    format: 'qcow2',
    claimedFormat: 'qcow2',
    virtualSize: 0,
  },
  {
    name: 'qcow2 shrunk to 512 bytes (L1 table larger than needed)',
    build: (dir) => {
      const path = createImage(dir, 'shrunk.qcow2', 'qcow2', '1G');
      runQemuImg(['resize', '-q', '--shrink', path, '512']);
      return path;
    },
    format: 'qcow2',
    claimedFormat: 'qcow2',
    virtualSize: 512,
  },
  {
    name: 'raw with data',
    build: (dir) => createRawWithData(dir),
    format: 'raw',
    claimedFormat: 'raw',
    virtualSize: 4 * MiB,
  },
  {
    name: 'empty raw',
    build: (dir) => writeBytes(dir, 'empty.raw', new Uint8Array(0)),
    format: 'raw',
    claimedFormat: 'raw',
  },
  {
    name: 'vmdk monolithicSparse',
    build: (dir) => createImage(dir, 'sparse.vmdk', 'vmdk', '100M', ['-o', 'subformat=monolithicSparse']),
    format: 'vmdk',
    claimedFormat: 'vmdk',
    virtualSize: 100 * MiB,
  },
  {
    name: 'vmdk streamOptimized',
    build: (dir) => createImage(dir, 'stream.vmdk', 'vmdk', '100M', ['-o', 'subformat=streamOptimized']),
    format: 'vmdk',
    claimedFormat: 'vmdk',
  },
  {
    name: 'vmdk streamOptimized with data',
    build: (dir) => convertTo(dir, 'stream-data.vmdk', 'vmdk', ['-o', 'subformat=streamOptimized']),
    format: 'vmdk',
    claimedFormat: 'vmdk',
  },
  {
    name: 'vmdk monolithicSparse with data',
    build: (dir) => convertTo(dir, 'sparse-data.vmdk', 'vmdk'),
    format: 'vmdk',
    claimedFormat: 'vmdk',
  },
  {
    name: 'vhd dynamic',
    build: (dir) => createImage(dir, 'dynamic.vhd', 'vpc', '100M'),
    format: 'vhd',
    claimedFormat: 'vhd',
  },
  {
    name: 'vhd fixed (footer only at the end)',
    build: (dir) => convertTo(dir, 'fixed.vhd', 'vpc', ['-o', 'subformat=fixed']),
    format: 'vhd',
    claimedFormat: 'vhd',
  },
  {
    name: 'vhd sized by current_size (force_size)',
    build: (dir) => createImage(dir, 'force-size.vhd', 'vpc', '100M', ['-o', 'force_size=on']),
    format: 'vhd',
    claimedFormat: 'vhd',
    virtualSize: 100 * MiB,
  },
  {
    name: 'vhdx',
    build: (dir) => convertTo(dir, 'disk.vhdx', 'vhdx'),
    format: 'vhdx',
    claimedFormat: 'vhdx',
    virtualSize: 4 * MiB,
  },
  {
    name: 'vdi dynamic',
    build: (dir) => convertTo(dir, 'dynamic.vdi', 'vdi'),
    format: 'vdi',
    claimedFormat: 'vdi',
    virtualSize: 4 * MiB,
  },
  {
    name: 'vdi static',
    build: (dir) => createImage(dir, 'static.vdi', 'vdi', '4M', ['-o', 'static=on']),
    format: 'vdi',
    claimedFormat: 'vdi',
  },
  {
    name: 'hand-built iso',
    build: (dir) => writeBytes(dir, 'hand.iso', buildIso()),
    format: 'iso',
    claimedFormat: 'iso',
  },
  {
    name: 'genisoimage iso',
    build: (dir) => {
      const source = join(dir, 'iso-content');
      execFileSync('mkdir', ['-p', source]);
      writeFileSync(join(source, 'hello.txt'), 'hello\n');
      const path = join(dir, 'tool.iso');
      execFileSync('genisoimage', ['-quiet', '-o', path, source]);
      return path;
    },
    format: 'iso',
    claimedFormat: 'iso',
    skip: !hasCommand('genisoimage') && 'genisoimage is not installed',
  },
  {
    name: 'hand-built GPT disk',
    build: (dir) => writeBytes(dir, 'hand-gpt.raw', buildGptDisk()),
    format: 'gpt',
    claimedFormat: 'raw',
  },
  {
    name: 'hand-built MBR disk',
    build: (dir) => {
      const bytes = Buffer.alloc(MiB);
      writePartition(bytes, 0, { boot: 0x80, type: 0x83, lba: 2048, sectors: 100 });
      return writeBytes(dir, 'hand-mbr.raw', bytes);
    },
    format: 'mbr',
    claimedFormat: 'raw',
  },
  {
    name: 'sfdisk GPT disk',
    build: (dir) => partitionWithSfdisk(dir, 'sfdisk-gpt.raw', 'label: gpt\n,2M\n,\n'),
    format: 'gpt',
    claimedFormat: 'raw',
    skip: !hasCommand('sfdisk') && 'sfdisk is not installed',
  },
  {
    name: 'sfdisk MBR disk',
    build: (dir) => partitionWithSfdisk(dir, 'sfdisk-mbr.raw', 'label: dos\n,2M,L,*\n,\n'),
    format: 'mbr',
    claimedFormat: 'raw',
    skip: !hasCommand('sfdisk') && 'sfdisk is not installed',
  },
];

function partitionWithSfdisk(dir: string, name: string, script: string): string {
  const path = writeBytes(dir, name, Buffer.alloc(4 * MiB));
  execFileSync('sfdisk', ['-q', path], { input: script });
  return path;
}

describe('format inspector: valid images', () => {
  let temp: ReturnType<typeof makeTempDir>;
  before(() => {
    requireQemuImg();
    temp = makeTempDir();
  });
  after(() => temp.remove());

  for (const validCase of cases) {
    it(`accepts ${validCase.name} and agrees with qemu-img info`, {
      skip: validCase.skip ?? false,
    }, async () => {
      const path = validCase.build(temp.dir);
      const inspection = await inspectFile(path, { claimedFormat: validCase.claimedFormat });
      assert.deepEqual(inspection.problems, []);
      assert.equal(inspection.safe, true);
      assert.equal(inspection.format, validCase.format);
      if (validCase.virtualSize !== undefined) assert.equal(inspection.virtualSize, validCase.virtualSize);
      const info = await qemuImgInfo(path, toQemuFormat(inspection.format));
      assert.deepEqual(crossCheckInfo(info, inspection), { safe: true, problems: [] });
    });
  }

  it('accepts a streamOptimized vmdk whose footer mirrors the header', async () => {
    const base = createImage(temp.dir, 'footer.base', 'vmdk', '1M', ['-o', 'subformat=streamOptimized']);
    const path = patchImage(temp.dir, base, 'footer.vmdk', (bytes) => {
      const header = Buffer.from(bytes.subarray(0, 512));
      bytes.writeBigUInt64LE(0xffffffffffffffffn, 56);
      const tail = Buffer.alloc(1536);
      tail.writeBigUInt64LE(1n, 0);
      tail.writeUInt32LE(3, 12);
      header.copy(tail, 512);
      return Buffer.concat([bytes, tail]);
    });
    const inspection = await inspectFile(path, { claimedFormat: 'vmdk' });
    assert.deepEqual(inspection.problems, []);
  });

  it('accepts an ISO with a hybrid MBR as iso', async () => {
    const bytes = buildIso();
    writePartition(bytes, 0, { boot: 0x80, type: 0x17, lba: 0, sectors: 160, chs: [0, 1, 0] });
    const inspection = await inspectImage(createBufferByteSource(bytes), { claimedFormat: 'iso' });
    assert.equal(inspection.safe, true);
    assert.deepEqual(inspection.formats, ['iso', 'mbr']);
  });

  it('treats Glance raw aliases and the qemu name vpc as matching claims', async () => {
    const raw = await inspectImage(createBufferByteSource(new Uint8Array(4096)), { claimedFormat: 'ami' });
    assert.equal(raw.safe, true);
    const vhd = await inspectFile(createImage(temp.dir, 'alias.vhd', 'vpc', '1M'), { claimedFormat: 'vpc' });
    assert.equal(vhd.safe, true);
  });

  it('does not take a FAT boot sector for an MBR', async () => {
    const bytes = Buffer.alloc(MiB);
    bytes[16] = 2;
    bytes[21] = 0xf8;
    bytes[510] = 0x55;
    bytes[511] = 0xaa;
    const inspection = await inspectImage(createBufferByteSource(bytes), { claimedFormat: 'raw' });
    assert.equal(inspection.format, 'raw');
    assert.equal(inspection.safe, true);
  });
});
