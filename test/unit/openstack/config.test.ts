import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../../../src/core/errors.js';
import { type ResolveCloudConfigInput, resolveCloudConfig } from '../../../src/openstack/config.js';
import { rejection } from './helpers.js';

const scratchDirs: string[] = [];
after(async () => {
  await Promise.all(scratchDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

interface Layout {
  root: string;
  cwd: string;
  home: string;
  xdgDir: string;
  etc: string;
  input(overrides?: Partial<ResolveCloudConfigInput>): ResolveCloudConfigInput;
  write(relative: string, text: string): Promise<string>;
}

/** A scratch machine: cwd, home, an XDG_CONFIG_DIRS entry and a stand-in for /etc/openstack. */
async function layout(env: Record<string, string | undefined> = {}): Promise<Layout> {
  const root = await mkdtemp(path.join(tmpdir(), 'sd-config-'));
  scratchDirs.push(root);
  const dirs = {
    root,
    cwd: path.join(root, 'work'),
    home: path.join(root, 'home'),
    xdgDir: path.join(root, 'xdg'),
    etc: path.join(root, 'etc-openstack'),
  };
  for (const dir of [dirs.cwd, dirs.home, dirs.xdgDir, dirs.etc]) await mkdir(dir, { recursive: true });
  return {
    ...dirs,
    input: (overrides = {}) => ({
      env: { XDG_CONFIG_DIRS: dirs.xdgDir, ...env, ...overrides.env },
      cwd: dirs.cwd,
      homeDir: dirs.home,
      systemConfigDir: dirs.etc,
      ...overrides,
    }),
    async write(relative, text) {
      const file = path.join(root, relative);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, text);
      return file;
    },
  };
}

const adminCloud = (authUrl = 'http://keystone.test:5000/v3') => `
    auth:
      auth_url: ${authUrl}
      username: admin
      password: s3cret-pass
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
`;

async function configError(input: ResolveCloudConfigInput): Promise<ConfigError> {
  const error = await rejection(resolveCloudConfig(input));
  assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
  assert.equal(error.exitCode, 3);
  assert.doesNotMatch(error.message, /\n/, 'one line');
  return error;
}

describe('clouds.yaml search path', () => {
  it('reads clouds.yaml from the current directory', async () => {
    const l = await layout();
    const file = await l.write('work/clouds.yaml', `clouds:\n  mycloud:${adminCloud()}`);
    const config = await resolveCloudConfig(l.input());
    assert.equal(config.cloudName, 'mycloud');
    assert.equal(config.sources.cloudsFile, file);
    assert.equal(config.sources.line, 2);
    assert.deepEqual(config.auth, {
      type: 'password',
      authUrl: 'http://keystone.test:5000/v3',
      user: { name: 'admin', domain: { name: 'Default' } },
      password: 's3cret-pass',
      scope: { kind: 'project', project: { name: 'admin', domain: { name: 'Default' } } },
    });
    assert.equal(config.regionName, 'RegionOne');
    assert.equal(config.interface, 'public');
    assert.deepEqual(config.tls, {
      verify: true,
      caFile: undefined,
      certFile: undefined,
      keyFile: undefined,
    });
  });

  it('prefers the current directory over ~/.config/openstack over /etc/openstack', async () => {
    const l = await layout();
    await l.write('work/clouds.yaml', `clouds:\n  from-cwd:${adminCloud()}`);
    await l.write('home/.config/openstack/clouds.yaml', `clouds:\n  from-home:${adminCloud()}`);
    await l.write('etc-openstack/clouds.yaml', `clouds:\n  from-etc:${adminCloud()}`);
    assert.equal((await resolveCloudConfig(l.input())).cloudName, 'from-cwd');
    await rm(path.join(l.cwd, 'clouds.yaml'));
    assert.equal((await resolveCloudConfig(l.input())).cloudName, 'from-home');
    await rm(path.join(l.home, '.config/openstack/clouds.yaml'));
    assert.equal((await resolveCloudConfig(l.input())).cloudName, 'from-etc');
  });

  it('honours XDG_CONFIG_HOME and XDG_CONFIG_DIRS', async () => {
    const l = await layout();
    await l.write('xdg/openstack/clouds.yaml', `clouds:\n  from-xdg-dirs:${adminCloud()}`);
    assert.equal((await resolveCloudConfig(l.input())).cloudName, 'from-xdg-dirs');
    await l.write('xdg-home/openstack/clouds.yaml', `clouds:\n  from-xdg-home:${adminCloud()}`);
    const config = await resolveCloudConfig(
      l.input({ env: { XDG_CONFIG_DIRS: l.xdgDir, XDG_CONFIG_HOME: path.join(l.root, 'xdg-home') } }),
    );
    assert.equal(config.cloudName, 'from-xdg-home');
  });

  it('tries clouds.yaml, then clouds.yml, then clouds.json in one directory', async () => {
    const l = await layout();
    await l.write(
      'work/clouds.json',
      JSON.stringify({ clouds: { 'from-json': { auth: { auth_url: 'http://k:5000' } } } }),
    );
    await l.write('work/clouds.yml', `clouds:\n  from-yml:${adminCloud()}`);
    const yml = await resolveCloudConfig(l.input());
    assert.equal(yml.cloudName, 'from-yml');
    await rm(path.join(l.cwd, 'clouds.yml'));
    const error = await configError(l.input());
    assert.match(error.message, /cloud "from-json" .*clouds\.json:1\) has no password/);
  });

  it('puts OS_CLIENT_CONFIG_FILE first', async () => {
    const l = await layout();
    await l.write('work/clouds.yaml', `clouds:\n  from-cwd:${adminCloud()}`);
    const file = await l.write('elsewhere/my-clouds.yaml', `clouds:\n  from-env-file:${adminCloud()}`);
    const config = await resolveCloudConfig(l.input({ env: { OS_CLIENT_CONFIG_FILE: file } }));
    assert.equal(config.cloudName, 'from-env-file');
    assert.equal(config.sources.cloudsFile, file);
  });

  it('skips an OS_CLIENT_CONFIG_FILE that does not exist, like openstacksdk', async () => {
    const l = await layout();
    await l.write('work/clouds.yaml', `clouds:\n  from-cwd:${adminCloud()}`);
    const missing = path.join(l.root, 'nope.yaml');
    assert.equal(
      (await resolveCloudConfig(l.input({ env: { OS_CLIENT_CONFIG_FILE: missing } }))).cloudName,
      'from-cwd',
    );
    await rm(path.join(l.cwd, 'clouds.yaml'));
    const error = await configError(l.input({ env: { OS_CLIENT_CONFIG_FILE: missing } }));
    assert.match(
      error.message,
      new RegExp(`^no cloud configured: no clouds.yaml found \\(searched ${missing}, `),
    );
  });

  it('fails on an unreadable clouds.yaml (a directory), naming it', async () => {
    const l = await layout();
    await mkdir(path.join(l.cwd, 'clouds.yaml'));
    const error = await configError(l.input());
    assert.equal(error.message, `cannot read ${path.join(l.cwd, 'clouds.yaml')}: is a directory`);
  });

  it('skips a clouds.yaml it may not read, like openstacksdk, and says so', async (t) => {
    if (process.getuid?.() === 0) {
      t.skip('root reads any file: permission denied cannot be produced here');
      return;
    }
    const l = await layout();
    const { chmod } = await import('node:fs/promises');
    const locked = await l.write('work/clouds.yaml', `clouds:\n  locked:${adminCloud()}`);
    await chmod(locked, 0);
    await l.write('etc-openstack/clouds.yaml', `clouds:\n  from-etc:${adminCloud()}`);
    const config = await resolveCloudConfig(l.input());
    assert.equal(config.cloudName, 'from-etc');
    assert.deepEqual(config.warnings, [`skipped ${locked}: permission denied`]);
  });
});

describe('secure.yaml', () => {
  it('is deep-merged over clouds.yaml, found independently', async () => {
    const l = await layout();
    await l.write(
      'work/clouds.yaml',
      'clouds:\n  c:\n    auth:\n      auth_url: http://k:5000\n      username: admin\n      user_domain_name: Default\n',
    );
    const secure = await l.write(
      'home/.config/openstack/secure.yaml',
      'clouds:\n  c:\n    auth:\n      password: from-secure\n',
    );
    const config = await resolveCloudConfig(l.input());
    assert.equal(config.auth.type, 'password');
    assert.equal(config.auth.type === 'password' && config.auth.password, 'from-secure');
    assert.equal(config.sources.secureFile, secure);
    assert.equal(config.auth.type === 'password' && config.auth.authUrl, 'http://k:5000');
  });

  it('honours OS_CLIENT_SECURE_FILE', async () => {
    const l = await layout();
    await l.write('work/clouds.yaml', `clouds:\n  c:${adminCloud()}`);
    await l.write('work/secure.yaml', 'clouds:\n  c:\n    auth:\n      password: from-cwd-secure\n');
    const file = await l.write(
      'vault/secure.yaml',
      'clouds:\n  c:\n    auth:\n      password: from-env-secure\n',
    );
    const config = await resolveCloudConfig(l.input({ env: { OS_CLIENT_SECURE_FILE: file } }));
    assert.equal(config.auth.type === 'password' && config.auth.password, 'from-env-secure');
  });
});

describe('cloud selection', () => {
  async function twoClouds() {
    const l = await layout();
    await l.write(
      'work/clouds.yaml',
      `clouds:\n  alpha:${adminCloud('http://alpha:5000')}\n  beta:${adminCloud('http://beta:5000')}`,
    );
    return l;
  }

  it('uses --os-cloud, then OS_CLOUD', async () => {
    const l = await twoClouds();
    assert.equal((await resolveCloudConfig(l.input({ env: { OS_CLOUD: 'beta' } }))).cloudName, 'beta');
    assert.equal(
      (await resolveCloudConfig(l.input({ cloudName: 'alpha', env: { OS_CLOUD: 'beta' } }))).cloudName,
      'alpha',
    );
  });

  it('refuses to guess among several clouds', async () => {
    const l = await twoClouds();
    const error = await configError(l.input());
    assert.match(error.message, /no cloud selected: .*clouds\.yaml defines 2 clouds \(alpha, beta\)/);
    assert.match(error.hint ?? '', /--os-cloud/);
  });

  it('names the known clouds and the file for an unknown cloud', async () => {
    const l = await twoClouds();
    const error = await configError(l.input({ cloudName: 'gamma' }));
    assert.equal(
      error.message,
      `cloud "gamma" not found in ${path.join(l.cwd, 'clouds.yaml')}; known clouds: alpha, beta`,
    );
  });

  it('says where it looked when there is no clouds.yaml', async () => {
    const l = await layout();
    const error = await configError(l.input({ cloudName: 'gamma' }));
    assert.match(
      error.message,
      /^cloud "gamma" not found \(no clouds.yaml found; searched .*work, ~\/\.config\/openstack/,
    );
    const none = await configError(l.input());
    assert.match(none.message, /^no cloud configured: no clouds.yaml found/);
  });
});

describe('OS_* variables', () => {
  const openrc = {
    OS_AUTH_URL: 'http://keystone.env:5000/v3',
    OS_USERNAME: 'envuser',
    OS_PASSWORD: 'env-pass',
    OS_PROJECT_NAME: 'envproject',
    OS_USER_DOMAIN_NAME: 'Default',
    OS_PROJECT_DOMAIN_ID: 'default',
    OS_REGION_NAME: 'RegionEnv',
    OS_INTERFACE: 'internal',
    OS_IDENTITY_API_VERSION: '3',
  };

  it('build the envvars cloud without any clouds.yaml', async () => {
    const l = await layout();
    const config = await resolveCloudConfig(l.input({ env: openrc }));
    assert.equal(config.cloudName, 'envvars');
    assert.equal(config.sources.fromEnvironment, true);
    assert.deepEqual(config.auth, {
      type: 'password',
      authUrl: 'http://keystone.env:5000/v3',
      user: { name: 'envuser', domain: { name: 'Default' } },
      password: 'env-pass',
      scope: { kind: 'project', project: { name: 'envproject', domain: { id: 'default' } } },
    });
    assert.equal(config.regionName, 'RegionEnv');
    assert.equal(config.interface, 'internal');
  });

  it('name that cloud after OS_CLOUD_NAME', async () => {
    const l = await layout();
    const config = await resolveCloudConfig(l.input({ env: { ...openrc, OS_CLOUD_NAME: 'openrc' } }));
    assert.equal(config.cloudName, 'openrc');
  });

  it('make the envvars cloud the default over a single file cloud, but OS_CLOUD wins', async () => {
    const l = await layout();
    await l.write('work/clouds.yaml', `clouds:\n  filecloud:${adminCloud()}`);
    assert.equal((await resolveCloudConfig(l.input({ env: openrc }))).cloudName, 'envvars');
    const file = await resolveCloudConfig(l.input({ env: { ...openrc, OS_CLOUD: 'filecloud' } }));
    assert.equal(file.cloudName, 'filecloud');
    // openstacksdk does not patch a file cloud with OS_* auth variables.
    assert.equal(file.auth.type === 'password' && file.auth.password, 's3cret-pass');
    assert.equal(file.regionName, 'RegionOne');
  });

  it('selectors alone do not make a cloud', async () => {
    const l = await layout();
    await l.write('work/clouds.yaml', `clouds:\n  only:${adminCloud()}`);
    const config = await resolveCloudConfig(
      l.input({ env: { OS_REGION_NAME: 'RegionOne', OS_CLOUD_NAME: 'x' } }),
    );
    assert.equal(config.cloudName, 'only');
  });

  it('refuse a file cloud with the environment cloud name', async () => {
    const l = await layout();
    await l.write('work/clouds.yaml', `clouds:\n  envvars:${adminCloud()}`);
    const error = await configError(l.input({ env: openrc }));
    assert.match(
      error.message,
      /defines a cloud named "envvars", the name of the cloud built from OS_\* variables/,
    );
  });

  it('read OS_INSECURE like openstacksdk: only "true" is true', async () => {
    const l = await layout();
    const on = await resolveCloudConfig(l.input({ env: { ...openrc, OS_INSECURE: 'True' } }));
    assert.equal(on.tls.verify, false);
    const off = await resolveCloudConfig(l.input({ env: { ...openrc, OS_INSECURE: 'yes' } }));
    assert.equal(off.tls.verify, true);
  });

  it('infer the token plugin from OS_TOKEN without a password', async () => {
    const l = await layout();
    const config = await resolveCloudConfig(
      l.input({ env: { OS_AUTH_URL: 'http://k:5000', OS_TOKEN: 'tok-123456', OS_PROJECT_ID: 'p1' } }),
    );
    assert.equal(config.authType, 'token');
    assert.deepEqual(config.auth, {
      type: 'token',
      authUrl: 'http://k:5000',
      token: 'tok-123456',
      scope: { kind: 'project', project: { id: 'p1' } },
    });
  });

  it('build an application-credential cloud and ignore a leftover project', async () => {
    const l = await layout();
    const config = await resolveCloudConfig(
      l.input({
        env: {
          OS_AUTH_TYPE: 'v3applicationcredential',
          OS_AUTH_URL: 'http://k:5000/v3',
          OS_APPLICATION_CREDENTIAL_ID: 'ac-1',
          OS_APPLICATION_CREDENTIAL_SECRET: 'ac-secret',
          OS_PROJECT_NAME: 'leftover',
        },
      }),
    );
    assert.deepEqual(config.auth, {
      type: 'application-credential',
      authUrl: 'http://k:5000/v3',
      credential: { id: 'ac-1' },
      secret: 'ac-secret',
    });
    assert.equal(config.warnings.length, 1);
    assert.match(config.warnings[0] ?? '', /ignored with an application credential/);
  });
});

describe('malformed files', () => {
  it('names the file, line and column of a YAML syntax error', async () => {
    const l = await layout();
    const file = await l.write(
      'work/clouds.yaml',
      'clouds:\n  broken:\n    auth: {auth_url: http://k\n  other: 1\n',
    );
    const error = await configError(l.input());
    assert.match(error.message, new RegExp(`^malformed YAML in ${file}:4:3: `));
  });

  it('names the file of malformed JSON', async () => {
    const l = await layout();
    const file = await l.write('work/clouds.json', '{"clouds": {"a": {,}}}');
    const error = await configError(l.input());
    assert.match(error.message, new RegExp(`^malformed JSON in ${file}:1:`));
  });

  it('rejects a file that is not a mapping', async () => {
    const l = await layout();
    const file = await l.write('work/clouds.yaml', '- just\n- a list\n');
    const error = await configError(l.input());
    assert.equal(error.message, `${file} is not a mapping (expected "clouds:" at the top)`);
  });

  it('rejects a cloud entry that is not a mapping, naming its line', async () => {
    const l = await layout();
    const file = await l.write('work/clouds.yaml', `clouds:\n  good:${adminCloud()}  bad: 42\n`);
    const error = await configError(l.input({ cloudName: 'bad' }));
    assert.equal(error.message, `cloud "bad" (${file}:11) is not a mapping`);
  });

  it('treats an empty file as no configuration', async () => {
    const l = await layout();
    await l.write('work/clouds.yaml', '');
    const error = await configError(l.input());
    assert.match(error.message, /^no cloud configured/);
  });

  it('reads YAML 1.1 booleans the way PyYAML does', async () => {
    const l = await layout();
    await l.write('work/clouds.yaml', `clouds:\n  c:${adminCloud()}    verify: no\n`);
    assert.equal((await resolveCloudConfig(l.input())).tls.verify, false);
  });
});

describe('cloud entry normalisation', () => {
  it('reports a missing auth_url with the cloud and the file line', async () => {
    const l = await layout();
    const file = await l.write(
      'work/clouds.yaml',
      'clouds:\n  first: {auth: {auth_url: "http://k"}}\n  nourl:\n    auth:\n      username: admin\n      password: hidden-pass\n',
    );
    const error = await configError(l.input({ cloudName: 'nourl' }));
    assert.equal(error.message, `cloud "nourl" (${file}:3) has no auth_url`);
    assert.doesNotMatch(`${error.message} ${error.hint}`, /hidden-pass/);
  });

  it('accepts dashes, top-level plugin options, tenant_* keys and a shared domain_name', async () => {
    const l = await layout();
    await l.write(
      'work/clouds.yaml',
      [
        'clouds:',
        '  legacy:',
        '    auth-type: password',
        '    username: admin',
        '    password: pw-legacy',
        '    tenant-name: demo',
        '    domain_name: Users',
        '    auth:',
        '      auth-url: http://k:5000',
        '    endpoint_type: internalURL',
        '',
      ].join('\n'),
    );
    const config = await resolveCloudConfig(l.input());
    assert.deepEqual(config.auth, {
      type: 'password',
      authUrl: 'http://k:5000',
      user: { name: 'admin', domain: { name: 'Users' } },
      password: 'pw-legacy',
      scope: { kind: 'project', project: { name: 'demo', domain: { name: 'Users' } } },
    });
    assert.equal(config.interface, 'internal');
  });

  it('keeps domain_name as a domain scope when no project is given', async () => {
    const l = await layout();
    await l.write(
      'work/clouds.yaml',
      'clouds:\n  d:\n    auth: {auth_url: "http://k", user_id: u1, password: pw-dom, domain_name: Ops}\n',
    );
    const config = await resolveCloudConfig(l.input());
    assert.deepEqual(config.auth.type === 'password' && config.auth.scope, {
      kind: 'domain',
      domain: { name: 'Ops' },
    });
    assert.deepEqual(config.auth.type === 'password' && config.auth.user, { id: 'u1' });
  });

  it('supports system scope and ids throughout', async () => {
    const l = await layout();
    await l.write(
      'work/clouds.yaml',
      'clouds:\n  s:\n    auth: {auth_url: "http://k", user_id: u1, password: pw-sys, system_scope: all}\n',
    );
    const config = await resolveCloudConfig(l.input());
    assert.deepEqual(config.auth.type === 'password' && config.auth.scope, { kind: 'system' });
  });

  it('explains a user or project name without a domain', async () => {
    const l = await layout();
    await l.write(
      'work/clouds.yaml',
      'clouds:\n  u:\n    auth: {auth_url: "http://k", username: admin, password: pw}\n  p:\n    auth: {auth_url: "http://k", user_id: u1, password: pw, project_name: demo}\n',
    );
    assert.match(
      (await configError(l.input({ cloudName: 'u' }))).message,
      /user "admin" is given by name but without a domain/,
    );
    assert.match(
      (await configError(l.input({ cloudName: 'p' }))).message,
      /project "demo" is given by name but without a domain/,
    );
  });

  it('expands {keys} in auth_url', async () => {
    const l = await layout();
    await l.write(
      'work/clouds.yaml',
      'clouds:\n  t:\n    region_name: r1\n    auth: {auth_url: "https://{region_name}.example:5000", user_id: u, password: pw}\n',
    );
    const config = await resolveCloudConfig(l.input());
    assert.equal(config.auth.type === 'password' && config.auth.authUrl, 'https://r1.example:5000');
  });

  it('rejects Keystone v2', async () => {
    const l = await layout();
    await l.write('work/clouds.yaml', `clouds:\n  c:${adminCloud()}    identity_api_version: 2\n`);
    assert.match((await configError(l.input())).message, /identity_api_version 2 is not supported/);
  });
});

describe('regions', () => {
  const regional = `clouds:
  multi:
    auth: {auth_url: "http://k", user_id: u, password: pw}
    regions:
      - name: RegionOne
      - name: RegionTwo
        values:
          interface: internal
          compute_endpoint_override: http://nova.two:8774/v2.1
`;

  it('defaults to the first region', async () => {
    const l = await layout();
    await l.write('work/clouds.yaml', regional);
    const config = await resolveCloudConfig(l.input());
    assert.equal(config.regionName, 'RegionOne');
    assert.equal(config.interface, 'public');
    assert.deepEqual(config.services, {});
  });

  it('applies the values of the requested region', async () => {
    const l = await layout();
    await l.write('work/clouds.yaml', regional);
    const config = await resolveCloudConfig(l.input({ regionName: 'RegionTwo' }));
    assert.equal(config.regionName, 'RegionTwo');
    assert.equal(config.interface, 'internal');
    assert.equal(config.services.compute?.endpointOverride, 'http://nova.two:8774/v2.1');
  });

  it('rejects an unknown region, listing the valid ones', async () => {
    const l = await layout();
    await l.write('work/clouds.yaml', regional);
    const error = await configError(l.input({ regionName: 'regionone' }));
    assert.equal(
      error.message,
      'region "regionone" is not a region of cloud "multi"; valid choices: RegionOne, RegionTwo',
    );
  });

  it('passes a requested region through when the cloud names none', async () => {
    const l = await layout();
    await l.write(
      'work/clouds.yaml',
      'clouds:\n  c:\n    auth: {auth_url: "http://k", user_id: u, password: pw}\n',
    );
    assert.equal((await resolveCloudConfig(l.input({ regionName: 'Anywhere' }))).regionName, 'Anywhere');
  });
});

describe('interface, TLS, timeouts and per-service settings', () => {
  it('lets command-line options win and normalises interface spellings', async () => {
    const l = await layout();
    await l.write(
      'work/clouds.yaml',
      `clouds:\n  c:${adminCloud()}    interface: internal\n    verify: true\n`,
    );
    const config = await resolveCloudConfig(l.input({ interface: 'adminURL', insecure: true }));
    assert.equal(config.interface, 'admin');
    assert.equal(config.tls.verify, false);
  });

  it('rejects an unknown interface', async () => {
    const l = await layout();
    await l.write('work/clouds.yaml', `clouds:\n  c:${adminCloud()}    interface: outside\n`);
    assert.match(
      (await configError(l.input())).message,
      /interface "outside" is not one of public, internal, admin/,
    );
  });

  it('expands ~ in cacert and ignores it when verification is off', async () => {
    const l = await layout();
    await l.write(
      'work/clouds.yaml',
      `clouds:\n  c:${adminCloud()}    cacert: ~/ca/cloud.pem\n    cert: client.pem\n`,
    );
    const config = await resolveCloudConfig(l.input());
    assert.equal(config.tls.caFile, path.join(l.home, 'ca/cloud.pem'));
    assert.equal(config.tls.certFile, path.join(l.cwd, 'client.pem'));
    const cli = await resolveCloudConfig(l.input({ cacert: '/srv/ca.pem' }));
    assert.equal(cli.tls.caFile, '/srv/ca.pem');
    const insecure = await resolveCloudConfig(l.input({ insecure: true }));
    assert.equal(insecure.tls.caFile, undefined);
  });

  it('treats a verify path as a CA bundle', async () => {
    const l = await layout();
    await l.write('work/clouds.yaml', `clouds:\n  c:${adminCloud()}    verify: /etc/ssl/cloud-ca.pem\n`);
    const config = await resolveCloudConfig(l.input());
    assert.deepEqual(config.tls, {
      verify: true,
      caFile: '/etc/ssl/cloud-ca.pem',
      certFile: undefined,
      keyFile: undefined,
    });
  });

  it('reads api_timeout (and folds legacy per-service timeouts into it)', async () => {
    const l = await layout();
    await l.write(
      'work/clouds.yaml',
      `clouds:\n  a:${adminCloud()}    api_timeout: 7.5\n  b:${adminCloud()}    compute_timeout: 12\n`,
    );
    assert.equal((await resolveCloudConfig(l.input({ cloudName: 'a' }))).timeoutMs, 7500);
    assert.equal((await resolveCloudConfig(l.input({ cloudName: 'b' }))).timeoutMs, 12_000);
  });

  it('collects per-service overrides, including the workflow alias', async () => {
    const l = await layout();
    await l.write(
      'work/clouds.yaml',
      `clouds:\n  c:${adminCloud()}    placement_endpoint_override: http://placement.local:8778\n    compute_interface: internal\n    compute_api_version: "2.60"\n    image_region_name: RegionTwo\n    workflow_endpoint_override: http://mistral.local:8989/v2\n    compute_default_microversion: "2.53"\n`,
    );
    const config = await resolveCloudConfig(l.input());
    assert.deepEqual(config.services.placement, {
      endpointOverride: 'http://placement.local:8778',
      interface: undefined,
      regionName: undefined,
      apiVersion: undefined,
      defaultMicroversion: undefined,
    });
    assert.equal(config.services.compute?.interface, 'internal');
    assert.equal(config.services.compute?.apiVersion, '2.60');
    assert.equal(config.services.compute?.defaultMicroversion, '2.53');
    assert.equal(config.services.image?.regionName, 'RegionTwo');
    assert.equal(config.services.workflowv2?.endpointOverride, 'http://mistral.local:8989/v2');
  });

  it('rejects an endpoint override that is not a URL', async () => {
    const l = await layout();
    await l.write(
      'work/clouds.yaml',
      `clouds:\n  c:${adminCloud()}    placement_endpoint_override: placement:8778\n`,
    );
    assert.match(
      (await configError(l.input())).message,
      /placement_endpoint_override "placement:8778" is not an http\(s\) URL/,
    );
  });
});

describe('auth types', () => {
  async function single(entry: string, overrides: Partial<ResolveCloudConfigInput> = {}) {
    const l = await layout();
    await l.write('work/clouds.yaml', `clouds:\n  c:\n${entry}`);
    return { l, input: l.input(overrides) };
  }

  it('application credential by name and user', async () => {
    const { input } = await single(
      '    auth_type: v3applicationcredential\n    auth:\n      auth_url: http://k\n      application_credential_name: sd-ac\n      application_credential_secret: ac-secret\n      username: admin\n      user_domain_id: default\n',
    );
    const config = await resolveCloudConfig(input);
    assert.deepEqual(config.auth, {
      type: 'application-credential',
      authUrl: 'http://k',
      credential: { name: 'sd-ac', user: { name: 'admin', domain: { id: 'default' } } },
      secret: 'ac-secret',
    });
  });

  it('v3token, admin_token and token_endpoint, none', async () => {
    const token = await single(
      '    auth_type: v3token\n    auth: {auth_url: "http://k", token: t-123456, project_id: p}\n',
    );
    assert.equal((await resolveCloudConfig(token.input)).auth.type, 'token');
    const admin = await single(
      '    auth_type: token_endpoint\n    auth: {endpoint: "http://svc:1234", token: t-123456}\n',
    );
    const adminConfig = await resolveCloudConfig(admin.input);
    assert.equal(adminConfig.authType, 'admin_token');
    assert.deepEqual(adminConfig.auth, {
      type: 'admin-token',
      token: 't-123456',
      endpoint: 'http://svc:1234',
    });
    const none = await single('    auth_type: none\n    placement_endpoint_override: http://p:8778\n');
    assert.deepEqual((await resolveCloudConfig(none.input)).auth, { type: 'none', endpoint: undefined });
  });

  it('rejects unsupported plugins clearly', async () => {
    const { input } = await single('    auth_type: v3totp\n    auth: {auth_url: "http://k"}\n');
    const error = await configError(input);
    assert.match(error.message, /auth_type "v3totp" is not supported$/);
    assert.match(error.hint ?? '', /v3applicationcredential/);
  });

  it('asks for auth_type when application-credential settings meet the password plugin', async () => {
    const { input } = await single(
      '    auth_type: password\n    auth: {auth_url: "http://k", application_credential_id: a, application_credential_secret: s-123456}\n',
    );
    const error = await configError(input);
    assert.match(error.hint ?? '', /auth_type: v3applicationcredential/);
    assert.doesNotMatch(error.message, /s-123456/);
  });

  it('reports a missing password without printing other secrets', async () => {
    const { input } = await single(
      '    auth: {auth_url: "http://k", username: u, user_domain_id: d, token: tok-secret-1}\n    auth_type: password\n',
    );
    const error = await configError(input);
    assert.match(error.message, /has no password$/);
    assert.doesNotMatch(`${String(error)} ${error.hint}`, /tok-secret-1/);
  });
});
