import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'glance-format-mismatch',
  title: "An uploaded image's content does not match its declared disk_format",
  references: ['docs/openstack-reference.md §6.4, §12', 'glance: glance/location.py (Zed)'],
  relatedCheck: 'image/qcow2-format',
  severity: 'warning',
  literals: ['did not match; unable to calculate virtual size'],
  pattern: /Image format (?<format>\S+) did not match; unable to calculate virtual size/,
  examples: [
    '2024-05-01 10:11:12.000 25 WARNING glance.location [req-6 - - - - -] Image format raw did not match; unable to calculate virtual size',
  ],
  describe: (values) => ({ declaredFormat: values.format ?? null }),
});
