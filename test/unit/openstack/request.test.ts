import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import {
  ConnectionError,
  HttpError,
  ResponseSchemaError,
  ServiceNotFoundError,
} from '../../../src/openstack/errors.js';
import { openSession } from '../../../src/openstack/session.js';
import {
  endpoint,
  fixtureJson,
  jsonResponse,
  makeConfig,
  openTestSession,
  recordingFetch,
  rejection,
  secrets,
  serviceCalls,
  standardCatalog,
  tokenBody,
} from './helpers.js';

const noSettings = {
  endpointOverride: undefined,
  interface: undefined,
  regionName: undefined,
  apiVersion: undefined,
  defaultMicroversion: undefined,
};

describe('catalog selection', () => {
  it('uses the public endpoint of the configured region by default', async () => {
    const { session } = await openTestSession();
    assert.deepEqual(session.endpoint('compute'), {
      serviceType: 'compute',
      interface: 'public',
      region: 'RegionOne',
      url: 'http://nova.test:8774/v2.1',
    });
  });

  it('honours the interface, the region and per-service interface', async () => {
    const internal = await openTestSession(undefined, { config: { interface: 'internal' } });
    assert.equal(internal.session.endpoint('compute').url, 'http://nova.internal:8774/v2.1');
    const regionTwo = await openTestSession(undefined, { config: { regionName: 'RegionTwo' } });
    assert.equal(regionTwo.session.endpoint('compute').url, 'http://nova.region-two.test:8774/v2.1');
    const perService = await openTestSession(undefined, {
      config: { services: { compute: { ...noSettings, interface: 'internal' } } },
    });
    assert.equal(perService.session.endpoint('compute').url, 'http://nova.internal:8774/v2.1');
    assert.equal(perService.session.endpoint('identity').url, 'http://keystone.test:5000/v3');
  });

  it('takes any region when none is configured', async () => {
    const { session } = await openTestSession(undefined, { config: { regionName: undefined } });
    assert.equal(session.endpoint('compute').region, 'RegionOne');
  });

  it('lets an endpoint override win over the catalog', async () => {
    const { session, calls } = await openTestSession(() => jsonResponse({ resource_providers: [] }), {
      config: { services: { placement: { ...noSettings, endpointOverride: 'http://127.0.0.1:8780' } } },
    });
    assert.equal(session.endpoint('placement').url, 'http://127.0.0.1:8780');
    await session.request('placement', { path: '/resource_providers' });
    assert.equal(serviceCalls(calls)[0]?.url, 'http://127.0.0.1:8780/resource_providers');
  });

  it('finds Mistral under its alias and v2 interface spellings', async () => {
    const catalog = [
      ...standardCatalog.filter((entry) => entry.type !== 'workflowv2'),
      {
        type: 'workflow',
        name: 'mistral',
        endpoints: [endpoint('http://mistral.alias:8989/v2', 'publicURL')],
      },
    ];
    const cloud = recordingFetch(() =>
      jsonResponse(tokenBody({ catalog }), 201, { 'X-Subject-Token': secrets.token1 }),
    );
    const session = await openSession(makeConfig(), { fetch: cloud.fetch });
    assert.equal(session.hasService('workflowv2'), true);
    assert.equal(session.endpoint('workflowv2').url, 'http://mistral.alias:8989/v2');
  });

  it('explains a missing service, listing the types present', async () => {
    const catalog = standardCatalog.filter((entry) => entry.type !== 'workflowv2');
    const cloud = recordingFetch(() =>
      jsonResponse(tokenBody({ catalog }), 201, { 'X-Subject-Token': secrets.token1 }),
    );
    const session = await openSession(makeConfig(), { fetch: cloud.fetch });
    assert.equal(session.hasService('workflowv2'), false);
    const error = await rejection(session.request('workflowv2', { path: '/actions' }));
    assert.ok(error instanceof ServiceNotFoundError);
    assert.equal(error.kind, 'service-not-found');
    assert.equal(error.exitCode, 3);
    assert.equal(
      error.message,
      'the catalog has no workflowv2 service; services present: compute, identity, image, network, placement',
    );
    assert.match(error.hint ?? '', /workflowv2_endpoint_override/);
  });

  it('explains a service without an endpoint for the region', async () => {
    const { session } = await openTestSession(undefined, { config: { regionName: 'RegionNine' } });
    const error = await rejection(session.request('compute', { path: '/servers' }));
    assert.ok(error instanceof ServiceNotFoundError);
    assert.equal(
      error.message,
      'the catalog has compute but no endpoint for interface public in region RegionNine; it has public/RegionOne, internal/RegionOne, public/RegionTwo',
    );
  });
});

