import type { ZodType } from 'zod';
import type { Json } from '../core/json.js';

/** Service types as they appear in the Keystone catalog. */
export type ServiceType = 'identity' | 'compute' | 'placement' | 'image' | 'network' | 'workflowv2';

/** Services whose API takes a microversion header. */
export type MicroversionedService = 'compute' | 'placement';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestOptions<T> {
  method?: HttpMethod;
  /** Path relative to the service's versioned endpoint, e.g. `/servers/detail` (compute) or `/v2/images` (image). */
  path: string;
  query?: Record<string, string | number | boolean | undefined | readonly string[]>;
  body?: Json;
  /** Defaults to application/json when a body is given. */
  contentType?: string;
  microversion?: string;
  headers?: Record<string, string>;
  /** Response body schema; responses that do not match raise a ResponseSchemaError. */
  schema?: ZodType<T>;
  /** Statuses that are not errors (default: any 2xx). */
  acceptStatus?: readonly number[];
  timeoutMs?: number;
}

export interface StreamRequestOptions extends Omit<RequestOptions<unknown>, 'schema' | 'body'> {
  body?: ReadableStream<Uint8Array> | Uint8Array;
  contentLength?: number;
}

export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  body: T;
  requestId: string | undefined;
}

/** How a list API pages: Nova's `*_links` rel=next, Glance's `next`, or not at all (Placement). */
export type PagingStrategy =
  | { kind: 'links'; linksKey: string }
  | { kind: 'next'; nextKey: string }
  | { kind: 'none' };

export interface PaginateOptions<T> {
  path: string;
  query?: RequestOptions<unknown>['query'];
  microversion?: string;
  /** Key of the array of items in each page, e.g. `servers`. */
  itemsKey: string;
  paging: PagingStrategy;
  /** Schema of one item. */
  itemSchema: ZodType<T>;
  pageSize?: number;
}

export interface AuthenticatedIdentity {
  userId: string;
  userName: string | undefined;
  userDomain: string | undefined;
  projectId: string | undefined;
  projectName: string | undefined;
  projectDomain: string | undefined;
  roles: string[];
  /** `admin` role on the scope: the checks that need it are skipped otherwise. */
  isAdmin: boolean;
  method: string;
  expiresAt: string;
}

export interface EndpointInfo {
  serviceType: ServiceType;
  interface: string;
  region: string | undefined;
  url: string;
}

export interface ServiceVersionInfo {
  /** The API version in use, e.g. `2.1`, `1.0`, `2.15`. */
  version: string | undefined;
  /** Microversion range; undefined for services without microversions. */
  minMicroversion: string | undefined;
  maxMicroversion: string | undefined;
}

/**
 * An authenticated connection to one cloud and region. Checks reach the APIs only through this:
 * auth, catalog, discovery, microversions, paging, retries and redaction are handled here once.
 */
export interface CloudSession {
  readonly cloudName: string;
  readonly region: string | undefined;
  readonly identity: AuthenticatedIdentity;
  hasService(service: ServiceType): boolean;
  endpoint(service: ServiceType): EndpointInfo;
  versionInfo(service: ServiceType): Promise<ServiceVersionInfo>;
  request<T = unknown>(service: ServiceType, options: RequestOptions<T>): Promise<ApiResponse<T>>;
  paginate<T>(service: ServiceType, options: PaginateOptions<T>): AsyncIterable<T>;
  /**
   * A request whose body is streamed in and/or out (image data). The caller consumes the response body.
   * Only GET/HEAD are retried, like every other request.
   */
  stream(service: ServiceType, options: StreamRequestOptions): Promise<Response>;
  close(): Promise<void>;
}
