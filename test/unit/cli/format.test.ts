import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { type Listing, renderListing, renderRecord } from '../../../src/reporters/format.js';

const listing: Listing = {
  columns: ['ID', 'Name', 'Tags'],
  rows: [
    ['a1', 'first', ['x', 'y']],
    ['b2', null, []],
  ],
};
const plain = { format: 'table' as const, columns: [], colour: false };

describe('renderListing', () => {
  it('draws a table like the openstack CLI, multi-line cells included', () => {
    assert.equal(
      renderListing(listing, plain),
      [
        '+----+-------+------+',
        '| ID | Name  | Tags |',
        '+----+-------+------+',
        '| a1 | first | x    |',
        '|    |       | y    |',
        '| b2 |       |      |',
        '+----+-------+------+',
        '',
      ].join('\n'),
    );
  });

  it('selects and orders columns with -c, case-insensitively', () => {
    assert.equal(
      renderListing(listing, { ...plain, format: 'value', columns: ['name', 'id'] }),
      'first a1\n b2\n',
    );
  });

  it('rejects an unknown column with the list of known ones', () => {
    assert.throws(
      () => renderListing(listing, { ...plain, columns: ['Nope'] }),
      /-c Nope: no such column \(ID, Name, Tags\)/,
    );
  });

  it('prints json and yaml as lists of objects keyed by column', () => {
    const expected = [
      { ID: 'a1', Name: 'first', Tags: ['x', 'y'] },
      { ID: 'b2', Name: null, Tags: [] },
    ];
    assert.deepEqual(JSON.parse(renderListing(listing, { ...plain, format: 'json' })), expected);
    assert.deepEqual(parseYaml(renderListing(listing, { ...plain, format: 'yaml' })), expected);
  });

  it('colours only when asked', () => {
    const paint = () => (text: string) => `<${text}>`;
    assert.doesNotMatch(renderListing(listing, { ...plain, paint }), /</);
    assert.match(renderListing(listing, { ...plain, colour: true, paint }), /<a1>/);
  });
});

describe('renderRecord', () => {
  it('shows Field/Value rows and picks fields with -c', () => {
    const record = { cloud: 'admin', admin: true };
    assert.match(renderRecord(record, plain), /\| cloud \| admin \|\n\| admin \| true {2}\|/);
    assert.equal(renderRecord(record, { ...plain, format: 'value', columns: ['admin'] }), 'true\n');
  });
});
