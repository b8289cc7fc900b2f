import path from 'node:path';
import { z } from 'zod';
import { HostCommandError } from './errors.js';
import { type Host, type ProcessInfo, type RunOptions, type RunResult, summariseOutput } from './host.js';

export type ContainerEngine = 'docker' | 'podman';

export interface ContainerInfo {
  engine: ContainerEngine;
  id: string;
  name: string;
  image: string;
  /** `running`, `exited`, `restarting`, … */
  state: string;
  /** e.g. `Up 2 weeks (healthy)`. */
  status: string;
  labels: Record<string, string>;
  /** Built by kolla (a `kolla_version` label or a kolla image), so named like `nova_libvirt`, `mistral_api`. */
  kolla: boolean;
}

export interface ContainerScan {
  /** null: neither docker nor podman is installed; services run on the host itself. */
  engine: ContainerEngine | null;
  containers: ContainerInfo[];
}

export interface ContainerScanOptions {
  timeoutMs?: number;
}

const dockerPsLineSchema = z.object({
  ID: z.string().optional(),
  Id: z.string().optional(),
  Names: z.union([z.string(), z.array(z.string())]),
  Image: z.string(),
  State: z.string().optional(),
  Status: z.string().optional(),
  Labels: z.union([z.string(), z.record(z.string(), z.string()), z.null()]).optional(),
});

const podmanPsSchema = z.array(
  z.object({
    Id: z.string(),
    Names: z.array(z.string()),
    Image: z.string(),
    State: z.string(),
    Status: z.string().optional(),
    Labels: z.record(z.string(), z.string()).nullish(),
  }),
);

/**
 * Lists the containers on a host (stopped ones too: a stopped `nova_libvirt` is itself a finding) with
 * whichever engine is installed. docker is asked first: on podman hosts `docker` is often podman's wrapper
 * and understands the same template.
 */
export async function detectContainers(
  host: Host,
  options: ContainerScanOptions = {},
): Promise<ContainerScan> {
  const run = { timeoutMs: options.timeoutMs ?? 30_000, maxOutputBytes: 16 * 1024 * 1024 };
  const docker = await host.run(['docker', 'ps', '--all', '--no-trunc', '--format', '{{json .}}'], run);
  if (docker.exitCode !== 127) {
    return { engine: 'docker', containers: parseDockerPs(expectListing(host, 'docker', docker), host.name) };
  }
  const podman = await host.run(['podman', 'ps', '--all', '--format', 'json'], run);
  if (podman.exitCode !== 127) {
    return { engine: 'podman', containers: parsePodmanPs(expectListing(host, 'podman', podman), host.name) };
  }
  return { engine: null, containers: [] };
}

/** `docker ps --format '{{json .}}'`: one JSON object per line. */
export function parseDockerPs(output: string, hostName: string): ContainerInfo[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const parsed = dockerPsLineSchema.safeParse(parseJson(line, hostName, 'docker ps'));
      if (!parsed.success) {
        throw new HostCommandError(
          hostName,
          `unexpected docker ps output on ${hostName}: ${parsed.error.issues[0]?.message}`,
        );
      }
      const entry = parsed.data;
      const names = typeof entry.Names === 'string' ? entry.Names.split(',') : entry.Names;
      const labels = typeof entry.Labels === 'string' ? parseLabelList(entry.Labels) : (entry.Labels ?? {});
      return describeContainer(
        'docker',
        entry.ID ?? entry.Id ?? '',
        names[0] ?? '',
        entry.Image,
        entry.State,
        entry.Status,
        labels,
      );
    });
}

