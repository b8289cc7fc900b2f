import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { z } from 'zod';
import {
  type Check,
  type CheckContext,
  defineCheck,
  type Finding,
  type FixStep,
} from '../../../src/core/check.js';
import { applyFixes, BlastRadiusError, planFixes } from '../../../src/core/fixer.js';
import { findInterruptedSteps, Journal } from '../../../src/core/journal.js';
import { canonicalJson, type Json } from '../../../src/core/json.js';
import { silentLogger } from '../../../src/core/logger.js';
import { cloudTarget, completeFinding } from '../../../src/core/runner.js';
import { applyUndo, DriftError, planUndo } from '../../../src/core/undo.js';
import { MemoryCloud } from '../../support/memory-cloud.js';

const thingSchema = z.object({ id: z.string(), colour: z.string().optional() }).catchall(z.unknown());

/** A check over memory documents: a thing must be blue. */
function colourCheck(safety: 'safe' | 'confirm' = 'safe'): Check {
  const inspect = (thing: z.infer<typeof thingSchema>) =>
    thing.colour === 'blue'
      ? null
      : {
          resource: { type: 'thing', id: thing.id },
          message: `thing is ${thing.colour ?? 'colourless'}`,
          evidence: {},
        };
  return defineCheck({
    meta: {
      id: 'test/colour',
      title: 'things are blue',
      description: 'a check for the engine tests',
      severity: 'warning',
      targets: ['cloud'],
      requires: {},
      references: ['test'],
      fix: { safety, reversible: true, description: 'paint it blue' },
    },
    async *detect(ctx) {
      for await (const thing of ctx.cloud.paginate('image', {
        path: '/things',
        itemsKey: 'things',
        paging: { kind: 'none' },
        itemSchema: thingSchema,
      })) {
        const finding = inspect(thing);
        if (finding) yield finding;
      }
    },
    async recheck(finding, ctx) {
      const response = await ctx.cloud.request('image', {
        path: `/things/${finding.resource.id}`,
        schema: thingSchema,
      });
      return inspect(response.body);
    },
    async plan(finding, ctx): Promise<FixStep[]> {
      const { body: thing } = await ctx.cloud.request('image', {
        path: `/things/${finding.resource.id}`,
        schema: thingSchema,
      });
      const path = `/things/${thing.id}`;
      return [
        {
          describe: `paint ${thing.id} blue`,
          resource: finding.resource,
          apply: {
            kind: 'http',
            service: 'image',
            method: 'PATCH',
            path,
            body: [{ op: 'add', path: '/colour', value: 'blue' }],
          },
          undo: {
            kind: 'http',
            service: 'image',
            method: 'PATCH',
            path,
            body: [
              thing.colour === undefined
                ? { op: 'remove', path: '/colour' }
                : { op: 'add', path: '/colour', value: thing.colour },
            ] satisfies Json[],
          },
          priorState: JSON.parse(JSON.stringify(thing)),
          after: { service: 'image', path, expect: [{ pointer: '/colour', value: 'blue' }] },
        },
      ];
    },
  });
}

let directory: string;
let cloud: MemoryCloud;
let journal: Journal;
let ctx: CheckContext;

beforeEach(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'sd-fixer-'));
  cloud = new MemoryCloud();
  cloud.documents.set('/things/a', { id: 'a', colour: 'red', size: 3 });
  cloud.documents.set('/things/b', { id: 'b', size: 5 });
  cloud.documents.set('/things/c', { id: 'c', colour: 'blue' });
  journal = new Journal(path.join(directory, 'journal'));
  ctx = {
    cloud,
    parameters: {},
    log: silentLogger,
    signal: new AbortController().signal,
    now: () => new Date(),
  };
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function detectAll(check: Check): Promise<Finding[]> {
  const findings: Finding[] = [];
  for await (const input of check.detect(ctx))
    findings.push(completeFinding(check, cloudTarget(cloud), input));
  return findings;
}

const deps = (confirm = false) => ({
  journal,
  ctx,
  operator: 'tester@host',
  toolVersion: 'test',
  confirm: async () => confirm,
});

const mutations = () => cloud.calls.filter((call) => call.method !== 'GET');

