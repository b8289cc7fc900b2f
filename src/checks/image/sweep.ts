import { readFile } from 'node:fs/promises';
import type { CheckContext } from '../../core/check.js';
import { UsageError } from '../../core/errors.js';
import {
  type Image,
  type ImageFilters,
  type ImageStore,
  imageDataPlaces,
  listImagePass,
  listImageStores,
} from '../../openstack/image.js';
import type { CloudSession } from '../../openstack/types.js';
import { type ImagePolicy, ImagePolicyError, loadImagePolicy } from './policy.js';

/** The `--set` parameters every image check takes; the CLI refuses names no selected check declares. */
export const imageScopeParameters = {
  image: 'only these images: comma-separated image ids',
  project: 'only the images owned by this project id',
  policy:
    'an image policy file (stackdoctor.yaml, docs/policy.md) whose wanted properties override the defaults',
} as const;

const uuidLike = /^[0-9a-fA-F-]{32,36}$/;

/** `--set image=ID,…` and `--set project=ID` as Glance list filters. */
export function readImageScope(parameters: Readonly<Record<string, string>>): ImageFilters {
  const filters: { ids?: string[]; owner?: string } = {};
  if (parameters.image !== undefined) {
    const ids = parameters.image.split(',').map((id) => id.trim());
    const bad = ids.find((id) => !uuidLike.test(id));
    if (bad !== undefined)
      throw new UsageError(`--set image=${parameters.image}: "${bad}" is not an image id`);
    filters.ids = ids;
  }
  if (parameters.project !== undefined) {
    if (parameters.project.trim() === '') throw new UsageError('--set project= needs a project id');
    filters.owner = parameters.project.trim();
  }
  return filters;
}

// One sweep per session and scope, shared by every image check of a run (they run concurrently and all
// want the same listing). A session lives for one command; fixes re-read single images with getImage.
const sweeps = new WeakMap<CloudSession, Map<string, Promise<readonly Image[]>>>();

async function collectPass(cloud: CloudSession, filters: ImageFilters, hidden: boolean): Promise<Image[]> {
  const images: Image[] = [];
  for await (const image of listImagePass(cloud, filters, hidden)) images.push(image);
  return images;
}

/** Both passes at once: the hidden one (usually a page or two) hides behind the visible one. */
async function collectImages(cloud: CloudSession, filters: ImageFilters): Promise<readonly Image[]> {
  const [visible, hidden] = await Promise.all([
    collectPass(cloud, filters, false),
    collectPass(cloud, filters, true),
  ]);
  return [...visible, ...hidden];
}

/** Every image in scope, listed once per session however many image checks ask. */
export function sweepImages(ctx: CheckContext): Promise<readonly Image[]> {
  const filters = readImageScope(ctx.parameters);
  const key = JSON.stringify(filters);
  let perSession = sweeps.get(ctx.cloud);
  if (!perSession) {
    perSession = new Map();
    sweeps.set(ctx.cloud, perSession);
  }
  let sweep = perSession.get(key);
  if (!sweep) {
    sweep = collectImages(ctx.cloud, filters);
    perSession.set(key, sweep);
  }
  return sweep;
}

const policies = new WeakMap<CloudSession, Map<string, Promise<ImagePolicy>>>();

async function readPolicyFile(file: string): Promise<ImagePolicy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
    throw new ImagePolicyError(`${file}: cannot read the image policy (${code})`);
  }
  return loadImagePolicy(text, file);
}

/** The policy given with `--set policy=FILE`, read once per session; undefined without one. */
export function loadRunPolicy(ctx: CheckContext): Promise<ImagePolicy | undefined> {
  const file = ctx.parameters.policy;
  if (file === undefined) return Promise.resolve(undefined);
  let perSession = policies.get(ctx.cloud);
  if (!perSession) {
    perSession = new Map();
    policies.set(ctx.cloud, perSession);
  }
  let policy = perSession.get(file);
  if (!policy) {
    policy = readPolicyFile(file);
    perSession.set(file, policy);
  }
  return policy;
}

const storeLists = new WeakMap<CloudSession, Promise<ImageStore[]>>();

/** Glance's stores, asked once per session. */
export function listStoresOnce(cloud: CloudSession): Promise<ImageStore[]> {
  let stores = storeLists.get(cloud);
  if (!stores) {
    stores = listImageStores(cloud);
    storeLists.set(cloud, stores);
  }
  return stores;
}

const cephWords = /\b(rbd|ceph)\b/i;

/** Which stores are Ceph RBD: by type when Glance says it, else by id or description. */
export function findCephStores(stores: readonly ImageStore[]): Set<string> {
  return new Set(
    stores
      .filter((store) =>
        store.type === undefined
          ? cephWords.test(store.id) || cephWords.test(store.description ?? '')
          : store.type === 'rbd',
      )
      .map((store) => store.id),
  );
}

export type CephEvidence = { onCeph: boolean; why: string };

/**
 * Whether an image's data is on Ceph RBD: an `rbd://` location or direct URL, or a store Glance reports as
 * RBD. `--set ceph=yes|no` states it for clouds that show neither (single-store Glance hides both).
 */
export function locateOnCeph(
  image: Image,
  cephStores: ReadonlySet<string>,
  declared: boolean | undefined,
): CephEvidence {
  if (declared !== undefined) return { onCeph: declared, why: `--set ceph=${declared ? 'yes' : 'no'}` };
  const places = imageDataPlaces(image);
  const rbdUrl = places.urls.find((url) => url.startsWith('rbd://'));
  if (rbdUrl !== undefined) return { onCeph: true, why: 'its location is an rbd:// URL' };
  const store = places.storeIds.find((id) => cephStores.has(id));
  if (store !== undefined) return { onCeph: true, why: `store "${store}" is RBD` };
  return {
    onCeph: false,
    why:
      places.storeIds.length > 0
        ? `stores ${places.storeIds.join(', ')} are not RBD`
        : 'Glance reports no RBD store or location',
  };
}

export const cephParameter = {
  ceph: 'yes|no: the images are (not) on Ceph RBD, when Glance does not show stores or locations',
} as const;

export function readCephParameter(parameters: Readonly<Record<string, string>>): boolean | undefined {
  const value = parameters.ceph;
  if (value === undefined) return undefined;
  if (/^(yes|true|1)$/i.test(value)) return true;
  if (/^(no|false|0)$/i.test(value)) return false;
  throw new UsageError(`--set ceph=${value}: expected yes or no`);
}
