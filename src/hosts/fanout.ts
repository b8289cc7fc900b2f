import { describeError } from '../core/errors.js';
import { HostKeyError, HostUnreachableError } from './errors.js';

export type HostOutcome<T> =
  | { host: string; status: 'ok'; value: T }
  /** Not looked at: unreachable, host key refused, or no answer in time. */
  | { host: string; status: 'skipped'; reason: string; kind: string }
  /** Reached, but the work failed; the other hosts still ran. */
  | { host: string; status: 'failed'; reason: string; error: unknown };

export interface FanOutOptions {
  /** Hosts worked on at once (Ansible's forks). Default 10. */
  forks?: number;
  /** A host still busy after this long is skipped and its work aborted. Default: no limit. */
  perHostTimeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Runs `work` on every host with bounded concurrency. One host's failure never stops the others; outcomes
 * come back in input order.
 */
export async function forEachHost<H extends { readonly name: string }, T>(
  hosts: readonly H[],
  work: (host: H, signal: AbortSignal) => Promise<T>,
  options: FanOutOptions = {},
): Promise<HostOutcome<T>[]> {
  const forks = options.forks ?? 10;
  if (!Number.isInteger(forks) || forks < 1)
    throw new RangeError(`forks must be a positive integer, got ${forks}`);
  const outcomes = new Array<HostOutcome<T>>(hosts.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < hosts.length; index = next++) {
      outcomes[index] = await runOne(hosts[index]!, work, options);
    }
  };
  await Promise.all(Array.from({ length: Math.min(forks, hosts.length) }, worker));
  return outcomes;
}

async function runOne<H extends { readonly name: string }, T>(
  host: H,
  work: (host: H, signal: AbortSignal) => Promise<T>,
  options: FanOutOptions,
): Promise<HostOutcome<T>> {
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<HostOutcome<T>>((resolve) => {
    if (options.perHostTimeoutMs === undefined) return;
    const limit = options.perHostTimeoutMs;
    timer = setTimeout(() => {
      controller.abort(new Error(`no result within ${limit} ms`));
      resolve({
        host: host.name,
        status: 'skipped',
        reason: `no result within ${limit} ms`,
        kind: 'host-timeout',
      });
    }, limit);
  });
  try {
    if (options.signal?.aborted) {
      return { host: host.name, status: 'skipped', reason: 'run aborted', kind: 'aborted' };
    }
    const attempt = work(host, controller.signal).then(
      (value): HostOutcome<T> => ({ host: host.name, status: 'ok', value }),
      (error: unknown): HostOutcome<T> => describeFailure(host.name, error),
    );
    return await Promise.race([attempt, deadline]);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onOuterAbort);
  }
}

function describeFailure<T>(host: string, error: unknown): HostOutcome<T> {
  if (error instanceof HostUnreachableError || error instanceof HostKeyError) {
    return { host, status: 'skipped', reason: error.message, kind: error.kind };
  }
  return { host, status: 'failed', reason: describeError(error), error };
}
