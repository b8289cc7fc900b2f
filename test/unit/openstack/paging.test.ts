import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { ResponseSchemaError } from '../../../src/openstack/errors.js';
import { queryFromHref } from '../../../src/openstack/paging.js';
import { jsonResponse, openTestSession, type RecordedCall, rejection, serviceCalls } from './helpers.js';

const item = z.object({ id: z.string() });

/** Nova-style pages of two servers; the next link names an internal host, as Nova builds it from its own URL. */
function novaPages(ids: string[]) {
  return (call: RecordedCall) => {
    const url = new URL(call.url);
    const marker = url.searchParams.get('marker');
    const start = marker === null ? 0 : ids.indexOf(marker) + 1;
    const page = ids.slice(start, start + 2);
    const last = page.at(-1);
    const full = page.length === 2 && start + 2 < ids.length;
    return jsonResponse({
      servers: page.map((id) => ({ id, name: `vm-${id}` })),
      ...(full && last !== undefined
        ? {
            servers_links: [
              {
                rel: 'next',
                href: `http://nova-api.internal:8774/v2.1/servers/detail?all_tenants=1&limit=2&marker=${last}`,
              },
            ],
          }
        : {}),
    });
  };
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const value of iterable) items.push(value);
  return items;
}

describe('paging: links (Nova)', () => {
  it('follows rel=next with its query, against our own endpoint', async () => {
    const { session, calls } = await openTestSession(novaPages(['a', 'b', 'c', 'd', 'e']));
    const servers = await collect(
      session.paginate('compute', {
        path: '/servers/detail',
        query: { all_tenants: 1 },
        microversion: '2.69',
        itemsKey: 'servers',
        paging: { kind: 'links', linksKey: 'servers_links' },
        itemSchema: item,
        pageSize: 2,
      }),
    );
    assert.deepEqual(
      servers.map((server) => server.id),
      ['a', 'b', 'c', 'd', 'e'],
    );
    const urls = serviceCalls(calls).map((call) => call.url);
    assert.deepEqual(urls, [
      'http://nova.test:8774/v2.1/servers/detail?all_tenants=1&limit=2',
      'http://nova.test:8774/v2.1/servers/detail?all_tenants=1&limit=2&marker=b',
      'http://nova.test:8774/v2.1/servers/detail?all_tenants=1&limit=2&marker=d',
    ]);
    assert.ok(serviceCalls(calls).every((call) => call.headers['openstack-api-version'] === 'compute 2.69'));
  });

  it('stops fetching when the caller stops', async () => {
    const { session, calls } = await openTestSession(novaPages(['a', 'b', 'c', 'd', 'e', 'f']));
    const seen: string[] = [];
    for await (const server of session.paginate('compute', {
      path: '/servers/detail',
      itemsKey: 'servers',
      paging: { kind: 'links', linksKey: 'servers_links' },
      itemSchema: item,
      pageSize: 2,
    })) {
      seen.push(server.id);
      if (seen.length === 3) break;
    }
    assert.deepEqual(seen, ['a', 'b', 'c']);
    assert.equal(serviceCalls(calls).length, 2);
  });

  it('validates each item, naming its index', async () => {
    const { session } = await openTestSession(() => jsonResponse({ servers: [{ id: 'a' }, { id: 7 }] }));
    const error = await rejection(
      collect(
        session.paginate('compute', {
          path: '/servers',
          itemsKey: 'servers',
          paging: { kind: 'links', linksKey: 'servers_links' },
          itemSchema: item,
        }),
      ),
    );
    assert.ok(error instanceof ResponseSchemaError);
    assert.match(error.message, /^compute GET \/servers: unexpected response: servers\.1\.id: /);
  });

  it('reports a page without the items key', async () => {
    const { session } = await openTestSession(() => jsonResponse({ hypervisors: [] }));
    const error = await rejection(
      collect(
        session.paginate('compute', {
          path: '/servers',
          itemsKey: 'servers',
          paging: { kind: 'links', linksKey: 'servers_links' },
          itemSchema: item,
        }),
      ),
    );
    assert.ok(error instanceof ResponseSchemaError);
    assert.match(error.message, /servers: Invalid input: expected array, received undefined/);
  });

  it('stops on a next link it has already followed', async () => {
    const { session, calls } = await openTestSession(() =>
      jsonResponse({
        servers: [{ id: 'a' }],
        servers_links: [{ rel: 'next', href: 'http://x/v2.1/servers?marker=a' }],
      }),
    );
    const servers = await collect(
      session.paginate('compute', {
        path: '/servers',
        itemsKey: 'servers',
        paging: { kind: 'links', linksKey: 'servers_links' },
        itemSchema: item,
      }),
    );
    assert.equal(servers.length, 2);
    assert.equal(serviceCalls(calls).length, 2);
  });
});

