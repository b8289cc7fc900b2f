import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'nova-service-delete-conflict',
  title: 'A compute service could not be deleted (409): it still hosts instances or migrations',
  references: ['docs/openstack-reference.md §3.2, §12', 'nova: nova/api/openstack/compute/services.py'],
  relatedCheck: 'compute/service-versions',
  severity: 'warning',
  literals: ['Unable to delete compute service that'],
  pattern: /Unable to delete compute service that (?<reason>is hosting instances|has in-progress migrations)/,
  examples: [
    '2024-05-01 10:11:12.000 25 INFO nova.api.openstack.wsgi [req-1 - - - - -] HTTP exception thrown: Unable to delete compute service that is hosting instances. Migrate or delete the instances first.',
  ],
  describe: (values) => ({ reason: values.reason ?? null }),
});
