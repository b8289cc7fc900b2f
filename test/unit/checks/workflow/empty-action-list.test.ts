import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  type ActionListFacts,
  decideActionSource,
  diagnoseActionList,
  sourceOfRelease,
} from '../../../../src/checks/workflow/action-diagnosis.js';
import check from '../../../../src/checks/workflow/empty-action-list.js';
import {
  findProviderLogLines,
  isMistralApiProcess,
  locateMistral,
  readProviderConfig,
} from '../../../../src/checks/workflow/mistral-install.js';
import type { JsonObject } from '../../../../src/core/json.js';
import { LocalHost } from '../../../../src/hosts/index.js';
import type { ApiResponse, RequestOptions, ServiceType } from '../../../../src/openstack/types.js';
import { listMistralActions } from '../../../../src/openstack/workflow.js';
import { MemoryCloud } from '../../../support/memory-cloud.js';

const controllerRoot = path.resolve(import.meta.dirname, '../../../fixtures/hosts/mistral-controller');
const std = (name: string) => ({ name, id: name });
const zedRuntime = {
  version: '15.0.0',
  providers: ['adhoc', 'dynamic', 'legacy'],
  actions: 13,
  generators: 0,
};
const disabledConfig = readProviderConfig(
  '[legacy_action_provider]\nload_action_plugins = false\nload_action_generators = false\n',
  '/etc/kolla/mistral-api/mistral.conf',
);

describe('which release, and so where the actions come from', () => {
  const cases: [string, string][] = [
    ['ussuri', 'database'],
    ['10.0.0', 'database'],
    ['train', 'database'],
    ['victoria', 'providers'],
    ['11.1.0', 'providers'],
    ['2024.1', 'providers'],
    ['zed', 'providers'],
    ['next-year', 'unknown'],
  ];
  for (const [release, source] of cases) {
    it(`${release} → ${source}`, () => assert.equal(sourceOfRelease(release), source));
  }

  it('takes evidence in order: given release, installed version, API features, listing, log, configuration', () => {
    const decided = decideActionSource({
      actions: [],
      dynamicActionsApi: true,
      runtime: zedRuntime,
      config: disabledConfig,
    });
    assert.equal(decided.source, 'providers');
    assert.deepEqual(decided.evidence, [
      'installed Mistral 15.0.0 (≥ 11: Victoria or newer)',
      'the API has /v2/dynamic_actions (Wallaby or newer)',
      '/etc/kolla/mistral-api/mistral.conf has [legacy_action_provider] (an option of Victoria or newer)',
    ]);
  });
});

