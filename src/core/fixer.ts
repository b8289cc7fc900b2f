import type { Check, CheckContext, Finding, FixStep } from './check.js';
import { describeError, StackdoctorError } from './errors.js';
import type { Journal, JournalWriter, RunRecord, StepRecord } from './journal.js';
import { newRunId } from './journal.js';
import { describeDrift, executeOperation, findDrift } from './operations.js';
import { completeFinding } from './runner.js';

export interface PlannedFix {
  check: Check;
  finding: Finding;
  steps: FixStep[];
}

export interface PlanFailure {
  check: Check;
  finding: Finding;
  reason: string;
}

/** Asks each fixable finding's check for its plan. Planning is read-only. */
export async function planFixes(
  items: readonly { check: Check; finding: Finding }[],
  ctx: CheckContext,
): Promise<{ planned: PlannedFix[]; failures: PlanFailure[] }> {
  const planned: PlannedFix[] = [];
  const failures: PlanFailure[] = [];
  for (const { check, finding } of items) {
    if (!finding.fixable || !check.plan) continue;
    try {
      const steps = await check.plan(finding, ctx);
      if (steps.length > 0) planned.push({ check, finding, steps });
    } catch (error) {
      failures.push({ check, finding, reason: describeError(error) });
    }
  }
  return { planned, failures };
}

export type FixResult =
  | 'fixed'
  | 'resolved-meanwhile'
  | 'still-present'
  | 'failed'
  | 'conflict'
  | 'declined'
  | 'not-applied';

export interface StepOutcome {
  stepId: string;
  describe: string;
  status: 'applied' | 'failed' | 'conflict';
  detail: string;
}

export interface FixOutcome {
  checkId: string;
  resource: Finding['resource'];
  result: FixResult;
  detail: string;
  steps: StepOutcome[];
}

export interface ApplyOptions {
  /** Blast-radius cap: the run is refused when more resources would be touched. */
  max: number;
  /** Consent for `confirm` fixes and destructive steps given up front (`--yes`). */
  yes: boolean;
}

export interface ApplyDeps {
  journal: Journal;
  ctx: CheckContext;
  operator: string;
  toolVersion: string;
  /** Interactive consent; returns false when there is nobody to ask. */
  confirm: (question: string) => Promise<boolean>;
  onStep?: (outcome: FixOutcome) => void;
}

export class BlastRadiusError extends StackdoctorError {
  constructor(count: number, max: number) {
    super(
      'blast-radius',
      `the plan touches ${count} resources, more than --max ${max}; nothing was changed`,
      {
        hint: 'narrow the run with check globs, or raise --max after reading the plan',
        exitCode: 4,
      },
    );
  }
}

/**
 * Applies plans: per finding, re-check → re-plan from the fresh state → journal intent (fsync'd) → apply →
 * journal outcome → verify by detecting again. A mutation is never retried; a concurrent-update conflict
 * leads to one fresh re-check and re-plan, never to a forced write.
 */
export async function applyFixes(
  plans: readonly PlannedFix[],
  deps: ApplyDeps,
  options: ApplyOptions,
): Promise<{ runId: string; outcomes: FixOutcome[] }> {
  if (plans.length > options.max) throw new BlastRadiusError(plans.length, options.max);
  const now = deps.ctx.now();
  const run: RunRecord = {
    type: 'run',
    runId: newRunId(now),
    command: 'fix',
    startedAt: now.toISOString(),
    operator: deps.operator,
    cloud: deps.ctx.cloud.cloudName,
    region: deps.ctx.cloud.region,
    toolVersion: deps.toolVersion,
  };
  const writer = await deps.journal.openRun(run);
  let sequence = 0;
  const journalRun: RunJournal = { writer, runId: run.runId, nextStepId: () => `${run.runId}/${++sequence}` };
  const outcomes: FixOutcome[] = [];
  try {
    for (const plan of plans) {
      const outcome = await applyOne(plan, journalRun, deps, options);
      outcomes.push(outcome);
      deps.onStep?.(outcome);
    }
  } finally {
    await writer.close();
  }
  return { runId: run.runId, outcomes };
}

interface RunJournal {
  writer: JournalWriter;
  runId: string;
  nextStepId: () => string;
}

