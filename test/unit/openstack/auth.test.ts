import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuthMethod } from '../../../src/openstack/config.js';
import {
  AuthError,
  ConnectionError,
  HttpError,
  ResponseSchemaError,
  TlsError,
} from '../../../src/openstack/errors.js';
import { openSession } from '../../../src/openstack/session.js';
import {
  authUrl,
  connectionError,
  fixtureJson,
  jsonResponse,
  makeConfig,
  openTestSession,
  recordingFetch,
  rejection,
  secrets,
  serviceCalls,
  tokenBody,
} from './helpers.js';

/** Opens a session whose Keystone answers `tokenResponse`, and returns the token request it sent. */
async function authenticateWith(auth: AuthMethod) {
  const cloud = recordingFetch(() => jsonResponse(tokenBody(), 201, { 'X-Subject-Token': secrets.token1 }));
  const session = await openSession(makeConfig({ auth }), { fetch: cloud.fetch });
  const [call] = cloud.calls;
  assert.ok(call);
  const body: unknown = JSON.parse(call.body ?? 'null');
  return { session, call, body };
}

describe('token requests', () => {
  it('password with user and project by name, to <auth_url>/v3/auth/tokens', async () => {
    const { call, body } = await authenticateWith({
      type: 'password',
      authUrl: 'http://keystone.test:5000',
      user: { name: 'admin', domain: { name: 'Default' } },
      password: secrets.password,
      scope: { kind: 'project', project: { name: 'admin', domain: { id: 'default' } } },
    });
    assert.equal(call.method, 'POST');
    assert.equal(call.url, 'http://keystone.test:5000/v3/auth/tokens');
    assert.equal(call.headers['content-type'], 'application/json');
    assert.equal(call.headers['x-auth-token'], undefined);
    assert.deepEqual(body, {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { name: 'Default' }, password: secrets.password } },
        },
        scope: { project: { name: 'admin', domain: { id: 'default' } } },
      },
    });
  });

  it('password with ids, and domain, system and no scope', async () => {
    const base = { type: 'password' as const, authUrl, user: { id: 'u-1' }, password: secrets.password };
    const byId = await authenticateWith({ ...base, scope: { kind: 'project', project: { id: 'p-1' } } });
    assert.deepEqual(byId.body, {
      auth: {
        identity: { methods: ['password'], password: { user: { id: 'u-1', password: secrets.password } } },
        scope: { project: { id: 'p-1' } },
      },
    });
    const domain = await authenticateWith({ ...base, scope: { kind: 'domain', domain: { name: 'Ops' } } });
    assert.deepEqual(domain.body, {
      auth: {
        identity: { methods: ['password'], password: { user: { id: 'u-1', password: secrets.password } } },
        scope: { domain: { name: 'Ops' } },
      },
    });
    const system = await authenticateWith({ ...base, scope: { kind: 'system' } });
    assert.deepEqual(system.body, {
      auth: {
        identity: { methods: ['password'], password: { user: { id: 'u-1', password: secrets.password } } },
        scope: { system: { all: true } },
      },
    });
    const unscoped = await authenticateWith({ ...base, scope: { kind: 'unscoped' } });
    assert.deepEqual(unscoped.body, {
      auth: {
        identity: { methods: ['password'], password: { user: { id: 'u-1', password: secrets.password } } },
      },
    });
  });

  it('application credential by id, never with a scope', async () => {
    const { body } = await authenticateWith({
      type: 'application-credential',
      authUrl,
      credential: { id: 'ac-1' },
      secret: secrets.appSecret,
    });
    assert.deepEqual(body, {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { id: 'ac-1', secret: secrets.appSecret },
        },
      },
    });
  });

  it('application credential by name and user', async () => {
    const { body } = await authenticateWith({
      type: 'application-credential',
      authUrl,
      credential: { name: 'sd-ac', user: { name: 'admin', domain: { id: 'default' } } },
      secret: secrets.appSecret,
    });
    assert.deepEqual(body, {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: {
            name: 'sd-ac',
            user: { name: 'admin', domain: { id: 'default' } },
            secret: secrets.appSecret,
          },
        },
      },
    });
  });

  it('an existing token, rescoped', async () => {
    const { body } = await authenticateWith({
      type: 'token',
      authUrl,
      token: 'existing-token-123',
      scope: { kind: 'project', project: { id: 'p-1' } },
    });
    assert.deepEqual(body, {
      auth: {
        identity: { methods: ['token'], token: { id: 'existing-token-123' } },
        scope: { project: { id: 'p-1' } },
      },
    });
  });
});