/** `podman ps --format json`: one JSON array. */
export function parsePodmanPs(output: string, hostName: string): ContainerInfo[] {
  const parsed = podmanPsSchema.safeParse(
    output.trim() === '' ? [] : parseJson(output, hostName, 'podman ps'),
  );
  if (!parsed.success) {
    throw new HostCommandError(
      hostName,
      `unexpected podman ps output on ${hostName}: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data.map((entry) =>
    describeContainer(
      'podman',
      entry.Id,
      entry.Names[0] ?? '',
      entry.Image,
      entry.State,
      entry.Status,
      entry.Labels ?? {},
    ),
  );
}

/** Runs argv inside a container (`docker exec NAME argv…`, never a tty); `-i` only when there is input. */
export function execInContainer(
  host: Host,
  container: Pick<ContainerInfo, 'engine' | 'name'>,
  argv: readonly string[],
  options: RunOptions & { user?: string },
): Promise<RunResult> {
  const { user, ...runOptions } = options;
  return host.run(
    [
      container.engine,
      'exec',
      ...(options.stdin === undefined ? [] : ['-i']),
      ...(user === undefined ? [] : ['-u', user]),
      container.name,
      ...argv,
    ],
    runOptions,
  );
}

/**
 * The container of a kolla service (`mistral_api`; `mistral-api` is accepted too), preferring a running one;
 * null when the host has none by that name.
 */
export async function findContainerForService(
  host: Host,
  service: string,
  scan?: ContainerScan,
): Promise<ContainerInfo | null> {
  const { containers } = scan ?? (await detectContainers(host));
  const wanted = service.replaceAll('-', '_');
  const matching = containers.filter((container) => container.name.replaceAll('-', '_') === wanted);
  return matching.find((container) => container.state === 'running') ?? matching[0] ?? null;
}

export type ServiceLocation =
  | { kind: 'container'; container: ContainerInfo }
  | { kind: 'host'; processes: ProcessInfo[] }
  | { kind: 'absent' };

/**
 * Where a service runs: in its kolla container, else as processes on the host (distribution packages run
 * `mistral-api`, or uwsgi with `--ini …/mistral-api-uwsgi.ini`, or `python3 /usr/bin/mistral-api`).
 */
export async function locateService(
  host: Host,
  service: string,
  scan?: ContainerScan,
): Promise<ServiceLocation> {
  const container = await findContainerForService(host, service, scan);
  if (container !== null) return { kind: 'container', container };
  const processes = (await host.listProcesses()).filter((process) => isServiceProcess(process, service));
  return processes.length > 0 ? { kind: 'host', processes } : { kind: 'absent' };
}

/**
 * Runs a service's own tool (e.g. `mistral-db-manage`) where the service lives: inside its container when
 * it has one, otherwise on the host.
 */
export async function runForService(
  host: Host,
  service: string,
  argv: readonly string[],
  options: RunOptions,
  scan?: ContainerScan,
): Promise<{ where: 'container' | 'host'; container: string | null; result: RunResult }> {
  const container = await findContainerForService(host, service, scan);
  if (container === null) return { where: 'host', container: null, result: await host.run(argv, options) };
  if (container.state !== 'running') {
    throw new HostCommandError(
      host.name,
      `container ${container.name} on ${host.name} is ${container.state}`,
    );
  }
  return {
    where: 'container',
    container: container.name,
    result: await execInContainer(host, container, argv, options),
  };
}

export function isServiceProcess(process: ProcessInfo, service: string): boolean {
  const dashed = service.replaceAll('_', '-');
  const [program, script] = process.cmdline;
  if (program !== undefined && path.basename(program) === dashed) return true;
  if (program !== undefined && /^python[\d.]*$/.test(path.basename(program)) && script !== undefined) {
    if (path.basename(script) === dashed) return true;
  }
  const ini = process.cmdline.indexOf('--ini');
  const iniFile = ini < 0 ? undefined : process.cmdline[ini + 1];
  if (iniFile !== undefined && path.basename(iniFile) === `${dashed}-uwsgi.ini`) return true;
  // the kernel keeps only 15 characters of the name
  return process.cmdline.length === 0 ? false : process.comm === dashed.slice(0, 15);
}

function expectListing(host: Host, engine: ContainerEngine, result: RunResult): string {
  if (result.truncated)
    throw new HostCommandError(host.name, `${engine} ps on ${host.name} printed too much`);
  if (result.exitCode !== 0) {
    const summary = summariseOutput(result.stderr);
    throw new HostCommandError(host.name, `${engine} ps on ${host.name} failed: ${summary}`, {
      details: result.stderr,
      ...(/permission denied/i.test(summary)
        ? {
            hint: `the ssh user needs access to the ${engine} socket (kolla operators usually log in as root)`,
          }
        : {}),
    });
  }
  return result.stdout;
}

function describeContainer(
  engine: ContainerEngine,
  id: string,
  name: string,
  image: string,
  state: string | undefined,
  status: string | undefined,
  labels: Record<string, string>,
): ContainerInfo {
  const kolla = 'kolla_version' in labels || /(^|[/.])kolla\//.test(image);
  return { engine, id, name, image, state: state ?? 'unknown', status: status ?? '', labels, kolla };
}

/** docker's `Labels` is `k=v,k=v`; a comma inside a value cannot be told apart, which kolla's labels never use. */
function parseLabelList(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const equals = pair.indexOf('=');
    if (equals > 0) labels[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return labels;
}

function parseJson(text: string, hostName: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new HostCommandError(hostName, `${what} on ${hostName} printed something that is not JSON`);
  }
}
