import type { FindingInput, Severity } from '../../core/check.js';
import { severityRank } from '../../core/check.js';
import type { Json, JsonObject } from '../../core/json.js';
import type { ComputeService } from '../../openstack/compute.js';
import type { ServiceRow } from '../../openstack/nova-db.js';
import { describeServiceVersion } from '../../releases/nova-versions.js';
import {
  computeCellMinimum,
  computeMinimumAllCells,
  countsTowardsMinimum,
  describeComputeRpc,
  findComputeRpcOfServiceVersion,
  findOldestSupportedVersion,
  findReleaseTitle,
  isSupportedSkew,
} from './service-minimum.js';
import type { CellRows, SkippedSource } from './service-rows.js';

export type RepairAction = 'force-down' | 'delete';

export interface AnalysisInput {
  services: readonly ComputeService[];
  /** undefined when no database was given at all. */
  database: { cells: readonly CellRows[]; skipped: readonly SkippedSource[] } | undefined;
  now: Date;
  downAfterSeconds: number;
  action: RepairAction;
  /** Report only services on these hosts (the minimum is still computed over every row). */
  hosts: readonly string[];
  /** Summaries of matching log lines, attached to the findings they explain. */
  logEvidence: readonly JsonObject[] | undefined;
  /** Lowest "from minimum service version N" seen in the logs, if any. */
  loggedMinimum: number | undefined;
}

/** One service as both sources know it: the API (state) and its cell's `services` row (version). */
export interface ServiceView {
  uuid: string;
  binary: string;
  host: string;
  api: ComputeService | undefined;
  row: ServiceRow | undefined;
  cell: CellRows | undefined;
}

export type ProblemKind =
  | 'pins-compute-rpc-cap'
  | 'older-than-newest'
  | 'older-than-supported'
  | 'disabled-and-down'
  | 'down-too-long'
  | 'disabled-never-up'
  | 'forced-down-stale';

interface Problem {
  kind: ProblemKind;
  severity: Severity;
  text: string;
}

/** What the whole deployment looks like: the minimum per binary and the cap it implies. */
export interface DeploymentSummary {
  computeMinimum: number;
  minimumByBinary: Record<string, number>;
  newestVersion: number | undefined;
  /** Rows (uuid) that hold the nova-compute minimum. */
  holders: string[];
}

const computeBinary = 'nova-compute';

export function joinServices(services: readonly ComputeService[], cells: readonly CellRows[]): ServiceView[] {
  const views: ServiceView[] = [];
  const matched = new Set<ServiceRow>();
  for (const api of services) {
    let found: { row: ServiceRow; cell: CellRows } | undefined;
    for (const cell of cells) {
      // Rows from before the uuid online migration have none: fall back to (host, binary), unique per cell.
      const row =
        cell.rows.find((r) => r.uuid === api.id) ??
        cell.rows.find((r) => r.uuid === null && r.host === api.host && r.binary === api.binary);
      if (row) {
        found = { row, cell };
        break;
      }
    }
    if (found) matched.add(found.row);
    views.push({ uuid: api.id, binary: api.binary, host: api.host, api, row: found?.row, cell: found?.cell });
  }
  for (const cell of cells) {
    for (const row of cell.rows) {
      if (matched.has(row)) continue;
      views.push({
        uuid: row.uuid ?? `${cell.target}#${row.id}`,
        binary: row.binary ?? '',
        host: row.host ?? '',
        api: undefined,
        row,
        cell,
      });
    }
  }
  return views;
}

function isLive(view: ServiceView): boolean {
  return view.api?.state === 'up' && view.api.forced_down !== true;
}

function isDisabled(view: ServiceView): boolean {
  return view.api?.status === 'disabled' || view.row?.disabled === true;
}

function isForcedDown(view: ServiceView): boolean {
  return view.api?.forced_down === true || view.row?.forced_down === true;
}

function lastSeen(view: ServiceView): string | null {
  return view.api?.updated_at ?? view.row?.last_seen_up ?? view.row?.updated_at ?? null;
}

