import { findReleaseOfServiceVersion } from '../../releases/nova-versions.js';
import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'nova-rpc-version-selected',
  title: 'Compute RPC version cap selected from the minimum nova-compute service version',
  references: [
    'docs/openstack-reference.md §4.2, §12',
    'nova: nova/compute/rpcapi.py (_determine_version_cap)',
  ],
  relatedCheck: 'compute/service-versions',
  severity: 'info',
  literals: ['Automatically selected compute RPC version '],
  pattern:
    /Automatically selected compute RPC version (?<rpc>\d+\.\d+) from minimum service version (?<minimum>\d+)/,
  examples: [
    '2024-05-01 12:38:01.998 7 INFO nova.compute.rpcapi [req-7bc75c8d-a3c2-4961-81d3-91e2cfe2f382 - - - - -] Automatically selected compute RPC version 4.17 from minimum service version 22',
  ],
  describe: (values) => {
    const minimum = Number(values.minimum);
    return {
      computeRpcVersion: values.rpc ?? null,
      minimumServiceVersion: minimum,
      minimumServiceRelease: findReleaseOfServiceVersion(minimum)?.name ?? null,
    };
  },
});
