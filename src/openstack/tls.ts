import { readFile } from 'node:fs/promises';
import { ConfigError } from '../core/errors.js';
import type { TlsSettings } from './config.js';

/**
 * A connection pool with the cloud's TLS settings. Node's built-in fetch verifies against the system CA
 * store with keep-alive already; only `verify: false`, a CA bundle or a client certificate need an own
 * undici Agent, and undici is loaded only then (it costs start-up time otherwise).
 */
export interface TlsDispatcher {
  dispatcher: RequestInit['dispatcher'];
  close(): Promise<void>;
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the ${what} ${file}`, {
      hint: 'check --os-cacert / cacert, cert and key in clouds.yaml',
      cause: error,
    });
  }
}

export async function createTlsDispatcher(tls: TlsSettings): Promise<TlsDispatcher | undefined> {
  const custom = !tls.verify || tls.caFile !== undefined || tls.certFile !== undefined;
  if (!custom) return undefined;
  const connect: { rejectUnauthorized: boolean; ca?: string; cert?: string; key?: string } = {
    rejectUnauthorized: tls.verify,
  };
  if (tls.verify && tls.caFile !== undefined) connect.ca = await readPem(tls.caFile, 'CA bundle');
  if (tls.certFile !== undefined) connect.cert = await readPem(tls.certFile, 'client certificate');
  if (tls.keyFile !== undefined) connect.key = await readPem(tls.keyFile, 'client key');
  const { Agent } = await import('undici');
  const agent = new Agent({ connect });
  return { dispatcher: agent, close: () => agent.close() };
}
