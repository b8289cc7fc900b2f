import assert from 'node:assert/strict';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import check from '../../../../src/checks/host/nested-virtualisation.js';
import { createCloudlessSession } from '../../../../src/cli/hosts.js';
import type { CheckContext, Finding } from '../../../../src/core/check.js';
import { applyFixes, planFixes } from '../../../../src/core/fixer.js';
import { Journal } from '../../../../src/core/journal.js';
import { silentLogger } from '../../../../src/core/logger.js';
import { completeFinding } from '../../../../src/core/runner.js';
import { applyUndo, planUndo } from '../../../../src/core/undo.js';
import { LocalHost } from '../../../../src/hosts/index.js';
import { startThrowawaySshd, type ThrowawaySshd } from '../../../hosts/sshd.js';
import { runCliProcess } from '../../../support/cli.js';
import { adminCloud, runCli } from '../../../support/integration.js';
import { fixedHosts } from '../../../unit/checks/host/host-provider.js';

// This machine has no KVM. What is real here: the CLI run end to end without any clouds.yaml, ssh to a real
// sshd on 127.0.0.1 reading this machine's own /proc/cpuinfo, the journal, and the file write and undo on a
// real filesystem (a copy of a fixture tree laid out like an Intel hypervisor). What is fake: `modprobe` and
// `docker` are scripts on PATH that act on the copy (unload = remove sys/module/kvm_intel, load = set
// parameters/nested from the copy's etc/modprobe.d), because no kernel module can be reloaded here.
const fixtures = path.resolve(import.meta.dirname, '../../../fixtures/hosts');
let work: string;
let fakeBin: string;
const originalPath = process.env.PATH;

before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'sd-test-host-'));
  fakeBin = path.join(work, 'bin');
  await mkdir(fakeBin);
  await writeFile(
    path.join(fakeBin, 'modprobe'),
    [
      '#!/bin/sh',
      '# fake modprobe: the root-prefix tree is $SD_FAKE_ROOT; every call is logged next to it',
      'echo "modprobe $*" >> "$SD_FAKE_ROOT.calls"',
      'if [ "$1" = -r ]; then',
      '  [ "$(cat "$SD_FAKE_ROOT/sys/module/$2/refcnt")" = 0 ] || { echo "modprobe: FATAL: Module $2 is in use." >&2; exit 1; }',
      '  rm -rf "$SD_FAKE_ROOT/sys/module/$2"; exit 0',
      'fi',
      'dashed=$(echo "$1" | tr _ -)',
      'value=$(cat "$SD_FAKE_ROOT"/etc/modprobe.d/*.conf 2>/dev/null | sed -n "s/^options \\($1\\|$dashed\\) .*nested=\\([^ ]*\\).*/\\2/p" | tail -n 1)',
      'case "$value" in 1|y|Y) value=Y ;; *) value=N ;; esac',
      'mkdir -p "$SD_FAKE_ROOT/sys/module/$1/parameters"',
      'echo "$value" > "$SD_FAKE_ROOT/sys/module/$1/parameters/nested"',
      'echo 0 > "$SD_FAKE_ROOT/sys/module/$1/refcnt"',
      '',
    ].join('\n'),
  );
  await writeFile(
    path.join(fakeBin, 'docker'),
    [
      '#!/bin/sh',
      '# fake docker: one running kolla nova_libvirt container; restart and exec are logged',
      'echo "docker $*" >> "$SD_FAKE_ROOT.calls"',
      'case "$1" in',
      `  ps) echo '{"ID":"c0ffee","Names":"nova_libvirt","Image":"quay.io/osism/nova-libvirt:2024.1","State":"running","Status":"Up 3 days","Labels":"kolla_version=18.0.0"}' ;;`,
      '  restart) echo "$2" ;;',
      '  exec) exit 0 ;;',
      'esac',
      '',
    ].join('\n'),
  );
  await chmod(path.join(fakeBin, 'modprobe'), 0o755);
  await chmod(path.join(fakeBin, 'docker'), 0o755);
  process.env.PATH = `${fakeBin}:${originalPath ?? '/usr/bin:/bin'}`;
});

after(async () => {
  process.env.PATH = originalPath;
  delete process.env.SD_FAKE_ROOT;
  await rm(work, { recursive: true, force: true });
});

/** A writable copy of a fixture, reachable as a LocalHost that may run the fake tools and write. */
async function copyFixture(name: string): Promise<{ root: string; host: LocalHost }> {
  const root = path.join(work, `${name}-${Math.random().toString(36).slice(2, 8)}`);
  await cp(path.join(fixtures, name), root, { recursive: true });
  process.env.SD_FAKE_ROOT = root;
  return { root, host: new LocalHost({ name, root, allowRunWithRoot: true, allowWriteWithRoot: true }) };
}

