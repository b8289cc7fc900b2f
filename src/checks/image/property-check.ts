import {
  type Check,
  type CheckContext,
  type CheckMeta,
  defineCheck,
  type FindingInput,
  type Severity,
  severityRank,
} from '../../core/check.js';
import type { JsonObject } from '../../core/json.js';
import { extraProperties, getImage, type Image } from '../../openstack/image.js';
import { type ResolvedImagePolicy, resolveImagePolicy } from './policy.js';
import { type PropertyChanges, planImagePropertyChange } from './property-fix.js';
import { loadRunPolicy, sweepImages } from './sweep.js';

/** One thing wrong with an image, as a property check sees it. */
export interface PropertyProblem {
  severity: Severity;
  message: string;
}

/** A property check's view of one image: what is wrong, and the changes that would put it right. */
export interface PropertyVerdict {
  problems: PropertyProblem[];
  /** Absent: not fixable (no guess, or nothing stackdoctor should decide alone). */
  changes?: PropertyChanges;
  evidence: JsonObject;
}

export interface ImageView {
  image: Image;
  properties: Readonly<Record<string, string>>;
  policy: ResolvedImagePolicy;
}

export interface PropertyCheckSpec<Env> {
  meta: CheckMeta;
  /** Run-wide inputs (parameters, osinfo, stores), read once per call of detect/recheck/plan. */
  prepare(ctx: CheckContext): Promise<Env>;
  /** Pure: the verdict for one active image, or null when it is fine. */
  inspect(view: ImageView, env: Env): PropertyVerdict | null;
}

export function viewImage(image: Image, policy: Parameters<typeof resolveImagePolicy>[0]): ImageView {
  const properties = extraProperties(image);
  return {
    image,
    properties,
    policy: resolveImagePolicy(policy, { name: image.name ?? undefined, osType: properties.os_type }),
  };
}

function describeChanges(changes: PropertyChanges): string {
  return Object.entries(changes)
    .map(([name, value]) => (value === null ? `remove ${name}` : `${name}=${value}`))
    .join(', ');
}

/** The finding for a verdict; exported for the unit tests' tables. */
export function toFinding(image: Image, verdict: PropertyVerdict): FindingInput {
  const worst = verdict.problems.reduce<Severity>(
    (severity, problem) =>
      severityRank[problem.severity] > severityRank[severity] ? problem.severity : severity,
    'info',
  );
  const changes = verdict.changes && Object.keys(verdict.changes).length > 0 ? verdict.changes : undefined;
  const messages = verdict.problems.map((problem) => problem.message).join('; ');
  return {
    resource: { type: 'image', id: image.id, name: image.name ?? undefined },
    message: changes ? `${messages}; fix: ${describeChanges(changes)}` : messages,
    severity: worst,
    evidence: {
      ...verdict.evidence,
      changes: changes ? { ...changes } : null,
      visibility: image.visibility ?? null,
      owner: image.owner ?? null,
    },
    fixable: changes !== undefined,
  };
}

async function inspectOne<Env>(spec: PropertyCheckSpec<Env>, ctx: CheckContext, image: Image | null) {
  // Glance only boots active images, and a fix must never touch one that is being uploaded or deactivated.
  if (image === null || image.status !== 'active') return null;
  const [env, policy] = await Promise.all([spec.prepare(ctx), loadRunPolicy(ctx)]);
  const verdict = spec.inspect(viewImage(image, policy), env);
  return verdict === null || verdict.problems.length === 0 ? null : { image, verdict };
}

/**
 * A check over image properties: one shared sweep, policy applied, a pure `inspect` deciding, and a fix
 * that is one reversible JSON-patch per image computed again from a fresh read right before it is applied.
 */
export function definePropertyCheck<Env>(spec: PropertyCheckSpec<Env>): Check {
  return defineCheck({
    meta: spec.meta,
    async *detect(ctx) {
      const [env, policy, images] = await Promise.all([
        spec.prepare(ctx),
        loadRunPolicy(ctx),
        sweepImages(ctx),
      ]);
      for (const image of images) {
        if (image.status !== 'active') continue;
        const verdict = spec.inspect(viewImage(image, policy), env);
        if (verdict !== null && verdict.problems.length > 0) yield toFinding(image, verdict);
      }
    },
    async recheck(finding, ctx) {
      const result = await inspectOne(spec, ctx, await getImage(ctx.cloud, finding.resource.id));
      return result === null ? null : toFinding(result.image, result.verdict);
    },
    async plan(finding, ctx) {
      const result = await inspectOne(spec, ctx, await getImage(ctx.cloud, finding.resource.id));
      const changes = result?.verdict.changes;
      if (!result || !changes || Object.keys(changes).length === 0) return [];
      const label = result.image.name ?? result.image.id;
      return [
        planImagePropertyChange(result.image, changes, `${describeChanges(changes)} on image ${label}`),
      ];
    },
  });
}

export interface Wish {
  /** undefined: nobody wants anything (or the policy says to ignore the property). */
  value: string | null | undefined;
  /** `policy FILE:LINE` or `runbook default`. */
  source: string;
  fromPolicy: boolean;
}

/** What is wanted for a property: the policy's value, else the runbook default, unless the policy ignores it. */
export function wishFor(view: ImageView, property: string, runbookDefault?: string): Wish {
  if (view.policy.ignored.has(property))
    return { value: undefined, source: 'ignored by policy', fromPolicy: true };
  const wish = view.policy.wanted.get(property);
  if (wish) return { value: wish.value, source: `policy ${wish.source}`, fromPolicy: true };
  return { value: runbookDefault, source: 'runbook default', fromPolicy: false };
}

/**
 * The verdict when the policy names the value of a single property: null when the image already has it,
 * else a warning whose fix sets (or, for `null`, removes) exactly that value.
 */
export function verdictFromPolicy(
  property: string,
  current: string | undefined,
  wish: Wish & { value: string | null },
  evidence: JsonObject,
): PropertyVerdict | null {
  if ((wish.value ?? undefined) === current) return null;
  const has = current === undefined ? 'none' : `"${current}"`;
  return {
    problems: [
      {
        severity: 'warning',
        message:
          wish.value === null
            ? `${wish.source} wants no ${property}, the image has ${has}`
            : `${wish.source} wants ${property}=${wish.value}, the image has ${has}`,
      },
    ],
    changes: { [property]: wish.value },
    evidence: { ...evidence, proposed: wish.value, confidence: 'given', reason: wish.source },
  };
}
