import type { CheckContext, FixStep, ProcedureResult } from '../../core/check.js';
import { StackdoctorError } from '../../core/errors.js';
import type { Json, JsonObject } from '../../core/json.js';
import {
  type Aggregate,
  type ComputeService,
  computeMicroversions,
  computeServicePath,
  isMigrationInProgress,
  listAggregates,
  listHypervisors,
  listMigrations,
  listServersOnHost,
} from '../../openstack/compute.js';
import { HttpError } from '../../openstack/errors.js';
import type { HostMapping, ServiceRow } from '../../openstack/nova-db.js';
import { getProviderAllocations, listResourceProviders } from '../../openstack/placement.js';
import type { CloudSession } from '../../openstack/types.js';
import { describeServiceVersion } from '../../releases/nova-versions.js';

/** The check declined to plan a repair because acting would be unsafe; nothing was changed. */
export class ServiceRepairRefusedError extends StackdoctorError {
  constructor(message: string, hint: string) {
    super('repair-refused', message, { hint });
    this.name = 'ServiceRepairRefusedError';
  }
}

export interface RepairSubject {
  service: ComputeService;
  row: ServiceRow | undefined;
  afterRepair: readonly string[];
  /** Minimum version of the other counted rows of the same binary (0: none, undefined: not read). */
  othersMinimum: number | undefined;
}

export const clearForcedDownProcedure = 'clear-forced-down';

/**
 * Undo of a force-down: `forced_down: false`, with Nova's two refusals explained. Nova re-checks the row
 * against the minimum of the *other* rows when it saves it, so a row older than all of them cannot be brought
 * back (ServiceTooOld, a 500) until its host runs current code; and it refuses (400) while `done`
 * evacuations from the host exist.
 */
export async function clearForcedDown(args: JsonObject, ctx: CheckContext): Promise<ProcedureResult> {
  const serviceId = typeof args.serviceId === 'string' ? args.serviceId : '';
  const label = typeof args.label === 'string' ? args.label : serviceId;
  const version = typeof args.version === 'number' ? args.version : undefined;
  try {
    const response = await ctx.cloud.request('compute', {
      method: 'PUT',
      path: computeServicePath(serviceId),
      microversion: computeMicroversions.services,
      body: { forced_down: false },
    });
    return { summary: `PUT compute ${computeServicePath(serviceId)} forced_down=false → ${response.status}` };
  } catch (error) {
    if (
      error instanceof HttpError &&
      error.status === 500 &&
      error.serverMessage?.includes('ServiceTooOld')
    ) {
      const what = version === undefined ? 'its row' : `its row (version ${describeServiceVersion(version)})`;
      throw new ServiceRepairRefusedError(
        `Nova refuses to clear forced_down on ${label}: ${what} is older than every other counted row of its binary (ServiceTooOld, request ${error.requestId ?? 'unknown'})`,
        'it can be cleared once the host runs current code and its row is updated; until then it stays forced down',
      );
    }
    if (error instanceof HttpError && error.status === 400) {
      throw new ServiceRepairRefusedError(
        `Nova refuses to clear forced_down on ${label}: ${error.serverMessage ?? 'bad request'}`,
        'Nova keeps a compute forced down while done evacuations from it exist: confirm them, then undo again',
      );
    }
    throw error;
  }
}

function serviceJson(service: ComputeService): JsonObject {
  return {
    id: service.id,
    binary: service.binary,
    host: service.host,
    zone: service.zone ?? null,
    status: service.status,
    state: service.state ?? null,
    forced_down: service.forced_down ?? null,
    updated_at: service.updated_at ?? null,
    disabled_reason: service.disabled_reason ?? null,
  };
}

/** Validated API data as journal JSON; the round trip drops what JSON cannot hold. */
function toJson(value: unknown): Json {
  const document: Json = JSON.parse(JSON.stringify(value ?? null));
  return document;
}

function rowJson(row: ServiceRow | undefined): Json {
  if (row === undefined) return null;
  return { ...row };
}

/** Read-back of the one service: the list filtered by host and binary is the only GET the API offers. */
function serviceProbePath(service: ComputeService): string {
  const query = new URLSearchParams({ host: service.host, binary: service.binary });
  return `/os-services?${query.toString()}`;
}

/**
 * Forces a service down: it leaves the minimum at once (Nova counts only `forced_down = false` rows), and
 * undo clears the flag. Nova refuses to clear it while `done` evacuations from the host exist (§3.2).
 */
