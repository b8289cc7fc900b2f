import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'nova-orphaned-allocation',
  title: 'Placement holds allocations on this compute host for an instance Nova does not know',
  references: ['docs/openstack-reference.md §5', 'nova: nova/compute/resource_tracker.py'],
  relatedCheck: 'placement/orphaned-allocations',
  severity: 'warning',
  // One line in real logs; pasted copies wrap it, which this literal deliberately does not match.
  literals: ['has allocations against this compute host but is not found in the database'],
  pattern:
    /Instance (?<instance>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}) has allocations against this compute host but is not found in the database/,
  examples: [
    '2024-05-01 15:23:36.136 3558 INFO nova.compute.resource_tracker [req-f76d5408-00f8-4a67-854e-ad3da2098811 - - - - -] Instance 44c356ef-edd0-43a3-bd46-17aed65ea1a6 has allocations against this compute host but is not found in the database.',
  ],
  describe: (values) => ({ instance: values.instance ?? null }),
  resourceOf: (values) => ({ type: 'instance', id: values.instance ?? 'unknown' }),
});
