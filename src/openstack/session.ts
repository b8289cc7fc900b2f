import type { ZodType } from 'zod';
import { type Logger, silentLogger } from '../core/logger.js';
import { selectEndpoint } from './catalog.js';
import type { ResolvedCloudConfig } from './config.js';
import { discoveryUrl, serviceBaseUrl, versionDocumentSchema, versionInfoFromDocument } from './discovery.js';
import {
  AuthError,
  ConnectionError,
  classifyNetworkError,
  describeSchemaIssue,
  HttpError,
  oneLine,
  parseServerMessage,
  ResponseSchemaError,
  reasonPhrase,
  ServiceNotFoundError,
  TlsError,
} from './errors.js';
import {
  buildTokenRequest,
  type CatalogEntry,
  describeCredentials,
  identityFromToken,
  identityV3Url,
  tokenResponseSchema,
} from './keystone.js';
import { paginatePages, type Query } from './paging.js';
import { Redactor } from './redact.js';
import { createTlsDispatcher, type TlsDispatcher } from './tls.js';
import type {
  ApiResponse,
  AuthenticatedIdentity,
  CloudSession,
  EndpointInfo,
  HttpMethod,
  PaginateOptions,
  RequestOptions,
  ServiceType,
  ServiceVersionInfo,
  StreamRequestOptions,
} from './types.js';

export interface SessionDeps {
  fetch?: typeof fetch;
  log?: Logger;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  /** Per-request timeout; wins over the cloud's api_timeout. */
  timeoutMs?: number;
  /** Extra attempts for GET/HEAD after a connection error, 429 or 5xx. */
  maxRetries?: number;
  /** Source of jitter in [0, 1); tests pin it. */
  random?: () => number;
}

const defaultTimeoutMs = 60_000;
const defaultMaxRetries = 3;
const backoffBaseMs = 500;
const backoffCapMs = 10_000;
/** A Retry-After longer than this is not waited for: the error is reported instead of stalling a run. */
const maxRetryAfterMs = 60_000;
/** Re-authenticate this long before the token expires rather than collect a 401 mid-run. */
const tokenRefreshMarginMs = 60_000;
const userAgent = 'stackdoctor';

/** Authenticates against Keystone (or accepts a token-less configuration) and returns the session. */
export async function openSession(
  config: ResolvedCloudConfig,
  deps: SessionDeps = {},
): Promise<CloudSession> {
  const log = deps.log ?? silentLogger;
  for (const warning of config.warnings) log.warn(warning);
  const tls = await createTlsDispatcher(config.tls);
  const session = new OpenStackSession(config, deps, tls);
  try {
    await session.authenticate();
  } catch (error) {
    await session.close();
    throw error;
  }
  return session;
}

type Body = string | Uint8Array | ReadableStream<Uint8Array>;

interface SendSpec {
  service: string;
  method: HttpMethod;
  url: string;
  headers: Record<string, string>;
  body?: Body;
  /** undefined: no timeout (uploads, whose duration depends on their size). */
  timeoutMs: number | undefined;
  /** Send X-Auth-Token, and re-authenticate once on a 401. */
  authenticated: boolean;
  /** The body can be sent again (not a stream that is already consumed). */
  replayable: boolean;
}

interface Sent {
  response: Response;
  /** Stops the timeout timer; call once the body is read (or handed to the caller). */
  release(): void;
  /** The timeout that fired while the body was read, if one did. */
  timedOut(): { ms: number } | undefined;
}

interface TokenState {
  value: string | undefined;
  expiresAt: number | undefined;
  identity: AuthenticatedIdentity;
  catalog: CatalogEntry[];
}

class OpenStackSession implements CloudSession {
  readonly cloudName: string;
  readonly region: string | undefined;
  readonly #config: ResolvedCloudConfig;
  readonly #fetch: typeof fetch;
  readonly #log: Logger;
  readonly #now: () => Date;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  readonly #tls: TlsDispatcher | undefined;
  readonly #redactor: Redactor;
  readonly #discovery = new Map<ServiceType, Promise<ServiceVersionInfo>>();
  #token: TokenState | undefined;
  #authenticating: Promise<void> | undefined;