export async function planForceDown(cloud: CloudSession, subject: RepairSubject): Promise<FixStep> {
  const { service, row } = subject;
  const evacuations: Json[] = [];
  for await (const migration of listMigrations(cloud, {
    source_compute: service.host,
    migration_type: 'evacuation',
    status: 'done',
  })) {
    evacuations.push({
      uuid: migration.uuid ?? null,
      instance_uuid: migration.instance_uuid,
      dest_compute: migration.dest_compute ?? null,
    });
  }
  const version = row?.version ?? null;
  const what =
    version === null ? '' : `, takes version ${describeServiceVersion(version)} out of the minimum`;
  const notes: string[] = [];
  if (version !== null && subject.othersMinimum !== undefined && subject.othersMinimum > version) {
    notes.push(
      `NOTE Nova refuses the undo (ServiceTooOld) while this row stays older than the other ${service.binary} rows (${describeServiceVersion(subject.othersMinimum)}): it stays forced down until its host runs current code`,
    );
  }
  if (evacuations.length > 0) {
    notes.push(
      `NOTE Nova refuses the undo while ${evacuations.length} done evacuation(s) from ${service.host} exist`,
    );
  }
  const undoNote = notes.map((note) => `; ${note}`).join('');
  const path = computeServicePath(service.id);
  return {
    describe:
      `force ${service.binary} on ${service.host} down (forced_down=true${what}); then SIGHUP nova-conductor and ` +
      `nova-compute, restart nova-scheduler and nova-api, in that order (see the finding's afterRepair)${undoNote}`,
    resource: { type: 'nova-service', id: service.id, name: `${service.binary}@${service.host}` },
    apply: {
      kind: 'http',
      service: 'compute',
      method: 'PUT',
      path,
      microversion: computeMicroversions.services,
      body: { forced_down: true },
    },
    undo: {
      kind: 'procedure',
      name: clearForcedDownProcedure,
      args: { serviceId: service.id, label: `${service.binary} on ${service.host}`, version },
    },
    priorState: {
      service: serviceJson(service),
      databaseRow: rowJson(row),
      doneEvacuationsFromHost: evacuations,
      othersMinimum: subject.othersMinimum ?? null,
      afterRepair: [...subject.afterRepair],
    },
    after: {
      service: 'compute',
      path: serviceProbePath(service),
      microversion: computeMicroversions.services,
      expect: [
        { pointer: '/services/0/id', value: service.id },
        { pointer: '/services/0/forced_down', value: true },
      ],
    },
  };
}

const maxListedIds = 10;

/**
 * Deletes a service through the API, only when it is down, hosts no instance and takes part in no
 * migration. Nova then also drops the host from its aggregates, deletes its compute-node resource providers
 * (with their allocations) and its host mapping: none of that comes back, so all of it is journaled first.
 */
export async function planDelete(
  cloud: CloudSession,
  subject: RepairSubject,
  hostMappingOf: ((host: string) => Promise<HostMapping | null>) | undefined,
): Promise<FixStep> {
  const { service, row } = subject;
  const label = `${service.binary} on ${service.host}`;
  if (service.state === 'up' && service.forced_down !== true) {
    throw new ServiceRepairRefusedError(
      `refusing to delete ${label}: it is up`,
      'stop the service first; only a down service may be deleted',
    );
  }
  const isCompute = service.binary === 'nova-compute';
  const instances: string[] = [];
  const migrations: Json[] = [];
  let aggregates: Aggregate[] = [];
  const providers: Json[] = [];
  if (isCompute) {
    for await (const server of listServersOnHost(cloud, service.host)) instances.push(server.id);
    if (instances.length > 0) {
      const shown = instances.slice(0, maxListedIds).join(', ');
      throw new ServiceRepairRefusedError(
        `refusing to delete ${label}: it hosts ${instances.length} instance(s) (${shown}${instances.length > maxListedIds ? ', …' : ''})`,
        'evacuate, migrate or delete those instances first; --set action=force-down takes the service out of the minimum without deleting it',
      );
    }
    for await (const migration of listMigrations(cloud, { host: service.host })) {
      if (isMigrationInProgress(migration)) {
        migrations.push({
          uuid: migration.uuid ?? null,
          instance_uuid: migration.instance_uuid,
          status: migration.status,
        });
      }
    }
    if (migrations.length > 0) {
      throw new ServiceRepairRefusedError(
        `refusing to delete ${label}: ${migrations.length} migration(s) involving it are in progress`,
        'let them finish, or confirm/revert them, then run the fix again',
      );
    }
    aggregates = (await listAggregates(cloud)).filter((aggregate) => aggregate.hosts?.includes(service.host));
    const nodeIds: string[] = [];
    for await (const hypervisor of listHypervisors(cloud)) {
      if (hypervisor.service?.host === service.host) nodeIds.push(hypervisor.id);
    }
    if (nodeIds.length > 0) {
      // Compute-node providers are named after the node and share its UUID.
      const all = await listResourceProviders(cloud);
      for (const id of nodeIds) {
        const provider = all.find((p) => p.uuid === id);
        const allocations = provider === undefined ? null : await getProviderAllocations(cloud, id);
        providers.push({
          computeNodeId: id,
          provider: provider === undefined ? null : { ...provider },
          allocations: allocations === null ? null : toJson(allocations),
        });
      }
    }
  }
  let hostMapping: Json = 'not read: give --set nova-api-db=URL (or nova-conf) to journal it';
  if (isCompute && hostMappingOf !== undefined) {
    const mapping = await hostMappingOf(service.host);
    hostMapping = mapping === null ? null : { ...mapping };
  }
  const consequences = isCompute
    ? `; Nova also removes it from ${aggregates.length} aggregate(s), deletes ${providers.length} resource provider(s) with their allocations and its host mapping`
    : '';
  return {
    describe: `delete ${label} (service ${service.id}) — IRREVERSIBLE: undo cannot re-create it${consequences}; the journal keeps the full record`,
    resource: { type: 'nova-service', id: service.id, name: `${service.binary}@${service.host}` },
    apply: {
      kind: 'http',
      service: 'compute',
      method: 'DELETE',
      path: computeServicePath(service.id),
      microversion: computeMicroversions.services,
    },
    undo: 'irreversible',
    destructive: true,
    priorState: {
      service: serviceJson(service),
      databaseRow: rowJson(row),
      aggregates: aggregates.map(toJson),
      resourceProviders: providers,
      hostMapping,
      instancesOnHost: instances.length,
      migrationsInProgress: migrations.length,
      afterRepair: [...subject.afterRepair],
    },
  };
}
