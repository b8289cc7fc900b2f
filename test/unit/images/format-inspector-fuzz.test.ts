import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ByteSource } from '../../../src/images/byte-source.js';
import { IMAGE_FORMATS, inspectImage, MAX_INSPECT_BYTES } from '../../../src/images/format-inspector.js';
import {
  buildGptDisk,
  buildIso,
  createImage,
  makeTempDir,
  requireQemuImg,
  runQemuImg,
  writeBytes,
  writePartition,
} from './helpers.js';

const ITERATIONS = 5000;
const SEED = 0x5eed1234;
/** No inspection needs more than a handful of reads; a loop driven by a header field would show up here. */
const MAX_READ_CALLS = 64;

/** mulberry32: small, seedable, good enough to spread mutations. */
function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Patch {
  offset: number;
  bytes: Uint8Array;
}

interface Mutant {
  description: string;
  length: number;
  patches: Patch[];
  streaming: boolean;
}

interface CountingSource extends ByteSource {
  bytesServed: number;
  calls: number;
}

/** Serves a seed image with patches laid over it, without copying the whole image per iteration. */
function createMutantSource(base: Uint8Array, mutant: Mutant): CountingSource {
  const source: CountingSource = {
    size: mutant.streaming ? undefined : mutant.length,
    bytesServed: 0,
    calls: 0,
    read: async (offset, length) => {
      source.calls++;
      const end = Math.min(mutant.length, offset + length);
      // Uint8Array#slice copies (unlike Buffer#slice), so patches never reach the seed.
      const out = Uint8Array.prototype.slice.call(base, Math.min(offset, end), end);
      for (const patch of mutant.patches) {
        for (let i = 0; i < patch.bytes.length; i++) {
          const at = patch.offset + i - offset;
          if (at >= 0 && at < out.length) out[at] = patch.bytes[i]!;
        }
      }
      source.bytesServed += out.length;
      return out;
    },
  };
  return source;
}

const BOUNDARY_VALUES = [
  0n,
  1n,
  2n,
  9n,
  21n,
  0x7fn,
  0x80n,
  0xffn,
  0x200n,
  0x7fffn,
  0xffffn,
  0x10000n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  1n << 53n,
  (1n << 55n) + 1n,
  0x7fffffffffffffffn,
  0xffffffffffffffffn,
];

/**
 * `fields` are offsets of header fields (negative: from the end), where boundary values hurt most;
 * other positions fall mostly in the first sector and the first 64 KiB.
 */
function mutate(random: () => number, base: Uint8Array, fields: number[]): Mutant {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const position = (): number => {
    const roll = random();
    if (roll < 0.55) return Math.floor(random() * Math.min(512, base.length));
    if (roll < 0.8) return Math.floor(random() * Math.min(65536, base.length));
    return Math.floor(random() * base.length);
  };
  const field = (): number => {
    const chosen = pick(fields);
    return Math.max(0, Math.min(base.length - 1, chosen < 0 ? base.length + chosen : chosen));
  };
  const mutant: Mutant = { description: '', length: base.length, patches: [], streaming: random() < 0.1 };
  const steps = 1 + Math.floor(random() * 3);
  for (let step = 0; step < steps; step++) {
    const kind = random();
    if (kind < 0.35) {
      const count = 1 + Math.floor(random() * 16);
      for (let i = 0; i < count; i++) {
        const offset = random() < 0.3 ? field() + Math.floor(random() * 8) : position();
        mutant.patches.push({ offset, bytes: Uint8Array.of(Math.floor(random() * 256)) });
      }
      mutant.description += `flip ${count} bytes; `;
    } else if (kind < 0.5) {
      mutant.length = random() < 0.5 ? Math.floor(random() * 1024) : Math.floor(random() * base.length);
      mutant.description += `truncate to ${mutant.length}; `;
    } else {
      const width = pick([1, 2, 4, 8]);
      const offset = random() < 0.6 ? field() : position() & ~(Math.min(width, 4) - 1);
      const value = pick(BOUNDARY_VALUES) & ((1n << BigInt(width * 8)) - 1n);
      const bytes = new Uint8Array(width);
      const view = new DataView(bytes.buffer);
      const littleEndian = random() < 0.5;
      if (width === 1) view.setUint8(0, Number(value));
      else if (width === 2) view.setUint16(0, Number(value), littleEndian);
      else if (width === 4) view.setUint32(0, Number(value), littleEndian);
      else view.setBigUint64(0, value, littleEndian);
      mutant.patches.push({ offset, bytes });
      mutant.description += `write ${value} (${width} bytes) at ${offset}; `;
    }
  }
  return mutant;
}

