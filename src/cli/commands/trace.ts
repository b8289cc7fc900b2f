import { lookup } from 'node:dns/promises';
import { stringify as stringifyYaml } from 'yaml';
import type { Logger } from '../../core/logger.js';
import type { CloudSession, ServiceType } from '../../openstack/types.js';
import type { RenderOptions } from '../../reporters/format.js';
import type { KnownPeers } from '../../trace/describe.js';
import { createLocalProcSource } from '../../trace/proc-source.js';
import { formatServiceTrace, type ServiceTraceEntry, traceService } from '../../trace/service.js';

export interface TraceOptions {
  seconds: number;
  rawOutput?: string;
  describeOnly?: boolean;
  maxProcesses: number;
}

const catalogServices: readonly ServiceType[] = [
  'identity',
  'compute',
  'placement',
  'image',
  'network',
  'workflowv2',
];

/**
 * The catalog's endpoints as /proc shows peers (`address:port`), so a socket to 10.0.0.5:8780 reads as
 * "placement" even on a kolla port the well-known table does not know.
 */
export async function knownPeersFromCatalog(cloud: CloudSession, log: Logger): Promise<KnownPeers> {
  const peers: Record<string, string> = {};
  for (const service of catalogServices) {
    if (!cloud.hasService(service)) continue;
    const url = new URL(cloud.endpoint(service).url);
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    try {
      for (const { address } of await lookup(url.hostname, { all: true })) {
        peers[address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`] = service;
      }
    } catch {
      log.debug(`cannot resolve ${url.hostname} of the ${service} endpoint; its sockets stay unnamed`);
    }
  }
  return peers;
}

export async function traceLocalService(
  pattern: string,
  options: TraceOptions,
  knownPeers: KnownPeers,
): Promise<ServiceTraceEntry[]> {
  return traceService(createLocalProcSource(), pattern, {
    seconds: options.seconds,
    knownPeers,
    maxProcesses: options.maxProcesses,
    ...(options.rawOutput === undefined ? {} : { rawOutputPrefix: options.rawOutput }),
    ...(options.describeOnly ? { describeOnly: true } : {}),
  });
}

export function renderTrace(entries: readonly ServiceTraceEntry[], render: RenderOptions): string {
  if (render.format === 'json' || render.format === 'yaml') {
    const document = JSON.parse(JSON.stringify({ schema: 'stackdoctor.trace/v1', processes: entries }));
    return render.format === 'json' ? `${JSON.stringify(document, null, 2)}\n` : stringifyYaml(document);
  }
  return `${formatServiceTrace(entries)}\n`;
}
