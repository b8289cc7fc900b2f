import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadImagePolicy } from '../../../../src/checks/image/policy.js';
import { toFinding, viewImage } from '../../../../src/checks/image/property-check.js';
import { inspectPropertyValues } from '../../../../src/checks/image/property-values.js';
import type { Image } from '../../../../src/openstack/image.js';

const image = (fields: Record<string, unknown>): Image => ({
  id: '11111111-2222-3333-4444-555555555555',
  name: 'golden',
  status: 'active',
  ...fields,
});

describe('image/property-values decisions', () => {
  // properties → changes (undefined: finding without a fix; null: no finding), severity
  const cases: [Record<string, string>, Record<string, string | null> | null | undefined, string?][] = [
    [{ hw_disk_bus: 'virtio', hw_vif_model: 'virtio', hw_qemu_guest_agent: 'yes' }, null],
    [{ hw_disk_bus: 'xen' }, undefined, 'critical'],
    [{ hw_disk_bus: 'uml' }, undefined, 'critical'],
    [{ hw_disk_bus: 'nvme' }, undefined, 'critical'],
    [{ hw_disk_bus: 'VirtIO' }, { hw_disk_bus: 'virtio' }, 'critical'],
    [{ hw_disk_bus: 'virtio-blk' }, { hw_disk_bus: 'virtio' }, 'critical'],
    [{ hw_vif_model: 'virtio-net' }, { hw_vif_model: 'virtio' }, 'critical'],
    [{ hw_scsi_model: 'virtio_scsi' }, { hw_scsi_model: 'virtio-scsi' }, 'critical'],
    [{ hw_firmware_type: 'efi' }, undefined, 'critical'],
    [{ hw_rng_model: 'virtio' }, { hw_rng_model: null }, 'info'],
    [{ hw_qemu_guest_agent: 'enabled' }, { hw_qemu_guest_agent: 'true' }, 'warning'],
    [{ hw_qemu_guest_agent: 'qga' }, undefined, 'warning'],
    [{ hw_qemu_guest_agent: 'no' }, null],
    // owned by their own checks
    [{ os_type: 'Linux ', hw_vif_multiqueue_enabled: 'enabled' }, null],
    // free strings and unknown properties are not judged
    [{ hw_machine_type: 'q35', custom_thing: 'anything' }, null],
  ];
  for (const [properties, changes, severity] of cases) {
    it(`${JSON.stringify(properties)} → ${changes === null ? 'fine' : JSON.stringify(changes ?? 'not fixable')}`, () => {
      const verdict = inspectPropertyValues(viewImage(image(properties), undefined));
      if (changes === null) {
        assert.equal(verdict, null);
        return;
      }
      assert.ok(verdict);
      const finding = toFinding(image(properties), verdict);
      assert.equal(finding.severity, severity);
      assert.equal(finding.fixable, changes !== undefined);
      assert.deepEqual(verdict.changes, changes);
    });
  }

  it('says why a boot fails: 400 for unknown values, UnsupportedHardware for non-KVM buses', () => {
    assert.match(
      inspectPropertyValues(viewImage(image({ hw_disk_bus: 'nvme' }), undefined))?.problems[0]?.message ?? '',
      /400/,
    );
    assert.match(
      inspectPropertyValues(viewImage(image({ hw_disk_bus: 'xen' }), undefined))?.problems[0]?.message ?? '',
      /UnsupportedHardware/,
    );
  });

  it('fixes all or nothing: one unfixable value makes the image not fixable, and names it', () => {
    const verdict = inspectPropertyValues(
      viewImage(image({ hw_rng_model: 'virtio', hw_disk_bus: 'xen' }), undefined),
    );
    assert.equal(verdict?.changes, undefined);
    assert.equal(verdict?.evidence.needs_policy, 'hw_disk_bus');
  });

  it('the policy supplies what stackdoctor cannot guess, and wants properties no other check owns', () => {
    const policy = loadImagePolicy(
      'images:\n  - match: { name: "gold*" }\n    properties:\n      hw_qemu_guest_agent: "yes"\n      hw_disk_bus: virtio\n',
      'site.yaml',
    );
    const verdict = inspectPropertyValues(viewImage(image({ hw_qemu_guest_agent: 'qga' }), policy));
    assert.deepEqual(verdict?.changes, { hw_qemu_guest_agent: 'yes' });
    assert.match(verdict?.problems[0]?.message ?? '', /policy site\.yaml:2 wants hw_qemu_guest_agent=yes/);
    // hw_disk_bus wishes are image/scsi-bus's to apply; an invalid value is still judged here, fixed from the policy
    assert.equal(inspectPropertyValues(viewImage(image({ hw_qemu_guest_agent: 'yes' }), policy)), null);
    const xen = inspectPropertyValues(
      viewImage(image({ hw_qemu_guest_agent: 'yes', hw_disk_bus: 'xen' }), policy),
    );
    assert.deepEqual(xen?.changes, { hw_disk_bus: 'virtio' });
  });
});
