import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { resolveCloudConfig } from '../../src/openstack/config.js';
import { AuthError, ConnectionError, HttpError } from '../../src/openstack/errors.js';
import { openSession } from '../../src/openstack/session.js';
import type { CloudSession } from '../../src/openstack/types.js';
import { adminCloud, memberCloud, readCloudEnv } from '../support/integration.js';

/**
 * The session layer against the real local cloud (Debian 12 = Zed). Without the cloud the tests fail with
 * the reason: CI always brings it up first.
 */

const scratch = mkdtempSync(path.join(os.tmpdir(), 'sd-session-'));
let cloudsFile = '';
const sessions: CloudSession[] = [];

before(() => {
  const env = readCloudEnv();
  cloudsFile = env.OS_CLIENT_CONFIG_FILE ?? '';
  assert.notEqual(cloudsFile, '', 'cloud.env has no OS_CLIENT_CONFIG_FILE');
});

after(async () => {
  await Promise.all(sessions.map((session) => session.close()));
  rmSync(scratch, { recursive: true, force: true });
});

async function open(cloudName: string, file = cloudsFile): Promise<CloudSession> {
  const config = await resolveCloudConfig({
    cloudName,
    env: { OS_CLIENT_CONFIG_FILE: file },
    cwd: scratch,
    homeDir: scratch,
    systemConfigDir: scratch,
  });
  const session = await openSession(config, { timeoutMs: 30_000 });
  sessions.push(session);
  return session;
}

const cloudsSchema = z.object({
  clouds: z.record(
    z.string(),
    z.looseObject({ auth: z.looseObject({ auth_url: z.string(), password: z.string().optional() }) }),
  ),
});

/** A clouds.yaml in the scratch directory (mode 0600), built from the cloud's own. */
function writeClouds(name: string, clouds: Record<string, unknown>): string {
  const file = path.join(scratch, `${name}.yaml`);
  writeFileSync(file, JSON.stringify({ clouds }), { mode: 0o600 });
  return file;
}

function adminEntry() {
  const parsed = cloudsSchema.parse(parseYaml(readFileSync(cloudsFile, 'utf8')));
  const entry = parsed.clouds[adminCloud];
  assert.ok(entry, `${cloudsFile} has no ${adminCloud}`);
  return entry;
}

describe('password authentication', () => {
  it('the admin cloud is admin', async () => {
    const session = await open(adminCloud);
    assert.equal(session.identity.isAdmin, true);
    assert.equal(session.identity.userName, 'admin');
    assert.equal(session.identity.projectName, 'admin');
    assert.equal(session.identity.method, 'password');
    assert.ok(Date.parse(session.identity.expiresAt) > Date.now());
  });

  it('the member cloud is not', async () => {
    const session = await open(memberCloud);
    assert.equal(session.identity.isAdmin, false);
    assert.ok(session.identity.roles.includes('member'), session.identity.roles.join(','));
  });

  it('a wrong password is an AuthError with Keystone 401 and no password in it', async () => {
    const wrong = `sd-test-wrong-${randomUUID()}`;
    const entry = adminEntry();
    const file = writeClouds('wrong-password', {
      bad: { ...entry, auth: { ...entry.auth, password: wrong } },
    });
    const config = await resolveCloudConfig({
      cloudName: 'bad',
      env: { OS_CLIENT_CONFIG_FILE: file },
      cwd: scratch,
      homeDir: scratch,
    });
    let error: unknown;
    try {
      await openSession(config);
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof AuthError, String(error));
    assert.equal(error.status, 401);
    assert.equal(error.exitCode, 3);
    assert.match(
      error.message,
      /^Keystone refused user "admin" .*: 401 Unauthorized: The request you have made requires authentication\./,
    );
    assert.ok(!`${String(error)} ${error.hint}`.includes(wrong));
  });

  it('a closed port is a ConnectionError naming the URL', async () => {
    const port = await unusedPort();
    const entry = adminEntry();
    const file = writeClouds('closed-port', {
      closed: { ...entry, auth: { ...entry.auth, auth_url: `http://127.0.0.1:${port}/v3` } },
    });
    const config = await resolveCloudConfig({
      cloudName: 'closed',
      env: { OS_CLIENT_CONFIG_FILE: file },
      cwd: scratch,
      homeDir: scratch,
    });
    let error: unknown;
    try {
      await openSession(config, { maxRetries: 0 });
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof ConnectionError, String(error));
    assert.equal(
      error.message,
      `cannot reach identity at http://127.0.0.1:${port}/v3/auth/tokens (POST): connection refused`,
    );
  });
});

