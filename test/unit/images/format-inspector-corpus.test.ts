import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  buildGptDisk,
  buildIso,
  createImage,
  fixVhdChecksum,
  inspectFile,
  listRules,
  makeTempDir,
  patchImage,
  requireQemuImg,
  writeBytes,
  writePartition,
} from './helpers.js';

// The malicious and broken images are made here at run time; every one must be refused by the header
// inspector alone, so qemu-img is never run on them.

interface CorpusCase {
  name: string;
  build(dir: string): string;
  claimedFormat?: string;
  rules: string[];
}

function buildDescriptorText(createType: string, extentLine: string, extra = ''): string {
  return [
    '# Disk DescriptorFile',
    'version=1',
    'CID=12345678',
    'parentCID=ffffffff',
    `createType="${createType}"`,
    extra,
    '# Extent description',
    extentLine,
    '',
    'ddb.virtualHWVersion = "4"',
    'ddb.adapterType = "ide"',
    '',
  ].join('\n');
}

/** Replaces the descriptor embedded in a real monolithicSparse vmdk (sector 1, 20 sectors). */
function createVmdkWithDescriptor(dir: string, name: string, text: string, capacity?: bigint): string {
  const base = createImage(dir, `${name}.base.vmdk`, 'vmdk', '1M', ['-o', 'subformat=monolithicSparse']);
  return patchImage(dir, base, name, (bytes) => {
    bytes.fill(0, 512, 512 + 20 * 512);
    bytes.write(text, 512, 'latin1');
    if (capacity !== undefined) bytes.writeBigUInt64LE(capacity, 12);
    return bytes;
  });
}

function createPatchedQcow2(dir: string, name: string, edit: (bytes: Buffer) => void, size = '1M'): string {
  const base = createImage(dir, `${name}.base`, 'qcow2', size);
  return patchImage(dir, base, name, (bytes) => {
    edit(bytes);
    return bytes;
  });
}

