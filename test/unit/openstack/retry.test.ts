import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionError, HttpError } from '../../../src/openstack/errors.js';
import { retryAfterMs } from '../../../src/openstack/session.js';
import type { HttpMethod } from '../../../src/openstack/types.js';
import { connectionError, jsonResponse, openTestSession, rejection, serviceCalls } from './helpers.js';

/** A service that fails with `failures` in order, then answers 200. */
function flaky(failures: (() => Response)[]) {
  let index = 0;
  return () => {
    const next = failures[index];
    index += 1;
    return next === undefined ? jsonResponse({ ok: true }) : next();
  };
}

const unavailable = () => new Response('busy', { status: 503 });
const reset = () => {
  throw connectionError('ECONNRESET');
};

describe('retries of GET and HEAD', () => {
  it('retries a 503 with jittered exponential backoff', async () => {
    const { session, calls, delays } = await openTestSession(flaky([unavailable, unavailable]));
    const response = await session.request('compute', { path: '/servers' });
    assert.equal(response.status, 200);
    assert.equal(serviceCalls(calls).length, 3);
    // random() pinned to 0.5: half the window plus a quarter of it.
    assert.deepEqual(delays, [375, 750]);
  });

  it('retries a reset connection, and HEAD too', async () => {
    const { session, calls } = await openTestSession(flaky([reset, unavailable]));
    const response = await session.request('image', { method: 'HEAD', path: '/v2/images/i1' });
    assert.equal(response.status, 200);
    assert.deepEqual(
      serviceCalls(calls).map((call) => call.method),
      ['HEAD', 'HEAD', 'HEAD'],
    );
  });

  it('honours Retry-After in seconds on 429', async () => {
    const { session, delays } = await openTestSession(
      flaky([() => new Response('slow down', { status: 429, headers: { 'Retry-After': '2' } })]),
    );
    await session.request('placement', { path: '/resource_providers' });
    assert.deepEqual(delays, [2000]);
  });

  it('honours Retry-After as an HTTP date', async () => {
    const { session, delays } = await openTestSession(
      flaky([
        () => new Response('', { status: 503, headers: { 'Retry-After': 'Tue, 01 Jan 2030 11:30:05 GMT' } }),
      ]),
    );
    await session.request('placement', { path: '/resource_providers' });
    assert.deepEqual(delays, [5000]);
  });

  it('gives up after the bounded number of attempts', async () => {
    const { session, calls, delays } = await openTestSession(() => unavailable(), {
      deps: { maxRetries: 2 },
    });
    const error = await rejection(session.request('compute', { path: '/servers' }));
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 503);
    assert.equal(serviceCalls(calls).length, 3);
    assert.equal(delays.length, 2);
  });

  it('does not wait for an unreasonable Retry-After', async () => {
    const { session, calls } = await openTestSession(
      () => new Response('', { status: 429, headers: { 'Retry-After': '3600' } }),
    );
    const error = await rejection(session.request('compute', { path: '/servers' }));
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 429);
    assert.equal(serviceCalls(calls).length, 1);
  });

  for (const [what, handler] of [
    ['501 Not Implemented', () => new Response('', { status: 501 })],
    ['404 Not Found', () => new Response('', { status: 404 })],
  ] as const) {
    it(`does not retry ${what}`, async () => {
      const { session, calls } = await openTestSession(handler);
      assert.ok((await rejection(session.request('compute', { path: '/servers' }))) instanceof HttpError);
      assert.equal(serviceCalls(calls).length, 1);
    });
  }

  it('does not retry an unknown host or a timeout', async () => {
    const dns = await openTestSession(() => {
      throw connectionError('ENOTFOUND');
    });
    assert.ok(
      (await rejection(dns.session.request('compute', { path: '/servers' }))) instanceof ConnectionError,
    );
    assert.equal(serviceCalls(dns.calls).length, 1);

    const slow = await openTestSession(
      (call) =>
        new Promise<Response>((_resolve, reject) => {
          call.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        }),
    );
    const error = await rejection(slow.session.request('compute', { path: '/servers', timeoutMs: 10 }));
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.code, 'timeout');
    assert.equal(serviceCalls(slow.calls).length, 1);
  });
});

describe('mutations are never retried', () => {
  const mutations: HttpMethod[] = ['POST', 'PUT', 'PATCH', 'DELETE'];
  for (const method of mutations) {
    it(`${method} on 503: one call, HttpError`, async () => {
      const { session, calls, delays } = await openTestSession(() => unavailable());
      const error = await rejection(
        session.request('placement', { method, path: '/allocations/c1', body: {} }),
      );
      assert.ok(error instanceof HttpError);
      assert.equal(error.method, method);
      assert.equal(serviceCalls(calls).length, 1);
      assert.deepEqual(delays, []);
    });

    it(`${method} on a reset connection: one call, ConnectionError`, async () => {
      const { session, calls } = await openTestSession(reset);
      const error = await rejection(
        session.request('placement', { method, path: '/allocations/c1', body: {} }),
      );
      assert.ok(error instanceof ConnectionError);
      assert.match(error.message, new RegExp(`\\(${method}\\): connection reset by peer$`));
      assert.equal(serviceCalls(calls).length, 1);
    });

    it(`${method} on 429: one call`, async () => {
      const { session, calls } = await openTestSession(
        () => new Response('', { status: 429, headers: { 'Retry-After': '1' } }),
      );
      assert.ok(
        (await rejection(session.request('placement', { method, path: '/x', body: {} }))) instanceof
          HttpError,
      );
      assert.equal(serviceCalls(calls).length, 1);
    });
  }
});

describe('Retry-After parsing', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  it('reads seconds, HTTP dates (past ones as 0) and ignores garbage', () => {
    assert.equal(retryAfterMs('7', now), 7000);
    assert.equal(retryAfterMs('Tue, 01 Jan 2030 00:01:00 GMT', now), 60_000);
    assert.equal(retryAfterMs('Mon, 31 Dec 2029 00:00:00 GMT', now), 0);
    assert.equal(retryAfterMs('soon', now), undefined);
    assert.equal(retryAfterMs(null, now), undefined);
  });
});
