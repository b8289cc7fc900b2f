import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { parseCmdline, parseProcessDump, parseProcStat, processDumpScript } from '../../../src/hosts/proc.js';

const hex = (text: string) => Buffer.from(text, 'utf8').toString('hex').replace(/(..)/g, ' $1');

test('stat: the name is everything between the first ( and the last )', () => {
  assert.deepEqual(parseProcStat('1 (systemd) S 0 1 1 0 -1'), { pid: 1, comm: 'systemd', ppid: 0 });
  assert.deepEqual(parseProcStat('9 (a) b (c)) R 3 9 9'), { pid: 9, comm: 'a) b (c)', ppid: 3 });
  assert.equal(parseProcStat('garbage'), null);
});

test('cmdline: NUL-separated arguments; empty for kernel threads', () => {
  assert.deepEqual(
    parseCmdline('python3\0/usr/bin/mistral-api\0--config-file\0/etc/mistral/mistral.conf\0'),
    ['python3', '/usr/bin/mistral-api', '--config-file', '/etc/mistral/mistral.conf'],
  );
  assert.deepEqual(parseCmdline(''), []);
});

test('the remote dump: an argument cannot forge another process entry', () => {
  const forged = 'x\n@666\n 41 41\n';
  const dump = [
    '    1     0     0 systemd',
    '  500     1  1000 name with spaces',
    '  501     1     0 gone',
    '\n@@\n',
    `@1\n${hex('/sbin/init\0')}\n`,
    `@500\n${hex(`worker\0${forged}\0`)}\n`,
    '@501\n',
  ].join('\n');
  assert.deepEqual(parseProcessDump(dump), [
    { pid: 1, ppid: 0, uid: 0, comm: 'systemd', cmdline: ['/sbin/init'] },
    { pid: 500, ppid: 1, uid: 1000, comm: 'name with spaces', cmdline: ['worker', forged] },
    { pid: 501, ppid: 1, uid: 0, comm: 'gone', cmdline: [] },
  ]);
});

test('the remote dump script, run here by sh, lists this test process with its arguments', () => {
  const output = execFileSync('sh', ['-c', processDumpScript], { maxBuffer: 64 * 1024 * 1024 }).toString(
    'utf8',
  );
  const self = parseProcessDump(output).find((entry) => entry.pid === process.pid);
  assert.ok(self !== undefined);
  assert.equal(self.ppid, process.ppid);
  assert.ok(self.cmdline.some((arg) => arg.endsWith('proc.test.ts')));
});
