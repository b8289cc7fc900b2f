import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { StackdoctorError } from '../core/errors.js';

/**
 * The errors of the OpenStack boundary. Each is one line (the CLI prints `message`, then `hint`), carries a
 * stable `kind`, and is built only from redacted material: the session redacts URLs and server messages
 * before constructing them, so `message`, `String(error)` and the own fields never hold a credential.
 */

/** Longest server message kept in an error line; the full text is in the debug log. */
const maxServerMessageLength = 300;

export interface HttpErrorDetails {
  service: string;
  method: string;
  /** Already redacted. */
  url: string;
  status: number;
  statusText?: string;
  requestId: string | undefined;
  /** The server's own explanation, already redacted and on one line. */
  serverMessage: string | undefined;
  /** Placement's machine-readable error code (`placement.concurrent_update`, ...), microversion ≥ 1.23. */
  code: string | undefined;
  hint?: string;
}

/** A service answered with a status the caller did not accept. */
export class HttpError extends StackdoctorError {
  readonly service: string;
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly requestId: string | undefined;
  readonly serverMessage: string | undefined;
  readonly code: string | undefined;

  constructor(details: HttpErrorDetails) {
    super('http', formatHttpMessage(details), details.hint === undefined ? {} : { hint: details.hint });
    this.name = 'HttpError';
    this.service = details.service;
    this.method = details.method;
    this.url = details.url;
    this.status = details.status;
    this.requestId = details.requestId;
    this.serverMessage = details.serverMessage;
    this.code = details.code;
  }
}

/**
 * The standard reason phrase of a status, so that messages read alike whatever the server sent (Keystone
 * sends `UNAUTHORIZED`, HTTP/2 sends none); the server's own phrase only for non-standard statuses.
 */
export function reasonPhrase(status: number, statusText?: string): string {
  return STATUS_CODES[status] ?? statusText ?? '';
}

function formatHttpMessage(details: HttpErrorDetails): string {
  const reason = reasonPhrase(details.status, details.statusText);
  const status = reason === '' ? String(details.status) : `${details.status} ${reason}`;
  const parts = [`${details.service} ${details.method} ${details.url} failed: ${status}`];
  if (details.serverMessage) parts.push(`: ${details.serverMessage}`);
  if (details.code && details.code !== 'placement.undefined_code') parts.push(` [${details.code}]`);
  if (details.requestId) parts.push(` (request ${details.requestId})`);
  return parts.join('');
}

/** Keystone refused to issue a token (wrong password, unknown user or project, expired credential, ...). */
export class AuthError extends StackdoctorError {
  readonly url: string;
  readonly status: number | undefined;
  readonly requestId: string | undefined;

  constructor(
    message: string,
    details: { url: string; status?: number; requestId?: string; hint?: string; cause?: unknown },
  ) {
    super('auth', message, { hint: details.hint, cause: details.cause });
    this.name = 'AuthError';
    this.url = details.url;
    this.status = details.status;
    this.requestId = details.requestId;
  }
}

/** The request never got an HTTP answer: refused, reset, DNS failure or timeout. */
export class ConnectionError extends StackdoctorError {
  readonly service: string;
  readonly url: string;
  /** The system error code (`ECONNREFUSED`, `ENOTFOUND`, ...) or `timeout`. */
  readonly code: string | undefined;

  constructor(details: { service: string; method: string; url: string; failure: NetworkFailure }) {
    const { failure } = details;
    super(
      'connection',
      `cannot reach ${details.service} at ${details.url} (${details.method}): ${failure.description}`,
      { hint: failure.hint, cause: failure.cause },
    );
    this.name = 'ConnectionError';
    this.service = details.service;
    this.url = details.url;
    this.code = failure.code;
  }
}

/** TLS handshake failed: untrusted or mismatching certificate, or TLS spoken to a plain HTTP port. */
export class TlsError extends StackdoctorError {
  readonly service: string;
  readonly url: string;
  readonly code: string | undefined;

  constructor(details: { service: string; url: string; failure: NetworkFailure }) {
    super(
      'tls',
      `TLS failure talking to ${details.service} at ${details.url}: ${details.failure.description}`,
      {
        hint: details.failure.hint,
        cause: details.failure.cause,
      },
    );
    this.name = 'TlsError';
    this.service = details.service;
    this.url = details.url;
    this.code = details.failure.code;
  }
}

/** The catalog has no usable endpoint for a service type (or none for the chosen interface/region). */
export class ServiceNotFoundError extends StackdoctorError {
  readonly service: string;

  constructor(service: string, message: string, hint?: string) {
    super('service-not-found', message, hint === undefined ? {} : { hint });
    this.name = 'ServiceNotFoundError';
    this.service = service;
  }
}

