import type { Host, HostOutcome, HostSpec } from '../hosts/index.js';
import type { CloudSession, HttpMethod, MicroversionedService, ServiceType } from '../openstack/types.js';
import type { Json, JsonObject } from './json.js';
import type { Logger } from './logger.js';

export type Severity = 'critical' | 'warning' | 'info';
export const severityRank: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export type CheckTarget = 'cloud' | 'host';

export interface CheckMeta {
  /** `area/name`; also the path of the check's file, runbook page and tests. */
  id: string;
  title: string;
  /** What goes wrong and why it matters, in a sentence or two. */
  description: string;
  /** Severity of this check's findings unless a finding says otherwise. */
  severity: Severity;
  targets: readonly CheckTarget[];
  requires: {
    services?: readonly ServiceType[];
    /** Minimum microversion per service; the check is skipped on a cloud that offers less. */
    microversions?: Partial<Record<MicroversionedService, string>>;
    admin?: boolean;
  };
  references: readonly string[];
  /** Parameters the check reads from `--set NAME=VALUE`, with what each means. */
  parameters?: Readonly<Record<string, string>>;
  fix?: {
    /** `safe`: applied with `--apply`; `confirm`: also needs `--yes` (or an interactive yes). */
    safety: 'safe' | 'confirm';
    reversible: boolean;
    description: string;
  };
}

export interface ResourceRef {
  type: string;
  id: string;
  name?: string | undefined;
}

/** What a check reports; the runner adds the check id, target and default severity. */
export interface FindingInput {
  resource: ResourceRef;
  message: string;
  evidence: JsonObject;
  severity?: Severity;
  /** Default: the check declares a fix. */
  fixable?: boolean;
  /** `suspected` findings are reported but never fixed (e.g. awaiting a confirming second sweep). */
  confidence?: 'confirmed' | 'suspected';
  /** Default: the cloud. Host checks name the host each finding is about. */
  target?: FindingTarget;
}

export interface FindingTarget {
  kind: CheckTarget;
  /** Cloud name (and region) or host name. */
  name: string;
  region?: string | undefined;
}

export interface Finding {
  checkId: string;
  severity: Severity;
  target: FindingTarget;
  resource: ResourceRef;
  message: string;
  evidence: JsonObject;
  fixable: boolean;
  confidence: 'confirmed' | 'suspected';
}

/**
 * A mutation, as data: the core executes it, journals it and can show it. Checks never call a mutating API.
 * `procedure` names a function declared in the same check's `procedures`, for operations that need a read
 * at execution time (e.g. a Placement PUT that must carry the consumer's current generation).
 */
export type Operation =
  | {
      kind: 'http';
      service: ServiceType;
      method: Exclude<HttpMethod, 'GET' | 'HEAD'>;
      path: string;
      microversion?: string;
      contentType?: string;
      body?: Json;
    }
  | { kind: 'procedure'; name: string; args: JsonObject };

/** One expected value at a JSON pointer of a GET response; `absent` means the key must not exist. */
export type ExpectedValue = { pointer: string; value: Json } | { pointer: string; absent: true };

/**
 * How to tell whether someone changed the resource after we did: read it and compare. Used before undo.
 */
export interface DriftProbe {
  service: ServiceType;
  path: string;
  microversion?: string;
  expect: ExpectedValue[];
}

export interface FixStep {
  describe: string;
  resource: ResourceRef;
  apply: Operation;
  undo: Operation | 'irreversible';
  /** The full state before the change, journaled before anything is applied. */
  priorState: Json;
  /** Read-back that must hold after apply and before undo. */
  after?: DriftProbe;
  /** Destructive: needs `--yes` in addition to `--apply`, whatever the check's default safety. */
  destructive?: boolean;
}

/**
 * The hosts a run looks at (`--host`, `-i`/`--limit`, `--hypervisors`, `--root`, or this machine), given to
 * host checks by the CLI. Checks never open ssh themselves.
 */
export interface HostProvider {
  list(): Promise<HostSpec[]>;
  /** Also hosts list() does not name: undo reopens the host a journal entry names. */
  open(spec: HostSpec): Promise<Host>;
  /** `work` on every listed host, `--forks` at once; an unreachable host comes back `skipped`, the rest go on. */
  forEach<T>(work: (host: Host, signal: AbortSignal) => Promise<T>): Promise<HostOutcome<T>[]>;
}

export interface CheckContext {
  readonly cloud: CloudSession;
  /** Undefined where the caller offers no hosts (host checks then report that they cannot run). */
  readonly hosts?: HostProvider | undefined;
  /** `--set NAME=VALUE` values given on the command line. */
  readonly parameters: Readonly<Record<string, string>>;
  readonly now: () => Date;
  readonly log: Logger;
  readonly signal: AbortSignal;
  /**
   * A directory a check may keep small state in between runs (e.g. the suspects of a first sweep that a
   * later sweep must confirm), one file per cloud. Undefined: the check runs without memory.
   */
  readonly stateDirectory?: string | undefined;
}

export type Procedure = (args: JsonObject, ctx: CheckContext) => Promise<ProcedureResult>;
export interface ProcedureResult {
  /** What was done, for the journal and the report. */
  summary: string;
  /** Anything the journal should keep (never secrets). */
  details?: JsonObject;
}

export interface Check {
  meta: CheckMeta;
  detect(ctx: CheckContext): AsyncIterable<FindingInput>;
  /** Re-reads one finding's resource: the finding as it stands now, or null when it no longer holds. */
  recheck?(finding: Finding, ctx: CheckContext): Promise<FindingInput | null>;
  plan?(finding: Finding, ctx: CheckContext): Promise<FixStep[]>;
  procedures?: Readonly<Record<string, Procedure>>;
}

const checkIdPattern = /^[a-z0-9]+(?:-[a-z0-9]+)*\/[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * Declares a check. Metadata is validated here, at load time, so a malformed check fails the catalogue
 * test (and `stackdoctor list`) instead of misbehaving in a run.
 */
export function defineCheck<C extends Check>(check: C): C {
  const { meta } = check;
  const problems: string[] = [];
  if (!checkIdPattern.test(meta.id)) problems.push(`id "${meta.id}" is not area/kebab-name`);
  if (meta.title.trim() === '') problems.push('title is empty');
  if (meta.description.trim() === '') problems.push('description is empty');
  if (meta.targets.length === 0) problems.push('no targets');
  if (meta.references.length === 0) problems.push('no references');
  if (check.plan && !meta.fix) problems.push('plan() given but meta.fix is not declared');
  if (meta.fix && !check.plan) problems.push('meta.fix declared but no plan()');
  if (meta.fix && !check.recheck) problems.push('a fixable check needs recheck() to re-verify before acting');
  for (const [service, version] of Object.entries(meta.requires.microversions ?? {})) {
    if (!/^\d+\.\d+$/.test(version)) problems.push(`microversion for ${service} is not N.M: ${version}`);
  }
  if (problems.length > 0) throw new Error(`invalid check ${meta.id}: ${problems.join('; ')}`);
  return check;
}
