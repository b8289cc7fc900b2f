import type { ByteSource } from './byte-source.js';
import { ImageReadError } from './byte-source.js';

export const IMAGE_FORMATS = [
  'raw',
  'qcow2',
  'qed',
  'vmdk',
  'vhd',
  'vhdx',
  'vdi',
  'iso',
  'gpt',
  'mbr',
  'luks',
] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

export interface InspectionProblem {
  /** Stable id such as `qcow2.backing-file`; tests and operators match on it. */
  rule: string;
  message: string;
  offset?: number;
}

export interface FormatAnalysis {
  virtualSize?: number;
  problems: InspectionProblem[];
}

/** Hard cap on the bytes one inspection may read, whatever the headers claim. */
export const MAX_INSPECT_BYTES = 4 * 1024 * 1024;
/** Every detector looks at the start of the file; ISO volume descriptors (32 KiB..64 KiB) are inside it. */
export const HEAD_BYTES = 64 * 1024;

export class ReadBudgetExceeded extends Error {
  constructor(readonly requested: number) {
    super(`inspection would read more than ${MAX_INSPECT_BYTES} bytes`);
  }
}

/** Counts and caps what the inspectors read, so a hostile header cannot make us read the whole file. */
export class HeaderReader {
  bytesRead = 0;
  head: Uint8Array = new Uint8Array(0);

  private constructor(private readonly source: ByteSource) {}

  static async open(source: ByteSource): Promise<HeaderReader> {
    const reader = new HeaderReader(source);
    reader.head = await reader.read(0, HEAD_BYTES);
    return reader;
  }

  get size(): number | undefined {
    return this.source.size;
  }

  /** Reads `length` bytes at `offset`; served from the head when it covers the range. Short at end of data. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0) {
      return new Uint8Array(0);
    }
    if (offset + length <= this.head.length) return this.head.subarray(offset, offset + length);
    const size = this.source.size;
    const wanted = size === undefined ? length : Math.max(0, Math.min(length, size - offset));
    if (wanted === 0) return new Uint8Array(0);
    if (this.bytesRead + wanted > MAX_INSPECT_BYTES) throw new ReadBudgetExceeded(wanted);
    let bytes: Uint8Array;
    try {
      bytes = await this.source.read(offset, wanted);
    } catch (error) {
      throw new ImageReadError(`cannot read ${wanted} bytes at offset ${offset} of the image`, {
        cause: error,
      });
    }
    // A source that hands back more than asked must not defeat the budget.
    const kept = bytes.length > wanted ? bytes.subarray(0, wanted) : bytes;
    this.bytesRead += kept.length;
    return kept;
  }
}

export function createProblem(rule: string, message: string, offset?: number): InspectionProblem {
  return offset === undefined ? { rule, message } : { rule, message, offset };
}
