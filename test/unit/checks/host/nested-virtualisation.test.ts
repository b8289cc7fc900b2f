import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isNestedValueEnabled, parseCpuInfo, readKvmState } from '../../../../src/checks/host/kvm-state.js';
import { findModuleParameter } from '../../../../src/checks/host/modprobe-options.js';
import {
  assessNestedVirtualisation,
  nestedConfigContent,
} from '../../../../src/checks/host/nested-assessment.js';
import check, { planNestedVirtualisationFix } from '../../../../src/checks/host/nested-virtualisation.js';
import { createCloudlessSession } from '../../../../src/cli/hosts.js';
import type { CheckContext, FindingInput } from '../../../../src/core/check.js';
import { silentLogger } from '../../../../src/core/logger.js';
import { completeFinding } from '../../../../src/core/runner.js';
import { type Host, HostUnreachableError, LocalHost } from '../../../../src/hosts/index.js';
import { fixedHosts } from './host-provider.js';

// This machine has no KVM: every read is proven on directory trees laid out like real hypervisors
// (test/fixtures/hosts/*: proc/cpuinfo, proc/modules, sys/module/kvm_*/parameters/nested, modprobe.d, nova.conf,
// proc/PID of a running QEMU), read through LocalHost({ root }) exactly as `--root` reads a collected copy.
const fixtures = path.resolve(import.meta.dirname, '../../../fixtures/hosts');
const fixtureHost = (name: string) => new LocalHost({ name, root: path.join(fixtures, name) });

function contextWith(hosts: readonly Host[], parameters: Record<string, string> = {}): CheckContext {
  return {
    cloud: createCloudlessSession('(no cloud)'),
    hosts: fixedHosts(hosts),
    parameters,
    now: () => new Date('2025-01-01T00:00:00Z'),
    log: silentLogger,
    signal: new AbortController().signal,
  };
}

async function detectAll(ctx: CheckContext): Promise<FindingInput[]> {
  const found: FindingInput[] = [];
  for await (const finding of check.detect(ctx)) found.push(finding);
  return found;
}

describe('reading a host: vendor, flags, module, runtime and persisted nested', () => {
  const cases: {
    fixture: string;
    module: string | null;
    runtime: string | null;
    persisted: string | null;
    problems: string[];
  }[] = [
    { fixture: 'intel-enabled', module: 'kvm_intel', runtime: 'Y', persisted: 'y', problems: [] },
    {
      fixture: 'intel-disabled',
      module: 'kvm_intel',
      runtime: 'N',
      persisted: null,
      problems: ['nested-off'],
    },
    {
      fixture: 'intel-reload-needed',
      module: 'kvm_intel',
      runtime: 'N',
      persisted: 'y',
      problems: ['nested-off'],
    },
    {
      fixture: 'intel-guests-running',
      module: 'kvm_intel',
      runtime: 'N',
      persisted: null,
      problems: ['nested-off'],
    },
    {
      fixture: 'intel-custom-cpu-model',
      module: 'kvm_intel',
      runtime: 'Y',
      persisted: '1',
      problems: ['cpu-mode-hides-flag'],
    },
    { fixture: 'amd-drifted', module: 'kvm_amd', runtime: '1', persisted: '0', problems: ['not-persisted'] },
    { fixture: 'amd-disabled', module: 'kvm_amd', runtime: '0', persisted: '0', problems: ['nested-off'] },
    { fixture: 'amd-enabled-default', module: 'kvm_amd', runtime: '1', persisted: null, problems: [] },
    {
      fixture: 'vm-without-vmx',
      module: 'kvm_intel',
      runtime: null,
      persisted: null,
      problems: ['no-hardware-virtualisation'],
    },
  ];
  for (const { fixture, module, runtime, persisted, problems } of cases) {
    it(`${fixture}: ${problems.join(', ') || 'nothing to report'}`, async () => {
      const state = await readKvmState(fixtureHost(fixture));
      assert.equal(state.module, module);
      assert.equal(state.runtimeNested, runtime);
      assert.equal(state.persisted.at(-1)?.value ?? null, persisted);
      assert.deepEqual(
        assessNestedVirtualisation(state).map((assessment) => assessment.problem),
        problems,
      );
    });
  }

  it('says why a reload is needed when modprobe.d already enables what the running module lacks', async () => {
    const [assessment] = assessNestedVirtualisation(await readKvmState(fixtureHost('intel-reload-needed')));
    assert.match(
      assessment?.message ?? '',
      /kvm-nested-virtualization\.conf:1 sets nested=y: the module was loaded before that/,
    );
  });

  it('names the file and line of a drifted persisted value, found through a continued line', async () => {
    const [assessment] = assessNestedVirtualisation(await readKvmState(fixtureHost('amd-drifted')));
    assert.match(
      assessment?.message ?? '',
      /on now \(kvm_amd nested=1\) but \/etc\/modprobe\.d\/zz-hardening\.conf:2 sets nested=0/,
    );
  });

  it('knows a same-named file in /etc/modprobe.d hides the one in /lib/modprobe.d', async () => {
    const state = await readKvmState(fixtureHost('amd-disabled'));
    assert.deepEqual(state.shadowedFiles, ['/lib/modprobe.d/kvm.conf']);
    assert.deepEqual(state.persisted, [{ value: '0', source: '/etc/modprobe.d/kvm.conf:1' }]);
  });

  it('reports the cpu_mode line that hides vmx from guests and what to add', async () => {
    const assessments = assessNestedVirtualisation(await readKvmState(fixtureHost('intel-custom-cpu-model')));
    assert.match(
      assessments[0]?.message ?? '',
      /cpu_mode = custom \(\/etc\/nova\/nova\.conf:8\) .*add cpu_model_extra_flags = vmx/,
    );
    assert.equal(assessments[0]?.fixable, false);
  });

  it('finds the running guest by its libvirt domain name', async () => {
    const state = await readKvmState(fixtureHost('intel-guests-running'));
    assert.equal(state.moduleUsers, 1);
  });
});

