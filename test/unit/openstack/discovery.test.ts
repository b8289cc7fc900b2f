import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  discoveryUrl,
  serviceBaseUrl,
  versionDocumentSchema,
  versionInfoFromDocument,
} from '../../../src/openstack/discovery.js';
import { HttpError, ResponseSchemaError } from '../../../src/openstack/errors.js';
import type { ServiceType } from '../../../src/openstack/types.js';
import { fixtureJson, jsonResponse, openTestSession, rejection, serviceCalls } from './helpers.js';

describe('versioned base URLs', () => {
  const cases: [ServiceType, string, string][] = [
    ['compute', 'http://nova:8774/v2.1', 'http://nova:8774/v2.1'],
    ['compute', 'http://nova:8774/v2.1/', 'http://nova:8774/v2.1'],
    ['compute', 'http://nova:8774/v2.1/4a1b2c3d4e5f', 'http://nova:8774/v2.1/4a1b2c3d4e5f'],
    ['compute', 'http://nova:8774/v2/4a1b2c3d4e5f', 'http://nova:8774/v2.1/4a1b2c3d4e5f'],
    ['compute', 'https://cloud.example/compute', 'https://cloud.example/compute/v2.1'],
    ['placement', 'http://placement:8778', 'http://placement:8778'],
    ['placement', 'https://cloud.example/placement/', 'https://cloud.example/placement'],
    ['image', 'http://glance:9292', 'http://glance:9292'],
    ['image', 'http://glance:9292/v2', 'http://glance:9292'],
    ['workflowv2', 'http://mistral:8989/v2', 'http://mistral:8989/v2'],
    ['workflowv2', 'http://mistral:8989', 'http://mistral:8989/v2'],
    ['network', 'http://neutron:9696/', 'http://neutron:9696/v2.0'],
    ['network', 'http://neutron:9696/v2.0', 'http://neutron:9696/v2.0'],
    ['identity', 'http://keystone:5000', 'http://keystone:5000/v3'],
    ['identity', 'http://keystone:5000/v3/', 'http://keystone:5000/v3'],
  ];
  for (const [service, catalogUrl, base] of cases) {
    it(`${service}: ${catalogUrl} -> ${base}`, () => {
      assert.equal(serviceBaseUrl(service, catalogUrl), base);
    });
  }

  it('looks for version documents where each service keeps them', () => {
    assert.equal(discoveryUrl('compute', 'http://nova:8774/v2.1/4a1b2c3d4e5f'), 'http://nova:8774/v2.1/');
    assert.equal(discoveryUrl('placement', 'http://placement:8778'), 'http://placement:8778/');
    assert.equal(discoveryUrl('image', 'http://glance:9292'), 'http://glance:9292/');
    assert.equal(discoveryUrl('workflowv2', 'http://mistral:8989/v2'), 'http://mistral:8989/');
    assert.equal(discoveryUrl('network', 'http://neutron:9696/v2.0'), 'http://neutron:9696/');
    assert.equal(discoveryUrl('identity', 'http://keystone:5000/v3'), 'http://keystone:5000/v3');
  });
});

