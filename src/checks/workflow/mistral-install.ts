import path from 'node:path';
import { z } from 'zod';
import type { JsonObject } from '../../core/json.js';
import {
  type ContainerEngine,
  type ContainerScan,
  detectContainers,
  execInContainer,
  findContainerForService,
  type Host,
  type ProcessInfo,
  type RunOptions,
  type RunResult,
} from '../../hosts/index.js';
import mistralActionProviderFailed from '../../logs/signatures/mistral-action-provider-failed.js';
import mistralNoActionProviders from '../../logs/signatures/mistral-no-action-providers.js';
import { type ConfValue, parseOsloConf, readConfValue } from '../host/oslo-conf.js';

/** Where and how Mistral's API runs on a controller, and how to run its tools there. */
export interface MistralInstall {
  where: 'container' | 'host';
  /** kolla's `mistral_api`, when containerised, and the engine that runs it. */
  container: string | null;
  engine: ContainerEngine | null;
  /** The configuration file as the service sees it (inside the container for kolla). */
  configFile: string;
  /** The same file as the host sees it (kolla keeps the container's copy in /etc/kolla/mistral-api/). */
  configOnHost: string | null;
  dbManage: string;
  python: string;
  logFile: string | null;
}

export interface MistralLocateOptions {
  configFile?: string | undefined;
  dbManage?: string | undefined;
  logFile?: string | undefined;
}

/**
 * Finds Mistral's API on a host: kolla's `mistral_api` container, else its processes (Debian's
 * `mistral-api`, uwsgi with `mistral-api-uwsgi.ini`, or `mistral-server --server api|all`), whose command
 * line names the configuration file and where the tools live. Null when the host runs no Mistral API.
 */
export async function locateMistral(
  host: Host,
  options: MistralLocateOptions = {},
): Promise<MistralInstall | null> {
  // a collected copy (--root) refuses commands: then only its /proc tells what ran
  const scan: ContainerScan = await detectContainers(host).catch(() => ({ engine: null, containers: [] }));
  const container = await findContainerForService(host, 'mistral_api', scan);
  if (container !== null) {
    return {
      where: 'container',
      container: container.name,
      engine: container.engine,
      configFile: options.configFile ?? '/etc/mistral/mistral.conf',
      configOnHost: '/etc/kolla/mistral-api/mistral.conf',
      dbManage: options.dbManage ?? 'mistral-db-manage',
      python: 'python3',
      logFile: options.logFile ?? '/var/log/kolla/mistral/mistral-api.log',
    };
  }
  const process = (await host.listProcesses()).find(isMistralApiProcess);
  if (process === undefined) return null;
  const configFile = options.configFile ?? readConfigArgument(process.cmdline) ?? '/etc/mistral/mistral.conf';
  const [first, script] = process.cmdline;
  const interpreter = first !== undefined && /^python[\d.]*$/.test(path.basename(first)) ? first : undefined;
  const program = interpreter === undefined ? first : script;
  const sibling = program === undefined ? undefined : path.join(path.dirname(program), 'mistral-db-manage');
  const dbManage =
    options.dbManage ??
    (sibling !== undefined && path.isAbsolute(sibling) && (await host.stat(sibling)) !== null
      ? sibling
      : 'mistral-db-manage');
  return {
    where: 'host',
    container: null,
    engine: null,
    configFile,
    configOnHost: configFile,
    dbManage,
    python: interpreter ?? 'python3',
    logFile: options.logFile ?? (await findLogOfProcess(host, process)) ?? '/var/log/mistral/mistral-api.log',
  };
}

export function isMistralApiProcess(process: ProcessInfo): boolean {
  const names = process.cmdline.map((arg) => path.basename(arg));
  if (names.slice(0, 2).includes('mistral-api')) return true;
  if (process.cmdline.some((arg) => path.basename(arg) === 'mistral-api-uwsgi.ini')) return true;
  const server = process.cmdline.indexOf('--server');
  const roles = server < 0 ? undefined : process.cmdline[server + 1];
  return (
    names.slice(0, 2).includes('mistral-server') && (roles === undefined || /(^|,)(api|all)(,|$)/.test(roles))
  );
}

function readConfigArgument(argv: readonly string[]): string | undefined {
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === '--config-file') return argv[index + 1];
    if (arg.startsWith('--config-file=')) return arg.slice('--config-file='.length);
  }
  return undefined;
}

