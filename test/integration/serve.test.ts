import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { adminCloud, readCloudEnv, repoRoot } from '../support/integration.js';

/**
 * `stackdoctor serve` against the local cloud, looked at by a real browser (Debian's Chromium, headless).
 */
const scratch = mkdtempSync(path.join(os.tmpdir(), 'sd-serve-'));
let child: ChildProcess;
let baseUrl: string;

async function waitForUrl(stderr: () => string, deadline: number): Promise<string> {
  for (;;) {
    const match = /serving (http:\/\/\S+\/)/.exec(stderr());
    if (match?.[1]) return match[1];
    if (Date.now() > deadline) throw new Error(`serve did not start: ${stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function waitForHealthy(deadline: number): Promise<void> {
  for (;;) {
    const response = await fetch(`${baseUrl}healthz`).catch(() => undefined);
    if (response?.status === 200) return;
    if (Date.now() > deadline) throw new Error('the first sweep did not finish');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function chromium(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${path.join(scratch, 'profile')}`,
        ...args,
      ],
      { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => (error ? reject(new Error(`chromium failed: ${stderr}`)) : resolve(stdout)),
    );
  });
}

before(async () => {
  const env = readCloudEnv();
  let stderr = '';
  child = spawn(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      path.join(repoRoot, 'src/cli/main.ts'),
      'serve',
      'image/os-type',
      '--os-cloud',
      adminCloud,
      '--listen',
      '127.0.0.1:0',
      '--interval',
      '3600',
      '--set',
      'image=00000000-0000-0000-0000-000000000000',
      '--journal-dir',
      path.join(scratch, 'journal'),
    ],
    {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: scratch,
        OS_CLIENT_CONFIG_FILE: env.OS_CLIENT_CONFIG_FILE ?? '',
      },
    },
  );
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  baseUrl = await waitForUrl(() => stderr, Date.now() + 120_000);
  await waitForHealthy(Date.now() + 180_000);
});

after(async () => {
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(scratch, { recursive: true, force: true });
});

describe('stackdoctor serve', () => {
  it('serves Prometheus metrics of the last sweep', async () => {
    const response = await fetch(`${baseUrl}metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(
      text,
      /^stackdoctor_check_status\{cloud="stackdoctor-admin",region="RegionOne",check="image\/os-type",status="ok"\} 1$/m,
    );
  });

  it('serves the versioned JSON document', async () => {
    const report = z
      .object({ schema: z.string(), checks: z.array(z.object({ id: z.string() })) })
      .parse(await (await fetch(`${baseUrl}api/v1/report`)).json());
    assert.equal(report.schema, 'stackdoctor.check/v1');
    assert.deepEqual(
      report.checks.map((check: { id: string }) => check.id),
      ['image/os-type'],
    );
  });

  it('is read-only', async () => {
    assert.equal((await fetch(baseUrl, { method: 'POST' })).status, 405);
  });

  it('renders a dashboard that a real browser shows', async () => {
    const dom = await chromium(['--dump-dom', baseUrl]);
    assert.match(dom, /stackdoctor report: stackdoctor-admin/);
    assert.match(dom, /<td>image\/os-type<\/td><td>ok<\/td>/);
    const screenshot = path.join(scratch, 'dashboard.png');
    await chromium([`--screenshot=${screenshot}`, '--window-size=1200,600', baseUrl]);
    assert.ok(statSync(screenshot).size > 5000, 'a non-trivial screenshot');
    assert.deepEqual([...readFileSync(screenshot).subarray(1, 4)], [0x50, 0x4e, 0x47]);
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
