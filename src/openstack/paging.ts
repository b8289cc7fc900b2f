import { z } from 'zod';
import { describeSchemaIssue, ResponseSchemaError } from './errors.js';
import type { PaginateOptions, RequestOptions } from './types.js';

/**
 * The paging strategies (reference §3.4 Nova `*_links`, §6.1 Glance `next`, §10 Mistral `next`; Placement
 * lists are unpaged). A next link names the same collection, but its host and path prefix are whatever the
 * service believes its public URL is (often an internal name): only its query string is used, the request
 * goes to our own base URL and path again.
 */

export type Query = NonNullable<RequestOptions<unknown>['query']>;

const linkSchema = z.looseObject({ rel: z.string().optional(), href: z.string().optional() });

/** The query of a next link, with repeated keys kept as arrays. */
export function queryFromHref(href: string): Query {
  const url = new URL(href, 'http://next-link.invalid/');
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    query[key] = values.length === 1 ? (values[0] ?? '') : values;
  }
  return query;
}

function nextHref<T>(body: Record<string, unknown>, options: PaginateOptions<T>): string | undefined {
  const { paging } = options;
  if (paging.kind === 'none') return undefined;
  if (paging.kind === 'next') {
    const next = body[paging.nextKey];
    return typeof next === 'string' && next !== '' ? next : undefined;
  }
  const links = z.array(linkSchema).safeParse(body[paging.linksKey] ?? []);
  if (!links.success) return undefined;
  return links.data.find((link) => link.rel === 'next')?.href;
}

function canonicalQuery(query: Query): string {
  return JSON.stringify(Object.entries(query).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Yields every item of a paged list, fetching a page only when the previous one is used up, so a caller
 * that stops early makes no further request.
 */
export async function* paginatePages<T>(
  service: string,
  options: PaginateOptions<T>,
  fetchPage: (query: Query) => Promise<unknown>,
): AsyncGenerator<T, void, undefined> {
  let query: Query = { ...options.query };
  if (options.pageSize !== undefined) query.limit = options.pageSize;
  const seen = new Set<string>([canonicalQuery(query)]);
  const pageSchema = z.looseObject({ [options.itemsKey]: z.array(z.unknown()) });

  for (;;) {
    const body = await fetchPage(query);
    const page = pageSchema.safeParse(body);
    if (!page.success) {
      throw new ResponseSchemaError({
        service,
        method: 'GET',
        path: options.path,
        detail: describeSchemaIssue(page.error),
        cause: page.error,
      });
    }
    const items = page.data[options.itemsKey];
    if (!Array.isArray(items)) return;
    for (const [index, raw] of items.entries()) {
      const item = options.itemSchema.safeParse(raw);
      if (!item.success) {
        throw new ResponseSchemaError({
          service,
          method: 'GET',
          path: options.path,
          detail: `${options.itemsKey}.${index}.${describeSchemaIssue(item.error)}`,
          cause: item.error,
        });
      }
      yield item.data;
    }

    const href = nextHref(page.data, options);
    if (href === undefined || items.length === 0) return;
    const nextQuery = queryFromHref(href);
    if (options.pageSize !== undefined && nextQuery.limit === undefined) nextQuery.limit = options.pageSize;
    // A service that hands back a link it already gave would page forever.
    const key = canonicalQuery(nextQuery);
    if (seen.has(key)) return;
    seen.add(key);
    query = nextQuery;
  }
}
