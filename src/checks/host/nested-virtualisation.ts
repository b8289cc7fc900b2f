import { z } from 'zod';
import type { CheckContext, Finding, FindingInput, FixStep, Procedure } from '../../core/check.js';
import { defineCheck } from '../../core/check.js';
import type { JsonObject } from '../../core/json.js';
import {
  findContainerForService,
  type Host,
  type HostSpec,
  runChecked,
  runForService,
} from '../../hosts/index.js';
import {
  findGuests,
  isNestedValueEnabled,
  type KvmState,
  nestedConfigPath,
  readKvmState,
} from './kvm-state.js';
import { findModuleParameter, readModprobeFiles } from './modprobe-options.js';
import {
  assessNestedVirtualisation,
  describeKvmState,
  lastParameter,
  type NestedAssessment,
  nestedConfigContent,
  persistedAfterWrite,
} from './nested-assessment.js';
import {
  describeHostSpec,
  HostFixError,
  hostTarget,
  inspectEachHost,
  readHostSpec,
  requireHosts,
} from './targets.js';

const checkId = 'host/nested-virtualisation';
const commandOptions = { timeoutMs: 120_000, maxOutputBytes: 1024 * 1024 };

function toFinding(spec: HostSpec, state: KvmState, assessment: NestedAssessment): FindingInput {
  return {
    target: hostTarget(spec.name),
    resource: {
      type: assessment.resourceType,
      id: assessment.resourceType === 'kvm-module' ? (state.module ?? 'kvm') : 'libvirt.cpu_mode',
      name: spec.name,
    },
    severity: assessment.severity,
    message: assessment.message,
    evidence: { host: describeHostSpec(spec), problem: assessment.problem, ...describeKvmState(state) },
    fixable: assessment.fixable,
  };
}

async function inspectHost(host: Host, spec: HostSpec, ctx: CheckContext): Promise<FindingInput[]> {
  const state = await readKvmState(host, { novaConf: ctx.parameters.nova_conf });
  return assessNestedVirtualisation(state).map((assessment) => toFinding(spec, state, assessment));
}

async function openFindingHost(finding: Finding, ctx: CheckContext): Promise<{ host: Host; spec: HostSpec }> {
  const spec = readHostSpec(finding.evidence.host);
  return { host: await requireHosts(ctx, checkId).open(spec), spec };
}

/** Guests that pin the module: QEMU processes, the module's reference count, libvirt's running domains. */
async function listRunningGuests(host: Host, state: KvmState, askLibvirt: boolean): Promise<string[]> {
  const names = findGuests(await host.listProcesses()).map((guest) => guest.name);
  if (askLibvirt) {
    const virsh = await runForService(
      host,
      'nova_libvirt',
      ['virsh', 'list', '--name'],
      commandOptions,
    ).catch(() => undefined);
    if (virsh !== undefined && virsh.result.exitCode === 0) {
      for (const name of virsh.result.stdout.split('\n').map((line) => line.trim())) {
        if (name !== '' && !names.includes(name)) names.push(name);
      }
    }
  }
  if (names.length === 0 && state.moduleUsers !== null && state.moduleUsers > 0) {
    names.push(`${state.moduleUsers} user(s) of ${state.module} (refcnt)`);
  }
  return names;
}

export function planNestedVirtualisationFix(
  spec: HostSpec,
  state: KvmState,
  guests: readonly string[],
): FixStep[] {
  const module = state.module;
  if (module === null) return [];
  const hostArg = describeHostSpec(spec);
  const resource = { type: 'kvm-module', id: module, name: spec.name };
  const content = nestedConfigContent(module);
  const after = persistedAfterWrite(state.modprobeFiles, state.kernelCommandLine, module, content);
  if (after === null || isNestedValueEnabled(after.value) !== true) {
    throw new HostFixError(
      `${spec.name}: ${after?.source ?? 'something'} would still set nested=${after?.value ?? '?'} after ${nestedConfigPath} is written; change that first`,
    );
  }
  const steps: FixStep[] = [];
  if (state.ownFile.content !== content) {
    steps.push({
      describe: `write ${nestedConfigPath} on ${spec.name}: options ${module} nested=1`,
      resource,
      apply: {
        kind: 'procedure',
        name: 'write-modprobe-file',
        args: {
          host: hostArg,
          path: nestedConfigPath,
          content,
          mode: 0o644,
          expectPrior: state.ownFile.content,
        },
      },
      undo: {
        kind: 'procedure',
        name: 'restore-modprobe-file',
        args: {
          host: hostArg,
          path: nestedConfigPath,
          content: state.ownFile.content,
          mode: state.ownFile.mode ?? 0o644,
          expectCurrent: content,
          module,
          runtimeBefore: state.runtimeNested,
        },
      },
      priorState: {
        host: hostArg,
        path: nestedConfigPath,
        content: state.ownFile.content,
        mode: state.ownFile.mode,
      },
    });
  }
  const runtimeOn = state.runtimeNested === null ? undefined : isNestedValueEnabled(state.runtimeNested);
  if (runtimeOn === true) return steps;
  if (guests.length > 0) {
    // the file alone still helps: the option applies at the next boot or reload
    const first = steps[0];
    if (first !== undefined) {
      first.describe += ` — not reloading ${module}: guests run (${guests.slice(0, 5).join(', ')}${guests.length > 5 ? ', …' : ''}); the option takes effect at the next boot or reload`;
    }
    return steps;
  }
  const note = (text: string) => ({ kind: 'procedure' as const, name: 'leave-as-is', args: { note: text } });
  steps.push(
    {
      describe: `reload ${module} on ${spec.name} (modprobe -r ${module}; modprobe ${module}) after checking no guest runs`,
      resource,
      apply: { kind: 'procedure', name: 'reload-kvm-module', args: { host: hostArg, module } },
      undo: note(`${module} is not reloaded on undo: restoring the file reports whether a reload is needed`),
      priorState: {
        host: hostArg,
        module,
        runtimeNested: state.runtimeNested,
        moduleUsers: state.moduleUsers,
      },
    },
    {
      describe: `restart libvirt on ${spec.name} (kolla: docker restart nova_libvirt) so it sees the new CPU features`,
      resource,
      apply: { kind: 'procedure', name: 'restart-libvirt', args: { host: hostArg } },
      undo: note('libvirt is not restarted on undo'),
      priorState: { host: hostArg },
    },
  );
  return steps;
}

