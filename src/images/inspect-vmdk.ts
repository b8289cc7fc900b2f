import { decodeLatin1, encodeAscii, hasBytes, readU32, readU64, toSafeNumber } from './binary.js';
import type { FormatAnalysis, HeaderReader, InspectionProblem } from './inspection.js';
import { createProblem } from './inspection.js';

// Sparse extent header layout: VMware's "Virtual Disk Format 5.0" and QEMU block/vmdk.c (reference §7.2).
const SPARSE_MAGIC = encodeAscii('KDMV');
const COWD_MAGIC = encodeAscii('COWD');
const DESCRIPTOR_SIGNATURE = '# Disk DescriptorFile';
const SECTOR = 512;
export const MAX_VMDK_DESCRIPTOR_BYTES = 1024 * 1024;
const ALLOWED_CREATE_TYPES: ReadonlySet<string> = new Set(['monolithicSparse', 'streamOptimized']);
const GD_AT_END = 0xffffffffffffffffn;
const MARKER_EOS = 0;
const MARKER_FOOTER = 3;
/** 2^40 sectors = 512 TiB, far beyond what QEMU or VMware create. */
const MAX_CAPACITY_SECTORS = 2n ** 40n;
const EXTENT_LINE = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\S+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?\s*$/;

export function matchVmdk(head: Uint8Array): boolean {
  return hasBytes(head, 0, SPARSE_MAGIC) || hasBytes(head, 0, COWD_MAGIC) || looksLikeDescriptor(head);
}

/**
 * QEMU opens any non-sparse file given as `-f vmdk` as a text descriptor, so text that has the shape of a
 * descriptor counts as one even without the signature comment.
 */
function looksLikeDescriptor(head: Uint8Array): boolean {
  const sample = head.subarray(0, 4096);
  if (sample.length === 0 || !isDescriptorText(sample)) return false;
  const text = decodeLatin1(sample);
  return text.startsWith(DESCRIPTOR_SIGNATURE) || /^\s*createType\s*=/m.test(text);
}

function isDescriptorText(bytes: Uint8Array): boolean {
  const end = bytes.indexOf(0);
  const text = end === -1 ? bytes : bytes.subarray(0, end);
  // Only NUL padding may follow the text.
  if (end !== -1 && bytes.subarray(end).some((byte) => byte !== 0)) return false;
  return text.every(
    (byte) => byte === 0x09 || byte === 0x0a || byte === 0x0d || (byte >= 0x20 && byte < 0x7f),
  );
}

export async function analyzeVmdk(reader: HeaderReader): Promise<FormatAnalysis> {
  const head = reader.head;
  if (hasBytes(head, 0, COWD_MAGIC)) {
    return {
      problems: [createProblem('vmdk.cowd', 'legacy COWD (ESX 2) vmdk sparse extents are refused', 0)],
    };
  }
  if (hasBytes(head, 0, SPARSE_MAGIC)) return analyzeSparse(reader);
  return analyzeDescriptorFile(reader);
}

async function analyzeDescriptorFile(reader: HeaderReader): Promise<FormatAnalysis> {
  const problems: InspectionProblem[] = [];
  const size = reader.size;
  if (size !== undefined && size > MAX_VMDK_DESCRIPTOR_BYTES) {
    problems.push(
      createProblem('vmdk.descriptor-bounds', `vmdk descriptor file is ${size} bytes, over the 1 MiB limit`),
    );
    return { problems };
  }
  const bytes = await reader.read(0, MAX_VMDK_DESCRIPTOR_BYTES);
  const descriptor = checkDescriptor(bytes, 0, problems);
  // A standalone descriptor always keeps the disk data in other files, which qemu-img would open.
  problems.push(
    createProblem('vmdk.descriptor-only', 'vmdk is a standalone descriptor whose extents are other files', 0),
  );
  return descriptor.capacitySectors === undefined
    ? { problems }
    : { virtualSize: descriptor.capacitySectors * SECTOR, problems };
}

