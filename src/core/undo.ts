import type { Check, CheckContext } from './check.js';
import { describeError, StackdoctorError } from './errors.js';
import type { Journal, RunRecord, StepState } from './journal.js';
import { newRunId, summariseSteps } from './journal.js';
import { describeDrift, executeOperation, findDrift } from './operations.js';

export type UndoItem =
  | { kind: 'reversible'; state: StepState }
  | { kind: 'irreversible'; state: StepState }
  /** Never reached an outcome, or failed: its effect is unknown and has to be looked at by a person. */
  | { kind: 'unknown'; state: StepState };

export interface UndoPlan {
  run: RunRecord;
  /** In the order they will be undone: the reverse of the order they were applied. */
  items: UndoItem[];
}

export async function planUndo(journal: Journal, runId: string): Promise<UndoPlan> {
  const records = await journal.readRun(runId);
  const run = records.find((record) => record.type === 'run');
  if (run?.type !== 'run') throw new StackdoctorError('journal', `run ${runId} has no run record`);
  if (run.command !== 'fix')
    throw new StackdoctorError('usage', `run ${runId} is an undo run; it cannot be undone`);
  const items: UndoItem[] = [];
  for (const state of summariseSteps(records).reverse()) {
    if (state.status === 'undone' || state.status === 'conflict' || state.status === 'abandoned') continue;
    if (state.status === 'intent' || state.status === 'failed') items.push({ kind: 'unknown', state });
    else if (state.step.undo === 'irreversible') items.push({ kind: 'irreversible', state });
    else items.push({ kind: 'reversible', state });
  }
  return { run, items };
}

export interface UndoOutcome {
  stepId: string;
  describe: string;
  result: 'undone' | 'failed' | 'irreversible' | 'unknown';
  detail: string;
}

export interface UndoDeps {
  journal: Journal;
  ctx: CheckContext;
  findCheck: (id: string) => Check | undefined;
  operator: string;
  toolVersion: string;
}

export class DriftError extends StackdoctorError {
  constructor(details: string[]) {
    super('drift', `changed since the fix, nothing was undone: ${details.join(' | ')}`, {
      hint: 'someone changed these resources after stackdoctor did; restore them by hand from `stackdoctor journal RUN-ID`',
    });
  }
}

/**
 * Replays the undo operations of a run in reverse order. Every resource is first read back and compared
 * with the state the fix left: if anything drifted, nothing is undone (undoing over someone else's change
 * would lose it).
 */
export async function applyUndo(
  plan: UndoPlan,
  deps: UndoDeps,
): Promise<{ runId: string; outcomes: UndoOutcome[] }> {
  if (plan.run.cloud !== undefined && plan.run.cloud !== deps.ctx.cloud.cloudName) {
    throw new StackdoctorError(
      'usage',
      `run ${plan.run.runId} changed cloud "${plan.run.cloud}", not "${deps.ctx.cloud.cloudName}"`,
      { hint: `use --os-cloud ${plan.run.cloud}` },
    );
  }
  const drifted: string[] = [];
  for (const item of plan.items) {
    if (item.kind !== 'reversible' || !item.state.step.after) continue;
    const mismatches = await findDrift(item.state.step.after, deps.ctx);
    if (mismatches.length > 0) drifted.push(`${item.state.step.describe}: ${describeDrift(mismatches)}`);
  }
  if (drifted.length > 0) throw new DriftError(drifted);

  const now = deps.ctx.now();
  const runId = newRunId(now);
  const writer = await deps.journal.openRun({
    type: 'run',
    runId,
    command: 'undo',
    startedAt: now.toISOString(),
    operator: deps.operator,
    cloud: deps.ctx.cloud.cloudName,
    region: deps.ctx.cloud.region,
    toolVersion: deps.toolVersion,
    undoes: plan.run.runId,
  });
  const original = await deps.journal.reopenRun(plan.run.runId);
  const outcomes: UndoOutcome[] = [];
  let sequence = 0;
  try {
    for (const item of plan.items) {
      const { step } = item.state;
      if (item.kind !== 'reversible' || step.undo === 'irreversible') {
        outcomes.push({
          stepId: step.stepId,
          describe: step.describe,
          result: item.kind === 'unknown' ? 'unknown' : 'irreversible',
          detail:
            item.kind === 'unknown'
              ? `state unknown (${item.state.status}); prior state is in the journal`
              : 'cannot be undone; prior state is in the journal',
        });
        continue;
      }
      const check = deps.findCheck(step.checkId);
      if (!check)
        throw new StackdoctorError(
          'journal',
          `the journal names check ${step.checkId}, which this version lacks`,
        );
      const stepId = `${runId}/${++sequence}`;
      await writer.append({
        ...step,
        runId,
        stepId,
        describe: `undo: ${step.describe}`,
        apply: step.undo,
        undo: step.apply,
        after: undefined,
        at: deps.ctx.now().toISOString(),
        reverses: step.stepId,
      });
      try {
        const result = await executeOperation(step.undo, check, deps.ctx);
        const at = deps.ctx.now().toISOString();
        await writer.append({ type: 'status', runId, stepId, status: 'applied', at, detail: result.summary });
        await original.append({
          type: 'status',
          runId: plan.run.runId,
          stepId: step.stepId,
          status: 'undone',
          at,
          detail: `by ${runId}`,
        });
        outcomes.push({
          stepId: step.stepId,
          describe: step.describe,
          result: 'undone',
          detail: result.summary,
        });
      } catch (error) {
        const detail = describeError(error);
        await writer.append({
          type: 'status',
          runId,
          stepId,
          status: 'failed',
          at: deps.ctx.now().toISOString(),
          detail,
        });
        outcomes.push({ stepId: step.stepId, describe: step.describe, result: 'failed', detail });
        // Later steps were applied before this one and may depend on it: stop here.
        break;
      }
    }
  } finally {
    await writer.close();
    await original.close();
  }
  return { runId, outcomes };
}
