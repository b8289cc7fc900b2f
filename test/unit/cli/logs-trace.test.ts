import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot, runCliProcess } from '../../support/cli.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'sd-logs-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const env = { PATH: process.env.PATH ?? '', HOME: scratch, NO_COLOR: '1' };

describe('stackdoctor logs', () => {
  it('finds the operators’ RPCVersionCapError and exits critical', async () => {
    const result = await runCliProcess(
      ['logs', path.join(repoRoot, 'test/unit/fixtures/logs'), '-f', 'json'],
      { cwd: scratch, env },
    );
    assert.equal(result.code, 2, result.stderr);
    const document = JSON.parse(result.stdout);
    assert.equal(document.schema, 'stackdoctor.logs/v1');
    const cap = document.findings.find(
      (finding: { signature: string }) => finding.signature === 'nova-rpc-version-cap',
    );
    assert.equal(cap.related_check, 'compute/service-versions');
    assert.equal(cap.evidence.count, 1);
  });

  it('exits 0 on clean logs and lists a missing path as a problem, not a failure', async () => {
    writeFileSync(
      path.join(scratch, 'clean.log'),
      '2024-05-01 12:00:00.000 7 INFO nova.compute.manager [-] all good\n',
    );
    const result = await runCliProcess(
      ['logs', path.join(scratch, 'clean.log'), path.join(scratch, 'missing.log'), '-f', 'json'],
      {
        cwd: scratch,
        env,
      },
    );
    assert.equal(result.code, 0, result.stderr);
    const document = JSON.parse(result.stdout);
    assert.deepEqual(document.findings, []);
    assert.deepEqual(
      document.problems.map((problem: { kind: string }) => problem.kind),
      ['not-found'],
    );
  });
});

describe('stackdoctor trace', () => {
  it('says a process blocked on a pipe is waiting in read', async () => {
    // A uniquely named process that blocks reading a pipe nobody writes to.
    const marker = `sd-trace-cli-${process.pid}`;
    const child = spawn(
      '/usr/bin/python3',
      ['-c', `import sys; sys.argv.append("${marker}"); sys.stdin.read()`, marker],
      {
        stdio: ['pipe', 'ignore', 'ignore'],
      },
    );
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const result = await runCliProcess(['trace', marker, '--seconds', '2', '-f', 'json'], {
        cwd: scratch,
        env,
      });
      assert.equal(result.code, 0, result.stderr);
      const document = JSON.parse(result.stdout);
      assert.equal(document.processes.length, 1);
      assert.equal(document.processes[0].process.pid, child.pid);
      assert.equal(document.processes[0].trace.verdict.kind, 'blocked');
      assert.match(document.processes[0].trace.verdict.text, /read/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a pattern that matches nothing says so', async () => {
    const result = await runCliProcess(['trace', 'no-such-service-xyz-123', '--describe-only'], {
      cwd: scratch,
      env,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'no matching process\n');
  });
});