const writeArgs = z.object({
  host: z.unknown(),
  path: z.literal(nestedConfigPath),
  content: z.string(),
  mode: z.number().int().min(0).max(0o7777),
  expectPrior: z.string().nullable(),
});
const restoreArgs = z.object({
  host: z.unknown(),
  path: z.literal(nestedConfigPath),
  content: z.string().nullable(),
  mode: z.number().int().min(0).max(0o7777),
  expectCurrent: z.string(),
  module: z.enum(['kvm_intel', 'kvm_amd']),
  runtimeBefore: z.string().nullable(),
});
const moduleArgs = z.object({ host: z.unknown(), module: z.enum(['kvm_intel', 'kvm_amd']) });
const hostArgs = z.object({ host: z.unknown() });
const noteArgs = z.object({ note: z.string() });

function parseArgs<T>(schema: z.ZodType<T>, args: JsonObject, name: string): T {
  const parsed = schema.safeParse(args);
  if (!parsed.success)
    throw new HostFixError(`${name}: malformed arguments: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

async function openHostArg(value: unknown, ctx: CheckContext): Promise<Host> {
  return requireHosts(ctx, checkId).open(readHostSpec(value));
}

const writeModprobeFile: Procedure = async (args, ctx) => {
  const {
    host: hostValue,
    path,
    content,
    mode,
    expectPrior,
  } = parseArgs(writeArgs, args, 'write-modprobe-file');
  const host = await openHostArg(hostValue, ctx);
  const directory = path.slice(0, path.lastIndexOf('/'));
  if ((await host.stat(directory))?.type !== 'directory') {
    throw new HostFixError(`${directory} does not exist on ${host.name}: is kmod installed?`);
  }
  const current = await host.readFile(path);
  if (current !== expectPrior) {
    throw new HostFixError(`${path} on ${host.name} changed since the plan was made; nothing written`);
  }
  const { prior, priorMode } = await host.writeFileAtomic(path, content, mode);
  return {
    summary: `wrote ${path} on ${host.name} (${prior === null ? 'it did not exist' : `replacing ${prior.length} bytes`})`,
    details: { prior, priorMode },
  };
};

const restoreModprobeFile: Procedure = async (args, ctx) => {
  const {
    host: hostValue,
    path,
    content,
    mode,
    expectCurrent,
    module,
    runtimeBefore,
  } = parseArgs(restoreArgs, args, 'restore-modprobe-file');
  const host = await openHostArg(hostValue, ctx);
  const current = await host.readFile(path);
  if (current !== expectCurrent) {
    throw new HostFixError(
      `${path} on ${host.name} changed after the fix; not restoring over someone else's edit`,
    );
  }
  if (content === null) await host.removeFile(path);
  else await host.writeFileAtomic(path, content, mode);
  const { files } = await readModprobeFiles(host);
  const persisted = lastParameter(
    findModuleParameter(files, (await host.readFile('/proc/cmdline')) ?? null, module, 'nested'),
  );
  const runtime = (await host.readFile(`/sys/module/${module}/parameters/nested`))?.trim() ?? null;
  const restored = content === null ? `removed ${path}` : `restored ${path}`;
  const gives = persisted === null ? 'the kernel default' : `nested=${persisted.value} (${persisted.source})`;
  // the file is back; the running module keeps what the fix's reload gave it until it is loaded again
  const reload =
    runtime !== runtimeBefore
      ? `${module} runs with nested=${runtime ?? 'unknown'} (${runtimeBefore ?? 'unknown'} before the fix); modprobe.d now gives ${gives}: reload ${module} with no guest running, or reboot, to apply it`
      : `no reload needed: ${module} runs with nested=${runtime ?? 'unknown'} as before the fix`;
  return {
    summary: `${restored} on ${host.name}; ${reload}`,
    details: { runtimeNested: runtime, persistedNested: persisted?.value ?? null },
  };
};

