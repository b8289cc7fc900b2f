import type { LiteralMatcher } from './literal-matcher.js';

/** A line holding at least one literal: decoded, with its 1-based number and which literals it holds. */
export interface MatchedLine {
  text: string;
  lineNumber: number;
  literals: readonly number[];
}

export interface LineScanner {
  push(chunk: Buffer): void;
  /** Flushes a last line that has no newline. */
  end(): void;
  readonly linesSeen: number;
}

/**
 * Splits a byte stream into lines without decoding it: only lines that hold a literal are turned into strings.
 * Lines longer than `maxLineBytes` are scanned in pieces (a literal straddling a piece boundary is missed).
 */
export function createLineScanner(
  matcher: LiteralMatcher,
  onLine: (line: MatchedLine) => void,
  maxLineBytes = 4 * 1024 * 1024,
): LineScanner {
  let carry: Buffer | null = null;
  // Number of the line that starts at the beginning of the next region scanned.
  let lineNumber = 1;

  function scanRegion(buffer: Buffer, start: number, end: number): void {
    let counted = start;
    let currentStart = -1;
    let currentEnd = -1;
    let currentLiterals: number[] = [];
    const flush = () => {
      if (currentStart < 0) return;
      let text = buffer.toString('utf8', currentStart, currentEnd);
      if (text.endsWith('\r')) text = text.slice(0, -1);
      onLine({ text, lineNumber, literals: currentLiterals });
      currentStart = -1;
    };
    matcher.forEachMatch(buffer, start, end, (literal, position) => {
      if (position < currentEnd) {
        if (!currentLiterals.includes(literal)) currentLiterals.push(literal);
        return;
      }
      flush();
      const lineStart =
        position === start ? start : Math.max(start, buffer.lastIndexOf(10, position - 1) + 1);
      let newline = buffer.indexOf(10, counted);
      while (newline !== -1 && newline < lineStart) {
        lineNumber += 1;
        newline = buffer.indexOf(10, newline + 1);
      }
      counted = lineStart;
      const lineEnd = newline === -1 || newline >= end ? end : newline;
      currentStart = lineStart;
      currentEnd = lineEnd;
      currentLiterals = [literal];
    });
    flush();
    let newline = buffer.indexOf(10, counted);
    while (newline !== -1 && newline < end) {
      lineNumber += 1;
      newline = buffer.indexOf(10, newline + 1);
    }
  }

  function scanCarry(): void {
    if (carry !== null) scanRegion(carry, 0, carry.length);
    carry = null;
  }

  return {
    push(chunk) {
      let start = 0;
      if (carry !== null) {
        const firstNewline = chunk.indexOf(10);
        if (firstNewline === -1) {
          carry = Buffer.concat([carry, chunk]);
          if (carry.length > maxLineBytes) scanCarry();
          return;
        }
        carry = Buffer.concat([carry, chunk.subarray(0, firstNewline + 1)]);
        scanCarry();
        start = firstNewline + 1;
      }
      const lastNewline = chunk.lastIndexOf(10);
      if (lastNewline >= start) {
        scanRegion(chunk, start, lastNewline + 1);
        start = lastNewline + 1;
      }
      if (start < chunk.length) carry = Buffer.from(chunk.subarray(start));
    },
    end() {
      scanCarry();
    },
    get linesSeen() {
      return carry === null ? lineNumber - 1 : lineNumber;
    },
  };
}
