import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FindingInput, ResourceRef, Severity } from '../core/check.js';
import { describeError } from '../core/errors.js';
import { canonicalJson, type Json, type JsonObject } from '../core/json.js';
import { discoverLogFiles, type LogScanProblem } from './discover.js';
import { createDefaultHostFromPath, type HostFromPath, type LogFileLocation } from './host-from-path.js';
import { createLineScanner, type MatchedLine } from './line-scanner.js';
import { createLiteralMatcher } from './literal-matcher.js';
import { parseOsloLine } from './oslo-line.js';
import type { LogSignature } from './signature.js';
import { logSignatures } from './signatures/index.js';

export type { LogScanProblem } from './discover.js';

export interface LogScanOptions {
  /** Default: the whole catalogue. */
  signatures?: readonly LogSignature[];
  /** Default: kolla and `<host>/<service>/<file>` layouts (see createDefaultHostFromPath). */
  hostFromPath?: HostFromPath;
  /** Host name given to files under /var/log/kolla on this machine. */
  localHost?: string;
  /** Distinct values kept per finding (default 20); the total number is always reported. */
  maxValues?: number;
  /** Bytes read per chunk (default 1 MiB). */
  chunkBytes?: number;
}

export interface SeenAt {
  timestamp: string | null;
  file: string;
  line: number;
  host: string | null;
}

/** A finding in the core model, plus what `check` needs to use it as evidence. */
export interface LogFinding extends FindingInput {
  signatureId: string;
  relatedCheck: string | undefined;
  severity: Severity;
}

export interface LogScanResult {
  findings: LogFinding[];
  filesScanned: number;
  /** Bytes of log text read (after decompression). */
  bytesScanned: number;
  problems: LogScanProblem[];
}

interface Aggregate {
  signature: LogSignature;
  resource: ResourceRef;
  count: number;
  firstSeen: SeenAt;
  lastSeen: SeenAt;
  hosts: Set<string>;
  files: Set<string>;
  values: Map<string, { evidence: JsonObject; count: number }>;
  distinctValues: number;
}

const gzipMagic = [0x1f, 0x8b];

/**
 * Scans log files and directories for the signature catalogue, streaming each file (plain or gzip) once.
 * A file that cannot be read or a corrupt gzip is a problem of the result; the scan goes on.
 */
export async function scanLogs(
  paths: readonly string[],
  options: LogScanOptions = {},
): Promise<LogScanResult> {
  const signatures = options.signatures ?? logSignatures;
  const hostOf = options.hostFromPath ?? createDefaultHostFromPath(options.localHost);
  const maxValues = options.maxValues ?? 20;
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;

  const literals: string[] = [];
  const signaturesOfLiteral: number[][] = [];
  signatures.forEach((signature, index) => {
    for (const literal of signature.literals) {
      const at = literals.indexOf(literal);
      if (at === -1) {
        literals.push(literal);
        signaturesOfLiteral.push([index]);
      } else signaturesOfLiteral[at]?.push(index);
    }
  });
  const matcher = createLiteralMatcher(literals);

  const { files, problems } = await discoverLogFiles(paths);
  const aggregates = new Map<string, Aggregate>();
  let filesScanned = 0;
  let bytesScanned = 0;

  for (const file of files) {
    const host = hostOf(file) ?? null;
    const onLine = (line: MatchedLine) => {
      const seen = new Set<number>();
      for (const literal of line.literals) {
        for (const index of signaturesOfLiteral[literal] ?? []) {
          if (seen.has(index)) continue;
          seen.add(index);
          const signature = signatures[index];
          if (signature !== undefined) recordLine(signature, line, file, host);
        }
      }
    };
    const result = await scanFile(file.absolutePath, createLineScanner(matcher, onLine), chunkBytes);
    bytesScanned += result.bytes;
    if (result.problem) problems.push(result.problem);
    if (result.opened) filesScanned += 1;
  }

  function recordLine(
    signature: LogSignature,
    line: MatchedLine,
    file: LogFileLocation,
    host: string | null,
  ): void {
    const parsed = parseOsloLine(line.text);
    const match = signature.pattern.exec(parsed.message);
    if (match === null) return;
    const values: Record<string, string> = {};
    for (const [name, value] of Object.entries(match.groups ?? {}))
      if (value !== undefined) values[name] = value;
    const resource: ResourceRef = signature.resourceOf?.(values) ?? {
      type: 'log-signature',
      id: signature.id,
      name: signature.title,
    };
    const seen: SeenAt = {
      timestamp: parsed.timestamp,
      file: file.absolutePath,
      line: line.lineNumber,
      host,
    };
    const key = `${signature.id}\u0000${resource.type}\u0000${resource.id}`;
    let aggregate = aggregates.get(key);
    if (aggregate === undefined) {
      aggregate = {
        signature,
        resource,
        count: 0,
        firstSeen: seen,
        lastSeen: seen,
        hosts: new Set(),
        files: new Set(),
        values: new Map(),
        distinctValues: 0,
      };
      aggregates.set(key, aggregate);
    }
    aggregate.count += 1;
    if (isEarlier(seen, aggregate.firstSeen)) aggregate.firstSeen = seen;
    if (!isEarlier(seen, aggregate.lastSeen)) aggregate.lastSeen = seen;
    if (host !== null) aggregate.hosts.add(host);
    aggregate.files.add(file.absolutePath);
    recordValues(aggregate, signature.describe(values), maxValues);
  }

  const findings: LogFinding[] = [];
  for (const signature of signatures) {
    const own = [...aggregates.values()].filter((a) => a.signature === signature);
    own.sort((a, b) => (a.resource.id < b.resource.id ? -1 : a.resource.id > b.resource.id ? 1 : 0));
    for (const aggregate of own) findings.push(buildFinding(aggregate));
  }
  return { findings, filesScanned, bytesScanned, problems };
}