describe('token-less plugins', () => {
  it('admin_token sends its token to the configured endpoint without asking Keystone', async () => {
    const cloud = recordingFetch(() => jsonResponse({ resource_providers: [] }));
    const session = await openSession(
      makeConfig({
        authType: 'admin_token',
        auth: { type: 'admin-token', token: 'admin-token-value', endpoint: undefined },
        services: {
          placement: {
            endpointOverride: 'http://placement.local:8778',
            interface: undefined,
            regionName: undefined,
            apiVersion: undefined,
            defaultMicroversion: undefined,
          },
        },
      }),
      { fetch: cloud.fetch },
    );
    await session.request('placement', { path: '/resource_providers' });
    assert.equal(cloud.calls.length, 1);
    assert.equal(cloud.calls[0]?.url, 'http://placement.local:8778/resource_providers');
    assert.equal(cloud.calls[0]?.headers['x-auth-token'], 'admin-token-value');
    assert.equal(session.hasService('compute'), false);
  });

  it('none sends no token and uses its endpoint for every service', async () => {
    const cloud = recordingFetch(() => jsonResponse({}));
    const session = await openSession(
      makeConfig({ authType: 'none', auth: { type: 'none', endpoint: 'http://standalone:6385' } }),
      { fetch: cloud.fetch },
    );
    await session.request('placement', { path: '/x' });
    assert.equal(cloud.calls[0]?.url, 'http://standalone:6385/x');
    assert.equal(cloud.calls[0]?.headers['x-auth-token'], undefined);
  });
});

describe('the authenticated identity', () => {
  it('comes from the token body: admin', async () => {
    const { session } = await openTestSession();
    assert.deepEqual(session.identity, {
      userId: 'u-admin',
      userName: 'admin',
      userDomain: 'Default',
      projectId: 'p-admin',
      projectName: 'admin',
      projectDomain: 'Default',
      roles: ['admin', 'member', 'reader'],
      isAdmin: true,
      method: 'password',
      expiresAt: '2030-01-01T12:00:00.000000Z',
    });
  });

  it('a member is not admin', async () => {
    const cloud = recordingFetch(() =>
      jsonResponse(tokenBody({ roles: ['member', 'reader'] }), 201, { 'X-Subject-Token': secrets.token1 }),
    );
    const session = await openSession(makeConfig(), { fetch: cloud.fetch });
    assert.equal(session.identity.isAdmin, false);
    assert.deepEqual(session.identity.roles, ['member', 'reader']);
  });
});

describe('authentication failures', () => {
  it('wrong password: AuthError with Keystone message, no secret', async () => {
    const cloud = recordingFetch(() =>
      jsonResponse(fixtureJson('error-identity-unauthorized.json'), 401, {
        'x-openstack-request-id': 'req-401',
      }),
    );
    const error = await rejection(openSession(makeConfig(), { fetch: cloud.fetch }));
    assert.ok(error instanceof AuthError);
    assert.equal(error.kind, 'auth');
    assert.equal(error.exitCode, 3);
    assert.equal(
      error.message,
      `Keystone refused user "admin" (domain Default), project "admin" (domain Default) at ${authUrl}/auth/tokens: 401 Unauthorized: The request you have made requires authentication. (request req-401)`,
    );
    assert.match(error.hint ?? '', /check the password/);
    assert.equal(error.requestId, 'req-401');
    assert.doesNotMatch(`${String(error)} ${error.hint}`, new RegExp(secrets.password));
    assert.equal(cloud.calls.length, 1, 'a refused login is not retried');
  });

  it('a wrong auth_url (404) says so', async () => {
    const cloud = recordingFetch(() => new Response('Not Found', { status: 404 }));
    const error = await rejection(openSession(makeConfig(), { fetch: cloud.fetch }));
    assert.ok(error instanceof AuthError);
    assert.match(error.hint ?? '', /check auth_url/);
  });

  it('an expired application credential gets its own hint', async () => {
    const cloud = recordingFetch(() => jsonResponse(fixtureJson('error-identity-unauthorized.json'), 401));
    const error = await rejection(
      openSession(
        makeConfig({
          auth: {
            type: 'application-credential',
            authUrl,
            credential: { id: 'ac-9' },
            secret: secrets.appSecret,
          },
        }),
        { fetch: cloud.fetch },
      ),
    );
    assert.ok(error instanceof AuthError);
    assert.match(error.message, /^Keystone refused application credential ac-9 at /);
    assert.match(error.hint ?? '', /expired or been deleted/);
    assert.doesNotMatch(String(error), new RegExp(secrets.appSecret));
  });

  it('multi-factor auth is recognised', async () => {
    const cloud = recordingFetch(() =>
      jsonResponse(fixtureJson('error-identity-unauthorized.json'), 401, {
        'Openstack-Auth-Receipt': 'receipt-xyz',
      }),
    );
    const error = await rejection(openSession(makeConfig(), { fetch: cloud.fetch }));
    assert.ok(error instanceof AuthError);
    assert.match(error.message, /requires multi-factor authentication/);
  });

  it('Keystone failing (500) is an HttpError of identity', async () => {
    const cloud = recordingFetch(() => jsonResponse({ error: { message: 'db down', code: 500 } }, 500));
    const error = await rejection(openSession(makeConfig(), { fetch: cloud.fetch }));
    assert.ok(error instanceof HttpError);
    assert.equal(error.service, 'identity');
    assert.match(error.message, /^identity POST .* failed: 500 Internal Server Error: db down$/);
  });

  it('a token response without X-Subject-Token or with a broken body', async () => {
    const noHeader = recordingFetch(() => jsonResponse(tokenBody(), 201));
    assert.ok((await rejection(openSession(makeConfig(), { fetch: noHeader.fetch }))) instanceof AuthError);
    const badBody = recordingFetch(() =>
      jsonResponse({ token: { user: {} } }, 201, { 'X-Subject-Token': secrets.token1 }),
    );
    const error = await rejection(openSession(makeConfig(), { fetch: badBody.fetch }));
    assert.ok(error instanceof ResponseSchemaError);
    assert.match(
      error.message,
      /^identity POST \/v3\/auth\/tokens: unexpected response: token\.expires_at: /,
    );
  });

  it('Keystone unreachable: ConnectionError naming the URL, the token request is not retried', async () => {
    const cloud = recordingFetch(() => {
      throw connectionError('ECONNREFUSED');
    });
    const error = await rejection(openSession(makeConfig(), { fetch: cloud.fetch }));
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.kind, 'connection');
    assert.equal(error.message, `cannot reach identity at ${authUrl}/auth/tokens (POST): connection refused`);
    assert.equal(cloud.calls.length, 1);
  });

  it('Keystone unknown host: ConnectionError with a DNS hint', async () => {
    const cloud = recordingFetch(() => {
      throw connectionError('ENOTFOUND');
    });
    const error = await rejection(openSession(makeConfig(), { fetch: cloud.fetch }));
    assert.ok(error instanceof ConnectionError);
    assert.match(error.message, /host name not found \(DNS\)$/);
    assert.match(error.hint ?? '', /host name in auth_url/);
  });

  it('an untrusted certificate: TlsError suggesting --os-cacert or --insecure', async () => {
    const cloud = recordingFetch(() => {
      throw connectionError('SELF_SIGNED_CERT_IN_CHAIN');
    });
    const error = await rejection(openSession(makeConfig(), { fetch: cloud.fetch }));
    assert.ok(error instanceof TlsError);
    assert.equal(error.kind, 'tls');
    assert.match(error.message, /certificate verification failed \(SELF_SIGNED_CERT_IN_CHAIN\)$/);
    assert.match(error.hint ?? '', /--os-cacert.*--insecure/);
  });

  it('a timeout: ConnectionError after the configured time', async () => {
    const cloud = recordingFetch(
      (call) =>
        new Promise<Response>((_resolve, reject) => {
          call.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        }),
    );
    const error = await rejection(openSession(makeConfig(), { fetch: cloud.fetch, timeoutMs: 20 }));
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.code, 'timeout');
    assert.match(error.message, /no answer within 20 ms$/);
  });
});

