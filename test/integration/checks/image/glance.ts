import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { isJsonObject, type JsonObject } from '../../../../src/core/json.js';
import { imagePath, listAllImages } from '../../../../src/openstack/image.js';
import type { CloudSession } from '../../../../src/openstack/types.js';
import { adminCloud, runCli } from '../../../support/integration.js';

/** Every image these tests create starts with it. */
export const imageTestPrefix = 'sd-test-image-';
/** This process's run: two runs of the same test file at once must not delete each other's images. */
export const testRun = randomBytes(3).toString('hex');

const createdSchema = z.object({ id: z.string(), status: z.string() }).catchall(z.unknown());

export interface TestImage {
  name: string;
  diskFormat?: string;
  properties?: Record<string, string>;
  hidden?: boolean;
  data?: Uint8Array;
}

/** Creates an image through the API (POST, then PUT of its data when given): active with data, else queued. */
export async function createTestImage(cloud: CloudSession, image: TestImage): Promise<string> {
  const created = await cloud.request('image', {
    method: 'POST',
    path: '/v2/images',
    body: {
      name: `${imageTestPrefix}${testRun}-${image.name}`,
      disk_format: image.diskFormat ?? 'raw',
      container_format: 'bare',
      visibility: 'private',
      ...(image.hidden ? { os_hidden: true } : {}),
      ...image.properties,
    },
    schema: createdSchema,
    acceptStatus: [201],
  });
  if (image.data) {
    const response = await cloud.stream('image', {
      method: 'PUT',
      path: `${imagePath(created.body.id)}/file`,
      body: image.data,
      contentType: 'application/octet-stream',
      contentLength: image.data.length,
      acceptStatus: [204],
    });
    await response.body?.cancel();
  }
  return created.body.id;
}

/**
 * Deletes images by name prefix; with `olderThanMs`, only those created that long ago (what crashed runs left,
 * never the images of a run still going on).
 */
export async function deleteTestImages(
  cloud: CloudSession,
  prefix: string,
  olderThanMs?: number,
): Promise<void> {
  const ids: string[] = [];
  const cutoff = olderThanMs === undefined ? undefined : Date.now() - olderThanMs;
  for await (const image of listAllImages(cloud)) {
    if (!image.name?.startsWith(prefix)) continue;
    if (cutoff !== undefined && Date.parse(image.created_at ?? '') > cutoff) continue;
    ids.push(image.id);
  }
  for (const id of ids) {
    await cloud.request('image', { method: 'DELETE', path: imagePath(id), acceptStatus: [204, 404] });
  }
}

/** Leftovers of crashed runs of any image test file, older than an hour. */
export function deleteStaleTestImages(cloud: CloudSession): Promise<void> {
  return deleteTestImages(cloud, imageTestPrefix, 3_600_000);
}

/** The image as Glance returns it, without `updated_at` (which a patch and its undo necessarily move). */
export async function readImageDocument(cloud: CloudSession, id: string): Promise<JsonObject> {
  const response = await cloud.request('image', { path: imagePath(id) });
  if (!isJsonObject(response.body)) throw new Error(`GET image ${id}: not an object`);
  const { updated_at: _updatedAt, ...rest } = response.body;
  return rest;
}

/** Some raw bytes: a disk that starts with zeros, as a blank raw image does. */
export function rawBytes(length = 128 * 1024): Uint8Array {
  return new Uint8Array(length);
}

/** A real qcow2 file made by qemu-img (package qemu-utils). */
export function qcow2Bytes(): Uint8Array {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'sd-test-image-'));
  try {
    const file = path.join(directory, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '64M']);
    return new Uint8Array(readFileSync(file));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

const findingSchema = z.object({
  severity: z.string(),
  resource: z.object({ type: z.string(), id: z.string(), name: z.string().nullable().optional() }),
  message: z.string(),
  fixable: z.boolean(),
  evidence: z.record(z.string(), z.unknown()),
});
export type ReportedFinding = z.infer<typeof findingSchema>;
const checkDocumentSchema = z.object({
  exit_code: z.number(),
  checks: z.array(z.object({ id: z.string(), status: z.string(), findings: z.array(findingSchema) })),
});

/** `stackdoctor check ID -f json`, scoped to the given images: the findings by image id. */
export async function runImageCheck(
  checkId: string,
  ids: readonly string[],
  extra: readonly string[] = [],
): Promise<Map<string, ReportedFinding>> {
  const result = await runCli([
    'check',
    checkId,
    '-f',
    'json',
    '--os-cloud',
    adminCloud,
    '--set',
    `image=${ids.join(',')}`,
    ...extra,
  ]);
  if (result.code === 3) throw new Error(`stackdoctor check failed: ${result.stderr}${result.stdout}`);
  const document = checkDocumentSchema.parse(JSON.parse(result.stdout));
  const check = document.checks.find((entry) => entry.id === checkId);
  if (!check) throw new Error(`no result for ${checkId}: ${result.stdout}`);
  if (check.status === 'error' || check.status === 'skipped')
    throw new Error(`${checkId} ${check.status}: ${result.stdout}`);
  return new Map(check.findings.map((finding) => [finding.resource.id, finding]));
}

/** `fix --apply` then the run id it printed. */
export async function applyImageFix(
  checkId: string,
  ids: readonly string[],
  journalDir: string,
  extra: readonly string[] = [],
) {
  const result = await runCli([
    'fix',
    checkId,
    '--apply',
    '--os-cloud',
    adminCloud,
    '--journal-dir',
    journalDir,
    '--set',
    `image=${ids.join(',')}`,
    ...extra,
  ]);
  const runId = /journal: run (\S+)/.exec(result.stderr)?.[1];
  return { ...result, runId };
}

export function undoRun(runId: string, journalDir: string) {
  return runCli(['undo', runId, '--apply', '--os-cloud', adminCloud, '--journal-dir', journalDir]);
}
