import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadImagePolicy } from '../../../../src/checks/image/policy.js';
import { toFinding, viewImage } from '../../../../src/checks/image/property-check.js';
import { inspectScsiBus, type ScsiBusEnv } from '../../../../src/checks/image/scsi-bus.js';
import type { Image } from '../../../../src/openstack/image.js';

const image = (fields: Record<string, unknown>): Image => ({
  id: '11111111-2222-3333-4444-555555555555',
  name: 'golden',
  status: 'active',
  ...fields,
});
const onCeph: ScsiBusEnv = { cephStores: new Set(['ceph']), declaredCeph: undefined };
const offCeph: ScsiBusEnv = { cephStores: new Set(), declaredCeph: undefined };

describe('image/scsi-bus decisions', () => {
  // fields, env → expected changes (null: no finding), severity, message fragment
  const cases: [
    string,
    Record<string, unknown>,
    ScsiBusEnv,
    Record<string, string | null> | null,
    string?,
    string?,
  ][] = [
    ['the full pair is fine', { hw_scsi_model: 'virtio-scsi', hw_disk_bus: 'scsi' }, onCeph, null],
    [
      'model without bus gets the bus',
      { hw_scsi_model: 'virtio-scsi' },
      offCeph,
      { hw_disk_bus: 'scsi' },
      'warning',
      'without hw_disk_bus=scsi',
    ],
    [
      'model with bus virtio gets bus scsi',
      { hw_scsi_model: 'virtio-scsi', hw_disk_bus: 'virtio' },
      offCeph,
      { hw_disk_bus: 'scsi' },
      'warning',
      'stay on bus virtio',
    ],
    [
      'bus without model gets virtio-scsi, not LSI Logic',
      { hw_disk_bus: 'scsi' },
      offCeph,
      { hw_scsi_model: 'virtio-scsi' },
      'warning',
      'LSI Logic',
    ],
    [
      'an explicit other SCSI model is a choice',
      { hw_disk_bus: 'scsi', hw_scsi_model: 'lsilogic' },
      onCeph,
      null,
    ],
    [
      'Linux on Ceph without the pair: recommended',
      { os_type: 'linux', stores: 'ceph' },
      onCeph,
      { hw_scsi_model: 'virtio-scsi', hw_disk_bus: 'scsi' },
      'info',
      'discard/TRIM',
    ],
    [
      'Linux guessed from the name, on Ceph by rbd:// location',
      { name: 'Ubuntu 22.04 LTS', locations: [{ url: 'rbd://fsid/images/x/snap', metadata: {} }] },
      offCeph,
      { hw_scsi_model: 'virtio-scsi', hw_disk_bus: 'scsi' },
      'info',
      'rbd:// URL',
    ],
    ['Linux off Ceph: no recommendation', { os_type: 'linux', stores: 'file' }, offCeph, null],
    [
      'Windows on Ceph: needs vioscsi first, not recommended',
      { os_type: 'windows', stores: 'ceph' },
      onCeph,
      null,
    ],
    [
      'an explicit virtio-blk bus on Ceph is a choice',
      { os_type: 'linux', stores: 'ceph', hw_disk_bus: 'virtio' },
      onCeph,
      null,
    ],
  ];
  for (const [title, fields, env, changes, severity, fragment] of cases) {
    it(title, () => {
      const verdict = inspectScsiBus(viewImage(image(fields), undefined), env);
      if (changes === null) {
        assert.equal(verdict, null);
        return;
      }
      assert.ok(verdict);
      assert.deepEqual(verdict.changes, changes);
      const finding = toFinding(image(fields), verdict);
      assert.equal(finding.severity, severity);
      assert.ok(finding.message.includes(fragment ?? ''), finding.message);
    });
  }

  it('--set ceph=yes makes a Linux image a candidate whatever Glance shows', () => {
    const verdict = inspectScsiBus(viewImage(image({ os_type: 'linux' }), undefined), {
      cephStores: new Set(),
      declaredCeph: true,
    });
    assert.equal(verdict?.evidence.ceph_evidence, '--set ceph=yes');
  });

  it('applies the policy to the pair, and the pairing rule to what the policy leaves open', () => {
    const policy = loadImagePolicy(
      'images:\n  - match: { os_type: windows }\n    properties: { hw_scsi_model: virtio-scsi }\n',
      'p.yaml',
    );
    const verdict = inspectScsiBus(viewImage(image({ os_type: 'windows' }), policy), offCeph);
    assert.deepEqual(verdict?.changes, { hw_scsi_model: 'virtio-scsi', hw_disk_bus: 'scsi' });
    assert.match(verdict?.problems[0]?.message ?? '', /policy p\.yaml:2 wants hw_scsi_model=virtio-scsi/);
  });

  it('a policy that pins virtio-blk removes a recommended-but-unwanted pair', () => {
    const policy = loadImagePolicy(
      'images:\n  - properties: { hw_scsi_model: null, hw_disk_bus: virtio }\n',
      'p.yaml',
    );
    const verdict = inspectScsiBus(
      viewImage(image({ hw_scsi_model: 'virtio-scsi', hw_disk_bus: 'scsi' }), policy),
      onCeph,
    );
    assert.deepEqual(verdict?.changes, { hw_scsi_model: null, hw_disk_bus: 'virtio' });
  });
});
