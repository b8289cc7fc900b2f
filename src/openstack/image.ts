import { z } from 'zod';
import type { JsonObject } from '../core/json.js';
import { describeSchemaIssue, ResponseSchemaError } from './errors.js';
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
  'id',
  'name',
  'status',
  'visibility',
  'protected',
  'os_hidden',
  'owner',
  'disk_format',
  'container_format',
  'size',
  'virtual_size',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'min_disk',
  'min_ram',
  'tags',
  'created_at',
  'updated_at',
  'self',
  'file',
  'schema',
  'direct_url',
  'locations',
  'stores',
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
 * One listing pass: all visibilities (community included), either the visible images or the hidden ones,
 * which Glance leaves out of listings unless asked for `os_hidden=true`.
 */
export function listImagePass(
  cloud: CloudSession,
  filters: ImageFilters,
  hidden: boolean,
): AsyncIterable<Image> {
  return cloud.paginate('image', {
    path: '/v2/images',
    query: {
      visibility: 'all',
      ...(filters.owner === undefined ? {} : { owner: filters.owner }),
      ...(filters.status === undefined ? {} : { status: filters.status }),
      ...(filters.ids === undefined ? {} : { id: `in:${filters.ids.join(',')}` }),
      os_hidden: hidden,
    },
    itemsKey: 'images',
    paging: { kind: 'next', nextKey: 'next' },
    itemSchema: imageSchema,
    pageSize: maxPageSize,
  });
}

/** Every image the caller can see, once: the visible pass, then the hidden one. */
export async function* listAllImages(cloud: CloudSession, filters: ImageFilters = {}): AsyncIterable<Image> {
  for (const hidden of [false, true]) yield* listImagePass(cloud, filters, hidden);
}

/** The image, or null when it no longer exists. */
export async function getImage(cloud: CloudSession, id: string): Promise<Image | null> {
  const path = `/v2/images/${encodeURIComponent(id)}`;
  // The schema is applied only to a 200: Glance's 404 body is an error document, not an image.
  const response = await cloud.request('image', { path, acceptStatus: [200, 404] });
  if (response.status === 404) return null;
  const parsed = imageSchema.safeParse(response.body);
  if (!parsed.success) {
    throw new ResponseSchemaError({
      service: 'image',
      method: 'GET',
      path,
      detail: describeSchemaIssue(parsed.error),
    });
  }
  return parsed.data;
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

const storeSchema = z
  .object({ id: z.string(), description: z.string().optional(), type: z.string().optional() })
  .catchall(z.unknown());
const storesSchema = z.object({ stores: z.array(storeSchema) });

export interface ImageStore {
  id: string;
  /** Backend driver (`rbd`, `file`, `swift`, …); only the admin-only detail call says it. */
  type: string | undefined;
  description: string | undefined;
}

/**
 * Glance's stores. The detail call (admin) names each backend's type; the plain one only ids and
 * descriptions; both answer 404 when multi-store (`enabled_backends`) is not configured: then [].
 */
export async function listImageStores(cloud: CloudSession): Promise<ImageStore[]> {
  for (const path of ['/v2/info/stores/detail', '/v2/info/stores']) {
    const response = await cloud.request('image', { path, acceptStatus: [200, 403, 404] });
    if (response.status !== 200) continue;
    const parsed = storesSchema.safeParse(response.body);
    if (!parsed.success) {
      throw new ResponseSchemaError({
        service: 'image',
        method: 'GET',
        path,
        detail: describeSchemaIssue(parsed.error),
      });
    }
    return parsed.data.stores.map((store) => ({
      id: store.id,
      type: store.type,
      description: store.description,
    }));
  }
  return [];
}

const locationsSchema = z.array(z.object({ url: z.string() }).catchall(z.unknown()));

/** Where Glance says the data lives: `stores` ids (multi-store) and location/direct URLs (when shown). */
export function imageDataPlaces(image: Image): { storeIds: string[]; urls: string[] } {
  const storeIds = typeof image.stores === 'string' ? image.stores.split(',').filter((id) => id !== '') : [];
  const urls: string[] = [];
  if (typeof image.direct_url === 'string') urls.push(image.direct_url);
  const locations = locationsSchema.safeParse(image.locations);
  if (locations.success) urls.push(...locations.data.map((location) => location.url));
  return { storeIds, urls };
}

export interface ImageHead {
  /** 206: Glance honoured the Range header; 200: it sent the whole image and we stopped reading. */
  status: number;
  bytes: Uint8Array;
}

/**
 * The first `length` bytes of an image's data, or null when it has none (204). Asks for a byte range; when
 * Glance ignores it (200), reads only what is needed and cancels the rest of the body: an audit must never
 * download whole images.
 */
export async function readImageHead(
  cloud: CloudSession,
  id: string,
  length: number,
): Promise<ImageHead | null> {
  const response = await cloud.stream('image', {
    path: `${imagePath(id)}/file`,
    headers: { Range: `bytes=0-${length - 1}` },
    acceptStatus: [200, 204, 206],
  });
  if (response.status === 204 || response.body === null) {
    await response.body?.cancel();
    return null;
  }
  const reader = response.body.getReader();
  const buffer = new Uint8Array(length);
  let filled = 0;
  try {
    while (filled < length) {
      const { done, value } = await reader.read();
      if (done) break;
      const take = Math.min(value.length, length - filled);
      buffer.set(value.subarray(0, take), filled);
      filled += take;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return { status: response.status, bytes: buffer.subarray(0, filled) };
}
