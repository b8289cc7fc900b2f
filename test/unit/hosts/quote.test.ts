import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { joinShellCommand, quoteShellArg } from '../../../src/hosts/quote.js';

/** What a shell makes of the joined command: the argv it would run, read back NUL-separated. */
function parseWithRealShell(argv: string[], shell = 'sh'): string[] {
  const output = execFileSync(shell, ['-c', `printf '%s\\0' ${joinShellCommand(argv)}`]);
  const parts = output.toString('utf8').split('\0');
  parts.pop();
  return parts;
}

const trickyArguments = [
  'plain',
  'with space',
  '  leading and trailing  ',
  "single'quote",
  "''",
  'double"quote',
  '$HOME',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${...} is what this test sends
  '${PATH}',
  '$(id -u)',
  '`id -u`',
  'back\\slash\\',
  'new\nline',
  'tab\there',
  '; echo injected',
  '&& echo injected',
  '| cat',
  '> /tmp/never',
  '*',
  '?',
  '~',
  '~root',
  '=ls',
  '-n',
  '--flag=value',
  '!event',
  '#not-a-comment',
  '',
  'ünïcødé ✓',
  '{a,b}',
];

test('every tricky argument reaches the command unchanged through a real sh -c (dash)', () => {
  assert.deepEqual(parseWithRealShell(trickyArguments), trickyArguments);
});

test('and through bash, the usual login shell that sshd hands the command to', () => {
  assert.deepEqual(parseWithRealShell(trickyArguments, 'bash'), trickyArguments);
});

test('substitutions and separators in arguments run nothing', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'quote-'));
  try {
    const marker = path.join(dir, 'pwned');
    const attempts = [
      `$(touch ${marker})`,
      `\`touch ${marker}\``,
      `; touch ${marker}`,
      `' ; touch ${marker} ; '`,
      `"; touch ${marker}; "`,
      `\ntouch ${marker}\n`,
      `x' && touch ${marker} #`,
    ];
    assert.deepEqual(parseWithRealShell(attempts), attempts);
    assert.equal(existsSync(marker), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('simple words stay readable, everything else is single-quoted', () => {
  assert.equal(quoteShellArg('/etc/modprobe.d/kvm.conf'), '/etc/modprobe.d/kvm.conf');
  assert.equal(quoteShellArg('nested=1'), 'nested=1');
  assert.equal(quoteShellArg('=ls'), "'=ls'");
  assert.equal(quoteShellArg("it's"), `'it'\\''s'`);
  assert.equal(quoteShellArg(''), "''");
});

test('a NUL byte cannot be passed and an empty command is refused', () => {
  assert.throws(() => quoteShellArg('a\0b'), /NUL/);
  assert.throws(() => joinShellCommand([]), /empty command/);
});
