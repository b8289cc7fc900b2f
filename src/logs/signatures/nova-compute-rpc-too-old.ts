import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'nova-compute-rpc-too-old',
  title: 'This nova process is older than the newest compute and cannot pick a compute RPC version',
  references: ['docs/openstack-reference.md §12', 'nova: nova/compute/rpcapi.py'],
  relatedCheck: 'compute/service-versions',
  severity: 'critical',
  literals: ['Failed to extract compute RPC version from service history because I am too old'],
  pattern:
    /Failed to extract compute RPC version from service history because I am too old(?: \(minimum version is now (?<minimum>\d+)\))?/,
  examples: [
    '2024-05-01 09:00:01.123 12 ERROR nova.compute.rpcapi [-] Failed to extract compute RPC version from service history because I am too old (minimum version is now 66)',
  ],
  describe: (values) => ({
    minimumServiceVersion: values.minimum === undefined ? null : Number(values.minimum),
  }),
});
