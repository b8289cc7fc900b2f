import {
  computeCrc32,
  decodeLatin1,
  encodeAscii,
  hasBytes,
  readU8,
  readU16,
  readU32,
  readU64,
} from './binary.js';
import type { FormatAnalysis, HeaderReader, InspectionProblem } from './inspection.js';
import { createProblem } from './inspection.js';

// ---- ISO 9660 / UDF: volume descriptors start at sector 16 (32 KiB), one per 2 KiB.

const ISO_DESCRIPTORS_START = 32 * 1024;
const ISO_DESCRIPTOR_BYTES = 2048;
const ISO_MAX_DESCRIPTORS = 16;
const ISO_IDENTIFIERS = ['CD001', 'BEA01', 'NSR02', 'NSR03'];

function readIdentifier(head: Uint8Array, descriptorOffset: number): string {
  return decodeLatin1(head.subarray(descriptorOffset + 1, descriptorOffset + 6));
}

export function matchIso(head: Uint8Array): boolean {
  return ISO_IDENTIFIERS.includes(readIdentifier(head, ISO_DESCRIPTORS_START));
}

export function analyzeIso(reader: HeaderReader): FormatAnalysis {
  const head = reader.head;
  if (readIdentifier(head, ISO_DESCRIPTORS_START) !== 'CD001') return { problems: [] };
  // ISO 9660 stores numbers "both-endian": a little-endian copy followed by a big-endian one.
  for (let index = 0; index < ISO_MAX_DESCRIPTORS; index++) {
    const at = ISO_DESCRIPTORS_START + index * ISO_DESCRIPTOR_BYTES;
    const type = readU8(head, at);
    if (readIdentifier(head, at) !== 'CD001' || type === 255) break;
    if (type !== 1) continue;
    const blocksLe = readU32(head, at + 80, true);
    const blocksBe = readU32(head, at + 84, false);
    const blockSizeLe = readU16(head, at + 128, true);
    const blockSizeBe = readU16(head, at + 130, false);
    const validBlockSize = blockSizeLe === 512 || blockSizeLe === 1024 || blockSizeLe === 2048;
    if (
      readU8(head, at + 6) !== 1 ||
      blocksLe !== blocksBe ||
      blockSizeLe !== blockSizeBe ||
      !validBlockSize
    ) {
      return {
        problems: [createProblem('iso.descriptor', 'iso primary volume descriptor is inconsistent', at)],
      };
    }
    return { problems: [] };
  }
  return {
    problems: [
      createProblem('iso.descriptor', 'iso has no primary volume descriptor', ISO_DESCRIPTORS_START),
    ],
  };
}

// ---- MBR / GPT: reference §7.2 (oslo.utils GPT inspector rules) and the UEFI specification.

const MBR_SIGNATURE_OFFSET = 510;
const MBR_PARTITIONS_OFFSET = 446;
const PROTECTIVE_TYPE = 0xee;
const GPT_SIGNATURE = encodeAscii('EFI PART');
const GPT_SECTOR_SIZES = [512, 4096];
const GPT_MAX_ENTRY_BYTES = 16 * 1024 * 1024;

/** Returns 'gpt' for a protective MBR, 'mbr' for another partition table, undefined for neither. */
export function matchPartitionTable(head: Uint8Array): 'gpt' | 'mbr' | undefined {
  if (!hasBytes(head, MBR_SIGNATURE_OFFSET, [0x55, 0xaa])) return undefined;
  // A FAT boot sector carries the same signature: two FATs and the fixed-disk media byte give it away.
  if (readU8(head, 16) === 2 && readU8(head, 21) === 0xf8) return undefined;
  const types = readPartitionEntries(head).map((entry) => entry.type);
  return types.includes(PROTECTIVE_TYPE) ? 'gpt' : 'mbr';
}

interface PartitionEntry {
  offset: number;
  bootFlag: number;
  chsStart: number[];
  type: number;
  lbaStart: number;
}

function readPartitionEntries(head: Uint8Array): PartitionEntry[] {
  const entries: PartitionEntry[] = [];
  for (let index = 0; index < 4; index++) {
    const offset = MBR_PARTITIONS_OFFSET + index * 16;
    entries.push({
      offset,
      bootFlag: readU8(head, offset) ?? 0,
      chsStart: Array.from(head.subarray(offset + 1, offset + 4)),
      type: readU8(head, offset + 4) ?? 0,
      lbaStart: readU32(head, offset + 8, true) ?? 0,
    });
  }
  return entries;
}

export function analyzeMbr(reader: HeaderReader): FormatAnalysis {
  const problems: InspectionProblem[] = [];
  const entries = readPartitionEntries(reader.head);
  for (const entry of entries) {
    if (entry.bootFlag !== 0x00 && entry.bootFlag !== 0x80) {
      problems.push(
        createProblem(
          'mbr.boot-flag',
          `mbr partition boot flag 0x${entry.bootFlag.toString(16)} is invalid`,
          entry.offset,
        ),
      );
    }
  }
  const used = entries.filter((entry) => entry.type !== 0);
  if (used.length === 0)
    problems.push(createProblem('mbr.no-partitions', 'mbr has no partitions', MBR_PARTITIONS_OFFSET));
  const protective = used.find((entry) => entry.type === PROTECTIVE_TYPE);
  if (protective) {
    const [head, sector, cylinder] = protective.chsStart;
    if (used.length !== 1 || protective.lbaStart !== 1 || head !== 0 || sector !== 2 || cylinder !== 0) {
      problems.push(
        createProblem(
          'mbr.protective',
          'gpt protective partition must be the only one and start at LBA 1 (CHS 0/2/0)',
          protective.offset,
        ),
      );
    }
  }
  return { problems };
}

export async function analyzeGpt(reader: HeaderReader): Promise<FormatAnalysis> {
  const problems = analyzeMbr(reader).problems;
  const sectorSize = GPT_SECTOR_SIZES.find((size) => hasBytes(reader.head, size, GPT_SIGNATURE));
  if (sectorSize === undefined) {
    problems.push(createProblem('gpt.header', 'protective mbr without a gpt header', 512));
    return { problems };
  }
  const header = await reader.read(sectorSize, sectorSize);
  const headerSize = readU32(header, 12, true)!;
  if (headerSize < 92 || headerSize > sectorSize) {
    problems.push(createProblem('gpt.header', `gpt header size ${headerSize} is invalid`, sectorSize + 12));
    return { problems };
  }
  // A copy: Buffer#slice would share memory with the caller's bytes.
  const zeroedCrc = Uint8Array.from(header.subarray(0, headerSize));
  zeroedCrc.fill(0, 16, 20);
  if (computeCrc32(zeroedCrc) !== readU32(header, 16, true)) {
    problems.push(createProblem('gpt.header', 'gpt header checksum is wrong', sectorSize + 16));
  }
  if (readU64(header, 24, true) !== 1n) {
    problems.push(
      createProblem('gpt.header', 'gpt header does not describe itself as LBA 1', sectorSize + 24),
    );
  }
  const entryCount = readU32(header, 80, true)!;
  const entrySize = readU32(header, 84, true)!;
  if (
    entrySize < 128 ||
    (entrySize & (entrySize - 1)) !== 0 ||
    entryCount * entrySize > GPT_MAX_ENTRY_BYTES
  ) {
    problems.push(
      createProblem(
        'gpt.entries',
        `gpt partition array (${entryCount} x ${entrySize} bytes) is not sane`,
        sectorSize + 80,
      ),
    );
  }
  return { problems };
}
