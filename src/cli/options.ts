import type { Command } from 'commander';
import type { Severity } from '../core/check.js';
import { UsageError } from '../core/errors.js';
import { type OutputFormat, parseOutputFormat } from '../reporters/format.js';

/** Options every command understands, spelled as the `openstack` CLI spells them. */
export interface CommonOptions {
  osCloud?: string;
  osRegionName?: string;
  osInterface?: string;
  osCacert?: string;
  insecure?: boolean;
  format: OutputFormat;
  column: string[];
  journalDir?: string;
  debug?: boolean;
  color?: boolean;
}

/** Where host checks look: `--host`, an Ansible inventory, Nova's hypervisors, a collected copy, or here. */
export interface HostOptions {
  host: string[];
  inventory?: string;
  limit: string[];
  forks: number;
  root?: string;
  hypervisors?: boolean;
  acceptNewHostKeys?: boolean;
  sshConfig?: string;
}

export interface RunOptions extends CommonOptions, HostOptions {
  failOn: Severity;
  timeout: number;
  concurrency: number;
  set: string[];
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function addCommonOptions(command: Command): Command {
  return command
    .option('--os-cloud <name>', 'cloud from clouds.yaml (default: $OS_CLOUD)')
    .option('--os-region-name <name>', 'region (default: $OS_REGION_NAME or the cloud’s)')
    .option('--os-interface <interface>', 'endpoint interface: public, internal or admin')
    .option('--os-cacert <file>', 'CA bundle to verify TLS with')
    .option('--insecure', 'do not verify TLS certificates')
    .option(
      '-f, --format <format>',
      'output format: table, json, yaml, value (check also: html, prometheus)',
      parseOutputFormat,
      'table',
    )
    .option('-c, --column <name>', 'show only this column (repeatable)', collect, [])
    .option('--journal-dir <dir>', 'journal location (default: $XDG_STATE_HOME/stackdoctor/journal)')
    .option('--no-color', 'never colour the output')
    .option('--debug', 'log API calls (redacted) to stderr');
}

export function addRunOptions(command: Command): Command {
  return addHostOptions(addCommonOptions(command))
    .option('--fail-on <severity>', 'lowest severity that changes the exit code', parseSeverity, 'warning')
    .option('--timeout <seconds>', 'time limit per check', parsePositiveInteger, 300)
    .option('--concurrency <n>', 'checks run at once', parsePositiveInteger, 4)
    .option(
      '--set <name=value>',
      'a check parameter (repeatable; see `stackdoctor explain CHECK`)',
      collect,
      [],
    );
}

export function addHostOptions(command: Command): Command {
  return command
    .option(
      '--host <[user@]name[:port]>',
      'a host for host checks (repeatable; default: this machine)',
      collect,
      [],
    )
    .option('-i, --inventory <file>', 'Ansible inventory (INI or YAML), as kolla-ansible and OSISM use')
    .option(
      '--limit <pattern>',
      'inventory hosts or groups, as ansible --limit takes them (repeatable)',
      collect,
      [],
    )
    .option('--hypervisors', 'host checks look at the hypervisors Nova reports')
    .option('--forks <n>', 'hosts worked on at once', parsePositiveInteger, 10)
    .option('--root <dir>', "a collected copy of one host's files: read only, commands and writes refused")
    .option('--ssh-config <file>', 'ssh -F file (default: ~/.ssh/config)')
    .option(
      '--accept-new-host-keys',
      'trust host keys seen for the first time (recorded); changed keys are still refused',
    );
}

export function parseSeverity(value: string): Severity {
  if (value === 'critical' || value === 'warning' || value === 'info') return value;
  throw new UsageError(`--fail-on ${value}: choose critical, warning or info`);
}

export function parsePositiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1)
    throw new UsageError(`"${value}" is not a positive whole number`);
  return number;
}

export function parseNonNegativeInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new UsageError(`"${value}" is not a whole number ≥ 0`);
  return number;
}

/** `--set a=b --set c=d` → { a: 'b', c: 'd' }. */
export function parseParameters(pairs: readonly string[]): Record<string, string> {
  const parameters: Record<string, string> = {};
  for (const pair of pairs) {
    const separator = pair.indexOf('=');
    if (separator <= 0) throw new UsageError(`--set ${pair}: expected NAME=VALUE`);
    parameters[pair.slice(0, separator)] = pair.slice(separator + 1);
  }
  return parameters;
}
