import type { Severity } from './check.js';
import { severityRank } from './check.js';
import { ExitCode } from './errors.js';
import type { CheckResult } from './runner.js';

/**
 * Monitoring-plugin semantics: critical findings win (2); a check that could not run to the end makes the
 * result unknown (3) unless something critical was already seen; then warnings (1). Findings below
 * `failOn` are reported but do not change the code.
 */
export function exitCodeForResults(results: readonly CheckResult[], failOn: Severity): ExitCode {
  const counted = results
    .flatMap((result) => result.findings)
    .filter((finding) => severityRank[finding.severity] >= severityRank[failOn]);
  if (counted.some((finding) => finding.severity === 'critical')) return ExitCode.critical;
  if (results.some((result) => result.outcome.status === 'error')) return ExitCode.toolFailure;
  // With `--fail-on info`, info findings count as warnings: the operator asked to be told about them.
  if (counted.length > 0) return ExitCode.warning;
  return ExitCode.ok;
}
