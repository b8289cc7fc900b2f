import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { z } from 'zod';
import {
  type Check,
  type CheckContext,
  defineCheck,
  type FindingInput,
  type FixStep,
  type Operation,
} from '../../core/check.js';
import { StackdoctorError, UsageError } from '../../core/errors.js';
import type { Json } from '../../core/json.js';
import { escapePointerToken } from '../../core/json.js';
import {
  type ConversionPlan,
  type ConvertDeps,
  createRawCopy,
  defaultRetiredSuffix,
  deleteRawCopy,
  findWhyNotConvertible,
  formatBytes,
  planConversion,
  rawCopyArgsSchema,
  replacedByProperty,
  toRawCopyArgs,
} from '../../images/convert.js';
import { ImageConvertError } from '../../images/convert-error.js';
import { listImageMembers } from '../../images/convert-glance.js';
import {
  getImage,
  type Image,
  imageMetadata,
  imagePath,
  jsonPatchContentType,
  readImageHead,
} from '../../openstack/image.js';
import { headBytes, inspectHead } from './qcow2-format.js';
import { imageScopeParameters, sweepImages } from './sweep.js';

export const convertParameters = {
  tmp_dir: 'directory for the download and the raw file (default: the system temporary directory)',
  deactivate_old: 'yes|no: also deactivate the retired qcow2 image (default no)',
  retired_suffix: 'appended to the retired image’s name (default " (qcow2, retired YYYY-MM-DD)")',
} as const;

export interface ConvertCheckDeps {
  convert?: ConvertDeps;
  /** The new image's id for a source image, chosen before it exists so the journal can name it. */
  newImageId?: (sourceId: string) => string;
}

function readYesNo(parameters: Readonly<Record<string, string>>, name: string): boolean {
  const value = parameters[name] ?? 'no';
  if (/^(yes|true|1)$/i.test(value)) return true;
  if (/^(no|false|0)$/i.test(value)) return false;
  throw new UsageError(`--set ${name}=${value}: expected yes or no`);
}

function buildFinding(image: Image): FindingInput {
  const why = findWhyNotConvertible(image);
  return {
    resource: { type: 'image', id: image.id, name: image.name ?? undefined },
    message:
      why === undefined
        ? `qcow2 image: convert it to raw with \`stackdoctor image convert ${image.id}\` (the old image is kept, renamed and hidden)`
        : `qcow2 image that cannot be converted automatically: ${why}`,
    evidence: {
      disk_format: image.disk_format ?? null,
      size: image.size ?? null,
      virtual_size: image.virtual_size ?? null,
      visibility: image.visibility ?? null,
      protected: image.protected ?? null,
      os_hidden: image.os_hidden ?? null,
    },
    fixable: why === undefined,
  };
}

/** Qcow2 images still in service: active and not already replaced by a conversion. */
function isConversionCandidate(image: Image): boolean {
  return (
    image.disk_format === 'qcow2' && image.status === 'active' && image[replacedByProperty] === undefined
  );
}

function buildPatchOperation(id: string, patch: Json): Operation {
  return {
    kind: 'http',
    service: 'image',
    method: 'PATCH',
    path: imagePath(id),
    contentType: jsonPatchContentType,
    body: patch,
  };
}

/** The header must already look safe before gigabytes are downloaded; the full inspection follows the download. */
async function refuseUnsafeHead(ctx: CheckContext, image: Image): Promise<void> {
  const head = await readImageHead(ctx.cloud, image.id, headBytes);
  if (head === null) return;
  const inspection = await inspectHead(head.bytes, 'qcow2');
  if (inspection.problems.length === 0) return;
  const described = inspection.problems
    .map((p) => `${p.rule}${p.offset === undefined ? '' : ` at offset ${p.offset}`}: ${p.message}`)
    .join('; ');
  throw new ImageConvertError(
    'convert-unsafe-image',
    `unsafe image ${image.id}, refused before download: ${described}`,
    { hint: 'the image may be crafted to make qemu-img read host files (OSSA-2024-001); inspect it offline' },
  );
}