describe('fixer', () => {
  it('plans without changing anything', async () => {
    const check = colourCheck();
    const findings = await detectAll(check);
    assert.deepEqual(findings.map((finding) => finding.resource.id).sort(), ['a', 'b']);
    const { planned } = await planFixes(
      findings.map((finding) => ({ check, finding })),
      ctx,
    );
    assert.equal(planned.length, 2);
    assert.deepEqual(mutations(), []);
  });

  it('journals the prior state, fsync’d, before the change, then applies and verifies', async () => {
    const check = colourCheck();
    const findings = await detectAll(check);
    const { planned } = await planFixes(
      findings.map((finding) => ({ check, finding })),
      ctx,
    );
    const seenBeforeMutation: string[] = [];
    cloud.beforeMutation = (mutated) => {
      // At the moment of the mutation, the intent record with the prior state must already be on disk.
      const [file] = readdirSync(journal.directory);
      const lines = readFileSync(path.join(journal.directory, file ?? ''), 'utf8')
        .trim()
        .split('\n');
      const intent = lines
        .map((line) => JSON.parse(line))
        .find((record) => record.type === 'step' && record.apply.path === mutated);
      if (intent?.priorState?.id !== undefined) seenBeforeMutation.push(intent.priorState.id);
    };
    const { runId, outcomes } = await applyFixes(planned, deps(), { max: 25, yes: false });
    assert.deepEqual(
      outcomes.map((outcome) => outcome.result),
      ['fixed', 'fixed'],
    );
    assert.equal(cloud.documents.get('/things/a')?.colour, 'blue');
    assert.equal(cloud.documents.get('/things/b')?.colour, 'blue');

    const text = await readFile(path.join(journal.directory, `${runId}.jsonl`), 'utf8');
    const records = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(records[0].type, 'run');
    const stepIndex = records.findIndex((record) => record.type === 'step' && record.resource.id === 'a');
    const appliedIndex = records.findIndex(
      (record) =>
        record.type === 'status' &&
        record.stepId === records[stepIndex].stepId &&
        record.status === 'applied',
    );
    assert.ok(stepIndex > 0 && appliedIndex > stepIndex, 'intent precedes applied');
    assert.deepEqual(records[stepIndex].priorState, { id: 'a', colour: 'red', size: 3 });
    assert.ok(records.some((record) => record.type === 'status' && record.status === 'verified'));
    assert.deepEqual(seenBeforeMutation.sort(), ['a', 'b']);
    const mode = (await stat(path.join(journal.directory, `${runId}.jsonl`))).mode & 0o777;
    assert.equal(mode, 0o600);
  });

  it('undo restores the exact prior state, including absence', async () => {
    const before = canonicalJson([...cloud.documents.values()]);
    const check = colourCheck();
    const findings = await detectAll(check);
    const { planned } = await planFixes(
      findings.map((finding) => ({ check, finding })),
      ctx,
    );
    const { runId } = await applyFixes(planned, deps(), { max: 25, yes: false });
    const plan = await planUndo(journal, runId);
    assert.equal(plan.items.length, 2);
    const { outcomes } = await applyUndo(plan, { ...deps(), findCheck: () => check });
    assert.deepEqual(
      outcomes.map((outcome) => outcome.result),
      ['undone', 'undone'],
    );
    assert.equal(canonicalJson([...cloud.documents.values()]), before);
    assert.equal('colour' in (cloud.documents.get('/things/b') ?? {}), false);
    // A second undo of the same run has nothing left to do.
    assert.equal((await planUndo(journal, runId)).items.length, 0);
  });

  it('undo refuses, changing nothing, when someone changed the resource after the fix', async () => {
    const check = colourCheck();
    const findings = await detectAll(check);
    const { planned } = await planFixes(
      findings.map((finding) => ({ check, finding })),
      ctx,
    );
    const { runId } = await applyFixes(planned, deps(), { max: 25, yes: false });
    cloud.documents.set('/things/b', { id: 'b', size: 5, colour: 'green' });
    const callsBefore = mutations().length;
    await assert.rejects(
      applyUndo(await planUndo(journal, runId), { ...deps(), findCheck: () => check }),
      DriftError,
    );
    assert.equal(mutations().length, callsBefore);
    assert.equal(cloud.documents.get('/things/a')?.colour, 'blue');
  });

  it('does nothing to a finding that resolved itself before the change', async () => {
    const check = colourCheck();
    const findings = await detectAll(check);
    const { planned } = await planFixes(
      findings.map((finding) => ({ check, finding })),
      ctx,
    );
    cloud.documents.set('/things/a', { id: 'a', colour: 'blue', size: 3 });
    const { outcomes } = await applyFixes(planned, deps(), { max: 25, yes: false });
    assert.equal(outcomes.find((outcome) => outcome.resource.id === 'a')?.result, 'resolved-meanwhile');
    assert.equal(mutations().filter((call) => call.path === '/things/a').length, 0);
  });

  it('never retries a failed mutation', async () => {
    const check = colourCheck();
    const findings = (await detectAll(check)).filter((finding) => finding.resource.id === 'a');
    const { planned } = await planFixes(
      findings.map((finding) => ({ check, finding })),
      ctx,
    );
    cloud.failNextMutationWith = 500;
    const { runId, outcomes } = await applyFixes(planned, deps(), { max: 25, yes: false });
    assert.equal(outcomes[0]?.result, 'failed');
    assert.equal(mutations().length, 1);
    const states = await planUndo(journal, runId);
    assert.deepEqual(
      states.items.map((item) => item.kind),
      ['unknown'],
    );
  });

  it('re-checks and re-plans once after a concurrent-update conflict, never forcing', async () => {
    const check = colourCheck();
    const findings = (await detectAll(check)).filter((finding) => finding.resource.id === 'a');
    const { planned } = await planFixes(
      findings.map((finding) => ({ check, finding })),
      ctx,
    );
    cloud.failNextMutationWith = 409;
    let changed = false;
    cloud.beforeMutation = () => {
      if (!changed) {
        changed = true;
        cloud.documents.set('/things/a', { id: 'a', colour: 'yellow', size: 3 });
      }
    };
    const { runId, outcomes } = await applyFixes(planned, deps(), { max: 25, yes: false });
    assert.equal(outcomes[0]?.result, 'fixed');
    assert.equal(mutations().length, 2);
    const records = (await journal.readRun(runId)).filter((record) => record.type === 'step');
    // The second plan journaled the state it actually replaced: yellow, not the red seen first.
    assert.deepEqual(
      records.map((record) => (record.type === 'step' ? record.priorState : null)),
      [
        { id: 'a', colour: 'red', size: 3 },
        { id: 'a', colour: 'yellow', size: 3 },
      ],
    );
  });

  it('refuses a run over the blast-radius cap before journaling or changing anything', async () => {
    const check = colourCheck();
    const findings = await detectAll(check);
    const { planned } = await planFixes(
      findings.map((finding) => ({ check, finding })),
      ctx,
    );
    await assert.rejects(applyFixes(planned, deps(), { max: 1, yes: false }), BlastRadiusError);
    assert.deepEqual(mutations(), []);
    assert.deepEqual(await journal.listRunIds(), []);
  });

  it('asks before a fix that needs confirmation, and does nothing when declined', async () => {
    const check = colourCheck('confirm');
    const findings = await detectAll(check);
    const { planned } = await planFixes(
      findings.map((finding) => ({ check, finding })),
      ctx,
    );
    const declined = await applyFixes(planned, deps(false), { max: 25, yes: false });
    assert.deepEqual(
      declined.outcomes.map((outcome) => outcome.result),
      ['declined', 'declined'],
    );
    assert.deepEqual(mutations(), []);
    const consented = await applyFixes(planned, deps(false), { max: 25, yes: true });
    assert.deepEqual(
      consented.outcomes.map((outcome) => outcome.result),
      ['fixed', 'fixed'],
    );
  });
});