function contextFor(host: LocalHost): CheckContext {
  return {
    cloud: createCloudlessSession('(no cloud)'),
    hosts: fixedHosts([host]),
    parameters: {},
    now: () => new Date(),
    log: silentLogger,
    signal: new AbortController().signal,
  };
}

async function detect(ctx: CheckContext): Promise<Finding[]> {
  const found: Finding[] = [];
  for await (const input of check.detect(ctx)) found.push(completeFinding(check, input.target!, input));
  return found;
}

const readOrNull = (file: string) => readFile(file, 'utf8').catch(() => null);
const nestedFile = (root: string) => path.join(root, 'etc/modprobe.d/kvm-nested-virtualization.conf');

describe('fix and undo on a real filesystem (Intel layout, fake modprobe and docker)', () => {
  it('writes the option, reloads, restarts nova_libvirt, verifies; undo removes the file and says a reload is needed', async () => {
    const { root, host } = await copyFixture('intel-disabled');
    const ctx = contextFor(host);
    const journal = new Journal(path.join(work, `journal-${path.basename(root)}`));
    const findings = await detect(ctx);
    assert.deepEqual(
      findings.map((finding) => finding.evidence.problem),
      ['nested-off'],
    );
    const { planned, failures } = await planFixes(
      findings.map((finding) => ({ check, finding })),
      ctx,
    );
    assert.deepEqual(failures, []);
    const { runId, outcomes } = await applyFixes(
      planned,
      { journal, ctx, operator: 'test', toolVersion: 'test', confirm: async () => false },
      { max: 5, yes: true },
    );
    assert.equal(outcomes[0]?.result, 'fixed', JSON.stringify(outcomes[0]));
    assert.match((await readOrNull(nestedFile(root))) ?? '', /^options kvm_intel nested=1$/m);
    assert.equal(await readOrNull(path.join(root, 'sys/module/kvm_intel/parameters/nested')), 'Y\n');
    assert.deepEqual(
      (await readFile(`${root}.calls`, 'utf8'))
        .trim()
        .split('\n')
        .filter((line) => !line.startsWith('docker ps') && !line.startsWith('docker exec')),
      ['modprobe -r kvm_intel', 'modprobe kvm_intel', 'docker restart nova_libvirt'],
    );
    // the journal holds the file's absence as its prior state, before anything was written
    const steps = (await journal.readRun(runId)).filter((record) => record.type === 'step');
    assert.deepEqual(steps[0]?.type === 'step' ? steps[0].priorState : undefined, {
      host: { name: 'intel-disabled', address: 'intel-disabled' },
      path: '/etc/modprobe.d/kvm-nested-virtualization.conf',
      content: null,
      mode: null,
    });

    const undo = await applyUndo(await planUndo(journal, runId), {
      journal,
      ctx,
      findCheck: (id) => (id === check.meta.id ? check : undefined),
      operator: 'test',
      toolVersion: 'test',
    });
    assert.deepEqual(
      undo.outcomes.map((outcome) => outcome.result),
      ['undone', 'undone', 'undone'],
    );
    assert.equal(await readOrNull(nestedFile(root)), null);
    assert.match(
      undo.outcomes.at(-1)?.detail ?? '',
      /removed \/etc\/modprobe\.d\/kvm-nested-virtualization\.conf on intel-disabled; kvm_intel runs with nested=Y \(N before the fix\); modprobe\.d now gives the kernel default: reload kvm_intel/,
    );
  });

  it('guests running: writes the file only, never calls modprobe, reports still-present; undo removes the file', async () => {
    const { root, host } = await copyFixture('intel-guests-running');
    const ctx = contextFor(host);
    const journal = new Journal(path.join(work, `journal-${path.basename(root)}`));
    const findings = await detect(ctx);
    const { planned } = await planFixes(
      findings.map((finding) => ({ check, finding })),
      ctx,
    );
    const { runId, outcomes } = await applyFixes(
      planned,
      { journal, ctx, operator: 'test', toolVersion: 'test', confirm: async () => false },
      { max: 5, yes: true },
    );
    assert.equal(outcomes[0]?.result, 'still-present');
    assert.match(outcomes[0]?.steps[0]?.describe ?? '', /guests run \(instance-0000002a\)/);
    assert.match((await readOrNull(nestedFile(root))) ?? '', /nested=1/);
    assert.equal(((await readOrNull(`${root}.calls`)) ?? '').includes('modprobe'), false);
    const undo = await applyUndo(await planUndo(journal, runId), {
      journal,
      ctx,
      findCheck: () => check,
      operator: 'test',
      toolVersion: 'test',
    });
    assert.deepEqual(
      undo.outcomes.map((outcome) => outcome.result),
      ['undone'],
    );
    assert.match(
      undo.outcomes[0]?.detail ?? '',
      /no reload needed: kvm_intel runs with nested=N as before the fix/,
    );
    assert.equal(await readOrNull(nestedFile(root)), null);
  });

  it('the reload refuses at apply time when a guest started after the plan, naming it', async () => {
    const { host } = await copyFixture('intel-guests-running');
    const reload = check.procedures?.['reload-kvm-module'];
    assert.ok(reload);
    await assert.rejects(
      reload({ host: { name: 'intel-guests-running', address: 'x' }, module: 'kvm_intel' }, contextFor(host)),
      /not reloading kvm_intel on intel-guests-running: guests run \(instance-0000002a\); \/etc\/modprobe\.d\/kvm-nested-virtualization\.conf stays written/,
    );
  });

  it('undo refuses to restore over a file someone edited after the fix, and keeps their edit', async () => {
    const { root, host } = await copyFixture('intel-reload-needed');
    const ctx = contextFor(host);
    const journal = new Journal(path.join(work, `journal-${path.basename(root)}`));
    const { planned } = await planFixes(
      (await detect(ctx)).map((finding) => ({ check, finding })),
      ctx,
    );
    const { runId } = await applyFixes(
      planned,
      { journal, ctx, operator: 'test', toolVersion: 'test', confirm: async () => false },
      { max: 5, yes: true },
    );
    await writeFile(nestedFile(root), 'options kvm_intel nested=1 enable_shadow_vmcs=1\n');
    const undo = await applyUndo(await planUndo(journal, runId), {
      journal,
      ctx,
      findCheck: () => check,
      operator: 'test',
      toolVersion: 'test',
    });
    assert.equal(undo.outcomes.at(-1)?.result, 'failed');
    assert.match(
      undo.outcomes.at(-1)?.detail ?? '',
      /changed after the fix; not restoring over someone else's edit/,
    );
    assert.equal(await readOrNull(nestedFile(root)), 'options kvm_intel nested=1 enable_shadow_vmcs=1\n');
  });
});