/** The steps of one conversion, in the order they are applied (and undone in reverse). */
export function buildConversionSteps(plan: ConversionPlan): FixStep[] {
  const old = plan.source;
  const oldResource = { type: 'image', id: old.id, name: old.name ?? undefined };
  const priorState = imageMetadata(old);
  const space =
    plan.tempBytesNeeded === undefined
      ? `temp space: ${formatBytes(plan.storedBytes)} + the virtual size`
      : `temp space ≤ ${formatBytes(plan.tempBytesNeeded)} of ${formatBytes(plan.tempBytesFree)} free in ${plan.tmpDir}`;
  const steps: FixStep[] = [
    {
      describe:
        `create raw image ${plan.newImageId} "${old.name ?? ''}" from qcow2 ${old.id}: download ${formatBytes(plan.storedBytes)}, ` +
        `virtual ${plan.virtualBytes === undefined ? 'unknown' : formatBytes(plan.virtualBytes)}, ${space}; ` +
        `${plan.members.length} member(s)${plan.protect ? ', protected once verified' : ''}`,
      resource: { type: 'image', id: plan.newImageId, name: old.name ?? undefined },
      apply: { kind: 'procedure', name: 'create-raw-copy', args: toRawCopyArgs(plan) },
      undo: {
        kind: 'procedure',
        name: 'delete-raw-copy',
        args: { image_id: plan.newImageId, source_id: old.id },
      },
      priorState: { source: priorState, members: plan.members.map((m) => ({ ...m })) },
      after: {
        service: 'image',
        path: imagePath(plan.newImageId),
        expect: [
          { pointer: '/status', value: 'active' },
          { pointer: '/disk_format', value: 'raw' },
        ],
      },
    },
    {
      describe: `rename qcow2 image ${old.id} to "${plan.retiredName}" and mark it replaced by ${plan.newImageId}`,
      resource: oldResource,
      apply: buildPatchOperation(old.id, [
        { op: 'replace', path: '/name', value: plan.retiredName },
        { op: 'add', path: `/${escapePointerToken(replacedByProperty)}`, value: plan.newImageId },
      ]),
      undo: buildPatchOperation(old.id, [
        { op: 'replace', path: '/name', value: old.name ?? null },
        { op: 'remove', path: `/${escapePointerToken(replacedByProperty)}` },
      ]),
      priorState,
      after: {
        service: 'image',
        path: imagePath(old.id),
        expect: [
          { pointer: '/name', value: plan.retiredName },
          { pointer: `/${escapePointerToken(replacedByProperty)}`, value: plan.newImageId },
        ],
      },
    },
  ];
  if (old.os_hidden !== true) {
    steps.push({
      describe: `hide qcow2 image ${old.id} from image lists (os_hidden); it stays usable by id`,
      resource: oldResource,
      apply: buildPatchOperation(old.id, [{ op: 'replace', path: '/os_hidden', value: true }]),
      undo: buildPatchOperation(old.id, [{ op: 'replace', path: '/os_hidden', value: false }]),
      priorState,
      after: { service: 'image', path: imagePath(old.id), expect: [{ pointer: '/os_hidden', value: true }] },
    });
  }
  if (plan.deactivateOld) {
    steps.push({
      describe: `deactivate qcow2 image ${old.id} (its data can no longer be downloaded; reactivate undoes it)`,
      resource: oldResource,
      apply: {
        kind: 'http',
        service: 'image',
        method: 'POST',
        path: `${imagePath(old.id)}/actions/deactivate`,
      },
      undo: {
        kind: 'http',
        service: 'image',
        method: 'POST',
        path: `${imagePath(old.id)}/actions/reactivate`,
      },
      priorState,
      after: {
        service: 'image',
        path: imagePath(old.id),
        expect: [{ pointer: '/status', value: 'deactivated' }],
      },
      destructive: true,
    });
  }
  return steps;
}

const deleteArgsSchema = z.object({ image_id: z.string(), source_id: z.string() });

function parseArgs<T>(schema: z.ZodType<T>, args: unknown, procedure: string): T {
  const parsed = schema.safeParse(args);
  if (!parsed.success)
    throw new StackdoctorError('journal', `${procedure}: the journaled arguments are malformed`);
  return parsed.data;
}

/** Reads the settings of a conversion from `--set` parameters (the CLI's `image convert` options map onto them). */
export function readConversionSettings(parameters: Readonly<Record<string, string>>, now: Date) {
  return {
    tmpDir: parameters.tmp_dir ?? os.tmpdir(),
    retiredSuffix: parameters.retired_suffix ?? defaultRetiredSuffix(now),
    deactivateOld: readYesNo(parameters, 'deactivate_old'),
  };
}

