import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guessOsType, inspectOsType } from '../../../../src/checks/image/os-type.js';
import { type ImagePolicy, loadImagePolicy } from '../../../../src/checks/image/policy.js';
import { toFinding, viewImage } from '../../../../src/checks/image/property-check.js';
import { planImagePropertyChange } from '../../../../src/checks/image/property-fix.js';
import type { Image } from '../../../../src/openstack/image.js';

const image = (fields: Record<string, unknown>): Image => ({
  id: '11111111-2222-3333-4444-555555555555',
  status: 'active',
  ...fields,
});

describe('guessOsType', () => {
  const cases: [string | undefined, string | undefined, string | undefined, string | undefined][] = [
    // name, os_distro, expected value, expected confidence
    ['Ubuntu 22.04 LTS', undefined, 'linux', 'medium'],
    ['debian-12-generic-amd64', undefined, 'linux', 'medium'],
    ['cirros-0.6.2-x86_64-disk', undefined, 'linux', 'medium'],
    ['Windows Server 2022 Standard', undefined, 'windows', 'medium'],
    ['win2k19-datacenter', undefined, 'windows', 'medium'],
    ['golden-image-v3', 'ubuntu', 'linux', 'high'],
    ['golden-image-v3', 'win2k22', 'windows', 'high'],
    ['golden-image-v3', undefined, undefined, undefined],
    ['appliance', 'unknown-thing', undefined, undefined],
  ];
  for (const [name, osDistro, value, confidence] of cases) {
    it(`${name} / os_distro=${osDistro ?? '(none)'} → ${value ?? 'no guess'}`, () => {
      const guess = guessOsType({ name }, osDistro);
      assert.equal(guess?.value, value);
      assert.equal(guess?.confidence, confidence);
    });
  }

  it('prefers os_distro over a misleading name', () => {
    assert.equal(guessOsType({ name: 'windows-build-agent' }, 'ubuntu22.04')?.value, 'linux');
  });
});

describe('planImagePropertyChange', () => {
  it('adds a missing property and undoes by removing it, never by setting an empty value', () => {
    const step = planImagePropertyChange(image({ name: 'x' }), { os_type: 'linux' }, 'set os_type');
    assert.deepEqual(step.apply, {
      kind: 'http',
      service: 'image',
      method: 'PATCH',
      path: '/v2/images/11111111-2222-3333-4444-555555555555',
      contentType: 'application/openstack-images-v2.1-json-patch',
      body: [{ op: 'add', path: '/os_type', value: 'linux' }],
    });
    assert.notEqual(step.undo, 'irreversible');
    assert.deepEqual(step.undo !== 'irreversible' && step.undo.kind === 'http' ? step.undo.body : null, [
      { op: 'remove', path: '/os_type' },
    ]);
    assert.deepEqual(step.after?.expect, [{ pointer: '/os_type', value: 'linux' }]);
  });

  it('replaces a wrong value and undoes by restoring the exact old value', () => {
    const step = planImagePropertyChange(image({ os_type: 'Linux ' }), { os_type: 'linux' }, 'fix os_type');
    assert.deepEqual(step.undo !== 'irreversible' && step.undo.kind === 'http' ? step.undo.body : null, [
      { op: 'add', path: '/os_type', value: 'Linux ' },
    ]);
    assert.equal((step.priorState as { os_type?: string }).os_type, 'Linux ');
  });

  it('escapes property names for JSON pointers', () => {
    const step = planImagePropertyChange(image({}), { 'trait:a/b~c': 'required' }, 'set trait');
    assert.deepEqual(step.after?.expect, [{ pointer: '/trait:a~1b~0c', value: 'required' }]);
  });

  it('removes a property and restores it on undo', () => {
    const step = planImagePropertyChange(image({ hw_disk_bus: 'xen' }), { hw_disk_bus: null }, 'remove');
    assert.deepEqual(step.apply.kind === 'http' ? step.apply.body : null, [
      { op: 'remove', path: '/hw_disk_bus' },
    ]);
    assert.deepEqual(step.undo !== 'irreversible' && step.undo.kind === 'http' ? step.undo.body : null, [
      { op: 'add', path: '/hw_disk_bus', value: 'xen' },
    ]);
    assert.deepEqual(step.after?.expect, [{ pointer: '/hw_disk_bus', absent: true }]);
  });
});

describe('image/os-type decisions', () => {
  const view = (fields: Record<string, unknown>, policy?: ImagePolicy) => viewImage(image(fields), policy);
  const noOverride = { override: undefined };

  it('accepts both values in any case (Nova lower-cases them)', () => {
    assert.equal(inspectOsType(view({ os_type: 'linux' }), noOverride), null);
    assert.equal(inspectOsType(view({ os_type: 'Windows' }), noOverride), null);
  });

  it('flags a missing os_type with a guess from the name', () => {
    const verdict = inspectOsType(view({ name: 'Ubuntu 22.04 LTS' }), noOverride);
    assert.deepEqual(verdict?.changes, { os_type: 'linux' });
    assert.equal(toFinding(image({ name: 'Ubuntu 22.04 LTS' }), verdict!).fixable, true);
  });

  it('repairs stray spaces with high confidence', () => {
    const verdict = inspectOsType(view({ os_type: 'Linux ' }), noOverride);
    assert.deepEqual(verdict?.changes, { os_type: 'linux' });
    assert.equal(verdict?.evidence.confidence, 'high');
  });

  it('is not fixable without a guess, and says how to give one', () => {
    const verdict = inspectOsType(view({ name: 'golden' }), noOverride);
    assert.equal(verdict?.changes, undefined);
    assert.match(verdict?.problems[0]?.message ?? '', /--set os_type=linux\|windows/);
  });

  it('uses the policy value per name pattern, and leaves ignored images alone', () => {
    const policy = loadImagePolicy(
      'images:\n  - match: { name: "golden*" }\n    properties: { os_type: windows }\n  - match: { name: "skip*" }\n    ignore: [os_type]\n',
      'p.yaml',
    );
    assert.deepEqual(inspectOsType(view({ name: 'golden', os_type: 'linux' }, policy), noOverride)?.changes, {
      os_type: 'windows',
    });
    assert.equal(inspectOsType(view({ name: 'skip-me' }, policy), noOverride), null);
  });
});
