import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ConfigError } from '../../../src/core/errors.js';
import {
  describeInventoryHost,
  listGroupHosts,
  loadInventory,
  parseIniInventory,
  parseYamlInventory,
  selectInventoryHosts,
  splitHostPattern,
} from '../../../src/hosts/inventory.js';

const fixtures = new URL('./fixtures/inventory/', import.meta.url);
const readFixture = (name: string) => readFile(new URL(name, fixtures), 'utf8');
const readOrNull = (file: string) => readFile(file, 'utf8').catch(() => null);

test('INI: ranges expand with their zero padding, host:port sets the port', async () => {
  const inventory = parseIniInventory(await readFixture('multinode.ini'), 'multinode.ini');
  assert.deepEqual(listGroupHosts(inventory, 'control'), ['control01', 'control02', 'control03']);
  assert.deepEqual(listGroupHosts(inventory, 'storage'), ['storage-a', 'storage-b', 'storage-c']);
  assert.deepEqual(describeInventoryHost(inventory, 'monitor01.example.net'), {
    name: 'monitor01.example.net',
    address: 'monitor01.example.net',
    user: 'kolla',
    port: 2200,
    local: false,
  });
});

test('INI: host vars beat group vars beat all:vars; quotes and trailing comments are stripped', async () => {
  const inventory = parseIniInventory(await readFixture('multinode.ini'), 'multinode.ini');
  assert.equal(describeInventoryHost(inventory, 'control02').user, 'deploy');
  assert.equal(describeInventoryHost(inventory, 'compute01').user, 'root');
  assert.equal(describeInventoryHost(inventory, 'storage-b').user, 'kolla');
  assert.deepEqual(describeInventoryHost(inventory, 'compute10'), {
    name: 'compute10',
    address: '10.0.0.110',
    user: 'root',
    port: 2222,
    local: false,
  });
  assert.deepEqual(describeInventoryHost(inventory, 'compute11'), {
    name: 'compute11',
    address: '10.0.0.111',
    user: 'ops',
    port: undefined,
    local: false,
  });
  assert.equal(describeInventoryHost(inventory, 'localhost').local, true);
});

test('INI: children nest, hosts before any section are ungrouped', async () => {
  const inventory = parseIniInventory(await readFixture('multinode.ini'), 'multinode.ini');
  assert.deepEqual(listGroupHosts(inventory, 'mistral-api'), ['control01', 'control02', 'control03']);
  assert.deepEqual(listGroupHosts(inventory, 'ungrouped'), ['lonely.example.net']);
  assert.equal(listGroupHosts(inventory, 'baremetal').length, 3 + 5 + 1 + 3);
  assert.equal(listGroupHosts(inventory, 'all').length, 1 + 3 + 5 + 1 + 3 + 1);
});

test('--limit: groups, unions, intersections, exclusions and globs, in inventory order', async () => {
  const inventory = parseIniInventory(await readFixture('multinode.ini'), 'multinode.ini');
  assert.deepEqual(selectInventoryHosts(inventory, ['compute0*']), ['compute01', 'compute02', 'compute03']);
  assert.deepEqual(selectInventoryHosts(inventory, ['storage,monitoring']), [
    'monitor01.example.net',
    'storage-a',
    'storage-b',
    'storage-c',
  ]);
  assert.deepEqual(selectInventoryHosts(inventory, ['baremetal:!compute:!control']), [
    'monitor01.example.net',
    'storage-a',
    'storage-b',
    'storage-c',
  ]);
  assert.deepEqual(selectInventoryHosts(inventory, ['baremetal', '&mistral', '!control03']), [
    'control01',
    'control02',
  ]);
  assert.deepEqual(selectInventoryHosts(inventory, ['~^compute1\\d$']), ['compute10', 'compute11']);
  assert.equal(selectInventoryHosts(inventory, []).length, 14);
});

test('--limit: a term that matches nothing is an error, not a silently smaller run', async () => {
  const inventory = parseIniInventory(await readFixture('multinode.ini'), 'multinode.ini');
  assert.throws(
    () => selectInventoryHosts(inventory, ['comptue']),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /--limit comptue matches no host or group in multinode.ini/);
      return true;
    },
  );
  assert.throws(() => selectInventoryHosts(inventory, ['compute', '!nosuch']), ConfigError);
});