/** Plans one image's conversion: read-only (the image, its members, the first 64 KiB, free space). */
export async function planImageConversion(
  ctx: CheckContext,
  image: Image,
  newImageId: string,
): Promise<ConversionPlan> {
  const why = findWhyNotConvertible(image);
  if (why !== undefined) throw new ImageConvertError('convert-not-convertible', `image ${image.id}: ${why}`);
  await refuseUnsafeHead(ctx, image);
  const members = await listImageMembers(ctx.cloud, image);
  return planConversion(image, { ...readConversionSettings(ctx.parameters, ctx.now()), newImageId, members });
}

export function createQcow2ConvertCheck(deps: ConvertCheckDeps = {}): Check {
  const newImageId = deps.newImageId ?? (() => randomUUID());
  return defineCheck({
    meta: {
      id: 'image/qcow2-convert',
      title: 'QCOW2 images that can be replaced by a RAW copy',
      description:
        'Each active qcow2 image, as a conversion the fix carries out: a verified RAW copy with the same ' +
        'metadata and members, then the old image renamed, hidden and optionally deactivated — never deleted.',
      severity: 'info',
      targets: ['cloud'],
      requires: { services: ['image'], admin: true },
      references: [
        'https://docs.openstack.org/glance/latest/admin/interoperable-image-import.html#the-image-conversion-plugin',
        'https://security.openstack.org/ossa/OSSA-2024-001.html',
        'https://docs.openstack.org/api-ref/image/v2/',
        'OSISM operators guide: Support of QCOW2 images',
      ],
      parameters: {
        image: imageScopeParameters.image,
        project: imageScopeParameters.project,
        ...convertParameters,
      },
      fix: {
        // Each conversion downloads and uploads a whole image: never part of a blanket `fix --apply`.
        safety: 'confirm',
        reversible: true,
        description:
          'creates a verified RAW copy, then renames and hides the old image (deactivates it with ' +
          'deactivate_old=yes); undo deletes the copy and restores the old image',
      },
    },
    async *detect(ctx) {
      readConversionSettings(ctx.parameters, ctx.now());
      for (const image of await sweepImages(ctx)) {
        if (isConversionCandidate(image)) yield buildFinding(image);
      }
    },
    async recheck(finding, ctx) {
      const image = await getImage(ctx.cloud, finding.resource.id);
      if (image === null || !isConversionCandidate(image)) return null;
      return buildFinding(image);
    },
    async plan(finding, ctx) {
      const image = await getImage(ctx.cloud, finding.resource.id);
      if (image === null) return [];
      const plan = await planImageConversion(ctx, image, newImageId(image.id));
      if (plan.tempBytesNeeded !== undefined && plan.tempBytesNeeded > plan.tempBytesFree) {
        throw new ImageConvertError(
          'convert-disk-space',
          `not enough disk in ${plan.tmpDir}: ${formatBytes(plan.tempBytesNeeded)} needed (download + raw), ${formatBytes(plan.tempBytesFree)} free`,
          { hint: 'free space or choose another directory (--tmp-dir, --set tmp_dir=…)' },
        );
      }
      return buildConversionSteps(plan);
    },
    procedures: {
      'create-raw-copy': async (args, ctx) => {
        const parsed = parseArgs(rawCopyArgsSchema, args, 'create-raw-copy');
        const result = await createRawCopy(ctx.cloud, parsed, ctx.signal, deps.convert);
        return {
          summary:
            `created raw image ${result.newImageId} (${formatBytes(result.size)}, ${result.hashAlgo} verified)` +
            (result.memberStatusesNotCopied.length > 0
              ? `; member status left pending for ${result.memberStatusesNotCopied.join(', ')} (this cloud lets only the member set it)`
              : ''),
          details: {
            image_id: result.newImageId,
            size: result.size,
            checksum: result.checksum,
            os_hash_algo: result.hashAlgo,
            os_hash_value: result.hashValue,
            member_status_not_copied: result.memberStatusesNotCopied,
          },
        };
      },
      'delete-raw-copy': async (args, ctx) => {
        const parsed = parseArgs(deleteArgsSchema, args, 'delete-raw-copy');
        const existed = await deleteRawCopy(ctx.cloud, parsed.image_id);
        return {
          summary: existed
            ? `deleted raw image ${parsed.image_id} (the copy of ${parsed.source_id})`
            : `raw image ${parsed.image_id} was already gone`,
        };
      },
    },
  });
}

export default createQcow2ConvertCheck();
