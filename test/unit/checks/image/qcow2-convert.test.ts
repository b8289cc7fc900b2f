import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { buildConversionSteps, createQcow2ConvertCheck } from '../../../../src/checks/image/qcow2-convert.js';
import type { CheckContext, Finding } from '../../../../src/core/check.js';
import { applyFixes } from '../../../../src/core/fixer.js';
import { Journal, summariseSteps } from '../../../../src/core/journal.js';
import type { JsonObject } from '../../../../src/core/json.js';
import { silentLogger } from '../../../../src/core/logger.js';
import { cloudTarget, completeFinding } from '../../../../src/core/runner.js';
import { applyUndo, planUndo } from '../../../../src/core/undo.js';
import { planConversion } from '../../../../src/images/convert.js';
import { imageSchema } from '../../../../src/openstack/image.js';
import { FakeGlance } from '../../images/convert-fake-glance.js';
import { makeTempDir, requireQemuImg, runQemuImg } from '../../images/helpers.js';

const oldId = '11111111-1111-4111-8111-111111111111';
const newId = '22222222-2222-4222-8222-222222222222';
const check = createQcow2ConvertCheck({ newImageId: () => newId });
let scratch: { dir: string; remove(): void };
let qcow2: Buffer;
let glance: FakeGlance;

function contextFor(parameters: Record<string, string> = {}): CheckContext {
  return {
    cloud: glance,
    parameters: { tmp_dir: scratch.dir, retired_suffix: ' (retired)', ...parameters },
    now: () => new Date('2026-01-02T03:04:05Z'),
    log: silentLogger,
    signal: new AbortController().signal,
  };
}

const oldRecord: JsonObject = {
  id: oldId,
  name: 'debian-12',
  disk_format: 'qcow2',
  container_format: 'bare',
  visibility: 'shared',
  os_hidden: false,
  protected: true,
  owner: 'p-owner',
  min_disk: 2,
  min_ram: 256,
  tags: ['golden'],
  hw_disk_bus: 'scsi',
  virtual_size: 4 * 1024 * 1024,
};

async function detectAll(ctx: CheckContext): Promise<Finding[]> {
  const findings: Finding[] = [];
  for await (const input of check.detect(ctx))
    findings.push(completeFinding(check, cloudTarget(glance), input));
  return findings;
}