describe('diagnoseActionList', () => {
  const table: {
    name: string;
    facts: ActionListFacts;
    problem: string | null;
    fixable?: boolean;
    message?: RegExp;
  }[] = [
    {
      name: 'standard actions listed: nothing to report',
      facts: { actions: [std('std.echo'), std('std.noop')], dynamicActionsApi: true },
      problem: null,
    },
    {
      name: 'Ussuri (version 10.0.0 on the controller), empty list: populate never ran, fixable',
      facts: {
        actions: [],
        dynamicActionsApi: false,
        runtime: { ...zedRuntime, version: '10.0.0', providers: [] },
      },
      problem: 'populate-never-ran',
      fixable: true,
      message:
        /Mistral lists no actions: up to Ussuri actions live in the database, so `mistral-db-manage populate` never ran \(installed Mistral 10\.0\.0/,
    },
    {
      name: 'Zed, providers disabled in mistral.conf: not fixable, names the line',
      facts: { actions: [], dynamicActionsApi: true, runtime: zedRuntime, config: disabledConfig },
      problem: 'providers-not-loaded',
      fixable: false,
      message:
        /cause: \[legacy_action_provider\] load_action_plugins = false \(\/etc\/kolla\/mistral-api\/mistral\.conf:2\)\. populate does not help/,
    },
    {
      name: 'Victoria without the dynamic_actions API, told by the log line',
      facts: {
        actions: [],
        dynamicActionsApi: false,
        logLines: [
          {
            signature: 'mistral-no-action-providers',
            count: 1,
            lastLine: 7,
            lastText: 'No action providers found in the system.',
          },
        ],
      },
      problem: 'providers-not-loaded',
      fixable: false,
    },
    {
      name: 'a broken install: no legacy provider entry point',
      facts: { actions: [], dynamicActionsApi: true, runtime: { ...zedRuntime, providers: ['adhoc'] } },
      problem: 'providers-not-loaded',
      message: /lacks "legacy" \(has: adhoc\): broken install/,
    },
    {
      name: 'only the ad-hoc std.wait_ssh after populate on Zed: still the providers',
      facts: {
        actions: [{ name: 'std.wait_ssh', id: 'c7c0a1e4-0d4e-4a45-9c55-1a7cbb9d7b60' }],
        dynamicActionsApi: true,
      },
      problem: 'providers-not-loaded',
      message:
        /Mistral lists 1 action\(s\) \(std\.wait_ssh\) but none of the standard std\.\* actions: .*\(std\.wait_ssh is already there\)/,
    },
    {
      name: 'no host, no Wallaby API, empty: the release cannot be told',
      facts: { actions: [], dynamicActionsApi: false },
      problem: 'source-unknown',
      fixable: false,
    },
    {
      name: 'a given release the controller contradicts is followed, and the contradiction is said',
      facts: { actions: [], dynamicActionsApi: true, releaseGiven: 'ussuri', runtime: zedRuntime },
      problem: 'populate-never-ran',
      message: /\(--set mistral_release=ussuri; yet installed Mistral 15\.0\.0/,
    },
  ];
  for (const { name, facts, problem, fixable, message } of table) {
    it(name, () => {
      const diagnosis = diagnoseActionList(facts);
      assert.equal(diagnosis?.problem ?? null, problem);
      if (fixable !== undefined) assert.equal(diagnosis?.fixable, fixable);
      if (message !== undefined) assert.match(diagnosis?.message ?? '', message);
    });
  }
});

describe('the controller, read from a collected copy (--root) laid out like a package install', () => {
  it('finds mistral-server --server api, its --config-file, the mistral-db-manage next to it and its log', async () => {
    const host = new LocalHost({ name: 'control01', root: controllerRoot });
    assert.deepEqual(await locateMistral(host), {
      where: 'host',
      container: null,
      engine: null,
      configFile: '/etc/mistral/mistral.conf',
      configOnHost: '/etc/mistral/mistral.conf',
      dbManage: '/opt/mistral/bin/mistral-db-manage',
      python: '/usr/bin/python3',
      logFile: '/var/log/mistral/mistral-api.log',
    });
  });

  it('reads the provider options (oslo booleans, comments) and the startup log line', async () => {
    const host = new LocalHost({ name: 'control01', root: controllerRoot });
    const config = readProviderConfig(
      (await host.readFile('/etc/mistral/mistral.conf')) ?? '',
      'mistral.conf',
    );
    assert.deepEqual(config.loadActionPlugins, { value: 'False', file: 'mistral.conf', line: 9 });
    assert.equal(config.loadActionGenerators, null);
    const lines = findProviderLogLines((await host.readFile('/var/log/mistral/mistral-api.log')) ?? '');
    assert.deepEqual(
      lines.map((line) => [line.signature, line.lastLine]),
      [['mistral-no-action-providers', 2]],
    );
  });

  it('tells the API process from the engine and executor', () => {
    const process = (cmdline: string[]) => ({ pid: 1, ppid: 0, uid: 0, comm: 'mistral-server', cmdline });
    assert.equal(isMistralApiProcess(process(['/usr/bin/mistral-server', '--server', 'engine'])), false);
    assert.equal(isMistralApiProcess(process(['/usr/bin/mistral-server', '--server', 'api,engine'])), true);
    assert.equal(isMistralApiProcess(process(['/usr/bin/python3', '/usr/bin/mistral-api'])), true);
    assert.equal(
      isMistralApiProcess(process(['uwsgi', '--ini', '/etc/mistral/mistral-api-uwsgi.ini'])),
      true,
    );
  });
});

/** Mistral's provider-based paging: `next` carries the last name as marker, and that name comes again. */
class PagedMistral extends MemoryCloud {
  readonly names = Array.from({ length: 2500 }, (_, index) => `std.a${String(index).padStart(5, '0')}`);
  override hasService(service: ServiceType): boolean {
    return service === 'workflowv2';
  }
  override async request<T = unknown>(
    service: ServiceType,
    options: RequestOptions<T>,
  ): Promise<ApiResponse<T>> {
    if (options.path === '/actions') {
      const marker = options.query?.marker;
      const start = typeof marker === 'string' ? this.names.indexOf(marker) : 0;
      const page = this.names.slice(start, start + 1000);
      const body: JsonObject = { actions: page.map((name) => ({ name, id: name })) };
      if (start + 1000 < this.names.length)
        body.next = `http://mistral/v2/actions?marker=${page.at(-1)}&limit=1000`;
      this.documents.set('/actions', body);
    }
    if (options.path === '/dynamic_actions') this.documents.set('/dynamic_actions', { dynamic_actions: [] });
    return super.request(service, options);
  }
}

describe('listing', () => {
  it('follows next markers, de-duplicates the repeated marker and stops', async () => {
    const cloud = new PagedMistral();
    const actions = await listMistralActions(cloud);
    assert.equal(actions.length, 2500);
    assert.equal(cloud.calls.filter((call) => call.path === '/actions').length, 3);
  });

  it('the check reports nothing when the standard actions are there, without touching any host', async () => {
    const cloud = new PagedMistral();
    cloud.names.splice(0, cloud.names.length, 'std.echo', 'std.noop');
    const found = [];
    for await (const finding of check.detect({
      cloud,
      parameters: {},
      now: () => new Date(),
      log: { debug: () => {}, info: () => {}, warn: () => {} },
      signal: new AbortController().signal,
    })) {
      found.push(finding);
    }
    assert.deepEqual(found, []);
  });
});
