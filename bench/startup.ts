/**
 * Start-up time of the built CLI, side by side with the `openstack` CLI in the same run.
 * Usage: npm run build && node --import tsx bench/startup.ts [--runs 21]
 * Target (issue 2): `stackdoctor --version` and `stackdoctor list` ≤ 150 ms median and ≥ 5× faster than `openstack --version`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const runsFlag = process.argv.indexOf('--runs');
const runs = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 21;
const root = path.resolve(import.meta.dirname, '..');
const cli = path.join(root, 'dist/cli/main.js');
if (!existsSync(cli)) throw new Error('build first: npm run build');

function medianMs(command: string, args: string[]): number {
  const samples: number[] = [];
  for (let run = 0; run < runs; run++) {
    const started = process.hrtime.bigint();
    const result = spawnSync(command, args, { stdio: 'ignore' });
    if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}`);
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

const rows: [string, number][] = [
  ['stackdoctor --version', medianMs(process.execPath, [cli, '--version'])],
  ['stackdoctor list', medianMs(process.execPath, [cli, 'list'])],
];
const openstack = spawnSync('openstack', ['--version'], { stdio: 'ignore' }).status === 0;
if (openstack) rows.push(['openstack --version', medianMs('openstack', ['--version'])]);
const reference = rows.find(([name]) => name === 'openstack --version')?.[1];
console.log(`median of ${runs} runs each`);
for (const [name, ms] of rows) {
  const ratio =
    reference && !name.startsWith('openstack')
      ? `  (${(reference / ms).toFixed(1)}× faster than openstack --version)`
      : '';
  console.log(`${name.padEnd(24)} ${ms.toFixed(1).padStart(8)} ms${ratio}`);
}
if (!openstack)
  console.log('openstack CLI not installed: apt-get install python3-openstackclient for the comparison');
