import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'glance-conversion-refused',
  title: "Glance's image conversion plugin refused an image",
  references: [
    'docs/openstack-reference.md §6.5, §12',
    'glance: glance/async_/flows/plugins/image_conversion.py',
  ],
  relatedCheck: 'image/qcow2-format',
  severity: 'warning',
  literals: [
    'safety check; aborting conversion',
    'QCOW images with backing files are not allowed',
    'QCOW images with data-file set are not allowed',
    'Image metadata disagrees about format',
  ],
  pattern:
    /Image failed (?<format>\S+) safety check; aborting conversion|(?<reason>QCOW images with backing files are not allowed|QCOW images with data-file set are not allowed|Image metadata disagrees about format)/,
  examples: [
    '2024-05-01 10:11:12.000 25 ERROR glance.async_.flows.plugins.image_conversion [req-5 - - - - -] Image failed qcow2 safety check; aborting conversion',
    '2024-05-01 10:11:12.000 25 ERROR glance.async_.flows.plugins.image_conversion [req-5 - - - - -] QCOW images with backing files are not allowed',
  ],
  describe: (values) => ({
    reason: values.reason ?? (values.format === undefined ? null : `failed ${values.format} safety check`),
  }),
});