describe('journal', () => {
  it('reports a step that reached intent and never got an outcome', async () => {
    const writer = await journal.openRun({
      type: 'run',
      runId: '20261202T040000Z-abcdef',
      command: 'fix',
      startedAt: '2026-12-02T04:00:00Z',
      operator: 'x',
      toolVersion: 'test',
    });
    await writer.append({
      type: 'step',
      runId: '20261202T040000Z-abcdef',
      stepId: '20261202T040000Z-abcdef/1',
      checkId: 'test/colour',
      target: { kind: 'cloud', name: 'memory' },
      resource: { type: 'thing', id: 'a' },
      describe: 'paint a blue',
      apply: { kind: 'http', service: 'image', method: 'PATCH', path: '/things/a', body: [] },
      undo: 'irreversible',
      priorState: { id: 'a' },
      at: '2026-12-02T04:00:01Z',
    });
    await writer.close();
    const interrupted = await findInterruptedSteps(journal);
    assert.deepEqual(
      interrupted.map((state) => state.step.describe),
      ['paint a blue'],
    );
  });

  it('keeps the records before a line cut short by a crash', async () => {
    const writer = await journal.openRun({
      type: 'run',
      runId: '20261202T040000Z-000001',
      command: 'fix',
      startedAt: '2026-12-02T04:00:00Z',
      operator: 'x',
      toolVersion: 'test',
    });
    await writer.close();
    const file = path.join(journal.directory, '20261202T040000Z-000001.jsonl');
    await writeFile(file, `${await readFile(file, 'utf8')}{"type":"st`, { mode: 0o600 });
    const records = await journal.readRun('20261202T040000Z-000001');
    assert.equal(records.length, 1);
  });

  it('fails with a journal error when the directory cannot be created', async () => {
    // A regular file where the directory should be: even root cannot create a directory beneath it.
    const blocker = path.join(directory, 'file');
    await writeFile(blocker, '');
    await assert.rejects(new Journal(path.join(blocker, 'journal')).ensureWritable(), (error: Error) => {
      assert.match(error.message, /journal directory .* is not writable/);
      assert.equal((error as Error & { exitCode: number }).exitCode, 3);
      return true;
    });
  });
});
