import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import type { HostSpec } from './host.js';

/**
 * An Ansible inventory as kolla-ansible and OSISM operators keep it: groups of hosts, child groups and
 * variables. Only what reaching a host needs is interpreted (`ansible_host`, `ansible_user`, `ansible_port`);
 * other variables are kept as text.
 */
export interface Inventory {
  source: string;
  /** Host name → variables set on the host itself, in declaration order. */
  hosts: Map<string, Record<string, string>>;
  groups: Map<string, InventoryGroup>;
}

export interface InventoryGroup {
  hosts: Set<string>;
  children: Set<string>;
  vars: Record<string, string>;
}

export function createInventory(source: string): Inventory {
  const inventory: Inventory = { source, hosts: new Map(), groups: new Map() };
  ensureGroup(inventory, 'all');
  ensureGroup(inventory, 'ungrouped');
  return inventory;
}

/** Reads an inventory file; `.yml`, `.yaml` and `.json` are YAML (as Ansible's yaml plugin), anything else INI. */
export async function loadInventory(
  file: string,
  read: (file: string) => Promise<string | null>,
): Promise<Inventory> {
  const text = await read(file);
  if (text === null) throw new ConfigError(`inventory ${file} does not exist`);
  return /\.(ya?ml|json)$/i.test(file) ? parseYamlInventory(text, file) : parseIniInventory(text, file);
}

export function parseIniInventory(text: string, source: string): Inventory {
  const inventory = createInventory(source);
  let section: { group: string; kind: 'hosts' | 'vars' | 'children' } = { group: 'ungrouped', kind: 'hosts' };
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    const where = `${source}:${index + 1}`;
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[([^\]:\s]+)(?::(\w+))?\]$/.exec(line);
    if (header !== null) {
      const [, group, modifier] = header;
      if (modifier !== undefined && modifier !== 'vars' && modifier !== 'children') {
        throw new ConfigError(
          `${where}: unknown section modifier :${modifier} (expected :vars or :children)`,
        );
      }
      section = { group: group!, kind: modifier === 'vars' || modifier === 'children' ? modifier : 'hosts' };
      ensureGroup(inventory, section.group);
      return;
    }
    if (line.startsWith('[')) throw new ConfigError(`${where}: malformed section header ${line}`);
    const group = ensureGroup(inventory, section.group);
    if (section.kind === 'children') {
      const child = splitIniWords(line, where)[0]!;
      ensureGroup(inventory, child);
      group.children.add(child);
      return;
    }
    if (section.kind === 'vars') {
      const equals = line.indexOf('=');
      if (equals < 1) throw new ConfigError(`${where}: expected key=value in [${section.group}:vars]`);
      group.vars[line.slice(0, equals).trim()] = unquote(line.slice(equals + 1).trim());
      return;
    }
    const [pattern, ...assignments] = splitIniWords(line, where);
    const vars: Record<string, string> = {};
    for (const assignment of assignments) {
      const equals = assignment.indexOf('=');
      if (equals < 1)
        throw new ConfigError(`${where}: expected key=value after the host name, got ${assignment}`);
      vars[assignment.slice(0, equals)] = assignment.slice(equals + 1);
    }
    const { names, port } = splitHostPattern(pattern!, where);
    for (const name of names) {
      addHost(inventory, section.group, name, port === undefined ? vars : { ansible_port: port, ...vars });
    }
  });
  return inventory;
}

const scalarSchema = z.union([z.string(), z.number(), z.boolean()]);
const varsSchema = z.record(z.string(), z.unknown()).nullish();
interface YamlGroup {
  hosts?: Record<string, Record<string, unknown> | null | undefined> | null | undefined;
  vars?: Record<string, unknown> | null | undefined;
  children?: Record<string, YamlGroup | null | undefined> | null | undefined;
}
const yamlGroupSchema: z.ZodType<YamlGroup> = z.lazy(() =>
  z.object({
    hosts: z.record(z.string(), varsSchema).nullish(),
    vars: varsSchema,
    children: z.record(z.string(), yamlGroupSchema.nullish()).nullish(),
  }),
);
const yamlInventorySchema = z.record(z.string(), yamlGroupSchema.nullish());

export function parseYamlInventory(text: string, source: string): Inventory {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`inventory ${source} is not valid YAML: ${firstLine(error)}`, { cause: error });
  }
  const parsed = yamlInventorySchema.safeParse(document ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(
      `inventory ${source}: ${issue?.message ?? 'unexpected structure'} at ${issue?.path.join('.') ?? '(top)'}`,
      { hint: 'expected group: {hosts: {NAME: {vars}}, vars: {...}, children: {GROUP: ...}}' },
    );
  }
  const inventory = createInventory(source);
  const visit = (name: string, group: YamlGroup | null | undefined, parent: string | undefined): void => {
    const target = ensureGroup(inventory, name);
    if (parent !== undefined) ensureGroup(inventory, parent).children.add(name);
    for (const [key, value] of Object.entries(group?.vars ?? {})) target.vars[key] = scalarText(value);
    for (const [pattern, hostVars] of Object.entries(group?.hosts ?? {})) {
      const vars: Record<string, string> = {};
      for (const [key, value] of Object.entries(hostVars ?? {})) vars[key] = scalarText(value);
      const { names, port } = splitHostPattern(pattern, source);
      for (const host of names)
        addHost(inventory, name, host, port === undefined ? vars : { ansible_port: port, ...vars });
    }
    for (const [child, childGroup] of Object.entries(group?.children ?? {})) visit(child, childGroup, name);
  };
  for (const [name, group] of Object.entries(parsed.data)) visit(name, group, undefined);
  return inventory;
}

