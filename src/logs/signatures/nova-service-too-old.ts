import { findReleaseOfServiceVersion } from '../../releases/nova-versions.js';
import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'nova-service-too-old',
  title: 'ServiceTooOld: this nova service is older than the rest of the deployment',
  references: ['docs/openstack-reference.md §4.2, §12', 'nova: nova/exception.py (ServiceTooOld)'],
  relatedCheck: 'compute/service-versions',
  severity: 'critical',
  literals: ['This service is older (v'],
  pattern:
    /This service is older \(v(?<own>\d+)\) than the minimum \(v(?<minimum>\d+)\) version of the rest of the deployment/,
  examples: [
    '2024-05-01 09:00:01.123 12 ERROR nova.service [-] This service is older (v56) than the minimum (v61) version of the rest of the deployment. Unable to continue.',
  ],
  describe: (values) => {
    const own = Number(values.own);
    const minimum = Number(values.minimum);
    return {
      serviceVersion: own,
      serviceRelease: findReleaseOfServiceVersion(own)?.name ?? null,
      minimumServiceVersion: minimum,
      minimumServiceRelease: findReleaseOfServiceVersion(minimum)?.name ?? null,
    };
  },
});
