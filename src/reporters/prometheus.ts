import type { CheckResult } from '../core/runner.js';

/**
 * Prometheus text exposition (format 0.0.4) of a check run, for node_exporter's textfile collector or a
 * scrape of `stackdoctor serve`. One series per check and severity, so alerts can key on the check id.
 */
export function renderPrometheus(
  results: readonly CheckResult[],
  context: { cloud: string; region: string | undefined; finishedAt: Date; exitCode: number },
): string {
  const base = `cloud="${escapeLabel(context.cloud)}",region="${escapeLabel(context.region ?? '')}"`;
  const lines: string[] = [
    '# HELP stackdoctor_findings Findings of the last run, by check and severity.',
    '# TYPE stackdoctor_findings gauge',
  ];
  for (const result of results) {
    for (const severity of ['critical', 'warning', 'info'] as const) {
      const count = result.findings.filter((finding) => finding.severity === severity).length;
      lines.push(
        `stackdoctor_findings{${base},check="${escapeLabel(result.checkId)}",severity="${severity}"} ${count}`,
      );
    }
  }
  lines.push(
    '# HELP stackdoctor_check_status 1 for the status each check ended in (ok, findings, skipped, error).',
    '# TYPE stackdoctor_check_status gauge',
  );
  for (const result of results) {
    for (const status of ['ok', 'findings', 'skipped', 'error'] as const) {
      const value = result.outcome.status === status ? 1 : 0;
      lines.push(
        `stackdoctor_check_status{${base},check="${escapeLabel(result.checkId)}",status="${status}"} ${value}`,
      );
    }
  }
  lines.push(
    '# HELP stackdoctor_check_duration_seconds How long each check took.',
    '# TYPE stackdoctor_check_duration_seconds gauge',
  );
  for (const result of results) {
    lines.push(
      `stackdoctor_check_duration_seconds{${base},check="${escapeLabel(result.checkId)}"} ${(result.durationMs / 1000).toFixed(3)}`,
    );
  }
  lines.push(
    '# HELP stackdoctor_exit_code The exit code of the run (0 ok, 1 warning, 2 critical, 3 unknown).',
    '# TYPE stackdoctor_exit_code gauge',
    `stackdoctor_exit_code{${base}} ${context.exitCode}`,
    '# HELP stackdoctor_last_run_timestamp_seconds When the run finished.',
    '# TYPE stackdoctor_last_run_timestamp_seconds gauge',
    `stackdoctor_last_run_timestamp_seconds{${base}} ${Math.floor(context.finishedAt.getTime() / 1000)}`,
  );
  return `${lines.join('\n')}\n`;
}

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}
