import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { StackdoctorError } from '../../../src/core/errors.js';
import { Redactor } from '../../../src/openstack/redact.js';
import { openSession } from '../../../src/openstack/session.js';
import {
  authUrl,
  captureLogger,
  connectionError,
  fakeCloud,
  jsonResponse,
  makeConfig,
  passwordAuth,
  recordingFetch,
  rejection,
  secrets,
} from './helpers.js';

const allSecrets = Object.values(secrets);

/** Every text an operator could see of an error: message, hint, String(), inspect() with its cause. */
function visibleTexts(error: unknown): string[] {
  assert.ok(error instanceof StackdoctorError, `expected a StackdoctorError, got ${String(error)}`);
  return [
    error.message,
    error.hint ?? '',
    String(error),
    inspect(error, { depth: 6 }),
    JSON.stringify(error),
  ];
}

function assertNoSecret(texts: readonly string[], where: string): void {
  for (const text of texts) {
    for (const secret of allSecrets) {
      assert.ok(!text.includes(secret), `${where} leaks a secret: ${text}`);
    }
  }
}

describe('no secret reaches an error or a log line', () => {
  it('server bodies echoing the password or token are scrubbed', async () => {
    const { log, lines } = captureLogger();
    const cloud = fakeCloud((call) => {
      if (call.url.includes('/echo-password')) {
        return jsonResponse(
          { badRequest: { code: 400, message: `Invalid password ${secrets.password}` } },
          400,
        );
      }
      if (call.url.includes('/echo-token')) {
        return jsonResponse(
          { error: { code: 400, message: `token ${call.headers['x-auth-token']} is odd` } },
          400,
        );
      }
      if (call.url.includes('/html-token')) {
        return new Response(`<html>X-Auth-Token: ${call.headers['x-auth-token']}</html>`, { status: 200 });
      }
      return jsonResponse({ ok: true });
    });
    const session = await openSession(makeConfig(), { fetch: cloud.fetch, log });
    const errors = [
      await rejection(session.request('compute', { path: '/echo-password' })),
      await rejection(session.request('compute', { path: '/echo-token' })),
      await rejection(session.request('compute', { path: '/html-token' })),
    ];
    const first = errors[0];
    assert.ok(first instanceof StackdoctorError);
    assert.match(first.message, /Invalid password \*\*\*/);
    await session.request('image', {
      path: '/v2/images',
      query: { password: secrets.password, token: secrets.token1 },
    });
    for (const error of errors) assertNoSecret(visibleTexts(error), 'error');
    assert.ok(
      lines.some((line) => line.includes('/v2/images?password=***&token=***')),
      lines.join('\n'),
    );
    assertNoSecret(lines, 'log');
  });

  it('authentication failures name the user, never the secret', async () => {
    const { log, lines } = captureLogger();
    const echo = recordingFetch((call) =>
      jsonResponse({ error: { code: 401, message: `bad credentials in ${call.body}` } }, 401),
    );
    const password = await rejection(openSession(makeConfig(), { fetch: echo.fetch, log }));
    const appCred = await rejection(
      openSession(
        makeConfig({
          auth: {
            type: 'application-credential',
            authUrl,
            credential: { id: 'ac-1' },
            secret: secrets.appSecret,
          },
        }),
        { fetch: echo.fetch, log },
      ),
    );
    for (const error of [password, appCred]) assertNoSecret(visibleTexts(error), 'auth error');
    assert.ok(password instanceof StackdoctorError && password.message.includes('"password":"***"'));
    assertNoSecret(lines, 'log');
  });

  it('connection and TLS failures and URL credentials', async () => {
    const refused = recordingFetch(() => {
      throw connectionError('ECONNREFUSED');
    });
    const tls = recordingFetch(() => {
      throw connectionError('CERT_HAS_EXPIRED');
    });
    const withUserInfo = makeConfig({
      auth: { ...passwordAuth(), authUrl: `http://admin:${secrets.password}@keystone.test:5000/v3` },
    });
    for (const fetch of [refused.fetch, tls.fetch]) {
      const { log, lines } = captureLogger();
      const error = await rejection(openSession(withUserInfo, { fetch, log }));
      assertNoSecret(visibleTexts(error), 'network error');
      assertNoSecret(lines, 'log');
    }
  });

  it('a non-JSON body quoting the token is scrubbed in the schema error', async () => {
    const cloud = fakeCloud((call) => new Response(`token=${call.headers['x-auth-token']}`, { status: 200 }));
    const session = await openSession(makeConfig(), { fetch: cloud.fetch });
    const error = await rejection(session.request('placement', { path: '/x' }));
    assertNoSecret(visibleTexts(error), 'schema error');
  });

  it('the debug log has method, redacted URL, status, time and request id for each request', async () => {
    const { log, lines } = captureLogger();
    const cloud = fakeCloud(() => jsonResponse({}, 200, { 'x-openstack-request-id': 'req-42' }));
    const session = await openSession(makeConfig(), { fetch: cloud.fetch, log });
    await session.request('placement', { path: '/resource_providers' });
    const line = lines.find((entry) => entry.includes('/resource_providers'));
    assert.match(
      line ?? '',
      /^debug: GET http:\/\/placement\.test:8778\/resource_providers -> 200 in \d+ ms \(request req-42\)$/,
    );
    assert.ok(
      lines.some((entry) => /^debug: POST http:\/\/keystone\.test:5000\/v3\/auth\/tokens -> 201/.test(entry)),
    );
    assertNoSecret(lines, 'log');
  });
});

describe('Redactor', () => {
  const redactor = new Redactor(['literal-secret-value']);

  it('headers: credentials by name', () => {
    assert.deepEqual(
      redactor.headers(
        new Headers({
          'X-Auth-Token': 'a',
          'x-subject-token': 'b',
          Authorization: 'Basic c',
          Accept: 'json',
        }),
      ),
      { accept: 'json', authorization: '***', 'x-auth-token': '***', 'x-subject-token': '***' },
    );
  });

  it('JSON: secret-named fields, recursively; other fields kept', () => {
    assert.deepEqual(
      redactor.json({
        auth: {
          identity: {
            password: { user: { name: 'admin', password: 'p' } },
            application_credential: { id: 'ac', secret: 's' },
            token: { id: 't' },
          },
        },
        note: 'contains literal-secret-value inside',
      }),
      {
        auth: {
          identity: {
            password: { user: { name: 'admin', password: '***' } },
            application_credential: { id: 'ac', secret: '***' },
            token: { id: 't' },
          },
        },
        note: 'contains *** inside',
      },
    );
  });

  it('URLs: user-info and secret query parameters', () => {
    assert.equal(
      redactor.url('https://user:pw@swift.example/v1/x?temp_url_sig=abc&temp_url_expires=1&limit=5'),
      'https://***@swift.example/v1/x?temp_url_sig=***&temp_url_expires=1&limit=5',
    );
    assert.equal(redactor.url('not a url password=hunter2'), 'not a url password=***');
  });

  it('text: JSON pairs, query pairs, header lines and literals', () => {
    assert.equal(
      redactor.text(
        '{"password": "p\\"w", "name": "n"} x?token=abc&y=1 X-Subject-Token: gAAA literal-secret-value',
      ),
      '{"password": "***", "name": "n"} x?token=***&y=1 X-Subject-Token: *** ***',
    );
    assert.equal(redactor.text('the token has expired'), 'the token has expired');
  });
});
