import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'placement-allocation-race',
  title: 'Placement 409 concurrent update: inventory or allocations changed during an allocation',
  references: ['docs/openstack-reference.md §2.2, §12', 'placement: placement/handlers/allocation.py'],
  relatedCheck: 'placement/orphaned-allocations',
  severity: 'warning',
  literals: ['Inventory and/or allocations changed while attempting to allocate'],
  pattern: /Inventory and\/or allocations changed while attempting to allocate/,
  examples: [
    '2024-05-01 10:11:12.000 25 WARNING placement.objects.allocation [req-3 - - - - -] Inventory and/or allocations changed while attempting to allocate: Another thread concurrently updated the data. Please retry your update',
  ],
  describe: () => ({}),
});
