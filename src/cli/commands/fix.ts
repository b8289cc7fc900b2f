import type { FixOutcome, PlanFailure, PlannedFix } from '../../core/fixer.js';
import type { Json } from '../../core/json.js';
import { severityPaint } from '../../reporters/colour.js';
import { type RenderOptions, renderListing } from '../../reporters/format.js';

export function renderPlan(
  planned: readonly PlannedFix[],
  failures: readonly PlanFailure[],
  render: RenderOptions,
): string {
  const rows: Json[][] = [];
  for (const plan of planned) {
    for (const step of plan.steps) {
      rows.push([
        plan.check.meta.id,
        step.resource.id,
        step.resource.name ?? null,
        step.describe,
        step.undo === 'irreversible' ? 'irreversible' : 'reversible',
        plan.check.meta.fix?.safety === 'confirm' || step.destructive ? 'needs --yes' : 'safe',
      ]);
    }
  }
  for (const failure of failures) {
    rows.push([
      failure.check.meta.id,
      failure.finding.resource.id,
      failure.finding.resource.name ?? null,
      `cannot plan: ${failure.reason}`,
      null,
      null,
    ]);
  }
  return renderListing({ columns: ['Check', 'Resource', 'Name', 'Step', 'Undo', 'Safety'], rows }, render);
}

export function renderOutcomes(outcomes: readonly FixOutcome[], render: RenderOptions): string {
  return renderListing(
    {
      columns: ['Check', 'Resource', 'Name', 'Result', 'Detail'],
      rows: outcomes.map((outcome) => [
        outcome.checkId,
        outcome.resource.id,
        outcome.resource.name ?? null,
        outcome.result,
        outcome.detail,
      ]),
    },
    {
      ...render,
      paint: (column, value) =>
        column === 'Result'
          ? severityPaint(value === 'fixed' || value === 'resolved-meanwhile' ? 'ok' : 'critical')
          : undefined,
    },
  );
}
