import type { Finding, Severity } from '../core/check.js';
import type { Json, JsonObject } from '../core/json.js';
import type { CheckResult } from '../core/runner.js';
import type { Listing } from './format.js';

/** Version of the JSON document below; bumped on any incompatible change (docs/output.md). */
export const checkReportSchema = 'stackdoctor.check/v1';

export interface CheckReportContext {
  toolVersion: string;
  cloud: string;
  region: string | undefined;
  startedAt: Date;
  finishedAt: Date;
  exitCode: number;
}

export function findingToJson(finding: Finding): JsonObject {
  return {
    check: finding.checkId,
    severity: finding.severity,
    target: { kind: finding.target.kind, name: finding.target.name, region: finding.target.region ?? null },
    resource: { type: finding.resource.type, id: finding.resource.id, name: finding.resource.name ?? null },
    message: finding.message,
    evidence: finding.evidence,
    fixable: finding.fixable,
    confidence: finding.confidence,
  };
}

export function summarise(
  results: readonly CheckResult[],
): Record<Severity | 'ok' | 'skipped' | 'error', number> {
  const summary = { critical: 0, warning: 0, info: 0, ok: 0, skipped: 0, error: 0 };
  for (const result of results) {
    if (result.outcome.status === 'ok') summary.ok++;
    if (result.outcome.status === 'skipped') summary.skipped++;
    if (result.outcome.status === 'error') summary.error++;
    for (const finding of result.findings) summary[finding.severity]++;
  }
  return summary;
}

export function buildCheckDocument(results: readonly CheckResult[], context: CheckReportContext): JsonObject {
  return {
    schema: checkReportSchema,
    tool: { name: 'stackdoctor', version: context.toolVersion },
    cloud: { name: context.cloud, region: context.region ?? null },
    started_at: context.startedAt.toISOString(),
    finished_at: context.finishedAt.toISOString(),
    exit_code: context.exitCode,
    summary: summarise(results),
    checks: results.map((result) => ({
      id: result.checkId,
      title: result.title,
      status: result.outcome.status,
      reason: 'reason' in result.outcome ? result.outcome.reason : null,
      duration_ms: result.durationMs,
      findings: result.findings.map(findingToJson),
    })),
  };
}

/** One row per finding, then one per check that was skipped or failed, so nothing passes unseen. */
export function checkListing(results: readonly CheckResult[]): Listing {
  const rows: Json[][] = [];
  for (const result of results) {
    for (const finding of result.findings) {
      rows.push([
        finding.checkId,
        finding.confidence === 'suspected' ? `${finding.severity} (suspected)` : finding.severity,
        finding.resource.id,
        finding.resource.name ?? null,
        finding.message,
        finding.fixable,
      ]);
    }
    if (result.outcome.status === 'skipped' || result.outcome.status === 'error') {
      rows.push([result.checkId, result.outcome.status, null, null, result.outcome.reason, false]);
    }
  }
  return { columns: ['Check', 'Severity', 'Resource', 'Name', 'Message', 'Fixable'], rows };
}
