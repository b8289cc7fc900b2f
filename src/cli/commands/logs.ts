import os from 'node:os';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { severityRank } from '../../core/check.js';
import { ExitCode } from '../../core/errors.js';
import type { Json, JsonObject } from '../../core/json.js';
import { parseHostFromPathRule } from '../../logs/host-from-path.js';
import { type LogScanResult, scanLogs } from '../../logs/scan.js';
import { severityPaint } from '../../reporters/colour.js';
import { type RenderOptions, renderListing } from '../../reporters/format.js';

export const logsReportSchema = 'stackdoctor.logs/v1';

export interface LogsOptions {
  hostFromPath?: string;
  failOn: 'critical' | 'warning' | 'info';
}

export async function scanLogPaths(paths: readonly string[], options: LogsOptions): Promise<LogScanResult> {
  return scanLogs([...paths], {
    localHost: os.hostname(),
    ...(options.hostFromPath === undefined
      ? {}
      : { hostFromPath: parseHostFromPathRule(options.hostFromPath) }),
  });
}

/** Same convention as `check`: the worst signature found decides, problems with single files do not. */
export function exitCodeForScan(result: LogScanResult, failOn: LogsOptions['failOn']): number {
  const counted = result.findings.filter((finding) => severityRank[finding.severity] >= severityRank[failOn]);
  if (counted.some((finding) => finding.severity === 'critical')) return ExitCode.critical;
  return counted.length > 0 ? ExitCode.warning : ExitCode.ok;
}

export function renderScan(result: LogScanResult, render: RenderOptions): string {
  if (render.format === 'json' || render.format === 'yaml') {
    const document: JsonObject = {
      schema: logsReportSchema,
      files_scanned: result.filesScanned,
      bytes_scanned: result.bytesScanned,
      problems: result.problems.map((problem) => ({
        path: problem.path,
        kind: problem.kind,
        message: problem.message,
      })),
      findings: result.findings.map((finding) => ({
        signature: finding.signatureId,
        related_check: finding.relatedCheck ?? null,
        severity: finding.severity,
        resource: {
          type: finding.resource.type,
          id: finding.resource.id,
          name: finding.resource.name ?? null,
        },
        message: finding.message,
        evidence: finding.evidence,
      })),
    };
    return render.format === 'json' ? `${JSON.stringify(document, null, 2)}\n` : stringifyYaml(document);
  }
  const seen = (value: Json | undefined): Json => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    const where = `${path.basename(String(value.file ?? ''))}:${String(value.line ?? '')}`;
    return value.timestamp ? `${String(value.timestamp)} (${where})` : where;
  };
  const rows: Json[][] = result.findings.map((finding) => [
    finding.signatureId,
    finding.severity,
    finding.evidence.count ?? null,
    seen(finding.evidence.firstSeen),
    seen(finding.evidence.lastSeen),
    finding.evidence.hosts ?? null,
    finding.message,
    finding.relatedCheck ?? null,
  ]);
  for (const problem of result.problems)
    rows.push([
      '(file problem)',
      'info',
      null,
      null,
      null,
      null,
      `${problem.path}: ${problem.message}`,
      null,
    ]);
  return renderListing(
    {
      columns: ['Signature', 'Severity', 'Count', 'First seen', 'Last seen', 'Hosts', 'Message', 'Check'],
      rows,
    },
    {
      ...render,
      paint: (column, value) =>
        column === 'Severity' && typeof value === 'string' ? severityPaint(value) : undefined,
    },
  );
}
