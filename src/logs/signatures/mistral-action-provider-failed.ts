import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'mistral-action-provider-failed',
  title: 'Mistral could not load an action provider',
  references: ['docs/openstack-reference.md §10', 'mistral: mistral/services/actions.py'],
  relatedCheck: 'workflow/empty-action-list',
  severity: 'critical',
  literals: ['Failed to instantiate an action provider from the class'],
  pattern: /Failed to instantiate an action provider from the class: (?<providerClass>\S+)/,
  examples: [
    "2024-05-01 08:00:00.001 18 ERROR mistral.services.actions [-] Failed to instantiate an action provider from the class: <class 'mistral.actions.legacy.LegacyActionProvider'>",
  ],
  describe: (values) => ({ providerClass: values.providerClass ?? null }),
});
