import { listReleasesWithComputeRpc } from '../../releases/nova-versions.js';
import { defineLogSignature } from '../signature.js';

export default defineLogSignature({
  id: 'nova-rpc-version-cap',
  title: 'RPCVersionCapError: a message needs a newer compute RPC version than the cap allows',
  references: ['docs/openstack-reference.md §4.2, §12', 'oslo.messaging: oslo_messaging/rpc/client.py'],
  relatedCheck: 'compute/service-versions',
  severity: 'critical',
  literals: ['is incompatible.  It needs to be equal in major version'],
  // Anchored on the exception name so a traceback counts once: oslo.log prefixes every traceback line, and
  // only the final one starts with the exception (`Exception during message handling: ...` does not).
  pattern:
    /^(?:[\w.]+\.)?RPCVersionCapError: Requested message version, (?<requested>\d+\.\d+) is incompatible\.\s+It needs to be equal in major version and less than or equal in minor version as the specified version cap (?<cap>\d+\.\d+)/,
  examples: [
    '2024-05-01 12:05:33.840 35 ERROR oslo_messaging.rpc.server RPCVersionCapError: Requested message version, 5.0 is incompatible.  It needs to be equal in major version and less than or equal in minor version as the specified version cap 4.17.',
    '2024-05-01 12:05:33.840 35 ERROR oslo_messaging.rpc.server oslo_messaging.rpc.client.RPCVersionCapError: Requested message version, 6.2 is incompatible.  It needs to be equal in major version and less than or equal in minor version as the specified version cap 6.0.',
  ],
  describe: (values) => ({
    requestedVersion: values.requested ?? null,
    capVersion: values.cap ?? null,
    capReleases: listReleasesWithComputeRpc(values.cap ?? '').map((r) => r.name),
    requestedReleases: listReleasesWithComputeRpc(values.requested ?? '').map((r) => r.name),
  }),
});
