import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { scanLogs } from '../../../src/logs/scan.js';
import { defineLogSignature } from '../../../src/logs/signature.js';
import { logSignatures } from '../../../src/logs/signatures/index.js';

const signaturesDirectory = fileURLToPath(new URL('../../../src/logs/signatures/', import.meta.url));

describe('log signature catalogue', () => {
  let directory = '';
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'stackdoctor-signatures-'));
  });
  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('has one file per signature, named by its id, and unique ids', async () => {
    const files = (await readdir(signaturesDirectory)).filter((name) => name !== 'index.ts').sort();
    const ids = logSignatures.map((s) => s.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(files, ids.map((id) => `${id}.ts`).sort());
  });

  it('covers the signatures the runbooks and reference §12 name', () => {
    const ids = new Set(logSignatures.map((s) => s.id));
    for (const id of [
      'nova-rpc-version-cap',
      'nova-rpc-version-selected',
      'nova-too-old-compute',
      'nova-service-too-old',
      'nova-orphaned-allocation',
      'placement-consumer-generation-conflict',
      'mistral-no-action-providers',
      'rabbitmq-unreachable',
      'database-connection-failed',
    ]) {
      assert.ok(ids.has(id), id);
    }
  });

  for (const signature of logSignatures) {
    it(`${signature.id}: every example is found, once per line`, async () => {
      for (const example of signature.examples) {
        assert.ok(
          signature.literals.some((literal) => example.includes(literal)),
          `example holds no literal: ${example}`,
        );
      }
      const file = join(directory, `${signature.id}.log`);
      await writeFile(file, `noise before\n${signature.examples.join('\n')}\nnoise after\n`);
      const result = await scanLogs([file], { signatures: [signature] });
      const count = result.findings.reduce((sum, f) => sum + Number(f.evidence.count), 0);
      assert.equal(count, signature.examples.length);
      for (const finding of result.findings) {
        assert.equal(finding.signatureId, signature.id);
        assert.equal(finding.relatedCheck, signature.relatedCheck);
      }
    });
  }

  it('rejects malformed signatures at definition time', () => {
    const valid = logSignatures[0];
    assert.ok(valid);
    assert.throws(() => defineLogSignature({ ...valid, id: 'Not Kebab' }), /kebab-case/);
    assert.throws(() => defineLogSignature({ ...valid, literals: ['short'] }), /too short/);
    assert.throws(() => defineLogSignature({ ...valid, relatedCheck: 'nocheck' }), /area\/name/);
    assert.throws(() => defineLogSignature({ ...valid, pattern: /x/g }), /global/);
  });
});
