import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'kvm-module-in-use',
  title: 'The KVM module could not be reloaded because virtual machines are running',
  references: ['docs/openstack-reference.md §9, §12'],
  relatedCheck: 'host/nested-virtualisation',
  severity: 'warning',
  literals: ['Module kvm_intel is in use', 'Module kvm_amd is in use'],
  pattern: /Module (?<module>kvm_intel|kvm_amd) is in use/,
  examples: ['modprobe: FATAL: Module kvm_intel is in use.'],
  describe: (values) => ({ module: values.module ?? null }),
});