export function summariseDeployment(
  views: readonly ServiceView[],
  cells: readonly CellRows[],
): DeploymentSummary {
  const binaries = new Set<string>();
  for (const cell of cells) for (const row of cell.rows) if (row.binary !== null) binaries.add(row.binary);
  const minimumByBinary: Record<string, number> = {};
  for (const binary of [...binaries].sort()) {
    minimumByBinary[binary] = computeMinimumAllCells(
      cells.map((cell) => cell.rows),
      binary,
    );
  }
  const computeMinimum = minimumByBinary[computeBinary] ?? 0;
  const liveVersions = views.filter(isLive).map((view) => view.row?.version ?? 0);
  const countedVersions = views
    .filter((view) => view.row !== undefined && countsTowardsMinimum(view.row))
    .map((view) => view.row?.version ?? 0);
  const candidates = (liveVersions.some((v) => v > 0) ? liveVersions : countedVersions).filter((v) => v > 0);
  const newestVersion = candidates.length > 0 ? Math.max(...candidates) : undefined;
  const holders = views
    .filter((view) => {
      const { row, cell } = view;
      if (row === undefined || cell === undefined || view.binary !== computeBinary) return false;
      if (!countsTowardsMinimum(row) || row.version !== computeMinimum || computeMinimum === 0) return false;
      // A cell whose own minimum is 0 is ignored by Nova altogether (get_minimum_version_all_cells).
      return computeCellMinimum(cell.rows, computeBinary) === computeMinimum;
    })
    .map((view) => view.uuid);
  return { computeMinimum, minimumByBinary, newestVersion, holders };
}

function ageSeconds(timestamp: string | null, now: Date): number | undefined {
  if (timestamp === null) return undefined;
  // Nova's API writes naive UTC timestamps (`2024-05-01T12:00:00.000000`).
  const parsed = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(timestamp) ? timestamp : `${timestamp}Z`);
  return Number.isNaN(parsed) ? undefined : Math.max(0, Math.round((now.getTime() - parsed) / 1000));
}

function findProblems(view: ServiceView, summary: DeploymentSummary, input: AnalysisInput): Problem[] {
  const problems: Problem[] = [];
  const { row } = view;
  const live = isLive(view);
  const forcedDown = isForcedDown(view);
  const version = row?.version ?? null;
  const newest = summary.newestVersion;
  const counted = row !== undefined && countsTowardsMinimum(row);

  if (view.binary === computeBinary && counted && version !== null && version > 0 && newest !== undefined) {
    const staleOrUnsupported = !live || !isSupportedSkew(version, newest);
    if (version < newest && staleOrUnsupported) {
      if (summary.holders.includes(view.uuid)) {
        problems.push({
          kind: 'pins-compute-rpc-cap',
          severity: 'critical',
          text:
            `holds the minimum nova-compute version at ${describeServiceVersion(version)}: compute RPC capped at ` +
            `${describeComputeRpc(version)} while the newest services run ${describeServiceVersion(newest)} ` +
            `(${describeComputeRpc(newest)})`,
        });
      } else {
        problems.push({
          kind: 'older-than-newest',
          severity: 'warning',
          text: `is at ${describeServiceVersion(version)}, older than the newest ${describeServiceVersion(newest)}: it would hold the cap at ${describeComputeRpc(version)} once older rows are gone`,
        });
      }
    }
    const oldest = findOldestSupportedVersion(newest);
    if (oldest !== undefined && version < oldest.version) {
      problems.push({
        kind: 'older-than-supported',
        severity: 'critical',
        text:
          `is older than ${oldest.release} (${oldest.version}), the oldest compute the running Nova supports: ` +
          'nova-api, conductor, scheduler and compute refuse to start (TooOldComputeService) at their next restart',
      });
    }
  }
  if (view.api !== undefined && !live && !forcedDown) {
    const disabled = isDisabled(view);
    const seen = lastSeen(view);
    const age = ageSeconds(seen, input.now);
    if (disabled && seen === null) {
      problems.push({
        kind: 'disabled-never-up',
        severity: 'warning',
        text: 'is disabled and was never seen up',
      });
    } else if (disabled) {
      problems.push({
        kind: 'disabled-and-down',
        severity: 'warning',
        text: `is disabled and down (last seen ${seen})`,
      });
    }
    if (!disabled && age !== undefined && age >= input.downAfterSeconds) {
      problems.push({
        kind: 'down-too-long',
        severity: 'warning',
        text: `has been down for ${formatDuration(age)} (threshold ${formatDuration(input.downAfterSeconds)})`,
      });
    }
  }
  if (input.action === 'delete' && view.api !== undefined && forcedDown && view.api.state !== 'up') {
    problems.push({
      kind: 'forced-down-stale',
      severity: 'info',
      text: 'is forced down and down: out of the minimum already; listed because --set action=delete was given',
    });
  }
  return problems;
}

