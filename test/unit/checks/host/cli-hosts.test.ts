import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { allChecks } from '../../../../src/checks/index.js';
import {
  createCloudlessSession,
  createHostProvider,
  hostKeyRecorder,
  needsCloud,
} from '../../../../src/cli/hosts.js';
import type { HostOptions } from '../../../../src/cli/options.js';
import { silentLogger } from '../../../../src/core/logger.js';

// The CLI side of host checks (src/cli/hosts.ts): which hosts a run gets from its options.
const options = (overrides: Partial<HostOptions> = {}): HostOptions => ({
  host: [],
  limit: [],
  forks: 10,
  ...overrides,
});
const deps = (cwd: string, hypervisors: string[] = []) => ({
  cwd,
  log: silentLogger,
  localName: 'this-machine',
  listHypervisors: async () => hypervisors,
  recordHostKey: async () => {},
});

describe('createHostProvider', () => {
  it('no host option: this machine, as a local host named by its hostname', async () => {
    const provider = createHostProvider(options(), deps('/'));
    assert.deepEqual(await provider.list(), [{ name: 'this-machine', address: 'localhost', local: true }]);
    const outcomes = await provider.forEach(
      async (host) => (await host.readFile('/proc/self/stat')) !== null,
    );
    assert.deepEqual(outcomes, [{ host: 'this-machine', status: 'ok', value: true }]);
  });

  it('--root: one host named after the directory (or --host), whose writes are refused', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sd-test-host-root-'));
    try {
      const provider = createHostProvider(options({ root: dir, host: ['compute07'] }), deps('/'));
      const [spec] = await provider.list();
      assert.equal(spec?.name, 'compute07');
      const host = await provider.open(spec!);
      await assert.rejects(host.writeFileAtomic('/x.conf', 'x', 0o644), /refusing to change \/x\.conf/);
      await assert.rejects(
        host.run(['true'], { timeoutMs: 1000, maxOutputBytes: 100 }),
        /refusing to run true/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('--root with an inventory is a usage error', () => {
    assert.throws(
      () => createHostProvider(options({ root: '/tmp', inventory: 'hosts' }), deps('/')),
      /--root is one host/,
    );
  });

  it('--hypervisors with an inventory: Nova names the hosts, the inventory says how to reach them', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sd-test-host-inv-'));
    try {
      await writeFile(
        path.join(dir, 'inventory'),
        '[compute]\ncompute01 ansible_host=10.0.0.11 ansible_user=ops\n',
      );
      const provider = createHostProvider(
        options({ inventory: 'inventory', hypervisors: true }),
        deps(dir, ['compute01.example.org']),
      );
      assert.deepEqual(await provider.list(), [
        { name: 'compute01.example.org', address: '10.0.0.11', user: 'ops', port: undefined },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a selection that matches nothing is an error, not a silent run on this machine', async () => {
    const provider = createHostProvider(options({ hypervisors: true }), deps('/', []));
    await assert.rejects(provider.list(), /the host options select no host/);
  });
});

describe('host-only runs', () => {
  it('need no cloud session unless a cloud check or --hypervisors is selected', () => {
    const host = allChecks.filter((check) => check.meta.id === 'host/nested-virtualisation');
    assert.equal(needsCloud(host, {}), false);
    assert.equal(needsCloud(host, { hypervisors: true }), true);
    assert.equal(needsCloud(allChecks, {}), true);
  });

  it('the cloudless session names itself and refuses any API use with a configuration error', async () => {
    const session = createCloudlessSession('(no cloud)');
    assert.equal(session.cloudName, '(no cloud)');
    assert.equal(session.hasService('compute'), false);
    await assert.rejects(
      session.request('compute', { path: '/servers' }),
      /no cloud session: only host checks/,
    );
  });

  it('an accepted host key is appended to accepted-host-keys.jsonl, mode 0600', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sd-test-host-keys-'));
    try {
      const record = hostKeyRecorder(dir, 'ops@admin01', () => new Date('2025-01-02T03:04:05Z'));
      await record({
        host: 'compute01',
        address: '10.0.0.11',
        message: "Warning: Permanently added '10.0.0.11'",
      });
      const file = path.join(dir, 'accepted-host-keys.jsonl');
      assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), {
        at: '2025-01-02T03:04:05.000Z',
        operator: 'ops@admin01',
        host: 'compute01',
        address: '10.0.0.11',
        message: "Warning: Permanently added '10.0.0.11'",
      });
      assert.equal((await stat(file)).mode & 0o777, 0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
