import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'placement-consumer-generation-conflict',
  title: 'Placement 409 concurrent update: consumer generation conflict',
  references: [
    'docs/openstack-reference.md §2.2, §12',
    'placement: placement/handlers/util.py (ensure_consumer)',
  ],
  relatedCheck: 'placement/orphaned-allocations',
  severity: 'warning',
  literals: ['consumer generation conflict - expected'],
  pattern: /consumer generation conflict - expected (?<expected>\S+?) but got (?<got>[^\s.,"]+)/,
  examples: [
    '2024-05-01 10:11:12.000 25 WARNING placement.handlers.allocation [req-2 - - - - -] consumer generation conflict - expected 3 but got 4',
  ],
  describe: (values) => ({
    expectedGeneration: values.expected ?? null,
    actualGeneration: values.got ?? null,
  }),
});