test('ranges: stride, letters, several ranges in one name, bad ranges refused', () => {
  assert.deepEqual(splitHostPattern('node[0:10:5]', 'x').names, ['node0', 'node5', 'node10']);
  assert.deepEqual(splitHostPattern('rack[1:2]-node[a:b]', 'x').names, [
    'rack1-nodea',
    'rack1-nodeb',
    'rack2-nodea',
    'rack2-nodeb',
  ]);
  assert.deepEqual(splitHostPattern('compute[01:02]:2222', 'x'), {
    names: ['compute01', 'compute02'],
    port: '2222',
  });
  assert.deepEqual(splitHostPattern('fe80::1', 'x'), { names: ['fe80::1'], port: undefined });
  assert.throws(() => splitHostPattern('node[5:1]', 'inv:3'), /inv:3: range \[5:1\] is empty/);
  assert.throws(() => splitHostPattern('node[a:10]', 'inv:3'), /neither numeric nor single letters/);
});

test('INI: malformed files name the line', () => {
  assert.throws(
    () => parseIniInventory('[compute:hostvars]\n', 'inv'),
    /inv:1: unknown section modifier :hostvars/,
  );
  assert.throws(
    () => parseIniInventory('[compute]\nhost ansible_user="x\n', 'inv'),
    /inv:2: unterminated quote/,
  );
  assert.throws(() => parseIniInventory('[compute:vars]\nnovalue\n', 'inv'), /inv:2: expected key=value/);
  assert.throws(
    () => parseIniInventory('[compute]\nhost notanassignment\n', 'inv'),
    /inv:2: expected key=value/,
  );
});

test('YAML: groups, children, vars precedence, numbers and {{ var }} references', async () => {
  const inventory = parseYamlInventory(await readFixture('osism.yml'), 'osism.yml');
  assert.deepEqual(listGroupHosts(inventory, 'compute'), ['com01', 'com02', 'com03', 'gpu01']);
  assert.deepEqual(describeInventoryHost(inventory, 'manager'), {
    name: 'manager',
    address: '192.168.16.5',
    user: 'dragon',
    port: undefined,
    local: false,
  });
  assert.deepEqual(describeInventoryHost(inventory, 'com01'), {
    name: 'com01',
    address: 'com01',
    user: 'dragon',
    port: 2222,
    local: false,
  });
  assert.deepEqual(describeInventoryHost(inventory, 'com03'), {
    name: 'com03',
    address: '192.168.16.23',
    user: 'dragon',
    port: 22,
    local: false,
  });
  // a child group inherits its parent's vars and overrides them with its own
  assert.deepEqual(describeInventoryHost(inventory, 'gpu01'), {
    name: 'gpu01',
    address: 'gpu01',
    user: 'root',
    port: 2222,
    local: false,
  });
  assert.deepEqual(selectInventoryHosts(inventory, ['control']), ['ctl01', 'ctl02']);
});

test('YAML: templates we cannot evaluate, bad ports and bad structure are refused clearly', () => {
  const templated = parseYamlInventory(
    "all:\n  hosts:\n    h1:\n      ansible_host: \"{{ lookup('env', 'X') }}\"\n",
    'inv.yml',
  );
  assert.throws(
    () => describeInventoryHost(templated, 'h1'),
    /ansible_host of h1 is a template stackdoctor cannot evaluate/,
  );
  const badPort = parseYamlInventory('all:\n  hosts:\n    h1:\n      ansible_port: ssh\n', 'inv.yml');
  assert.throws(() => describeInventoryHost(badPort, 'h1'), /ansible_port of h1 is not a port: ssh/);
  assert.throws(() => parseYamlInventory('all: [1, 2]\n', 'inv.yml'), ConfigError);
  assert.throws(() => parseYamlInventory('all:\n  hosts: [a, b]\n', 'inv.yml'), /inv.yml: .* at all.hosts/);
  assert.throws(() => parseYamlInventory('all: {\n', 'inv.yml'), /not valid YAML/);
});

test('loadInventory picks the format by extension and reports a missing file', async () => {
  const yaml = await loadInventory(new URL('osism.yml', fixtures).pathname, readOrNull);
  assert.ok(yaml.hosts.has('gpu01'));
  const ini = await loadInventory(new URL('multinode.ini', fixtures).pathname, readOrNull);
  assert.ok(ini.hosts.has('compute10'));
  await assert.rejects(
    loadInventory('/nonexistent/inventory', readOrNull),
    /inventory \/nonexistent\/inventory does not exist/,
  );
});
