import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConnectionError, TlsError } from '../../../src/openstack/errors.js';
import { openSession } from '../../../src/openstack/session.js';
import {
  fixturesDir,
  makeConfig,
  passwordAuth,
  readFixture,
  rejection,
  secrets,
  tokenBody,
} from './helpers.js';

/**
 * The real transport (Node's fetch and, for TLS settings, an undici Agent) against local servers: the
 * error classification and the TLS options must hold for real sockets, not only for a fake fetch.
 */

function keystone(request: IncomingMessage, response: ServerResponse): void {
  if (request.method === 'POST' && request.url === '/v3/auth/tokens') {
    response.writeHead(201, { 'Content-Type': 'application/json', 'X-Subject-Token': secrets.token1 });
    response.end(JSON.stringify(tokenBody()));
    return;
  }
  response.writeHead(404);
  response.end();
}

const https = createHttpsServer(
  { key: readFixture('tls-test-key.pem'), cert: readFixture('tls-test-cert.pem') },
  keystone,
);
const http = createHttpServer(keystone);
function portOf(server: Server): number {
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

let httpsPort = 0;
let httpPort = 0;

before(async () => {
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  httpsPort = portOf(https);
  httpPort = portOf(http);
});

after(() => {
  https.close();
  http.close();
  https.closeAllConnections();
  http.closeAllConnections();
});

function configFor(authUrl: string, tls: Partial<ReturnType<typeof makeConfig>['tls']> = {}) {
  const base = makeConfig();
  return makeConfig({ auth: { ...passwordAuth(), authUrl }, tls: { ...base.tls, ...tls } });
}

describe('real sockets', () => {
  it('an untrusted certificate is a TlsError', async () => {
    const error = await rejection(openSession(configFor(`https://localhost:${httpsPort}/v3`)));
    assert.ok(error instanceof TlsError, String(error));
    assert.match(
      error.message,
      /certificate verification failed \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\)/,
    );
  });

  it('verify: false (--insecure) connects', async () => {
    const session = await openSession(configFor(`https://localhost:${httpsPort}/v3`, { verify: false }));
    assert.equal(session.identity.userName, 'admin');
    await session.close();
  });

  it('cacert (--os-cacert) trusts the cloud CA', async () => {
    const session = await openSession(
      configFor(`https://localhost:${httpsPort}/v3`, { caFile: path.join(fixturesDir, 'tls-test-cert.pem') }),
    );
    assert.equal(session.identity.isAdmin, true);
    await session.close();
  });

  it('https to a plain-HTTP port is a TlsError about the scheme', async () => {
    const error = await rejection(openSession(configFor(`https://127.0.0.1:${httpPort}/v3`)));
    assert.ok(error instanceof TlsError, String(error));
    assert.match(error.hint ?? '', /scheme/);
  });

  it('a closed port is a ConnectionError naming the URL', async () => {
    const closed = createHttpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = portOf(closed);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await rejection(openSession(configFor(`http://127.0.0.1:${port}/v3`)));
    assert.ok(error instanceof ConnectionError, String(error));
    assert.equal(
      error.message,
      `cannot reach identity at http://127.0.0.1:${port}/v3/auth/tokens (POST): connection refused`,
    );
  });

  it('plain HTTP with keep-alive works', async () => {
    const session = await openSession(configFor(`http://127.0.0.1:${httpPort}`));
    assert.equal(session.identity.projectName, 'admin');
  });
});
