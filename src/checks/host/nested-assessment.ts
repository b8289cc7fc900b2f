import type { Severity } from '../../core/check.js';
import type { JsonObject } from '../../core/json.js';
import { isNestedValueEnabled, type KvmState, nestedConfigPath } from './kvm-state.js';
import { findModuleParameter, type ModprobeFile, type ModuleParameter } from './modprobe-options.js';

export type NestedProblem =
  | 'no-hardware-virtualisation'
  | 'module-not-loaded'
  | 'runtime-unknown'
  | 'nested-off'
  | 'not-persisted'
  | 'cpu-mode-hides-flag';

export interface NestedAssessment {
  problem: NestedProblem;
  /** `kvm-module` findings are about the kernel module; `nova-cpu-mode` ones about nova.conf. */
  resourceType: 'kvm-module' | 'nova-cpu-mode';
  severity: Severity;
  message: string;
  fixable: boolean;
}

/** The value that wins among everything modprobe passes, or null when nothing sets it (kernel default). */
export function lastParameter(values: readonly ModuleParameter[]): ModuleParameter | null {
  return values.at(-1) ?? null;
}

/** The content the fix writes: `1` suits both Intel's bool and AMD's int parameter. */
export function nestedConfigContent(module: string): string {
  return `# nested virtualisation for KVM guests (written by stackdoctor host/nested-virtualisation)\noptions ${module} nested=1\n`;
}

/** What modprobe would pass once the fix's file holds `content` (same-named files elsewhere are hidden by it). */
export function persistedAfterWrite(
  files: readonly ModprobeFile[],
  kernelCommandLine: string | null,
  module: string,
  content: string,
): ModuleParameter | null {
  const ownName = nestedConfigPath.slice(nestedConfigPath.lastIndexOf('/') + 1);
  const others = files.filter((file) => file.path.slice(file.path.lastIndexOf('/') + 1) !== ownName);
  const merged = [...others, { path: nestedConfigPath, content }].sort((a, b) => {
    const left = a.path.slice(a.path.lastIndexOf('/') + 1);
    const right = b.path.slice(b.path.lastIndexOf('/') + 1);
    return left < right ? -1 : left > right ? 1 : 0;
  });
  return lastParameter(findModuleParameter(merged, kernelCommandLine, module, 'nested'));
}

export function describeKvmState(state: KvmState): JsonObject {
  const winner = lastParameter(state.persisted);
  return {
    vendorId: state.cpu.vendorId,
    virtualisationFlag: state.cpu.virtualisationFlag,
    isVirtualMachine: state.cpu.isVirtualMachine,
    module: state.module,
    loaded: state.loaded,
    runtimeNested: state.runtimeNested,
    moduleUsers: state.moduleUsers,
    persisted: state.persisted.map((entry) => ({ value: entry.value, source: entry.source })),
    persistedNested: winner === null ? null : winner.value,
    persistedSource: winner === null ? null : winner.source,
    shadowedFiles: state.shadowedFiles,
    nestedConfigFile: { path: nestedConfigPath, content: state.ownFile.content },
    nova:
      state.nova === null
        ? null
        : {
            file: state.nova.file,
            virtType: state.nova.virtType,
            cpuMode: state.nova.cpuMode?.value ?? null,
            cpuModeSource:
              state.nova.cpuMode === null ? null : `${state.nova.file}:${state.nova.cpuMode.line}`,
            cpuModels: state.nova.cpuModels,
            extraFlags: state.nova.extraFlags,
          },
  };
}

/**
 * Decides what is wrong on one host. Pure, so the unit tests can state every case as a table; the state
 * comes from `readKvmState`. Nothing returned means nested virtualisation is on, stays on, and guests see it.
 */
