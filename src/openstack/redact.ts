/**
 * Scrubbing of credentials before anything reaches a log line, an error message or a journal.
 *
 * Two layers: structural (header names, JSON keys and query parameters that carry secrets by definition)
 * and literal (the session registers every password, application-credential secret and token it holds,
 * so that a server echoing one back in an error body is scrubbed too).
 */

export const redactedMarker = '***';

/** Headers whose value is a credential. Compared lower-case. */
const secretHeaders = new Set([
  'x-auth-token',
  'x-subject-token',
  'x-service-token',
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'openstack-auth-receipt',
]);

/** JSON keys / query parameters whose string value is a credential (`password`, `secret`, `token`, ...). */
const secretKeyPattern =
  /(^|[_-])(password|passwd|passcode|secret|token|credential|private[_-]?key|signature|sig|api[_-]?key)$/i;

const secretWord =
  '(?:[a-z0-9_-]*[_-])?(?:password|passwd|passcode|secret|token|private[_-]?key|api[_-]?key)';
/** `"password": "…"` inside a JSON text (an error body that echoes the request, say). */
const secretJsonPair = new RegExp(`("${secretWord}"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'gi');
/** `password=…` in a query or form string. */
const secretQueryPair = new RegExp(`(\\b${secretWord}=)[^\\s&#"']+`, 'gi');
/** `X-Auth-Token: …` copied from a header dump. */
const secretHeaderLine = /(\b(?:x-auth-token|x-subject-token|x-service-token|authorization)\s*:\s*)\S+/gi;

/** `scheme://user:password@host` */
const urlUserInfo = /(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi;

export function isSecretHeader(name: string): boolean {
  return secretHeaders.has(name.toLowerCase());
}

export function isSecretKey(key: string): boolean {
  return secretKeyPattern.test(key);
}

export class Redactor {
  readonly #secrets = new Set<string>();

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const secret of secrets) this.addSecret(secret);
  }

  /** Registers a literal to scrub everywhere; very short values are ignored (they would mangle text). */
  addSecret(secret: string | undefined): void {
    if (secret !== undefined && secret.length >= 4) this.#secrets.add(secret);
  }

  /** Free text: literal secrets, `password=…` / `"token": "…"` pairs and URL user-info. */
  text(value: string): string {
    let result = value;
    for (const secret of this.#secrets) result = result.split(secret).join(redactedMarker);
    result = result.replace(secretJsonPair, `$1"${redactedMarker}"`);
    result = result.replace(secretQueryPair, `$1${redactedMarker}`);
    result = result.replace(secretHeaderLine, `$1${redactedMarker}`);
    return result.replace(urlUserInfo, `$1${redactedMarker}@`);
  }

  /** A URL with secret query parameters and user-info replaced; unparseable input falls back to text(). */
  url(value: string): string {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      return this.text(value);
    }
    if (parsed.username !== '' || parsed.password !== '') {
      parsed.username = redactedMarker;
      parsed.password = '';
    }
    for (const key of [...parsed.searchParams.keys()]) {
      if (isSecretKey(key)) parsed.searchParams.set(key, redactedMarker);
    }
    return this.text(parsed.toString());
  }

  headers(headers: Headers | Record<string, string>): Record<string, string> {
    const entries = headers instanceof Headers ? [...headers.entries()] : Object.entries(headers);
    const result: Record<string, string> = {};
    for (const [name, value] of entries) {
      result[name] = isSecretHeader(name) ? redactedMarker : this.text(value);
    }
    return result;
  }

  /** A JSON-like value with secret-named string fields replaced, recursively. */
  json(value: unknown): unknown {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((item) => this.json(item));
    if (typeof value === 'object' && value !== null) {
      const result: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        result[key] = isSecretKey(key) && typeof item === 'string' ? redactedMarker : this.json(item);
      }
      return result;
    }
    return value;
  }
}
