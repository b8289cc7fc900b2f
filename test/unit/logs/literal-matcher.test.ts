import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLiteralMatcher } from '../../../src/logs/literal-matcher.js';

function findAll(literals: string[], text: string): [string, number][] {
  const matcher = createLiteralMatcher(literals);
  const buffer = Buffer.from(text);
  const hits: [string, number][] = [];
  matcher.forEachMatch(buffer, 0, buffer.length, (index, position) =>
    hits.push([literals[index] ?? '', position]),
  );
  return hits;
}

describe('createLiteralMatcher', () => {
  it('finds every literal at every position, in order, like indexOf would', () => {
    const literals = ['AMQP server on ', 'SQL connection failed.', 'Cannot load Libosinfo'];
    const text = 'x AMQP server on y\nSQL connection failed. AMQP server on z Cannot load Libosinfo';
    const expected: [string, number][] = [];
    for (const literal of literals) {
      for (let at = text.indexOf(literal); at !== -1; at = text.indexOf(literal, at + 1))
        expected.push([literal, at]);
    }
    expected.sort((a, b) => a[1] - b[1]);
    assert.deepEqual(findAll(literals, text), expected);
  });

  it('finds literals at the very start and end of the buffer and overlapping ones', () => {
    assert.deepEqual(findAll(['abcabcab', 'cabcabca'], 'abcabcabca'), [
      ['abcabcab', 0],
      ['cabcabca', 2],
    ]);
  });

  it('reports nothing outside [start, end)', () => {
    const matcher = createLiteralMatcher(['needle-long']);
    const buffer = Buffer.from('needle-long needle-long');
    const hits: number[] = [];
    matcher.forEachMatch(buffer, 1, 20, (_, position) => hits.push(position));
    assert.equal(hits.length, 0);
    matcher.forEachMatch(buffer, 0, buffer.length, (_, position) => hits.push(position));
    assert.deepEqual(hits, [0, 12]);
  });

  it('matches UTF-8 literals byte for byte', () => {
    assert.deepEqual(findAll(['größer als'], 'Wert ist größer als erlaubt'), [['größer als', 9]]);
  });
});