/** A service started with its output redirected to a file (`use_stderr`, a supervisor) logs there. */
async function findLogOfProcess(host: Host, process: ProcessInfo): Promise<string | undefined> {
  for (const fd of [2, 1]) {
    const target = await host.readLink(`/proc/${process.pid}/fd/${fd}`).catch(() => null);
    if (target?.startsWith('/') && !target.startsWith('/dev/')) return target;
  }
  return undefined;
}

const runtimeSchema = z.object({
  version: z.string(),
  providers: z.array(z.string()),
  actions: z.number(),
  generators: z.number(),
});
export type MistralRuntime = z.infer<typeof runtimeSchema>;

// entry_points() is a dict before Python 3.10 and has .select() after; both are handled
const runtimeProbe = [
  'import json, importlib.metadata as m',
  'eps = m.entry_points()',
  'sel = lambda g: sorted(e.name for e in (eps.select(group=g) if hasattr(eps, "select") else eps.get(g, [])))',
  'print(json.dumps({"version": m.version("mistral"), "providers": sel("mistral.action.providers"),',
  '  "actions": len(sel("mistral.actions")), "generators": len(sel("mistral.generators"))}))',
].join('\n');

/**
 * The installed Mistral's version and entry points, asked of the Python that runs it (inside the container
 * for kolla): the version decides the release, missing entry points mean a broken install.
 */
export async function readMistralRuntime(
  host: Host,
  install: MistralInstall,
): Promise<MistralRuntime | { error: string }> {
  try {
    const result = await runWhereMistralRuns(host, install, [install.python, '-c', runtimeProbe], {
      timeoutMs: 60_000,
      maxOutputBytes: 64 * 1024,
    });
    if (result.exitCode !== 0)
      return {
        error: `python exited with ${result.exitCode}: ${result.stderr.trim().split('\n').at(-1) ?? ''}`,
      };
    const parsed = runtimeSchema.safeParse(JSON.parse(result.stdout.trim().split('\n').at(-1) ?? ''));
    return parsed.success ? parsed.data : { error: 'unexpected output from the version probe' };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Runs one of Mistral's tools where its API runs: inside the container found when it was located (no
 * second container scan, which fails on hosts with a docker client but no daemon), else on the host.
 */
export function runWhereMistralRuns(
  host: Host,
  install: MistralInstall,
  argv: readonly string[],
  options: RunOptions,
): Promise<RunResult> {
  if (install.container !== null && install.engine !== null) {
    return execInContainer(host, { engine: install.engine, name: install.container }, argv, options);
  }
  return host.run(argv, options);
}

export interface ProviderConfig {
  file: string;
  /** Each option with its value and line, or null when unset (defaults: true, true, false). */
  loadActionPlugins: ConfValue | null;
  loadActionGenerators: ConfValue | null;
  onlyBuiltinActions: ConfValue | null;
  hasSection: boolean;
}

export function readProviderConfig(text: string, file: string): ProviderConfig {
  const conf = parseOsloConf(text, file);
  const option = (name: string) => readConfValue(conf, 'legacy_action_provider', name) ?? null;
  return {
    file,
    loadActionPlugins: option('load_action_plugins'),
    loadActionGenerators: option('load_action_generators'),
    onlyBuiltinActions: option('only_builtin_actions'),
    hasSection: conf.has('legacy_action_provider'),
  };
}

export interface LogSighting {
  signature: string;
  count: number;
  lastLine: number;
  lastText: string;
}

/** The startup lines of a Mistral that loaded no providers, using the log scanner's signatures. */
export function findProviderLogLines(text: string): LogSighting[] {
  const sightings: LogSighting[] = [];
  for (const signature of [mistralNoActionProviders, mistralActionProviderFailed]) {
    let count = 0;
    let lastLine = 0;
    let lastText = '';
    text.split('\n').forEach((line, index) => {
      if (!signature.literals.some((literal) => line.includes(literal)) || !signature.pattern.test(line))
        return;
      count += 1;
      lastLine = index + 1;
      lastText = line.length > 300 ? `${line.slice(0, 297)}...` : line;
    });
    if (count > 0) sightings.push({ signature: signature.id, count, lastLine, lastText });
  }
  return sightings;
}

export function describeInstall(install: MistralInstall): JsonObject {
  return {
    where: install.where,
    container: install.container,
    engine: install.engine,
    configFile: install.configFile,
    configOnHost: install.configOnHost,
    dbManage: install.dbManage,
    logFile: install.logFile,
  };
}
