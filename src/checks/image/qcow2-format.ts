import { defineCheck, type FindingInput, type Severity } from '../../core/check.js';
import { describeError, UsageError } from '../../core/errors.js';
import type { ByteSource } from '../../images/byte-source.js';
import { type ImageInspection, inspectImage } from '../../images/format-inspector.js';
import { type Image, readImageHead } from '../../openstack/image.js';
import {
  type CephEvidence,
  cephParameter,
  findCephStores,
  imageScopeParameters,
  listStoresOnce,
  locateOnCeph,
  readCephParameter,
  sweepImages,
} from './sweep.js';

/** Every detector of §7.4 looks inside the first 64 KiB (ISO's descriptor at 32 KiB included). */
export const headBytes = 64 * 1024;
/** Parallel Range requests: enough to hide latency, few enough not to load Glance's store. */
const headReadConcurrency = 8;
/** Kernels and ramdisks are not disks; ploop has no inspector. */
const unreadableFormats = new Set(['aki', 'ari', 'ploop']);
/** Formats Nova's RBD backend cannot clone (it can clone raw and iso only). */
const nonRawDiskFormats = new Set(['qcow2', 'qed', 'vmdk', 'vhd', 'vhdx', 'vdi', 'ploop']);
/**
 * Inspector findings that the first 64 KiB settle. Others (table bounds, footers, region tables) need reads
 * further into the file and are left to `stackdoctor image convert`, which inspects the whole header.
 */
const headOnlyRules = new Set([
  'qcow2.backing-file',
  'qcow2.data-file',
  'qed.backing-file',
  'format.multiple',
  'vmdk.create-type',
]);

export type HeadResult =
  | { kind: 'read'; status: number; inspection: Pick<ImageInspection, 'format' | 'formats' | 'problems'> }
  | { kind: 'skipped'; reason: string }
  | { kind: 'failed'; reason: string };

/** A source that only has the head: length unknown, so no detector looks for a footer it cannot see. */
function headSource(bytes: Uint8Array): ByteSource {
  return {
    size: undefined,
    read: async (offset, length) =>
      bytes.subarray(Math.min(offset, bytes.length), Math.min(bytes.length, offset + length)),
  };
}

export async function inspectHead(
  bytes: Uint8Array,
  claimedFormat: string | undefined,
): Promise<Pick<ImageInspection, 'format' | 'formats' | 'problems'>> {
  const inspection = await inspectImage(
    headSource(bytes),
    claimedFormat === undefined ? {} : { claimedFormat },
  );
  return {
    format: inspection.format,
    formats: inspection.formats,
    problems: inspection.problems.filter(
      (problem) => headOnlyRules.has(problem.rule) || problem.rule === 'format.mismatch',
    ),
  };
}

function convertCommand(image: Image): string {
  return `stackdoctor image convert ${image.id}`;
}

/** Pure decision for one active image; exported for the unit tests' tables. */
export function judgeImageFormat(image: Image, head: HeadResult, ceph: CephEvidence): FindingInput | null {
  const declared = image.disk_format ?? undefined;
  const problems: { severity: Severity; message: string }[] = [];
  const inspection = head.kind === 'read' ? head.inspection : undefined;
  const mismatch = inspection?.problems.some((problem) => problem.rule === 'format.mismatch') ?? false;
  const detected = inspection?.format;

  if (mismatch) {
    problems.push({
      severity: 'critical',
      message:
        `disk_format is ${declared ?? 'unset'} but the data is ${detected}: Nova refuses to boot it ` +
        '("Image content does not match disk_format")' +
        (declared === 'raw' && ceph.onCeph
          ? ' and an RBD clone would hand the guest the container bytes as its disk'
          : ''),
    });
  }
  for (const problem of inspection?.problems ?? []) {
    if (problem.rule === 'format.mismatch') continue;
    problems.push({
      severity: 'critical',
      message: `unsafe header: ${problem.message} (Nova and Glance refuse it)`,
    });
  }
  const effective = mismatch && detected !== undefined ? detected : declared;
  if (effective === 'qcow2' || (ceph.onCeph && effective !== undefined && nonRawDiskFormats.has(effective))) {
    problems.push(
      ceph.onCeph
        ? {
            severity: 'critical',
            message: `${effective} image on Ceph (${ceph.why}): Nova cannot clone it copy-on-write, every boot on a new host downloads and converts it`,
          }
        : {
            severity: 'warning',
            message: `${effective} image: use RAW images (operators' guide); it must be converted before it can live on Ceph`,
          },
    );
  }
  if (problems.length === 0) return null;
  const severity: Severity = problems.some((problem) => problem.severity === 'critical')
    ? 'critical'
    : 'warning';
  return {
    resource: { type: 'image', id: image.id, name: image.name ?? undefined },
    message: `${problems.map((problem) => problem.message).join('; ')}; convert with \`${convertCommand(image)}\``,
    severity,
    evidence: {
      disk_format: declared ?? null,
      detected_format: detected ?? null,
      detected_formats: inspection?.formats ?? null,
      header_problems: (inspection?.problems ?? []).map((problem) => problem.rule),
      header_read:
        head.kind === 'read'
          ? head.status === 206
            ? 'range (206)'
            : 'stopped after 64 KiB (200)'
          : `${head.kind}: ${head.reason}`,
      on_ceph: ceph.onCeph,
      ceph_evidence: ceph.why,
      size: image.size ?? null,
      visibility: image.visibility ?? null,
      owner: image.owner ?? null,
      convert: convertCommand(image),
    },
    fixable: false,
  };
}

