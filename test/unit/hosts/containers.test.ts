import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  detectContainers,
  execInContainer,
  findContainerForService,
  isServiceProcess,
  locateService,
  parseDockerPs,
  parsePodmanPs,
  runForService,
} from '../../../src/hosts/containers.js';
import { HostCommandError } from '../../../src/hosts/errors.js';
import type { Host, ProcessInfo, RunOptions, RunResult } from '../../../src/hosts/host.js';
import { LocalHost } from '../../../src/hosts/local.js';

// There is no docker engine on the test machine. The listings are hand-written in the exact shapes of
// `docker ps --format '{{json .}}'` and `podman ps --format json` from a kolla host, and the exec path runs
// through a fake `docker` script put first on PATH.
const fixtures = new URL('./fixtures/containers/', import.meta.url);
const dockerPs = await readFile(new URL('docker-ps-kolla.jsonl', fixtures), 'utf8');
const podmanPs = await readFile(new URL('podman-ps.json', fixtures), 'utf8');

/** A host whose commands answer from a table and are recorded. */
function createScriptedHost(answers: Record<string, Partial<RunResult>>, processes: ProcessInfo[] = []) {
  const calls: { argv: readonly string[]; options: RunOptions }[] = [];
  const refuse = () => Promise.reject(new Error('not scripted'));
  const host: Host = {
    name: 'ctl01',
    run: async (argv, options) => {
      calls.push({ argv, options });
      const answer = answers[argv[0] ?? ''] ?? { exitCode: 127, stderr: `${argv[0]}: command not found` };
      return { exitCode: 0, stdout: '', stderr: '', truncated: false, ...answer };
    },
    listProcesses: async () => processes,
    readFile: refuse,
    listDir: refuse,
    readLink: refuse,
    stat: refuse,
    writeFileAtomic: refuse,
    removeFile: refuse,
    close: async () => {},
  };
  return { host, calls };
}

const runOptions = { timeoutMs: 10_000, maxOutputBytes: 65536 };

test('docker ps: names, states, labels and which containers kolla built', () => {
  const containers = parseDockerPs(dockerPs, 'ctl01');
  assert.deepEqual(
    containers.map((container) => [container.name, container.state, container.kolla]),
    [
      ['nova_libvirt', 'running', true],
      ['mistral_api', 'running', true],
      ['mistral_engine', 'exited', true],
      ['node_exporter', 'running', false],
    ],
  );
  assert.equal(containers[0]?.labels.kolla_version, '17.1.0');
  assert.equal(containers[0]?.status, 'Up 2 weeks (healthy)');
  assert.equal(containers[0]?.engine, 'docker');
  assert.throws(() => parseDockerPs('{"Names": 3}\n', 'ctl01'), HostCommandError);
  assert.throws(
    () => parseDockerPs('not json\n', 'ctl01'),
    /docker ps on ctl01 printed something that is not JSON/,
  );
});

test('podman ps: the JSON array form, labels as an object, kolla recognised by image', () => {
  const containers = parsePodmanPs(podmanPs, 'ctl01');
  assert.deepEqual(
    containers.map((container) => [container.engine, container.name, container.state, container.kolla]),
    [
      ['podman', 'mistral_api', 'running', true],
      ['podman', 'scratch', 'exited', false],
    ],
  );
  assert.deepEqual(parsePodmanPs('', 'ctl01'), []);
});

test('detectContainers asks docker, then podman; neither installed means services run on the host', async () => {
  const withDocker = createScriptedHost({ docker: { stdout: dockerPs } });
  const docker = await detectContainers(withDocker.host);
  assert.equal(docker.engine, 'docker');
  assert.equal(docker.containers.length, 4);
  assert.deepEqual(withDocker.calls[0]?.argv, [
    'docker',
    'ps',
    '--all',
    '--no-trunc',
    '--format',
    '{{json .}}',
  ]);

  const withPodman = createScriptedHost({ podman: { stdout: podmanPs } });
  const podman = await detectContainers(withPodman.host);
  assert.equal(podman.engine, 'podman');
  assert.deepEqual(
    withPodman.calls.map((call) => call.argv[0]),
    ['docker', 'podman'],
  );

  assert.deepEqual(await detectContainers(createScriptedHost({}).host), { engine: null, containers: [] });
});

test('a docker that cannot list is an error with a hint, not an empty host', async () => {
  const denied = createScriptedHost({
    docker: {
      exitCode: 1,
      stderr:
        'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock',
    },
  });
  await assert.rejects(detectContainers(denied.host), (error: unknown) => {
    assert.ok(error instanceof HostCommandError);
    assert.match(error.message, /^docker ps on ctl01 failed: permission denied/);
    assert.match(error.hint ?? '', /docker socket/);
    return true;
  });
});

