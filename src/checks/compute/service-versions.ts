import { readFile } from 'node:fs/promises';
import { type Check, type CheckContext, defineCheck, type FindingInput } from '../../core/check.js';
import { describeError, UsageError } from '../../core/errors.js';
import type { JsonObject } from '../../core/json.js';
import { scanLogs } from '../../logs/scan.js';
import novaRpcVersionCap from '../../logs/signatures/nova-rpc-version-cap.js';
import novaRpcVersionSelected from '../../logs/signatures/nova-rpc-version-selected.js';
import novaTooOldCompute from '../../logs/signatures/nova-too-old-compute.js';
import { listComputeServices } from '../../openstack/compute.js';
import { openNovaDatabase } from '../../openstack/nova-db.js';
import {
  type AnalysisInput,
  analyse,
  describeAfterRepair,
  findRepairObstacle,
  joinServices,
  type RepairAction,
} from './service-analysis.js';
import { computeMinimumAllCells } from './service-minimum.js';
import {
  clearForcedDown,
  clearForcedDownProcedure,
  planDelete,
  planForceDown,
  ServiceRepairRefusedError,
} from './service-repair.js';
import {
  readServiceRows,
  resolveDatabaseSources,
  type ServiceRowsResult,
  type SourceDeps,
  splitList,
} from './service-rows.js';

/** Side effects of this check, injected so that unit tests run without databases or log files. */
export interface ServiceVersionsDeps extends SourceDeps {
  scanLogs: (
    paths: readonly string[],
  ) => Promise<{ evidence: JsonObject[]; loggedMinimum: number | undefined }>;
}

interface Parameters {
  downAfterSeconds: number;
  action: RepairAction;
  hosts: string[];
  logPaths: string[];
}

// Well above Nova's service_down_time (60 s): a service down this long is not restarting, it is gone.
const defaultDownAfterSeconds = 3600;

function readParameters(parameters: Readonly<Record<string, string>>): Parameters {
  const downAfter = parameters['down-after'];
  let downAfterSeconds = defaultDownAfterSeconds;
  if (downAfter !== undefined) {
    if (!/^\d+$/.test(downAfter))
      throw new UsageError(`--set down-after=${downAfter}: expected a number of seconds`);
    downAfterSeconds = Number(downAfter);
  }
  const action = parameters.action ?? 'force-down';
  if (action !== 'force-down' && action !== 'delete') {
    throw new UsageError(`--set action=${action}: expected force-down or delete`);
  }
  return {
    downAfterSeconds,
    action,
    hosts: splitList(parameters.host),
    logPaths: splitList(parameters.logs),
  };
}

function databaseGiven(parameters: Readonly<Record<string, string>>): boolean {
  return ['nova-db', 'nova-api-db', 'nova-conf'].some((name) => parameters[name] !== undefined);
}

async function loadRows(
  ctx: CheckContext,
  deps: ServiceVersionsDeps,
): Promise<ServiceRowsResult | undefined> {
  if (!databaseGiven(ctx.parameters)) return undefined;
  let result: ServiceRowsResult;
  try {
    const sources = await resolveDatabaseSources(ctx.parameters, deps.readTextFile);
    result = await readServiceRows(sources, deps);
  } catch (error) {
    // An unreadable nova.conf is the database part failing, like an unreachable database: not the check.
    const target = `nova.conf ${ctx.parameters['nova-conf'] ?? ''}`.trim();
    result = {
      cells: [],
      skipped: [{ target, reason: describeError(error) }],
      hostMappingOf: undefined,
      close: async () => {},
    };
  }
  for (const skipped of result.skipped)
    ctx.log.warn(`compute/service-versions: database part skipped for ${skipped.target}: ${skipped.reason}`);
  return result;
}

/** Everything the analysis needs, read once; the databases are closed before returning. */
async function collect(
  ctx: CheckContext,
  deps: ServiceVersionsDeps,
): Promise<{ input: AnalysisInput; rows: ServiceRowsResult | undefined }> {
  const parameters = readParameters(ctx.parameters);
  const services = await listComputeServices(ctx.cloud);
  const rows = await loadRows(ctx, deps);
  const logs = parameters.logPaths.length > 0 ? await deps.scanLogs(parameters.logPaths) : undefined;
  return {
    rows,
    input: {
      services,
      database: rows === undefined ? undefined : { cells: rows.cells, skipped: rows.skipped },
      now: ctx.now(),
      downAfterSeconds: parameters.downAfterSeconds,
      action: parameters.action,
      hosts: parameters.hosts,
      logEvidence: logs?.evidence,
      loggedMinimum: logs?.loggedMinimum,
    },
  };
}

async function detectAll(ctx: CheckContext, deps: ServiceVersionsDeps): Promise<FindingInput[]> {
  const { input, rows } = await collect(ctx, deps);
  try {
    return analyse(input);
  } finally {
    await rows?.close();
  }
}

const logSignatures = [novaRpcVersionCap, novaRpcVersionSelected, novaTooOldCompute];

