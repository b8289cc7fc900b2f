import path from 'node:path';
import type { Host, ProcessInfo } from '../../hosts/index.js';
import {
  findModuleParameter,
  type ModprobeFile,
  type ModuleParameter,
  normaliseModuleName,
  readModprobeFiles,
} from './modprobe-options.js';
import { type ConfValue, parseOsloConf, readConfValue } from './oslo-conf.js';

export type KvmModule = 'kvm_intel' | 'kvm_amd';

/** The file the fix writes, named as in the operators' runbook. */
export const nestedConfigPath = '/etc/modprobe.d/kvm-nested-virtualization.conf';

/** Where nova-compute's configuration is: kolla's copy for the container first, then a package install. */
export const novaConfCandidates = ['/etc/kolla/nova-compute/nova.conf', '/etc/nova/nova.conf'] as const;

export interface CpuInfo {
  vendorId: string | null;
  /** `vmx` (Intel VT-x), `svm` (AMD-V), or null when the CPU offers neither (or the firmware hides it). */
  virtualisationFlag: 'vmx' | 'svm' | null;
  /** The `hypervisor` flag: this host is itself a virtual machine, so nesting also depends on its host. */
  isVirtualMachine: boolean;
}

export interface NovaCpuMode {
  file: string;
  virtType: string;
  /** As configured, or null when unset (Nova then picks host-model for kvm). */
  cpuMode: ConfValue | null;
  cpuModels: string[];
  extraFlags: string[];
}

export interface KvmState {
  cpu: CpuInfo;
  module: KvmModule | null;
  loaded: boolean;
  /** The raw runtime value of `nested` (`Y`/`N` on Intel, `1`/`0` on AMD), null when unreadable. */
  runtimeNested: string | null;
  /** Guests holding the module (each running VM takes a reference), from `/sys/module/M/refcnt`. */
  moduleUsers: number | null;
  /** Every `nested=` modprobe would pass, in the order the kernel applies them (the last one wins). */
  persisted: ModuleParameter[];
  /** Files hidden by a same-named file in a directory modprobe reads first. */
  shadowedFiles: string[];
  modprobeFiles: ModprobeFile[];
  kernelCommandLine: string | null;
  /** The fix's own file: its content (null when absent) and mode, the prior state an undo restores. */
  ownFile: { content: string | null; mode: number | null };
  nova: NovaCpuMode | null;
}

/** `Y`, `y` and `1` mean on (Intel's bool); AMD's int is on when non-zero. Anything else is unknown. */
export function isNestedValueEnabled(value: string): boolean | undefined {
  const trimmed = value.trim();
  if (/^[yY]$/.test(trimmed)) return true;
  if (/^[nN]$/.test(trimmed)) return false;
  if (/^-?\d+$/.test(trimmed)) return Number(trimmed) !== 0;
  return undefined;
}

export function parseCpuInfo(text: string): CpuInfo {
  // the first processor speaks for all: a host mixing vendors or flags is not something KVM supports
  const vendorId = /^vendor_id\s*:\s*(\S+)/m.exec(text)?.[1] ?? null;
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(text)?.[1] ?? '').split(/\s+/));
  return {
    vendorId,
    virtualisationFlag: flags.has('vmx') ? 'vmx' : flags.has('svm') ? 'svm' : null,
    isVirtualMachine: flags.has('hypervisor'),
  };
}

/** The vendor module KVM needs for this CPU. */
export function moduleForCpu(cpu: CpuInfo): KvmModule | null {
  if (cpu.virtualisationFlag === 'vmx' || cpu.vendorId === 'GenuineIntel') return 'kvm_intel';
  if (
    cpu.virtualisationFlag === 'svm' ||
    cpu.vendorId === 'AuthenticAMD' ||
    cpu.vendorId === 'HygonGenuine'
  ) {
    return 'kvm_amd';
  }
  return null;
}

