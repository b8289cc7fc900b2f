import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { allChecks } from '../../src/checks/index.js';
import { CheckRegistry } from '../../src/core/registry.js';

const root = path.resolve(import.meta.dirname, '../..');

function listCheckFiles(): string[] {
  const checksDir = path.join(root, 'src/checks');
  const ids: string[] = [];
  for (const area of readdirSync(checksDir, { withFileTypes: true })) {
    if (!area.isDirectory()) continue;
    for (const file of readdirSync(path.join(checksDir, area.name))) {
      // Helpers shared by an area's checks are not checks: they have no default export of a check.
      if (file.endsWith('.ts') && !file.endsWith('.test.ts')) ids.push(`${area.name}/${file.slice(0, -3)}`);
    }
  }
  return ids;
}

describe('the check catalogue', () => {
  it('has unique ids (the registry refuses duplicates)', () => {
    assert.equal(new CheckRegistry(allChecks).all().length, allChecks.length);
  });

  for (const check of allChecks) {
    const id = check.meta.id;
    describe(id, () => {
      it('lives in src/checks/<id>.ts', () => {
        assert.ok(existsSync(path.join(root, 'src/checks', `${id}.ts`)), `missing src/checks/${id}.ts`);
      });
      it('has a runbook page docs/checks/<id>.md', () => {
        assert.ok(existsSync(path.join(root, 'docs/checks', `${id}.md`)), `missing docs/checks/${id}.md`);
      });
      it('has unit tests test/unit/checks/<id>.test.ts', () => {
        assert.ok(
          existsSync(path.join(root, 'test/unit/checks', `${id}.test.ts`)),
          `missing unit tests for ${id}`,
        );
      });
      it('has integration tests test/integration/checks/<id>.test.ts', () => {
        assert.ok(
          existsSync(path.join(root, 'test/integration/checks', `${id}.test.ts`)),
          `missing integration tests for ${id}`,
        );
      });
    });
  }

  it('registers every check file (a file that is not in the index is a check nobody runs)', async () => {
    const registered = new Set(allChecks.map((check) => check.meta.id));
    for (const id of listCheckFiles()) {
      const module: Record<string, unknown> = await import(path.join(root, 'src/checks', `${id}.ts`));
      if (module.default === undefined) continue;
      assert.ok(
        registered.has(id),
        `src/checks/${id}.ts exports a check that src/checks/index.ts does not list`,
      );
    }
  });
});
