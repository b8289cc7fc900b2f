import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineCheck, type Finding } from '../../../src/core/check.js';
import { exitCodeForResults } from '../../../src/core/exit-codes.js';
import { CheckRegistry } from '../../../src/core/registry.js';
import type { CheckResult } from '../../../src/core/runner.js';

const check = (id: string) =>
  defineCheck({
    meta: {
      id,
      title: id,
      description: 'd',
      severity: 'warning',
      targets: ['cloud'],
      requires: {},
      references: ['r'],
    },
    async *detect() {},
  });

describe('defineCheck', () => {
  it('rejects a malformed id', () => {
    assert.throws(() => check('NoArea'), /id "NoArea" is not area\/kebab-name/);
  });

  it('rejects a fix without a re-check', () => {
    assert.throws(
      () =>
        defineCheck({
          meta: {
            id: 'a/b',
            title: 't',
            description: 'd',
            severity: 'info',
            targets: ['cloud'],
            requires: {},
            references: ['r'],
            fix: { safety: 'safe', reversible: true, description: 'x' },
          },
          async *detect() {},
          async plan() {
            return [];
          },
        }),
      /needs recheck/,
    );
  });
});

describe('CheckRegistry.select', () => {
  const registry = new CheckRegistry([
    check('image/os-type'),
    check('image/os-distro'),
    check('placement/orphaned-allocations'),
  ]);

  it('selects by glob in catalogue order', () => {
    assert.deepEqual(
      registry.select(['image/*']).map((c) => c.meta.id),
      ['image/os-type', 'image/os-distro'],
    );
    assert.deepEqual(
      registry.select(['*alloc*', 'image/os-type']).map((c) => c.meta.id),
      ['image/os-type', 'placement/orphaned-allocations'],
    );
  });

  it('refuses a pattern that matches nothing', () => {
    assert.throws(() => registry.select(['image/os-typo']), /no check matches "image\/os-typo"/);
  });

  it('refuses duplicate ids', () => {
    assert.throws(() => new CheckRegistry([check('a/b'), check('a/b')]), /duplicate check id a\/b/);
  });
});

describe('exitCodeForResults', () => {
  const finding = (severity: Finding['severity']): Finding => ({
    checkId: 'a/b',
    severity,
    target: { kind: 'cloud', name: 'c' },
    resource: { type: 't', id: 'i' },
    message: 'm',
    evidence: {},
    fixable: false,
    confidence: 'confirmed',
  });
  const result = (status: CheckResult['outcome']['status'], findings: Finding[] = []): CheckResult => ({
    checkId: 'a/b',
    title: 't',
    outcome: status === 'skipped' || status === 'error' ? { status, reason: 'r' } : { status },
    findings,
    durationMs: 1,
  });

  it('follows the monitoring-plugin convention', () => {
    assert.equal(exitCodeForResults([result('ok')], 'warning'), 0);
    assert.equal(exitCodeForResults([result('skipped')], 'warning'), 0);
    assert.equal(exitCodeForResults([result('findings', [finding('info')])], 'warning'), 0);
    assert.equal(exitCodeForResults([result('findings', [finding('info')])], 'info'), 1);
    assert.equal(exitCodeForResults([result('findings', [finding('warning')])], 'warning'), 1);
    assert.equal(
      exitCodeForResults([result('findings', [finding('critical'), finding('warning')])], 'warning'),
      2,
    );
    assert.equal(
      exitCodeForResults([result('error'), result('findings', [finding('warning')])], 'warning'),
      3,
    );
    assert.equal(
      exitCodeForResults([result('error'), result('findings', [finding('critical')])], 'warning'),
      2,
    );
    assert.equal(exitCodeForResults([result('findings', [finding('warning')])], 'critical'), 0);
  });
});
