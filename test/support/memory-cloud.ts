import { StackdoctorError } from '../../src/core/errors.js';
import type { Json, JsonObject } from '../../src/core/json.js';
import { isJsonObject } from '../../src/core/json.js';
import type {
  ApiResponse,
  AuthenticatedIdentity,
  CloudSession,
  EndpointInfo,
  PaginateOptions,
  RequestOptions,
  ServiceType,
  ServiceVersionInfo,
} from '../../src/openstack/types.js';

/**
 * A cloud of JSON documents keyed by path, for unit tests of the engine's decisions (journal order,
 * re-checks, drift, conflicts). It is not OpenStack: every check is also tested against the real local cloud.
 * Supports GET, PUT (replace) and Glance-style JSON-patch PATCH; records every call.
 */
export class MemoryCloud implements CloudSession {
  readonly cloudName = 'memory';
  readonly region = 'RegionOne';
  readonly identity: AuthenticatedIdentity = {
    userId: 'u1',
    userName: 'admin',
    userDomain: 'Default',
    projectId: 'p1',
    projectName: 'admin',
    projectDomain: 'Default',
    roles: ['admin'],
    isAdmin: true,
    method: 'password',
    expiresAt: '2099-01-01T00:00:00Z',
  };
  readonly documents = new Map<string, JsonObject>();
  readonly calls: { method: string; path: string }[] = [];
  /** Makes the next mutation fail with this HTTP status (once). */
  failNextMutationWith: number | undefined;
  /** Runs before each mutation, to simulate someone else changing the resource in between. */
  beforeMutation: ((path: string) => void) | undefined;

  hasService(service: ServiceType): boolean {
    return service === 'image';
  }

  endpoint(service: ServiceType): EndpointInfo {
    return { serviceType: service, interface: 'public', region: this.region, url: `memory://${service}` };
  }

  async versionInfo(): Promise<ServiceVersionInfo> {
    return { version: '2.15', minMicroversion: undefined, maxMicroversion: undefined };
  }

  async request<T = unknown>(service: ServiceType, options: RequestOptions<T>): Promise<ApiResponse<T>> {
    const method = options.method ?? 'GET';
    this.calls.push({ method, path: options.path });
    const document = this.documents.get(options.path);
    if (method !== 'GET') {
      this.beforeMutation?.(options.path);
      if (this.failNextMutationWith !== undefined) {
        const status = this.failNextMutationWith;
        this.failNextMutationWith = undefined;
        throw Object.assign(new StackdoctorError('http', `${service} ${method} ${options.path}: ${status}`), {
          status,
        });
      }
    }
    if (!document) {
      if (options.acceptStatus?.includes(404)) return this.respond(404, {}, options);
      throw Object.assign(new StackdoctorError('http', `${service} ${method} ${options.path}: 404`), {
        status: 404,
      });
    }
    if (method === 'PATCH' && Array.isArray(options.body)) {
      const next: JsonObject = { ...this.documents.get(options.path) };
      for (const operation of options.body) {
        if (!isJsonObject(operation) || typeof operation.path !== 'string') throw new Error('bad patch');
        const key = operation.path.slice(1).replaceAll('~1', '/').replaceAll('~0', '~');
        if (operation.op === 'remove') delete next[key];
        else next[key] = operation.value ?? null;
      }
      this.documents.set(options.path, next);
      return this.respond(200, next, options);
    }
    return this.respond(200, this.documents.get(options.path) ?? {}, options);
  }

  async *paginate<T>(_service: ServiceType, options: PaginateOptions<T>): AsyncIterable<T> {
    for (const [path, document] of this.documents) {
      if (path.startsWith(`${options.path}/`)) yield options.itemSchema.parse(document);
    }
  }

  async stream(): Promise<Response> {
    throw new Error('not supported by MemoryCloud');
  }

  async close(): Promise<void> {}

  private respond<T>(status: number, body: Json, options: RequestOptions<T>): ApiResponse<T> {
    const parsed = options.schema && status < 300 ? options.schema.parse(body) : body;
    return { status, headers: new Headers(), body: parsed as T, requestId: 'req-memory' };
  }
}