async function analyzeSparse(reader: HeaderReader): Promise<FormatAnalysis> {
  const head = reader.head;
  const problems: InspectionProblem[] = [];
  if (head.length < SECTOR) {
    problems.push(
      createProblem('vmdk.truncated', `vmdk sparse header is ${head.length} bytes, needs ${SECTOR}`),
    );
    return { problems };
  }
  const version = readU32(head, 4, true)!;
  const capacity = readU64(head, 12, true)!;
  const grainSize = readU64(head, 20, true)!;
  const descriptorOffset = readU64(head, 28, true)!;
  const descriptorSize = readU64(head, 36, true)!;
  const gtesPerGt = readU32(head, 44, true)!;
  const gdOffset = readU64(head, 56, true)!;

  if (version < 1 || version > 3) {
    problems.push(createProblem('vmdk.version', `vmdk sparse header version ${version} is not 1..3`, 4));
    return { problems };
  }
  // QEMU follows the embedded descriptor's extent list when capacity is 0, opening whatever files it names.
  if (capacity === 0n) {
    problems.push(
      createProblem(
        'vmdk.descriptor-extents',
        'vmdk sparse header has capacity 0 and defers to descriptor extents',
        12,
      ),
    );
  } else if (capacity > MAX_CAPACITY_SECTORS) {
    problems.push(createProblem('vmdk.capacity', `vmdk capacity ${capacity} sectors is absurd`, 12));
  }
  if (grainSize === 0n || grainSize > 128n || (grainSize & (grainSize - 1n)) !== 0n) {
    problems.push(
      createProblem('vmdk.grain-size', `vmdk grain size ${grainSize} sectors is not a power of 2 <= 128`, 20),
    );
  }
  if (gtesPerGt === 0 || gtesPerGt > 512) {
    problems.push(
      createProblem('vmdk.grain-table', `vmdk grain table size ${gtesPerGt} is outside 1..512`, 44),
    );
  }

  const descriptorStart = toSafeNumber(descriptorOffset * BigInt(SECTOR));
  const descriptorBytes = toSafeNumber(descriptorSize * BigInt(SECTOR));
  let capacityFromDescriptor: number | undefined;
  if (descriptorOffset === 0n || descriptorSize === 0n) {
    problems.push(
      createProblem('vmdk.descriptor-missing', 'vmdk sparse extent has no embedded descriptor', 28),
    );
  } else if (
    descriptorStart === undefined ||
    descriptorBytes === undefined ||
    descriptorBytes > MAX_VMDK_DESCRIPTOR_BYTES ||
    (reader.size !== undefined && descriptorStart + descriptorBytes > reader.size)
  ) {
    problems.push(
      createProblem(
        'vmdk.descriptor-bounds',
        `vmdk descriptor (sector ${descriptorOffset}, ${descriptorSize} sectors) is out of bounds or over 1 MiB`,
        28,
      ),
    );
  } else {
    const bytes = await reader.read(descriptorStart, descriptorBytes);
    capacityFromDescriptor = checkDescriptor(bytes, descriptorStart, problems).capacitySectors;
  }

  if (gdOffset === GD_AT_END) await checkStreamFooter(reader, head, problems);
  const virtualSize = toSafeNumber(capacity * BigInt(SECTOR));
  if (
    capacityFromDescriptor !== undefined &&
    BigInt(capacityFromDescriptor) !== capacity &&
    capacity !== 0n
  ) {
    problems.push(
      createProblem(
        'vmdk.capacity',
        `vmdk header capacity ${capacity} sectors disagrees with its descriptor (${capacityFromDescriptor})`,
        12,
      ),
    );
  }
  return virtualSize === undefined ? { problems } : { virtualSize, problems };
}

