import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../../src/core/logger.js';
import type { AuthMethod, ResolvedCloudConfig } from '../../../src/openstack/config.js';
import { openSession, type SessionDeps } from '../../../src/openstack/session.js';
import type { CloudSession } from '../../../src/openstack/types.js';

export const fixturesDir = path.join(import.meta.dirname, '..', 'fixtures', 'openstack');

export function readFixture(name: string): string {
  return readFileSync(path.join(fixturesDir, name), 'utf8');
}

export function fixtureJson(name: string): unknown {
  const parsed: unknown = JSON.parse(readFixture(name));
  return parsed;
}

/** Credentials used by the fake cloud; the redaction tests scan every output for them. */
export const secrets = {
  password: 'Pa55-word-never-shown',
  appSecret: 'app-cred-secret-never-shown',
  token1: 'gAAAAA-first-token-never-shown',
  token2: 'gAAAAA-second-token-never-shown',
};

export const authUrl = 'http://keystone.test:5000/v3';

export interface RecordedCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
  rawBody: unknown;
  signal: AbortSignal | undefined;
  init: RequestInit | undefined;
}

export type Handler = (call: RecordedCall) => Response | Promise<Response>;

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

export function connectionError(code: string): TypeError {
  const cause = Object.assign(new Error(`connect ${code} 192.0.2.1:8774`), { code });
  return new TypeError('fetch failed', { cause });
}

/** A fetch that records each call and answers from `handler`. */
export function recordingFetch(handler: Handler): { fetch: typeof fetch; calls: RecordedCall[] } {
  const calls: RecordedCall[] = [];
  const fake = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, key) => {
      headers[key] = value;
    });
    const body = typeof init?.body === 'string' ? init.body : undefined;
    const call: RecordedCall = {
      method: init?.method ?? 'GET',
      url: input instanceof Request ? input.url : String(input),
      headers,
      body,
      rawBody: init?.body,
      signal: init?.signal ?? undefined,
      init,
    };
    calls.push(call);
    return handler(call);
  };
  return { fetch: fake, calls };
}

export function endpoint(url: string, iface = 'public', region = 'RegionOne') {
  return { id: `${iface}-${url}`, interface: iface, region, region_id: region, url };
}

export const standardCatalog = [
  {
    type: 'identity',
    name: 'keystone',
    endpoints: [
      endpoint('http://keystone.test:5000/v3'),
      endpoint('http://keystone.internal:5000/v3', 'internal'),
    ],
  },
  {
    type: 'compute',
    name: 'nova',
    endpoints: [
      endpoint('http://nova.test:8774/v2.1'),
      endpoint('http://nova.internal:8774/v2.1', 'internal'),
      endpoint('http://nova.region-two.test:8774/v2.1', 'public', 'RegionTwo'),
    ],
  },
  { type: 'placement', name: 'placement', endpoints: [endpoint('http://placement.test:8778')] },
  { type: 'image', name: 'glance', endpoints: [endpoint('http://glance.test:9292')] },
  { type: 'network', name: 'neutron', endpoints: [endpoint('http://neutron.test:9696')] },
  { type: 'workflowv2', name: 'mistral', endpoints: [endpoint('http://mistral.test:8989/v2')] },
];

export function tokenBody(
  options: { catalog?: unknown[]; roles?: string[]; project?: boolean; methods?: string[] } = {},
): unknown {
  return {
    token: {
      methods: options.methods ?? ['password'],
      expires_at: '2030-01-01T12:00:00.000000Z',
      issued_at: '2030-01-01T11:00:00.000000Z',
      user: {
        id: 'u-admin',
        name: 'admin',
        domain: { id: 'default', name: 'Default' },
        password_expires_at: null,
      },
      ...(options.project === false
        ? {}
        : { project: { id: 'p-admin', name: 'admin', domain: { id: 'default', name: 'Default' } } }),
      roles: (options.roles ?? ['admin', 'member', 'reader']).map((name) => ({ id: `r-${name}`, name })),
      catalog: options.catalog ?? standardCatalog,
    },
  };
}

/**
 * A fake cloud: Keystone issues `token1`, then `token2` on the next authentication; everything else goes
 * to `handler` (default 404).
 */
export function fakeCloud(handler: Handler = () => new Response('not found', { status: 404 })) {
  let issued = 0;
  return recordingFetch(async (call) => {
    if (call.method === 'POST' && call.url === `${authUrl}/auth/tokens`) {
      issued += 1;
      return jsonResponse(tokenBody(), 201, {
        'X-Subject-Token': issued === 1 ? secrets.token1 : secrets.token2,
        'x-openstack-request-id': `req-auth-${issued}`,
      });
    }
    return handler(call);
  });
}

export function passwordAuth(): Extract<AuthMethod, { type: 'password' }> {
  return {
    type: 'password',
    authUrl,
    user: { name: 'admin', domain: { name: 'Default' } },
    password: secrets.password,
    scope: { kind: 'project', project: { name: 'admin', domain: { name: 'Default' } } },
  };
}

export function makeConfig(overrides: Partial<ResolvedCloudConfig> = {}): ResolvedCloudConfig {
  return {
    cloudName: 'test',
    sources: { cloudsFile: '/tmp/clouds.yaml', secureFile: undefined, fromEnvironment: false, line: 2 },
    authType: 'password',
    auth: passwordAuth(),
    regionName: 'RegionOne',
    interface: 'public',
    tls: { verify: true, caFile: undefined, certFile: undefined, keyFile: undefined },
    timeoutMs: undefined,
    identityApiVersion: '3',
    services: {},
    warnings: [],
    ...overrides,
  };
}

export function captureLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    log: {
      debug: (message) => lines.push(`debug: ${message}`),
      info: (message) => lines.push(`info: ${message}`),
      warn: (message) => lines.push(`warn: ${message}`),
    },
  };
}

/** Sleeps recorded, not slept. */
export function recordingSleep(): { sleep: (ms: number) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    sleep: async (ms) => {
      delays.push(ms);
    },
  };
}

export async function openTestSession(
  handler?: Handler,
  options: { config?: Partial<ResolvedCloudConfig>; deps?: SessionDeps } = {},
): Promise<{ session: CloudSession; calls: RecordedCall[]; lines: string[]; delays: number[] }> {
  const cloud = fakeCloud(handler);
  const { log, lines } = captureLogger();
  const { sleep, delays } = recordingSleep();
  const session = await openSession(makeConfig(options.config), {
    fetch: cloud.fetch,
    log,
    sleep,
    random: () => 0.5,
    now: () => new Date('2030-01-01T11:30:00Z'),
    ...options.deps,
  });
  return { session, calls: cloud.calls, lines, delays };
}

/** Calls after authentication, i.e. the ones a test is about. */
export function serviceCalls(calls: readonly RecordedCall[]): RecordedCall[] {
  return calls.filter((call) => !call.url.endsWith('/auth/tokens'));
}

export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}