export function assessNestedVirtualisation(state: KvmState): NestedAssessment[] {
  const { cpu, module } = state;
  if (cpu.virtualisationFlag === null || module === null) {
    return [
      {
        problem: 'no-hardware-virtualisation',
        resourceType: 'kvm-module',
        severity: 'info',
        message: cpu.isVirtualMachine
          ? `this host is a virtual machine whose CPU shows neither vmx nor svm: its own hypervisor must expose them first`
          : `the CPU (${cpu.vendorId ?? 'unknown vendor'}) shows neither vmx nor svm: virtualisation is off in the firmware or unsupported`,
        fixable: false,
      },
    ];
  }
  const assessments: NestedAssessment[] = [];
  const winner = lastParameter(state.persisted);
  const persistedOn = winner === null ? undefined : isNestedValueEnabled(winner.value);
  const persistedText =
    winner === null
      ? 'nothing in modprobe.d sets nested (kernel default)'
      : `${winner.source} sets nested=${winner.value}`;
  if (!state.loaded) {
    assessments.push({
      problem: 'module-not-loaded',
      resourceType: 'kvm-module',
      severity: 'info',
      message: `${module} is not loaded: KVM is not in use on this host (${persistedText})`,
      fixable: false,
    });
  } else {
    const runtimeOn = state.runtimeNested === null ? undefined : isNestedValueEnabled(state.runtimeNested);
    if (runtimeOn === undefined) {
      assessments.push({
        problem: 'runtime-unknown',
        resourceType: 'kvm-module',
        severity: 'info',
        message: `${module} is loaded but /sys/module/${module}/parameters/nested ${state.runtimeNested === null ? 'is unreadable' : `reads "${state.runtimeNested}"`}`,
        fixable: false,
      });
    } else if (!runtimeOn) {
      assessments.push({
        problem: 'nested-off',
        resourceType: 'kvm-module',
        severity: 'warning',
        message:
          persistedOn === true
            ? `nested virtualisation is off (${module} nested=${state.runtimeNested}) although ${persistedText}: the module was loaded before that, a reload is needed`
            : `nested virtualisation is off (${module} nested=${state.runtimeNested}); ${persistedText}`,
        fixable: true,
      });
    } else if (persistedOn === false) {
      assessments.push({
        problem: 'not-persisted',
        resourceType: 'kvm-module',
        severity: 'warning',
        message: `nested virtualisation is on now (${module} nested=${state.runtimeNested}) but ${persistedText}: it is off after the next reboot or module reload`,
        fixable: true,
      });
    }
  }
  const hidden = describeHiddenFlag(state);
  if (hidden !== undefined) {
    assessments.push({
      problem: 'cpu-mode-hides-flag',
      resourceType: 'nova-cpu-mode',
      severity: 'warning',
      message: hidden,
      fixable: false,
    });
  }
  return assessments;
}

/** Why guests would not see vmx/svm whatever the module says, or undefined when they would. */
function describeHiddenFlag(state: KvmState): string | undefined {
  const { nova } = state;
  const flag = state.cpu.virtualisationFlag;
  if (nova === null || flag === null || (nova.virtType !== 'kvm' && nova.virtType !== 'qemu'))
    return undefined;
  // unset: Nova uses host-model for kvm/qemu guests on x86
  const mode = (nova.cpuMode?.value ?? 'host-model').trim().toLowerCase();
  if (mode === 'host-passthrough' || mode === 'host-model') return undefined;
  const where = nova.cpuMode === null ? nova.file : `${nova.file}:${nova.cpuMode.line}`;
  if (mode === 'custom') {
    const flags = nova.extraFlags.map((item) => item.replace(/^[+]/, '').toLowerCase());
    if (flags.includes(flag)) return undefined;
    return `[libvirt] cpu_mode = custom (${where}) with cpu_models ${nova.cpuModels.join(',') || '(none)'} hides ${flag} from guests: add cpu_model_extra_flags = ${flag}, or use host-passthrough / host-model`;
  }
  return `[libvirt] cpu_mode = ${mode} (${where}) gives guests no ${flag}: use host-passthrough or host-model`;
}