describe('requests', () => {
  it('joins the path to the versioned endpoint and encodes the query (arrays repeat the key)', async () => {
    const { session, calls } = await openTestSession(() => jsonResponse({ servers: [] }));
    await session.request('compute', {
      path: '/servers/detail',
      query: { all_tenants: true, limit: 1000, status: ['ERROR', 'SHUTOFF'], host: undefined, name: 'a b&c' },
    });
    assert.equal(
      serviceCalls(calls)[0]?.url,
      'http://nova.test:8774/v2.1/servers/detail?all_tenants=true&limit=1000&status=ERROR&status=SHUTOFF&name=a+b%26c',
    );
  });

  it('uses the image root for /v2 paths, the Mistral /v2 URL and Neutron /v2.0', async () => {
    const { session, calls } = await openTestSession(() => jsonResponse({}));
    await session.request('image', { path: '/v2/images' });
    await session.request('workflowv2', { path: '/actions' });
    await session.request('network', { path: '/ports' });
    await session.request('network', { path: '/v2.0/agents' });
    assert.deepEqual(
      serviceCalls(calls).map((call) => call.url),
      [
        'http://glance.test:9292/v2/images',
        'http://mistral.test:8989/v2/actions',
        'http://neutron.test:9696/v2.0/ports',
        'http://neutron.test:9696/v2.0/agents',
      ],
    );
  });

  it('sends the microversion headers: both for compute, one for placement, none without', async () => {
    const { session, calls } = await openTestSession(() => jsonResponse({}));
    await session.request('compute', { path: '/os-services', microversion: '2.53' });
    await session.request('placement', { path: '/resource_providers', microversion: '1.39' });
    await session.request('placement', { path: '/resource_providers' });
    const [compute, placement, plain] = serviceCalls(calls);
    assert.equal(compute?.headers['openstack-api-version'], 'compute 2.53');
    assert.equal(compute?.headers['x-openstack-nova-api-version'], '2.53');
    assert.equal(placement?.headers['openstack-api-version'], 'placement 1.39');
    assert.equal(placement?.headers['x-openstack-nova-api-version'], undefined);
    assert.equal(plain?.headers['openstack-api-version'], undefined);
    assert.equal(plain?.headers.accept, 'application/json');
    assert.equal(plain?.headers['x-auth-token'], secrets.token1);
  });

  it('sends JSON bodies, or the content type asked for', async () => {
    const { session, calls } = await openTestSession(() => new Response(null, { status: 204 }));
    await session.request('placement', { method: 'PUT', path: '/allocations/c1', body: { allocations: {} } });
    await session.request('image', {
      method: 'PATCH',
      path: '/v2/images/i1',
      body: [{ op: 'add', path: '/os_type', value: 'linux' }],
      contentType: 'application/openstack-images-v2.1-json-patch',
    });
    const [put, patch] = serviceCalls(calls);
    assert.equal(put?.headers['content-type'], 'application/json');
    assert.equal(put?.body, '{"allocations":{}}');
    assert.equal(patch?.headers['content-type'], 'application/openstack-images-v2.1-json-patch');
    assert.equal(patch?.body, '[{"op":"add","path":"/os_type","value":"linux"}]');
  });

  it('validates the body with the schema and captures the request id', async () => {
    const { session } = await openTestSession(() =>
      jsonResponse({ hypervisors: [{ id: 'h1', hypervisor_hostname: 'cmp1' }] }, 200, {
        'x-compute-request-id': 'req-compute-1',
      }),
    );
    const response = await session.request('compute', {
      path: '/os-hypervisors',
      schema: z.object({
        hypervisors: z.array(z.object({ id: z.string(), hypervisor_hostname: z.string() })),
      }),
    });
    assert.deepEqual(response.body, { hypervisors: [{ id: 'h1', hypervisor_hostname: 'cmp1' }] });
    assert.equal(response.requestId, 'req-compute-1');
    assert.equal(response.status, 200);
  });

  it('prefers x-openstack-request-id', async () => {
    const { session } = await openTestSession(() =>
      jsonResponse({}, 200, { 'x-openstack-request-id': 'req-os', 'x-compute-request-id': 'req-compute' }),
    );
    assert.equal((await session.request('compute', { path: '/x' })).requestId, 'req-os');
  });

  it('names the field of a schema mismatch', async () => {
    const { session } = await openTestSession(() => jsonResponse({ servers: [{ id: 'a' }, { id: 42 }] }));
    const error = await rejection(
      session.request('compute', {
        path: '/servers',
        schema: z.object({ servers: z.array(z.object({ id: z.string() })) }),
      }),
    );
    assert.ok(error instanceof ResponseSchemaError);
    assert.equal(error.kind, 'response-schema');
    assert.equal(error.exitCode, 3);
    assert.match(
      error.message,
      /^compute GET \/servers: unexpected response: servers\.1\.id: Invalid input: expected string, received number$/,
    );
  });

  it('reports a body that is not JSON', async () => {
    const { session } = await openTestSession(
      () =>
        new Response('<html><body>Welcome to nginx</body></html>', {
          headers: { 'Content-Type': 'text/html' },
        }),
    );
    const error = await rejection(session.request('placement', { path: '/resource_providers' }));
    assert.ok(error instanceof ResponseSchemaError);
    assert.equal(
      error.message,
      'placement GET /resource_providers: unexpected response: body is not JSON (text/html): "<html><body>Welcome to nginx</body></html>"',
    );
  });

  it('accepts an empty 204 and the statuses the caller declares', async () => {
    let status = 204;
    const { session } = await openTestSession(() =>
      status === 204
        ? new Response(null, { status })
        : jsonResponse(fixtureJson('error-compute-item-not-found.json'), status),
    );
    const empty = await session.request('placement', { method: 'DELETE', path: '/allocations/c1' });
    assert.equal(empty.body, undefined);
    status = 404;
    const missing = await session.request('compute', { path: '/servers/x', acceptStatus: [200, 404] });
    assert.equal(missing.status, 404);
  });

  it('never follows redirects (the token would go along)', async () => {
    const { session, calls } = await openTestSession(
      () => new Response(null, { status: 302, headers: { Location: 'http://evil.example/steal' } }),
    );
    const error = await rejection(session.request('compute', { path: '/servers' }));
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 302);
    assert.match(
      error.hint ?? '',
      /redirected to http:\/\/evil\.example\/steal; set compute_endpoint_override/,
    );
    assert.equal(serviceCalls(calls)[0]?.init?.redirect, 'manual');
  });
});

