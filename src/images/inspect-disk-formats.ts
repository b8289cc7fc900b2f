import { encodeAscii, formatGuid, hasBytes, readU16, readU32, readU64, toSafeNumber } from './binary.js';
import type { FormatAnalysis, HeaderReader, InspectionProblem } from './inspection.js';
import { createProblem } from './inspection.js';

// ---- VHD (QEMU "vpc"): Microsoft's VHD specification and QEMU block/vpc.c.

const VHD_COOKIE = encodeAscii('conectix');
const VHD_FOOTER_BYTES = 512;
const VHD_FIXED = 2;
const VHD_DYNAMIC = 3;
const VHD_DIFFERENCING = 4;
const VHD_MAX_GEOMETRY = 65535 * 16 * 255;
/** Creators whose images QEMU sizes by the footer's current_size instead of the CHS geometry. */
const VHD_SIZE_BY_CURRENT_SIZE = ['win ', 'qem2', 'd2v ', 'CTXS', 'tap\0'];

/** Dynamic disks start with a copy of the footer; fixed disks have it only in their last 512 bytes. */
export async function locateVhdFooter(reader: HeaderReader): Promise<number | undefined> {
  if (hasBytes(reader.head, 0, VHD_COOKIE)) return 0;
  const size = reader.size;
  if (size === undefined || size < VHD_FOOTER_BYTES) return undefined;
  const tail = await reader.read(size - VHD_FOOTER_BYTES, VHD_FOOTER_BYTES);
  return hasBytes(tail, 0, VHD_COOKIE) ? size - VHD_FOOTER_BYTES : undefined;
}

export async function analyzeVhd(reader: HeaderReader, footerOffset: number): Promise<FormatAnalysis> {
  const problems: InspectionProblem[] = [];
  const footer = await reader.read(footerOffset, VHD_FOOTER_BYTES);
  if (footer.length < VHD_FOOTER_BYTES) {
    return { problems: [createProblem('vhd.truncated', 'vhd footer is truncated', footerOffset)] };
  }
  const stored = readU32(footer, 64, false)!;
  let sum = 0;
  footer.forEach((byte, index) => {
    if (index < 64 || index >= 68) sum += byte;
  });
  if (~sum >>> 0 !== stored)
    problems.push(createProblem('vhd.checksum', 'vhd footer checksum is wrong', footerOffset + 64));
  const version = readU32(footer, 12, false)!;
  if (version !== 0x00010000) {
    problems.push(
      createProblem(
        'vhd.version',
        `vhd file format version 0x${version.toString(16)} is unknown`,
        footerOffset + 12,
      ),
    );
  }
  const diskType = readU32(footer, 60, false)!;
  if (diskType === VHD_DIFFERENCING) {
    problems.push(
      createProblem(
        'vhd.differencing',
        'vhd is a differencing disk that reads a parent file',
        footerOffset + 60,
      ),
    );
  } else if (diskType !== VHD_FIXED && diskType !== VHD_DYNAMIC) {
    problems.push(createProblem('vhd.disk-type', `vhd disk type ${diskType} is unknown`, footerOffset + 60));
  }
  if (diskType === VHD_DYNAMIC) await checkVhdDynamicHeader(reader, footer, footerOffset, problems);

  const currentSize = toSafeNumber(readU64(footer, 48, false));
  const geometrySectors = readU16(footer, 56, false)! * footer[58]! * footer[59]!;
  const creator = String.fromCharCode(...footer.subarray(28, 32));
  const useCurrentSize = VHD_SIZE_BY_CURRENT_SIZE.includes(creator) || geometrySectors === VHD_MAX_GEOMETRY;
  const virtualSize = useCurrentSize ? currentSize : geometrySectors * 512;
  if (virtualSize === undefined) {
    problems.push(createProblem('vhd.size', 'vhd current size is absurd', footerOffset + 48));
    return { problems };
  }
  return { virtualSize, problems };
}

