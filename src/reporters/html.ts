import type { JsonObject } from '../core/json.js';
import type { CheckResult } from '../core/runner.js';
import { summarise } from './check-report.js';

/** A self-contained HTML report (no scripts, no external resources) to attach to a ticket or mail. */
export function renderHtml(
  results: readonly CheckResult[],
  context: { cloud: string; region: string | undefined; finishedAt: Date; toolVersion: string },
): string {
  const summary = summarise(results);
  const rows = results
    .flatMap((result) => {
      if (result.outcome.status === 'skipped' || result.outcome.status === 'error') {
        return [
          `<tr class="${result.outcome.status}"><td>${escapeHtml(result.checkId)}</td><td>${result.outcome.status}</td>` +
            `<td></td><td>${escapeHtml(result.outcome.reason)}</td><td></td></tr>`,
        ];
      }
      if (result.findings.length === 0) {
        return [
          `<tr class="ok"><td>${escapeHtml(result.checkId)}</td><td>ok</td><td></td><td>${escapeHtml(result.title)}: nothing found</td><td></td></tr>`,
        ];
      }
      return result.findings.map(
        (finding) =>
          `<tr class="${finding.severity}"><td>${escapeHtml(finding.checkId)}</td><td>${finding.severity}` +
          `${finding.confidence === 'suspected' ? ' (suspected)' : ''}</td>` +
          `<td>${escapeHtml(finding.resource.name ?? '')}<br><code>${escapeHtml(finding.resource.id)}</code></td>` +
          `<td>${escapeHtml(finding.message)}</td>` +
          `<td><details><summary>evidence</summary><pre>${escapeHtml(JSON.stringify(finding.evidence satisfies JsonObject, null, 2))}</pre></details></td></tr>`,
      );
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>stackdoctor — ${escapeHtml(context.cloud)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}
tr.critical td:nth-child(2){background:#f8d0d0}tr.warning td:nth-child(2){background:#fbeec0}
tr.ok td:nth-child(2){background:#d6f0d6}tr.skipped td:nth-child(2),tr.info td:nth-child(2){background:#dde8f6}
tr.error td:nth-child(2){background:#f0b0b0}pre{margin:0;white-space:pre-wrap}code{font-size:12px}
.summary span{display:inline-block;margin-right:1.5em}
</style></head><body>
<h1>stackdoctor report: ${escapeHtml(context.cloud)}${context.region ? ` / ${escapeHtml(context.region)}` : ''}</h1>
<p>Finished ${escapeHtml(context.finishedAt.toISOString())} by stackdoctor ${escapeHtml(context.toolVersion)}.</p>
<p class="summary"><span>critical: ${summary.critical}</span><span>warning: ${summary.warning}</span><span>info: ${summary.info}</span><span>checks ok: ${summary.ok}</span><span>skipped: ${summary.skipped}</span><span>errors: ${summary.error}</span></p>
<table><thead><tr><th>Check</th><th>Severity</th><th>Resource</th><th>Message</th><th>Evidence</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}
