import type { HostProvider } from '../../../../src/core/check.js';
import { forEachHost, type Host, type HostSpec } from '../../../../src/hosts/index.js';

/** A HostProvider over hosts a test made (LocalHosts on fixture trees, a host that cannot be reached). */
export function fixedHosts(hosts: readonly Host[]): HostProvider & { opened: string[] } {
  const byName = new Map(hosts.map((host) => [host.name, host]));
  const opened: string[] = [];
  return {
    opened,
    list: async (): Promise<HostSpec[]> => hosts.map((host) => ({ name: host.name, address: host.name })),
    open: async (spec) => {
      const host = byName.get(spec.name);
      if (host === undefined) throw new Error(`test: no host ${spec.name}`);
      opened.push(spec.name);
      return host;
    },
    forEach: (work) => forEachHost(hosts, work, { forks: 4 }),
  };
}
