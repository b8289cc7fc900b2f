import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import multiqueue from '../../../../src/checks/image/multiqueue.js';
import osType from '../../../../src/checks/image/os-type.js';
import {
  findCephStores,
  locateOnCeph,
  readImageScope,
  sweepImages,
} from '../../../../src/checks/image/sweep.js';
import type { CheckContext, FindingInput } from '../../../../src/core/check.js';
import { UsageError } from '../../../../src/core/errors.js';
import { silentLogger } from '../../../../src/core/logger.js';
import { ImageMemoryCloud } from './image-cloud.js';

const context = (cloud: ImageMemoryCloud, parameters: Record<string, string> = {}): CheckContext => ({
  cloud,
  parameters,
  now: () => new Date(0),
  log: silentLogger,
  signal: new AbortController().signal,
});

async function collect(iterable: AsyncIterable<FindingInput>): Promise<FindingInput[]> {
  const findings: FindingInput[] = [];
  for await (const finding of iterable) findings.push(finding);
  return findings;
}

describe('the shared image sweep', () => {
  it('lists every visibility and the hidden images once per session, whatever the number of checks', async () => {
    const cloud = new ImageMemoryCloud();
    cloud.addImage({ id: '00000000-0000-0000-0000-000000000001', name: 'visible' });
    cloud.addImage({ id: '00000000-0000-0000-0000-000000000002', name: 'hidden', os_hidden: true });
    const ctx = context(cloud);
    const [a, b] = await Promise.all([
      collect(multiqueue.detect(ctx)),
      collect(osType.detect(context(cloud))),
    ]);
    assert.equal(a.length, 2);
    assert.equal(b.length, 2);
    assert.deepEqual(cloud.listings, [
      { visibility: 'all', os_hidden: false },
      { visibility: 'all', os_hidden: true },
    ]);
    await sweepImages(ctx);
    assert.equal(cloud.listings.length, 2);
  });

  it('sweeps again for a different scope, with the filters Glance takes', async () => {
    const cloud = new ImageMemoryCloud();
    await sweepImages(context(cloud, { project: 'p1', image: '00000000-0000-0000-0000-000000000001' }));
    assert.deepEqual(cloud.listings[0], {
      visibility: 'all',
      owner: 'p1',
      id: 'in:00000000-0000-0000-0000-000000000001',
      os_hidden: false,
    });
  });

  it('refuses an --set image value that is not an id list', () => {
    assert.throws(() => readImageScope({ image: 'ubuntu' }), UsageError);
  });

  it('never reports images that are not active', async () => {
    const cloud = new ImageMemoryCloud();
    cloud.addImage({ id: '00000000-0000-0000-0000-000000000003', name: 'up', status: 'queued' });
    cloud.addImage({ id: '00000000-0000-0000-0000-000000000004', name: 'off', status: 'deactivated' });
    assert.deepEqual(await collect(multiqueue.detect(context(cloud))), []);
  });
});

describe('Ceph detection', () => {
  it('knows RBD stores by type, else by id or description', () => {
    const stores = findCephStores([
      { id: 'fast', type: 'rbd', description: undefined },
      { id: 'file', type: 'file', description: 'ceph backups on NFS' },
      { id: 'ceph-ssd', type: undefined, description: undefined },
      { id: 'b', type: undefined, description: 'RBD pool images' },
      { id: 'swift', type: undefined, description: 'object store' },
    ]);
    assert.deepEqual([...stores].sort(), ['b', 'ceph-ssd', 'fast']);
  });

  it('places an image on Ceph by its stores or an rbd:// URL', () => {
    const image = { id: 'x', status: 'active' };
    assert.equal(locateOnCeph({ ...image, stores: 'file,fast' }, new Set(['fast']), undefined).onCeph, true);
    assert.equal(
      locateOnCeph({ ...image, direct_url: 'rbd://f/images/x/snap' }, new Set(), undefined).onCeph,
      true,
    );
    assert.equal(locateOnCeph({ ...image, stores: 'file' }, new Set(['fast']), undefined).onCeph, false);
    assert.equal(locateOnCeph({ ...image, stores: 'file' }, new Set(), true).why, '--set ceph=yes');
  });
});
