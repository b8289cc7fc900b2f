/**
 * What Nova (libvirt driver on KVM/QEMU, the kolla/OSISM case) makes of image properties — reference §6.6,
 * from nova/objects/image_meta.py, nova/objects/fields.py and nova/virt/libvirt/blockinfo.py.
 */

// oslo_utils.strutils.bool_from_string: the value is stripped and lower-cased first.
const trueStrings = new Set(['1', 't', 'true', 'on', 'y', 'yes']);
const falseStrings = new Set(['0', 'f', 'false', 'off', 'n', 'no']);

export type NovaBoolean =
  | { kind: 'true' | 'false' }
  | { kind: 'invalid'; intended: 'true' | 'false' | undefined };

/**
 * How Nova reads a boolean property. Anything outside the two word lists is silently false; `intended`
 * is what the operator most likely meant by it, when that can be told.
 */
export function parseNovaBoolean(value: string): NovaBoolean {
  const lowered = value.trim().toLowerCase();
  if (trueStrings.has(lowered)) return { kind: 'true' };
  if (falseStrings.has(lowered)) return { kind: 'false' };
  if (/^(enabled?|active|required|always)$/.test(lowered)) return { kind: 'invalid', intended: 'true' };
  if (/^(disabled?|inactive|never|none)$/.test(lowered)) return { kind: 'invalid', intended: 'false' };
  return { kind: 'invalid', intended: undefined };
}

export const booleanProperties = [
  'hw_vif_multiqueue_enabled',
  'hw_qemu_guest_agent',
  'img_hide_hypervisor_id',
  'hw_pmu',
  'hw_boot_menu',
  'hw_time_hpet',
  'hw_mem_encryption',
  'hw_virtio_packed_ring',
] as const;

/** Disk buses Nova's enum accepts; anything else fails the boot request with 400. */
export const novaDiskBuses = ['fdc', 'ide', 'sata', 'scsi', 'usb', 'virtio', 'xen', 'lxc', 'uml'] as const;
/** The subset the libvirt driver accepts for kvm/qemu guests; the rest raise UnsupportedHardware at spawn. */
export const kvmDiskBuses = ['virtio', 'scsi', 'ide', 'usb', 'fdc', 'sata'] as const;

/** Enum-typed properties: any value outside the list makes Nova answer 400 "Invalid image metadata". */
export const enumProperties: Readonly<Record<string, readonly string[]>> = {
  hw_disk_bus: novaDiskBuses,
  hw_cdrom_bus: novaDiskBuses,
  hw_scsi_model: ['buslogic', 'ibmvscsi', 'lsilogic', 'lsisas1068', 'lsisas1078', 'virtio-scsi', 'vmpvscsi'],
  hw_vif_model: [
    'virtio',
    'ne2k_pci',
    'pcnet',
    'rtl8139',
    'e1000',
    'e1000e',
    'netfront',
    'spapr-vlan',
    'lan9118',
    'sriov',
    'vmxnet',
    'vmxnet3',
  ],
  hw_video_model: ['vga', 'cirrus', 'vmvga', 'xen', 'qxl', 'virtio', 'gop', 'none', 'bochs'],
  hw_firmware_type: ['bios', 'uefi'],
  hw_watchdog_action: ['disabled', 'reset', 'poweroff', 'pause', 'none'],
  hw_pointer_model: ['usbtablet'],
  hw_rng_model: ['virtio'],
  os_type: ['linux', 'windows'],
};

/** Properties whose valid values depend on the hypervisor: the KVM subset of the enum. */
export const kvmRestricted: Readonly<Record<string, readonly string[]>> = {
  hw_disk_bus: kvmDiskBuses,
  hw_cdrom_bus: kvmDiskBuses,
};