const reloadKvmModule: Procedure = async (args, ctx) => {
  const { host: hostValue, module } = parseArgs(moduleArgs, args, 'reload-kvm-module');
  const host = await openHostArg(hostValue, ctx);
  const state = await readKvmState(host, { novaConf: ctx.parameters.nova_conf });
  const guests = await listRunningGuests(host, state, true);
  if (guests.length > 0) {
    throw new HostFixError(
      `not reloading ${module} on ${host.name}: guests run (${guests.join(', ')}); ${nestedConfigPath} stays written and takes effect at the next boot or reload`,
    );
  }
  await runChecked(host, ['modprobe', '-r', module], commandOptions);
  await runChecked(host, ['modprobe', module], commandOptions);
  const runtime = (await host.readFile(`/sys/module/${module}/parameters/nested`))?.trim() ?? null;
  return {
    summary: `reloaded ${module} on ${host.name}: nested=${runtime ?? 'unreadable'}`,
    details: { runtimeNested: runtime },
  };
};

const restartLibvirt: Procedure = async (args, ctx) => {
  const { host: hostValue } = parseArgs(hostArgs, args, 'restart-libvirt');
  const host = await openHostArg(hostValue, ctx);
  const container = await findContainerForService(host, 'nova_libvirt');
  if (container !== null) {
    await runChecked(host, [container.engine, 'restart', container.name], commandOptions);
    return { summary: `${container.engine} restart ${container.name} on ${host.name}` };
  }
  // modular libvirt (virtqemud) replaces libvirtd on newer distributions
  const daemon = (await host.listProcesses()).find(
    (process) => process.comm === 'libvirtd' || process.comm === 'virtqemud',
  );
  if (daemon !== undefined) {
    await runChecked(host, ['systemctl', 'restart', daemon.comm], commandOptions);
    return { summary: `systemctl restart ${daemon.comm} on ${host.name}` };
  }
  return { summary: `no nova_libvirt container or libvirtd on ${host.name}: nothing to restart` };
};

const leaveAsIs: Procedure = async (args) => ({ summary: parseArgs(noteArgs, args, 'leave-as-is').note });

export default defineCheck({
  meta: {
    id: checkId,
    title: 'KVM nested virtualisation off, not persisted, or hidden from guests',
    description:
      'Guests that run their own VMs (OpenStack on OpenStack, CI, Kubernetes with KubeVirt) need the KVM ' +
      "module's nested option on, persisted in modprobe.d, and Nova's libvirt cpu_mode passing vmx/svm through.",
    severity: 'warning',
    targets: ['host'],
    requires: {},
    references: [
      'docs/openstack-reference.md §9',
      'https://docs.kernel.org/virt/kvm/x86/running-nested-guests.html',
      'https://docs.openstack.org/devstack/latest/guides/devstack-with-nested-kvm.html',
      'https://osism.tech/docs/guides/configuration-guide/openstack/nova',
    ],
    parameters: {
      nova_conf:
        'nova.conf to read [libvirt] cpu_mode from (default: /etc/kolla/nova-compute/nova.conf, then /etc/nova/nova.conf)',
    },
    fix: {
      safety: 'confirm',
      reversible: true,
      description:
        `writes ${nestedConfigPath} (prior content journaled), reloads the module only when no guest runs and ` +
        'restarts libvirt; undo restores or removes the file and says whether a reload is needed',
    },
  },
  async *detect(ctx) {
    yield* inspectEachHost(requireHosts(ctx, checkId), (host, spec) => inspectHost(host, spec, ctx));
  },
  async recheck(finding, ctx) {
    const { host, spec } = await openFindingHost(finding, ctx);
    const findings = await inspectHost(host, spec, ctx);
    return findings.find((input) => input.resource.type === finding.resource.type) ?? null;
  },
  async plan(finding, ctx) {
    const { host, spec } = await openFindingHost(finding, ctx);
    const state = await readKvmState(host, { novaConf: ctx.parameters.nova_conf });
    const fixable = assessNestedVirtualisation(state).some(
      (assessment) => assessment.fixable && assessment.resourceType === finding.resource.type,
    );
    if (!fixable) return [];
    return planNestedVirtualisationFix(spec, state, await listRunningGuests(host, state, true));
  },
  procedures: {
    'write-modprobe-file': writeModprobeFile,
    'restore-modprobe-file': restoreModprobeFile,
    'reload-kvm-module': reloadKvmModule,
    'restart-libvirt': restartLibvirt,
    'leave-as-is': leaveAsIs,
  },
});
