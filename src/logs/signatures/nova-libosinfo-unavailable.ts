import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'nova-libosinfo-unavailable',
  title: 'nova-compute could not use libosinfo for an image (missing library or unknown os_distro)',
  references: ['docs/openstack-reference.md §8, §12', 'nova: nova/virt/osinfo.py'],
  relatedCheck: 'image/os-distro',
  severity: 'info',
  literals: ['Cannot load Libosinfo', 'Cannot find OS information - Reason'],
  pattern:
    /(?<problem>Cannot load Libosinfo|Cannot find OS information)(?: - Reason)?:? ?\(?(?<reason>[^)]*)\)?/,
  examples: [
    "2024-05-01 10:11:12.000 25 DEBUG nova.virt.osinfo [req-7 - - - - -] Cannot find OS information - Reason: (Cannot find OS information for OS short ID: 'Ubuntu')",
  ],
  describe: (values) => ({ problem: values.problem ?? null, reason: values.reason ?? null }),
});