const cases: CorpusCase[] = [
  {
    name: 'qcow2 with a backing file pointing at /etc/passwd',
    build: (dir) => createImage(dir, 'backing.qcow2', 'qcow2', '1M', ['-b', '/etc/passwd', '-F', 'raw']),
    claimedFormat: 'qcow2',
    rules: ['qcow2.backing-file'],
  },
  {
    name: 'qcow2 with an external data file',
    build: (dir) =>
      createImage(dir, 'data-file.qcow2', 'qcow2', '1M', ['-o', `data_file=${join(dir, 'data-file.raw')}`]),
    claimedFormat: 'qcow2',
    rules: ['qcow2.data-file'],
  },
  {
    name: 'qcow2 naming a data file in a header extension without the feature bit',
    build: (dir) =>
      createPatchedQcow2(dir, 'data-file-ext.qcow2', (bytes) => {
        const at = bytes.readUInt32BE(100);
        bytes.fill(0, at, at + 64);
        bytes.writeUInt32BE(0x44415441, at);
        bytes.writeUInt32BE(11, at + 4);
        bytes.write('/etc/shadow', at + 8, 'latin1');
      }),
    rules: ['qcow2.data-file'],
  },
  {
    name: 'qcow version 1',
    build: (dir) => createImage(dir, 'v1.qcow', 'qcow', '1M'),
    claimedFormat: 'qcow2',
    rules: ['qcow2.version'],
  },
  {
    name: 'qcow2 encrypted with LUKS',
    build: (dir) =>
      createImage(dir, 'encrypted.qcow2', 'qcow2', '1M', [
        '--object',
        'secret,id=sec0,data=hunter2',
        '-o',
        'encrypt.format=luks,encrypt.key-secret=sec0',
      ]),
    rules: ['qcow2.encrypted'],
  },
  {
    name: 'qcow2 with the legacy AES crypt_method',
    build: (dir) => createPatchedQcow2(dir, 'aes.qcow2', (bytes) => bytes.writeUInt32BE(1, 32)),
    rules: ['qcow2.encrypted'],
  },
  {
    name: 'qcow2 with an unknown incompatible feature bit',
    build: (dir) =>
      createPatchedQcow2(dir, 'unknown-bit.qcow2', (bytes) => bytes.writeBigUInt64BE(1n << 20n, 72)),
    rules: ['qcow2.unknown-feature'],
  },
  {
    name: 'qcow2 with extended L2 entries',
    build: (dir) => createImage(dir, 'extended-l2.qcow2', 'qcow2', '1M', ['-o', 'extended_l2=on']),
    rules: ['qcow2.unknown-feature'],
  },
  {
    name: 'qcow2 marked corrupt',
    build: (dir) => createPatchedQcow2(dir, 'corrupt.qcow2', (bytes) => bytes.writeBigUInt64BE(1n << 1n, 72)),
    rules: ['qcow2.corrupt'],
  },
  {
    name: 'qcow2 truncated to 10 bytes',
    build: (dir) => {
      const base = createImage(dir, 'truncated.base', 'qcow2', '1M');
      return patchImage(dir, base, 'truncated.qcow2', (bytes) => bytes.subarray(0, 10));
    },
    claimedFormat: 'qcow2',
    rules: ['qcow2.truncated'],
  },
  {
    name: 'qcow2 with an absurd l1_size',
    build: (dir) => createPatchedQcow2(dir, 'l1-size.qcow2', (bytes) => bytes.writeUInt32BE(0xffffffff, 36)),
    rules: ['qcow2.l1-table'],
  },
  {
    name: 'qcow2 whose L1 table is too small for its virtual size',
    build: (dir) =>
      createPatchedQcow2(dir, 'l1-small.qcow2', (bytes) => bytes.writeBigUInt64BE(1n << 40n, 24)),
    rules: ['qcow2.l1-table'],
  },
  {
    name: 'qcow2 with the L1 table beyond the end of the file',
    build: (dir) => createPatchedQcow2(dir, 'l1-eof.qcow2', (bytes) => bytes.writeBigUInt64BE(1n << 40n, 40)),
    rules: ['qcow2.l1-table'],
  },
  {
    name: 'qcow2 with a misaligned L1 table',
    build: (dir) =>
      createPatchedQcow2(dir, 'l1-align.qcow2', (bytes) => bytes.writeBigUInt64BE(0x30008n, 40)),
    rules: ['qcow2.l1-table'],
  },
  {
    name: 'qcow2 with cluster_bits 0',
    build: (dir) => createPatchedQcow2(dir, 'cluster-0.qcow2', (bytes) => bytes.writeUInt32BE(0, 20)),
    rules: ['qcow2.cluster-bits'],
  },
  {
    name: 'qcow2 with cluster_bits 40',
    build: (dir) => createPatchedQcow2(dir, 'cluster-40.qcow2', (bytes) => bytes.writeUInt32BE(40, 20)),
    rules: ['qcow2.cluster-bits'],
  },
  {
    name: 'qcow2 with a virtual size above 2^55',
    build: (dir) => createPatchedQcow2(dir, 'huge.qcow2', (bytes) => bytes.writeBigUInt64BE(1n << 60n, 24)),
    rules: ['qcow2.virtual-size'],
  },
  {
    name: 'qcow2 with virtual size 0 but an L1 table',
    build: (dir) => createPatchedQcow2(dir, 'zero-l1.qcow2', (bytes) => bytes.writeBigUInt64BE(0n, 24)),
    rules: ['qcow2.virtual-size'],
  },
  {
    name: 'qcow2 with header_length larger than a cluster',
    build: (dir) =>
      createPatchedQcow2(dir, 'header-length.qcow2', (bytes) => bytes.writeUInt32BE(1 << 20, 100)),
    rules: ['qcow2.header-length'],
  },
  {
    name: 'qcow2 with an unknown compression type',
    build: (dir) => createPatchedQcow2(dir, 'compression.qcow2', (bytes) => bytes.writeUInt8(7, 104)),
    rules: ['qcow2.compression-type'],
  },
  {
    name: 'qcow2 with a misaligned refcount table',
    build: (dir) =>
      createPatchedQcow2(dir, 'refcount.qcow2', (bytes) => bytes.writeBigUInt64BE(0x10001n, 48)),
    rules: ['qcow2.refcount-table'],
  },
  {
    name: 'qcow2 claiming a million snapshots',
    build: (dir) => createPatchedQcow2(dir, 'snapshots.qcow2', (bytes) => bytes.writeUInt32BE(1_000_000, 60)),
    rules: ['qcow2.snapshots'],
  },
  {
    name: 'qcow2 with a header extension running past the header cluster',
    build: (dir) =>
      createPatchedQcow2(dir, 'extension.qcow2', (bytes) =>
        bytes.writeUInt32BE(0x7fffffff, bytes.readUInt32BE(100) + 4),
      ),
    rules: ['qcow2.header-extension'],
  },
  {
    name: 'vmdk descriptor with a FLAT extent naming /etc/shadow',
    build: (dir) =>
      writeBytes(
        dir,
        'flat-shadow.vmdk',
        Buffer.from(buildDescriptorText('monolithicSparse', 'RW 2048 FLAT "/etc/shadow" 0')),
      ),
    claimedFormat: 'vmdk',
    rules: ['vmdk.extent-type', 'vmdk.extent-path', 'vmdk.descriptor-only'],
  },
  {
    name: 'vmdk descriptor with a path in a sparse extent',
    build: (dir) =>
      writeBytes(
        dir,
        'sparse-path.vmdk',
        Buffer.from(buildDescriptorText('monolithicSparse', 'RW 2048 SPARSE "../../etc/x.vmdk"')),
      ),
    claimedFormat: 'vmdk',
    rules: ['vmdk.extent-path'],
  },
  {
    name: 'standalone vmdk descriptor whose extent is a sibling file',
    build: (dir) =>
      writeBytes(
        dir,
        'sibling.vmdk',
        Buffer.from(buildDescriptorText('monolithicSparse', 'RW 2048 SPARSE "other.vmdk"')),
      ),
    claimedFormat: 'vmdk',
    rules: ['vmdk.descriptor-only'],
  },
  {
    name: 'vmdk with createType monolithicFlat',
    build: (dir) => createImage(dir, 'flat.vmdk', 'vmdk', '1M', ['-o', 'subformat=monolithicFlat']),
    claimedFormat: 'vmdk',
    rules: ['vmdk.create-type', 'vmdk.extent-type'],
  },
  {
    name: 'vmdk sparse header whose embedded descriptor references another file',
    build: (dir) =>
      createVmdkWithDescriptor(
        dir,
        'embedded.vmdk',
        buildDescriptorText('monolithicSparse', 'RW 2048 FLAT "passwd" 0'),
        0n,
      ),
    claimedFormat: 'vmdk',
    rules: ['vmdk.descriptor-extents', 'vmdk.extent-type'],
  },
  {
    name: 'vmdk sparse extent naming a parent file',
    build: (dir) =>
      createVmdkWithDescriptor(
        dir,
        'parent.vmdk',
        buildDescriptorText(
          'monolithicSparse',
          'RW 2048 SPARSE "parent.vmdk"',
          'parentFileNameHint="/etc/passwd"',
        ),
      ),
    rules: ['vmdk.parent'],
  },
  {
    name: 'vmdk descriptor with a line that is not key=value',
    build: (dir) =>
      createVmdkWithDescriptor(
        dir,
        'bad-line.vmdk',
        buildDescriptorText('streamOptimized', 'RW 2048 SPARSE "x.vmdk"', '!include /etc'),
      ),
    rules: ['vmdk.descriptor-line'],
  },
  {
    name: 'vmdk stream with the grain directory at the end but no footer',
    build: (dir) => {
      const base = createImage(dir, 'stream.base', 'vmdk', '1M', ['-o', 'subformat=streamOptimized']);
      return patchImage(dir, base, 'stream-nofooter.vmdk', (bytes) => {
        bytes.writeBigUInt64LE(0xffffffffffffffffn, 56);
        return bytes;
      });
    },
    rules: ['vmdk.footer'],
  },
  {
    name: 'raw-labelled qcow2',
    build: (dir) => createImage(dir, 'labelled-raw.qcow2', 'qcow2', '1M'),
    claimedFormat: 'raw',
    rules: ['format.mismatch'],
  },
  {
    name: 'iso labelled qcow2',
    build: (dir) => writeBytes(dir, 'labelled.iso', buildIso()),
    claimedFormat: 'qcow2',
    rules: ['format.mismatch'],
  },
  {
    name: 'qcow2 labelled vmdk',
    build: (dir) => createImage(dir, 'labelled-vmdk.qcow2', 'qcow2', '1M'),
    claimedFormat: 'vmdk',
    rules: ['format.mismatch'],
  },
  {
    name: 'qcow2 that also carries an ISO signature at 32769',
    build: (dir) => {
      const base = createImage(dir, 'polyglot.base', 'qcow2', '1M');
      return patchImage(dir, base, 'polyglot.qcow2', (bytes) => {
        buildIso().copy(bytes, 32 * 1024, 32 * 1024, 36 * 1024);
        return bytes;
      });
    },
    claimedFormat: 'qcow2',
    rules: ['format.multiple'],
  },
  {
    name: 'luks container',
    build: (dir) =>
      createImage(dir, 'disk.luks', 'luks', '1M', [
        '--object',
        'secret,id=sec0,data=hunter2',
        '-o',
        'key-secret=sec0',
      ]),
    rules: ['luks.encrypted'],
  },
  {
    name: 'qed image',
    build: (dir) => createImage(dir, 'disk.qed', 'qed', '1M'),
    claimedFormat: 'qed',
    rules: ['qed.unsupported'],
  },
  {
    name: 'qed image with a backing file',
    build: (dir) => createImage(dir, 'backing.qed', 'qed', '1M', ['-b', '/etc/passwd', '-F', 'raw']),
    rules: ['qed.backing-file'],
  },
  {
    name: 'MBR with an invalid boot flag',
    build: (dir) => {
      const bytes = Buffer.alloc(1024 * 1024);
      writePartition(bytes, 0, { boot: 0x42, type: 0x83, lba: 2048, sectors: 100 });
      return writeBytes(dir, 'boot-flag.raw', bytes);
    },
    claimedFormat: 'raw',
    rules: ['mbr.boot-flag'],
  },
  {
    name: 'protective MBR with a second partition',
    build: (dir) => {
      const bytes = buildGptDisk();
      writePartition(bytes, 1, { type: 0x83, lba: 100, sectors: 100 });
      return writeBytes(dir, 'hybrid.raw', bytes);
    },
    rules: ['mbr.protective'],
  },
  {
    name: 'GPT header with a wrong checksum',
    build: (dir) => {
      const bytes = buildGptDisk();
      bytes.writeUInt32LE((bytes.readUInt32LE(512 + 16) ^ 1) >>> 0, 512 + 16);
      return writeBytes(dir, 'gpt-crc.raw', bytes);
    },
    rules: ['gpt.header'],
  },
  {
    name: 'differencing vhd',
    build: (dir) => {
      const base = createImage(dir, 'diff.base', 'vpc', '1M');
      return patchImage(dir, base, 'diff.vhd', (bytes) => {
        bytes.writeUInt32BE(4, 60);
        fixVhdChecksum(bytes, 0);
        return bytes;
      });
    },
    claimedFormat: 'vhd',
    rules: ['vhd.differencing'],
  },
  {
    name: 'vhd footer with a bad checksum',
    build: (dir) => {
      const base = createImage(dir, 'checksum.base', 'vpc', '1M');
      return patchImage(dir, base, 'checksum.vhd', (bytes) => {
        bytes.writeUInt32BE((bytes.readUInt32BE(64) ^ 0xff) >>> 0, 64);
        return bytes;
      });
    },
    rules: ['vhd.checksum'],
  },
  {
    name: 'vdi linked to a parent image',
    build: (dir) => {
      const base = createImage(dir, 'parent.base', 'vdi', '1M');
      return patchImage(dir, base, 'parent.vdi', (bytes) => {
        bytes.fill(0xab, 0x1b8, 0x1c8);
        return bytes;
      });
    },
    claimedFormat: 'vdi',
    rules: ['vdi.parent'],
  },
  {
    name: 'vhdx with a parent locator',
    build: (dir) => {
      const base = createImage(dir, 'parent-vhdx.base', 'vhdx', '1M');
      return patchImage(dir, base, 'parent.vhdx', (bytes) => {
        // Rewrite the page-83 metadata entry's GUID into the parent locator's.
        const table = 0x300000;
        const guid = Buffer.from('2d5fd3a80bb34d45abf7d3d84834ab0c', 'hex');
        const count = bytes.readUInt16LE(table + 10);
        for (let i = 0; i < count; i++) {
          const entry = table + 32 + i * 32;
          if (bytes.subarray(entry, entry + 4).equals(Buffer.from('ab12cabe', 'hex')))
            guid.copy(bytes, entry);
        }
        return bytes;
      });
    },
    rules: ['vhdx.parent'],
  },
];