/** Every host in a group, its children included, in the order hosts were declared. */
export function listGroupHosts(inventory: Inventory, group: string): string[] {
  if (group === 'all') return [...inventory.hosts.keys()];
  const members = new Set<string>();
  const seen = new Set<string>();
  const collect = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const entry = inventory.groups.get(name);
    if (entry === undefined) return;
    for (const host of entry.hosts) members.add(host);
    for (const child of entry.children) collect(child);
  };
  collect(group);
  return [...inventory.hosts.keys()].filter((host) => members.has(host));
}

/**
 * A host's variables as Ansible merges them: `all`, then each group holding the host from the outermost to
 * the innermost (a child group overrides its parent; siblings in name order), then the host's own.
 */
export function resolveHostVars(inventory: Inventory, host: string): Record<string, string> {
  const depth = computeGroupDepths(inventory);
  const holding = [...inventory.groups.keys()]
    .filter((group) => group !== 'all' && listGroupHosts(inventory, group).includes(host))
    .sort((a, b) => (depth.get(a) ?? 0) - (depth.get(b) ?? 0) || a.localeCompare(b));
  const merged: Record<string, string> = { ...inventory.groups.get('all')?.vars };
  for (const group of holding) Object.assign(merged, inventory.groups.get(group)?.vars);
  Object.assign(merged, inventory.hosts.get(host));
  return merged;
}

/** How to reach an inventory host over ssh. */
export function describeInventoryHost(inventory: Inventory, host: string): HostSpec {
  const vars = resolveHostVars(inventory, host);
  const pick = (...keys: string[]): string | undefined => {
    for (const key of keys) {
      const value = vars[key];
      if (value !== undefined && value !== '')
        return expandVariableReferences(value, vars, inventory.source, host, key);
    }
    return undefined;
  };
  const portText = pick('ansible_port', 'ansible_ssh_port');
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new ConfigError(
      `inventory ${inventory.source}: ansible_port of ${host} is not a port: ${portText}`,
    );
  }
  return {
    name: host,
    address: pick('ansible_host', 'ansible_ssh_host') ?? host,
    user: pick('ansible_user', 'ansible_ssh_user'),
    port,
    local: vars.ansible_connection === 'local',
  };
}

/**
 * Ansible's host patterns as `--limit` takes them: names of groups or hosts, `all`/`*`, globs, `~regex`,
 * `!excluded` and `&required`, separated by `,` or `:`. Plain terms are united first, then `&` terms
 * intersect and `!` terms remove. A term that matches nothing is an error: a typo must not silently shrink
 * (or, with `!`, widen) what a fix touches.
 */
export function selectInventoryHosts(inventory: Inventory, patterns: readonly string[]): string[] {
  const terms = patterns.flatMap((pattern) => pattern.split(/[,:]/)).filter((term) => term.trim() !== '');
  const union = new Set<string>();
  const required: Set<string>[] = [];
  const excluded = new Set<string>();
  for (const rawTerm of terms.length === 0 ? ['all'] : terms) {
    const term = rawTerm.trim();
    const operator = term.startsWith('!') || term.startsWith('&') ? term[0] : '';
    const matched = matchTerm(inventory, operator === '' ? term : term.slice(1));
    if (matched.size === 0) {
      throw new ConfigError(`--limit ${term} matches no host or group in ${inventory.source}`);
    }
    if (operator === '!') for (const host of matched) excluded.add(host);
    else if (operator === '&') required.push(matched);
    else for (const host of matched) union.add(host);
  }
  if (union.size === 0) for (const host of inventory.hosts.keys()) union.add(host);
  return [...inventory.hosts.keys()].filter(
    (host) => union.has(host) && !excluded.has(host) && required.every((set) => set.has(host)),
  );
}

