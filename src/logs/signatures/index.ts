import type { LogSignature } from '../signature.js';
import databaseConnectionFailed from './database-connection-failed.js';
import glanceConversionRefused from './glance-conversion-refused.js';
import glanceFormatMismatch from './glance-format-mismatch.js';
import kvmModuleInUse from './kvm-module-in-use.js';
import mistralActionProviderFailed from './mistral-action-provider-failed.js';
import mistralNoActionProviders from './mistral-no-action-providers.js';
import novaComputeRpcTooOld from './nova-compute-rpc-too-old.js';
import novaImageInspectionRejected from './nova-image-inspection-rejected.js';
import novaLibosinfoUnavailable from './nova-libosinfo-unavailable.js';
import novaOrphanedAllocation from './nova-orphaned-allocation.js';
import novaRpcVersionCap from './nova-rpc-version-cap.js';
import novaRpcVersionSelected from './nova-rpc-version-selected.js';
import novaServiceDeleteConflict from './nova-service-delete-conflict.js';
import novaServiceTooOld from './nova-service-too-old.js';
import novaTooOldCompute from './nova-too-old-compute.js';
import placementAllocationRace from './placement-allocation-race.js';
import placementConsumerGenerationConflict from './placement-consumer-generation-conflict.js';
import rabbitmqUnreachable from './rabbitmq-unreachable.js';

/** The log signature catalogue, in the order findings are reported. */
export const logSignatures: readonly LogSignature[] = [
  novaRpcVersionCap,
  novaRpcVersionSelected,
  novaTooOldCompute,
  novaServiceTooOld,
  novaComputeRpcTooOld,
  novaServiceDeleteConflict,
  novaOrphanedAllocation,
  placementConsumerGenerationConflict,
  placementAllocationRace,
  novaImageInspectionRejected,
  glanceConversionRefused,
  glanceFormatMismatch,
  novaLibosinfoUnavailable,
  mistralNoActionProviders,
  mistralActionProviderFailed,
  kvmModuleInUse,
  rabbitmqUnreachable,
  databaseConnectionFailed,
];
