import { guessOsType } from './os-type.js';
import {
  definePropertyCheck,
  type ImageView,
  type PropertyProblem,
  type PropertyVerdict,
  wishFor,
} from './property-check.js';
import type { PropertyChanges } from './property-fix.js';
import {
  type CephEvidence,
  cephParameter,
  findCephStores,
  imageScopeParameters,
  listStoresOnce,
  locateOnCeph,
  readCephParameter,
} from './sweep.js';

const modelKey = 'hw_scsi_model';
const busKey = 'hw_disk_bus';

export interface ScsiBusEnv {
  cephStores: ReadonlySet<string>;
  declaredCeph: boolean | undefined;
}

/** Pure decision for one active image; exported for the unit tests' tables. */
export function inspectScsiBus(view: ImageView, env: ScsiBusEnv): PropertyVerdict | null {
  const modelWish = wishFor(view, modelKey);
  const busWish = wishFor(view, busKey);
  const current = { model: view.properties[modelKey], bus: view.properties[busKey] };
  const target: { model: string | undefined; bus: string | undefined } = { ...current };
  const problems: PropertyProblem[] = [];
  const pinned = { model: modelWish.fromPolicy, bus: busWish.fromPolicy };

  for (const [key, wish, slot] of [
    [modelKey, modelWish, 'model'],
    [busKey, busWish, 'bus'],
  ] as const) {
    if (wish.value === undefined || (wish.value ?? undefined) === current[slot]) continue;
    target[slot] = wish.value ?? undefined;
    problems.push({
      severity: 'warning',
      message:
        wish.value === null
          ? `${wish.source} wants no ${key}, the image has "${current[slot]}"`
          : `${wish.source} wants ${key}=${wish.value}, the image has ${current[slot] === undefined ? 'none' : `"${current[slot]}"`}`,
    });
  }

  // The two properties only work as a pair (operators' guide, "Virtio SCSI"; nova/virt/libvirt/driver.py).
  if (target.model === 'virtio-scsi' && target.bus !== 'scsi' && !pinned.bus) {
    problems.push({
      severity: 'warning',
      message: `hw_scsi_model=virtio-scsi without hw_disk_bus=scsi: Nova adds a virtio-scsi controller but the disks stay on ${target.bus === undefined ? 'virtio-blk' : `bus ${target.bus}`}, so nothing uses it`,
    });
    target.bus = 'scsi';
  } else if (target.bus === 'scsi' && target.model === undefined && !pinned.model) {
    problems.push({
      severity: 'warning',
      message:
        'hw_disk_bus=scsi without hw_scsi_model: libvirt picks its default SCSI controller (LSI Logic on x86), ' +
        'which is slow and which current guests (RHEL 8+, Windows) have no driver for',
    });
    target.model = 'virtio-scsi';
  }

  let ceph: CephEvidence | undefined;
  const untouched = target.model === undefined && target.bus === undefined && problems.length === 0;
  if (untouched && !view.policy.ignored.has(modelKey) && !view.policy.ignored.has(busKey)) {
    ceph = locateOnCeph(view.image, env.cephStores, env.declaredCeph);
    const osType =
      view.properties.os_type?.toLowerCase() ?? guessOsType(view.image, view.properties.os_distro)?.value;
    // Windows needs the vioscsi driver in the image before its disk can move; Linux has virtio-scsi built in.
    if (ceph.onCeph && osType === 'linux') {
      problems.push({
        severity: 'info',
        message: `Linux image on Ceph (${ceph.why}) without virtio-scsi: discard/TRIM from the guest does not reach RBD, so deleted data keeps using space`,
      });
      target.model = 'virtio-scsi';
      target.bus = 'scsi';
    }
  }
  if (problems.length === 0) return null;

  const changes: Record<string, string | null> = {};
  if (target.model !== current.model) changes[modelKey] = target.model ?? null;
  if (target.bus !== current.bus) changes[busKey] = target.bus ?? null;
  return {
    problems,
    changes: changes satisfies PropertyChanges,
    evidence: {
      [modelKey]: current.model ?? null,
      [busKey]: current.bus ?? null,
      os_type: view.properties.os_type ?? null,
      on_ceph: ceph === undefined ? null : ceph.onCeph,
      ceph_evidence: ceph?.why ?? null,
      policy: modelWish.fromPolicy || busWish.fromPolicy ? `${modelWish.source} / ${busWish.source}` : null,
    },
  };
}

export default definePropertyCheck<ScsiBusEnv>({
  meta: {
    id: 'image/scsi-bus',
    title: 'Images with half of the virtio-scsi pair, or without it where it pays',
    description:
      'hw_scsi_model=virtio-scsi and hw_disk_bus=scsi only work together; one without the other wastes a ' +
      'controller or falls back to an emulated LSI Logic one. Linux images on Ceph need the pair for discard.',
    severity: 'warning',
    targets: ['cloud'],
    requires: { services: ['image'] },
    references: [
      'https://docs.openstack.org/glance/latest/admin/useful-image-properties.html',
      'nova/virt/libvirt/driver.py (_get_scsi_controller), nova/virt/libvirt/blockinfo.py',
      'OSISM operators guide: Virtio SCSI',
    ],
    parameters: { ...imageScopeParameters, ...cephParameter },
    fix: {
      safety: 'safe',
      reversible: true,
      description:
        'sets the missing half of the pair (or both) with one JSON-patch per image; undo restores the old values or their absence',
    },
  },
  async prepare(ctx) {
    const declaredCeph = readCephParameter(ctx.parameters);
    const cephStores =
      declaredCeph === undefined ? findCephStores(await listStoresOnce(ctx.cloud)) : new Set<string>();
    return { cephStores, declaredCeph };
  },
  inspect: inspectScsiBus,
});
