import type { CheckContext, HostProvider } from '../core/check.js';
import type { Logger } from '../core/logger.js';
import type { CloudSession } from '../openstack/types.js';

export function createCheckContext(
  cloud: CloudSession,
  parameters: Readonly<Record<string, string>>,
  log: Logger,
  signal: AbortSignal,
  stateDirectory?: string,
  hosts?: HostProvider,
): CheckContext {
  return { cloud, parameters, log, signal, now: () => new Date(), stateDirectory, hosts };
}