/** Matching log lines as evidence, and the lowest minimum a process logged choosing its cap from. */
async function scanLogEvidence(
  paths: readonly string[],
): Promise<{ evidence: JsonObject[]; loggedMinimum: number | undefined }> {
  const result = await scanLogs(paths, { signatures: logSignatures });
  let loggedMinimum: number | undefined;
  const evidence: JsonObject[] = result.findings.map((finding) => {
    if (finding.signatureId === novaRpcVersionSelected.id) {
      const values = finding.evidence.values;
      for (const value of Array.isArray(values) ? values : []) {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) continue;
        const minimum = value.minimumServiceVersion;
        if (typeof minimum === 'number' && (loggedMinimum === undefined || minimum < loggedMinimum))
          loggedMinimum = minimum;
      }
    }
    return { signature: finding.signatureId, message: finding.message, ...finding.evidence };
  });
  for (const problem of result.problems)
    evidence.push({ signature: null, message: `${problem.kind}: ${problem.path}: ${problem.message}` });
  return { evidence, loggedMinimum };
}

export const defaultServiceVersionsDeps: ServiceVersionsDeps = {
  readTextFile: (path) => readFile(path, 'utf8'),
  openDatabase: (url) => openNovaDatabase(url),
  scanLogs: scanLogEvidence,
};

export function createServiceVersionsCheck(deps: ServiceVersionsDeps): Check {
  return defineCheck({
    meta: {
      id: 'compute/service-versions',
      title: 'Nova service rows that pin the compute RPC version (RPCVersionCapError)',
      description:
        'Nova caps compute RPC at the version of the oldest nova-compute row, disabled and dead rows included; a ' +
        'stale row from an old release pins the whole cloud and new code fails with RPCVersionCapError, or the ' +
        'control plane refuses to start (TooOldComputeService).',
      severity: 'critical',
      targets: ['cloud'],
      requires: { services: ['compute'], microversions: { compute: '2.53' }, admin: true },
      references: [
        'docs/openstack-reference.md §3.2 (os-services), §4 (service versions, minimum, caching)',
        'nova: nova/objects/service.py (get_minimum_version, SERVICE_VERSION_HISTORY, OLDEST_SUPPORTED_SERVICE_VERSION)',
        'nova: nova/compute/rpcapi.py (_determine_version_cap)',
        'https://docs.openstack.org/nova/latest/admin/upgrades.html',
      ],
      parameters: {
        'nova-db': 'cell database URL(s), comma-separated, as in nova.conf [database] connection (read-only)',
        'nova-api-db': 'API database URL ([api_database] connection): finds every cell through cell_mappings',
        'nova-conf': 'a nova.conf to read [database] and [api_database] connection from',
        'down-after': `seconds a service must be down before it is reported (default ${defaultDownAfterSeconds})`,
        action: 'repair: force-down (default, reversible) or delete (irreversible, needs --yes)',
        host: 'only report and repair services on these hosts (comma-separated); the minimum still counts every row',
        logs: 'log files or directories (comma-separated) to attach cap selections and RPCVersionCapError lines from',
      },
      fix: {
        safety: 'safe',
        reversible: true,
        description:
          'forces the stale service down (PUT /os-services/{uuid} forced_down=true, 2.53), undo clears it; with ' +
          '--set action=delete deletes it instead (irreversible, needs --yes, journals the record, aggregates, ' +
          'resource providers and host mapping first)',
      },
    },
    procedures: { [clearForcedDownProcedure]: clearForcedDown },
    async *detect(ctx) {
      yield* await detectAll(ctx, deps);
    },
    async recheck(finding, ctx) {
      const findings = await detectAll(ctx, deps);
      return (
        findings.find(
          (f) => f.resource.type === finding.resource.type && f.resource.id === finding.resource.id,
        ) ?? null
      );
    },
    async plan(finding, ctx) {
      if (finding.resource.type !== 'nova-service') return [];
      const parameters = readParameters(ctx.parameters);
      const { input, rows } = await collect(ctx, deps);
      try {
        const views = joinServices(input.services, rows?.cells ?? []);
        const view = views.find((v) => v.uuid === finding.resource.id);
        if (view?.api === undefined) return [];
        const obstacle = findRepairObstacle(view, parameters.action);
        if (obstacle !== undefined) {
          throw new ServiceRepairRefusedError(
            `not repairing ${view.binary} on ${view.host}: ${obstacle}`,
            'see the finding for what to do by hand',
          );
        }
        const othersMinimum =
          rows === undefined || rows.cells.length === 0
            ? undefined
            : computeMinimumAllCells(
                rows.cells.map((cell) => cell.rows.filter((r) => r !== view.row)),
                view.binary,
              );
        const subject = {
          service: view.api,
          row: view.row,
          afterRepair: describeAfterRepair(views),
          othersMinimum,
        };
        return parameters.action === 'delete'
          ? [await planDelete(ctx.cloud, subject, rows?.hostMappingOf)]
          : [await planForceDown(ctx.cloud, subject)];
      } finally {
        await rows?.close();
      }
    },
  });
}

export default createServiceVersionsCheck(defaultServiceVersionsDeps);
