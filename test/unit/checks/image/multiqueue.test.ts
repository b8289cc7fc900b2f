import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspectMultiqueue } from '../../../../src/checks/image/multiqueue.js';
import { loadImagePolicy } from '../../../../src/checks/image/policy.js';
import { toFinding, viewImage } from '../../../../src/checks/image/property-check.js';
import type { Image } from '../../../../src/openstack/image.js';

const image = (fields: Record<string, unknown>): Image => ({
  id: '11111111-2222-3333-4444-555555555555',
  name: 'ubuntu-22.04',
  status: 'active',
  ...fields,
});

describe('image/multiqueue decisions', () => {
  // properties → expected change of hw_vif_multiqueue_enabled (undefined: no finding), message fragment
  const cases: [Record<string, unknown>, string | null | undefined, string | undefined][] = [
    [{}, 'true', 'has no hw_vif_multiqueue_enabled'],
    [{ hw_vif_multiqueue_enabled: 'true' }, undefined, undefined],
    [{ hw_vif_multiqueue_enabled: 'True' }, undefined, undefined],
    [{ hw_vif_multiqueue_enabled: ' yes ' }, undefined, undefined],
    [{ hw_vif_multiqueue_enabled: '1' }, undefined, undefined],
    // an explicit false is the operator's decision
    [{ hw_vif_multiqueue_enabled: 'false' }, undefined, undefined],
    [{ hw_vif_multiqueue_enabled: 'enabled' }, 'true', 'Nova reads it as false'],
    [{ hw_vif_multiqueue_enabled: 'disabled' }, 'false', 'Nova reads it as false'],
    [{ hw_vif_multiqueue_enabled: 'maybe' }, 'true', 'not a boolean Nova understands'],
  ];
  for (const [properties, change, fragment] of cases) {
    it(`${JSON.stringify(properties)} → ${change === undefined ? 'fine' : `set ${change}`}`, () => {
      const verdict = inspectMultiqueue(viewImage(image(properties), undefined));
      if (change === undefined) {
        assert.equal(verdict, null);
        return;
      }
      assert.ok(verdict);
      assert.deepEqual(verdict.changes, { hw_vif_multiqueue_enabled: change });
      const finding = toFinding(image(properties), verdict);
      assert.ok(finding.message.includes(fragment ?? ''), finding.message);
      assert.equal(finding.fixable, true);
      assert.equal(finding.severity, 'warning');
    });
  }

  it('follows the policy: false wanted for matching names, ignored for others', () => {
    const policy = loadImagePolicy(
      [
        'images:',
        '  - match: { name: "legacy-*" }',
        '    properties: { hw_vif_multiqueue_enabled: false }',
        '  - match: { name: "appliance-*" }',
        '    ignore: [hw_vif_multiqueue_enabled]',
      ].join('\n'),
      'stackdoctor.yaml',
    );
    const legacy = inspectMultiqueue(
      viewImage(image({ name: 'legacy-x', hw_vif_multiqueue_enabled: 'yes' }), policy),
    );
    assert.deepEqual(legacy?.changes, { hw_vif_multiqueue_enabled: 'false' });
    assert.match(
      legacy?.problems[0]?.message ?? '',
      /policy stackdoctor\.yaml:2 wants hw_vif_multiqueue_enabled=false/,
    );
    assert.equal(inspectMultiqueue(viewImage(image({ name: 'appliance-y' }), policy)), null);
    assert.deepEqual(inspectMultiqueue(viewImage(image({ name: 'other' }), policy))?.changes, {
      hw_vif_multiqueue_enabled: 'true',
    });
  });
});
