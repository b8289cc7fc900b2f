import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ImagePolicyError,
  loadImagePolicy,
  resolveImagePolicy,
} from '../../../../src/checks/image/policy.js';

const example = `# site policy
images:
  - properties:
      hw_vif_multiqueue_enabled: true
      hw_qemu_guest_agent: "yes"
  - match:
      name: ["ubuntu-*", "Ubuntu *"]
      os_type: linux
    properties:
      os_distro: ubuntu22.04
      hw_rng_model: null
  - match: { name: "appliance-?" }
    ignore: [hw_vif_multiqueue_enabled]
`;

describe('loadImagePolicy', () => {
  it('reads rules with their file:line, YAML booleans as Glance strings, null as "must be absent"', () => {
    const policy = loadImagePolicy(example, 'stackdoctor.yaml');
    assert.equal(policy.rules.length, 3);
    assert.equal(policy.rules[0]?.source, 'stackdoctor.yaml:3');
    assert.deepEqual(policy.rules[0]?.properties, {
      hw_vif_multiqueue_enabled: 'true',
      hw_qemu_guest_agent: 'yes',
    });
    assert.deepEqual(policy.rules[1]?.names, ['ubuntu-*', 'Ubuntu *']);
    assert.equal(policy.rules[1]?.osType, 'linux');
    assert.equal(policy.rules[1]?.properties.hw_rng_model, null);
    assert.deepEqual(policy.rules[2]?.ignore, ['hw_vif_multiqueue_enabled']);
  });

  it('accepts an empty file', () => {
    assert.deepEqual(loadImagePolicy('', 'empty.yaml').rules, []);
  });

  const errors: [string, string, RegExp][] = [
    ['YAML syntax', 'images:\n  - match: [\n', /^bad\.yaml:\d+: /],
    ['unknown top-level key', 'imgs: []\n', /^bad\.yaml:1: unknown key "imgs"/],
    ['unknown rule key', 'images:\n  - propertys: {}\n', /^bad\.yaml:2: unknown rule key "propertys"/],
    ['unknown match key', 'images:\n  - match:\n      owner: x\n', /^bad\.yaml:3: unknown match key "owner"/],
    [
      'bad os_type',
      'images:\n  - match: { os_type: bsd }\n',
      /^bad\.yaml:2: match.os_type must be linux or windows/,
    ],
    [
      'a value Nova rejects',
      'images:\n  - properties:\n      hw_disk_bus: xen\n',
      /^bad\.yaml:3: hw_disk_bus: "xen" is not accepted by Nova on KVM/,
    ],
    [
      'a boolean Nova cannot read',
      'images:\n  - properties:\n\n      hw_qemu_guest_agent: enabled\n',
      /^bad\.yaml:4: hw_qemu_guest_agent: "enabled" is not a boolean Nova understands/,
    ],
    [
      'a list as a value',
      'images:\n  - properties:\n      os_distro: [a]\n',
      /^bad\.yaml:3: os_distro: expected a string/,
    ],
    ['images not a list', 'images: {}\n', /^bad\.yaml:1: "images" must be a list/],
  ];
  for (const [title, text, pattern] of errors) {
    it(`refuses ${title} with a one-line FILE:LINE message`, () => {
      assert.throws(
        () => loadImagePolicy(text, 'bad.yaml'),
        (error: unknown) =>
          error instanceof ImagePolicyError &&
          error.kind === 'image-policy' &&
          pattern.test(error.message) &&
          !error.message.includes('\n'),
      );
    });
  }
});

describe('resolveImagePolicy', () => {
  const policy = loadImagePolicy(example, 'stackdoctor.yaml');

  it('applies every matching rule in order, later ones winning', () => {
    const resolved = resolveImagePolicy(policy, { name: 'Ubuntu 22.04', osType: 'Linux' });
    assert.equal(resolved.wanted.get('os_distro')?.value, 'ubuntu22.04');
    assert.equal(resolved.wanted.get('os_distro')?.source, 'stackdoctor.yaml:6');
    assert.equal(resolved.wanted.get('hw_rng_model')?.value, null);
    assert.equal(resolved.wanted.get('hw_vif_multiqueue_enabled')?.value, 'true');
  });

  it('matches os_type and name globs case-insensitively, ? as one character', () => {
    assert.equal(
      resolveImagePolicy(policy, { name: 'ubuntu-x', osType: 'windows' }).wanted.has('os_distro'),
      false,
    );
    assert.equal(
      resolveImagePolicy(policy, { name: 'UBUNTU-x', osType: 'linux' }).wanted.has('os_distro'),
      true,
    );
    const appliance = resolveImagePolicy(policy, { name: 'appliance-7', osType: undefined });
    assert.equal(appliance.ignored.has('hw_vif_multiqueue_enabled'), true);
    assert.equal(appliance.wanted.has('hw_vif_multiqueue_enabled'), false);
    assert.equal(resolveImagePolicy(policy, { name: 'appliance-77', osType: undefined }).ignored.size, 0);
  });

  it('wants nothing without a policy', () => {
    const resolved = resolveImagePolicy(undefined, { name: 'x', osType: undefined });
    assert.equal(resolved.wanted.size + resolved.ignored.size, 0);
  });
});