function formatDuration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

/** Why the chosen repair cannot be applied to this service, or undefined when it can be planned. */
export function findRepairObstacle(view: ServiceView, action: RepairAction): string | undefined {
  if (view.api === undefined) {
    return 'the compute API does not list this row (API-only binaries are hidden there): remove it with nova-manage, not through the API';
  }
  if (view.api.state === 'up' && view.api.forced_down !== true) {
    return 'it is up and reporting: upgrade or stop it instead';
  }
  if (action === 'force-down') {
    if (view.binary !== computeBinary) {
      return `only nova-compute services can be forced down (the API refuses ${view.binary}); --set action=delete removes it`;
    }
    if (view.api.forced_down === true) return 'it is already forced down';
  }
  return undefined;
}

/**
 * A forced-down service stays down when it comes back, so an enabled service that is merely down (it may be
 * in maintenance) is not forced down on the strength of its silence alone: it must hold the minimum down, be
 * too old, or have been disabled by an operator. Deleting is asked for explicitly (`action=delete`, `--yes`).
 */
function findForceDownReason(problems: readonly Problem[], action: RepairAction): string | undefined {
  if (action !== 'force-down' || problems.some((p) => p.kind !== 'down-too-long')) return undefined;
  return 'it is enabled and only down (maybe in maintenance): disable it if it is gone for good, or use --set action=delete';
}

/** The services to restart or SIGHUP after a row left the minimum, in order, with the hosts they run on. */
export function describeAfterRepair(views: readonly ServiceView[]): string[] {
  const hostsOf = (binary: string) =>
    [...new Set(views.filter((v) => v.binary === binary && isLive(v)).map((v) => v.host))].sort();
  const apiHosts = [
    ...new Set(
      views.filter((v) => v.binary === 'nova-osapi_compute' && v.row !== undefined).map((v) => v.host),
    ),
  ].sort();
  const list = (hosts: string[]) => (hosts.length > 0 ? hosts.join(', ') : 'every host that runs it');
  return [
    `1. nova-conductor: send SIGHUP (it re-computes the cap on reset) on ${list(hostsOf('nova-conductor'))}`,
    `2. nova-compute: send SIGHUP on ${list(hostsOf(computeBinary))}`,
    `3. nova-scheduler: restart on ${list(hostsOf('nova-scheduler'))} (its SIGHUP does not reset the cap)`,
    `4. nova-api (WSGI): restart last, on ${list(apiHosts)} (API processes keep the cap until restarted)`,
    '5. verify: each service logs "Automatically selected compute RPC version X from minimum service version N" with the new N on first use',
  ];
}

function serviceEvidence(view: ServiceView): JsonObject {
  const api = view.api;
  const row = view.row;
  const version = row?.version ?? null;
  return {
    uuid: view.uuid,
    binary: view.binary,
    host: view.host,
    zone: api?.zone ?? null,
    status: api?.status ?? (row === undefined ? null : row.disabled ? 'disabled' : 'enabled'),
    state: api?.state ?? null,
    forced_down: api?.forced_down ?? row?.forced_down ?? null,
    updated_at: api?.updated_at ?? null,
    disabled_reason: api?.disabled_reason ?? row?.disabled_reason ?? null,
    database:
      row === undefined
        ? null
        : {
            cell: view.cell?.cellName ?? null,
            cellUuid: view.cell?.cellUuid ?? null,
            target: view.cell?.target ?? null,
            id: row.id,
            version,
            release: findReleaseTitle(version),
            computeRpc: version === null ? null : (findComputeRpcOfServiceVersion(version).rpc ?? null),
            computeRpcExact: version === null ? null : findComputeRpcOfServiceVersion(version).exact,
            disabled: row.disabled,
            forced_down: row.forced_down,
            last_seen_up: row.last_seen_up,
            updated_at: row.updated_at,
            counted: countsTowardsMinimum(row),
          },
  };
}

