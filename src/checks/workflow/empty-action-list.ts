import { z } from 'zod';
import type { CheckContext, FindingInput, Procedure } from '../../core/check.js';
import { defineCheck } from '../../core/check.js';
import type { JsonObject } from '../../core/json.js';
import type { Host, HostSpec } from '../../hosts/index.js';
import { hasDynamicActionsApi, listMistralActions } from '../../openstack/workflow.js';
import { describeHostSpec, HostFixError, readHostSpec, requireHosts } from '../host/targets.js';
import { type ActionListFacts, describeDiagnosis, diagnoseActionList } from './action-diagnosis.js';
import {
  describeInstall,
  findProviderLogLines,
  type LogSighting,
  locateMistral,
  type MistralInstall,
  type MistralRuntime,
  type ProviderConfig,
  readMistralRuntime,
  readProviderConfig,
  runWhereMistralRuns,
} from './mistral-install.js';

const checkId = 'workflow/empty-action-list';

interface ControllerFacts {
  spec: HostSpec;
  install: MistralInstall;
  runtime: MistralRuntime | { error: string } | undefined;
  config: ProviderConfig | undefined;
  logLines: LogSighting[];
  notes: string[];
}

/** What the controller running Mistral's API says: version, entry points, configuration, startup log. */
async function inspectController(
  host: Host,
  spec: HostSpec,
  ctx: CheckContext,
): Promise<ControllerFacts | null> {
  const install = await locateMistral(host, {
    configFile: ctx.parameters.mistral_config,
    dbManage: ctx.parameters.mistral_db_manage,
    logFile: ctx.parameters.mistral_log,
  });
  if (install === null) return null;
  const notes: string[] = [];
  const runtime = await readMistralRuntime(host, install);
  if ('error' in runtime) notes.push(`version probe: ${runtime.error}`);
  let config: ProviderConfig | undefined;
  if (install.configOnHost !== null) {
    const text = await host.readFile(install.configOnHost).catch((error: unknown) => {
      notes.push(`${install.configOnHost}: ${String(error)}`);
      return null;
    });
    if (text !== null) config = readProviderConfig(text, install.configOnHost);
  }
  let logLines: LogSighting[] = [];
  if (install.logFile !== null) {
    const text = await host
      .readFile(install.logFile, { maxBytes: 256 * 1024 * 1024 })
      .catch((error: unknown) => {
        notes.push(`${install.logFile}: ${String(error)}`);
        return null;
      });
    if (text !== null) logLines = findProviderLogLines(text);
  }
  return { spec, install, runtime, config, logLines, notes };
}

async function findController(
  ctx: CheckContext,
): Promise<{ controller: ControllerFacts | null; unreachable: string[] }> {
  if (ctx.hosts === undefined) return { controller: null, unreachable: [] };
  const specs = await ctx.hosts.list();
  const bySpec = new Map(specs.map((spec) => [spec.name, spec]));
  const outcomes = await ctx.hosts.forEach(async (host) => {
    const spec = bySpec.get(host.name) ?? { name: host.name, address: host.name };
    return inspectController(host, spec, ctx);
  });
  const unreachable: string[] = [];
  let controller: ControllerFacts | null = null;
  for (const outcome of outcomes) {
    if (outcome.status !== 'ok') unreachable.push(`${outcome.host}: ${outcome.reason}`);
    else if (controller === null && outcome.value !== null) controller = outcome.value;
  }
  return { controller, unreachable };
}

async function inspectActions(ctx: CheckContext): Promise<FindingInput | null> {
  const actions = await listMistralActions(ctx.cloud);
  const dynamicActionsApi = await hasDynamicActionsApi(ctx.cloud);
  const quick = diagnoseActionList({ actions, dynamicActionsApi });
  if (quick === null) return null;
  const { controller, unreachable } = await findController(ctx);
  const facts: ActionListFacts = {
    actions,
    dynamicActionsApi,
    releaseGiven: ctx.parameters.mistral_release,
    runtime: controller?.runtime,
    config: controller?.config,
    logLines: controller?.logLines,
  };
  const diagnosis = diagnoseActionList(facts) ?? quick;
  const evidence: JsonObject = {
    actionCount: actions.length,
    actions: actions.slice(0, 20).map((action) => action.name),
    dynamicActionsApi,
    ...describeDiagnosis(diagnosis),
    controller:
      controller === null
        ? null
        : {
            host: describeHostSpec(controller.spec),
            ...describeInstall(controller.install),
            mistralVersion:
              controller.runtime !== undefined && 'version' in controller.runtime
                ? controller.runtime.version
                : null,
            providerEntryPoints:
              controller.runtime !== undefined && 'version' in controller.runtime
                ? controller.runtime.providers
                : null,
            notes: controller.notes,
          },
    hostsNotLookedAt: unreachable,
  };
  return {
    resource: { type: 'workflow-actions', id: 'workflowv2', name: 'Mistral action list' },
    message: diagnosis.message,
    evidence,
    fixable: diagnosis.fixable && controller !== null,
  };
}

