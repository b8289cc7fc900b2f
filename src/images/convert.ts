import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { describeError, UsageError } from '../core/errors.js';
import type { Json, JsonObject } from '../core/json.js';
import { extraProperties, type Image } from '../openstack/image.js';
import type { CloudSession } from '../openstack/types.js';
import { openFileByteSource } from './byte-source.js';
import { ImageConvertError } from './convert-error.js';
import {
  addImageMember,
  createImageRecord,
  deleteImageRecord,
  type ImageMember,
  patchImage,
  setImageMemberStatus,
  waitForImageSettled,
} from './convert-glance.js';
import {
  abortedError,
  downloadImageToFile,
  hashFile,
  readFreeBytes,
  toNodeHashName,
  uploadImageFromFile,
} from './convert-transfer.js';
import { type ImageInspection, type InspectionProblem, inspectImage } from './format-inspector.js';
import {
  crossCheckInfo,
  type QemuImgCommandOptions,
  QemuImgError,
  qemuImgConvert,
  qemuImgInfo,
} from './qemu-img.js';

/** Set on the retired image: which image replaced it. Also how a second conversion knows it was done. */
export const replacedByProperty = 'stackdoctor_replaced_by';

/**
 * Properties a copy must not carry: Glance reserves `os_glance_*`, and openstacksdk's `owner_specified`
 * hashes describe the qcow2 bytes the owner uploaded, which the new image no longer holds.
 */
function isPropertyNotCopied(name: string): boolean {
  return (
    name.startsWith('os_glance_') ||
    name === replacedByProperty ||
    name === 'owner_specified.openstack.md5' ||
    name === 'owner_specified.openstack.sha256'
  );
}

/** The suffix the retired image's name gets unless `--name-suffix` says otherwise. */
export function defaultRetiredSuffix(now: Date): string {
  return ` (qcow2, retired ${now.toISOString().slice(0, 10)})`;
}

/** Why this image cannot be converted, or undefined when it can. Pure. */
export function findWhyNotConvertible(image: Image): string | undefined {
  const replacedBy = image[replacedByProperty];
  if (typeof replacedBy === 'string') return `already converted: replaced by image ${replacedBy}`;
  if (image.disk_format !== 'qcow2') return `disk_format is ${image.disk_format ?? 'unset'}, not qcow2`;
  if (image.status !== 'active') return `status is ${image.status}; only active images have data to convert`;
  if ((image.container_format ?? 'bare') !== 'bare')
    return `container_format is ${image.container_format}; only bare images are converted`;
  if (!image.size) return 'the image has no data';
  if (!image.os_hash_value && !image.checksum)
    return 'Glance records no hash of the data (no os_hash_value, no checksum): the download cannot be verified';
  if (
    image.os_hash_value &&
    image.os_hash_algo &&
    toNodeHashName(image.os_hash_algo) === undefined &&
    !image.checksum
  )
    return `cannot compute ${image.os_hash_algo} to verify the download`;
  if (Object.keys(extraProperties(image)).some((name) => name.startsWith('img_signature')))
    return 'the image is signed (img_signature*): the signature covers the qcow2 bytes and would not match a raw copy';
  return undefined;
}

export interface ConversionSettings {
  tmpDir: string;
  /** Appended to the old image's name when it is retired. */
  retiredSuffix: string;
  deactivateOld: boolean;
}

/** Everything the dry run shows and the apply step needs, computed by reading only. */
export interface ConversionPlan {
  source: Image;
  members: ImageMember[];
  storedBytes: number;
  virtualBytes: number | undefined;
  /** Worst case: the downloaded qcow2 and a fully allocated raw file side by side. */
  tempBytesNeeded: number | undefined;
  tempBytesFree: number;
  tmpDir: string;
  newImageId: string;
  createBody: JsonObject;
  notCopied: string[];
  retiredName: string;
  protect: boolean;
  deactivateOld: boolean;
  expected: ExpectedSource;
}

export interface ExpectedSource {
  size: number;
  hash_algo: string;
  hash_value: string;
  virtual_size: number | null;
}

function expectedSourceOf(image: Image): ExpectedSource {
  const algo = image.os_hash_algo ?? 'sha512';
  if (image.os_hash_value && toNodeHashName(algo) !== undefined) {
    return {
      size: image.size ?? 0,
      hash_algo: algo,
      hash_value: image.os_hash_value,
      virtual_size: image.virtual_size ?? null,
    };
  }
  return {
    size: image.size ?? 0,
    hash_algo: 'md5',
    hash_value: image.checksum ?? '',
    virtual_size: image.virtual_size ?? null,
  };
}