/** A response that is not JSON, or JSON that does not have the shape the caller relies on. */
export class ResponseSchemaError extends StackdoctorError {
  readonly service: string;
  readonly method: string;
  readonly path: string;
  readonly detail: string;

  constructor(details: { service: string; method: string; path: string; detail: string; cause?: unknown }) {
    super(
      'response-schema',
      `${details.service} ${details.method} ${details.path}: unexpected response: ${details.detail}`,
      {
        hint: 'the API answered in a shape stackdoctor does not know; run with --debug and report it',
        cause: details.cause,
      },
    );
    this.name = 'ResponseSchemaError';
    this.service = details.service;
    this.method = details.method;
    this.path = details.path;
    this.detail = details.detail;
  }
}

/** One zod issue as `servers.3.id: Invalid input: expected string, received number`. */
export function describeSchemaIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'schema mismatch';
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)';
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more)` : '';
  return `${where}: ${issue.message}${more}`;
}

// ---------------------------------------------------------------------------------------------
// Server messages. Each service reports errors in its own envelope (reference §2.2 for Placement).

const placementErrors = z.object({
  errors: z
    .array(
      z.looseObject({
        detail: z.string().optional(),
        title: z.string().optional(),
        code: z.string().optional(),
      }),
    )
    .min(1),
});
const keystoneError = z.object({
  error: z.looseObject({ message: z.string(), title: z.string().optional() }),
});
const mistralFault = z.looseObject({ faultstring: z.string() });
const flatMessage = z.looseObject({ message: z.string() });
/** Nova (`itemNotFound`, `badRequest`, `conflictingRequest`, ...) and Neutron (`NeutronError`): one wrapper key. */
const wrappedMessage = z.record(z.string(), z.looseObject({ message: z.string() }));

export interface ServerMessage {
  message: string | undefined;
  code: string | undefined;
}

/** Extracts the human message (and Placement's `code`) from an error body; falls back to the raw text. */
export function parseServerMessage(bodyText: string, contentType: string | null): ServerMessage {
  const text = bodyText.trim();
  if (text === '') return { message: undefined, code: undefined };
  const json = parseJsonOrUndefined(text);
  if (json !== undefined) {
    const placement = placementErrors.safeParse(json);
    if (placement.success) {
      const first = placement.data.errors[0];
      return { message: oneLine(first?.detail ?? first?.title ?? ''), code: first?.code };
    }
    const keystone = keystoneError.safeParse(json);
    if (keystone.success) return { message: oneLine(keystone.data.error.message), code: undefined };
    const mistral = mistralFault.safeParse(json);
    if (mistral.success) return { message: oneLine(mistral.data.faultstring), code: undefined };
    const flat = flatMessage.safeParse(json);
    if (flat.success) return { message: oneLine(flat.data.message), code: undefined };
    const wrapped = wrappedMessage.safeParse(json);
    if (wrapped.success) {
      const first = Object.values(wrapped.data)[0];
      if (first !== undefined) return { message: oneLine(first.message), code: undefined };
    }
    return { message: oneLine(text), code: undefined };
  }
  if (contentType?.includes('html') || /^\s*<(!doctype|html)/i.test(text)) {
    return { message: oneLine(htmlToText(text)), code: undefined };
  }
  return { message: oneLine(dropStatusLine(text)), code: undefined };
}

function parseJsonOrUndefined(text: string): unknown {
  if (!text.startsWith('{') && !text.startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed;
  } catch {
    return undefined;
  }
}

/** webob-style pages (Glance, keystonemiddleware) repeat the status as title and `<h1>`: keep the body text. */
function htmlToText(html: string): string {
  const body = /<body[^>]*>([\s\S]*?)<\/body>/i.exec(html)?.[1] ?? html;
  const withoutHeading = body.replace(/<h1[^>]*>[\s\S]*?<\/h1>/gi, ' ');
  const text = decodeEntities(withoutHeading.replace(/<[^>]+>/g, ' ')).trim();
  if (text !== '') return text;
  return decodeEntities(/<title[^>]*>([\s\S]*?)<\/title>/i.exec(html)?.[1] ?? '');
}

/** webob's plain-text pages start with `404 Not Found` on its own line; the explanation follows. */
function dropStatusLine(text: string): string {
  const lines = text.split('\n');
  const rest = lines.slice(1).join(' ').trim();
  return /^\d{3} [A-Za-z ]+$/.test(lines[0]?.trim() ?? '') && rest !== '' ? rest : text;
}

function decodeEntities(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

/** Whitespace collapsed, trimmed and capped, so that any message fits on one line. */
export function oneLine(text: string, max = maxServerMessageLength): string {
  const collapsed = text.replace(/\s+/g, ' ').trim();
  return collapsed.length > max ? `${collapsed.slice(0, max - 1)}…` : collapsed;
}

// ---------------------------------------------------------------------------------------------
// Network failures. Node's fetch throws `TypeError('fetch failed')` with the system error as `cause`
// (sometimes an AggregateError when several addresses were tried).

export interface NetworkFailure {
  category: 'tls' | 'connection' | 'timeout';
  code: string | undefined;
  description: string;
  hint: string | undefined;
  /** Worth another attempt for an idempotent request (reset, refused, temporary DNS failure). */
  retryable: boolean;
  cause: unknown;
}

const tlsVerificationCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

const connectionReasons: Record<string, { description: string; retryable: boolean; hint?: string }> = {
  ECONNREFUSED: {
    description: 'connection refused',
    retryable: true,
    hint: 'is the service running and listening on that address and port?',
  },
  ECONNRESET: { description: 'connection reset by peer', retryable: true },
  EPIPE: { description: 'connection closed while sending', retryable: true },
  ECONNABORTED: { description: 'connection aborted', retryable: true },
  UND_ERR_SOCKET: { description: 'connection closed unexpectedly', retryable: true },
  UND_ERR_CLOSED: { description: 'connection closed unexpectedly', retryable: true },
  ENOTFOUND: {
    description: 'host name not found (DNS)',
    retryable: false,
    hint: 'check the host name in auth_url or in the catalog (an <service>_endpoint_override can replace it)',
  },
  EAI_AGAIN: { description: 'temporary DNS failure', retryable: true },
  EHOSTUNREACH: { description: 'host unreachable', retryable: true },
  ENETUNREACH: { description: 'network unreachable', retryable: true },
  ETIMEDOUT: { description: 'connection timed out', retryable: true },
  UND_ERR_CONNECT_TIMEOUT: { description: 'connection timed out', retryable: true },
  UND_ERR_HEADERS_TIMEOUT: { description: 'no response headers in time', retryable: true },
  UND_ERR_BODY_TIMEOUT: { description: 'response body stalled', retryable: true },
};

function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return 'the timeout';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}

function hasStringCode(value: unknown): value is { code: string } {
  return typeof value === 'object' && value !== null && 'code' in value && typeof value.code === 'string';
}

/** The first system error code found along the `cause` chain (and inside AggregateErrors). */
export function findErrorCode(error: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof error !== 'object' || error === null) return undefined;
  if (hasStringCode(error) && error.code !== 'ERR_INVALID_STATE') return error.code;
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const code = findErrorCode(inner, depth + 1);
      if (code !== undefined) return code;
    }
  }
  return 'cause' in error ? findErrorCode(error.cause, depth + 1) : undefined;
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/** Classifies a fetch() rejection; `timedOut` is set when our own timeout aborted the request. */
export function classifyNetworkError(error: unknown, timedOut: { ms: number } | undefined): NetworkFailure {
  if (timedOut !== undefined || errorName(error) === 'TimeoutError') {
    return {
      category: 'timeout',
      code: 'timeout',
      description: `no answer within ${formatDuration(timedOut?.ms)}`,
      hint: 'raise api_timeout in clouds.yaml (or --timeout), or check why the service is slow',
      // A request that timed out may still be running on the server; repeating it multiplies the load.
      retryable: false,
      cause: error,
    };
  }
  const code = findErrorCode(error);
  if (code !== undefined && (tlsVerificationCodes.has(code) || code.startsWith('ERR_TLS_'))) {
    return {
      category: 'tls',
      code,
      description: `certificate verification failed (${code})`,
      hint: "pass --os-cacert FILE (cacert: in clouds.yaml) with the CA that signed the cloud's certificate, or --insecure to skip verification",
      retryable: false,
      cause: error,
    };
  }
  if (code?.startsWith('ERR_SSL_')) {
    return {
      category: 'tls',
      code,
      description: `TLS handshake failed (${code})`,
      hint: 'check the URL scheme: https:// to a plain-HTTP port (or the reverse) fails this way',
      retryable: false,
      cause: error,
    };
  }
  const known = code === undefined ? undefined : connectionReasons[code];
  if (known !== undefined) {
    return { category: 'connection', code, ...known, hint: known.hint, cause: error };
  }
  const detail = error instanceof Error ? oneLine(error.message, 120) : 'unknown network error';
  return {
    category: 'connection',
    code,
    description: code === undefined ? detail : `${detail} (${code})`,
    hint: undefined,
    retryable: code !== undefined,
    cause: error,
  };
}
