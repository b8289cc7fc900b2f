/** Bounds-checked field readers: a field that lies outside the buffer reads as undefined, never throws. */

export function readU8(bytes: Uint8Array, offset: number): number | undefined {
  return offset >= 0 && offset < bytes.length ? bytes[offset] : undefined;
}

function viewOf(bytes: Uint8Array, offset: number, length: number): DataView | undefined {
  if (offset < 0 || offset + length > bytes.length) return undefined;
  return new DataView(bytes.buffer, bytes.byteOffset + offset, length);
}

export function readU16(bytes: Uint8Array, offset: number, littleEndian: boolean): number | undefined {
  return viewOf(bytes, offset, 2)?.getUint16(0, littleEndian);
}

export function readU32(bytes: Uint8Array, offset: number, littleEndian: boolean): number | undefined {
  return viewOf(bytes, offset, 4)?.getUint32(0, littleEndian);
}

export function readU64(bytes: Uint8Array, offset: number, littleEndian: boolean): bigint | undefined {
  return viewOf(bytes, offset, 8)?.getBigUint64(0, littleEndian);
}

/** Offsets and sizes beyond 2^53 cannot be real file positions; callers treat undefined as absurd. */
export function toSafeNumber(value: bigint | undefined): number | undefined {
  if (value === undefined || value > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return Number(value);
}

export function hasBytes(bytes: Uint8Array, offset: number, expected: readonly number[]): boolean {
  if (offset < 0 || offset + expected.length > bytes.length) return false;
  return expected.every((value, index) => bytes[offset + index] === value);
}

export function encodeAscii(text: string): number[] {
  return Array.from(text, (char) => char.charCodeAt(0));
}

export function decodeLatin1(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/** For messages: a name taken from an image is attacker-controlled, so keep it short and printable. */
export function describeUntrustedText(bytes: Uint8Array): string {
  const printable = decodeLatin1(bytes.subarray(0, 200)).replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(bytes.length > 200 ? `${printable}…` : printable);
}

/** Mixed-endian GUID layout used by GPT and VHDX, rendered in the usual lower-case text form. */
export function formatGuid(bytes: Uint8Array, offset: number): string | undefined {
  if (offset < 0 || offset + 16 > bytes.length) return undefined;
  const hex = (start: number, end: number, reverse: boolean): string => {
    const part = Array.from(bytes.subarray(offset + start, offset + end));
    if (reverse) part.reverse();
    return part.map((byte) => byte.toString(16).padStart(2, '0')).join('');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

function buildCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

const CRC_TABLE = buildCrcTable();

/** CRC-32 (IEEE 802.3), as used by GPT headers and partition arrays. */
export function computeCrc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
