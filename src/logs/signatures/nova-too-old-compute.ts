import { findReleaseOfServiceVersion } from '../../releases/nova-versions.js';
import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'nova-too-old-compute',
  title: 'TooOldComputeService: a nova service refuses to start because a compute row is too old',
  references: ['docs/openstack-reference.md §4.2, §4.3, §12', 'nova: nova/utils.py (raise_if_old_compute)'],
  relatedCheck: 'compute/service-versions',
  severity: 'critical',
  literals: ['Current Nova version does not support computes older than'],
  pattern:
    /Current Nova version does not support computes older than (?<oldestRelease>.+?) but the minimum compute service level in your (?<scope>system|cell) is (?<minimum>\d+) and the oldest supported service level is (?<oldest>\d+)/,
  examples: [
    '2024-05-01 09:00:01.123 12 CRITICAL nova [-] Unhandled error: nova.exception.TooOldComputeService: Current Nova version does not support computes older than Yoga but the minimum compute service level in your system is 56 and the oldest supported service level is 61.',
  ],
  describe: (values) => {
    const minimum = Number(values.minimum);
    return {
      oldestSupportedRelease: values.oldestRelease ?? null,
      scope: values.scope ?? null,
      minimumServiceVersion: minimum,
      minimumServiceRelease: findReleaseOfServiceVersion(minimum)?.name ?? null,
      oldestSupportedServiceVersion: Number(values.oldest),
    };
  },
});