function readHeadersParameter(parameters: Readonly<Record<string, string>>): boolean {
  const value = parameters.read_headers ?? 'yes';
  if (/^(yes|true|1)$/i.test(value)) return true;
  if (/^(no|false|0)$/i.test(value)) return false;
  throw new UsageError(`--set read_headers=${value}: expected yes or no`);
}

function whyNotRead(image: Image, readHeaders: boolean): string | undefined {
  if (!readHeaders) return '--set read_headers=no';
  if (!image.size) return 'no data';
  if (image.disk_format && unreadableFormats.has(image.disk_format))
    return `disk_format ${image.disk_format} is not inspected`;
  return undefined;
}

export default defineCheck({
  meta: {
    id: 'image/qcow2-format',
    title: 'QCOW2 images, and images whose data is not what disk_format says',
    description:
      "QCOW2 (or any non-raw) images on Ceph defeat Nova's copy-on-write clones; an image whose bytes are in " +
      'another format than its disk_format is refused by patched Nova. Only the first 64 KiB are read.',
    severity: 'warning',
    targets: ['cloud'],
    requires: { services: ['image'] },
    references: [
      'https://docs.openstack.org/nova/latest/configuration/config.html#libvirt.images_type',
      'https://security.openstack.org/ossa/OSSA-2024-001.html',
      'https://www.qemu.org/docs/master/interop/qcow2.html',
      'OSISM operators guide: Support of QCOW2 images',
    ],
    parameters: {
      ...imageScopeParameters,
      ...cephParameter,
      read_headers:
        'yes|no: read the first 64 KiB of each active image to compare its format with disk_format (default yes)',
    },
  },
  async *detect(ctx) {
    const readHeaders = readHeadersParameter(ctx.parameters);
    const declaredCeph = readCephParameter(ctx.parameters);
    const [images, stores] = await Promise.all([
      sweepImages(ctx),
      declaredCeph === undefined ? listStoresOnce(ctx.cloud) : Promise.resolve([]),
    ]);
    const cephStores = findCephStores(stores);
    const active = images.filter((image) => image.status === 'active');
    const heads: HeadResult[] = new Array(active.length);
    let next = 0;
    const worker = async () => {
      while (next < active.length && !ctx.signal.aborted) {
        const index = next++;
        heads[index] = await readOneHead(ctx, active[index]!, readHeaders);
      }
    };
    await Promise.all(Array.from({ length: Math.min(headReadConcurrency, active.length) }, worker));
    if (ctx.signal.aborted) return;
    for (const [index, image] of active.entries()) {
      const finding = judgeImageFormat(image, heads[index]!, locateOnCeph(image, cephStores, declaredCeph));
      if (finding) yield finding;
    }
  },
});

async function readOneHead(
  ctx: { cloud: Parameters<typeof readImageHead>[0] },
  image: Image,
  readHeaders: boolean,
): Promise<HeadResult> {
  const skip = whyNotRead(image, readHeaders);
  if (skip !== undefined) return { kind: 'skipped', reason: skip };
  try {
    const head = await readImageHead(ctx.cloud, image.id, headBytes);
    if (head === null) return { kind: 'skipped', reason: 'no data' };
    return {
      kind: 'read',
      status: head.status,
      inspection: await inspectHead(head.bytes, image.disk_format ?? undefined),
    };
  } catch (error) {
    // One unreadable image (store down, download forbidden by policy) must not hide the others.
    return { kind: 'failed', reason: describeError(error) };
  }
}
