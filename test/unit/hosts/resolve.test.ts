import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { UsageError } from '../../../src/core/errors.js';
import { parseIniInventory } from '../../../src/hosts/inventory.js';
import { parseHostArgument, resolveHosts } from '../../../src/hosts/resolve.js';

const inventoryText = await readFile(new URL('./fixtures/inventory/multinode.ini', import.meta.url), 'utf8');
const inventory = parseIniInventory(inventoryText, 'multinode.ini');

test('--host values: name, user@name, name:port, bracketed IPv6', () => {
  assert.deepEqual(parseHostArgument('compute01'), {
    name: 'compute01',
    address: 'compute01',
    user: undefined,
    port: undefined,
  });
  assert.deepEqual(parseHostArgument('root@10.0.0.5:2222'), {
    name: '10.0.0.5',
    address: '10.0.0.5',
    user: 'root',
    port: 2222,
  });
  assert.deepEqual(parseHostArgument('ops@[fe80::1]:22'), {
    name: 'fe80::1',
    address: 'fe80::1',
    user: 'ops',
    port: 22,
  });
  assert.throws(() => parseHostArgument('a b'), UsageError);
  assert.throws(() => parseHostArgument('host:0'), /bad port/);
});

test('an inventory alone gives its hosts, narrowed by --limit', () => {
  const specs = resolveHosts({ inventory, limit: ['compute'] });
  assert.deepEqual(
    specs.map((spec) => [spec.name, spec.address, spec.user, spec.port]),
    [
      ['compute01', 'compute01', 'root', undefined],
      ['compute02', 'compute02', 'root', undefined],
      ['compute03', 'compute03', 'root', undefined],
      ['compute10', '10.0.0.110', 'root', 2222],
      ['compute11', '10.0.0.111', 'ops', undefined],
    ],
  );
  assert.equal(resolveHosts({ inventory }).length, 14);
});

test('named hosts define the set; the inventory only says how to reach them', () => {
  const specs = resolveHosts({ hosts: ['compute10', 'other.example.net', 'root@compute11:2200'], inventory });
  assert.deepEqual(specs, [
    { name: 'compute10', address: '10.0.0.110', user: 'root', port: 2222 },
    { name: 'other.example.net', address: 'other.example.net', user: undefined, port: undefined },
    { name: 'compute11', address: '10.0.0.111', user: 'root', port: 2200 },
  ]);
});

test("Nova's hypervisor names find inventory hosts by full name, short name or ansible_host", () => {
  const specs = resolveHosts({
    hypervisors: ['compute01.cloud.example.net', '10.0.0.110', 'compute02', 'unknown-hv.example.net'],
    inventory,
  });
  assert.deepEqual(
    specs.map((spec) => [spec.name, spec.address, spec.user, spec.port]),
    [
      ['compute01.cloud.example.net', 'compute01', 'root', undefined],
      ['10.0.0.110', '10.0.0.110', 'root', 2222],
      ['compute02', 'compute02', 'root', undefined],
      ['unknown-hv.example.net', 'unknown-hv.example.net', undefined, undefined],
    ],
  );
});

test('--limit narrows named hosts to those the inventory puts in the selection', () => {
  const specs = resolveHosts({
    hypervisors: ['compute01', 'control01', 'unknown'],
    inventory,
    limit: ['compute'],
  });
  assert.deepEqual(
    specs.map((spec) => spec.name),
    ['compute01'],
  );
  assert.throws(() => resolveHosts({ hosts: ['a'], limit: ['compute'] }), /--limit needs an inventory/);
});

test('a named host the inventory marks ansible_connection=local stays local', () => {
  assert.deepEqual(resolveHosts({ hosts: ['localhost'], inventory }), [
    { name: 'localhost', address: 'localhost', user: 'kolla', port: undefined, local: true },
  ]);
});

test('duplicates collapse and nothing selected means this machine (empty list)', () => {
  assert.deepEqual(
    resolveHosts({ hosts: ['a', 'a'], hypervisors: ['a'] }).map((spec) => spec.name),
    ['a'],
  );
  assert.deepEqual(resolveHosts({}), []);
});
