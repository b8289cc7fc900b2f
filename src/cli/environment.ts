import os from 'node:os';
import path from 'node:path';
import type { CommonOptions } from './options.js';

/** Everything the CLI takes from the process; the layers below get values, never `process`. */
export interface CliEnvironment {
  env: Record<string, string | undefined>;
  cwd: string;
  homeDir: string;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdinIsTty: boolean;
  operator: string;
}

export function processEnvironment(): CliEnvironment {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // Containers without a passwd entry for the uid: the journal still names the host.
  }
  return {
    env: process.env,
    cwd: process.cwd(),
    homeDir: os.homedir(),
    stdout: process.stdout,
    stderr: process.stderr,
    stdinIsTty: Boolean(process.stdin.isTTY),
    operator: `${user}@${os.hostname()}`,
  };
}

export function useColour(options: CommonOptions, environment: CliEnvironment): boolean {
  if (options.color === false) return false;
  const noColor = environment.env.NO_COLOR;
  if (noColor !== undefined && noColor !== '') return false;
  return Boolean(environment.stdout.isTTY);
}

/** `$XDG_STATE_HOME/stackdoctor/journal`, as the XDG base-directory spec places state. */
export function journalDirectory(options: CommonOptions, environment: CliEnvironment): string {
  if (options.journalDir) return path.resolve(environment.cwd, options.journalDir);
  const override = environment.env.STACKDOCTOR_JOURNAL_DIR;
  if (override) return path.resolve(environment.cwd, override);
  const stateHome = environment.env.XDG_STATE_HOME || path.join(environment.homeDir, '.local', 'state');
  return path.join(stateHome, 'stackdoctor', 'journal');
}