describe('re-authentication', () => {
  it('a 401 from a service re-authenticates once and repeats the request, even a POST', async () => {
    const { session, calls } = await openTestSession((call) =>
      call.headers['x-auth-token'] === secrets.token1
        ? jsonResponse(fixtureJson('error-identity-unauthorized.json'), 401)
        : jsonResponse({ ok: true }, 201),
    );
    const response = await session.request('placement', { method: 'POST', path: '/allocations', body: {} });
    assert.equal(response.status, 201);
    const auths = calls.filter((call) => call.url.endsWith('/auth/tokens'));
    assert.equal(auths.length, 2);
    assert.deepEqual(
      serviceCalls(calls).map((call) => call.headers['x-auth-token']),
      [secrets.token1, secrets.token2],
    );
  });

  it('a second 401 is reported, not looped on', async () => {
    const { session, calls } = await openTestSession(() =>
      jsonResponse(fixtureJson('error-identity-unauthorized.json'), 401),
    );
    const error = await rejection(session.request('compute', { path: '/servers' }));
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 401);
    assert.match(error.hint ?? '', /keystone_authtoken/);
    assert.equal(serviceCalls(calls).length, 2);
    assert.equal(calls.length - serviceCalls(calls).length, 2);
  });

  it('concurrent 401s share one re-authentication', async () => {
    const { session, calls } = await openTestSession((call) =>
      call.headers['x-auth-token'] === secrets.token1 ? new Response('', { status: 401 }) : jsonResponse({}),
    );
    await Promise.all([
      session.request('compute', { path: '/a' }),
      session.request('compute', { path: '/b' }),
      session.request('compute', { path: '/c' }),
    ]);
    assert.equal(calls.filter((call) => call.url.endsWith('/auth/tokens')).length, 2);
  });

  it('re-authenticates before a token expires', async () => {
    const { session, calls } = await openTestSession(() => jsonResponse({}), {
      deps: { now: () => new Date('2030-01-01T11:59:30Z') },
    });
    await session.request('compute', { path: '/servers' });
    assert.equal(calls.filter((call) => call.url.endsWith('/auth/tokens')).length, 2);
    assert.equal(serviceCalls(calls)[0]?.headers['x-auth-token'], secrets.token2);
  });
});
