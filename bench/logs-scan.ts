/**
 * Log scan throughput and memory: the full signature catalogue against `grep -F -f <literals>` on the same
 * generated files, in the same run.
 *
 *   node --import tsx bench/logs-scan.ts [--size-mb N]...   (default: --size-mb 256 --size-mb 1024)
 *
 * Each size gets its own temp dir (deleted afterwards) of kolla-style `<host>/nova/nova-compute.log` files:
 * oslo.log noise with one catalogue example line per 10,000 lines. Our scan runs in a child process so its
 * peak RSS is its own; target: ≥ 1/3 of grep's throughput, peak RSS flat in the data size.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { scanLogs } from '../src/logs/scan.js';
import { logSignatures } from '../src/logs/signatures/index.js';

const hosts = ['ctl1', 'ctl2', 'cmp1', 'cmp2'];
const signatureEvery = 10_000;
const loggers = [
  'nova.compute.manager',
  'oslo_messaging._drivers.impl_rabbit',
  'nova.scheduler.host_manager',
  'keystonemiddleware.auth_token',
  'nova.osapi_compute.wsgi.server',
  'placement.requestlog',
  'oslo_concurrency.lockutils',
];
const messages = [
  (i: number) =>
    `[instance: 44c356ef-edd0-43a3-bd46-${String(i % 1e12).padStart(12, '0')}] During sync_power_state the instance has a pending task (spawning). Skip.`,
  () => 'Running periodic task ComputeManager._poll_rebooting_instances run_periodic_tasks',
  (i: number) =>
    `10.0.${i % 250}.${i % 200} "GET /v2.1/servers/detail?all_tenants=True HTTP/1.1" status: 200 len: ${1000 + (i % 9000)} time: 0.${String(i % 1e6).padStart(6, '0')}`,
  () =>
    'Acquiring lock "compute_resources" by "nova.compute.resource_tracker.ResourceTracker._update_available_resource"',
  (i: number) =>
    `Lock "compute_resources" released by "nova.compute.resource_tracker.ResourceTracker._update_available_resource" :: held 0.${i % 1000}s`,
];
const levels = ['DEBUG', 'INFO', 'INFO', 'WARNING'];
const examples = logSignatures.flatMap((s) => s.examples);

function formatTimestamp(i: number): string {
  const seconds = Math.floor(i / 50);
  const hh = String(Math.floor(seconds / 3600) % 24).padStart(2, '0');
  const mm = String(Math.floor(seconds / 60) % 60).padStart(2, '0');
  const ss = String(seconds % 60).padStart(2, '0');
  return `2024-05-01 ${hh}:${mm}:${ss}.${String(i % 1000).padStart(3, '0')}`;
}

async function writeLogFile(
  path: string,
  bytes: number,
  firstLine: number,
): Promise<{ lines: number; signatures: number }> {
  const out = createWriteStream(path);
  let written = 0;
  let line = firstLine;
  let signatures = 0;
  while (written < bytes) {
    const parts: string[] = [];
    let blockBytes = 0;
    while (blockBytes < 1 << 20) {
      let text: string;
      if (line % signatureEvery === signatureEvery - 1) {
        text = examples[signatures % examples.length] ?? '';
        signatures += 1;
      } else {
        const message = messages[line % messages.length]?.(line) ?? '';
        text = `${formatTimestamp(line)} ${1000 + (line % 30000)} ${levels[line % levels.length]} ${loggers[line % loggers.length]} [req-7bc75c8d-a3c2-4961-81d3-91e2cfe2f382 - - - - -] ${message}`;
      }
      parts.push(text);
      blockBytes += text.length + 1;
      line += 1;
    }
    const block = `${parts.join('\n')}\n`;
    written += Buffer.byteLength(block);
    if (!out.write(block)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { lines: line - firstLine, signatures };
}

async function generate(directory: string, sizeMb: number): Promise<{ files: string[]; signatures: number }> {
  const files: string[] = [];
  let signatures = 0;
  for (const [index, host] of hosts.entries()) {
    await mkdir(join(directory, host, 'nova'), { recursive: true });
    const file = join(directory, host, 'nova', 'nova-compute.log');
    const result = await writeLogFile(file, (sizeMb * 1024 * 1024) / hosts.length, index * 1e8);
    signatures += result.signatures;
    files.push(file);
  }
  return { files, signatures };
}

function runGrep(literalsFile: string, files: string[]): Promise<{ seconds: number; matches: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('grep', ['-F', '-c', '-h', '-f', literalsFile, ...files], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', () => {
      const matches = output
        .split('\n')
        .filter(Boolean)
        .reduce((sum, n) => sum + Number(n), 0);
      resolve({ seconds: (performance.now() - started) / 1000, matches });
    });
  });
}

const workerReport = z.object({
  seconds: z.number(),
  bytes: z.number(),
  lines: z.number(),
  maxRssMb: z.number(),
  baselineRssMb: z.number(),
  problems: z.number(),
});
type WorkerReport = z.infer<typeof workerReport>;

function runOurs(directory: string): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const self = fileURLToPath(import.meta.url);
    const child = spawn(process.execPath, ['--import', 'tsx', self, '--worker', directory], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`worker exited ${code}`));
      else resolve(workerReport.parse(JSON.parse(output)));
    });
  });
}

async function runWorker(directory: string): Promise<void> {
  const baselineRssMb = process.resourceUsage().maxRSS / 1024;
  const started = performance.now();
  const result = await scanLogs([directory]);
  const seconds = (performance.now() - started) / 1000;
  const report: WorkerReport = {
    seconds,
    bytes: result.bytesScanned,
    lines: result.findings.reduce((sum, f) => sum + Number(f.evidence.count), 0),
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    baselineRssMb,
    problems: result.problems.length,
  };
  process.stdout.write(JSON.stringify(report));
}

function readSizes(argv: string[]): number[] {
  const sizes: number[] = [];
  for (let i = 0; i < argv.length; i += 1) if (argv[i] === '--size-mb') sizes.push(Number(argv[i + 1]));
  return sizes.length > 0 ? sizes : [256, 1024];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--worker' && argv[1] !== undefined) return runWorker(argv[1]);
  const literals = [...new Set(logSignatures.flatMap((s) => s.literals))];
  console.log(
    `catalogue: ${logSignatures.length} signatures, ${literals.length} literals; node ${process.version}`,
  );
  for (const sizeMb of readSizes(argv)) {
    const directory = await mkdtemp(join(tmpdir(), 'stackdoctor-bench-logs-'));
    try {
      const literalsFile = join(directory, 'literals.txt');
      await writeFile(literalsFile, `${literals.join('\n')}\n`);
      const data = join(directory, 'data');
      const { files, signatures } = await generate(data, sizeMb);
      const mb = (sizeMb * 1024 * 1024) / 1e6;
      for (let round = 1; round <= 3; round += 1) {
        const grep = await runGrep(literalsFile, files);
        const ours = await runOurs(data);
        const grepMbs = mb / grep.seconds;
        const ourMbs = ours.bytes / 1e6 / ours.seconds;
        console.log(
          [
            `size ${sizeMb} MiB round ${round}:`,
            `grep -F -f ${grep.seconds.toFixed(2)} s ${grepMbs.toFixed(0)} MB/s (${grep.matches} lines)`,
            `| stackdoctor ${ours.seconds.toFixed(2)} s ${ourMbs.toFixed(0)} MB/s (${ours.lines} lines, ${ours.problems} problems)`,
            `| ratio ${(ourMbs / grepMbs).toFixed(2)} | peak RSS ${ours.maxRssMb.toFixed(0)} MiB (${ours.baselineRssMb.toFixed(0)} before the scan)`,
            `| injected ${signatures}`,
          ].join(' '),
        );
      }
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }
}

await main();