describe('image/qcow2-convert', () => {
  before(() => {
    requireQemuImg();
    scratch = makeTempDir();
    const raw = path.join(scratch.dir, 'disk.raw');
    writeFileSync(raw, Buffer.alloc(4 * 1024 * 1024, 7));
    runQemuImg(['convert', '-f', 'raw', '-O', 'qcow2', raw, path.join(scratch.dir, 'disk.qcow2')]);
    qcow2 = readFileSync(path.join(scratch.dir, 'disk.qcow2'));
  });
  after(() => scratch.remove());
  beforeEach(() => {
    glance = new FakeGlance();
    glance.addImage(oldRecord, qcow2);
    glance.members.set(oldId, [{ member_id: 'p-member', status: 'accepted' }]);
  });

  it('finds active qcow2 images that are not replaced yet, and says why one cannot be converted', async () => {
    glance.addImage({ ...oldRecord, id: 'raw-1', disk_format: 'raw' }, qcow2);
    glance.addImage({ ...oldRecord, id: 'done-1', stackdoctor_replaced_by: newId }, qcow2);
    glance.addImage({ ...oldRecord, id: 'signed-1', img_signature: 'sig' }, qcow2);
    glance.addImage({ ...oldRecord, id: 'hidden-1', os_hidden: true }, qcow2);
    const findings = await detectAll(contextFor());
    assert.deepEqual(
      findings.map((finding) => [finding.resource.id, finding.fixable]).sort(),
      [
        ['hidden-1', true],
        ['signed-1', false],
        [oldId, true],
      ].sort(),
    );
    const signed = findings.find((finding) => finding.resource.id === 'signed-1');
    assert.match(signed?.message ?? '', /cannot be converted automatically: the image is signed/);
    assert.match(
      findings.find((f) => f.resource.id === oldId)?.message ?? '',
      /stackdoctor image convert 1111/,
    );
  });

  it('plans: create the copy, rename and mark, hide; each with its exact undo and read-back', async () => {
    const [finding] = await detectAll(contextFor());
    const steps = await check.plan!(finding!, contextFor());
    assert.deepEqual(
      steps.map((step) => [
        step.resource.id,
        step.apply.kind === 'procedure' ? step.apply.name : step.apply.method,
      ]),
      [
        [newId, 'create-raw-copy'],
        [oldId, 'PATCH'],
        [oldId, 'PATCH'],
      ],
    );
    const [create, rename, hide] = steps;
    assert.deepEqual(create?.undo, {
      kind: 'procedure',
      name: 'delete-raw-copy',
      args: { image_id: newId, source_id: oldId },
    });
    assert.equal(create?.apply.kind === 'procedure' && create.apply.args.protect, true);
    assert.deepEqual(create?.apply.kind === 'procedure' && create.apply.args.members, [
      { member_id: 'p-member', status: 'accepted' },
    ]);
    assert.deepEqual(rename?.apply.kind === 'http' && rename.apply.body, [
      { op: 'replace', path: '/name', value: 'debian-12 (retired)' },
      { op: 'add', path: '/stackdoctor_replaced_by', value: newId },
    ]);
    assert.deepEqual(rename?.undo !== 'irreversible' && rename?.undo.kind === 'http' && rename.undo.body, [
      { op: 'replace', path: '/name', value: 'debian-12' },
      { op: 'remove', path: '/stackdoctor_replaced_by' },
    ]);
    assert.deepEqual(hide?.after?.expect, [{ pointer: '/os_hidden', value: true }]);
    assert.equal(
      steps.every((step) => step.undo !== 'irreversible' && !step.destructive),
      true,
    );
  });

  it('adds a destructive deactivation step only when asked, and skips hiding an already hidden image', async () => {
    const image = imageSchema.parse({ ...glance.images.get(oldId), os_hidden: true });
    const plan = await planConversion(image, {
      tmpDir: scratch.dir,
      retiredSuffix: ' (retired)',
      deactivateOld: true,
      newImageId: newId,
      members: [],
    });
    const steps = buildConversionSteps(plan);
    assert.equal(steps.length, 3);
    const deactivate = steps[2];
    assert.equal(deactivate?.destructive, true);
    assert.deepEqual(deactivate?.apply, {
      kind: 'http',
      service: 'image',
      method: 'POST',
      path: `/v2/images/${oldId}/actions/deactivate`,
    });
    assert.deepEqual(deactivate?.undo !== 'irreversible' && deactivate?.undo, {
      kind: 'http',
      service: 'image',
      method: 'POST',
      path: `/v2/images/${oldId}/actions/reactivate`,
    });
  });

  it('refuses to plan when the temporary directory cannot hold download and raw file', async () => {
    glance.images.get(oldId)!.virtual_size = 2 ** 55;
    const [finding] = await detectAll(contextFor());
    await assert.rejects(check.plan!(finding!, contextFor()), /not enough disk in/);
  });

  it('refuses to plan an image whose header already shows a backing file, before any download', async () => {
    const bad = path.join(scratch.dir, 'backing.qcow2');
    runQemuImg(['create', '-q', '-f', 'qcow2', '-b', '/etc/passwd', '-F', 'raw', bad, '4M']);
    glance.addImage(oldRecord, readFileSync(bad));
    const [finding] = await detectAll(contextFor());
    await assert.rejects(check.plan!(finding!, contextFor()), (error: unknown) => {
      assert.ok(error instanceof Error && 'kind' in error);
      assert.equal(error.kind, 'convert-unsafe-image');
      assert.match(error.message, /refused before download: qcow2\.backing-file/);
      return true;
    });
  });

  it('journals intent before each change, applies, verifies, and undo restores the old image', async () => {
    const journalDir = makeTempDir();
    try {
      const journal = new Journal(journalDir.dir);
      const before = structuredClone(glance.images.get(oldId));
      const ctx = contextFor();
      const [finding] = await detectAll(ctx);
      const steps = await check.plan!(finding!, ctx);
      const { runId, outcomes } = await applyFixes(
        [{ check, finding: finding!, steps }],
        { journal, ctx, operator: 'test', toolVersion: '0', confirm: async () => false },
        { max: 1, yes: true },
      );
      assert.equal(outcomes[0]?.result, 'fixed', outcomes[0]?.detail);
      const copy = glance.images.get(newId);
      assert.equal(copy?.disk_format, 'raw');
      assert.equal(copy?.protected, true);
      assert.equal(copy?.owner, 'p-owner');
      assert.equal(glance.images.get(oldId)?.os_hidden, true);
      const states = summariseSteps(await journal.readRun(runId));
      assert.deepEqual(
        states.map((state) => state.status),
        ['verified', 'verified', 'verified'],
      );
      assert.deepEqual(states[0]?.step.priorState, {
        source: JSON.parse(JSON.stringify(before)),
        members: [{ member_id: 'p-member', status: 'accepted' }],
      });

      const undo = await applyUndo(await planUndo(journal, runId), {
        journal,
        ctx,
        findCheck: (id) => (id === check.meta.id ? check : undefined),
        operator: 'test',
        toolVersion: '0',
      });
      assert.deepEqual(
        undo.outcomes.map((outcome) => outcome.result),
        ['undone', 'undone', 'undone'],
      );
      assert.equal(glance.images.has(newId), false);
      assert.deepEqual(glance.images.get(oldId), before);
    } finally {
      journalDir.remove();
    }
  });

  it('refuses journaled arguments that are not what it wrote', async () => {
    await assert.rejects(
      check.procedures!['create-raw-copy']!({ source_id: 3 }, contextFor()),
      /create-raw-copy: the journaled arguments are malformed/,
    );
  });
});
