import {
  describeUntrustedText,
  encodeAscii,
  hasBytes,
  readU8,
  readU32,
  readU64,
  toSafeNumber,
} from './binary.js';
import type { FormatAnalysis, HeaderReader, InspectionProblem } from './inspection.js';
import { createProblem } from './inspection.js';

// Field layout and limits: QEMU's qcow2 specification and block/qcow2.h (openstack-reference.md §7.3).
const MAGIC = [...encodeAscii('QFI'), 0xfb];
const V2_HEADER_LENGTH = 72;
const V3_MIN_HEADER_LENGTH = 104;
const MIN_CLUSTER_BITS = 9;
const MAX_CLUSTER_BITS = 21;
const MAX_BACKING_FILE_NAME = 1023;
// QEMU refuses L1 tables above 32 MiB, reference tables above 8 MiB and more than 65536 snapshots.
const MAX_L1_ENTRIES = (32 * 1024 * 1024) / 8;
const MAX_REFCOUNT_TABLE_BYTES = 8 * 1024 * 1024;
const MAX_SNAPSHOTS = 65536;
/** 32 PiB: far beyond any real disk; larger sizes only serve to overflow consumers. */
export const MAX_QCOW2_VIRTUAL_SIZE = 2 ** 55;
/** Header extensions live in the first cluster; we never read more than this of it. */
const MAX_EXTENSION_AREA = 1024 * 1024;

const INCOMPAT_CORRUPT = 1n << 1n;
const INCOMPAT_DATA_FILE = 1n << 2n;
const INCOMPAT_COMPRESSION = 1n << 3n;
const INCOMPAT_KNOWN = (1n << 4n) - 1n;
const INCOMPAT_NAMES: ReadonlyMap<bigint, string> = new Map([[4n, 'extended_l2']]);

const EXT_END = 0x00000000;
const EXT_DATA_FILE = 0x44415441;
const EXT_ENCRYPTION = 0x0537be77;

export function matchQcow2(head: Uint8Array): boolean {
  return hasBytes(head, 0, MAGIC);
}

