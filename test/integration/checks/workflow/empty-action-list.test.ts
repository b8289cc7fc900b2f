import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { z } from 'zod';
import type { CloudSession } from '../../../../src/openstack/types.js';
import { listMistralActions } from '../../../../src/openstack/workflow.js';
import {
  adminCloud,
  openCloud,
  readCloudEnv,
  runCli,
  temporaryJournalDir,
} from '../../../support/integration.js';

// The real local Mistral (Debian's 15.0.0, Zed: action providers). The broken state is seed.sh's Mistral
// fault alone — mistral-api restarted with [legacy_action_provider] load_action_plugins/generators = false —
// made with the cloud scripts' own helpers (mistral-providers.sh), and put back at the end, also on failure.
// `populate` runs through the local host layer: the CLI finds the running mistral-api process, its
// --config-file and the mistral-db-manage next to it, and runs it on this machine.
const run = promisify(execFile);
const toggle = path.join(import.meta.dirname, 'mistral-providers.sh');
const findingSchema = z.object({
  checks: z.array(
    z.object({
      status: z.string(),
      findings: z.array(
        z.object({
          severity: z.string(),
          message: z.string(),
          fixable: z.boolean(),
          target: z.object({ kind: z.string() }),
          evidence: z.looseObject({
            problem: z.string(),
            actionSource: z.string(),
            releaseEvidence: z.array(z.string()),
            causes: z.array(z.string()),
            actions: z.array(z.string()),
            controller: z.looseObject({ configFile: z.string(), dbManage: z.string() }).nullable(),
          }),
        }),
      ),
    }),
  ),
});

let cloud: CloudSession;
let seededBefore = false;
let waitSshBefore = false;
let journalDir: string;
const cloudEnv = readCloudEnv();
const seedStamp = path.join(
  cloudEnv.STACKDOCTOR_CLOUD_DIR ?? '/var/tmp/stackdoctor-cloud',
  'stamps/seed-mistral',
);

async function setProviders(state: 'disable' | 'enable'): Promise<void> {
  await run('bash', [toggle, state], {
    env: { ...process.env, STACKDOCTOR_CLOUD_DIR: cloudEnv.STACKDOCTOR_CLOUD_DIR },
  });
}

async function actionNames(): Promise<string[]> {
  return (await listMistralActions(cloud)).map((action) => action.name);
}

/** `std.wait_ssh`, which populate adds, goes again: seed.sh expects an empty list when providers are off. */
async function removeWaitSsh(): Promise<void> {
  if (!(await actionNames()).includes('std.wait_ssh')) return;
  await cloud.request('workflowv2', {
    method: 'DELETE',
    path: '/actions/std.wait_ssh',
    acceptStatus: [204, 404],
  });
}

before(async () => {
  cloud = await openCloud(adminCloud);
  seededBefore = existsSync(seedStamp);
  waitSshBefore = (await actionNames()).includes('std.wait_ssh');
  journalDir = temporaryJournalDir();
  if (seededBefore) await setProviders('enable');
});

after(async () => {
  try {
    if (!waitSshBefore) await removeWaitSsh();
    if (seededBefore !== existsSync(seedStamp)) await setProviders(seededBefore ? 'disable' : 'enable');
    assert.equal((await actionNames()).includes('std.wait_ssh'), waitSshBefore, 'std.wait_ssh left behind');
  } finally {
    await cloud.close();
    await rm(journalDir, { recursive: true, force: true });
  }
});

const check = (extra: string[] = []) =>
  runCli([
    'check',
    'workflow/empty-action-list',
    '--os-cloud',
    adminCloud,
    '-f',
    'json',
    '--journal-dir',
    journalDir,
    ...extra,
  ]);

