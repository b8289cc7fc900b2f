import type { Check, CheckContext, DriftProbe, Operation, ProcedureResult } from './check.js';
import { StackdoctorError } from './errors.js';
import { canonicalJson, type Json, readPointer } from './json.js';

/** Executes one planned operation. This and the undo path are the only places stackdoctor mutates a cloud. */
export async function executeOperation(
  operation: Operation,
  check: Check,
  ctx: CheckContext,
): Promise<ProcedureResult> {
  if (operation.kind === 'http') {
    const response = await ctx.cloud.request(operation.service, {
      method: operation.method,
      path: operation.path,
      ...(operation.microversion === undefined ? {} : { microversion: operation.microversion }),
      ...(operation.contentType === undefined ? {} : { contentType: operation.contentType }),
      ...(operation.body === undefined ? {} : { body: operation.body }),
    });
    return {
      summary: `${operation.method} ${operation.service} ${operation.path} → ${response.status}`,
      details: { status: response.status, requestId: response.requestId ?? null },
    };
  }
  const procedure = check.procedures?.[operation.name];
  if (!procedure) {
    throw new StackdoctorError('plan', `check ${check.meta.id} has no procedure "${operation.name}"`);
  }
  return procedure(operation.args, ctx);
}

export interface DriftMismatch {
  pointer: string;
  expected: string;
  found: string;
}

/** Reads the resource and lists every expected value that no longer holds. */
export async function findDrift(probe: DriftProbe, ctx: CheckContext): Promise<DriftMismatch[]> {
  const response = await ctx.cloud.request<unknown>(probe.service, {
    path: probe.path,
    ...(probe.microversion === undefined ? {} : { microversion: probe.microversion }),
  });
  const document = toJson(response.body);
  const mismatches: DriftMismatch[] = [];
  for (const expected of probe.expect) {
    const found = readPointer(document, expected.pointer);
    if ('absent' in expected) {
      if (found !== undefined) {
        mismatches.push({ pointer: expected.pointer, expected: '(absent)', found: canonicalJson(found) });
      }
    } else if (found === undefined || canonicalJson(found) !== canonicalJson(expected.value)) {
      mismatches.push({
        pointer: expected.pointer,
        expected: canonicalJson(expected.value),
        found: found === undefined ? '(absent)' : canonicalJson(found),
      });
    }
  }
  return mismatches;
}

export function describeDrift(mismatches: readonly DriftMismatch[]): string {
  return mismatches.map((m) => `${m.pointer} is ${m.found}, expected ${m.expected}`).join('; ');
}

function toJson(value: unknown): Json {
  // The body came from JSON.parse; the round trip drops anything that is not JSON (undefined) on the way.
  const document: Json = JSON.parse(JSON.stringify(value ?? null));
  return document;
}
