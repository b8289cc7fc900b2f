import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCliProcess } from '../../support/cli.js';

/**
 * Bad input end to end through the real CLI: each case must give one line on stderr naming the cause,
 * exit code 3 (4 for refusals), no stack trace and no secret. Keystone is played by a local HTTP server
 * that answers the way a broken or hostile endpoint would.
 */
const secret = 'Sup3r-S3cret-Passw0rd';
let directory: string;
let server: Server;
let port: number;
let behaviour: (
  url: string,
  respond: (status: number, body: string, headers?: Record<string, string>) => void,
) => void;

function run(args: string[], env: Record<string, string> = {}) {
  return runCliProcess(args, {
    cwd: directory,
    env: { PATH: process.env.PATH ?? '', HOME: directory, NO_COLOR: '1', ...env },
  });
}

function cloudsYaml(authUrl: string, extra = ''): string {
  return `clouds:
  good:
    auth:
      auth_url: ${authUrl}
      username: admin
      password: ${secret}
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
${extra}
  other:
    auth:
      auth_url: ${authUrl}
      username: x
      password: ${secret}
`;
}

function assertOneLineError(result: { code: number; stderr: string }, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, `exit code; stderr: ${result.stderr}`);
  const lines = result.stderr
    .trimEnd()
    .split('\n')
    .filter((line) => !line.startsWith('hint: '));
  assert.equal(lines.length, 1, `one line of error, got: ${result.stderr}`);
  assert.match(lines[0] ?? '', pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.ok(!result.stderr.includes(secret), 'no password in the error');
}

before(async () => {
  directory = mkdtempSync(path.join(os.tmpdir(), 'sd-badinput-'));
  server = createServer((request, response) => {
    behaviour(request.url ?? '', (status, body, headers = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(() => {
  server.closeAllConnections();
  server.close();
  rmSync(directory, { recursive: true, force: true });
});

describe('bad input gives one line and exit 3', () => {
  it('an unknown cloud name lists the known ones', async () => {
    writeFileSync(path.join(directory, 'clouds.yaml'), cloudsYaml(`http://127.0.0.1:${port}/v3`));
    const result = await run(['cloud', '--os-cloud', 'nope']);
    assertOneLineError(result, 3, /nope.*(good.*other|other.*good)/);
  });

  it('a malformed clouds.yaml names the file and line', async () => {
    writeFileSync(path.join(directory, 'clouds.yaml'), 'clouds:\n  good:\n    auth: [unclosed\n');
    const result = await run(['cloud', '--os-cloud', 'good']);
    assertOneLineError(result, 3, /clouds\.yaml:\d+/);
  });

  it('a wrong password is Keystone’s 401, without the password', async () => {
    writeFileSync(path.join(directory, 'clouds.yaml'), cloudsYaml(`http://127.0.0.1:${port}/v3`));
    behaviour = (_url, respond) =>
      respond(
        401,
        JSON.stringify({
          error: {
            code: 401,
            title: 'Unauthorized',
            message: 'The request you have made requires authentication.',
          },
        }),
      );
    const result = await run(['cloud', '--os-cloud', 'good']);
    assertOneLineError(result, 3, /401|authenticat/i);
  });

  it('a refused connection names the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    writeFileSync(path.join(directory, 'clouds.yaml'), cloudsYaml(`http://127.0.0.1:${closedPort}/v3`));
    const result = await run(['cloud', '--os-cloud', 'good']);
    assertOneLineError(result, 3, new RegExp(`127\\.0\\.0\\.1:${closedPort}`));
  });

  it('a Keystone that never answers times out', async () => {
    writeFileSync(
      path.join(directory, 'clouds.yaml'),
      cloudsYaml(`http://127.0.0.1:${port}/v3`, '    api_timeout: 1'),
    );
    behaviour = () => {};
    const result = await run(['cloud', '--os-cloud', 'good']);
    assertOneLineError(result, 3, /no answer within 1 s/);
  });

  it('garbage instead of JSON is reported, not parsed', async () => {
    writeFileSync(path.join(directory, 'clouds.yaml'), cloudsYaml(`http://127.0.0.1:${port}/v3`));
    behaviour = (_url, respond) =>
      respond(201, '<html>proxy error</html>', { 'x-subject-token': 'tok-123456' });
    const result = await run(['cloud', '--os-cloud', 'good']);
    assertOneLineError(result, 3, /JSON|schema|response/i);
    assert.ok(!result.stderr.includes('tok-123456'), 'no token in the error');
  });

  it('a 5xx from Keystone is reported with its status', async () => {
    writeFileSync(path.join(directory, 'clouds.yaml'), cloudsYaml(`http://127.0.0.1:${port}/v3`));
    behaviour = (_url, respond) =>
      respond(503, JSON.stringify({ error: { message: 'Service Unavailable' } }));
    const result = await run(['cloud', '--os-cloud', 'good']);
    assertOneLineError(result, 3, /503/);
  });

  it('an unwritable journal directory stops a fix before it connects', async () => {
    writeFileSync(path.join(directory, 'blocker'), '');
    behaviour = () => assert.fail('must not connect');
    writeFileSync(path.join(directory, 'clouds.yaml'), cloudsYaml(`http://127.0.0.1:${port}/v3`));
    const result = await run([
      'fix',
      '--apply',
      '--os-cloud',
      'good',
      '--journal-dir',
      path.join(directory, 'blocker', 'journal'),
    ]);
    assertOneLineError(result, 3, /journal directory .* is not writable/);
  });

  it('an unknown output format is a usage error', async () => {
    const result = await run(['list', '-f', 'xml']);
    assertOneLineError(result, 3, /-f xml/);
  });

  it('a check glob that matches nothing is a usage error', async () => {
    const result = await run(['check', 'image/os-typo']);
    assertOneLineError(result, 3, /no check matches "image\/os-typo"/);
  });
});

describe('commands without a cloud', () => {
  it('--version prints the version', async () => {
    const result = await run(['--version']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^stackdoctor \d+\.\d+\.\d+\n$/);
  });

  it('list shows the catalogue as JSON rows', async () => {
    const result = await run(['list', '-f', 'json']);
    assert.equal(result.code, 0);
    const rows: { ID: string }[] = JSON.parse(result.stdout);
    assert.ok(rows.some((row) => row.ID === 'image/os-type'));
  });

  it('explain prints the runbook page', async () => {
    const result = await run(['explain', 'image/os-type']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /# image\/os-type/);
  });
});