describe('catalog and versions', () => {
  it('has compute, placement, image, network and workflowv2', async () => {
    const session = await open(adminCloud);
    for (const service of ['identity', 'compute', 'placement', 'image', 'network', 'workflowv2'] as const) {
      assert.equal(session.hasService(service), true, service);
      assert.match(session.endpoint(service).url, /^https?:\/\//, service);
    }
  });

  it('reports the Zed microversion ranges', async () => {
    const session = await open(adminCloud);
    assert.deepEqual(await session.versionInfo('compute'), {
      version: '2.1',
      minMicroversion: '2.1',
      maxMicroversion: '2.93',
    });
    assert.deepEqual(await session.versionInfo('placement'), {
      version: '1.0',
      minMicroversion: '1.0',
      maxMicroversion: '1.39',
    });
    const image = await session.versionInfo('image');
    assert.match(image.version ?? '', /^2\.1[5-9]$/);
    assert.equal((await session.versionInfo('workflowv2')).version, '2.0');
    assert.match((await session.versionInfo('identity')).version ?? '', /^3\.\d+$/);
  });
});

describe('requests against the services', () => {
  it('compute with a microversion, validated, with its request id', async () => {
    const session = await open(adminCloud);
    const response = await session.request('compute', {
      path: '/os-services',
      microversion: '2.53',
      schema: z.object({ services: z.array(z.looseObject({ id: z.string(), binary: z.string() })) }),
    });
    assert.ok(response.body.services.some((service) => service.binary === 'nova-compute'));
    assert.match(response.requestId ?? '', /^req-/);
    assert.equal(response.headers.get('openstack-api-version'), 'compute 2.53');
  });

  it('pages through Glance and Placement lists', async () => {
    const session = await open(adminCloud);
    let images = 0;
    for await (const _image of session.paginate('image', {
      path: '/v2/images',
      query: { visibility: 'all' },
      itemsKey: 'images',
      paging: { kind: 'next', nextKey: 'next' },
      itemSchema: z.looseObject({ id: z.string() }),
      pageSize: 1,
    })) {
      images += 1;
      if (images === 3) break;
    }
    assert.ok(images >= 1, 'the seeded cloud has images');
    let providers = 0;
    for await (const _provider of session.paginate('placement', {
      path: '/resource_providers',
      microversion: '1.39',
      itemsKey: 'resource_providers',
      paging: { kind: 'none' },
      itemSchema: z.looseObject({ uuid: z.string() }),
    })) {
      providers += 1;
    }
    assert.ok(providers >= 1, 'the compute node has a resource provider');
  });

  it('parses the real error bodies of Nova, Placement and Glance', async () => {
    const session = await open(adminCloud);
    const missing = randomUUID();
    const errors = await Promise.all([
      session.request('compute', { path: `/servers/${missing}` }).catch((error: unknown) => error),
      session
        .request('placement', { path: `/resource_providers/${missing}`, microversion: '1.39' })
        .catch((error: unknown) => error),
      session.request('image', { path: `/v2/images/${missing}` }).catch((error: unknown) => error),
    ]);
    const [nova, placement, glance] = errors;
    assert.ok(nova instanceof HttpError, String(nova));
    assert.equal(nova.status, 404);
    assert.match(nova.serverMessage ?? '', new RegExp(`Instance ${missing} could not be found`));
    assert.match(nova.requestId ?? '', /^req-/);
    assert.ok(placement instanceof HttpError, String(placement));
    assert.match(placement.serverMessage ?? '', new RegExp(missing));
    assert.match(placement.code ?? '', /^placement\./);
    assert.ok(glance instanceof HttpError, String(glance));
    assert.match(glance.serverMessage ?? '', new RegExp(`No image found with ID ${missing}`));
    for (const error of [nova, placement, glance]) assert.doesNotMatch(error.message, /\n/);
  });
});

describe('application credentials', () => {
  const credentialSchema = z.object({
    application_credential: z.looseObject({ id: z.string(), name: z.string(), secret: z.string() }),
  });

  it('authenticate by id and by name + user, then are deleted', async () => {
    const admin = await open(adminCloud);
    const userId = admin.identity.userId;
    const name = `sd-test-${randomUUID().slice(0, 8)}`;
    const created = await admin.request('identity', {
      method: 'POST',
      path: `/users/${userId}/application_credentials`,
      body: { application_credential: { name, description: 'stackdoctor integration test' } },
      schema: credentialSchema,
      acceptStatus: [201],
    });
    const { id, secret } = created.body.application_credential;
    try {
      const { auth_url } = adminEntry().auth;
      const file = writeClouds('app-cred', {
        byId: {
          auth_type: 'v3applicationcredential',
          auth: { auth_url, application_credential_id: id, application_credential_secret: secret },
        },
        byName: {
          auth_type: 'v3applicationcredential',
          // A leftover project must not be sent: Keystone refuses a scope with an application credential.
          auth: {
            auth_url,
            application_credential_name: name,
            application_credential_secret: secret,
            user_id: userId,
            project_name: 'admin',
          },
        },
      });
      for (const cloud of ['byId', 'byName']) {
        const session = await open(cloud, file);
        assert.equal(session.identity.method, 'application_credential', cloud);
        assert.equal(session.identity.userId, userId);
        assert.equal(session.identity.projectName, 'admin');
        assert.equal(session.identity.isAdmin, true);
        assert.equal(session.hasService('placement'), true);
      }
    } finally {
      await admin.request('identity', {
        method: 'DELETE',
        path: `/users/${userId}/application_credentials/${id}`,
        acceptStatus: [204, 404],
      });
    }
    const gone = await admin.request('identity', {
      path: `/users/${userId}/application_credentials`,
      query: { name },
      schema: z.object({ application_credentials: z.array(z.looseObject({ id: z.string() })) }),
    });
    assert.deepEqual(gone.body.application_credentials, []);
  });
});

/** A port nothing listens on: bound, then released. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}