describe('paging: next (Glance, Mistral)', () => {
  it('follows Glance next paths', async () => {
    const { session, calls } = await openTestSession((call) => {
      const marker = new URL(call.url).searchParams.get('marker');
      if (marker === null) {
        return jsonResponse({
          images: [{ id: 'i1' }, { id: 'i2' }],
          first: '/v2/images?limit=2&visibility=all',
          next: '/v2/images?limit=2&visibility=all&marker=i2',
          schema: '/v2/schemas/images',
        });
      }
      return jsonResponse({ images: [{ id: 'i3' }], first: '/v2/images?limit=2&visibility=all' });
    });
    const images = await collect(
      session.paginate('image', {
        path: '/v2/images',
        query: { visibility: 'all' },
        itemsKey: 'images',
        paging: { kind: 'next', nextKey: 'next' },
        itemSchema: item,
        pageSize: 2,
      }),
    );
    assert.deepEqual(
      images.map((image) => image.id),
      ['i1', 'i2', 'i3'],
    );
    assert.deepEqual(
      serviceCalls(calls).map((call) => call.url),
      [
        'http://glance.test:9292/v2/images?visibility=all&limit=2',
        'http://glance.test:9292/v2/images?limit=2&visibility=all&marker=i2',
      ],
    );
  });

  it('follows Mistral absolute next URLs without going to their host', async () => {
    const { session, calls } = await openTestSession((call) =>
      new URL(call.url).searchParams.has('marker')
        ? jsonResponse({ actions: [{ id: 'std.noop' }] })
        : jsonResponse({
            actions: [{ id: 'std.echo' }],
            next: 'http://mistral-internal:8989/v2/actions?marker=std.echo&limit=1&sort_keys=name&sort_dirs=asc',
          }),
    );
    const actions = await collect(
      session.paginate('workflowv2', {
        path: '/actions',
        itemsKey: 'actions',
        paging: { kind: 'next', nextKey: 'next' },
        itemSchema: item,
        pageSize: 1,
      }),
    );
    assert.equal(actions.length, 2);
    assert.equal(
      serviceCalls(calls)[1]?.url,
      'http://mistral.test:8989/v2/actions?marker=std.echo&limit=1&sort_keys=name&sort_dirs=asc',
    );
  });
});

describe('paging: none (Placement)', () => {
  it('makes exactly one request, whatever the body says', async () => {
    const { session, calls } = await openTestSession(() =>
      jsonResponse({
        resource_providers: [{ id: 'rp1' }, { id: 'rp2' }],
        next: '/resource_providers?page=2',
      }),
    );
    const providers = await collect(
      session.paginate('placement', {
        path: '/resource_providers',
        itemsKey: 'resource_providers',
        paging: { kind: 'none' },
        itemSchema: item,
      }),
    );
    assert.equal(providers.length, 2);
    assert.equal(serviceCalls(calls).length, 1);
    assert.equal(serviceCalls(calls)[0]?.url, 'http://placement.test:8778/resource_providers');
  });
});

describe('queryFromHref', () => {
  it('keeps repeated keys as arrays and accepts relative hrefs', () => {
    assert.deepEqual(queryFromHref('/v2/images?tag=a&tag=b&limit=5'), { tag: ['a', 'b'], limit: '5' });
    assert.deepEqual(queryFromHref('http://h/x'), {});
  });
});
