/**
 * Multi-literal search over bytes (Wu–Manber with 2-byte blocks): one left-to-right pass for the whole
 * catalogue, skipping ahead by up to the shortest literal's length. One `Buffer.indexOf` pass per literal
 * measured ~150 MB/s for 28 literals against ~560 MB/s for this (see bench/logs-scan.ts).
 */
export interface LiteralMatcher {
  readonly literals: readonly string[];
  /** Calls `onHit` for each literal occurrence lying wholly inside [start, end), in order of position. */
  forEachMatch(
    buffer: Buffer,
    start: number,
    end: number,
    onHit: (literal: number, position: number) => void,
  ): void;
}

const blockSize = 2;

export function createLiteralMatcher(literals: readonly string[]): LiteralMatcher {
  if (literals.length === 0) throw new Error('createLiteralMatcher needs at least one literal');
  const encoded = literals.map((literal) => Buffer.from(literal, 'utf8'));
  const window = Math.min(...encoded.map((bytes) => bytes.length));
  if (window < blockSize) throw new Error(`literal shorter than ${blockSize} bytes`);

  // shift[block]: how far the window may move when its last two bytes are `block`.
  const shift = new Uint8Array(65536).fill(Math.min(255, window - blockSize + 1));
  const candidates: (number[] | undefined)[] = new Array(65536);
  encoded.forEach((bytes, index) => {
    for (let j = blockSize; j <= window; j += 1) {
      const block = ((bytes[j - 2] ?? 0) << 8) | (bytes[j - 1] ?? 0);
      const distance = window - j;
      if (distance < (shift[block] ?? 0)) shift[block] = distance;
      if (distance === 0) {
        const list = candidates[block] ?? [];
        list.push(index);
        candidates[block] = list;
      }
    }
  });

  return {
    literals,
    forEachMatch(buffer, start, end, onHit) {
      let i = start + window - 1;
      while (i < end) {
        const block = ((buffer[i - 1] ?? 0) << 8) | (buffer[i] ?? 0);
        const distance = shift[block] ?? 0;
        if (distance !== 0) {
          i += distance;
          continue;
        }
        const position = i - window + 1;
        for (const index of candidates[block] ?? []) {
          const bytes = encoded[index];
          if (bytes === undefined) continue;
          const stop = position + bytes.length;
          if (stop <= end && buffer.compare(bytes, 0, bytes.length, position, stop) === 0)
            onHit(index, position);
        }
        i += 1;
      }
    },
  };
}
