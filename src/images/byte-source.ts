import { open } from 'node:fs/promises';
import { StackdoctorError } from '../core/errors.js';

/**
 * Random access to the bytes of an image. `read` may return fewer bytes than asked at the end of the data;
 * `size` is undefined for a stream whose length is not known yet.
 */
export interface ByteSource {
  readonly size: number | undefined;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export class ImageReadError extends StackdoctorError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('image-read', message, options);
    this.name = 'ImageReadError';
  }
}

export function createBufferByteSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
  };
}

/** Opens a file for inspection; the caller closes it once done. */
export async function openFileByteSource(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new ImageReadError(`cannot open image file ${path}`, { cause: error });
  }
  const { size } = await handle.stat();
  return {
    size,
    read: async (offset, length) => {
      const buffer = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      let filled = 0;
      while (filled < buffer.length) {
        const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return buffer.subarray(0, filled);
    },
    close: () => handle.close(),
  };
}