async function applyOne(
  plan: PlannedFix,
  journalRun: RunJournal,
  deps: ApplyDeps,
  options: ApplyOptions,
): Promise<FixOutcome> {
  const { check } = plan;
  const base = { checkId: check.meta.id, resource: plan.finding.resource };
  const needsConsent = check.meta.fix?.safety === 'confirm' || plan.steps.some((step) => step.destructive);
  if (needsConsent && !options.yes) {
    const question = `${check.meta.id}: ${plan.steps.map((step) => step.describe).join('; ')} — apply?`;
    if (!(await deps.confirm(question))) {
      return { ...base, result: 'declined', detail: 'needs confirmation (--yes)', steps: [] };
    }
  }
  const steps: StepOutcome[] = [];
  for (let attempt = 0; attempt < 2; attempt++) {
    const fresh = await recheckFinding(plan, deps.ctx);
    if (fresh === null) {
      return { ...base, result: 'resolved-meanwhile', detail: 'no longer present when re-checked', steps };
    }
    if (!fresh.fixable) {
      return { ...base, result: 'not-applied', detail: `no longer fixable: ${fresh.message}`, steps };
    }
    const currentSteps = await check.plan!(fresh, deps.ctx);
    if (currentSteps.length === 0) {
      return { ...base, result: 'not-applied', detail: 'the re-check left nothing to do', steps };
    }
    const result = await applySteps(check, fresh, currentSteps, journalRun, deps);
    steps.push(...result.steps);
    if (result.conflict && attempt === 0) continue;
    if (result.failed) {
      const last = result.steps.at(-1);
      return { ...base, result: result.conflict ? 'conflict' : 'failed', detail: last?.detail ?? '', steps };
    }
    const verification = await verifyFix(check, fresh, currentSteps, deps.ctx);
    if (verification === undefined) {
      for (const step of result.steps) {
        await journalRun.writer.append({
          type: 'status',
          runId: journalRun.runId,
          stepId: step.stepId,
          status: 'verified',
          at: deps.ctx.now().toISOString(),
        });
      }
    }
    return verification === undefined
      ? { ...base, result: 'fixed', detail: 'verified by detecting again', steps }
      : { ...base, result: 'still-present', detail: verification, steps };
  }
  return { ...base, result: 'conflict', detail: 'changed concurrently twice; re-run to re-plan', steps };
}

async function recheckFinding(plan: PlannedFix, ctx: CheckContext): Promise<Finding | null> {
  const input = await plan.check.recheck!(plan.finding, ctx);
  return input === null ? null : completeFinding(plan.check, plan.finding.target, input);
}

async function applySteps(
  check: Check,
  finding: Finding,
  steps: readonly FixStep[],
  { writer, runId, nextStepId }: RunJournal,
  deps: ApplyDeps,
): Promise<{ steps: StepOutcome[]; failed: boolean; conflict: boolean }> {
  const outcomes: StepOutcome[] = [];
  for (const step of steps) {
    const stepId = nextStepId();
    const record: StepRecord = {
      type: 'step',
      runId,
      stepId,
      checkId: check.meta.id,
      target: finding.target,
      resource: step.resource,
      describe: step.describe,
      apply: step.apply,
      undo: step.undo,
      priorState: step.priorState,
      after: step.after,
      at: deps.ctx.now().toISOString(),
    };
    await writer.append(record);
    try {
      const result = await executeOperation(step.apply, check, deps.ctx);
      await writer.append({
        type: 'status',
        runId,
        stepId,
        status: 'applied',
        at: deps.ctx.now().toISOString(),
        detail: result.summary,
      });
      outcomes.push({ stepId, describe: step.describe, status: 'applied', detail: result.summary });
    } catch (error) {
      const conflict = isConflict(error);
      const detail = describeError(error);
      await writer.append({
        type: 'status',
        runId,
        stepId,
        status: conflict ? 'conflict' : 'failed',
        at: deps.ctx.now().toISOString(),
        detail,
      });
      outcomes.push({ stepId, describe: step.describe, status: conflict ? 'conflict' : 'failed', detail });
      return { steps: outcomes, failed: true, conflict };
    }
  }
  return { steps: outcomes, failed: false, conflict: false };
}

/** Undefined when verified; otherwise why not. */
async function verifyFix(
  check: Check,
  finding: Finding,
  steps: readonly FixStep[],
  ctx: CheckContext,
): Promise<string | undefined> {
  for (const step of steps) {
    if (!step.after) continue;
    const drift = await findDrift(step.after, ctx);
    if (drift.length > 0) return `read-back differs: ${describeDrift(drift)}`;
  }
  const again = await check.recheck!(finding, ctx);
  return again === null ? undefined : `still detected: ${again.message}`;
}

function isConflict(error: unknown): boolean {
  return error instanceof StackdoctorError && 'status' in error && error.status === 409;
}
