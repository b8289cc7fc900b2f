import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'mistral-no-action-providers',
  title: 'Mistral found no action providers: its action list will be empty',
  references: ['docs/openstack-reference.md §10, §12', 'mistral: mistral/services/actions.py'],
  relatedCheck: 'workflow/empty-action-list',
  severity: 'critical',
  literals: ['No action providers found in the system.'],
  pattern: /No action providers found in the system\./,
  examples: [
    '2024-05-01 08:00:00.001 18 WARNING mistral.services.actions [-] No action providers found in the system.',
  ],
  describe: () => ({}),
});
