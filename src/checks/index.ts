import type { Check } from '../core/check.js';
import computeServiceVersions from './compute/service-versions.js';
import hostNestedVirtualisation from './host/nested-virtualisation.js';
import imageMultiqueue from './image/multiqueue.js';
import imageOsDistro from './image/os-distro.js';
import imageOsType from './image/os-type.js';
import imagePropertyValues from './image/property-values.js';
import imageQcow2Convert from './image/qcow2-convert.js';
import imageQcow2Format from './image/qcow2-format.js';
import imageScsiBus from './image/scsi-bus.js';
import placementOrphanedAllocations from './placement/orphaned-allocations.js';
import workflowEmptyActionList from './workflow/empty-action-list.js';

/** The catalogue. A check that is not listed here does not exist; the catalogue test enforces it. */
export const allChecks: readonly Check[] = [
  computeServiceVersions,
  imageOsType,
  placementOrphanedAllocations,
  imageMultiqueue,
  imageOsDistro,
  imagePropertyValues,
  imageQcow2Format,
  imageQcow2Convert,
  imageScsiBus,
  hostNestedVirtualisation,
  workflowEmptyActionList,
];