describe('the CLI without any clouds.yaml', () => {
  const env = () => ({ PATH: originalPath ?? '/usr/bin:/bin', HOME: work, NO_COLOR: '1' });

  it('check --root on a collected copy: findings targeted at the host, exit code 1', async () => {
    const result = await runCliProcess(
      ['check', 'host/nested-virtualisation', '--root', path.join(fixtures, 'amd-drifted'), '-f', 'json'],
      { cwd: work, env: env() },
    );
    assert.equal(result.code, 1, result.stderr);
    const document = JSON.parse(result.stdout) as {
      checks: { findings: { target: unknown; message: string }[] }[];
    };
    const finding = document.checks[0]?.findings[0];
    assert.deepEqual(finding?.target, { kind: 'host', name: 'amd-drifted', region: null });
    assert.match(finding?.message ?? '', /zz-hardening\.conf:2 sets nested=0/);
  });

  it('check --root on a healthy copy: exit code 0', async () => {
    const result = await runCliProcess(
      [
        'check',
        'host/nested-virtualisation',
        '--root',
        path.join(fixtures, 'intel-enabled'),
        '--host',
        'compute01',
      ],
      { cwd: work, env: env() },
    );
    assert.equal(result.code, 0, result.stderr);
  });

  it('fix --apply on a --root copy is refused and the copy is untouched', async () => {
    const { root } = await copyFixture('intel-disabled');
    const result = await runCliProcess(
      [
        'fix',
        'host/nested-virtualisation',
        '--root',
        root,
        '--apply',
        '--yes',
        '--journal-dir',
        path.join(work, 'cli-journal'),
      ],
      { cwd: work, env: env() },
    );
    assert.equal(result.code, 3, result.stdout + result.stderr);
    assert.match(result.stdout, /refusing to change \/etc\/modprobe\.d\/kvm-nested-virtualization\.conf/);
    assert.equal(await readOrNull(nestedFile(root)), null);
  });
});

