import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Check, CheckContext, Severity } from '../../core/check.js';
import { UsageError } from '../../core/errors.js';
import { exitCodeForResults } from '../../core/exit-codes.js';
import type { Logger } from '../../core/logger.js';
import { type CheckResult, runChecks } from '../../core/runner.js';
import type { CloudSession } from '../../openstack/types.js';
import { buildCheckDocument } from '../../reporters/check-report.js';
import { renderHtml } from '../../reporters/html.js';
import { renderPrometheus } from '../../reporters/prometheus.js';
import { version } from '../version.js';

export interface ServeOptions {
  host: string;
  port: number;
  intervalSeconds: number;
  concurrency: number;
  timeoutMs: number;
  failOn: Severity;
}

interface Sweep {
  results: CheckResult[];
  startedAt: Date;
  finishedAt: Date;
  exitCode: number;
}

/** `--listen HOST:PORT`; loopback by default, since the dashboard has no authentication of its own. */
export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65535)
    throw new UsageError(`--listen ${value}: expected HOST:PORT, e.g. 127.0.0.1:9747`);
  return { host: match[1] ?? match[2] ?? '127.0.0.1', port };
}

/**
 * The long-running mode: checks (read-only, never fixes) every interval, and serves the last result as an
 * HTML dashboard (`/`), Prometheus metrics (`/metrics`), the JSON document (`/api/v1/report`) and a health
 * probe (`/healthz`, 503 until the first sweep has finished).
 */
export class CheckService {
  #last: Sweep | undefined;
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #server: Server | undefined;
  readonly #controller = new AbortController();

  constructor(
    private readonly checks: readonly Check[],
    private readonly cloud: CloudSession,
    private readonly makeContext: (signal: AbortSignal) => CheckContext,
    private readonly options: ServeOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<{ url: string }> {
    const server = createServer((request, response) => this.#handle(request, response));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) =>
        reject(
          new UsageError(`cannot listen on ${this.options.host}:${this.options.port}: ${error.message}`),
        ),
      );
      server.listen(this.options.port, this.options.host, resolve);
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : this.options.port;
    void this.#sweepAndReschedule();
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return { url: `http://${host}:${port}/` };
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#controller.abort();
    const server = this.#server;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  async #sweepAndReschedule(): Promise<void> {
    if (this.#running || this.#controller.signal.aborted) return;
    this.#running = true;
    const startedAt = new Date();
    try {
      const results = await runChecks(this.checks, this.makeContext, {
        concurrency: this.options.concurrency,
        timeoutMs: this.options.timeoutMs,
      });
      this.#last = {
        results,
        startedAt,
        finishedAt: new Date(),
        exitCode: exitCodeForResults(results, this.options.failOn),
      };
      this.log.info(`sweep finished: exit code ${this.#last.exitCode}`);
    } catch (error) {
      // A sweep that fails as a whole (e.g. the cloud is unreachable) keeps the last good result on show.
      this.log.warn(`sweep failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.#running = false;
    }
    if (!this.#controller.signal.aborted) {
      this.#timer = setTimeout(() => void this.#sweepAndReschedule(), this.options.intervalSeconds * 1000);
    }
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(response, 405, 'text/plain', 'read-only: GET only\n');
      return;
    }
    const last = this.#last;
    if (path === '/healthz') {
      send(response, last ? 200 : 503, 'text/plain', last ? 'ok\n' : 'first sweep still running\n');
      return;
    }
    if (!last) {
      send(response, 503, 'text/plain', 'first sweep still running; retry shortly\n', { 'retry-after': '5' });
      return;
    }
    const context = {
      cloud: this.cloud.cloudName,
      region: this.cloud.region,
      startedAt: last.startedAt,
      finishedAt: last.finishedAt,
      exitCode: last.exitCode,
      toolVersion: version,
    };
    if (path === '/metrics') {
      send(response, 200, 'text/plain; version=0.0.4', renderPrometheus(last.results, context));
    } else if (path === '/api/v1/report') {
      send(
        response,
        200,
        'application/json',
        `${JSON.stringify(buildCheckDocument(last.results, context), null, 2)}\n`,
      );
    } else if (path === '/') {
      const page = renderHtml(last.results, context).replace(
        '<meta charset="utf-8">',
        `<meta charset="utf-8"><meta http-equiv="refresh" content="${Math.min(this.options.intervalSeconds, 300)}">`,
      );
      send(response, 200, 'text/html; charset=utf-8', page);
    } else {
      send(response, 404, 'text/plain', 'not found: / /metrics /api/v1/report /healthz\n');
    }
  }
}

function send(
  response: ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  response.end(body);
}