export async function analyzeQcow2(reader: HeaderReader): Promise<FormatAnalysis> {
  const head = reader.head;
  const problems: InspectionProblem[] = [];
  const refuse = (rule: string, message: string, offset?: number): FormatAnalysis => {
    problems.push(createProblem(rule, message, offset));
    return { problems };
  };

  const version = readU32(head, 4, false);
  if (version === undefined) return refuse('qcow2.truncated', 'qcow2 header is truncated before its version');
  if (version !== 2 && version !== 3) {
    const why = version === 1 ? 'qcow version 1 is refused' : `qcow2 version ${version} is not 2 or 3`;
    return refuse('qcow2.version', why, 4);
  }
  if (head.length < V2_HEADER_LENGTH) {
    return refuse('qcow2.truncated', `qcow2 header is ${head.length} bytes, needs ${V2_HEADER_LENGTH}`);
  }

  const backingOffset = readU64(head, 8, false)!;
  const backingSize = readU32(head, 16, false)!;
  const clusterBits = readU32(head, 20, false)!;
  const size = readU64(head, 24, false)!;
  const cryptMethod = readU32(head, 32, false)!;
  const l1Size = readU32(head, 36, false)!;
  const l1Offset = readU64(head, 40, false)!;
  const refcountOffset = readU64(head, 48, false)!;
  const refcountClusters = readU32(head, 56, false)!;
  const snapshotCount = readU32(head, 60, false)!;
  const snapshotsOffset = readU64(head, 64, false)!;

  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    return refuse(
      'qcow2.cluster-bits',
      `qcow2 cluster_bits ${clusterBits} is outside ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`,
      20,
    );
  }
  const clusterSize = 2 ** clusterBits;

  let headerLength = V2_HEADER_LENGTH;
  let incompatible = 0n;
  if (version === 3) {
    if (head.length < V3_MIN_HEADER_LENGTH) {
      return refuse(
        'qcow2.truncated',
        `qcow2 v3 header is ${head.length} bytes, needs ${V3_MIN_HEADER_LENGTH}`,
      );
    }
    incompatible = readU64(head, 72, false)!;
    headerLength = readU32(head, 100, false)!;
    if (headerLength < V3_MIN_HEADER_LENGTH || headerLength > clusterSize) {
      return refuse(
        'qcow2.header-length',
        `qcow2 header_length ${headerLength} is outside ${V3_MIN_HEADER_LENGTH}..${clusterSize}`,
        100,
      );
    }
    const refcountOrder = readU32(head, 96, false)!;
    if (refcountOrder > 6) {
      problems.push(
        createProblem('qcow2.refcount-order', `qcow2 refcount_order ${refcountOrder} exceeds 6`, 96),
      );
    }
    checkIncompatibleFeatures(incompatible, problems);
    if (headerLength > V3_MIN_HEADER_LENGTH) {
      const compressionType = readU8(head, 104);
      if (compressionType === undefined) {
        problems.push(createProblem('qcow2.truncated', 'qcow2 header ends before its compression_type', 104));
      } else {
        checkCompressionType(compressionType, (incompatible & INCOMPAT_COMPRESSION) !== 0n, problems);
      }
    } else if ((incompatible & INCOMPAT_COMPRESSION) !== 0n) {
      problems.push(
        createProblem(
          'qcow2.compression-type',
          'qcow2 sets the compression-type bit but has no compression_type',
          72,
        ),
      );
    }
  }

  if (backingOffset !== 0n) {
    const name = await readBackingFileName(reader, backingOffset, backingSize);
    problems.push(
      createProblem(
        'qcow2.backing-file',
        `qcow2 image has a backing file${name ? ` ${name}` : ''}; refused`,
        8,
      ),
    );
  }
  if (cryptMethod !== 0) {
    problems.push(
      createProblem('qcow2.encrypted', `qcow2 image is encrypted (crypt_method ${cryptMethod})`, 32),
    );
  }

  const virtualSize = toSafeNumber(size);
  if (virtualSize === undefined || size > BigInt(MAX_QCOW2_VIRTUAL_SIZE)) {
    problems.push(createProblem('qcow2.virtual-size', `qcow2 virtual size ${size} exceeds 2^55 bytes`, 24));
  } else if (size === 0n && l1Size > 0) {
    // QEMU creates empty images with no L1 table and refuses to shrink an image to 0 bytes.
    problems.push(
      createProblem('qcow2.virtual-size', `qcow2 virtual size is 0 but l1_size is ${l1Size}`, 24),
    );
  }

  // With extended L2 entries each L2 entry takes 16 bytes instead of 8.
  const l2EntryBytes = incompatible & (1n << 4n) ? 16n : 8n;
  const bytesPerL1Entry = BigInt(clusterSize) * (BigInt(clusterSize) / l2EntryBytes);
  const neededL1 = (size + bytesPerL1Entry - 1n) / bytesPerL1Entry;
  checkTable(problems, reader.size, clusterSize, {
    name: 'L1 table',
    rule: 'qcow2.l1-table',
    offset: l1Offset,
    fieldOffset: 40,
    bytes: BigInt(l1Size) * 8n,
    required: l1Size > 0,
  });
  if (l1Size > MAX_L1_ENTRIES) {
    problems.push(
      createProblem('qcow2.l1-table', `qcow2 l1_size ${l1Size} exceeds ${MAX_L1_ENTRIES} entries`, 36),
    );
  } else if (BigInt(l1Size) < neededL1) {
    problems.push(
      createProblem('qcow2.l1-table', `qcow2 l1_size ${l1Size} is too small for virtual size ${size}`, 36),
    );
  }

  const refcountBytes = BigInt(refcountClusters) * BigInt(clusterSize);
  if (refcountClusters === 0 || refcountBytes > BigInt(MAX_REFCOUNT_TABLE_BYTES)) {
    problems.push(
      createProblem(
        'qcow2.refcount-table',
        `qcow2 refcount_table_clusters ${refcountClusters} is not sane`,
        56,
      ),
    );
  } else {
    checkTable(problems, reader.size, clusterSize, {
      name: 'refcount table',
      rule: 'qcow2.refcount-table',
      offset: refcountOffset,
      fieldOffset: 48,
      bytes: refcountBytes,
      required: true,
    });
  }

  if (snapshotCount > MAX_SNAPSHOTS) {
    problems.push(createProblem('qcow2.snapshots', `qcow2 claims ${snapshotCount} snapshots`, 60));
  } else if (snapshotCount > 0) {
    // Each snapshot entry is at least 40 bytes.
    checkTable(problems, reader.size, clusterSize, {
      name: 'snapshot table',
      rule: 'qcow2.snapshots',
      offset: snapshotsOffset,
      fieldOffset: 64,
      bytes: BigInt(snapshotCount) * 40n,
      required: true,
    });
  }

  await checkHeaderExtensions(reader, headerLength, clusterSize, backingOffset, problems);
  return virtualSize === undefined ? { problems } : { virtualSize, problems };
}