describe('version documents', () => {
  function info(service: ServiceType, base: string, fixture: string) {
    return versionInfoFromDocument(service, base, versionDocumentSchema.parse(fixtureJson(fixture)));
  }

  it('compute: the max microversion is in "version" (root list and versioned document)', () => {
    const expected = { version: '2.1', minMicroversion: '2.1', maxMicroversion: '2.93' };
    assert.deepEqual(info('compute', 'http://nova:8774/v2.1', 'compute-root.json'), expected);
    assert.deepEqual(info('compute', 'http://nova:8774/v2.1', 'compute-v2.1.json'), expected);
  });

  it('placement: max_version', () => {
    assert.deepEqual(info('placement', 'http://p:8778', 'placement-root.json'), {
      version: '1.0',
      minMicroversion: '1.0',
      maxMicroversion: '1.39',
    });
  });

  it('image: the CURRENT feature level, no microversions', () => {
    assert.deepEqual(info('image', 'http://g:9292', 'image-versions.json'), {
      version: '2.15',
      minMicroversion: undefined,
      maxMicroversion: undefined,
    });
  });

  it('workflow, network, identity (both Keystone shapes)', () => {
    assert.equal(info('workflowv2', 'http://m:8989/v2', 'workflow-root.json')?.version, '2.0');
    assert.equal(info('network', 'http://n:9696/v2.0', 'network-root.json')?.version, '2.0');
    assert.equal(info('identity', 'http://k:5000/v3', 'identity-v3.json')?.version, '3.14');
    assert.equal(info('identity', 'http://k:5000/v3', 'identity-versions.json')?.version, '3.14');
  });

  it('picks the highest CURRENT version, ignoring deprecated ones', () => {
    const document = versionDocumentSchema.parse({
      versions: [
        { id: 'v2.9', status: 'SUPPORTED' },
        { id: 'v2.16', status: 'CURRENT' },
        { id: 'v2.17', status: 'EXPERIMENTAL' },
        { id: 'v1.1', status: 'DEPRECATED' },
      ],
    });
    assert.equal(versionInfoFromDocument('image', 'http://g', document)?.version, '2.16');
  });
});

describe('session.versionInfo', () => {
  function discoveryCloud() {
    return openTestSession((call) => {
      switch (call.url) {
        case 'http://nova.test:8774/v2.1/':
          return jsonResponse(fixtureJson('compute-v2.1.json'));
        case 'http://placement.test:8778/':
          return jsonResponse(fixtureJson('placement-root.json'));
        case 'http://glance.test:9292/':
          // Glance answers its root with 300 Multiple Choices.
          return jsonResponse(fixtureJson('image-versions.json'), 300);
        case 'http://mistral.test:8989/':
          return jsonResponse(fixtureJson('workflow-root.json'));
        default:
          return new Response('not found', { status: 404 });
      }
    });
  }

  it('discovers each service once and caches the answer', async () => {
    const { session, calls } = await discoveryCloud();
    assert.deepEqual(await session.versionInfo('compute'), {
      version: '2.1',
      minMicroversion: '2.1',
      maxMicroversion: '2.93',
    });
    assert.equal((await session.versionInfo('placement')).maxMicroversion, '1.39');
    assert.equal((await session.versionInfo('image')).version, '2.15');
    assert.equal((await session.versionInfo('workflowv2')).version, '2.0');
    await session.versionInfo('compute');
    await session.versionInfo('image');
    assert.deepEqual(
      serviceCalls(calls).map((call) => call.url),
      [
        'http://nova.test:8774/v2.1/',
        'http://placement.test:8778/',
        'http://glance.test:9292/',
        'http://mistral.test:8989/',
      ],
    );
    assert.ok(serviceCalls(calls).every((call) => call.headers['x-auth-token'] !== undefined));
  });

  it('falls back to /versions when the image root is hidden', async () => {
    const { session, calls } = await openTestSession((call) =>
      call.url === 'http://glance.test:9292/versions'
        ? jsonResponse(fixtureJson('image-versions.json'))
        : new Response('no', { status: 404 }),
    );
    assert.equal((await session.versionInfo('image')).version, '2.15');
    assert.equal(serviceCalls(calls).length, 2);
  });

  it('reports a broken version document and does not cache the failure', async () => {
    let answer: unknown = { nothing: 'here' };
    const { session, calls } = await openTestSession(() => jsonResponse(answer));
    const error = await rejection(session.versionInfo('placement'));
    assert.ok(error instanceof ResponseSchemaError);
    assert.match(error.message, /^placement GET \/: unexpected response: /);
    answer = fixtureJson('placement-root.json');
    assert.equal((await session.versionInfo('placement')).maxMicroversion, '1.39');
    assert.equal(serviceCalls(calls).length, 2);
  });

  it('surfaces an HTTP failure of discovery', async () => {
    const { session } = await openTestSession(() => new Response('boom', { status: 500 }), {
      deps: { maxRetries: 0 },
    });
    const error = await rejection(session.versionInfo('compute'));
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 500);
  });
});
