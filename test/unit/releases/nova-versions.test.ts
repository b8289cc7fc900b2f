import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeServiceVersion,
  findComputeRpcOfAlias,
  findReleaseOfServiceVersion,
  listReleasesShippingServiceVersion,
  listReleasesWithComputeRpc,
  novaReleases,
} from '../../../src/releases/nova-versions.js';

describe('nova release table', () => {
  it('maps the operators-guide service versions to their releases (22 Pike, 35 Rocky)', () => {
    assert.equal(findReleaseOfServiceVersion(22)?.name, 'pike');
    assert.equal(findReleaseOfServiceVersion(35)?.name, 'rocky');
    assert.equal(findReleaseOfServiceVersion(22)?.computeRpc, '4.17');
  });

  it('maps by ranges, so versions inside a cycle and lagging aliases land in the right release', () => {
    assert.equal(findReleaseOfServiceVersion(17)?.name, 'pike');
    assert.equal(findReleaseOfServiceVersion(53)?.name, 'victoria');
    assert.equal(findReleaseOfServiceVersion(64)?.name, 'zed');
    assert.equal(findReleaseOfServiceVersion(67)?.name, 'caracal');
  });

  it('knows which releases shipped the same version (no new versions in Bobcat and Dalmatian)', () => {
    assert.deepEqual(
      listReleasesShippingServiceVersion(66).map((r) => r.name),
      ['antelope', 'bobcat'],
    );
    assert.deepEqual(
      listReleasesShippingServiceVersion(67).map((r) => r.name),
      ['caracal', 'dalmatian'],
    );
  });

  it('has no release for version 0 or versions newer than the table', () => {
    assert.equal(findReleaseOfServiceVersion(0), undefined);
    assert.equal(findReleaseOfServiceVersion(99), undefined);
    assert.match(describeServiceVersion(0), /never written/);
    assert.match(describeServiceVersion(73), /master/);
    assert.match(describeServiceVersion(99), /newer than/);
    assert.equal(describeServiceVersion(22), '22 (Pike)');
  });

  it('maps compute RPC versions and upgrade_levels aliases', () => {
    assert.deepEqual(
      listReleasesWithComputeRpc('4.17').map((r) => r.name),
      ['pike'],
    );
    assert.deepEqual(
      listReleasesWithComputeRpc('6.0').map((r) => r.name),
      ['wallaby', 'xena', 'yoga'],
    );
    assert.equal(findComputeRpcOfAlias('Juno'), '3.35');
    assert.equal(findComputeRpcOfAlias('zed'), '6.1');
    assert.equal(findComputeRpcOfAlias('nonsense'), undefined);
  });

  it('has contiguous, increasing service-version ranges with no gaps from 1 to the last release', () => {
    let next = 1;
    for (const release of novaReleases) {
      if (release.serviceVersions === null) continue;
      assert.equal(release.serviceVersions.first, next, release.name);
      assert.ok(release.serviceVersions.last >= release.serviceVersions.first);
      assert.equal(release.shippedServiceVersion, release.serviceVersions.last, release.name);
      next = release.serviceVersions.last + 1;
    }
  });
});
