import type { Check } from '../../core/check.js';
import type { Json } from '../../core/json.js';
import { findSkipReason } from '../../core/runner.js';
import type { CloudSession, ServiceType } from '../../openstack/types.js';
import { type RenderOptions, renderRecord } from '../../reporters/format.js';

const knownServices: readonly ServiceType[] = [
  'identity',
  'compute',
  'placement',
  'image',
  'network',
  'workflowv2',
];

/** Who we are on this cloud (never the token), what it offers, and which checks can run there. */
export async function describeCloud(
  cloud: CloudSession,
  checks: readonly Check[],
  render: RenderOptions,
): Promise<string> {
  const { identity } = cloud;
  const services: Record<string, Json> = {};
  for (const service of knownServices) {
    if (!cloud.hasService(service)) {
      services[service] = 'not in catalog';
      continue;
    }
    const endpoint = cloud.endpoint(service);
    const info = await cloud.versionInfo(service).catch((error: unknown) => ({ error: String(error) }));
    services[service] =
      'error' in info
        ? `${endpoint.url} (discovery failed: ${info.error})`
        : `${endpoint.url} (${endpoint.interface}) version ${info.version ?? '?'}` +
          (info.maxMicroversion
            ? `, microversions ${info.minMicroversion ?? '?'}–${info.maxMicroversion}`
            : '');
  }
  const runnable: string[] = [];
  const skipped: string[] = [];
  for (const check of checks) {
    const reason = await findSkipReason(check, cloud).catch((error: unknown) => String(error));
    if (reason === undefined) runnable.push(check.meta.id);
    else skipped.push(`${check.meta.id}: ${reason}`);
  }
  return renderRecord(
    {
      cloud: cloud.cloudName,
      region: cloud.region ?? null,
      user: `${identity.userName ?? identity.userId} (${identity.userId})`,
      project: identity.projectId ? `${identity.projectName ?? ''} (${identity.projectId})` : null,
      roles: identity.roles,
      admin: identity.isAdmin,
      auth_method: identity.method,
      token_expires: identity.expiresAt,
      ...services,
      checks_runnable: runnable,
      checks_skipped: skipped,
    },
    render,
  );
}