const populateArgs = z.object({
  host: z.unknown(),
  dbManage: z.string().min(1),
  configFile: z.string().startsWith('/'),
  container: z.string().nullable(),
  engine: z.enum(['docker', 'podman']).nullable(),
});

const populateActions: Procedure = async (args, ctx) => {
  const parsed = populateArgs.safeParse(args);
  if (!parsed.success)
    throw new HostFixError(`populate-actions: malformed arguments: ${parsed.error.issues[0]?.message}`);
  const { dbManage, configFile, container, engine } = parsed.data;
  const host = await requireHosts(ctx, checkId).open(readHostSpec(parsed.data.host));
  const argv = [dbManage, '--config-file', configFile, 'populate'];
  const install: MistralInstall = {
    where: container === null ? 'host' : 'container',
    container,
    engine,
    configFile,
    configOnHost: null,
    dbManage,
    python: 'python3',
    logFile: null,
  };
  const result = await runWhereMistralRuns(host, install, argv, {
    timeoutMs: 600_000,
    maxOutputBytes: 4 * 1024 * 1024,
  });
  const place = container === null ? `on ${host.name}` : `in ${container} on ${host.name}`;
  if (result.exitCode !== 0) {
    throw new HostFixError(
      `${argv.join(' ')} ${place} exited with ${result.exitCode}: ${lastLine(result.stderr)}`,
    );
  }
  return { summary: `${argv.join(' ')} ${place}: done`, details: { container } };
};

function lastLine(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .at(-1) ?? '(no output)'
  );
}

export default defineCheck({
  meta: {
    id: checkId,
    title: 'Mistral lists no standard actions (release-aware: populate vs action providers)',
    description:
      'Workflows calling std.echo, std.http or the OpenStack actions fail when Mistral lists none. Up to Ussuri ' +
      '`mistral-db-manage populate` was never run; since Victoria the action providers failed to load.',
    severity: 'critical',
    targets: ['cloud', 'host'],
    requires: { services: ['workflowv2'] },
    references: [
      'docs/openstack-reference.md §10',
      'https://docs.openstack.org/mistral/latest/admin/configuration/index.html',
      'mistral: mistral/services/actions.py, mistral/actions/legacy.py (Victoria: action providers)',
    ],
    parameters: {
      mistral_release:
        'the release or Mistral version running (e.g. ussuri, 15.0.0) when it cannot be detected',
      mistral_config:
        'mistral.conf as the service sees it (default: from the process, or /etc/mistral/mistral.conf)',
      mistral_db_manage:
        'the mistral-db-manage program (default: next to the running service, else from PATH)',
      mistral_log: "the API's log file (default: kolla's, or where the process writes)",
    },
    fix: {
      safety: 'confirm',
      reversible: false,
      description:
        'up to Ussuri: runs mistral-db-manage populate on the controller (in mistral_api with kolla) and lists ' +
        'again; since Victoria nothing is run: the finding names the configuration to change',
    },
  },
  async *detect(ctx) {
    const finding = await inspectActions(ctx);
    if (finding !== null) yield finding;
  },
  recheck: (_finding, ctx) => inspectActions(ctx),
  async plan(finding) {
    const parsed = z
      .object({
        problem: z.literal('populate-never-ran'),
        controller: z.object({
          host: z.unknown(),
          dbManage: z.string(),
          configFile: z.string(),
          container: z.string().nullable(),
          engine: z.enum(['docker', 'podman']).nullable(),
        }),
      })
      .safeParse(finding.evidence);
    if (!parsed.success) return [];
    const { host, dbManage, configFile, container, engine } = parsed.data.controller;
    const spec = readHostSpec(host);
    return [
      {
        describe: `${dbManage} --config-file ${configFile} populate on ${spec.name}${container === null ? '' : ` (in ${container})`}, then list the actions again`,
        resource: finding.resource,
        apply: {
          kind: 'procedure',
          name: 'populate-actions',
          args: { host: describeHostSpec(spec), dbManage, configFile, container, engine },
        },
        // populate only adds definitions; they could be deleted again, but not told apart from ones
        // registered by later deployments
        undo: 'irreversible',
        priorState: {
          actionCount: finding.evidence.actionCount ?? null,
          actions: finding.evidence.actions ?? [],
        },
      },
    ];
  },
  procedures: { 'populate-actions': populateActions },
});