describe('modprobe option parsing', () => {
  const files = [
    {
      path: '/etc/modprobe.d/a.conf',
      content: '# options kvm_intel nested=0\noptions kvm-intel nested=N ept=1\n',
    },
    { path: '/etc/modprobe.d/b.conf', content: 'options kvm_intel nested\noptions kvm_amd nested=0\n' },
  ];
  it('applies options in reading order, treats - and _ alike, takes a bare bool as on, skips comments', () => {
    assert.deepEqual(findModuleParameter(files, null, 'kvm_intel', 'nested'), [
      { value: 'N', source: '/etc/modprobe.d/a.conf:2' },
      { value: 'Y', source: '/etc/modprobe.d/b.conf:1' },
    ]);
  });
  it('puts the kernel command line last, as kmod does', () => {
    assert.deepEqual(
      findModuleParameter(files, 'ro quiet kvm-intel.nested=0', 'kvm_intel', 'nested').at(-1),
      {
        value: '0',
        source: '/proc/cmdline',
      },
    );
  });
  it('reads Intel Y/N and AMD 1/0 alike', () => {
    assert.deepEqual(['Y', 'y', 'N', '1', '0', '2', 'maybe'].map(isNestedValueEnabled), [
      true,
      true,
      false,
      true,
      false,
      true,
      undefined,
    ]);
  });
  it('tells a virtual machine from a host without virtualisation', () => {
    assert.equal(parseCpuInfo('vendor_id : GenuineIntel\nflags : fpu hypervisor\n').isVirtualMachine, true);
    assert.equal(parseCpuInfo('vendor_id : AuthenticAMD\nflags : fpu svm\n').virtualisationFlag, 'svm');
  });
});

