import { z } from 'zod';
import type { Json, JsonObject } from '../core/json.js';
import { HttpError } from '../openstack/errors.js';
import { getImage, type Image, imagePath, jsonPatchContentType } from '../openstack/image.js';
import type { CloudSession } from '../openstack/types.js';
import { ImageConvertError } from './convert-error.js';

/** The Glance calls a conversion makes, each one request, typed at the boundary. */

const memberSchema = z.object({ member_id: z.string(), status: z.string() }).catchall(z.unknown());
const membersSchema = z.object({ members: z.array(memberSchema) });

export interface ImageMember {
  member_id: string;
  status: string;
}

/** The projects an image is shared with and whether each accepted it; [] for images that cannot have members. */
export async function listImageMembers(cloud: CloudSession, image: Image): Promise<ImageMember[]> {
  // Glance answers 403 for the members of a public, private or community image.
  if (image.visibility !== 'shared') return [];
  const response = await cloud.request('image', {
    path: `${imagePath(image.id)}/members`,
    schema: membersSchema,
  });
  return response.body.members.map((member) => ({ member_id: member.member_id, status: member.status }));
}

/** `POST /v2/images`; the caller chooses the id so that the journal can name the image before it exists. */
export async function createImageRecord(cloud: CloudSession, body: JsonObject): Promise<Image> {
  try {
    await cloud.request('image', { method: 'POST', path: '/v2/images', body, acceptStatus: [201] });
  } catch (error) {
    if (error instanceof HttpError) {
      throw new ImageConvertError(
        'convert-upload-refused',
        `Glance refused to create the new image: ${error.status}${error.serverMessage ? ` ${error.serverMessage}` : ''}`,
        { cause: error },
      );
    }
    throw error;
  }
  return requireImage(cloud, String(body.id));
}

export async function requireImage(cloud: CloudSession, id: string): Promise<Image> {
  const image = await getImage(cloud, id);
  if (image === null) throw new ImageConvertError('convert-not-convertible', `image ${id} does not exist`);
  return image;
}

export async function addImageMember(cloud: CloudSession, imageId: string, memberId: string): Promise<void> {
  await cloud.request('image', {
    method: 'POST',
    path: `${imagePath(imageId)}/members`,
    body: { member: memberId },
  });
}

/** Sets a member's status; false when the cloud's policy lets only the member itself do that (403). */
export async function setImageMemberStatus(
  cloud: CloudSession,
  imageId: string,
  memberId: string,
  status: string,
): Promise<boolean> {
  const response = await cloud.request('image', {
    method: 'PUT',
    path: `${imagePath(imageId)}/members/${encodeURIComponent(memberId)}`,
    body: { status },
    acceptStatus: [200, 403],
  });
  return response.status === 200;
}

export async function patchImage(cloud: CloudSession, imageId: string, patch: Json): Promise<void> {
  await cloud.request('image', {
    method: 'PATCH',
    path: imagePath(imageId),
    contentType: jsonPatchContentType,
    body: patch,
  });
}

/** Deletes an image, lifting `protected` first; false when it was already gone. */
export async function deleteImageRecord(cloud: CloudSession, imageId: string): Promise<boolean> {
  const image = await getImage(cloud, imageId);
  if (image === null) return false;
  if (image.protected === true)
    await patchImage(cloud, imageId, [{ op: 'replace', path: '/protected', value: false }]);
  const response = await cloud.request('image', {
    method: 'DELETE',
    path: imagePath(imageId),
    acceptStatus: [204, 404],
  });
  return response.status === 204;
}

/**
 * Waits for an image to leave the transitional states after an upload (a file or RBD store finishes within the
 * PUT; others may take a moment). Returns the image in its final state.
 */
export async function waitForImageSettled(
  cloud: CloudSession,
  imageId: string,
  options: { signal: AbortSignal; sleep: (ms: number) => Promise<void>; attempts: number },
): Promise<Image> {
  for (let attempt = 0; ; attempt++) {
    const image = await requireImage(cloud, imageId);
    const transitional =
      image.status === 'saving' || image.status === 'queued' || image.status === 'importing';
    if (!transitional || attempt >= options.attempts || options.signal.aborted) return image;
    await options.sleep(1000);
  }
}
