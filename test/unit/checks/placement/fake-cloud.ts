import type { Json } from '../../../../src/core/json.js';
import type { Migration, Server } from '../../../../src/openstack/compute.js';
import { HttpError } from '../../../../src/openstack/errors.js';
import type {
  ApiResponse,
  AuthenticatedIdentity,
  CloudSession,
  EndpointInfo,
  PaginateOptions,
  RequestOptions,
  ServiceType,
  ServiceVersionInfo,
} from '../../../../src/openstack/types.js';

/**
 * Placement's allocation semantics (consumer generations, safe delete, capacity) and the Nova reads the check
 * makes, in memory. The rules mirror openstack-reference §2.4; the real behaviour is covered by the
 * integration tests against the local cloud.
 */

export interface FakeProvider {
  uuid: string;
  name: string;
  root?: string;
  traits?: string[];
  /** Per resource class; absent classes are unlimited. */
  capacity?: Record<string, number>;
}

export interface FakeConsumer {
  project: string;
  user: string;
  generation: number;
  allocations: Record<string, Record<string, number>>;
}

export class FakeNovaPlacement implements CloudSession {
  readonly cloudName = 'fake';
  readonly region = 'RegionOne';
  readonly identity: AuthenticatedIdentity = {
    userId: 'admin-user',
    userName: 'admin',
    userDomain: 'Default',
    projectId: 'admin-project',
    projectName: 'admin',
    projectDomain: 'Default',
    roles: ['admin'],
    isAdmin: true,
    method: 'password',
    expiresAt: '2099-01-01T00:00:00Z',
  };
  readonly providers = new Map<string, FakeProvider & { generation: number }>();
  readonly consumers = new Map<string, FakeConsumer>();
  servers: Server[] = [];
  migrations: Migration[] = [];
  /** Compute nodes Nova lists: provider uuid → node/host. */
  hypervisors: { id: string; hypervisor_hostname: string; service: { id: string; host: string } }[] = [];
  readonly calls: string[] = [];
  /** Runs before each PUT, to simulate someone else writing in between. */
  beforePut: ((consumer: string) => void) | undefined;

  addProvider(provider: FakeProvider, node?: { node: string; host: string }): void {
    this.providers.set(provider.uuid, { ...provider, generation: 0 });
    if (node) {
      this.hypervisors.push({
        id: provider.uuid,
        hypervisor_hostname: node.node,
        service: { id: `svc-${node.host}`, host: node.host },
      });
    }
  }

  /** Sets a consumer's allocations as Placement would after a successful PUT. */
  allocate(
    consumer: string,
    allocations: Record<string, Record<string, number>>,
    project = 'p1',
    user = 'u1',
  ): void {
    const existing = this.consumers.get(consumer);
    this.consumers.set(consumer, { project, user, generation: (existing?.generation ?? 0) + 1, allocations });
    for (const provider of Object.keys(allocations)) this.bumpProvider(provider);
  }

  consumerBody(consumer: string): Json {
    const found = this.consumers.get(consumer);
    if (!found) return { allocations: {} };
    return {
      allocations: Object.fromEntries(
        Object.entries(found.allocations).map(([provider, resources]) => [
          provider,
          { generation: this.providers.get(provider)?.generation ?? 0, resources: { ...resources } },
        ]),
      ),
      project_id: found.project,
      user_id: found.user,
      consumer_generation: found.generation,
    };
  }

  private bumpProvider(uuid: string): void {
    const provider = this.providers.get(uuid);
    if (provider) provider.generation++;
  }

  hasService(): boolean {
    return true;
  }

  endpoint(service: ServiceType): EndpointInfo {
    return { serviceType: service, interface: 'public', region: this.region, url: `http://fake/${service}` };
  }

  async versionInfo(service: ServiceType): Promise<ServiceVersionInfo> {
    return service === 'placement'
      ? { version: '1.0', minMicroversion: '1.0', maxMicroversion: '1.39' }
      : { version: '2.1', minMicroversion: '2.1', maxMicroversion: '2.93' };
  }

  async request<T = unknown>(service: ServiceType, options: RequestOptions<T>): Promise<ApiResponse<T>> {
    const method = options.method ?? 'GET';
    this.calls.push(`${method} ${service} ${options.path}`);
    const [status, body] = this.answer(service, method, options);
    const accepted = (status >= 200 && status < 300) || (options.acceptStatus ?? []).includes(status);
    if (!accepted) {
      const error = body as { code?: string; detail?: string };
      throw new HttpError({
        service,
        method,
        url: options.path,
        status,
        requestId: undefined,
        serverMessage: error.detail,
        code: error.code,
      });
    }
    const parsed =
      options.schema && status < 300 && status !== 204 ? options.schema.parse(body) : (body as T);
    return { status, headers: new Headers(), body: parsed, requestId: undefined };
  }