describe('the CLI over ssh (a real sshd on 127.0.0.1)', () => {
  let sshd: ThrowawaySshd;
  let sshConfig: string;
  before(async () => {
    sshd = await startThrowawaySshd();
    sshConfig = path.join(sshd.dir, 'cli_ssh_config');
    await writeFile(
      sshConfig,
      `${await readFile(sshd.clientConfig, 'utf8')}  UserKnownHostsFile ${path.join(sshd.dir, 'cli_known_hosts')}\n`,
    );
  });
  after(async () => {
    await sshd?.stop();
  });
  const env = () => ({ PATH: originalPath ?? '/usr/bin:/bin', HOME: work, NO_COLOR: '1' });

  it('an unknown host key is refused (the host is reported as not looked at); --accept-new-host-keys trusts it and records it', async () => {
    const journalDir = path.join(work, 'ssh-journal');
    const target = `root@127.0.0.1:${sshd.port}`;
    const args = ['check', 'host/nested-virtualisation', '--host', target, '--ssh-config', sshConfig];
    const refused = await runCliProcess([...args, '-f', 'json', '--journal-dir', journalDir], {
      cwd: work,
      env: env(),
    });
    const refusedDoc = JSON.parse(refused.stdout) as {
      checks: { findings: { message: string; severity: string }[] }[];
    };
    assert.equal(refusedDoc.checks[0]?.findings[0]?.severity, 'info');
    assert.match(refusedDoc.checks[0]?.findings[0]?.message ?? '', /^not looked at: .*host key/i);

    const accepted = await runCliProcess(
      [...args, '--accept-new-host-keys', '-f', 'json', '--journal-dir', journalDir],
      { cwd: work, env: env() },
    );
    assert.match(accepted.stderr, /accepted a new host key for 127\.0\.0\.1/);
    const record = JSON.parse(
      (await readFile(path.join(journalDir, 'accepted-host-keys.jsonl'), 'utf8')).trim(),
    );
    assert.equal(record.host, '127.0.0.1');
    // this machine's real /proc/cpuinfo, read over ssh: it offers neither vmx nor svm
    const document = JSON.parse(accepted.stdout) as {
      checks: { findings: { target: unknown; evidence: { problem?: string } }[] }[];
    };
    assert.deepEqual(document.checks[0]?.findings[0]?.target, {
      kind: 'host',
      name: '127.0.0.1',
      region: null,
    });
    assert.equal(document.checks[0]?.findings[0]?.evidence.problem, 'no-hardware-virtualisation');
  });

  it('an unreachable host is reported as not looked at; the reachable one still is, from an INI inventory with --limit', async () => {
    const inventory = path.join(work, 'hosts.ini');
    await writeFile(
      inventory,
      [
        '[compute]',
        `compute01 ansible_host=127.0.0.1 ansible_port=${sshd.port} ansible_user=root`,
        // nothing listens on port 1
        'compute02 ansible_host=127.0.0.1 ansible_port=1 ansible_user=root',
        '[control]',
        'control01 ansible_host=192.0.2.1',
        '',
      ].join('\n'),
    );
    await writeFile(path.join(sshd.dir, 'cli_known_hosts'), `${sshd.knownHostsLine}\n`);
    const result = await runCliProcess(
      [
        'check',
        'host/nested-virtualisation',
        '-i',
        inventory,
        '--limit',
        'compute',
        '--forks',
        '2',
        '--ssh-config',
        sshConfig,
        '-f',
        'json',
      ],
      { cwd: work, env: env() },
    );
    assert.equal(result.code, 0, result.stderr);
    const document = JSON.parse(result.stdout) as {
      checks: { findings: { target: { name: string }; message: string }[] }[];
    };
    const byHost = new Map(
      document.checks[0]?.findings.map((finding) => [finding.target.name, finding.message]),
    );
    assert.deepEqual([...byHost.keys()].sort(), ['compute01', 'compute02']);
    assert.match(byHost.get('compute02') ?? '', /^not looked at: /);
    assert.match(byHost.get('compute01') ?? '', /neither vmx nor svm/);
  });

  it('--hypervisors: the hosts Nova reports (the local cloud), reached through the inventory', async () => {
    const inventory = path.join(work, 'hypervisors.yml');
    // sd-compute-1 is the sshd on this machine; sd-compute-2 is not in the inventory, so ssh tries its name
    await writeFile(
      inventory,
      `all:\n  children:\n    compute:\n      hosts:\n        sd-compute-1:\n          ansible_host: 127.0.0.1\n          ansible_port: ${sshd.port}\n          ansible_user: root\n`,
    );
    await writeFile(path.join(sshd.dir, 'cli_known_hosts'), `${sshd.knownHostsLine}\n`);
    const result = await runCli([
      'check',
      'host/nested-virtualisation',
      '--hypervisors',
      '-i',
      inventory,
      '--os-cloud',
      adminCloud,
      '--ssh-config',
      sshConfig,
      '-f',
      'json',
      '--journal-dir',
      path.join(work, 'hypervisors-journal'),
    ]);
    assert.equal(result.code, 0, result.stderr);
    const document = JSON.parse(result.stdout) as {
      checks: { findings: { target: { name: string }; message: string }[] }[];
    };
    const byHost = new Map(
      document.checks[0]?.findings.map((finding) => [finding.target.name, finding.message]),
    );
    assert.match(byHost.get('sd-compute-1') ?? '', /neither vmx nor svm/);
    assert.match(byHost.get('sd-compute-2') ?? '', /^not looked at: .*sd-compute-2/);
  });
});