describe('timeouts', () => {
  it('a body that stalls past the timeout is a ConnectionError naming the time', async () => {
    const { session } = await openTestSession(
      (call) =>
        new Response(
          new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(new TextEncoder().encode('{"servers": ['));
              call.signal?.addEventListener('abort', () =>
                controller.error(new DOMException('aborted', 'AbortError')),
              );
            },
          }),
        ),
    );
    const error = await rejection(session.request('compute', { path: '/servers', timeoutMs: 15 }));
    assert.ok(error instanceof ConnectionError);
    assert.equal(
      error.message,
      'cannot reach compute at http://nova.test:8774/v2.1/servers (GET): no answer within 15 ms',
    );
  });
});

describe('HTTP errors carry service, method, URL, status, request id and the server message', () => {
  const cases: {
    service: 'compute' | 'placement' | 'image' | 'workflowv2' | 'network';
    status: number;
    fixture: string;
    type: string;
    message: string;
    code?: string;
  }[] = [
    {
      service: 'compute',
      status: 404,
      fixture: 'error-compute-item-not-found.json',
      type: 'application/json',
      message:
        'compute GET http://nova.test:8774/v2.1/thing failed: 404 Not Found: Instance 7f3e0000-0000-4000-8000-000000000001 could not be found. (request req-1)',
    },
    {
      service: 'placement',
      status: 409,
      fixture: 'error-placement-conflict.json',
      type: 'application/json',
      message:
        'placement GET http://placement.test:8778/thing failed: 409 Conflict: There was a conflict when trying to complete your request. consumer generation conflict - expected 3 but got 2 [placement.concurrent_update] (request req-1)',
      code: 'placement.concurrent_update',
    },
    {
      service: 'image',
      status: 404,
      fixture: 'error-image-not-found.html',
      type: 'text/html; charset=UTF-8',
      message:
        'image GET http://glance.test:9292/thing failed: 404 Not Found: No image found with ID 7f3e0000-0000-4000-8000-000000000002 (request req-1)',
    },
    {
      service: 'image',
      status: 403,
      fixture: 'error-image-forbidden.txt',
      type: 'text/plain',
      message:
        'image GET http://glance.test:9292/thing failed: 403 Forbidden: Attribute container_format can be only replaced for a queued image. (request req-1)',
    },
    {
      service: 'workflowv2',
      status: 404,
      fixture: 'error-workflow-fault.json',
      type: 'application/json',
      message:
        'workflowv2 GET http://mistral.test:8989/v2/thing failed: 404 Not Found: Action not found [name=std.missing] (request req-1)',
    },
    {
      service: 'network',
      status: 404,
      fixture: 'error-network-not-found.json',
      type: 'application/json',
      message:
        'network GET http://neutron.test:9696/v2.0/thing failed: 404 Not Found: Port 7f3e0000-0000-4000-8000-000000000003 could not be found. (request req-1)',
    },
  ];
  for (const testCase of cases) {
    it(`${testCase.service} ${testCase.status} (${testCase.fixture})`, async () => {
      const { readFixture } = await import('./helpers.js');
      const { session } = await openTestSession(
        () =>
          new Response(readFixture(testCase.fixture), {
            status: testCase.status,
            headers: { 'Content-Type': testCase.type, 'x-openstack-request-id': 'req-1' },
          }),
      );
      const error = await rejection(session.request(testCase.service, { path: '/thing' }));
      assert.ok(error instanceof HttpError);
      assert.equal(error.kind, 'http');
      assert.equal(error.exitCode, 3);
      assert.equal(error.message, testCase.message);
      assert.equal(error.service, testCase.service);
      assert.equal(error.method, 'GET');
      assert.equal(error.status, testCase.status);
      assert.equal(error.requestId, 'req-1');
      assert.equal(error.code, testCase.code);
    });
  }
});