  private answer(service: ServiceType, method: string, options: RequestOptions<unknown>): [number, unknown] {
    const { path } = options;
    if (service === 'placement') {
      if (method === 'GET' && path === '/resource_providers') {
        const required = options.query?.required;
        const list = [...this.providers.values()].filter(
          (provider) => typeof required !== 'string' || (provider.traits ?? []).includes(required),
        );
        return [
          200,
          {
            resource_providers: list.map((provider) => ({
              uuid: provider.uuid,
              name: provider.name,
              generation: provider.generation,
              parent_provider_uuid: provider.root ?? null,
              root_provider_uuid: provider.root ?? provider.uuid,
            })),
          },
        ];
      }
      const byProvider = /^\/resource_providers\/([^/]+)\/allocations$/.exec(path);
      if (method === 'GET' && byProvider) {
        const uuid = decodeURIComponent(byProvider[1]!);
        const provider = this.providers.get(uuid);
        if (!provider) return [404, { detail: 'no such provider' }];
        const allocations: Record<string, Json> = {};
        for (const [consumer, found] of this.consumers) {
          const resources = found.allocations[uuid];
          if (resources)
            allocations[consumer] = { resources: { ...resources }, consumer_generation: found.generation };
        }
        return [200, { resource_provider_generation: provider.generation, allocations }];
      }
      const byConsumer = /^\/allocations\/([^/]+)$/.exec(path);
      if (byConsumer) {
        const consumer = decodeURIComponent(byConsumer[1]!);
        if (method === 'GET') return [200, this.consumerBody(consumer)];
        if (method === 'PUT') return this.put(consumer, options.body);
      }
    }
    if (service === 'compute') {
      const server = /^\/servers\/([^/]+)$/.exec(path);
      if (method === 'GET' && server) {
        const found = this.servers.find((candidate) => candidate.id === decodeURIComponent(server[1]!));
        return found ? [200, { server: found }] : [404, { itemNotFound: { message: 'not found' } }];
      }
    }
    return [404, { detail: `fake: no route for ${method} ${service} ${path}` }];
  }

  private put(consumer: string, body: Json | undefined): [number, unknown] {
    this.beforePut?.(consumer);
    const write = body as {
      allocations: Record<string, { resources: Record<string, number> }>;
      consumer_generation: number | null;
      project_id: string;
      user_id: string;
    };
    const existing = this.consumers.get(consumer);
    const expected = existing ? existing.generation : null;
    if (write.consumer_generation !== expected) {
      return [
        409,
        {
          code: 'placement.concurrent_update',
          detail: `consumer generation conflict - expected ${write.consumer_generation} but got ${expected}`,
        },
      ];
    }
    for (const [provider, { resources }] of Object.entries(write.allocations)) {
      const found = this.providers.get(provider);
      if (!found) return [400, { detail: `no provider ${provider}` }];
      for (const [resourceClass, amount] of Object.entries(resources)) {
        const capacity = found.capacity?.[resourceClass];
        if (capacity === undefined) continue;
        let used = 0;
        for (const [other, held] of this.consumers) {
          if (other !== consumer) used += held.allocations[provider]?.[resourceClass] ?? 0;
        }
        if (used + amount > capacity)
          return [409, { detail: `Unable to allocate inventory: ${resourceClass}` }];
      }
    }
    const touched = new Set([...Object.keys(existing?.allocations ?? {}), ...Object.keys(write.allocations)]);
    for (const provider of touched) this.bumpProvider(provider);
    if (Object.keys(write.allocations).length === 0) {
      this.consumers.delete(consumer);
    } else {
      this.consumers.set(consumer, {
        project: write.project_id,
        user: write.user_id,
        generation: (existing?.generation ?? 0) + 1,
        allocations: Object.fromEntries(
          Object.entries(write.allocations).map(([provider, { resources }]) => [provider, { ...resources }]),
        ),
      });
    }
    return [204, null];
  }

  async *paginate<T>(service: ServiceType, options: PaginateOptions<T>): AsyncIterable<T> {
    this.calls.push(`LIST ${service} ${options.path}`);
    let items: unknown[] = [];
    if (options.path === '/os-hypervisors/detail') items = this.hypervisors;
    else if (options.path === '/servers/detail') items = this.servers;
    else if (options.path === '/os-migrations') {
      const instance = options.query?.instance_uuid;
      items = this.migrations.filter(
        (migration) => instance === undefined || migration.instance_uuid === instance,
      );
    }
    for (const item of items) yield options.itemSchema.parse(item);
  }

  stream(): Promise<Response> {
    throw new Error('fake: no streams');
  }

  async close(): Promise<void> {}
}