test('findContainerForService accepts either spelling and prefers a running container', async () => {
  const { host } = createScriptedHost({ docker: { stdout: dockerPs } });
  assert.equal((await findContainerForService(host, 'mistral-api'))?.name, 'mistral_api');
  assert.equal((await findContainerForService(host, 'mistral_engine'))?.state, 'exited');
  assert.equal(await findContainerForService(host, 'glance_api'), null);
});

test('execInContainer builds `docker exec NAME argv…`: no tty, -i only with input, -u on request', async () => {
  const { host, calls } = createScriptedHost({ docker: {} });
  const container = { engine: 'docker' as const, name: 'mistral_api' };
  await execInContainer(
    host,
    container,
    ['mistral-db-manage', '--config-file', '/etc/mistral/mistral.conf', 'populate'],
    runOptions,
  );
  await execInContainer(host, container, ['cat'], { ...runOptions, stdin: 'x', user: 'root' });
  assert.deepEqual(calls[0]?.argv, [
    'docker',
    'exec',
    'mistral_api',
    'mistral-db-manage',
    '--config-file',
    '/etc/mistral/mistral.conf',
    'populate',
  ]);
  assert.deepEqual(calls[1]?.argv, ['docker', 'exec', '-i', '-u', 'root', 'mistral_api', 'cat']);
  assert.equal(calls[1]?.options.stdin, 'x');
});

test('runForService refuses a stopped container instead of running the tool on the host', async () => {
  const { host } = createScriptedHost({ docker: { stdout: dockerPs } });
  await assert.rejects(
    runForService(host, 'mistral_engine', ['true'], runOptions),
    /container mistral_engine on ctl01 is exited/,
  );
});

const mistralUwsgi: ProcessInfo = {
  pid: 812,
  ppid: 1,
  comm: 'uwsgi',
  uid: 118,
  cmdline: ['/usr/bin/uwsgi_python3', '--ini', '/etc/mistral/mistral-api-uwsgi.ini'],
};
const mistralScript: ProcessInfo = {
  pid: 813,
  ppid: 1,
  comm: 'mistral-api',
  uid: 118,
  cmdline: ['/usr/bin/python3', '/usr/bin/mistral-api', '--config-file', '/etc/mistral/mistral.conf'],
};
const unrelated: ProcessInfo = { pid: 900, ppid: 1, comm: 'sshd', uid: 0, cmdline: ['sshd: /usr/sbin/sshd'] };

test('without containers a service is found among host processes (uwsgi ini, python script, name)', async () => {
  assert.equal(isServiceProcess(mistralUwsgi, 'mistral_api'), true);
  assert.equal(isServiceProcess(mistralScript, 'mistral-api'), true);
  assert.equal(isServiceProcess(unrelated, 'mistral_api'), false);
  const { host } = createScriptedHost({}, [unrelated, mistralUwsgi, mistralScript]);
  assert.deepEqual(await locateService(host, 'mistral_api'), {
    kind: 'host',
    processes: [mistralUwsgi, mistralScript],
  });
  assert.deepEqual(await locateService(host, 'glance_api'), { kind: 'absent' });
  const ran = await runForService(host, 'mistral_api', ['true'], runOptions);
  assert.equal(ran.where, 'host');
});

let fakeBin: string;
let savedPath: string | undefined;

before(async () => {
  fakeBin = await mkdtemp(path.join(tmpdir(), 'fake-docker-'));
  await writeFile(path.join(fakeBin, 'ps.jsonl'), dockerPs);
  // stands in for the docker CLI: `ps` prints the fixture, `exec` echoes each argument it received in brackets
  await writeFile(
    path.join(fakeBin, 'docker'),
    [
      '#!/bin/sh',
      'case "$1" in',
      `  ps) cat '${path.join(fakeBin, 'ps.jsonl')}' ;;`,
      '  exec) shift; for a in "$@"; do printf "[%s]" "$a"; done ;;',
      '  *) echo "unexpected docker $*" >&2; exit 2 ;;',
      'esac',
      '',
    ].join('\n'),
  );
  await chmod(path.join(fakeBin, 'docker'), 0o755);
  savedPath = process.env.PATH;
  process.env.PATH = `${fakeBin}:${process.env.PATH ?? ''}`;
});

after(async () => {
  process.env.PATH = savedPath;
  await rm(fakeBin, { recursive: true, force: true });
});

test('through a real (fake) docker on PATH: the kolla container is found and the tool runs inside it', async () => {
  const host = new LocalHost({ name: 'ctl01' });
  const scan = await detectContainers(host);
  assert.equal(scan.engine, 'docker');
  const ran = await runForService(
    host,
    'mistral_api',
    ['mistral-db-manage', '--config-file', '/etc/mistral/mistral.conf', 'populate', 'with space', '$HOME'],
    runOptions,
    scan,
  );
  assert.equal(ran.where, 'container');
  assert.equal(ran.container, 'mistral_api');
  assert.equal(
    ran.result.stdout,
    '[mistral_api][mistral-db-manage][--config-file][/etc/mistral/mistral.conf][populate][with space][$HOME]',
  );
});