async function checkVhdDynamicHeader(
  reader: HeaderReader,
  footer: Uint8Array,
  footerOffset: number,
  problems: InspectionProblem[],
): Promise<void> {
  const headerOffset = toSafeNumber(readU64(footer, 16, false));
  const header = headerOffset === undefined ? new Uint8Array(0) : await reader.read(headerOffset, 1024);
  if (!hasBytes(header, 0, encodeAscii('cxsparse'))) {
    problems.push(
      createProblem('vhd.dynamic-header', 'vhd dynamic disk header is missing', footerOffset + 16),
    );
    return;
  }
  const blockSize = readU32(header, 32, false)!;
  if (blockSize < 512 || (blockSize & (blockSize - 1)) !== 0) {
    problems.push(
      createProblem(
        'vhd.dynamic-header',
        `vhd block size ${blockSize} is not a power of 2`,
        (headerOffset ?? 0) + 32,
      ),
    );
  }
}

// ---- VHDX: Microsoft's VHDX specification and QEMU block/vhdx.c.

const VHDX_SIGNATURE = encodeAscii('vhdxfile');
const VHDX_REGION_TABLE_OFFSETS = [192 * 1024, 256 * 1024];
const VHDX_MAX_TABLE_ENTRIES = 2047;
const VHDX_BAT_REGION = '2dc27766-f623-4200-9d64-115e9bfd4a08';
const VHDX_METADATA_REGION = '8b7ca206-4790-4b9a-b8fe-575f050f886e';
const VHDX_FILE_PARAMETERS = 'caa16737-fa36-4d43-b3b6-33f0aa44e76b';
const VHDX_VIRTUAL_DISK_SIZE = '2fa54224-cd1b-4876-b211-5dbed83bf4b8';
const VHDX_PARENT_LOCATOR = 'a8d35f2d-b30b-454d-abf7-d3d84834ab0c';
const VHDX_KNOWN_METADATA: ReadonlySet<string> = new Set([
  VHDX_FILE_PARAMETERS,
  VHDX_VIRTUAL_DISK_SIZE,
  '8141bf1d-a96f-4709-ba47-f233a8faab5f', // logical sector size
  'cda348c7-445d-4471-9cc9-e9885251c556', // physical sector size
  'beca12ab-b2e6-4523-93ef-c309e000c746', // page 83 data
  VHDX_PARENT_LOCATOR,
]);

export function matchVhdx(head: Uint8Array): boolean {
  return hasBytes(head, 0, VHDX_SIGNATURE);
}

