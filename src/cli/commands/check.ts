import { stringify as stringifyYaml } from 'yaml';
import type { Check } from '../../core/check.js';
import { UsageError } from '../../core/errors.js';
import type { CheckResult } from '../../core/runner.js';
import { buildCheckDocument, checkListing } from '../../reporters/check-report.js';
import { severityPaint } from '../../reporters/colour.js';
import { type RenderOptions, renderListing } from '../../reporters/format.js';
import { renderHtml } from '../../reporters/html.js';
import { renderPrometheus } from '../../reporters/prometheus.js';
import { version } from '../version.js';

/** Every `--set` name must belong to one of the selected checks: a typo must not be ignored silently. */
export function validateParameters(
  checks: readonly Check[],
  parameters: Readonly<Record<string, string>>,
): void {
  for (const name of Object.keys(parameters)) {
    if (!checks.some((check) => check.meta.parameters?.[name] !== undefined)) {
      throw new UsageError(`--set ${name}: none of the selected checks takes this parameter`, {
        hint: 'stackdoctor explain CHECK lists the parameters of a check',
      });
    }
  }
}

/** json and yaml carry the versioned document (docs/output.md); table and value one row per finding. */
export function renderCheckResults(
  results: readonly CheckResult[],
  context: { cloud: string; region: string | undefined; startedAt: Date; exitCode: number },
  render: RenderOptions,
): string {
  const finishedAt = new Date();
  if (render.format === 'prometheus') return renderPrometheus(results, { ...context, finishedAt });
  if (render.format === 'html') return renderHtml(results, { ...context, finishedAt, toolVersion: version });
  if (render.format === 'json' || render.format === 'yaml') {
    const document = buildCheckDocument(results, { ...context, toolVersion: version, finishedAt });
    return render.format === 'json' ? `${JSON.stringify(document, null, 2)}\n` : stringifyYaml(document);
  }
  return renderListing(checkListing(results), {
    ...render,
    paint: (column, value) =>
      column === 'Severity' && typeof value === 'string'
        ? severityPaint(value.split(' ')[0] ?? '')
        : undefined,
  });
}
