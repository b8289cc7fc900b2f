import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AuthError,
  ConnectionError,
  classifyNetworkError,
  HttpError,
  parseServerMessage,
  ResponseSchemaError,
  ServiceNotFoundError,
  TlsError,
} from '../../../src/openstack/errors.js';
import { connectionError, readFixture } from './helpers.js';

describe('server messages of each service', () => {
  const cases: [string, string, string | null, string, string | undefined][] = [
    [
      'Nova itemNotFound',
      'error-compute-item-not-found.json',
      'application/json',
      'Instance 7f3e0000-0000-4000-8000-000000000001 could not be found.',
      undefined,
    ],
    [
      'Nova badRequest',
      'error-compute-bad-request.json',
      'application/json',
      'Invalid input for query parameters marker. Value: x. marker [x] not found',
      undefined,
    ],
    [
      'Placement errors[] with code',
      'error-placement-conflict.json',
      'application/json',
      'There was a conflict when trying to complete your request. consumer generation conflict - expected 3 but got 2',
      'placement.concurrent_update',
    ],
    [
      'Keystone error',
      'error-identity-unauthorized.json',
      'application/json',
      'The request you have made requires authentication.',
      undefined,
    ],
    [
      'Glance HTML',
      'error-image-not-found.html',
      'text/html; charset=UTF-8',
      'No image found with ID 7f3e0000-0000-4000-8000-000000000002',
      undefined,
    ],
    [
      'Glance plain text',
      'error-image-forbidden.txt',
      'text/plain',
      'Attribute container_format can be only replaced for a queued image.',
      undefined,
    ],
    [
      'Mistral faultstring',
      'error-workflow-fault.json',
      'application/json',
      'Action not found [name=std.missing]',
      undefined,
    ],
    [
      'Neutron NeutronError',
      'error-network-not-found.json',
      'application/json',
      'Port 7f3e0000-0000-4000-8000-000000000003 could not be found.',
      undefined,
    ],
  ];
  for (const [name, fixture, contentType, message, code] of cases) {
    it(name, () => {
      assert.deepEqual(parseServerMessage(readFixture(fixture), contentType), { message, code });
    });
  }

  it('falls back to the raw text, on one line and capped', () => {
    assert.deepEqual(parseServerMessage('  upstream\n  timed out ', null), {
      message: 'upstream timed out',
      code: undefined,
    });
    assert.deepEqual(parseServerMessage('', 'application/json'), { message: undefined, code: undefined });
    assert.deepEqual(parseServerMessage('{"unexpected": [1, 2]}', 'application/json'), {
      message: '{"unexpected": [1, 2]}',
      code: undefined,
    });
    const long = parseServerMessage('x'.repeat(1000), 'text/plain').message ?? '';
    assert.equal(long.length, 300);
    assert.ok(long.endsWith('…'));
  });
});

describe('network failures', () => {
  it('classifies refused, reset, DNS, TLS and timeouts', () => {
    const refused = classifyNetworkError(connectionError('ECONNREFUSED'), undefined);
    assert.deepEqual(
      [refused.category, refused.code, refused.retryable],
      ['connection', 'ECONNREFUSED', true],
    );
    assert.equal(classifyNetworkError(connectionError('ENOTFOUND'), undefined).retryable, false);
    assert.equal(classifyNetworkError(connectionError('EAI_AGAIN'), undefined).retryable, true);
    const tls = classifyNetworkError(connectionError('ERR_TLS_CERT_ALTNAME_INVALID'), undefined);
    assert.deepEqual([tls.category, tls.retryable], ['tls', false]);
    const wrongScheme = classifyNetworkError(connectionError('ERR_SSL_WRONG_VERSION_NUMBER'), undefined);
    assert.equal(wrongScheme.category, 'tls');
    assert.match(wrongScheme.hint ?? '', /scheme/);
    const timeout = classifyNetworkError(new DOMException('aborted', 'AbortError'), { ms: 30_000 });
    assert.deepEqual(
      [timeout.category, timeout.description, timeout.retryable],
      ['timeout', 'no answer within 30 s', false],
    );
  });

  it('finds the code inside an AggregateError (several addresses tried)', () => {
    const inner = Object.assign(new Error('connect ECONNREFUSED ::1:5000'), { code: 'ECONNREFUSED' });
    const error = new TypeError('fetch failed', { cause: new AggregateError([inner], 'all failed') });
    assert.equal(classifyNetworkError(error, undefined).code, 'ECONNREFUSED');
  });

  it('keeps an unknown failure readable', () => {
    const failure = classifyNetworkError(new TypeError('fetch failed'), undefined);
    assert.deepEqual(
      [failure.category, failure.description, failure.retryable],
      ['connection', 'fetch failed', false],
    );
  });
});

describe('error classes', () => {
  const failure = classifyNetworkError(connectionError('ECONNREFUSED'), undefined);
  const errors = [
    new HttpError({
      service: 'placement',
      method: 'PUT',
      url: 'http://p/allocations/c',
      status: 409,
      requestId: 'req-1',
      serverMessage: 'conflict',
      code: 'placement.undefined_code',
    }),
    new AuthError('Keystone refused user "admin"', { url: 'http://k/v3/auth/tokens', status: 401 }),
    new ConnectionError({ service: 'compute', method: 'GET', url: 'http://n/v2.1', failure }),
    new TlsError({
      service: 'identity',
      url: 'https://k/v3',
      failure: classifyNetworkError(connectionError('CERT_HAS_EXPIRED'), undefined),
    }),
    new ServiceNotFoundError(
      'workflowv2',
      'the catalog has no workflowv2 service; services present: compute',
    ),
    new ResponseSchemaError({
      service: 'compute',
      method: 'GET',
      path: '/servers',
      detail: 'servers: missing',
    }),
  ];

  it('have distinct stable kinds, exit code 3 and one-line messages', () => {
    assert.deepEqual(
      errors.map((error) => error.kind),
      ['http', 'auth', 'connection', 'tls', 'service-not-found', 'response-schema'],
    );
    for (const error of errors) {
      assert.equal(error.exitCode, 3);
      assert.doesNotMatch(error.message, /\n/);
    }
  });

  it('HttpError leaves out the meaningless placement.undefined_code and keeps the request id', () => {
    assert.equal(
      errors[0]?.message,
      'placement PUT http://p/allocations/c failed: 409 Conflict: conflict (request req-1)',
    );
  });

  it('ConnectionError names the URL and keeps the cause', () => {
    const error = errors[2];
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.message, 'cannot reach compute at http://n/v2.1 (GET): connection refused');
    assert.ok(error.cause instanceof TypeError);
  });
});
