import type { Check } from '../core/check.js';
import computeServiceVersions from './compute/service-versions.js';
import imageOsType from './image/os-type.js';
import placementOrphanedAllocations from './placement/orphaned-allocations.js';

/** The catalogue. A check that is not listed here does not exist; the catalogue test enforces it. */
export const allChecks: readonly Check[] = [computeServiceVersions, imageOsType, placementOrphanedAllocations];