describe('format inspector: malicious and broken corpus', () => {
  let temp: ReturnType<typeof makeTempDir>;
  before(() => {
    requireQemuImg();
    temp = makeTempDir();
  });
  after(() => temp.remove());

  it('has at least 20 cases', () => {
    assert.ok(cases.length >= 20, `only ${cases.length} cases`);
  });

  for (const corpusCase of cases) {
    it(`refuses ${corpusCase.name}`, async () => {
      const path = corpusCase.build(temp.dir);
      const options =
        corpusCase.claimedFormat === undefined ? {} : { claimedFormat: corpusCase.claimedFormat };
      const inspection = await inspectFile(path, options);
      assert.equal(inspection.safe, false);
      for (const rule of corpusCase.rules) {
        assert.ok(
          listRules(inspection).includes(rule),
          `expected ${rule}, got ${listRules(inspection).join(', ')}`,
        );
      }
      for (const found of inspection.problems) assert.ok(found.message.length > 0);
    });
  }

  it('names both formats when the claim disagrees', async () => {
    const path = createImage(temp.dir, 'named.qcow2', 'qcow2', '1M');
    const inspection = await inspectFile(path, { claimedFormat: 'raw' });
    const mismatch = inspection.problems.find((p) => p.rule === 'format.mismatch');
    assert.match(mismatch?.message ?? '', /"raw".*qcow2/);
  });

  it('reports the backing file name and its header offset', async () => {
    const path = createImage(temp.dir, 'named-backing.qcow2', 'qcow2', '1M', [
      '-b',
      '/etc/passwd',
      '-F',
      'raw',
    ]);
    const found = (await inspectFile(path)).problems.find((p) => p.rule === 'qcow2.backing-file');
    assert.equal(found?.offset, 8);
    assert.match(found?.message ?? '', /\/etc\/passwd/);
  });

  it('refuses a file that is a qcow2 and a vdi at once', async () => {
    const bytes = Buffer.alloc(4096);
    Buffer.from([0x51, 0x46, 0x49, 0xfb]).copy(bytes, 0);
    Buffer.from([0x7f, 0x10, 0xda, 0xbe]).copy(bytes, 0x40);
    const inspection = await inspectFile(writeBytes(temp.dir, 'qcow2-vdi', bytes));
    assert.deepEqual(inspection.formats, ['qcow2', 'vdi']);
    assert.ok(listRules(inspection).includes('format.multiple'));
  });
});
