import type { Journal, StepState } from '../../core/journal.js';
import { summariseSteps } from '../../core/journal.js';
import type { Json } from '../../core/json.js';
import type { UndoOutcome, UndoPlan } from '../../core/undo.js';
import { type RenderOptions, renderListing } from '../../reporters/format.js';

export async function listRuns(journal: Journal, render: RenderOptions): Promise<string> {
  const rows: Json[][] = [];
  for (const runId of await journal.listRunIds()) {
    const records = await journal.readRun(runId);
    const run = records.find((record) => record.type === 'run');
    if (run?.type !== 'run') continue;
    const steps = summariseSteps(records);
    const count = (status: StepState['status']) => steps.filter((state) => state.status === status).length;
    rows.push([
      runId,
      run.command === 'undo' ? `undo of ${run.undoes ?? '?'}` : 'fix',
      run.startedAt,
      run.operator,
      run.cloud ?? null,
      steps.length,
      `${count('verified') + count('applied')} applied, ${count('undone')} undone, ${count('failed') + count('conflict')} failed, ${count('intent')} interrupted`,
    ]);
  }
  return renderListing(
    { columns: ['Run', 'Command', 'Started', 'Operator', 'Cloud', 'Steps', 'State'], rows },
    render,
  );
}

export async function showRun(journal: Journal, runId: string, render: RenderOptions): Promise<string> {
  const steps = summariseSteps(await journal.readRun(runId));
  if (render.format === 'json' || render.format === 'yaml') {
    const rows: Json[][] = steps.map((state) => [
      state.step.stepId,
      state.step.checkId,
      { type: state.step.resource.type, id: state.step.resource.id, name: state.step.resource.name ?? null },
      state.step.describe,
      state.status,
      state.detail ?? null,
      JSON.parse(JSON.stringify(state.step.apply)),
      state.step.undo === 'irreversible' ? 'irreversible' : JSON.parse(JSON.stringify(state.step.undo)),
      state.step.priorState,
    ]);
    return renderListing(
      {
        columns: [
          'step',
          'check',
          'resource',
          'describe',
          'status',
          'detail',
          'apply',
          'undo',
          'prior_state',
        ],
        rows,
      },
      render,
    );
  }
  return renderListing(
    {
      columns: ['Step', 'Check', 'Resource', 'Change', 'Status', 'Detail'],
      rows: steps.map((state) => [
        state.step.stepId,
        state.step.checkId,
        state.step.resource.name ?? state.step.resource.id,
        state.step.describe,
        state.status,
        state.detail ?? null,
      ]),
    },
    render,
  );
}

export function renderUndoPlan(plan: UndoPlan, render: RenderOptions): string {
  return renderListing(
    {
      columns: ['Step', 'Check', 'Resource', 'Change to undo', 'Undo'],
      rows: plan.items.map((item) => [
        item.state.step.stepId,
        item.state.step.checkId,
        item.state.step.resource.name ?? item.state.step.resource.id,
        item.state.step.describe,
        item.kind === 'reversible'
          ? 'will be undone'
          : item.kind === 'irreversible'
            ? 'irreversible'
            : `unknown state (${item.state.status})`,
      ]),
    },
    render,
  );
}

export function renderUndoOutcomes(outcomes: readonly UndoOutcome[], render: RenderOptions): string {
  return renderListing(
    {
      columns: ['Step', 'Change', 'Result', 'Detail'],
      rows: outcomes.map((outcome) => [outcome.stepId, outcome.describe, outcome.result, outcome.detail]),
    },
    render,
  );
}