describe('planning the fix', () => {
  const spec = (name: string) => ({ name, address: name });

  it('off and not persisted: write the file (undo removes it), reload the module, restart libvirt', async () => {
    const state = await readKvmState(fixtureHost('intel-disabled'));
    const steps = planNestedVirtualisationFix(spec('intel-disabled'), state, []);
    assert.deepEqual(
      steps.map((step) => (step.apply.kind === 'procedure' ? step.apply.name : step.apply.kind)),
      ['write-modprobe-file', 'reload-kvm-module', 'restart-libvirt'],
    );
    const write = steps[0]!;
    assert.deepEqual(
      write.apply.kind === 'procedure' ? write.apply.args.content : null,
      nestedConfigContent('kvm_intel'),
    );
    assert.deepEqual(
      write.undo !== 'irreversible' && write.undo.kind === 'procedure' ? write.undo.args.content : 'x',
      null,
    );
    assert.deepEqual(write.priorState, {
      host: { name: 'intel-disabled', address: 'intel-disabled' },
      path: '/etc/modprobe.d/kvm-nested-virtualization.conf',
      content: null,
      mode: null,
    });
  });

  it('option already written: no write, only the reload and the restart', async () => {
    const steps = planNestedVirtualisationFix(
      spec('intel-reload-needed'),
      await readKvmState(fixtureHost('intel-reload-needed')),
      [],
    );
    // the file says kvm-intel nested=y, not our exact text, so it is rewritten (and its content journaled)
    assert.equal(steps[0]?.apply.kind === 'procedure' ? steps[0].apply.name : '', 'write-modprobe-file');
    assert.equal(
      steps[0]?.undo !== 'irreversible' && steps[0]?.undo.kind === 'procedure'
        ? steps[0].undo.args.content
        : null,
      'options kvm-intel nested=y\n',
    );
    assert.equal(steps.length, 3);
  });

  it('guests running: only the file, and the step names the guests and says when it takes effect', async () => {
    const host = fixtureHost('intel-guests-running');
    const ctx = contextWith([host]);
    const [finding] = await detectAll(ctx);
    assert.ok(finding);
    const steps = await check.plan!(completeFinding(check, finding.target!, finding), ctx);
    assert.equal(steps.length, 1);
    assert.match(
      steps[0]!.describe,
      /not reloading kvm_intel: guests run \(instance-0000002a\); the option takes effect at the next boot or reload/,
    );
  });

  it('refuses when a later file would still switch nested off after the write', async () => {
    const state = await readKvmState(fixtureHost('amd-drifted'));
    assert.throws(
      () => planNestedVirtualisationFix(spec('amd-drifted'), state, []),
      /zz-hardening\.conf:2 would still set nested=0/,
    );
  });
});

describe('detect over several hosts', () => {
  const refuse = async (): Promise<never> => {
    throw new HostUnreachableError('compute-99', 'ssh: connect to host compute-99 port 22: No route to host');
  };
  const unreachable: Host = {
    name: 'compute-99',
    readFile: refuse,
    listDir: refuse,
    readLink: refuse,
    stat: refuse,
    listProcesses: refuse,
    run: refuse,
    writeFileAtomic: refuse,
    removeFile: refuse,
    close: async () => {},
  };

  it('targets each finding at its host; an unreachable host is an info finding and the others still report', async () => {
    const findings = await detectAll(
      contextWith([fixtureHost('intel-enabled'), unreachable, fixtureHost('amd-drifted')]),
    );
    assert.deepEqual(
      findings.map((finding) => [finding.target?.name, finding.severity, finding.resource.type]),
      [
        ['compute-99', 'info', 'host'],
        ['amd-drifted', 'warning', 'kvm-module'],
      ],
    );
    const skipped = findings.find((finding) => finding.target?.name === 'compute-99');
    assert.match(
      skipped?.message ?? '',
      /not looked at: ssh: connect to host compute-99 port 22: No route to host/,
    );
    assert.equal(skipped?.fixable, false);
    const drifted = findings.find((finding) => finding.target?.name === 'amd-drifted');
    assert.equal(drifted?.evidence.problem, 'not-persisted');
    assert.equal(
      findings.some((finding) => finding.target?.name === 'intel-enabled'),
      false,
    );
  });

  it('recheck re-reads the same host and returns the finding while it holds', async () => {
    const host = fixtureHost('intel-disabled');
    const ctx = contextWith([host]);
    const [finding] = await detectAll(ctx);
    assert.ok(finding);
    const again = await check.recheck!(completeFinding(check, finding.target!, finding), ctx);
    assert.equal(again?.evidence.problem, 'nested-off');
  });
});