function summaryEvidence(summary: DeploymentSummary): JsonObject {
  const minimum = summary.computeMinimum;
  return {
    computeMinimum: minimum,
    computeMinimumRelease: findReleaseTitle(minimum),
    computeRpcCap: minimum === 0 ? null : (findComputeRpcOfServiceVersion(minimum).rpc ?? null),
    newestVersion: summary.newestVersion ?? null,
    newestRelease: summary.newestVersion === undefined ? null : findReleaseTitle(summary.newestVersion),
    minimumByBinary: summary.minimumByBinary,
    holders: summary.holders,
  };
}

function worst(problems: readonly Problem[]): Severity {
  return problems.reduce<Severity>(
    (acc, p) => (severityRank[p.severity] > severityRank[acc] ? p.severity : acc),
    'info',
  );
}

/** Findings about one service, keyed by its UUID, so that a re-check can find exactly this one again. */
export function analyseService(
  view: ServiceView,
  views: readonly ServiceView[],
  summary: DeploymentSummary,
  input: AnalysisInput,
): FindingInput | null {
  const problems = findProblems(view, summary, input);
  if (problems.length === 0) return null;
  const severity = worst(problems);
  const obstacle = findRepairObstacle(view, input.action) ?? findForceDownReason(problems, input.action);
  const version = view.row?.version ?? null;
  const where = view.cell?.cellName ? `, ${view.cell.cellName}` : '';
  const what = version === null ? '' : ` (version ${describeServiceVersion(version)}${where})`;
  const critical = severity === 'critical';
  const evidence: JsonObject = {
    service: serviceEvidence(view),
    problems: problems.map((p) => p.kind),
    details: problems.map((p) => p.text),
    deployment: summaryEvidence(summary),
    repair: obstacle === undefined ? input.action : null,
    repairObstacle: obstacle ?? null,
    afterRepair: describeAfterRepair(views),
  };
  if (critical && input.logEvidence !== undefined) evidence.logs = [...input.logEvidence];
  return {
    resource: { type: 'nova-service', id: view.uuid, name: `${view.binary}@${view.host}` },
    message: `${view.binary} on ${view.host}${what} ${problems.map((p) => p.text).join('; ')}${obstacle === undefined ? '' : ` — not repaired automatically: ${obstacle}`}`,
    evidence,
    severity,
    fixable: obstacle === undefined,
  };
}

