import { appendFile, mkdir, open, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Check, HostProvider } from '../core/check.js';
import { ConfigError, UsageError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import {
  createSshPool,
  forEachHost,
  type Host,
  type HostKeyAcceptance,
  type HostSpec,
  LocalHost,
  loadInventory,
  parseHostArgument,
  resolveHosts,
  type SshPool,
} from '../hosts/index.js';
import { listHypervisors } from '../openstack/compute.js';
import type { CloudSession } from '../openstack/types.js';
import { connectCloud } from './connect.js';
import { type CliEnvironment, journalDirectory } from './environment.js';
import type { CommonOptions, HostOptions } from './options.js';

/** A HostProvider the CLI owns: close() ends the ssh connections it opened. */
export interface CliHostProvider extends HostProvider {
  close(): Promise<void>;
}

export interface HostProviderDeps {
  cwd: string;
  log: Logger;
  /** The name this machine's findings carry. */
  localName: string;
  /** Nova's hypervisor names; asked only with `--hypervisors`. */
  listHypervisors: () => Promise<string[]>;
  /** Called once per host key accepted under `--accept-new-host-keys`. */
  recordHostKey: (acceptance: HostKeyAcceptance) => Promise<void>;
  perHostTimeoutMs?: number;
}

export function createHostProvider(options: HostOptions, deps: HostProviderDeps): CliHostProvider {
  if (
    options.root !== undefined &&
    (options.inventory !== undefined || options.hypervisors || options.host.length > 1)
  ) {
    throw new UsageError(
      '--root is one host’s files: it goes with at most one --host (its name), not -i or --hypervisors',
    );
  }
  let specs: Promise<HostSpec[]> | undefined;
  let pool: Promise<SshPool> | undefined;
  const opened = new Map<string, Host>();
  const pendingRecords: Promise<void>[] = [];

  const listSpecs = async (): Promise<HostSpec[]> => {
    if (options.root !== undefined) {
      const given = options.host[0];
      const name =
        given === undefined
          ? path.basename(path.resolve(deps.cwd, options.root))
          : parseHostArgument(given).name;
      return [{ name, address: name, local: true }];
    }
    const inventory =
      options.inventory === undefined
        ? undefined
        : await loadInventory(path.resolve(deps.cwd, options.inventory), readIfPresent);
    const hypervisors = options.hypervisors ? await deps.listHypervisors() : undefined;
    const selection = { hosts: options.host, inventory, limit: options.limit, hypervisors };
    const resolved = resolveHosts(selection);
    const asked = options.host.length > 0 || inventory !== undefined || options.hypervisors === true;
    if (resolved.length === 0 && asked) {
      throw new UsageError('the host options select no host', {
        hint: options.hypervisors
          ? 'Nova reports no hypervisors, or --limit excludes them all'
          : 'check --limit',
      });
    }
    return resolved.length > 0 ? resolved : [{ name: deps.localName, address: 'localhost', local: true }];
  };

  const sshPool = (): Promise<SshPool> => {
    pool ??= createSshPool({
      tempDir: os.tmpdir(),
      ...(options.sshConfig === undefined ? {} : { configFile: path.resolve(deps.cwd, options.sshConfig) }),
      acceptNewHostKeys: options.acceptNewHostKeys === true,
      onHostKeyAccepted: (acceptance) => {
        deps.log.warn(
          `accepted a new host key for ${acceptance.host} (${acceptance.address}) under --accept-new-host-keys: ${acceptance.message}`,
        );
        pendingRecords.push(
          deps.recordHostKey(acceptance).catch((error: unknown) => {
            deps.log.warn(`could not record the accepted host key of ${acceptance.host}: ${String(error)}`);
          }),
        );
      },
    });
    return pool;
  };

  const openHost = async (spec: HostSpec): Promise<Host> => {
    const existing = opened.get(spec.name);
    if (existing !== undefined) return existing;
    let host: Host;
    if (options.root !== undefined)
      host = new LocalHost({ name: spec.name, root: path.resolve(deps.cwd, options.root) });
    else if (spec.local === true) host = new LocalHost({ name: spec.name });
    else host = (await sshPool()).host(spec);
    opened.set(spec.name, host);
    return host;
  };

  return {
    list: () => {
      specs ??= listSpecs();
      return specs;
    },
    open: openHost,
    forEach: async (work) => {
      specs ??= listSpecs();
      return forEachHost(await specs, async (spec, signal) => work(await openHost(spec), signal), {
        forks: options.forks,
        ...(deps.perHostTimeoutMs === undefined ? {} : { perHostTimeoutMs: deps.perHostTimeoutMs }),
      });
    },
    close: async () => {
      await Promise.all(pendingRecords);
      if (pool !== undefined) await (await pool).close();
    },
  };
}

async function readIfPresent(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return null;
    throw new ConfigError(`cannot read ${file}: ${String(error)}`, { cause: error });
  }
}