  constructor(config: ResolvedCloudConfig, deps: SessionDeps, tls: TlsDispatcher | undefined) {
    this.cloudName = config.cloudName;
    this.region = config.regionName;
    this.#config = config;
    this.#fetch = deps.fetch ?? ((input, init) => fetch(input, init));
    this.#log = deps.log ?? silentLogger;
    this.#now = deps.now ?? (() => new Date());
    this.#sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = deps.random ?? Math.random;
    this.#timeoutMs = deps.timeoutMs ?? config.timeoutMs ?? defaultTimeoutMs;
    this.#maxRetries = deps.maxRetries ?? defaultMaxRetries;
    this.#tls = tls;
    const { auth } = config;
    this.#redactor = new Redactor([
      auth.type === 'password' ? auth.password : undefined,
      auth.type === 'application-credential' ? auth.secret : undefined,
      auth.type === 'token' || auth.type === 'admin-token' ? auth.token : undefined,
    ]);
  }

  get identity(): AuthenticatedIdentity {
    if (this.#token === undefined) throw new Error('session used before authentication');
    return this.#token.identity;
  }

  // -------------------------------------------------------------------------------------------
  // Authentication

  async authenticate(): Promise<void> {
    const { auth } = this.#config;
    if (auth.type === 'admin-token' || auth.type === 'none') {
      this.#token = {
        value: auth.type === 'admin-token' ? auth.token : undefined,
        expiresAt: undefined,
        // Nothing to ask Keystone: the operator vouches for the token. Checks that need admin will run
        // and the API answers 403 if that was wrong.
        identity: {
          userId: '',
          userName: undefined,
          userDomain: undefined,
          projectId: undefined,
          projectName: undefined,
          projectDomain: undefined,
          roles: [],
          isAdmin: auth.type === 'admin-token',
          method: auth.type === 'admin-token' ? 'admin_token' : 'none',
          expiresAt: '',
        },
        catalog: [],
      };
      return;
    }

    const url = `${identityV3Url(auth.authUrl)}/auth/tokens`;
    const sent = await this.#send({
      service: 'identity',
      method: 'POST',
      url,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'User-Agent': userAgent },
      body: JSON.stringify(buildTokenRequest(auth)),
      timeoutMs: this.#timeoutMs,
      authenticated: false,
      replayable: true,
    });
    const text = await this.#readText(sent, 'identity', 'POST', url);
    const { response } = sent;
    if (response.status !== 201 && response.status !== 200) throw this.#authFailure(response, text, url);

    const subjectToken = response.headers.get('x-subject-token');
    if (subjectToken === null || subjectToken === '') {
      throw new AuthError(`Keystone at ${this.#redactor.url(url)} issued no X-Subject-Token header`, {
        url: this.#redactor.url(url),
        status: response.status,
        requestId: requestIdOf(response),
        hint: 'a proxy in front of Keystone may strip the header',
      });
    }
    this.#redactor.addSecret(subjectToken);
    const body = this.#parseJson('identity', 'POST', '/v3/auth/tokens', text, response);
    const parsed = tokenResponseSchema.safeParse(body);
    if (!parsed.success) {
      throw new ResponseSchemaError({
        service: 'identity',
        method: 'POST',
        path: '/v3/auth/tokens',
        detail: describeSchemaIssue(parsed.error),
      });
    }
    const expiresAt = Date.parse(parsed.data.token.expires_at);
    this.#token = {
      value: subjectToken,
      expiresAt: Number.isNaN(expiresAt) ? undefined : expiresAt,
      identity: identityFromToken(parsed.data),
      catalog: parsed.data.token.catalog ?? [],
    };
    if (this.#token.catalog.length === 0) {
      this.#log.warn(`the token for cloud ${this.cloudName} has no catalog (unscoped token?)`);
    }
  }

  #authFailure(response: Response, text: string, url: string): Error {
    const redactedUrl = this.#redactor.url(url);
    const requestId = requestIdOf(response);
    const { message } = parseServerMessage(text, response.headers.get('content-type'));
    const serverMessage = message === undefined ? '' : `: ${this.#redactor.text(message)}`;
    const suffix = requestId === undefined ? '' : ` (request ${requestId})`;
    if (response.status >= 500) {
      return new HttpError({
        service: 'identity',
        method: 'POST',
        url: redactedUrl,
        status: response.status,
        statusText: response.statusText,
        requestId,
        serverMessage: message === undefined ? undefined : this.#redactor.text(message),
        code: undefined,
        hint: 'Keystone failed while issuing a token; its log has the request id',
      });
    }
    const { auth } = this.#config;
    if (response.status === 401 && response.headers.has('openstack-auth-receipt')) {
      return new AuthError(`Keystone at ${redactedUrl} requires multi-factor authentication${suffix}`, {
        url: redactedUrl,
        status: 401,
        requestId,
        hint: 'multi-factor (TOTP) login is not supported: use an application credential',
      });
    }
    const hint =
      response.status === 404
        ? 'check auth_url: it must point at Keystone, e.g. https://keystone.example:5000/v3'
        : auth.type === 'application-credential'
          ? 'check application_credential_id/_name and _secret; the credential may have expired or been deleted'
          : auth.type === 'token'
            ? 'the token may have expired: get a new one (openstack token issue)'
            : 'check the password (clouds.yaml, secure.yaml or OS_PASSWORD), the user and project names and their domains';
    return new AuthError(
      `Keystone refused ${describeCredentials(auth)} at ${redactedUrl}: ${response.status} ${reasonPhrase(response.status, response.statusText)}${serverMessage}${suffix}`,
      { url: redactedUrl, status: response.status, requestId, hint },
    );
  }

  #canReauthenticate(): boolean {
    const type = this.#config.auth.type;
    return type === 'password' || type === 'application-credential' || type === 'token';
  }

  /** One re-authentication shared by every request that saw the same stale token. */
  async #reauthenticate(staleToken: string | undefined): Promise<void> {
    if (this.#token?.value !== staleToken) return;
    if (this.#authenticating === undefined) {
      this.#log.debug(`re-authenticating to cloud ${this.cloudName}`);
      this.#authenticating = this.authenticate().finally(() => {
        this.#authenticating = undefined;
      });
    }
    await this.#authenticating;
  }

  async #freshToken(): Promise<string | undefined> {
    const token = this.#token;
    if (
      token?.expiresAt !== undefined &&
      this.#canReauthenticate() &&
      this.#now().getTime() >= token.expiresAt - tokenRefreshMarginMs
    ) {
      await this.#reauthenticate(token.value);
    }
    return this.#token?.value;
  }

  // -------------------------------------------------------------------------------------------
  // Catalog and discovery

  endpoint(service: ServiceType): EndpointInfo {
    const config = this.#config;
    const settings = config.services[service];
    const endpointInterface = settings?.interface ?? config.interface;
    const region = settings?.regionName ?? config.regionName;
    const tokenless =
      config.auth.type === 'admin-token' || config.auth.type === 'none' ? config.auth.endpoint : undefined;
    const override = settings?.endpointOverride ?? tokenless;
    if (override !== undefined)
      return { serviceType: service, interface: endpointInterface, region, url: override };
    if (config.auth.type === 'admin-token' || config.auth.type === 'none') {
      throw new ServiceNotFoundError(
        service,
        `no endpoint for ${service}: auth_type ${config.authType} has no catalog`,
        `set ${service}_endpoint_override (or endpoint) in clouds.yaml`,
      );
    }
    const selected = selectEndpoint(this.#token?.catalog ?? [], service, {
      interface: endpointInterface,
      region,
    });
    if (selected instanceof ServiceNotFoundError) {
      // Keystone is where we authenticated even when the catalog does not list it for this interface.
      if (service === 'identity') {
        return { serviceType: service, interface: endpointInterface, region, url: config.auth.authUrl };
      }
      throw selected;
    }
    return {
      serviceType: service,
      interface: selected.interface,
      region: selected.region,
      url: selected.url,
    };
  }

  hasService(service: ServiceType): boolean {
    try {
      this.endpoint(service);
      return true;
    } catch (error) {
      if (error instanceof ServiceNotFoundError) return false;
      throw error;
    }
  }

  versionInfo(service: ServiceType): Promise<ServiceVersionInfo> {
    let cached = this.#discovery.get(service);
    if (cached === undefined) {
      cached = this.#discover(service);
      // A failed discovery is not remembered: the next caller tries again.
      cached.catch(() => this.#discovery.delete(service));
      this.#discovery.set(service, cached);
    }
    return cached;
  }

  async #discover(service: ServiceType): Promise<ServiceVersionInfo> {
    const base = serviceBaseUrl(service, this.endpoint(service).url);
    const urls = [discoveryUrl(service, base)];
    // Glance answers its root with 300 Multiple Choices; `/versions` is the same list with 200.
    if (service === 'image') urls.push(`${base}/versions`);
    let lastError: unknown;
    for (const url of urls) {
      try {
        const response = await this.#exchange(service, 'GET', url, new URL(url).pathname, {
          acceptStatus: service === 'image' ? [200, 300] : undefined,
          schema: versionDocumentSchema,
        });
        const info = versionInfoFromDocument(service, base, response.body);
        if (info !== undefined) return info;
        lastError = new ResponseSchemaError({
          service,
          method: 'GET',
          path: new URL(url).pathname,
          detail: 'the version document lists no version',
        });
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        lastError = error;
      }
    }
    throw lastError;
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  async request<T = unknown>(service: ServiceType, options: RequestOptions<T>): Promise<ApiResponse<T>> {
    const method = options.method ?? 'GET';
    const url = this.#url(service, options.path, options.query);
    return this.#exchange(service, method, url, options.path, options);
  }

  paginate<T>(service: ServiceType, options: PaginateOptions<T>): AsyncIterable<T> {
    return paginatePages(service, options, async (query: Query) => {
      const response = await this.request(service, {
        path: options.path,
        query,
        microversion: options.microversion,
      });
      return response.body;
    });
  }

  async stream(service: ServiceType, options: StreamRequestOptions): Promise<Response> {
    const method = options.method ?? 'GET';
    const url = this.#url(service, options.path, options.query);
    const headers = this.#headers(service, options);
    headers.Accept = options.headers?.Accept ?? '*/*';
    if (options.body !== undefined)
      headers['Content-Type'] = options.contentType ?? 'application/octet-stream';
    if (options.contentLength !== undefined) headers['Content-Length'] = String(options.contentLength);
    const sent = await this.#send({
      service,
      method,
      url,
      headers,
      body: options.body,
      // An upload's duration depends on its size: no overall timeout (undici's idle timeouts still apply).
      timeoutMs: options.body === undefined ? (options.timeoutMs ?? this.#timeoutMs) : undefined,
      authenticated: true,
      replayable: !(options.body instanceof ReadableStream),
    });
    // The timeout guards the wait for the response head; the caller reads the body at its own pace.
    sent.release();
    const { response } = sent;
    if (!isAccepted(response.status, options.acceptStatus)) {
      const text = await this.#readText(sent, service, method, url);
      const error = this.#httpError(service, method, url, response, text);
      if (response.status === 401 && options.body instanceof ReadableStream) {
        // The token expired while the data was on its way; the stream is spent, the session has a new token.
        throw new HttpError({ ...error, hint: 'the token expired during the upload: run the command again' });
      }
      throw error;
    }
    return response;
  }

  async close(): Promise<void> {
    await this.#tls?.close();
  }

  async #exchange<T>(
    service: ServiceType,
    method: HttpMethod,
    url: string,
    path: string,
    options: Pick<
      RequestOptions<T>,
      'body' | 'contentType' | 'microversion' | 'headers' | 'acceptStatus' | 'timeoutMs'
    > & {
      schema?: ZodType<T>;
    },
  ): Promise<ApiResponse<T>> {
    const headers = this.#headers(service, options);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (body !== undefined) headers['Content-Type'] = options.contentType ?? 'application/json';
    const sent = await this.#send({
      service,
      method,
      url,
      headers,
      body,
      timeoutMs: options.timeoutMs ?? this.#timeoutMs,
      authenticated: true,
      replayable: true,
    });
    const text = await this.#readText(sent, service, method, url);
    const { response } = sent;
    if (!isAccepted(response.status, options.acceptStatus))
      throw this.#httpError(service, method, url, response, text);
    const parsed = this.#parseJson(service, method, path, text, response);
    const requestId = requestIdOf(response);
    if (options.schema === undefined) {
      return { status: response.status, headers: response.headers, body: unvalidated<T>(parsed), requestId };
    }
    const result = options.schema.safeParse(parsed);
    if (!result.success) {
      throw new ResponseSchemaError({ service, method, path, detail: describeSchemaIssue(result.error) });
    }
    return { status: response.status, headers: response.headers, body: result.data, requestId };
  }

  #url(service: ServiceType, path: string, query: RequestOptions<unknown>['query']): string {
    const base = serviceBaseUrl(service, this.endpoint(service).url);
    let relative = path.startsWith('/') ? path : `/${path}`;
    // The network base already ends in /v2.0; tolerate callers that write Neutron paths in full.
    if (service === 'network' && relative.startsWith('/v2.0/')) relative = relative.slice('/v2.0'.length);
    const url = new URL(`${base}${relative}`);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      if (typeof value === 'object') for (const item of value) url.searchParams.append(key, item);
      else url.searchParams.append(key, String(value));
    }
    return url.toString();
  }

  #headers(
    service: ServiceType,
    options: { microversion?: string; headers?: Record<string, string> },
  ): Record<string, string> {
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': userAgent };
    if (options.microversion !== undefined) {
      headers['OpenStack-API-Version'] = `${service} ${options.microversion}`;
      // Nova before 2.27 only reads its legacy header; keystoneauth sends both (reference §1.7).
      if (service === 'compute') headers['X-OpenStack-Nova-API-Version'] = options.microversion;
    }
    return { ...headers, ...options.headers };
  }

  /**
   * Sends one logical request: timeouts, retries of idempotent requests with backoff, one
   * re-authentication on 401, debug logging. Returns the final response whatever its status.
   */
  async #send(spec: SendSpec): Promise<Sent> {
    const idempotent = spec.method === 'GET' || spec.method === 'HEAD';
    const redactedUrl = this.#redactor.url(spec.url);
    let attempt = 0;
    let reauthenticated = false;
    for (;;) {
      const headers = { ...spec.headers };
      const token = spec.authenticated ? await this.#freshToken() : undefined;
      if (token !== undefined) headers['X-Auth-Token'] = token;

      const controller = new AbortController();
      let timedOut = false;
      const timer =
        spec.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true;
              controller.abort();
            }, spec.timeoutMs);
      const release = () => clearTimeout(timer);
      const started = performance.now();
      let response: Response;
      try {
        response = await this.#fetch(spec.url, {
          method: spec.method,
          headers,
          body: spec.body,
          signal: controller.signal,
          // Never follow a redirect: the token would go wherever the Location points. A streamed upload
          // uses 'error' instead: with 'manual', fetch keeps a copy of the body for a possible re-send
          // and an image upload would sit in memory whole.
          redirect: spec.body instanceof ReadableStream ? 'error' : 'manual',
          dispatcher: this.#tls?.dispatcher,
          ...(spec.body instanceof ReadableStream ? { duplex: 'half' } : {}),
        });
      } catch (error) {
        release();
        const failure = classifyNetworkError(error, timedOut ? { ms: spec.timeoutMs ?? 0 } : undefined);
        const elapsed = Math.round(performance.now() - started);
        this.#log.debug(`${spec.method} ${redactedUrl} failed after ${elapsed} ms: ${failure.description}`);
        if (idempotent && failure.retryable && spec.replayable && attempt < this.#maxRetries) {
          await this.#sleep(this.#backoff(attempt));
          attempt += 1;
          continue;
        }
        if (failure.category === 'tls')
          throw new TlsError({ service: spec.service, url: redactedUrl, failure });
        throw new ConnectionError({ service: spec.service, method: spec.method, url: redactedUrl, failure });
      }
      const elapsed = Math.round(performance.now() - started);
      const requestId = requestIdOf(response);
      this.#log.debug(
        `${spec.method} ${redactedUrl} -> ${response.status} in ${elapsed} ms${requestId === undefined ? '' : ` (request ${requestId})`}`,
      );

      // A 401 means the request was not executed, so repeating it is safe even for a mutation.
      if (response.status === 401 && spec.authenticated && !reauthenticated && this.#canReauthenticate()) {
        reauthenticated = true;
        if (spec.replayable) {
          await discard(response);
          release();
          await this.#reauthenticate(token);
          continue;
        }
        // A consumed upload stream cannot be sent again: report the 401; the next request has a new token.
        await this.#reauthenticate(token);
        return { response, release, timedOut: () => (timedOut ? { ms: spec.timeoutMs ?? 0 } : undefined) };
      }

      if (idempotent && isRetryableStatus(response.status) && attempt < this.#maxRetries) {
        const delay =
          retryAfterMs(response.headers.get('retry-after'), this.#now()) ?? this.#backoff(attempt);
        if (delay <= maxRetryAfterMs) {
          this.#log.debug(`${spec.method} ${redactedUrl}: ${response.status}, retrying in ${delay} ms`);
          await discard(response);
          release();
          await this.#sleep(delay);
          attempt += 1;
          continue;
        }
      }
      return { response, release, timedOut: () => (timedOut ? { ms: spec.timeoutMs ?? 0 } : undefined) };
    }
  }

  /** Exponential backoff with jitter: half the window fixed, half random, so that clients spread out. */
  #backoff(attempt: number): number {
    const window = Math.min(backoffCapMs, backoffBaseMs * 2 ** attempt);
    return Math.round(window / 2 + this.#random() * (window / 2));
  }

  async #readText(sent: Sent, service: string, method: HttpMethod, url: string): Promise<string> {
    try {
      return await sent.response.text();
    } catch (error) {
      const failure = classifyNetworkError(error, sent.timedOut());
      throw new ConnectionError({ service, method, url: this.#redactor.url(url), failure });
    } finally {
      sent.release();
    }
  }

  #parseJson(service: string, method: HttpMethod, path: string, text: string, response: Response): unknown {
    if (text.trim() === '') return undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      return parsed;
    } catch (error) {
      const contentType = response.headers.get('content-type') ?? 'no content type';
      throw new ResponseSchemaError({
        service,
        method,
        path,
        detail: `body is not JSON (${contentType}): "${this.#redactor.text(oneLine(text, 80))}"`,
        cause: error,
      });
    }
  }

  #httpError(service: string, method: HttpMethod, url: string, response: Response, text: string): HttpError {
    const { message, code } = parseServerMessage(text, response.headers.get('content-type'));
    return new HttpError({
      service,
      method,
      url: this.#redactor.url(url),
      status: response.status,
      statusText: response.statusText,
      requestId: requestIdOf(response),
      serverMessage: message === undefined ? undefined : this.#redactor.text(message),
      code,
      hint: this.#hintFor(service, response),
    });
  }

  #hintFor(service: string, response: Response): string | undefined {
    const { status } = response;
    if (status >= 300 && status < 400) {
      const location = response.headers.get('location');
      return `${service} redirected${location === null ? '' : ` to ${this.#redactor.url(location)}`}; set ${service}_endpoint_override to the final URL`;
    }
    if (status === 401) return `${service} rejected a fresh token: check its [keystone_authtoken] settings`;
    if (status === 403) return 'the credentials lack a role this API needs (most checks need admin)';
    if (status === 406) return `${service} does not support the requested microversion`;
    if (status === 429) return `${service} is rate limiting; try again later`;
    if (status >= 500) return `${service} failed; its log has the request id`;
    return undefined;
  }
}

function isAccepted(status: number, accept: readonly number[] | undefined): boolean {
  return accept === undefined ? status >= 200 && status < 300 : accept.includes(status);
}

function isRetryableStatus(status: number): boolean {
  // 501 Not Implemented will not change on a second try.
  return status === 429 || (status >= 500 && status !== 501);
}

/** `Retry-After` as seconds or as an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(header: string | null, now: Date): number | undefined {
  if (header === null) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now.getTime());
}

function requestIdOf(response: Response): string | undefined {
  return (
    response.headers.get('x-openstack-request-id') ??
    response.headers.get('x-compute-request-id') ??
    response.headers.get('openstack-request-id') ??
    undefined
  );
}

async function discard(response: Response): Promise<void> {
  try {
    await response.arrayBuffer();
  } catch {
    // The body is only drained to free the connection; a broken one is simply dropped.
  }
}

/**
 * Without a schema the caller asked for the parsed JSON as is (T defaults to `unknown`); this is the
 * one place where the unvalidated value is given the caller's type.
 */
function unvalidated<T>(value: unknown): T {
  return value as T;
}