/** Deployment-wide findings: skew, an upgrade in progress, skipped databases, stale caches seen in logs. */
export function analyseDeployment(
  views: readonly ServiceView[],
  summary: DeploymentSummary,
  input: AnalysisInput,
): FindingInput[] {
  const findings: FindingInput[] = [];
  const deployment = { type: 'nova-deployment', id: 'compute-rpc', name: 'nova service versions' };
  if (input.database === undefined) {
    findings.push({
      resource: { type: 'nova-database', id: 'not-given', name: 'nova cell databases' },
      message:
        'service versions not read (no API shows them): give --set nova-db=URL, --set nova-api-db=URL or --set nova-conf=FILE; only API state was checked',
      evidence: { skipped: true, reason: 'no database given' },
      severity: 'info',
      fixable: false,
    });
  } else {
    for (const skipped of input.database.skipped) {
      findings.push({
        resource: { type: 'nova-database', id: skipped.target, name: 'nova database' },
        message: `database part skipped for ${skipped.target}: ${skipped.reason}`,
        evidence: { skipped: true, target: skipped.target, reason: skipped.reason },
        severity: 'info',
        fixable: false,
      });
    }
  }
  if (input.database !== undefined && input.database.cells.length > 0) {
    // Always stated when rows were read: after a repair this is how an operator sees the new minimum.
    const minimum = summary.computeMinimum;
    const holders = views.filter((v) => summary.holders.includes(v.uuid)).map((v) => `${v.binary}@${v.host}`);
    findings.push({
      resource: { type: 'nova-deployment', id: 'compute-rpc-cap', name: 'compute RPC cap' },
      message:
        minimum === 0
          ? 'no counted nova-compute rows: each service uses its own compute RPC version'
          : `minimum nova-compute version ${describeServiceVersion(minimum)}: compute RPC cap ${describeComputeRpc(minimum)}` +
            `${summary.newestVersion === undefined ? '' : `; newest service ${describeServiceVersion(summary.newestVersion)}`}` +
            `; held by ${holders.join(', ') || 'no listed service'}`,
      evidence: {
        ...summaryEvidence(summary),
        cells: input.database.cells.map((cell) => ({
          cell: cell.cellName,
          target: cell.target,
          computeMinimum: computeCellMinimum(cell.rows, computeBinary) ?? null,
          rows: cell.rows.length,
        })),
      },
      severity: 'info',
      fixable: false,
    });
  }
  const live = views.filter((v) => isLive(v) && v.row?.version !== null && (v.row?.version ?? 0) > 0);
  if (live.length > 0) {
    const versions = live.map((v) => v.row?.version ?? 0);
    const oldest = Math.min(...versions);
    const newest = Math.max(...versions);
    const name = (version: number) =>
      live
        .filter((v) => v.row?.version === version)
        .map((v) => `${v.binary}@${v.host}`)
        .sort()
        .join(', ');
    const liveEvidence: Json = live.map((v) => ({
      uuid: v.uuid,
      binary: v.binary,
      host: v.host,
      version: v.row?.version ?? null,
    }));
    if (oldest !== newest && !isSupportedSkew(oldest, newest)) {
      findings.push({
        resource: deployment,
        message:
          `live services span more releases than Nova supports: ${describeServiceVersion(oldest)} (${name(oldest)}) ` +
          `to ${describeServiceVersion(newest)} (${name(newest)}); the compute RPC cap is ${describeComputeRpc(summary.computeMinimum || oldest)}`,
        evidence: {
          ...summaryEvidence(summary),
          live: liveEvidence,
          ...(input.logEvidence ? { logs: [...input.logEvidence] } : {}),
        },
        severity: 'critical',
        fixable: false,
      });
    } else if (oldest !== newest) {
      findings.push({
        resource: deployment,
        message: `upgrade in progress: live services run ${describeServiceVersion(oldest)} (${name(oldest)}) and ${describeServiceVersion(newest)} (${name(newest)}); the cap stays at ${describeComputeRpc(oldest)} until all are upgraded and SIGHUP'd`,
        evidence: { ...summaryEvidence(summary), live: liveEvidence },
        severity: 'info',
        fixable: false,
      });
    }
  }
  if (
    input.loggedMinimum !== undefined &&
    input.database !== undefined &&
    summary.computeMinimum > input.loggedMinimum
  ) {
    findings.push({
      resource: deployment,
      message:
        `logs show a cap chosen from minimum service version ${describeServiceVersion(input.loggedMinimum)}, but the minimum is now ` +
        `${describeServiceVersion(summary.computeMinimum)}: processes that have not been restarted or SIGHUP'd since still use the old cap`,
      evidence: {
        ...summaryEvidence(summary),
        loggedMinimum: input.loggedMinimum,
        afterRepair: describeAfterRepair(views),
        logs: [...(input.logEvidence ?? [])],
      },
      severity: 'warning',
      fixable: false,
    });
  }
  return findings;
}

export function analyse(input: AnalysisInput): FindingInput[] {
  const cells = input.database?.cells ?? [];
  const views = joinServices(input.services, cells);
  const summary = summariseDeployment(views, cells);
  const findings: FindingInput[] = [];
  for (const view of views) {
    if (input.hosts.length > 0 && !input.hosts.includes(view.host)) continue;
    const finding = analyseService(view, views, summary, input);
    if (finding) findings.push(finding);
  }
  findings.push(...analyseDeployment(views, summary, input));
  return findings;
}
