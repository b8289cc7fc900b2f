import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { adminCloud, memberCloud, readCloudEnv, runCli } from '../support/integration.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'sd-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('stackdoctor against the local cloud', () => {
  it('cloud shows the admin identity, every service and its microversion range, and no token', async () => {
    const result = await runCli(['cloud', '--os-cloud', adminCloud, '-f', 'json']);
    assert.equal(result.code, 0, result.stderr);
    const record = JSON.parse(result.stdout);
    assert.equal(record.admin, true);
    assert.match(record.compute, /microversions 2\.1–2\.93/);
    assert.match(record.placement, /microversions 1\.0–1\.39/);
    for (const service of ['identity', 'image', 'network', 'workflowv2']) {
      assert.doesNotMatch(record[service], /not in catalog/, service);
    }
    assert.ok(record.checks_runnable.includes('image/os-type'));
    assert.doesNotMatch(result.stdout + result.stderr, /gAAAA/, 'no Fernet token in the output');
  });

  it('a member sees itself as non-admin and admin-only checks are skipped with the reason', async () => {
    const result = await runCli(['cloud', '--os-cloud', memberCloud, '-f', 'json']);
    assert.equal(result.code, 0, result.stderr);
    const record = JSON.parse(result.stdout);
    assert.equal(record.admin, false);
    for (const line of record.checks_skipped as string[])
      assert.match(line, /needs the admin role|not in the catalog|microversion/);
  });

  it('a wrong password is one line, exit 3, and the password is never printed', async () => {
    const clouds = parseYaml(readFileSync(readCloudEnv().OS_CLIENT_CONFIG_FILE ?? '', 'utf8'));
    const wrong = 'definitely-Wrong-Passw0rd';
    clouds.clouds[adminCloud].auth.password = wrong;
    const file = path.join(scratch, 'clouds.yaml');
    writeFileSync(file, JSON.stringify(clouds), { mode: 0o600 });
    const result = await runCli(['cloud', '--os-cloud', adminCloud], { OS_CLIENT_CONFIG_FILE: file });
    assert.equal(result.code, 3);
    assert.equal(
      result.stderr
        .trim()
        .split('\n')
        .filter((line) => !line.startsWith('hint:')).length,
      1,
      result.stderr,
    );
    assert.match(result.stderr, /401|authenticat/i);
    assert.ok(!result.stderr.includes(wrong));
  });

  it('plain OS_* variables work without any clouds.yaml', async () => {
    const clouds = parseYaml(readFileSync(readCloudEnv().OS_CLIENT_CONFIG_FILE ?? '', 'utf8'));
    const auth = clouds.clouds[adminCloud].auth;
    const result = await runCli(['cloud', '-f', 'value', '-c', 'admin'], {
      OS_CLIENT_CONFIG_FILE: path.join(scratch, 'none.yaml'),
      OS_AUTH_URL: auth.auth_url,
      OS_USERNAME: auth.username,
      OS_PASSWORD: auth.password,
      OS_PROJECT_NAME: auth.project_name,
      OS_USER_DOMAIN_NAME: 'Default',
      OS_PROJECT_DOMAIN_NAME: 'Default',
      OS_REGION_NAME: 'RegionOne',
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'true\n');
  });

  it('check -f prometheus exposes one series per check', async () => {
    const result = await runCli([
      'check',
      'image/os-type',
      '--os-cloud',
      adminCloud,
      '-f',
      'prometheus',
      '--set',
      'image=00000000-0000-0000-0000-000000000000',
    ]);
    assert.ok([0, 1, 2].includes(result.code), result.stderr);
    assert.match(
      result.stdout,
      /^stackdoctor_check_status\{cloud="stackdoctor-admin",region="RegionOne",check="image\/os-type",status="ok"\} 1$/m,
    );
    assert.match(result.stdout, /^stackdoctor_exit_code\{.*\} 0$/m);
  });
});