describe('format inspector: fuzzing mutated headers', () => {
  let temp: ReturnType<typeof makeTempDir>;
  const seeds: { name: string; bytes: Uint8Array; fields: number[] }[] = [];

  before(() => {
    requireQemuImg();
    temp = makeTempDir();
    const dir = temp.dir;
    const data = join(dir, 'data.raw');
    const raw = Buffer.alloc(2 * 1024 * 1024);
    raw.fill(0x5a, 0, 300_000);
    writeBytes(dir, 'data.raw', raw);
    const convert = (name: string, format: string, options: string[] = []): string => {
      runQemuImg(['convert', '-f', 'raw', '-O', format, ...options, data, join(dir, name)]);
      return join(dir, name);
    };
    const gpt = buildGptDisk();
    const mbr = Buffer.alloc(64 * 1024);
    writePartition(mbr, 0, { boot: 0x80, type: 0x83, lba: 2048, sectors: 100 });
    const qcow2Fields = [4, 8, 16, 20, 24, 32, 36, 40, 48, 56, 60, 64, 72, 96, 100, 104, 112, 116];
    const vmdkFields = [4, 8, 12, 20, 28, 36, 44, 48, 56, 64, 512, 600, 700];
    const vhdFooter = [12, 16, 28, 48, 56, 58, 60, 64];
    const files: [string, string, number[]][] = [
      ['qcow2 v3', convert('v3.qcow2', 'qcow2'), qcow2Fields],
      ['qcow2 v2', convert('v2.qcow2', 'qcow2', ['-o', 'compat=0.10']), qcow2Fields],
      [
        'qcow2 zstd',
        createImage(dir, 'zstd.qcow2', 'qcow2', '1M', ['-o', 'compression_type=zstd']),
        qcow2Fields,
      ],
      [
        'qcow2 backing',
        createImage(dir, 'backing.qcow2', 'qcow2', '1M', ['-b', '/etc/passwd', '-F', 'raw']),
        qcow2Fields,
      ],
      ['vmdk sparse', convert('sparse.vmdk', 'vmdk'), vmdkFields],
      [
        'vmdk stream',
        convert('stream.vmdk', 'vmdk', ['-o', 'subformat=streamOptimized']),
        [...vmdkFields, -1536, -1024, -512],
      ],
      [
        'vmdk flat descriptor',
        createImage(dir, 'flat.vmdk', 'vmdk', '1M', ['-o', 'subformat=monolithicFlat']),
        [0, 60, 100, 140],
      ],
      ['vhd dynamic', convert('dynamic.vhd', 'vpc'), [...vhdFooter, 512 + 8, 512 + 16, 512 + 28, 512 + 32]],
      [
        'vhd fixed',
        convert('fixed.vhd', 'vpc', ['-o', 'subformat=fixed']),
        vhdFooter.map((offset) => offset - 512),
      ],
      [
        'vhdx',
        convert('disk.vhdx', 'vhdx'),
        [
          0x30008, 0x30020, 0x3002c, 0x30040, 0x4000c, 0x30000a, 0x300030, 0x300050, 0x300054, 0x300058,
          0x310004, 0x310008,
        ],
      ],
      [
        'vdi',
        convert('disk.vdi', 'vdi'),
        [0x40, 0x44, 0x48, 0x4c, 0x154, 0x158, 0x168, 0x170, 0x178, 0x180, 0x1a8, 0x1b8],
      ],
      ['qed', createImage(dir, 'disk.qed', 'qed', '1M'), [4, 8, 12, 16, 48, 56, 60]],
      [
        'luks',
        createImage(dir, 'disk.luks', 'luks', '1M', ['--object', 'secret,id=s,data=x', '-o', 'key-secret=s']),
        [0, 6],
      ],
      [
        'iso',
        writeBytes(dir, 'disk.iso', buildIso()),
        [32768, 32769, 32774, 32848, 32852, 32896, 32898, 34816],
      ],
      ['gpt', writeBytes(dir, 'gpt.raw', gpt), [446, 447, 450, 454, 462, 510, 524, 528, 536, 592, 596]],
      ['mbr', writeBytes(dir, 'mbr.raw', mbr), [16, 21, 446, 450, 454, 462, 478, 510]],
    ];
    for (const [name, path, fields] of files)
      seeds.push({ name, bytes: Uint8Array.from(readFileSync(path)), fields });
  });
  after(() => temp.remove());

  it(`survives ${ITERATIONS} seeded mutations within its read bound`, async () => {
    const random = createRandom(SEED);
    const verdicts = { safe: 0, refused: 0 };
    const rulesSeen = new Set<string>();
    for (let iteration = 0; iteration < ITERATIONS; iteration++) {
      const seed = seeds[iteration % seeds.length]!;
      const mutant = mutate(random, seed.bytes, seed.fields);
      const label = `iteration ${iteration} (${seed.name}: ${mutant.description})`;
      const source = createMutantSource(seed.bytes, mutant);
      const inspection = await inspectImage(source, { claimedFormat: 'qcow2' }).catch((error: unknown) => {
        assert.fail(`${label} threw ${String(error)}`);
      });
      assert.ok(source.bytesServed <= MAX_INSPECT_BYTES, `${label} read ${source.bytesServed} bytes`);
      assert.ok(source.calls <= MAX_READ_CALLS, `${label} made ${source.calls} reads`);
      assert.equal(inspection.bytesRead, source.bytesServed, label);
      assert.ok(IMAGE_FORMATS.includes(inspection.format), label);
      assert.equal(inspection.safe, inspection.problems.length === 0, label);
      const internal = inspection.problems.find((p) => p.rule === 'inspect.internal');
      assert.equal(internal, undefined, `${label}: ${internal?.message}`);
      verdicts[inspection.safe ? 'safe' : 'refused']++;
      for (const found of inspection.problems) rulesSeen.add(found.rule);
    }
    // The claim is qcow2, so only intact-enough qcow2 mutants may pass; most must be refused.
    assert.ok(verdicts.safe > 0 && verdicts.refused > verdicts.safe, JSON.stringify(verdicts));
    // The mutations must reach deep checks, not just trip the first one.
    assert.ok(rulesSeen.size >= 30, [...rulesSeen].sort().join(' '));
  });

  it('stays within the byte bound when a source returns more than asked', async () => {
    const huge = new Uint8Array(16 * 1024 * 1024);
    const source: ByteSource = { size: undefined, read: async () => huge };
    const inspection = await inspectImage(source);
    assert.ok(inspection.bytesRead <= MAX_INSPECT_BYTES);
  });
});
