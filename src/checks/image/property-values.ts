import { booleanProperties, enumProperties, kvmRestricted, parseNovaBoolean } from './nova-properties.js';
import {
  definePropertyCheck,
  type ImageView,
  type PropertyProblem,
  type PropertyVerdict,
  wishFor,
} from './property-check.js';
import { imageScopeParameters } from './sweep.js';

/** Properties with a check of their own. */
const ownedElsewhere = new Set(['os_type', 'os_distro', 'hw_vif_multiqueue_enabled']);
/** image/scsi-bus applies the policy to the pair; their values are still judged here. */
const policyOwnedElsewhere = new Set([...ownedElsewhere, 'hw_scsi_model', 'hw_disk_bus']);
const booleans: ReadonlySet<string> = new Set(booleanProperties);

// Spellings seen in the wild for values Nova spells differently.
const aliases: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  hw_disk_bus: { 'virtio-blk': 'virtio', virtio_blk: 'virtio', virtioblk: 'virtio' },
  hw_scsi_model: { virtio_scsi: 'virtio-scsi', virtioscsi: 'virtio-scsi' },
  hw_vif_model: { 'virtio-net': 'virtio', virtio_net: 'virtio', virtionet: 'virtio' },
  hw_rng_model: { 'virtio-rng': 'virtio' },
};

interface Judgement {
  problem: PropertyProblem;
  /** The value to set (null: remove); undefined: not fixable without the policy. */
  change?: string | null;
}

function judgeValue(property: string, value: string): Judgement | undefined {
  const allowed = enumProperties[property];
  if (allowed) {
    if (!allowed.includes(value)) {
      const lowered = value.trim().toLowerCase();
      const fixed = allowed.includes(lowered) ? lowered : aliases[property]?.[lowered];
      return {
        problem: {
          severity: 'critical',
          message: `${property}="${value}" is not a value Nova accepts: every boot from this image fails with 400 "Invalid image metadata"`,
        },
        ...(fixed === undefined ? {} : { change: fixed }),
      };
    }
    const onKvm = kvmRestricted[property];
    if (onKvm && !onKvm.includes(value)) {
      return {
        problem: {
          severity: 'critical',
          message: `${property}=${value} is not supported by the libvirt driver on KVM/QEMU: the instance goes to ERROR with UnsupportedHardware`,
        },
      };
    }
    if (property === 'hw_rng_model') {
      return {
        problem: {
          severity: 'info',
          message:
            'hw_rng_model has had no effect since Ussuri: Nova adds a virtio RNG unless the flavor forbids it (hw_rng:allowed=False)',
        },
        change: null,
      };
    }
    return undefined;
  }
  if (booleans.has(property)) {
    const parsed = parseNovaBoolean(value);
    if (parsed.kind !== 'invalid') return undefined;
    return {
      problem: {
        severity: 'warning',
        message: `${property}="${value}" is not a boolean Nova understands: Nova reads it as false`,
      },
      ...(parsed.intended === undefined ? {} : { change: parsed.intended }),
    };
  }
  return undefined;
}

/** Pure decision for one active image; exported for the unit tests' tables. */
export function inspectPropertyValues(view: ImageView): PropertyVerdict | null {
  const problems: PropertyProblem[] = [];
  const changes: Record<string, string | null> = {};
  const unfixable: string[] = [];
  const names = new Set([...Object.keys(view.properties), ...view.policy.wanted.keys()]);
  for (const name of [...names].sort()) {
    if (ownedElsewhere.has(name)) continue;
    const wish = wishFor(view, name);
    if (wish.value === undefined && wish.fromPolicy) continue;
    const current = view.properties[name];
    if (wish.fromPolicy && wish.value !== undefined && !policyOwnedElsewhere.has(name)) {
      if ((wish.value ?? undefined) === current) continue;
      problems.push({
        severity: 'warning',
        message:
          wish.value === null
            ? `${wish.source} wants no ${name}, the image has "${current}"`
            : `${wish.source} wants ${name}=${wish.value}, the image has ${current === undefined ? 'none' : `"${current}"`}`,
      });
      changes[name] = wish.value;
      continue;
    }
    if (current === undefined) continue;
    const judgement = judgeValue(name, current);
    if (!judgement) continue;
    problems.push(judgement.problem);
    // The policy settles what stackdoctor cannot guess (e.g. which bus replaces xen).
    const change =
      judgement.change !== undefined ? judgement.change : wish.fromPolicy ? wish.value : undefined;
    if (change === undefined) unfixable.push(name);
    else changes[name] = change;
  }
  if (problems.length === 0) return null;
  const affected = Object.fromEntries(
    [...Object.keys(changes), ...unfixable].map((name) => [name, view.properties[name] ?? null]),
  );
  return {
    problems,
    // A partial fix would leave the image as broken as before: fix all or nothing, and say what is missing.
    ...(unfixable.length === 0 ? { changes } : {}),
    evidence: { properties: affected, needs_policy: unfixable.length === 0 ? null : unfixable.join(', ') },
  };
}

export default definePropertyCheck({
  meta: {
    id: 'image/property-values',
    title: 'Image properties Nova rejects, ignores or misreads',
    description:
      'Enum properties with values Nova does not accept fail every boot (400) or spawn (UnsupportedHardware on ' +
      'KVM); booleans Nova cannot parse silently mean false; hw_rng_model does nothing since Ussuri.',
    severity: 'warning',
    targets: ['cloud'],
    requires: { services: ['image'] },
    references: [
      'https://docs.openstack.org/glance/latest/admin/useful-image-properties.html',
      'nova/objects/image_meta.py, nova/objects/fields.py',
      'nova/virt/libvirt/blockinfo.py (SUPPORTED_DEVICE_BUSES)',
    ],
    parameters: { ...imageScopeParameters },
    fix: {
      safety: 'safe',
      reversible: true,
      description:
        'corrects or removes the values with one JSON-patch per image; undo restores the old values',
    },
  },
  prepare: async () => undefined,
  inspect: (view) => inspectPropertyValues(view),
});