/** The new image's `POST /v2/images` body: the old image's metadata with only the format and id changed. */
export function buildCreateBody(image: Image, newImageId: string): { body: JsonObject; notCopied: string[] } {
  const body: JsonObject = {
    id: newImageId,
    name: image.name ?? null,
    disk_format: 'raw',
    container_format: 'bare',
    // Protected only once the data is in and verified: a protected half-made image could not be cleaned up.
    protected: false,
  };
  if (image.visibility !== undefined) body.visibility = image.visibility;
  if (image.os_hidden !== undefined) body.os_hidden = image.os_hidden;
  if (typeof image.owner === 'string') body.owner = image.owner;
  if (image.min_disk !== undefined) body.min_disk = image.min_disk;
  if (image.min_ram !== undefined) body.min_ram = image.min_ram;
  if (image.tags !== undefined) body.tags = [...image.tags];
  const notCopied: string[] = [];
  for (const [name, value] of Object.entries(extraProperties(image))) {
    if (isPropertyNotCopied(name)) notCopied.push(name);
    else body[name] = value;
  }
  return { body, notCopied };
}

/** Builds the plan for one image; reads only the free space of the temporary directory's file system. */
export async function planConversion(
  image: Image,
  options: ConversionSettings & { newImageId: string; members: ImageMember[] },
): Promise<ConversionPlan> {
  const why = findWhyNotConvertible(image);
  if (why !== undefined) throw new ImageConvertError('convert-not-convertible', `image ${image.id}: ${why}`);
  const { body, notCopied } = buildCreateBody(image, options.newImageId);
  const storedBytes = image.size ?? 0;
  const virtualBytes = image.virtual_size ?? undefined;
  return {
    source: image,
    members: options.members,
    storedBytes,
    virtualBytes,
    tempBytesNeeded: virtualBytes === undefined ? undefined : storedBytes + virtualBytes,
    tempBytesFree: await readFreeBytes(options.tmpDir).catch((error: unknown) => {
      throw new UsageError(`temporary directory ${options.tmpDir} cannot be used: ${describeError(error)}`, {
        hint: 'point --tmp-dir (or --set tmp_dir=) at an existing, writable directory',
      });
    }),
    tmpDir: options.tmpDir,
    newImageId: options.newImageId,
    createBody: body,
    notCopied,
    retiredName: `${image.name ?? image.id}${options.retiredSuffix}`,
    protect: image.protected === true,
    deactivateOld: options.deactivateOld,
    expected: expectedSourceOf(image),
  };
}

/** The `create-raw-copy` procedure's arguments as journaled; parsed again when the procedure runs. */
const jsonValueSchema: z.ZodType<Json> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(jsonValueSchema),
    z.record(z.string(), jsonValueSchema),
  ]),
);

export const rawCopyArgsSchema = z.object({
  source_id: z.string(),
  create: z.record(z.string(), jsonValueSchema),
  members: z.array(z.object({ member_id: z.string(), status: z.string() })),
  protect: z.boolean(),
  tmp_dir: z.string(),
  expected: z.object({
    size: z.number(),
    hash_algo: z.string(),
    hash_value: z.string(),
    virtual_size: z.number().nullable(),
  }),
});
export type RawCopyArgs = z.infer<typeof rawCopyArgsSchema>;

export function toRawCopyArgs(plan: ConversionPlan): JsonObject {
  return {
    source_id: plan.source.id,
    create: plan.createBody,
    members: plan.members.map((member) => ({ member_id: member.member_id, status: member.status })),
    protect: plan.protect,
    tmp_dir: plan.tmpDir,
    expected: { ...plan.expected },
  };
}

export type ConvertStage = 'download' | 'inspect' | 'convert' | 'create' | 'upload' | 'verify';

export interface ConvertProgress {
  stage: ConvertStage;
  /** For download, convert and upload: how far, as done/total (convert: percent of 100). */
  done?: number;
  total?: number;
}

export interface ConvertDeps {
  qemuImg?: QemuImgCommandOptions;
  onProgress?: (progress: ConvertProgress) => void;
  sleep?: (ms: number) => Promise<void>;
}

export interface RawCopyResult {
  newImageId: string;
  size: number;
  checksum: string | null;
  hashAlgo: string;
  hashValue: string;
  memberStatusesNotCopied: string[];
}