describe('streams (image data)', () => {
  it('downloads: the caller gets the body', async () => {
    const { session, calls } = await openTestSession(
      () =>
        new Response(new Uint8Array([81, 70, 73, 251]), {
          headers: { 'Content-Type': 'application/octet-stream' },
        }),
    );
    const response = await session.stream('image', { path: '/v2/images/i1/file' });
    assert.deepEqual(new Uint8Array(await response.arrayBuffer()), new Uint8Array([81, 70, 73, 251]));
    assert.equal(serviceCalls(calls)[0]?.headers.accept, '*/*');
  });

  it('uploads a stream with duplex half and its length, and never retries it', async () => {
    const { session, calls } = await openTestSession(() => new Response('busy', { status: 503 }));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array([1, 2, 3]));
        controller.close();
      },
    });
    const error = await rejection(
      session.stream('image', { method: 'PUT', path: '/v2/images/i1/file', body, contentLength: 3 }),
    );
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 503);
    const [upload] = serviceCalls(calls);
    assert.equal(serviceCalls(calls).length, 1);
    assert.equal(upload?.headers['content-type'], 'application/octet-stream');
    assert.equal(upload?.headers['content-length'], '3');
    assert.equal(upload?.rawBody, body);
    assert.equal(upload?.init?.duplex, 'half');
  });

  it('a 401 during a streamed upload re-authenticates but does not resend the spent stream', async () => {
    const { session, calls } = await openTestSession(() => new Response('', { status: 401 }));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.close();
      },
    });
    const error = await rejection(
      session.stream('image', { method: 'PUT', path: '/v2/images/i1/file', body }),
    );
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 401);
    assert.match(error.hint ?? '', /expired during the upload/);
    assert.equal(serviceCalls(calls).length, 1);
    assert.equal(calls.length, 3, 'login, upload, re-login');
  });

  it('uploads bytes', async () => {
    const { session, calls } = await openTestSession(() => new Response(null, { status: 204 }));
    const response = await session.stream('image', {
      method: 'PUT',
      path: '/v2/images/i1/file',
      body: new Uint8Array([9, 9]),
    });
    assert.equal(response.status, 204);
    assert.deepEqual(serviceCalls(calls)[0]?.rawBody, new Uint8Array([9, 9]));
  });
});
