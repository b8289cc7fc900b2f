import { type EndpointInterface, normaliseInterface, serviceTypeAliases } from './config.js';
import { ServiceNotFoundError } from './errors.js';
import type { CatalogEntry } from './keystone.js';
import type { ServiceType } from './types.js';

/** Endpoint selection in the token's catalog (reference §1.3, §1.6 step 1; keystoneauth service_catalog). */

export interface CatalogQuery {
  interface: EndpointInterface;
  region: string | undefined;
}

export interface SelectedEndpoint {
  catalogType: string;
  interface: EndpointInterface;
  region: string | undefined;
  url: string;
}

/** Picks the endpoint of a service by type (or alias), interface and region; the first match wins. */
export function selectEndpoint(
  catalog: readonly CatalogEntry[],
  service: ServiceType,
  query: CatalogQuery,
): SelectedEndpoint | ServiceNotFoundError {
  const types = serviceTypeAliases[service];
  const entries = catalog.filter((entry) => types.includes(entry.type));
  if (entries.length === 0) {
    const present = [...new Set(catalog.map((entry) => entry.type))].sort();
    return new ServiceNotFoundError(
      service,
      `the catalog has no ${service} service; services present: ${present.length > 0 ? present.join(', ') : 'none'}`,
      present.length === 0
        ? 'an unscoped token has no catalog: set a project (project_name / OS_PROJECT_NAME)'
        : `set ${service.replaceAll('-', '_')}_endpoint_override in clouds.yaml if the service runs outside the catalog`,
    );
  }
  const available: string[] = [];
  for (const entry of entries) {
    for (const endpoint of entry.endpoints) {
      const endpointInterface = normaliseInterface(endpoint.interface);
      const region = endpoint.region_id ?? endpoint.region ?? undefined;
      available.push(`${endpoint.interface}/${region ?? 'no region'}`);
      if (endpointInterface !== query.interface) continue;
      if (query.region !== undefined && region !== query.region && endpoint.region !== query.region) continue;
      return { catalogType: entry.type, interface: endpointInterface, region, url: endpoint.url };
    }
  }
  const wanted = `interface ${query.interface}${query.region === undefined ? '' : ` in region ${query.region}`}`;
  return new ServiceNotFoundError(
    service,
    `the catalog has ${service} but no endpoint for ${wanted}; it has ${[...new Set(available)].join(', ')}`,
    'choose another --os-interface / --os-region-name (or <service>_interface / <service>_region_name)',
  );
}
