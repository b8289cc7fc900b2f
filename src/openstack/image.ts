import { z } from 'zod';
import type { JsonObject } from '../core/json.js';
import type { CloudSession } from './types.js';

/** Glance's largest page (`api_limit_max` default); one sweep of 10,000 images is 10 calls. */
const maxPageSize = 1000;

export const imageSchema = z
  .object({
    id: z.string(),
    name: z.string().nullable().optional(),
    status: z.string(),
    visibility: z.string().optional(),
    protected: z.boolean().optional(),
    os_hidden: z.boolean().optional(),
    owner: z.string().nullable().optional(),
    disk_format: z.string().nullable().optional(),
    container_format: z.string().nullable().optional(),
    size: z.number().nullable().optional(),
    virtual_size: z.number().nullable().optional(),
    checksum: z.string().nullable().optional(),
    os_hash_algo: z.string().nullable().optional(),
    os_hash_value: z.string().nullable().optional(),
    min_disk: z.number().optional(),
    min_ram: z.number().optional(),
    tags: z.array(z.string()).optional(),
    created_at: z.string().optional(),
    updated_at: z.string().optional(),
  })
  .catchall(z.unknown());
export type Image = z.infer<typeof imageSchema>;

/** Glance keys that are not extra properties (read-only or structural). */
const baseImageKeys = new Set([
  'id', 'name', 'status', 'visibility', 'protected', 'os_hidden', 'owner', 'disk_format', 'container_format',
  'size', 'virtual_size', 'checksum', 'os_hash_algo', 'os_hash_value', 'min_disk', 'min_ram', 'tags',
  'created_at', 'updated_at', 'self', 'file', 'schema', 'direct_url', 'locations', 'stores',
]);

/** Extra properties (`hw_disk_bus`, `os_type`, …): top-level keys whose values Glance keeps as strings. */
export function extraProperties(image: Image): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const [key, value] of Object.entries(image)) {
    if (!baseImageKeys.has(key) && typeof value === 'string') properties[key] = value;
  }
  return properties;
}

export interface ImageFilters {
  ids?: readonly string[];
  owner?: string;
  status?: string;
}

/**
 * Every image the caller can see, once: all visibilities (community included) and, in a second pass,
 * hidden images, which Glance leaves out of listings unless asked for `os_hidden=true`.
 */
export async function* listAllImages(cloud: CloudSession, filters: ImageFilters = {}): AsyncIterable<Image> {
  const query = {
    visibility: 'all',
    ...(filters.owner === undefined ? {} : { owner: filters.owner }),
    ...(filters.status === undefined ? {} : { status: filters.status }),
    ...(filters.ids === undefined ? {} : { id: `in:${filters.ids.join(',')}` }),
  };
  for (const hidden of [false, true]) {
    yield* cloud.paginate('image', {
      path: '/v2/images',
      query: { ...query, os_hidden: hidden },
      itemsKey: 'images',
      paging: { kind: 'next', nextKey: 'next' },
      itemSchema: imageSchema,
      pageSize: maxPageSize,
    });
  }
}

/** The image, or null when it no longer exists. */
export async function getImage(cloud: CloudSession, id: string): Promise<Image | null> {
  const response = await cloud.request('image', {
    path: `/v2/images/${encodeURIComponent(id)}`,
    schema: imageSchema,
    acceptStatus: [200, 404],
  });
  return response.status === 404 ? null : response.body;
}

export const jsonPatchContentType = 'application/openstack-images-v2.1-json-patch';

export type ImagePatchOperation =
  | { op: 'add' | 'replace'; path: string; value: string }
  | { op: 'remove'; path: string };

export function imagePath(id: string): string {
  return `/v2/images/${encodeURIComponent(id)}`;
}

/** The metadata of an image as plain JSON, for the journal. */
export function imageMetadata(image: Image): JsonObject {
  const metadata: JsonObject = {};
  for (const [key, value] of Object.entries(image)) {
    if (value === undefined) continue;
    metadata[key] = JSON.parse(JSON.stringify(value));
  }
  return metadata;
}
