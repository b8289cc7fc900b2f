#!/usr/bin/env node
import { version } from './version.js';

// `--version` answers before anything else is loaded: monitoring and wrappers call it often.
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`stackdoctor ${version}\n`);
} else {
  const { runCli } = await import('./program.js');
  process.exitCode = await runCli(args);
}