export function parseNovaCpuMode(text: string, file: string): NovaCpuMode {
  const conf = parseOsloConf(text, file);
  const list = (value: ConfValue | undefined) =>
    (value?.value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  return {
    file,
    virtType: readConfValue(conf, 'libvirt', 'virt_type')?.value.trim() || 'kvm',
    cpuMode: readConfValue(conf, 'libvirt', 'cpu_mode') ?? null,
    // cpu_model is the name before Stein; Nova still reads it as a deprecated alias
    cpuModels: list(
      readConfValue(conf, 'libvirt', 'cpu_models') ?? readConfValue(conf, 'libvirt', 'cpu_model'),
    ),
    extraFlags: list(readConfValue(conf, 'libvirt', 'cpu_model_extra_flags')),
  };
}

/**
 * Reads everything the check decides on from one host, read-only: works on a live host, over ssh, and on a
 * collected copy (`--root`), where `/proc` and `/sys` are the files collected with it.
 */
export async function readKvmState(
  host: Host,
  options: { novaConf?: string | undefined } = {},
): Promise<KvmState> {
  const cpu = parseCpuInfo((await host.readFile('/proc/cpuinfo')) ?? '');
  const module = moduleForCpu(cpu);
  const sysModule = module === null ? null : `/sys/module/${module}`;
  const loaded =
    module !== null &&
    ((await host.stat(`/sys/module/${module}`))?.type === 'directory' ||
      isListedInProcModules(await host.readFile('/proc/modules'), module));
  const runtimeNested =
    sysModule === null ? null : ((await host.readFile(`${sysModule}/parameters/nested`))?.trim() ?? null);
  const refcnt = sysModule === null ? null : ((await host.readFile(`${sysModule}/refcnt`))?.trim() ?? null);
  const { files, shadowed } = await readModprobeFiles(host);
  const kernelCommandLine = (await host.readFile('/proc/cmdline'))?.trim() ?? null;
  const own = await host.stat(nestedConfigPath);
  return {
    cpu,
    module,
    loaded,
    runtimeNested,
    moduleUsers: refcnt !== null && /^\d+$/.test(refcnt) ? Number(refcnt) : null,
    persisted: module === null ? [] : findModuleParameter(files, kernelCommandLine, module, 'nested'),
    shadowedFiles: shadowed,
    modprobeFiles: files,
    kernelCommandLine,
    ownFile: {
      content: own === null ? null : await host.readFile(nestedConfigPath),
      mode: own === null ? null : own.mode,
    },
    nova: await readNovaCpuMode(host, options.novaConf),
  };
}

async function readNovaCpuMode(host: Host, given: string | undefined): Promise<NovaCpuMode | null> {
  for (const file of given === undefined ? novaConfCandidates : [given]) {
    const text = await host.readFile(file);
    if (text !== null) return parseNovaCpuMode(text, file);
  }
  return null;
}

function isListedInProcModules(text: string | null, module: string): boolean {
  return (text ?? '').split('\n').some((line) => normaliseModuleName(line.split(' ')[0] ?? '') === module);
}

export interface Guest {
  pid: number;
  /** The libvirt domain (`instance-0000002a`) from qemu's `-name guest=…`, else the process name. */
  name: string;
}

/** QEMU processes: each is a running guest that pins the KVM module. */
export function findGuests(processes: readonly ProcessInfo[]): Guest[] {
  return processes
    .filter((process) => {
      const program = path.basename(process.cmdline[0] ?? '');
      return /^qemu-(system-|kvm)/.test(process.comm) || /^qemu-(system-\S+|kvm)$/.test(program);
    })
    .map((process) => ({ pid: process.pid, name: guestName(process) }));
}

function guestName(process: ProcessInfo): string {
  const index = process.cmdline.indexOf('-name');
  const value = index < 0 ? undefined : process.cmdline[index + 1];
  const guest = value === undefined ? undefined : /(?:^|,)guest=([^,]+)/.exec(value)?.[1];
  return guest ?? value ?? `${process.comm} (pid ${process.pid})`;
}
