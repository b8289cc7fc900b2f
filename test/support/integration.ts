import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../src/core/logger.js';
import { resolveCloudConfig } from '../../src/openstack/config.js';
import { openSession } from '../../src/openstack/session.js';
import type { CloudSession } from '../../src/openstack/types.js';
import { type CliResult, runCliProcess } from './cli.js';

export { repoRoot } from './cli.js';

export const adminCloud = 'stackdoctor-admin';
export const memberCloud = 'stackdoctor-member';

/**
 * The local cloud's facts, written by `npm run cloud:up`. Integration tests fail (never skip) without it:
 * CI always starts the cloud first, so a missing file is a broken setup.
 */
export function readCloudEnv(): Record<string, string> {
  const directory = process.env.STACKDOCTOR_CLOUD_DIR ?? '/var/tmp/stackdoctor-cloud';
  const file = path.join(directory, 'cloud.env');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`the local cloud is not up (${file} is missing): run \`npm run cloud:up\` first`);
  }
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^(?:export\s+)?([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1]!] = match[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  return env;
}

export async function openCloud(cloudName = adminCloud): Promise<CloudSession> {
  const env = readCloudEnv();
  const config = await resolveCloudConfig({
    cloudName,
    env: { OS_CLIENT_CONFIG_FILE: env.OS_CLIENT_CONFIG_FILE },
    cwd: os.tmpdir(),
    homeDir: os.tmpdir(),
  });
  return openSession(config, { log: silentLogger });
}

/** A fresh journal directory per test file, so runs of different tests never mix. */
export function temporaryJournalDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'sd-journal-'));
}

/** Runs the real CLI as an operator would, against the local cloud's clouds.yaml. */
export function runCli(args: readonly string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
  const cloudEnv = readCloudEnv();
  return runCliProcess(args, {
    cwd: os.tmpdir(),
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: os.tmpdir(),
      NO_COLOR: '1',
      OS_CLIENT_CONFIG_FILE: cloudEnv.OS_CLIENT_CONFIG_FILE ?? '',
      ...extraEnv,
    },
  });
}
