import type { Logger } from '../core/logger.js';
import { resolveCloudConfig } from '../openstack/config.js';
import { openSession } from '../openstack/session.js';
import type { CloudSession } from '../openstack/types.js';
import type { CliEnvironment } from './environment.js';
import type { CommonOptions } from './options.js';

export async function connectCloud(
  options: CommonOptions,
  environment: CliEnvironment,
  log: Logger,
): Promise<CloudSession> {
  const config = await resolveCloudConfig({
    cloudName: options.osCloud,
    regionName: options.osRegionName,
    interface: options.osInterface,
    cacert: options.osCacert,
    insecure: options.insecure,
    env: environment.env,
    cwd: environment.cwd,
    homeDir: environment.homeDir,
  });
  return openSession(config, { log });
}
