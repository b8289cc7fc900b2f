import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { getImage, type Image, imageSchema, listAllImages } from '../../src/openstack/image.js';
import type { CloudSession } from '../../src/openstack/types.js';

/** Glance fields that legitimately differ between an image and its raw copy. */
export const expectedToDiffer = new Set([
  'id',
  'disk_format',
  'checksum',
  'os_hash_value',
  'size',
  'created_at',
  'updated_at',
  'self',
  'file',
]);

/**
 * A qcow2 file with `dataMiB` of random data spread over a `virtualMiB` disk (in 1 MiB chunks every
 * other MiB, so it is neither sparse nor contiguous), and qemu-img's own raw conversion of it.
 */
export function makeQcow2(dir: string, name: string, dataMiB: number, virtualMiB: number) {
  const raw = path.join(dir, `${name}.source.raw`);
  writeFileSync(raw, '');
  execFileSync('truncate', ['-s', `${virtualMiB}M`, raw]);
  const stride = Math.max(1, Math.floor(virtualMiB / dataMiB));
  const fd = openSync(raw, 'r+');
  try {
    for (let chunk = 0; chunk < dataMiB; chunk++) {
      writeSync(fd, randomBytes(1024 * 1024), 0, 1024 * 1024, chunk * stride * 1024 * 1024);
    }
  } finally {
    closeSync(fd);
  }
  const qcow2 = path.join(dir, `${name}.qcow2`);
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  const qemuRaw = path.join(dir, `${name}.qemu.raw`);
  execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', qcow2, qemuRaw]);
  return { qcow2, qemuRaw };
}

export async function sha512File(file: string): Promise<string> {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk);
  return hash.digest('hex');
}

export interface TestImageSpec {
  name: string;
  file: string;
  diskFormat?: string;
  visibility?: string;
  properties?: Record<string, string>;
  tags?: string[];
  minDisk?: number;
  minRam?: number;
}

export async function uploadImage(cloud: CloudSession, spec: TestImageSpec): Promise<string> {
  const response = await cloud.request('image', {
    method: 'POST',
    path: '/v2/images',
    body: {
      name: spec.name,
      disk_format: spec.diskFormat ?? 'qcow2',
      container_format: 'bare',
      visibility: spec.visibility ?? 'private',
      tags: spec.tags ?? [],
      min_disk: spec.minDisk ?? 0,
      min_ram: spec.minRam ?? 0,
      ...spec.properties,
    },
    schema: imageSchema,
  });
  const id = response.body.id;
  const data = readFileSync(spec.file);
  const upload = await cloud.stream('image', {
    method: 'PUT',
    path: `/v2/images/${id}/file`,
    body: data,
    contentLength: data.length,
  });
  await upload.body?.cancel();
  return id;
}

export async function requireImage(cloud: CloudSession, id: string): Promise<Image> {
  const image = await getImage(cloud, id);
  if (image === null) throw new Error(`image ${id} is gone`);
  return image;
}

/** Every image (hidden ones too) whose name starts with the prefix. */
export async function listPrefixed(cloud: CloudSession, prefix: string): Promise<Image[]> {
  const images: Image[] = [];
  for await (const image of listAllImages(cloud)) if (image.name?.startsWith(prefix)) images.push(image);
  return images;
}

export async function deletePrefixed(cloud: CloudSession, prefix: string): Promise<void> {
  for (const image of await listPrefixed(cloud, prefix)) {
    if (image.protected) {
      await cloud.request('image', {
        method: 'PATCH',
        path: `/v2/images/${image.id}`,
        contentType: 'application/openstack-images-v2.1-json-patch',
        body: [{ op: 'replace', path: '/protected', value: false }],
      });
    }
    await cloud.request('image', {
      method: 'DELETE',
      path: `/v2/images/${image.id}`,
      acceptStatus: [204, 404],
    });
  }
}

export async function downloadSha512(cloud: CloudSession, id: string): Promise<string> {
  const response = await cloud.stream('image', { path: `/v2/images/${id}/file` });
  const hash = createHash('sha512');
  if (response.body === null) throw new Error(`image ${id} has no data`);
  for await (const chunk of response.body) hash.update(chunk);
  return hash.digest('hex');
}

export async function listMembers(
  cloud: CloudSession,
  id: string,
): Promise<{ member_id: string; status: string }[]> {
  const response = await cloud.request<{ members: { member_id: string; status: string }[] }>('image', {
    path: `/v2/images/${id}/members`,
  });
  return response.body.members
    .map((member) => ({ member_id: member.member_id, status: member.status }))
    .sort((a, b) => a.member_id.localeCompare(b.member_id));
}

/** The metadata without the fields a conversion is expected to change. */
export function dropExpectedChanges(image: Image): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(image)) if (!expectedToDiffer.has(key)) fields[key] = value;
  return fields;
}