function checkIncompatibleFeatures(features: bigint, problems: InspectionProblem[]): void {
  if (features & INCOMPAT_CORRUPT) {
    problems.push(createProblem('qcow2.corrupt', 'qcow2 image is marked corrupt', 72));
  }
  if (features & INCOMPAT_DATA_FILE) {
    problems.push(
      createProblem('qcow2.data-file', 'qcow2 image keeps its data in an external data file', 72),
    );
  }
  const unknown = features & ~INCOMPAT_KNOWN;
  if (unknown !== 0n) {
    const bits: string[] = [];
    for (let bit = 4n; bit < 64n; bit++) {
      if (unknown & (1n << bit)) bits.push(INCOMPAT_NAMES.get(bit) ?? `bit ${bit}`);
    }
    problems.push(
      createProblem(
        'qcow2.unknown-feature',
        `qcow2 uses unsupported incompatible features: ${bits.join(', ')}`,
        72,
      ),
    );
  }
}

function checkCompressionType(type: number, featureBit: boolean, problems: InspectionProblem[]): void {
  // 0 = zlib, 1 = zstd; QEMU requires the feature bit exactly when the type is not zlib.
  if (type > 1) {
    problems.push(createProblem('qcow2.compression-type', `qcow2 compression_type ${type} is unknown`, 104));
  } else if ((type !== 0) !== featureBit) {
    problems.push(
      createProblem('qcow2.compression-type', 'qcow2 compression_type disagrees with its feature bit', 104),
    );
  }
}

interface TableSpec {
  name: string;
  rule: string;
  offset: bigint;
  fieldOffset: number;
  bytes: bigint;
  required: boolean;
}

function checkTable(
  problems: InspectionProblem[],
  fileSize: number | undefined,
  clusterSize: number,
  table: TableSpec,
): void {
  if (!table.required) return;
  if (table.offset === 0n || table.offset % BigInt(clusterSize) !== 0n) {
    problems.push(
      createProblem(
        table.rule,
        `qcow2 ${table.name} offset ${table.offset} is not a non-zero multiple of the cluster size`,
        table.fieldOffset,
      ),
    );
    return;
  }
  if (fileSize !== undefined && table.offset + table.bytes > BigInt(fileSize)) {
    problems.push(
      createProblem(
        table.rule,
        `qcow2 ${table.name} at ${table.offset} (${table.bytes} bytes) lies beyond the end of the file (${fileSize})`,
        table.fieldOffset,
      ),
    );
  }
}

async function readBackingFileName(reader: HeaderReader, offset: bigint, size: number): Promise<string> {
  const start = toSafeNumber(offset);
  if (start === undefined || size === 0 || size > MAX_BACKING_FILE_NAME) return '';
  const bytes = await reader.read(start, size);
  return bytes.length === 0 ? '' : describeUntrustedText(bytes);
}

async function checkHeaderExtensions(
  reader: HeaderReader,
  headerLength: number,
  clusterSize: number,
  backingOffset: bigint,
  problems: InspectionProblem[],
): Promise<void> {
  // Extensions run from the end of the header to the backing file name or the end of the first cluster.
  let end = Math.min(clusterSize, MAX_EXTENSION_AREA);
  if (backingOffset > BigInt(headerLength) && backingOffset < BigInt(end)) end = Number(backingOffset);
  const area = await reader.read(headerLength, end - headerLength);
  let position = 0;
  while (position + 8 <= area.length) {
    const type = readU32(area, position, false)!;
    const length = readU32(area, position + 4, false)!;
    const at = headerLength + position;
    if (type === EXT_END) return;
    const dataEnd = position + 8 + length;
    if (dataEnd > area.length) {
      problems.push(
        createProblem(
          'qcow2.header-extension',
          `qcow2 header extension at ${at} runs past the header area`,
          at,
        ),
      );
      return;
    }
    if (type === EXT_DATA_FILE) {
      const name = describeUntrustedText(area.subarray(position + 8, dataEnd));
      problems.push(createProblem('qcow2.data-file', `qcow2 header names an external data file ${name}`, at));
    } else if (type === EXT_ENCRYPTION) {
      problems.push(
        createProblem('qcow2.encrypted', 'qcow2 header carries a full-disk-encryption header', at),
      );
    }
    position = dataEnd + ((8 - (length % 8)) % 8);
  }
}
