import type { CloudSession, MicroversionedService } from '../openstack/types.js';
import type { Check, CheckContext, Finding, FindingInput, FindingTarget } from './check.js';
import { severityRank } from './check.js';
import { describeError, StackdoctorError } from './errors.js';
import { compareMicroversions } from './microversion.js';

export type CheckOutcome =
  | { status: 'ok' }
  | { status: 'findings' }
  | { status: 'skipped'; reason: string }
  | { status: 'error'; reason: string };

export interface CheckResult {
  checkId: string;
  title: string;
  outcome: CheckOutcome;
  findings: Finding[];
  durationMs: number;
}

export interface RunOptions {
  concurrency: number;
  timeoutMs: number;
}

/** Why a check cannot run on this cloud, or undefined when it can. */
export async function findSkipReason(check: Check, cloud: CloudSession): Promise<string | undefined> {
  const { requires } = check.meta;
  if (requires.admin && !cloud.identity.isAdmin) {
    return 'needs the admin role; the authenticated user does not have it on this scope';
  }
  for (const service of requires.services ?? []) {
    if (!cloud.hasService(service)) return `service "${service}" is not in the catalog`;
  }
  const microversions = Object.entries(requires.microversions ?? {}) as [MicroversionedService, string][];
  for (const [service, needed] of microversions) {
    if (!cloud.hasService(service)) return `service "${service}" is not in the catalog`;
    const { maxMicroversion } = await cloud.versionInfo(service);
    if (maxMicroversion === undefined || compareMicroversions(maxMicroversion, needed) < 0) {
      return `needs ${service} microversion ${needed}; the cloud offers up to ${maxMicroversion ?? 'none'}`;
    }
  }
  return undefined;
}

export function completeFinding(check: Check, target: FindingTarget, input: FindingInput): Finding {
  return {
    checkId: check.meta.id,
    severity: input.severity ?? check.meta.severity,
    target,
    resource: input.resource,
    message: input.message,
    evidence: input.evidence,
    fixable: (input.fixable ?? true) && check.meta.fix !== undefined && input.confidence !== 'suspected',
    confidence: input.confidence ?? 'confirmed',
  };
}

export function cloudTarget(cloud: CloudSession): FindingTarget {
  return { kind: 'cloud', name: cloud.cloudName, region: cloud.region };
}

/**
 * Runs checks with bounded concurrency. A check that throws or times out becomes an `error` result and the
 * run goes on: one broken check must not hide what the others found.
 */
export async function runChecks(
  checks: readonly Check[],
  makeContext: (signal: AbortSignal) => CheckContext,
  options: RunOptions,
): Promise<CheckResult[]> {
  const results: CheckResult[] = new Array(checks.length);
  let next = 0;
  const worker = async () => {
    while (next < checks.length) {
      const index = next++;
      const check = checks[index]!;
      results[index] = await runOneCheck(check, makeContext, options.timeoutMs);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(options.concurrency, checks.length)) }, worker),
  );
  return results;
}

async function runOneCheck(
  check: Check,
  makeContext: (signal: AbortSignal) => CheckContext,
  timeoutMs: number,
): Promise<CheckResult> {
  const started = performance.now();
  const controller = new AbortController();
  const ctx = makeContext(controller.signal);
  const result = (outcome: CheckOutcome, findings: Finding[] = []): CheckResult => ({
    checkId: check.meta.id,
    title: check.meta.title,
    outcome,
    findings,
    durationMs: Math.round(performance.now() - started),
  });
  const skipReason = await findSkipReason(check, ctx.cloud).catch((error: unknown) => describeError(error));
  if (skipReason !== undefined) return result({ status: 'skipped', reason: skipReason });

  const findings: Finding[] = [];
  const target = cloudTarget(ctx.cloud);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new StackdoctorError('timeout', `timed out after ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
  });
  try {
    const collect = async () => {
      for await (const input of check.detect(ctx)) {
        findings.push(completeFinding(check, input.target ?? target, input));
      }
    };
    await Promise.race([collect(), timeout]);
  } catch (error) {
    return result({ status: 'error', reason: describeError(error) }, findings);
  } finally {
    clearTimeout(timer);
  }
  findings.sort((a, b) => severityRank[b.severity] - severityRank[a.severity]);
  return result(findings.length > 0 ? { status: 'findings' } : { status: 'ok' }, findings);
}
