/**
 * `stackdoctor image convert` end to end against the manual pipeline an operator would run, in the same run,
 * on the local cloud's Glance:
 *
 *   node --import tsx bench/image-convert.ts [--data-mib N]... [--virtual-gib G]
 *   (default: --data-mib 250 --data-mib 500 --virtual-gib 2)
 *
 * Per size: a raw disk of G GiB with N MiB of random data in 1 MiB chunks spread over it (not sparse data,
 * not one block), made qcow2 by qemu-img and uploaded as `sd-bench-convert-…`. Then, timed:
 *   manual:      openstack image save + qemu-img convert -f qcow2 -O raw + openstack image create --file
 *   stackdoctor: stackdoctor image convert ID --apply (download + hash, inspect, qemu-img info, convert,
 *                inspect, create, upload + hash, verify, retire the old image)
 * Peak RSS of the stackdoctor process (its own, not qemu-img's) comes from process.resourceUsage() at exit.
 * Every image is deleted afterwards. Needs ≈ 3 × G GiB free in the temp dir and in Glance's store.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../src/core/logger.js';
import { uploadImageFromFile } from '../src/images/convert-transfer.js';
import { resolveCloudConfig } from '../src/openstack/config.js';
import { imageSchema, listAllImages } from '../src/openstack/image.js';
import { openSession } from '../src/openstack/session.js';
import type { CloudSession } from '../src/openstack/types.js';

const prefix = 'sd-bench-convert-';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsxLoader = import.meta.resolve('tsx');
const reportRss = `data:text/javascript,process.on("exit",()=>process.stderr.write("maxrss-kib "+process.resourceUsage().maxRSS+"\\n"))`;

function readArguments(argv: readonly string[]): { dataMiB: number[]; virtualGiB: number } {
  const dataMiB: number[] = [];
  let virtualGiB = 2;
  for (let index = 0; index < argv.length; index++) {
    if (argv[index] === '--data-mib') dataMiB.push(Number(argv[++index]));
    else if (argv[index] === '--virtual-gib') virtualGiB = Number(argv[++index]);
    else throw new Error(`unknown argument ${argv[index]}`);
  }
  return { dataMiB: dataMiB.length > 0 ? dataMiB : [250, 500], virtualGiB };
}

function readCloudEnv(): Record<string, string> {
  const file = path.join(process.env.STACKDOCTOR_CLOUD_DIR ?? '/var/tmp/stackdoctor-cloud', 'cloud.env');
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1]!] = match[2]!;
  }
  return env;
}

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${stderr || error.message}`));
      else resolve({ stdout, stderr });
    });
  });
}

async function makeQcow2(dir: string, dataMiB: number, virtualGiB: number): Promise<string> {
  const raw = path.join(dir, 'source.raw');
  await writeFile(raw, '');
  await truncate(raw, virtualGiB * 1024 ** 3);
  const stride = Math.max(1, Math.floor((virtualGiB * 1024) / dataMiB));
  const fd = openSync(raw, 'r+');
  try {
    for (let chunk = 0; chunk < dataMiB; chunk++) {
      writeSync(fd, randomBytes(1024 * 1024), 0, 1024 * 1024, chunk * stride * 1024 * 1024);
    }
  } finally {
    closeSync(fd);
  }
  const qcow2 = path.join(dir, 'source.qcow2');
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2], process.env);
  await rm(raw);
  return qcow2;
}

async function uploadQcow2(cloud: CloudSession, name: string, file: string): Promise<string> {
  const created = await cloud.request('image', {
    method: 'POST',
    path: '/v2/images',
    body: { name, disk_format: 'qcow2', container_format: 'bare', hw_disk_bus: 'scsi' },
    schema: imageSchema,
  });
  await uploadImageFromFile(cloud, created.body.id, file, {
    algorithms: ['md5'],
    signal: new AbortController().signal,
  });
  return created.body.id;
}

async function deleteBenchImages(cloud: CloudSession): Promise<void> {
  for await (const image of listAllImages(cloud)) {
    if (!image.name?.startsWith(prefix)) continue;
    await cloud.request('image', {
      method: 'DELETE',
      path: `/v2/images/${image.id}`,
      acceptStatus: [204, 404],
    });
  }
}

async function timeManual(id: string, dir: string, name: string, env: NodeJS.ProcessEnv): Promise<number> {
  const cloudArgs = ['--os-cloud', 'stackdoctor-admin'];
  const qcow2 = path.join(dir, 'manual.qcow2');
  const raw = path.join(dir, 'manual.raw');
  const started = performance.now();
  await run('/usr/bin/openstack', ['image', 'save', ...cloudArgs, '--file', qcow2, id], env);
  await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', qcow2, raw], env);
  await run(
    '/usr/bin/openstack',
    [
      'image',
      'create',
      ...cloudArgs,
      '--disk-format',
      'raw',
      '--container-format',
      'bare',
      '--file',
      raw,
      name,
    ],
    env,
  );
  const seconds = (performance.now() - started) / 1000;
  await rm(qcow2, { force: true });
  await rm(raw, { force: true });
  return seconds;
}

async function timeStackdoctor(
  id: string,
  dir: string,
  env: NodeJS.ProcessEnv,
): Promise<{ seconds: number; maxRssMiB: number }> {
  const journal = path.join(dir, 'journal');
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      '--import',
      tsxLoader,
      '--import',
      reportRss,
      path.join(repoRoot, 'src/cli/main.ts'),
      'image',
      'convert',
      id,
      '--apply',
      '--os-cloud',
      'stackdoctor-admin',
      '--journal-dir',
      journal,
      '--tmp-dir',
      dir,
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr += text;
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`stackdoctor image convert exited ${code}: ${stderr}`);
  const maxRssKiB = Number(/maxrss-kib (\d+)/.exec(stderr)?.[1] ?? Number.NaN);
  return { seconds, maxRssMiB: maxRssKiB / 1024 };
}

async function main(): Promise<void> {
  const { dataMiB, virtualGiB } = readArguments(process.argv.slice(2));
  const cloudEnv = readCloudEnv();
  const env = { ...process.env, OS_CLIENT_CONFIG_FILE: cloudEnv.OS_CLIENT_CONFIG_FILE, NO_COLOR: '1' };
  const config = await resolveCloudConfig({
    cloudName: 'stackdoctor-admin',
    env: { OS_CLIENT_CONFIG_FILE: cloudEnv.OS_CLIENT_CONFIG_FILE },
    cwd: tmpdir(),
    homeDir: tmpdir(),
  });
  const cloud = await openSession(config, { log: silentLogger });
  const rows: string[] = [];
  try {
    await deleteBenchImages(cloud);
    for (const data of dataMiB) {
      const dir = await mkdtemp(path.join(tmpdir(), 'sd-bench-convert-'));
      try {
        const qcow2 = await makeQcow2(dir, data, virtualGiB);
        const { size } = await stat(qcow2);
        const id = await uploadQcow2(cloud, `${prefix}${data}`, qcow2);
        await rm(qcow2);
        const manual = await timeManual(id, dir, `${prefix}${data}-manual`, env);
        const ours = await timeStackdoctor(id, dir, env);
        const row =
          `| ${virtualGiB} GiB | ${data} MiB | ${(size / 1024 ** 2).toFixed(0)} MiB | ${manual.toFixed(1)} s | ` +
          `${ours.seconds.toFixed(1)} s | ${(ours.seconds / manual).toFixed(2)} | ${ours.maxRssMiB.toFixed(0)} MiB |`;
        rows.push(row);
        process.stdout.write(`${row}\n`);
      } finally {
        await rm(dir, { recursive: true, force: true });
        await deleteBenchImages(cloud);
      }
    }
  } finally {
    await cloud.close();
  }
  process.stdout.write(
    `\n| virtual | data | qcow2 | manual (save + convert + create) | stackdoctor image convert | ratio | stackdoctor peak RSS |\n|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
  );
}

await main();