export async function analyzeVhdx(reader: HeaderReader): Promise<FormatAnalysis> {
  const problems: InspectionProblem[] = [];
  let metadataOffset: number | undefined;
  for (const tableOffset of VHDX_REGION_TABLE_OFFSETS) {
    const found = await readVhdxRegionTable(reader, tableOffset, problems);
    if (found !== undefined) {
      metadataOffset = found;
      break;
    }
  }
  if (metadataOffset === undefined) {
    if (problems.length === 0)
      problems.push(createProblem('vhdx.region-table', 'vhdx has no usable region table', 192 * 1024));
    return { problems };
  }
  const table = await reader.read(metadataOffset, 32 + VHDX_MAX_TABLE_ENTRIES * 32);
  if (!hasBytes(table, 0, encodeAscii('metadata'))) {
    problems.push(createProblem('vhdx.metadata', 'vhdx metadata table signature is missing', metadataOffset));
    return { problems };
  }
  const count = readU16(table, 10, true)!;
  if (count > VHDX_MAX_TABLE_ENTRIES) {
    problems.push(
      createProblem('vhdx.metadata', `vhdx metadata table claims ${count} entries`, metadataOffset + 10),
    );
    return { problems };
  }
  let virtualSize: number | undefined;
  for (let index = 0; index < count; index++) {
    const entry = 32 + index * 32;
    const id = formatGuid(table, entry);
    const itemOffset = readU32(table, entry + 16, true);
    const itemLength = readU32(table, entry + 20, true);
    const flags = readU32(table, entry + 24, true);
    if (id === undefined || itemOffset === undefined || itemLength === undefined || flags === undefined) {
      problems.push(
        createProblem('vhdx.metadata', 'vhdx metadata table is truncated', metadataOffset + entry),
      );
      break;
    }
    const isRequired = (flags & 0b100) !== 0;
    if (id === VHDX_PARENT_LOCATOR) {
      problems.push(
        createProblem(
          'vhdx.parent',
          'vhdx is a differencing disk with a parent locator',
          metadataOffset + entry,
        ),
      );
    } else if (id === VHDX_FILE_PARAMETERS) {
      const parameters = await reader.read(metadataOffset + itemOffset, 8);
      const fileFlags = readU32(parameters, 4, true);
      if (fileFlags !== undefined && (fileFlags & 0b10) !== 0) {
        problems.push(
          createProblem(
            'vhdx.parent',
            'vhdx file parameters say it has a parent',
            metadataOffset + itemOffset,
          ),
        );
      }
    } else if (id === VHDX_VIRTUAL_DISK_SIZE) {
      const value = await reader.read(metadataOffset + itemOffset, 8);
      virtualSize = toSafeNumber(readU64(value, 0, true));
      if (virtualSize === undefined) {
        problems.push(
          createProblem(
            'vhdx.size',
            'vhdx virtual disk size is missing or absurd',
            metadataOffset + itemOffset,
          ),
        );
      }
    } else if (isRequired && !VHDX_KNOWN_METADATA.has(id)) {
      problems.push(
        createProblem(
          'vhdx.unknown-metadata',
          `vhdx requires unknown metadata item ${id}`,
          metadataOffset + entry,
        ),
      );
    }
  }
  if (virtualSize === undefined && !problems.some((p) => p.rule === 'vhdx.size')) {
    problems.push(createProblem('vhdx.size', 'vhdx has no virtual disk size', metadataOffset));
  }
  return virtualSize === undefined ? { problems } : { virtualSize, problems };
}

/** Returns the metadata region's file offset, or undefined when this copy of the table is unusable. */
async function readVhdxRegionTable(
  reader: HeaderReader,
  tableOffset: number,
  problems: InspectionProblem[],
): Promise<number | undefined> {
  const table = await reader.read(tableOffset, 16 + VHDX_MAX_TABLE_ENTRIES * 32);
  if (!hasBytes(table, 0, encodeAscii('regi'))) return undefined;
  const count = readU32(table, 8, true)!;
  if (count > VHDX_MAX_TABLE_ENTRIES) {
    problems.push(
      createProblem('vhdx.region-table', `vhdx region table claims ${count} entries`, tableOffset + 8),
    );
    return undefined;
  }
  let metadataOffset: number | undefined;
  for (let index = 0; index < count; index++) {
    const entry = 16 + index * 32;
    const id = formatGuid(table, entry);
    const offset = toSafeNumber(readU64(table, entry + 16, true));
    const required = readU32(table, entry + 28, true);
    if (id === undefined || offset === undefined || required === undefined) {
      problems.push(
        createProblem(
          'vhdx.region-table',
          'vhdx region table entry is truncated or absurd',
          tableOffset + entry,
        ),
      );
      return undefined;
    }
    if (id === VHDX_METADATA_REGION) metadataOffset = offset;
    else if (id !== VHDX_BAT_REGION && (required & 1) !== 0) {
      problems.push(
        createProblem('vhdx.unknown-region', `vhdx requires unknown region ${id}`, tableOffset + entry),
      );
    }
  }
  return metadataOffset;
}

// ---- VDI: VirtualBox's header layout as read by QEMU block/vdi.c.

const VDI_SIGNATURE_OFFSET = 0x40;
const VDI_SIGNATURE = 0xbeda107f;
const VDI_HEADER_BYTES = 0x1c8;
const VDI_BLOCK_SIZE = 1024 * 1024;

export function matchVdi(head: Uint8Array): boolean {
  return readU32(head, VDI_SIGNATURE_OFFSET, true) === VDI_SIGNATURE;
}

