import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLineScanner, type MatchedLine } from '../../../src/logs/line-scanner.js';
import { createLiteralMatcher } from '../../../src/logs/literal-matcher.js';

const text = [
  'noise line one',
  'first NEEDLE-ONE here',
  '',
  'noise NEEDLE-TWO and NEEDLE-ONE on one line\r',
  'more noise',
  'last NEEDLE-TWO without newline',
].join('\n');

function scanInChunks(chunkSize: number, maxLineBytes?: number): MatchedLine[] {
  const lines: MatchedLine[] = [];
  const scanner = createLineScanner(
    createLiteralMatcher(['NEEDLE-ONE', 'NEEDLE-TWO']),
    (line) => lines.push(line),
    maxLineBytes,
  );
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += chunkSize) scanner.push(bytes.subarray(at, at + chunkSize));
  scanner.end();
  return lines;
}

describe('createLineScanner', () => {
  it('reports each matching line once, with its number, text (no CR) and literals', () => {
    assert.deepEqual(scanInChunks(1 << 20), [
      { text: 'first NEEDLE-ONE here', lineNumber: 2, literals: [0] },
      { text: 'noise NEEDLE-TWO and NEEDLE-ONE on one line', lineNumber: 4, literals: [1, 0] },
      { text: 'last NEEDLE-TWO without newline', lineNumber: 6, literals: [1] },
    ]);
  });

  it('gives the same answer whatever the chunk boundaries', () => {
    const whole = scanInChunks(1 << 20);
    for (const size of [1, 2, 3, 5, 7, 11, 16, 31])
      assert.deepEqual(scanInChunks(size), whole, `chunk size ${size}`);
  });

  it('counts lines it did not decode', () => {
    const scanner = createLineScanner(createLiteralMatcher(['NEEDLE-ONE']), () => {});
    scanner.push(Buffer.from('a\nb\nc\n'));
    scanner.end();
    assert.equal(scanner.linesSeen, 3);
  });
});
