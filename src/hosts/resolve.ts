import { UsageError } from '../core/errors.js';
import type { HostSpec } from './host.js';
import { describeInventoryHost, type Inventory, resolveHostVars, selectInventoryHosts } from './inventory.js';

export interface HostSelection {
  /** `--host` values: `NAME`, `USER@NAME`, `NAME:PORT`, `USER@[IPV6]:PORT`. */
  hosts?: readonly string[];
  /** `-i FILE`, already loaded. */
  inventory?: Inventory | undefined;
  /** `--limit` patterns (groups such as `compute`, host names, `!excluded`, …). */
  limit?: readonly string[];
  /** Hypervisor host names as Nova reports them (often fully qualified). */
  hypervisors?: readonly string[];
}

/**
 * Which hosts to look at. Named hosts (`--host`, Nova's hypervisors) define the set, and the inventory only
 * tells how to reach them; without named hosts the inventory's hosts are the set. `--limit` narrows either.
 * An empty answer means "this machine".
 */
export function resolveHosts(selection: HostSelection): HostSpec[] {
  const { inventory, limit } = selection;
  const limited =
    inventory !== undefined && limit !== undefined && limit.length > 0
      ? new Set(selectInventoryHosts(inventory, limit))
      : undefined;
  if (limited === undefined && inventory === undefined && limit !== undefined && limit.length > 0) {
    throw new UsageError('--limit needs an inventory (-i FILE)');
  }

  const named: HostSpec[] = [
    ...(selection.hosts ?? []).map(parseHostArgument),
    ...(selection.hypervisors ?? []).map((name) => ({ name, address: name })),
  ];
  const specs: HostSpec[] = [];
  if (named.length > 0) {
    for (const given of named) {
      const known = inventory === undefined ? undefined : findInventoryHost(inventory, given.name);
      if (limited !== undefined && (known === undefined || !limited.has(known))) continue;
      const fromInventory =
        known === undefined || inventory === undefined ? undefined : describeInventoryHost(inventory, known);
      specs.push({
        name: given.name,
        address: given.address !== given.name ? given.address : (fromInventory?.address ?? given.address),
        user: given.user ?? fromInventory?.user,
        port: given.port ?? fromInventory?.port,
        ...(fromInventory?.local === true ? { local: true } : {}),
      });
    }
  } else if (inventory !== undefined) {
    for (const name of limited ?? selectInventoryHosts(inventory, ['all'])) {
      specs.push(describeInventoryHost(inventory, name));
    }
  }
  const seen = new Set<string>();
  return specs.filter((spec) => !seen.has(spec.name) && seen.add(spec.name));
}

/** `[user@]name[:port]`, with IPv6 addresses in brackets when a port follows. */
export function parseHostArgument(value: string): HostSpec {
  const match = /^(?:([^@\s]+)@)?(\[[^\]\s]+\]|[^:@\s]+|[^@\s]+)(?::(\d+))?$/.exec(value);
  const host = match?.[2];
  if (match === null || host === undefined) throw new UsageError(`--host ${value} is not [user@]name[:port]`);
  const name = host.startsWith('[') ? host.slice(1, -1) : host;
  const port = match[3] === undefined ? undefined : Number(match[3]);
  if (port !== undefined && !(port > 0 && port < 65536))
    throw new UsageError(`--host ${value}: bad port ${match[3]}`);
  return { name, address: name, user: match[1], port };
}

/**
 * Nova names hypervisors by the compute host's own idea of its name, often the FQDN, while inventories
 * often use the short name or list the address as `ansible_host`: try those in that order.
 */
function findInventoryHost(inventory: Inventory, name: string): string | undefined {
  if (inventory.hosts.has(name)) return name;
  // an IP address has no short form
  const short = (value: string) => (/^[\d.]+$|:/.test(value) ? value : (value.split('.')[0] ?? value));
  const names = [...inventory.hosts.keys()];
  return (
    names.find((candidate) => candidate === short(name)) ??
    names.find((candidate) => short(candidate) === short(name)) ??
    names.find((candidate) => resolveHostVars(inventory, candidate).ansible_host === name)
  );
}