export function analyzeVdi(reader: HeaderReader): FormatAnalysis {
  const head = reader.head;
  if (head.length < VDI_HEADER_BYTES) {
    return {
      problems: [
        createProblem('vdi.truncated', `vdi header is ${head.length} bytes, needs ${VDI_HEADER_BYTES}`),
      ],
    };
  }
  const problems: InspectionProblem[] = [];
  const version = readU32(head, 0x44, true)!;
  if (version !== 0x00010001) {
    problems.push(createProblem('vdi.version', `vdi version 0x${version.toString(16)} is not 1.1`, 0x44));
  }
  const imageType = readU32(head, 0x4c, true)!;
  if (imageType !== 1 && imageType !== 2) {
    problems.push(
      createProblem('vdi.image-type', `vdi image type ${imageType} is not dynamic or static`, 0x4c),
    );
  }
  const bitmapOffset = readU32(head, 0x154, true)!;
  const dataOffset = readU32(head, 0x158, true)!;
  if (bitmapOffset % 512 !== 0 || dataOffset % 512 !== 0 || bitmapOffset < VDI_HEADER_BYTES) {
    problems.push(createProblem('vdi.offsets', 'vdi block map or data offset is misaligned', 0x154));
  }
  const sectorSize = readU32(head, 0x168, true)!;
  if (sectorSize !== 512)
    problems.push(createProblem('vdi.sector-size', `vdi sector size ${sectorSize} is not 512`, 0x168));
  const diskSize = readU64(head, 0x170, true)!;
  const blockSize = readU32(head, 0x178, true)!;
  const blocks = readU32(head, 0x180, true)!;
  if (blockSize !== VDI_BLOCK_SIZE) {
    problems.push(createProblem('vdi.block-size', `vdi block size ${blockSize} is not 1 MiB`, 0x178));
  }
  if (diskSize > BigInt(blocks) * BigInt(VDI_BLOCK_SIZE)) {
    problems.push(createProblem('vdi.size', `vdi disk size ${diskSize} exceeds its ${blocks} blocks`, 0x170));
  }
  const isZero = (offset: number): boolean => head.subarray(offset, offset + 16).every((byte) => byte === 0);
  if (!isZero(0x1a8) || !isZero(0x1b8)) {
    problems.push(createProblem('vdi.parent', 'vdi links to a parent image', 0x1a8));
  }
  const virtualSize = toSafeNumber(diskSize);
  return virtualSize === undefined ? { problems } : { virtualSize, problems };
}

// ---- QED and LUKS: recognised so they are never mistaken for raw, and always refused.

const QED_MAGIC = [...encodeAscii('QED'), 0];
const LUKS_MAGIC = [...encodeAscii('LUKS'), 0xba, 0xbe];

export function matchQed(head: Uint8Array): boolean {
  return hasBytes(head, 0, QED_MAGIC);
}

export function analyzeQed(reader: HeaderReader): FormatAnalysis {
  const head = reader.head;
  const problems = [
    createProblem('qed.unsupported', 'qed images are refused; convert them elsewhere first', 0),
  ];
  const features = readU64(head, 16, true);
  const backingOffset = readU32(head, 56, true);
  if (
    (features !== undefined && (features & 1n) !== 0n) ||
    (backingOffset !== undefined && backingOffset !== 0)
  ) {
    problems.push(createProblem('qed.backing-file', 'qed image has a backing file', 16));
  }
  const virtualSize = toSafeNumber(readU64(head, 48, true));
  return virtualSize === undefined ? { problems } : { virtualSize, problems };
}

export function matchLuks(head: Uint8Array): boolean {
  return hasBytes(head, 0, LUKS_MAGIC);
}

export function analyzeLuks(reader: HeaderReader): FormatAnalysis {
  const version = readU16(reader.head, 6, false);
  const problems = [
    createProblem('luks.encrypted', 'luks-encrypted images cannot be converted without their key', 0),
  ];
  if (version !== 1 && version !== 2) {
    problems.push(createProblem('luks.version', `luks version ${version ?? 'missing'} is not 1 or 2`, 6));
  }
  return { problems };
}
