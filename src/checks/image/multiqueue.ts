import { parseNovaBoolean } from './nova-properties.js';
import { definePropertyCheck, type ImageView, type PropertyVerdict, wishFor } from './property-check.js';
import { imageScopeParameters } from './sweep.js';

const property = 'hw_vif_multiqueue_enabled';

/** Pure decision for one active image; exported for the unit tests' tables. */
export function inspectMultiqueue(view: ImageView): PropertyVerdict | null {
  const wish = wishFor(view, property, 'true');
  if (wish.value === undefined) return null;
  const current = view.properties[property];
  const evidence = { [property]: current ?? null, wanted: wish.value, wanted_by: wish.source };
  if (wish.value === null) {
    if (current === undefined) return null;
    return {
      problems: [
        { severity: 'warning', message: `${wish.source} wants no ${property}, the image has "${current}"` },
      ],
      changes: { [property]: null },
      evidence,
    };
  }
  if (current === undefined) {
    return {
      problems: [
        {
          severity: 'warning',
          message: `image has no ${property}: each vNIC gets one queue, so one vCPU handles all its network traffic`,
        },
      ],
      changes: { [property]: wish.value },
      evidence,
    };
  }
  const parsed = parseNovaBoolean(current);
  if (parsed.kind === 'invalid') {
    // The operator meant something; keep their intent when it can be read, else take what is wanted.
    const value = wish.fromPolicy ? wish.value : (parsed.intended ?? wish.value);
    return {
      problems: [
        {
          severity: 'warning',
          message: `${property}="${current}" is not a boolean Nova understands: Nova reads it as false`,
        },
      ],
      changes: { [property]: value },
      evidence: { ...evidence, wanted: value },
    };
  }
  // An explicit false is a decision; only the policy can overrule it.
  if (wish.fromPolicy && parsed.kind !== parseNovaBoolean(wish.value).kind) {
    return {
      problems: [
        {
          severity: 'warning',
          message: `${wish.source} wants ${property}=${wish.value}, the image has "${current}"`,
        },
      ],
      changes: { [property]: wish.value },
      evidence,
    };
  }
  return null;
}

export default definePropertyCheck({
  meta: {
    id: 'image/multiqueue',
    title: 'Active images without virtio-net multiqueue',
    description:
      'Without hw_vif_multiqueue_enabled=true each vNIC has a single queue, so one vCPU does all network work; ' +
      'a value Nova does not read as a boolean silently means false.',
    severity: 'warning',
    targets: ['cloud'],
    requires: { services: ['image'] },
    references: [
      'https://docs.openstack.org/glance/latest/admin/useful-image-properties.html',
      'nova/virt/hardware.py (get_vif_multiqueue_constraint)',
      'oslo_utils/strutils.py (bool_from_string)',
    ],
    parameters: { ...imageScopeParameters },
    fix: {
      safety: 'safe',
      reversible: true,
      description:
        'sets hw_vif_multiqueue_enabled with one JSON-patch per image; undo restores the old value or its absence',
    },
  },
  prepare: async () => undefined,
  inspect: (view) => inspectMultiqueue(view),
});
