import { z } from 'zod';
import type { CloudSession } from './types.js';

/**
 * Placement. 1.14: nested providers (root/parent uuids). 1.28: consumer generations, and a PUT with empty
 * allocations is the safe delete. Allocation writes stay below 1.38, where `consumer_type` becomes mandatory
 * and Nova's consumers (type unknown) could not be written back as they were (openstack-reference §2.4).
 */
export const placementMicroversions = { providers: '1.14', allocations: '1.28' } as const;

export const resourceProviderSchema = z.object({
  uuid: z.string(),
  name: z.string(),
  generation: z.number(),
  parent_provider_uuid: z.string().nullable().optional(),
  root_provider_uuid: z.string().optional(),
});
export type ResourceProvider = z.infer<typeof resourceProviderSchema>;

/** Placement does not page: one call returns every provider. */
export async function listResourceProviders(cloud: CloudSession): Promise<ResourceProvider[]> {
  const response = await cloud.request('placement', {
    path: '/resource_providers',
    microversion: placementMicroversions.providers,
    schema: z.object({ resource_providers: z.array(resourceProviderSchema) }),
  });
  return response.body.resource_providers;
}

const resourcesSchema = z.record(z.string(), z.number());

export const providerAllocationsSchema = z.object({
  resource_provider_generation: z.number(),
  allocations: z.record(
    z.string(),
    z.object({ resources: resourcesSchema, consumer_generation: z.number().nullable().optional() }),
  ),
});
export type ProviderAllocations = z.infer<typeof providerAllocationsSchema>;

/** The provider's allocations keyed by consumer, or null when the provider is gone. */
export async function getProviderAllocations(
  cloud: CloudSession,
  providerUuid: string,
): Promise<ProviderAllocations | null> {
  const response = await cloud.request('placement', {
    path: `/resource_providers/${encodeURIComponent(providerUuid)}/allocations`,
    microversion: placementMicroversions.allocations,
    acceptStatus: [200, 404],
  });
  return response.status === 404 ? null : providerAllocationsSchema.parse(response.body);
}

export const consumerAllocationsSchema = z.object({
  allocations: z.record(
    z.string(),
    z.object({ generation: z.number().optional(), resources: resourcesSchema }),
  ),
  // An unknown consumer answers `{"allocations": {}}` with none of the keys below.
  project_id: z.string().optional(),
  user_id: z.string().optional(),
  consumer_generation: z.number().nullable().optional(),
});
export type ConsumerAllocations = z.infer<typeof consumerAllocationsSchema>;

export async function getConsumerAllocations(
  cloud: CloudSession,
  consumerUuid: string,
): Promise<ConsumerAllocations> {
  const response = await cloud.request('placement', {
    path: `/allocations/${encodeURIComponent(consumerUuid)}`,
    microversion: placementMicroversions.allocations,
    schema: consumerAllocationsSchema,
  });
  return response.body;
}

/** 1.18: `required=` filters providers by trait, so one call lists e.g. every `COMPUTE_NODE` provider. */
export async function listResourceProvidersWithTrait(
  cloud: CloudSession,
  trait: string,
): Promise<ResourceProvider[]> {
  const response = await cloud.request('placement', {
    path: '/resource_providers',
    query: { required: trait },
    microversion: '1.18',
    schema: z.object({ resource_providers: z.array(resourceProviderSchema) }),
  });
  return response.body.resource_providers;
}

export type ResourceAmounts = Record<string, number>;

/** The body of `PUT /allocations/{consumer}` at 1.28–1.37; `consumer_generation: null` creates the consumer. */
export interface ConsumerAllocationsWrite {
  allocations: Record<string, { resources: ResourceAmounts }>;
  project_id: string;
  user_id: string;
  consumer_generation: number | null;
}

/**
 * Replaces all of a consumer's allocations, guarded by its generation (409 `placement.concurrent_update` when
 * someone changed it since it was read). An empty `allocations` is Placement's safe delete.
 */
export async function replaceConsumerAllocations(
  cloud: CloudSession,
  consumerUuid: string,
  body: ConsumerAllocationsWrite,
): Promise<void> {
  await cloud.request('placement', {
    method: 'PUT',
    path: `/allocations/${encodeURIComponent(consumerUuid)}`,
    microversion: placementMicroversions.allocations,
    body: {
      allocations: Object.fromEntries(
        Object.entries(body.allocations).map(([provider, { resources }]) => [
          provider,
          { resources: { ...resources } },
        ]),
      ),
      project_id: body.project_id,
      user_id: body.user_id,
      consumer_generation: body.consumer_generation,
    },
  });
}