function matchTerm(inventory: Inventory, term: string): Set<string> {
  if (term === 'all' || term === '*') return new Set(inventory.hosts.keys());
  const matches = (name: string): boolean => {
    if (term.startsWith('~')) return new RegExp(term.slice(1)).test(name);
    if (/[*?]/.test(term)) return globToRegExp(term).test(name);
    return name === term;
  };
  const result = new Set<string>();
  for (const group of inventory.groups.keys()) {
    if (matches(group)) for (const host of listGroupHosts(inventory, group)) result.add(host);
  }
  for (const host of inventory.hosts.keys()) if (matches(host)) result.add(host);
  return result;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${body}$`);
}

/**
 * `compute[01:03]` → compute01…compute03 (the start's width is kept), `node-[a:c]` → node-a…node-c, with an
 * optional stride `[0:10:2]`; several ranges in one name multiply. `host:2222` sets the port.
 */
export function splitHostPattern(
  pattern: string,
  where: string,
): { names: string[]; port: string | undefined } {
  const portMatch = /^(.+):(\d+)$/.exec(pattern);
  const head = portMatch?.[1];
  // a colon left outside the ranges means an IPv6 address, whose last group is not a port
  if (head === undefined || head.replace(/\[[^\]]*\]/g, '').includes(':')) {
    return { names: expandRanges(pattern, where), port: undefined };
  }
  return { names: expandRanges(head, where), port: portMatch?.[2] };
}

function expandRanges(pattern: string, where: string): string[] {
  const match = /\[([^\]:]+):([^\]:]+)(?::(\d+))?\]/.exec(pattern);
  if (match === null) return [pattern];
  const [whole, start, end, strideText] = match;
  const before = pattern.slice(0, match.index);
  const after = pattern.slice(match.index + whole.length);
  const stride = strideText === undefined ? 1 : Number(strideText);
  if (stride < 1) throw new ConfigError(`${where}: range ${whole} has a zero stride`);
  const values: string[] = [];
  if (/^\d+$/.test(start!) && /^\d+$/.test(end!)) {
    const width = start!.startsWith('0') ? start!.length : 0;
    for (let value = Number(start); value <= Number(end); value += stride) {
      values.push(String(value).padStart(width, '0'));
    }
  } else if (/^[a-z]$/i.test(start!) && /^[a-z]$/i.test(end!)) {
    for (let code = start!.charCodeAt(0); code <= end!.charCodeAt(0); code += stride) {
      values.push(String.fromCharCode(code));
    }
  } else {
    throw new ConfigError(`${where}: range ${whole} is neither numeric nor single letters`);
  }
  if (values.length === 0) throw new ConfigError(`${where}: range ${whole} is empty`);
  return values.flatMap((value) => expandRanges(`${before}${value}${after}`, where));
}

/**
 * Only `{{ name }}` pointing at another variable of the same host is understood; anything more is Jinja,
 * which we do not evaluate — better to say so than to ssh to a string with braces in it.
 */
function expandVariableReferences(
  value: string,
  vars: Record<string, string>,
  source: string,
  host: string,
  key: string,
): string {
  let current = value;
  for (let round = 0; round < 10 && current.includes('{{'); round += 1) {
    current = current.replace(/\{\{\s*([A-Za-z_]\w*)\s*\}\}/g, (whole, name: string) => vars[name] ?? whole);
  }
  if (current.includes('{{') || current.includes('{%')) {
    throw new ConfigError(
      `inventory ${source}: ${key} of ${host} is a template stackdoctor cannot evaluate: ${value}`,
      {
        hint: 'give the address literally in the inventory, or name the host with --host',
      },
    );
  }
  return current;
}

function addHost(inventory: Inventory, group: string, host: string, vars: Record<string, string>): void {
  const existing = inventory.hosts.get(host);
  inventory.hosts.set(host, { ...existing, ...vars });
  ensureGroup(inventory, group).hosts.add(host);
  if (group !== 'ungrouped') inventory.groups.get('ungrouped')?.hosts.delete(host);
}

function ensureGroup(inventory: Inventory, name: string): InventoryGroup {
  let group = inventory.groups.get(name);
  if (group === undefined) {
    group = { hosts: new Set(), children: new Set(), vars: {} };
    inventory.groups.set(name, group);
  }
  return group;
}

/** Depth below `all`: a child group's variables override its parent's. */
function computeGroupDepths(inventory: Inventory): Map<string, number> {
  const depths = new Map<string, number>();
  const walk = (name: string, depth: number, path: Set<string>): void => {
    if (path.has(name)) return;
    if ((depths.get(name) ?? -1) >= depth) return;
    depths.set(name, depth);
    const next = new Set(path).add(name);
    for (const child of inventory.groups.get(name)?.children ?? []) walk(child, depth + 1, next);
  };
  for (const name of inventory.groups.keys()) if (name !== 'all') walk(name, 1, new Set());
  return depths;
}

/** Splits an INI line into words, honouring quotes, stopping at a `#` comment. */
function splitIniWords(line: string, where: string): string[] {
  const words: string[] = [];
  let current = '';
  let quote: string | null = null;
  let started = false;
  for (const char of line) {
    if (quote !== null) {
      if (char === quote) quote = null;
      else current += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      started = true;
    } else if (/\s/.test(char)) {
      if (started) words.push(current);
      current = '';
      started = false;
    } else if (char === '#' && !started) {
      break;
    } else {
      current += char;
      started = true;
    }
  }
  if (quote !== null) throw new ConfigError(`${where}: unterminated quote`);
  if (started) words.push(current);
  return words;
}

function unquote(value: string): string {
  const match = /^(["'])(.*)\1$/.exec(value);
  return match?.[2] ?? value;
}

function scalarText(value: unknown): string {
  const parsed = scalarSchema.safeParse(value);
  // structured variables (lists, dicts) matter to Ansible roles, not to reaching a host
  return parsed.success ? String(parsed.data) : JSON.stringify(value ?? null);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}
