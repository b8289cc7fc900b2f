import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostCommandError, HostKeyError, HostUnreachableError } from '../../../src/hosts/errors.js';
import { forEachHost } from '../../../src/hosts/fanout.js';

const hosts = Array.from({ length: 25 }, (_, index) => ({
  name: `compute${String(index + 1).padStart(2, '0')}`,
}));

test('no more than `forks` hosts are worked on at once; results come back in input order', async () => {
  let inFlight = 0;
  let highest = 0;
  const outcomes = await forEachHost(
    hosts,
    async (host) => {
      inFlight += 1;
      highest = Math.max(highest, inFlight);
      // finish in scrambled order so input order is not an accident
      await new Promise((resolve) => setTimeout(resolve, (Number(host.name.slice(-2)) * 7) % 11));
      inFlight -= 1;
      return host.name.toUpperCase();
    },
    { forks: 4 },
  );
  assert.equal(highest, 4);
  assert.deepEqual(
    outcomes.map((outcome) => (outcome.status === 'ok' ? outcome.value : outcome.status)),
    hosts.map((host) => host.name.toUpperCase()),
  );
});

test('unreachable hosts and refused host keys are skipped with the reason; other hosts still run', async () => {
  const outcomes = await forEachHost(hosts.slice(0, 4), async (host) => {
    if (host.name === 'compute01')
      throw new HostUnreachableError(host.name, 'cannot reach compute01: Connection refused');
    if (host.name === 'compute02')
      throw new HostKeyError(host.name, 'host key for compute02 is not in known_hosts');
    if (host.name === 'compute03')
      throw new HostCommandError(host.name, 'virsh list on compute03 exited with 1');
    return 'fine';
  });
  assert.deepEqual(outcomes.slice(0, 2), [
    {
      host: 'compute01',
      status: 'skipped',
      reason: 'cannot reach compute01: Connection refused',
      kind: 'host-unreachable',
    },
    {
      host: 'compute02',
      status: 'skipped',
      reason: 'host key for compute02 is not in known_hosts',
      kind: 'host-key',
    },
  ]);
  assert.equal(outcomes[2]?.status, 'failed');
  assert.equal(
    outcomes[2]?.status === 'failed' ? outcomes[2].reason : '',
    'virsh list on compute03 exited with 1',
  );
  assert.deepEqual(outcomes[3], { host: 'compute04', status: 'ok', value: 'fine' });
});

test('a host that takes longer than the per-host timeout is skipped and its work is aborted', async () => {
  let abortedFor = '';
  const outcomes = await forEachHost(
    [{ name: 'slow' }, { name: 'quick' }],
    (host, signal) =>
      new Promise<string>((resolve) => {
        if (host.name === 'quick') return resolve('done');
        signal.addEventListener('abort', () => {
          abortedFor = host.name;
        });
      }),
    { perHostTimeoutMs: 50 },
  );
  assert.deepEqual(outcomes, [
    { host: 'slow', status: 'skipped', reason: 'no result within 50 ms', kind: 'host-timeout' },
    { host: 'quick', status: 'ok', value: 'done' },
  ]);
  assert.equal(abortedFor, 'slow');
});

test('an aborted run skips the hosts not started yet', async () => {
  const controller = new AbortController();
  const outcomes = await forEachHost(
    hosts.slice(0, 3),
    async (host) => {
      controller.abort();
      return host.name;
    },
    { forks: 1, signal: controller.signal },
  );
  assert.deepEqual(
    outcomes.map((outcome) => outcome.status),
    ['ok', 'skipped', 'skipped'],
  );
});

test('forks must be a positive integer', async () => {
  await assert.rejects(
    forEachHost(hosts, async () => 1, { forks: 0 }),
    RangeError,
  );
});
