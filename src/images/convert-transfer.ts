import { createHash, getHashes, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, statfs } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HttpError } from '../openstack/errors.js';
import { imagePath } from '../openstack/image.js';
import type { CloudSession } from '../openstack/types.js';
import { ImageConvertError } from './convert-error.js';

/** Read size for uploads: large enough for few syscalls, small enough to keep memory flat. */
const uploadChunkBytes = 1024 * 1024;

export interface Digests {
  /** Lower-case hex, keyed by algorithm name as Glance spells it (`md5`, `sha512`, …). */
  [algorithm: string]: string;
}

export interface TransferResult {
  bytes: number;
  digests: Digests;
}

export type BytesListener = (bytes: number) => void;

/** Node's name for one of Glance's `os_hash_algo` values (hashlib names), or undefined when Node lacks it. */
export function toNodeHashName(algorithm: string): string | undefined {
  const name = algorithm.toLowerCase().replace(/^sha3_/, 'sha3-');
  return getHashes().includes(name) ? name : undefined;
}

function createHashes(algorithms: readonly string[]): Map<string, Hash> {
  const hashes = new Map<string, Hash>();
  for (const algorithm of new Set(algorithms)) {
    const name = toNodeHashName(algorithm);
    if (name === undefined)
      throw new ImageConvertError('convert-not-convertible', `cannot compute ${algorithm}`);
    hashes.set(algorithm, createHash(name));
  }
  return hashes;
}

function finishHashes(hashes: Map<string, Hash>): Digests {
  const digests: Digests = {};
  for (const [algorithm, hash] of hashes) digests[algorithm] = hash.digest('hex');
  return digests;
}

/** Free bytes for an unprivileged writer in the file system holding `directory`. */
export async function readFreeBytes(directory: string): Promise<number> {
  const stats = await statfs(directory);
  return stats.bavail * stats.bsize;
}

/**
 * Streams an image's data into a new file (mode 0600, never an existing one) while hashing it, so the data is
 * read once. The file is left in place on failure: the caller owns the directory and removes it.
 */
export async function downloadImageToFile(
  cloud: CloudSession,
  imageId: string,
  file: string,
  options: { algorithms: readonly string[]; signal: AbortSignal; onBytes?: BytesListener },
): Promise<TransferResult> {
  const hashes = createHashes(options.algorithms);
  const response = await cloud.stream('image', { path: `${imagePath(imageId)}/file`, acceptStatus: [200] });
  if (response.body === null) {
    throw new ImageConvertError('convert-not-convertible', `image ${imageId} has no data to download`);
  }
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      for (const hash of hashes.values()) hash.update(chunk);
      bytes += chunk.length;
      options.onBytes?.(bytes);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(response.body),
      tap,
      createWriteStream(file, { flags: 'wx', mode: 0o600 }),
      { signal: options.signal },
    );
  } catch (error) {
    if (options.signal.aborted) throw abortedError(error);
    throw error;
  }
  return { bytes, digests: finishHashes(hashes) };
}

/**
 * Uploads a file as an image's data (`PUT /v2/images/{id}/file`, octet-stream with Content-Length), hashing
 * exactly the bytes sent. Glance refusing the upload becomes `convert-upload-refused` with its status and message.
 */
export async function uploadImageFromFile(
  cloud: CloudSession,
  imageId: string,
  file: string,
  options: { algorithms: readonly string[]; signal: AbortSignal; onBytes?: BytesListener },
): Promise<TransferResult> {
  const hashes = createHashes(options.algorithms);
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    let position = 0;
    let stop: ((reason: Error) => void) | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        stop = (reason) => controller.error(reason);
      },
      async pull(controller) {
        const buffer = new Uint8Array(Math.min(uploadChunkBytes, size - position));
        if (buffer.length === 0) {
          controller.close();
          return;
        }
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) {
          controller.error(new Error(`${file} is shorter than ${size} bytes`));
          return;
        }
        const chunk = buffer.subarray(0, bytesRead);
        for (const hash of hashes.values()) hash.update(chunk);
        position += bytesRead;
        options.onBytes?.(position);
        controller.enqueue(chunk);
      },
    });
    const onAbort = () => stop?.(new Error('upload cancelled'));
    options.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const response = await cloud.stream('image', {
        method: 'PUT',
        path: `${imagePath(imageId)}/file`,
        body,
        contentType: 'application/octet-stream',
        contentLength: size,
        acceptStatus: [204],
      });
      await response.body?.cancel();
    } catch (error) {
      if (options.signal.aborted) throw abortedError(error);
      if (error instanceof HttpError) {
        throw new ImageConvertError(
          'convert-upload-refused',
          `Glance refused the upload to image ${imageId}: ${error.status}${error.serverMessage ? ` ${error.serverMessage}` : ''}`,
          {
            cause: error,
            hint: 'a 413 is the image storage quota (user_storage_quota) or the store being full',
          },
        );
      }
      throw error;
    } finally {
      options.signal.removeEventListener('abort', onAbort);
    }
    if (position !== size) {
      throw new ImageConvertError('convert-output-mismatch', `sent ${position} of ${size} bytes of ${file}`);
    }
    return { bytes: position, digests: finishHashes(hashes) };
  } finally {
    await handle.close();
  }
}

/** Hashes a local file (only needed when Glance turns out to use another algorithm than expected). */
export async function hashFile(file: string, algorithm: string, signal: AbortSignal): Promise<string> {
  const hashes = createHashes([algorithm]);
  const handle = await open(file, 'r');
  try {
    const buffer = new Uint8Array(uploadChunkBytes);
    let position = 0;
    for (;;) {
      if (signal.aborted) throw abortedError(signal.reason);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      for (const hash of hashes.values()) hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return finishHashes(hashes)[algorithm]!;
}

export function abortedError(cause: unknown): ImageConvertError {
  return new ImageConvertError('convert-aborted', 'conversion cancelled; temporary files removed', { cause });
}
