import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'nova-image-inspection-rejected',
  title: 'nova-compute rejected an image whose content is not what its disk_format says, or that is unsafe',
  references: ['docs/openstack-reference.md §7, §12', 'nova: nova/virt/images.py'],
  relatedCheck: 'image/qcow2-format',
  severity: 'warning',
  literals: [
    'Image content does not match disk_format',
    'Image does not pass safety check',
    'Image not in a supported format',
  ],
  pattern:
    /^(?:\[instance: (?<instance>[0-9a-f-]{36})\] )?.*?(?<reason>Image content does not match disk_format|Image does not pass safety check|Image not in a supported format)/,
  examples: [
    '2024-05-01 10:11:12.000 25 ERROR nova.compute.manager [req-4 - - - - -] [instance: 44c356ef-edd0-43a3-bd46-17aed65ea1a6] Instance failed to spawn: nova.exception.ImageUnacceptable: Image 9b3b5b5e-7f2a-4c53-8a4e-5d8a9b0c1d2e is unacceptable: Image content does not match disk_format',
  ],
  describe: (values) => ({ reason: values.reason ?? null, instance: values.instance ?? null }),
});