describe('workflow/empty-action-list on the real Mistral', () => {
  it('the normal configuration passes: the standard actions are listed', async () => {
    assert.ok((await actionNames()).includes('std.echo'));
    const result = await check();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(findingSchema.parse(JSON.parse(result.stdout)).checks[0]?.status, 'ok');
  });

  it('providers disabled: an empty list, diagnosed as providers not loaded (Zed), with the configuration line', async () => {
    await setProviders('disable');
    assert.deepEqual(
      (await actionNames()).filter((name) => name !== 'std.wait_ssh'),
      [],
    );
    const result = await check();
    assert.equal(result.code, 2, result.stderr);
    const finding = findingSchema.parse(JSON.parse(result.stdout)).checks[0]?.findings[0];
    assert.ok(finding);
    assert.equal(finding.target.kind, 'cloud');
    assert.equal(finding.evidence.problem, 'providers-not-loaded');
    assert.equal(finding.evidence.actionSource, 'providers');
    assert.ok(
      finding.evidence.releaseEvidence.includes('installed Mistral 15.0.0 (≥ 11: Victoria or newer)'),
    );
    assert.ok(
      finding.evidence.releaseEvidence.includes('the API has /v2/dynamic_actions (Wallaby or newer)'),
    );
    assert.match(
      finding.evidence.causes[0] ?? '',
      new RegExp(
        `^\\[legacy_action_provider\\] load_action_plugins = false \\(${cloudEnv.STACKDOCTOR_MISTRAL_CONF}:\\d+\\)$`,
      ),
    );
    assert.equal(finding.evidence.controller?.configFile, cloudEnv.STACKDOCTOR_MISTRAL_CONF);
    assert.equal(finding.fixable, false);
    assert.match(finding.message, /populate does not help: it only adds ad-hoc actions/);

    // nothing to run since Victoria: the plan is empty, the configuration change is in the finding
    const plan = await runCli([
      'fix',
      'workflow/empty-action-list',
      '--os-cloud',
      adminCloud,
      '--journal-dir',
      journalDir,
    ]);
    assert.doesNotMatch(plan.stdout, /populate/);
  });

  it('populate through the local host layer adds the ad-hoc action; the check sees it and still (rightly) reports the providers', async () => {
    // The release is forced to Ussuri so the fix runs populate on this Zed cloud: it shows, for real, that
    // populate only registers std.wait_ssh since Victoria; the verification then reports still-present and
    // names the evidence against the forced release.
    const fixed = await runCli([
      'fix',
      'workflow/empty-action-list',
      '--os-cloud',
      adminCloud,
      '--set',
      'mistral_release=ussuri',
      '--apply',
      '--yes',
      '--journal-dir',
      journalDir,
      '-f',
      'value',
    ]);
    // stdout holds the plan's rows, then the outcome's: Check Resource Name Result Detail
    assert.equal(fixed.code, 3, fixed.stdout + fixed.stderr);
    assert.match(fixed.stdout, /populate on \S+, then list the actions again/);
    assert.match(
      fixed.stdout,
      /still-present still detected: Mistral lists 1 action\(s\) \(std\.wait_ssh\) but none of the standard std\.\* actions: .*\(--set mistral_release=ussuri; yet installed Mistral 15\.0\.0/,
    );
    assert.ok((await actionNames()).includes('std.wait_ssh'));
    const runId = /journal: run (\S+)/.exec(fixed.stderr)?.[1];
    assert.ok(runId, fixed.stderr);
    const journal = await runCli(['journal', runId, '--journal-dir', journalDir, '-f', 'json']);
    assert.match(journal.stdout, /mistral-db-manage --config-file \S+mistral\.conf populate on \S+: done/);

    const result = await check();
    const finding = findingSchema.parse(JSON.parse(result.stdout)).checks[0]?.findings[0];
    assert.deepEqual(finding?.evidence.actions, ['std.wait_ssh']);
    assert.equal(finding?.evidence.problem, 'providers-not-loaded');
    assert.match(finding?.message ?? '', /\(std\.wait_ssh is already there\)/);
  });

  it('providers back on: the check passes again', async () => {
    await setProviders('enable');
    const result = await check();
    assert.equal(result.code, 0, result.stdout + result.stderr);
  });
});