/**
 * Makes the raw copy: download (hashed, verified) → header inspection → qemu-img's own view → convert → the
 * output inspected → new image created, members added, data uploaded (hashed) → Glance's size and hashes
 * compared with ours. Nothing is created in Glance before the converted file is known good; if anything fails
 * after the new image exists, it is deleted again. The private temporary directory is removed in every case.
 */
export async function createRawCopy(
  cloud: CloudSession,
  args: RawCopyArgs,
  signal: AbortSignal,
  deps: ConvertDeps = {},
): Promise<RawCopyResult> {
  const report = deps.onProgress ?? (() => {});
  const newImageId = String(args.create.id);
  await ensureQemuImg(deps.qemuImg);
  const work = await mkdtemp(path.join(args.tmp_dir, 'stackdoctor-convert-'));
  let created = false;
  try {
    const virtual = args.expected.virtual_size ?? 0;
    const needed = args.expected.size + virtual;
    const free = await readFreeBytes(work);
    if (free < needed) {
      throw new ImageConvertError(
        'convert-disk-space',
        `not enough disk in ${args.tmp_dir}: ${formatBytes(needed)} needed (download ${formatBytes(args.expected.size)} + raw ${formatBytes(virtual)}), ${formatBytes(free)} free`,
        { hint: 'free space or point --tmp-dir at a larger file system' },
      );
    }
    const source = path.join(work, 'source.qcow2');
    report({ stage: 'download', done: 0, total: args.expected.size });
    const download = await downloadImageToFile(cloud, args.source_id, source, {
      algorithms: [args.expected.hash_algo],
      signal,
      onBytes: (done) => report({ stage: 'download', done, total: args.expected.size }),
    });
    const digest = download.digests[args.expected.hash_algo];
    if (download.bytes !== args.expected.size || digest !== args.expected.hash_value) {
      throw new ImageConvertError(
        'convert-hash-mismatch',
        `hash mismatch: image ${args.source_id} downloaded as ${download.bytes} bytes with ${args.expected.hash_algo} ${shortHash(digest)}, Glance records ${args.expected.size} bytes with ${shortHash(args.expected.hash_value)}`,
        { hint: 'the stored data is not what was uploaded (store corruption?): nothing was converted' },
      );
    }
    throwIfAborted(signal);
    report({ stage: 'inspect' });
    const inspection = await inspectFile(source, 'qcow2');
    refuseUnsafe(args.source_id, inspection.problems);
    const info = await qemuImgInfo(source, 'qcow2', { ...deps.qemuImg, signal });
    refuseUnsafe(args.source_id, crossCheckInfo(info, inspection).problems);
    const virtualSize = info['virtual-size'];
    // Glance may not have known the virtual size at plan time; now qemu-img does.
    const freeForRaw = await readFreeBytes(work);
    if (freeForRaw < virtualSize) {
      throw new ImageConvertError(
        'convert-disk-space',
        `not enough disk in ${args.tmp_dir} for the raw file: ${formatBytes(virtualSize)} needed, ${formatBytes(freeForRaw)} free`,
        { hint: 'free space or point --tmp-dir at a larger file system' },
      );
    }

    const converted = path.join(work, 'converted.raw');
    report({ stage: 'convert', done: 0, total: 100 });
    await qemuImgConvert({
      ...deps.qemuImg,
      src: source,
      srcFormat: 'qcow2',
      dst: converted,
      signal,
      onProgress: (percent) => report({ stage: 'convert', done: percent, total: 100 }),
    });
    // The source is no longer needed: give its space back before the upload.
    await rm(source, { force: true });
    const output = await inspectFile(converted, 'raw');
    const { size: convertedBytes } = await stat(converted);
    if (!output.safe || output.virtualSize !== virtualSize || convertedBytes !== virtualSize) {
      const why =
        output.problems.map(describeProblem).join('; ') ||
        `raw size ${convertedBytes}, expected ${virtualSize}`;
      throw new ImageConvertError(
        'convert-output-mismatch',
        `the converted file is not a plain ${virtualSize}-byte disk: ${why}`,
      );
    }
    throwIfAborted(signal);

    report({ stage: 'create' });
    created = true;
    await createImageRecord(cloud, args.create);
    const memberStatusesNotCopied: string[] = [];
    for (const member of args.members) {
      await addImageMember(cloud, newImageId, member.member_id);
      if (
        member.status !== 'pending' &&
        !(await setImageMemberStatus(cloud, newImageId, member.member_id, member.status))
      )
        memberStatusesNotCopied.push(`${member.member_id} (${member.status})`);
    }
    // One hash while uploading: the one Glance most likely records (the old image's algorithm, else its default).
    const uploadAlgorithm = args.expected.hash_algo === 'md5' ? 'sha512' : args.expected.hash_algo;
    report({ stage: 'upload', done: 0, total: convertedBytes });
    const upload = await uploadImageFromFile(cloud, newImageId, converted, {
      algorithms: [uploadAlgorithm],
      signal,
      onBytes: (done) => report({ stage: 'upload', done, total: convertedBytes }),
    });
    report({ stage: 'verify' });
    const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const stored = await waitForImageSettled(cloud, newImageId, { signal, sleep, attempts: 600 });
    throwIfAborted(signal);
    const hashAlgo = stored.os_hash_algo ?? uploadAlgorithm;
    const localHash = upload.digests[hashAlgo] ?? (await hashFile(converted, hashAlgo, signal));
    const mismatches: string[] = [];
    if (stored.status !== 'active') mismatches.push(`status ${stored.status}`);
    if (stored.size !== upload.bytes) mismatches.push(`size ${stored.size}, sent ${upload.bytes}`);
    if (stored.os_hash_value !== localHash)
      mismatches.push(
        `${hashAlgo} ${shortHash(stored.os_hash_value ?? 'none')}, sent ${shortHash(localHash)}`,
      );
    if (mismatches.length > 0) {
      throw new ImageConvertError(
        'convert-hash-mismatch',
        `hash mismatch: Glance stored image ${newImageId} differently from what was sent: ${mismatches.join(', ')}`,
      );
    }
    if (args.protect)
      await patchImage(cloud, newImageId, [{ op: 'replace', path: '/protected', value: true }]);
    return {
      newImageId,
      size: upload.bytes,
      checksum: stored.checksum ?? null,
      hashAlgo,
      hashValue: localHash,
      memberStatusesNotCopied,
    };
  } catch (error) {
    const failure = signal.aborted && !(error instanceof ImageConvertError) ? abortedError(error) : error;
    if (created) await removeHalfMadeImage(cloud, newImageId, failure);
    throw failure;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Undo of `createRawCopy`: deletes the new image (lifting `protected`); true when it existed. */
export function deleteRawCopy(cloud: CloudSession, imageId: string): Promise<boolean> {
  return deleteImageRecord(cloud, imageId);
}

async function removeHalfMadeImage(cloud: CloudSession, imageId: string, failure: unknown): Promise<void> {
  try {
    await deleteImageRecord(cloud, imageId);
  } catch (cleanupError) {
    if (failure instanceof Error) {
      failure.message += `; the new image ${imageId} could not be deleted (${cleanupError instanceof Error ? cleanupError.message : String(cleanupError)}): delete it with \`openstack image delete ${imageId}\``;
    }
  }
}

async function inspectFile(file: string, claimedFormat: string): Promise<ImageInspection> {
  const source = await openFileByteSource(file);
  try {
    return await inspectImage(source, { claimedFormat });
  } finally {
    await source.close();
  }
}

function describeProblem(problem: InspectionProblem): string {
  return `${problem.rule}${problem.offset === undefined ? '' : ` at offset ${problem.offset}`}: ${problem.message}`;
}

function refuseUnsafe(imageId: string, problems: readonly InspectionProblem[]): void {
  if (problems.length === 0) return;
  throw new ImageConvertError(
    'convert-unsafe-image',
    `unsafe image ${imageId}, refused before conversion: ${problems.map(describeProblem).join('; ')}`,
    { hint: 'the image may be crafted to make qemu-img read host files (OSSA-2024-001); inspect it offline' },
  );
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortedError(signal.reason);
}

/** Fails early, before any download, when qemu-img cannot be run at all. */
async function ensureQemuImg(options: QemuImgCommandOptions = {}): Promise<void> {
  const command = options.qemuImgCommand ?? 'qemu-img';
  await new Promise<void>((resolve, reject) => {
    execFile(command, ['--version'], (error) => {
      if (error && 'code' in error && error.code === 'ENOENT') {
        reject(
          new QemuImgError('qemu-img-missing', `${command} is not installed or not on PATH`, {
            hint: 'install qemu-utils (Debian/Ubuntu) or qemu-img (RHEL), and util-linux for prlimit',
          }),
        );
      } else if (error) {
        reject(new QemuImgError('qemu-img-failed', `${command} --version failed: ${error.message}`));
      } else resolve();
    });
  });
}

function shortHash(value: string | undefined): string {
  if (value === undefined) return 'none';
  return value.length > 16 ? `${value.slice(0, 16)}…` : value;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
