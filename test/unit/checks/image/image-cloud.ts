import type { Json } from '../../../../src/core/json.js';
import type { PaginateOptions, ServiceType, StreamRequestOptions } from '../../../../src/openstack/types.js';
import { MemoryCloud } from '../../../support/memory-cloud.js';

/**
 * MemoryCloud with what the image checks need: a listing that honours the `os_hidden` pass, image data served
 * through `stream`, and counters for both.
 */
export class ImageMemoryCloud extends MemoryCloud {
  readonly listings: Record<string, unknown>[] = [];
  readonly streams: { path: string; range: string | undefined }[] = [];
  readonly data = new Map<string, { bytes: Uint8Array; honourRange: boolean }>();
  /** How many chunks each whole-body (200) response produced before it was cancelled. */
  readonly chunksSent: number[] = [];

  addImage(fields: Record<string, Json>): void {
    const id = String(fields.id);
    this.documents.set(`/v2/images/${id}`, {
      status: 'active',
      visibility: 'public',
      os_hidden: false,
      ...fields,
    });
  }

  override async *paginate<T>(_service: ServiceType, options: PaginateOptions<T>): AsyncIterable<T> {
    this.listings.push({ ...options.query });
    const hidden = options.query?.os_hidden === true;
    for (const [path, document] of this.documents) {
      if (!path.startsWith(`${options.path}/`) || (document.os_hidden === true) !== hidden) continue;
      yield options.itemSchema.parse(document);
    }
  }

  override async stream(_service?: ServiceType, options?: StreamRequestOptions): Promise<Response> {
    if (!options) throw new Error('stream needs options');
    const range = options.headers?.Range;
    this.streams.push({ path: options.path, range });
    const id = options.path.split('/')[3] ?? '';
    const stored = this.data.get(id);
    if (!stored) return new Response(null, { status: 204 });
    if (stored.honourRange && range !== undefined) {
      const end = Number(/bytes=0-(\d+)/.exec(range)?.[1] ?? '0');
      return new Response(stored.bytes.slice(0, end + 1), { status: 206 });
    }
    // A server that ignores Range: an endless supply of 64 KiB chunks until the reader cancels.
    const counter = this.chunksSent.push(0) - 1;
    const chunks = this.chunksSent;
    let offset = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        chunks[counter] = (chunks[counter] ?? 0) + 1;
        const chunk = stored.bytes.slice(offset, offset + 65536);
        offset += 65536;
        controller.enqueue(chunk.length > 0 ? chunk : new Uint8Array(65536));
      },
    });
    return new Response(body, { status: 200 });
  }
}