/** A streamOptimized image written with the grain directory at the end carries a footer copy of the header. */
async function checkStreamFooter(
  reader: HeaderReader,
  head: Uint8Array,
  problems: InspectionProblem[],
): Promise<void> {
  const size = reader.size;
  if (size === undefined || size < 4 * SECTOR) {
    problems.push(
      createProblem('vmdk.footer', 'vmdk places its grain directory at the end but has no footer', 56),
    );
    return;
  }
  const tail = await reader.read(size - 3 * SECTOR, 3 * SECTOR);
  const footer = tail.subarray(SECTOR, 2 * SECTOR);
  const footerMarker = readU32(tail, 12, true);
  const eosMarker = readU32(tail, 2 * SECTOR + 12, true);
  const eosValue = readU64(tail, 2 * SECTOR, true);
  const mirrors = [4, 12, 20, 28, 36, 44].every(
    (offset) => readU64(footer, offset, true) === readU64(head, offset, true),
  );
  const footerGd = readU64(footer, 56, true);
  if (
    tail.length !== 3 * SECTOR ||
    footerMarker !== MARKER_FOOTER ||
    eosMarker !== MARKER_EOS ||
    eosValue !== 0n ||
    !hasBytes(footer, 0, SPARSE_MAGIC) ||
    !mirrors ||
    footerGd === GD_AT_END
  ) {
    problems.push(
      createProblem(
        'vmdk.footer',
        'vmdk stream footer does not mirror the header or lacks its end marker',
        size - 3 * SECTOR,
      ),
    );
  }
}

interface DescriptorFacts {
  capacitySectors?: number;
}

function checkDescriptor(
  bytes: Uint8Array,
  baseOffset: number,
  problems: InspectionProblem[],
): DescriptorFacts {
  const end = bytes.indexOf(0);
  const textBytes = end === -1 ? bytes : bytes.subarray(0, end);
  const text = decodeLatin1(textBytes);
  let createType: string | undefined;
  let extents = 0;
  let capacity = 0;
  let lineOffset = baseOffset;
  const lines = text.split('\n');
  for (const rawLine of lines) {
    const at = lineOffset;
    lineOffset += rawLine.length + 1;
    const line = rawLine.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const extent = EXTENT_LINE.exec(line);
    if (extent) {
      extents++;
      capacity += Number(extent[2]);
      checkExtentLine(line, extent[3]!, at, problems);
      continue;
    }
    const assignment = /^([A-Za-z][A-Za-z0-9_.]*)\s*=\s*(.*)$/.exec(line);
    if (!assignment || /[^\x20-\x7e\t]/.test(line)) {
      problems.push(
        createProblem(
          'vmdk.descriptor-line',
          `vmdk descriptor line is not allowed: ${JSON.stringify(line.slice(0, 80))}`,
          at,
        ),
      );
      continue;
    }
    const key = assignment[1]!;
    const value = assignment[2]!.replace(/^"(.*)"$/, '$1');
    if (key === 'createType') createType = value;
    // QEMU opens parentFileNameHint as a backing file.
    if (key === 'parentFileNameHint') {
      problems.push(
        createProblem(
          'vmdk.parent',
          `vmdk descriptor names a parent file ${JSON.stringify(value.slice(0, 200))}`,
          at,
        ),
      );
    }
  }
  if (createType === undefined) {
    problems.push(createProblem('vmdk.create-type', 'vmdk descriptor has no createType', baseOffset));
  } else if (!ALLOWED_CREATE_TYPES.has(createType)) {
    problems.push(
      createProblem(
        'vmdk.create-type',
        `vmdk createType ${JSON.stringify(createType.slice(0, 80))} is not monolithicSparse or streamOptimized`,
        baseOffset,
      ),
    );
  }
  if (extents === 0)
    problems.push(createProblem('vmdk.no-extent', 'vmdk descriptor lists no extent', baseOffset));
  else if (extents > 1) {
    problems.push(
      createProblem(
        'vmdk.extent-count',
        `vmdk descriptor lists ${extents} extents; a monolithic disk has one`,
        baseOffset,
      ),
    );
  }
  return Number.isSafeInteger(capacity) && extents > 0 ? { capacitySectors: capacity } : {};
}

function checkExtentLine(line: string, type: string, at: number, problems: InspectionProblem[]): void {
  if (type !== 'SPARSE') {
    problems.push(
      createProblem(
        'vmdk.extent-type',
        `vmdk extent type ${type.slice(0, 40)} refers to data outside this file`,
        at,
      ),
    );
  }
  if (line.includes('/') || line.includes('\\')) {
    problems.push(
      createProblem(
        'vmdk.extent-path',
        `vmdk extent line names a path: ${JSON.stringify(line.slice(0, 120))}`,
        at,
      ),
    );
  }
}
