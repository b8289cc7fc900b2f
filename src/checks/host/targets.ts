import { z } from 'zod';
import type { CheckContext, FindingInput, FindingTarget, HostProvider } from '../../core/check.js';
import { StackdoctorError } from '../../core/errors.js';
import type { JsonObject } from '../../core/json.js';
import type { Host, HostSpec } from '../../hosts/index.js';

/** A host check was run by a caller that offers no hosts (a library user, a test without them). */
export class NoHostsError extends StackdoctorError {
  constructor(checkId: string) {
    super('no-hosts', `${checkId} looks at hosts, and this run has none`, {
      hint: 'the CLI gives host checks this machine, --host, -i/--limit or --hypervisors',
    });
    this.name = 'NoHostsError';
  }
}

/** A host fix refused or failed (changed since planned, guests running, malformed journal arguments). */
export class HostFixError extends StackdoctorError {
  constructor(message: string) {
    super('host-fix', message);
    this.name = 'HostFixError';
  }
}

export function requireHosts(ctx: CheckContext, checkId: string): HostProvider {
  if (ctx.hosts === undefined) throw new NoHostsError(checkId);
  return ctx.hosts;
}

export function hostTarget(name: string): FindingTarget {
  return { kind: 'host', name };
}

/** How to reach the host again, kept in evidence and procedure arguments: re-checks and undo reopen it. */
export function describeHostSpec(spec: HostSpec): JsonObject {
  return {
    name: spec.name,
    address: spec.address,
    ...(spec.user === undefined ? {} : { user: spec.user }),
    ...(spec.port === undefined ? {} : { port: spec.port }),
    ...(spec.local === true ? { local: true } : {}),
  };
}

const hostSpecSchema = z.object({
  name: z.string().min(1),
  address: z.string().min(1),
  user: z.string().optional(),
  port: z.number().int().positive().optional(),
  local: z.boolean().optional(),
});

/** The host a finding or a journaled operation names; malformed data (a hand-edited journal) is refused. */
export function readHostSpec(value: unknown): HostSpec {
  const parsed = hostSpecSchema.safeParse(value);
  if (!parsed.success) {
    throw new StackdoctorError(
      'plan',
      `malformed host in evidence or journal: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
}

/**
 * Runs `inspect` on every host of the run and turns each host that could not be looked at into an `info`
 * finding of its own: one unreachable hypervisor must neither fail the check nor hide the others' findings.
 */
export async function* inspectEachHost(
  hosts: HostProvider,
  inspect: (host: Host, spec: HostSpec, signal: AbortSignal) => Promise<FindingInput[]>,
): AsyncIterable<FindingInput> {
  const specs = await hosts.list();
  const bySpec = new Map(specs.map((spec) => [spec.name, spec]));
  const outcomes = await hosts.forEach(async (host, signal) => {
    const spec = bySpec.get(host.name) ?? { name: host.name, address: host.name };
    return inspect(host, spec, signal);
  });
  for (const outcome of outcomes) {
    if (outcome.status === 'ok') {
      yield* outcome.value;
      continue;
    }
    const spec = bySpec.get(outcome.host) ?? { name: outcome.host, address: outcome.host };
    yield {
      target: hostTarget(outcome.host),
      resource: { type: 'host', id: outcome.host, name: outcome.host },
      severity: outcome.status === 'skipped' ? 'info' : 'warning',
      message:
        outcome.status === 'skipped'
          ? `not looked at: ${outcome.reason}`
          : `could not be inspected: ${outcome.reason}`,
      evidence: {
        host: describeHostSpec(spec),
        status: outcome.status,
        reason: outcome.reason,
        ...(outcome.status === 'skipped' ? { kind: outcome.kind } : {}),
      },
      fixable: false,
    };
  }
}