/** Later only when both have a full date and time; otherwise the scan order (oldest rotation first) decides. */
function isEarlier(a: SeenAt, b: SeenAt): boolean {
  if (a.timestamp === null || b.timestamp === null || a.timestamp.length < 19 || b.timestamp.length < 19)
    return false;
  return a.timestamp < b.timestamp;
}

function recordValues(aggregate: Aggregate, evidence: JsonObject, maxValues: number): void {
  const key = canonicalJson(evidence);
  const existing = aggregate.values.get(key);
  if (existing !== undefined) {
    existing.count += 1;
    return;
  }
  aggregate.distinctValues += 1;
  if (aggregate.values.size < maxValues) aggregate.values.set(key, { evidence, count: 1 });
}

function buildFinding(aggregate: Aggregate): LogFinding {
  const { signature, count, firstSeen, lastSeen } = aggregate;
  const hosts = [...aggregate.hosts].sort();
  const where = hosts.length > 0 ? ` on ${hosts.join(', ')}` : '';
  const last = lastSeen.timestamp ?? `${lastSeen.file}:${lastSeen.line}`;
  const subject =
    aggregate.resource.type === 'log-signature'
      ? ''
      : ` (${aggregate.resource.type} ${aggregate.resource.id})`;
  const values: Json[] = [...aggregate.values.values()].map(({ evidence, count: n }) => ({
    ...evidence,
    count: n,
  }));
  return {
    signatureId: signature.id,
    relatedCheck: signature.relatedCheck,
    severity: signature.severity,
    resource: aggregate.resource,
    message: `${signature.title}${subject}: ${count} line${count === 1 ? '' : 's'}${where}, last ${last}`,
    evidence: {
      signature: signature.id,
      relatedCheck: signature.relatedCheck ?? null,
      references: [...signature.references],
      count,
      firstSeen: formatSeen(firstSeen),
      lastSeen: formatSeen(lastSeen),
      hosts,
      files: [...aggregate.files],
      values,
      distinctValues: aggregate.distinctValues,
    },
    fixable: false,
  };
}

function formatSeen(seen: SeenAt): JsonObject {
  return { timestamp: seen.timestamp, file: seen.file, line: seen.line, host: seen.host };
}

async function scanFile(
  path: string,
  scanner: ReturnType<typeof createLineScanner>,
  chunkBytes: number,
): Promise<{ bytes: number; opened: boolean; problem?: LogScanProblem }> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    return { bytes: 0, opened: false, problem: { path, kind: 'unreadable', message: describeError(error) } };
  }
  let compressed = false;
  try {
    const header = Buffer.alloc(2);
    const { bytesRead } = await handle.read(header, 0, 2, 0);
    compressed = bytesRead === 2 && header[0] === gzipMagic[0] && header[1] === gzipMagic[1];
  } catch (error) {
    await handle.close();
    return { bytes: 0, opened: false, problem: { path, kind: 'unreadable', message: describeError(error) } };
  }
  let bytes = 0;
  try {
    if (compressed) {
      const raw = handle.createReadStream({ start: 0, highWaterMark: chunkBytes });
      const gunzip = createGunzip({ chunkSize: Math.min(chunkBytes, 256 * 1024) });
      const stream: Readable = pipeline(raw, gunzip, () => {});
      for await (const chunk of stream) {
        if (!Buffer.isBuffer(chunk)) continue;
        bytes += chunk.length;
        scanner.push(chunk);
      }
    } else {
      // One reused buffer: the line scanner copies what it keeps. Measured 2-3x faster than a read stream.
      const buffer = Buffer.allocUnsafe(chunkBytes);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, chunkBytes, null);
        if (bytesRead === 0) break;
        bytes += bytesRead;
        scanner.push(buffer.subarray(0, bytesRead));
      }
    }
    scanner.end();
    return { bytes, opened: true };
  } catch (error) {
    scanner.end();
    const kind = compressed && isZlibError(error) ? 'corrupt-gzip' : 'unreadable';
    const message = `${describeError(error)} after ${bytes} bytes`;
    return { bytes, opened: true, problem: { path, kind, message } };
  } finally {
    await handle.close().catch(() => {});
  }
}

function isZlibError(error: unknown): boolean {
  return (
    error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code.startsWith('Z_')
  );
}
