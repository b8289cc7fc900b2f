import { createHash } from 'node:crypto';
import type { JsonObject } from '../../../src/core/json.js';
import { isJsonObject } from '../../../src/core/json.js';
import { HttpError } from '../../../src/openstack/errors.js';
import type {
  ApiResponse,
  AuthenticatedIdentity,
  CloudSession,
  EndpointInfo,
  PaginateOptions,
  RequestOptions,
  ServiceType,
  ServiceVersionInfo,
  StreamRequestOptions,
} from '../../../src/openstack/types.js';

/**
 * Just enough of Glance's image API for the conversion pipeline's decisions: records, members, data in and out,
 * with knobs for the failures a real Glance cannot be made to produce on demand. Every call is recorded.
 */
export class FakeGlance implements CloudSession {
  readonly cloudName = 'fake';
  readonly region = 'RegionOne';
  readonly identity: AuthenticatedIdentity = {
    userId: 'u1',
    userName: 'admin',
    userDomain: 'Default',
    projectId: 'p-admin',
    projectName: 'admin',
    projectDomain: 'Default',
    roles: ['admin'],
    isAdmin: true,
    method: 'password',
    expiresAt: '2099-01-01T00:00:00Z',
  };
  readonly images = new Map<string, JsonObject>();
  readonly data = new Map<string, Uint8Array>();
  readonly members = new Map<string, { member_id: string; status: string }[]>();
  readonly calls: string[] = [];
  /** Answer the data upload with this status and message instead of storing it. */
  refuseUpload: { status: number; message: string } | undefined;
  /** Store this sha512 instead of the real one (Glance recording something other than what it received). */
  storeWrongHash = false;
  /** Members' status can be set by the admin (false: Glance's default policy, only the member can). */
  adminMaySetMemberStatus = false;

  addImage(record: JsonObject, bytes: Uint8Array, hashOf: Uint8Array = bytes): void {
    const id = String(record.id);
    this.images.set(id, {
      status: 'active',
      size: bytes.length,
      checksum: createHash('md5').update(hashOf).digest('hex'),
      os_hash_algo: 'sha512',
      os_hash_value: createHash('sha512').update(hashOf).digest('hex'),
      ...record,
    });
    this.data.set(id, bytes);
  }

  hasService(service: ServiceType): boolean {
    return service === 'image';
  }

  endpoint(service: ServiceType): EndpointInfo {
    return { serviceType: service, interface: 'public', region: this.region, url: `fake://${service}` };
  }

  async versionInfo(): Promise<ServiceVersionInfo> {
    return { version: '2.15', minMicroversion: undefined, maxMicroversion: undefined };
  }

  async request<T = unknown>(_service: ServiceType, options: RequestOptions<T>): Promise<ApiResponse<T>> {
    const method = options.method ?? 'GET';
    this.calls.push(`${method} ${options.path}`);
    const match = /^\/v2\/images(?:\/([^/]+))?(?:\/(members)(?:\/([^/]+))?)?$/.exec(options.path);
    if (!match) return this.fail(404, method, options.path, 'no such path');
    const [, id, members, memberId] = match;
    if (id === undefined) {
      if (method !== 'POST' || !isJsonObject(options.body)) return this.fail(405, method, options.path, '');
      const record: JsonObject = {
        ...options.body,
        status: 'queued',
        size: null,
        checksum: null,
        os_hash_value: null,
      };
      this.images.set(String(record.id), record);
      return this.respond(201, record, options);
    }
    const image = this.images.get(id);
    if (image === undefined) {
      if (options.acceptStatus?.includes(404)) return this.respond(404, {}, options);
      return this.fail(404, method, options.path, 'image not found');
    }
    if (members !== undefined) {
      const list = this.members.get(id) ?? [];
      this.members.set(id, list);
      if (method === 'GET') return this.respond(200, { members: list }, options);
      if (method === 'POST' && isJsonObject(options.body)) {
        const member = { member_id: String(options.body.member), status: 'pending' };
        list.push(member);
        return this.respond(200, member, options);
      }
      if (method === 'PUT' && memberId !== undefined && isJsonObject(options.body)) {
        if (!this.adminMaySetMemberStatus) return this.respond(403, {}, options);
        const member = list.find((entry) => entry.member_id === memberId);
        if (member) member.status = String(options.body.status);
        return this.respond(200, member ?? {}, options);
      }
    }
    if (method === 'GET') return this.respond(200, image, options);
    if (method === 'DELETE') {
      if (image.protected === true) return this.fail(403, method, options.path, 'image is protected');
      this.images.delete(id);
      this.data.delete(id);
      return this.respond(204, {}, options);
    }
    if (method === 'PATCH' && Array.isArray(options.body)) {
      for (const operation of options.body) {
        if (!isJsonObject(operation) || typeof operation.path !== 'string') continue;
        const key = operation.path.slice(1);
        if (operation.op === 'remove') delete image[key];
        else image[key] = operation.value ?? null;
      }
      return this.respond(200, image, options);
    }
    return this.fail(405, method, options.path, '');
  }

  /** Image listings only, split by `os_hidden` as Glance splits them. */
  async *paginate<T>(_service: ServiceType, options: PaginateOptions<T>): AsyncIterable<T> {
    const hidden = options.query?.os_hidden === true;
    for (const image of this.images.values()) {
      if ((image.os_hidden === true) === hidden) yield options.itemSchema.parse(image);
    }
  }

  async stream(_service: ServiceType, options: StreamRequestOptions): Promise<Response> {
    const method = options.method ?? 'GET';
    this.calls.push(`${method} ${options.path}`);
    const id = /^\/v2\/images\/([^/]+)\/file$/.exec(options.path)?.[1] ?? '';
    const image = this.images.get(id);
    if (image === undefined) this.fail(404, method, options.path, 'image not found');
    if (method === 'GET') return new Response(this.data.get(id) ?? null, { status: 200 });
    const chunks: Uint8Array[] = [];
    if (options.body instanceof ReadableStream) {
      for await (const chunk of options.body) chunks.push(chunk);
    } else if (options.body) chunks.push(options.body);
    if (this.refuseUpload)
      this.fail(this.refuseUpload.status, method, options.path, this.refuseUpload.message);
    const bytes = Buffer.concat(chunks);
    this.data.set(id, bytes);
    Object.assign(image!, {
      status: 'active',
      size: bytes.length,
      virtual_size: bytes.length,
      checksum: createHash('md5').update(bytes).digest('hex'),
      os_hash_algo: 'sha512',
      os_hash_value: createHash('sha512')
        .update(this.storeWrongHash ? Buffer.from('something else') : bytes)
        .digest('hex'),
    });
    return new Response(null, { status: 204 });
  }

  async close(): Promise<void> {}

  private fail(status: number, method: string, path: string, message: string): never {
    throw new HttpError({
      service: 'image',
      method,
      url: `fake://image${path}`,
      status,
      requestId: undefined,
      serverMessage: message,
      code: undefined,
    });
  }

  private respond<T>(status: number, body: unknown, options: RequestOptions<T>): ApiResponse<T> {
    const value = options.schema && status < 300 ? options.schema.parse(body) : body;
    // The fake hands back what the caller's schema (or the caller) expects, as a real response body would be.
    return { status, headers: new Headers(), body: value as T, requestId: 'req-fake' };
  }
}