/**
 * Host keys accepted under `--accept-new-host-keys` are kept next to the journal, one JSON line each
 * (append-only, 0600): a key is accepted while connecting, in `check` runs too, where there is no fix run
 * to attach it to, and an operator must be able to tell later which keys stackdoctor trusted, when and for whom.
 */
export function hostKeyRecorder(
  journalDirectory: string,
  operator: string,
  now: () => Date,
): (acceptance: HostKeyAcceptance) => Promise<void> {
  const file = path.join(journalDirectory, 'accepted-host-keys.jsonl');
  return async (acceptance) => {
    await mkdir(journalDirectory, { recursive: true, mode: 0o700 });
    const line = `${JSON.stringify({ at: now().toISOString(), operator, ...acceptance })}\n`;
    await appendFile(file, line, { mode: 0o600 });
    const handle = await open(file, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  };
}

/** Nova's hypervisor host names, for `--hypervisors`. */
export async function listHypervisorNames(cloud: CloudSession): Promise<string[]> {
  const names: string[] = [];
  for await (const hypervisor of listHypervisors(cloud))
    names.push(hypervisor.service?.host ?? hypervisor.hypervisor_hostname);
  return names;
}

/** Only checks that look at the cloud (or `--hypervisors`, which asks Nova) need a cloud session. */
export function needsCloud(checks: readonly Check[], options: Pick<HostOptions, 'hypervisors'>): boolean {
  return options.hypervisors === true || checks.some((check) => check.meta.targets.includes('cloud'));
}

/**
 * The session a host-only run carries instead of a cloud: its name is a label for reports and the journal,
 * and any use of the API is a configuration error naming what was missing.
 */
export function createCloudlessSession(label: string): CloudSession {
  const refuse = (): never => {
    throw new ConfigError('this run has no cloud session: only host checks were selected', {
      hint: 'select a cloud check too, or give --os-cloud',
    });
  };
  return {
    cloudName: label,
    region: undefined,
    get identity() {
      return refuse();
    },
    hasService: () => false,
    endpoint: refuse,
    versionInfo: async () => refuse(),
    request: async () => refuse(),
    paginate: () => refuse(),
    stream: async () => refuse(),
    close: async () => {},
  };
}

export interface RunTargets {
  cloud: CloudSession;
  hosts: CliHostProvider;
  close(): Promise<void>;
}

/**
 * The cloud session and hosts of one run. The cloud is connected only when something needs it, so host
 * checks run on a machine without clouds.yaml; a host still busy shortly before the check's own time limit
 * is skipped, so the other hosts' findings are still reported.
 */
export async function connectRunTargets(
  needCloud: boolean,
  options: CommonOptions & HostOptions & { timeout?: number },
  environment: CliEnvironment,
  log: Logger,
  cloudLabel = noCloudLabel,
): Promise<RunTargets> {
  const cloud = needCloud
    ? await connectCloud(options, environment, log)
    : createCloudlessSession(cloudLabel);
  const hosts = createHostProvider(options, {
    cwd: environment.cwd,
    log,
    localName: os.hostname(),
    listHypervisors: () => listHypervisorNames(cloud),
    recordHostKey: hostKeyRecorder(
      journalDirectory(options, environment),
      environment.operator,
      () => new Date(),
    ),
    ...(options.timeout === undefined
      ? {}
      : { perHostTimeoutMs: Math.max(1000, options.timeout * 1000 - 5000) }),
  });
  return {
    cloud,
    hosts,
    close: async () => {
      await hosts.close();
      await cloud.close();
    },
  };
}

/** The `cloud` a host-only run's reports and journal name. */
export const noCloudLabel = '(no cloud)';
