import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  guessOsinfoShortId,
  indexOsinfo,
  matchOsDistro,
  parseOsinfoXml,
  readShippedOsinfo,
} from '../../../../src/images/osinfo.js';

const xml = `<?xml version="1.0" encoding="UTF-8"?>
<libosinfo version="0.0.1">
  <!-- <os id="http://commented.out/"> -->
  <os id="http://example.org/exampleos/1.0">
    <short-id>exos1.0</short-id>
    <short-id>exos-first</short-id>
    <name>Example OS 1.0 &amp; friends</name>
    <name xml:lang="de">Beispiel-OS 1.0</name>
    <version>1.0</version>
    <family>linux</family>
    <distro>exos</distro>
    <upgrades id="http://example.org/exampleos/0.9"/>
    <media arch="x86_64">
      <name>Example OS live media</name>
      <variant id="desktop"/>
    </media>
    <release-date>2020-01-02</release-date>
  </os>
</libosinfo>`;

describe('parseOsinfoXml', () => {
  it('takes the OS’s own fields, not localised names or those of its media', () => {
    assert.deepEqual(parseOsinfoXml(xml), [
      {
        id: 'http://example.org/exampleos/1.0',
        shortIds: ['exos1.0', 'exos-first'],
        name: 'Example OS 1.0 & friends',
        version: '1.0',
        distro: 'exos',
        family: 'linux',
        releaseDate: '2020-01-02',
      },
    ]);
  });
});

describe('matchOsDistro', () => {
  const index = indexOsinfo({ source: 'test', version: 'test', entries: parseOsinfoXml(xml) });
  it('tells a short-id, a full id, a Glance-style distro and an unknown value apart', () => {
    assert.equal(matchOsDistro(index, 'exos1.0').kind, 'short-id');
    assert.equal(matchOsDistro(index, 'exos-first').kind, 'short-id');
    assert.equal(matchOsDistro(index, 'http://example.org/exampleos/1.0').kind, 'id');
    assert.equal(matchOsDistro(index, 'exos').kind, 'distro');
    assert.equal(matchOsDistro(index, 'EXOS1.0').kind, 'unknown');
    assert.equal(matchOsDistro(index, 'http://example.org/nope').kind, 'unknown');
  });
});

describe('the shipped osinfo list', () => {
  it('records the osinfo-db version it was generated from', async () => {
    const database = await readShippedOsinfo();
    assert.equal(database.version, '20221203');
    assert.ok(database.entries.length > 700);
  });

  it('guesses short-ids from image names with a confidence', async () => {
    const index = indexOsinfo(await readShippedOsinfo());
    const guess = (name: string) => guessOsinfoShortId(index, { name });
    assert.equal(guess('Ubuntu 22.04 LTS')?.shortId, 'ubuntu22.04');
    assert.equal(guess('Ubuntu 22.04 LTS')?.confidence, 'high');
    assert.equal(guess('Windows Server 2012 R2 Datacenter')?.shortId, 'win2k12r2');
    assert.equal(guess('my-ubuntu22.04-image')?.shortId, 'ubuntu22.04');
    assert.equal(guess('CentOS Stream 9')?.shortId, 'centos-stream9');
    // a name that merely contains the short-id "unknown" says nothing
    assert.equal(guess('unknown'), undefined);
    assert.equal(guess('golden'), undefined);
  });

  it('falls back to the nearest release of the same major version, with medium confidence', () => {
    const index = indexOsinfo({
      source: 'test',
      version: 'test',
      entries: [
        {
          id: 'http://r/9.0',
          shortIds: ['r9.0'],
          name: 'R Linux 9.0',
          version: '9.0',
          distro: 'rocky',
          family: 'linux',
          releaseDate: '2022-07-14',
        },
        {
          id: 'http://r/9.1',
          shortIds: ['r9.1'],
          name: 'R Linux 9.1',
          version: '9.1',
          distro: 'rocky',
          family: 'linux',
          releaseDate: '2022-11-26',
        },
      ],
    });
    const guess = guessOsinfoShortId(index, { name: 'rocky-9.3-genericcloud' });
    assert.equal(guess?.shortId, 'r9.1');
    assert.equal(guess?.confidence, 'medium');
    assert.match(guess?.reason ?? '', /nearest/);
  });
});
