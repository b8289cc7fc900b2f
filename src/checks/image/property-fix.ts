import type { ExpectedValue, FixStep } from '../../core/check.js';
import { escapePointerToken } from '../../core/json.js';
import {
  extraProperties,
  type Image,
  type ImagePatchOperation,
  imageMetadata,
  imagePath,
  jsonPatchContentType,
} from '../../openstack/image.js';

/** New value per property; null removes the property. */
export type PropertyChanges = Readonly<Record<string, string | null>>;

/**
 * One JSON-patch for all of an image's property changes, with the patch that restores the previous values
 * exactly: a property that was absent is removed again, never set to an empty string.
 */
export function planImagePropertyChange(image: Image, changes: PropertyChanges, describe: string): FixStep {
  const current = extraProperties(image);
  const apply: ImagePatchOperation[] = [];
  const undo: ImagePatchOperation[] = [];
  const expect: ExpectedValue[] = [];
  for (const [name, value] of Object.entries(changes)) {
    const path = `/${escapePointerToken(name)}`;
    const previous = current[name];
    if (value === null) {
      if (previous === undefined) continue;
      apply.push({ op: 'remove', path });
      undo.push({ op: 'add', path, value: previous });
      expect.push({ pointer: path, absent: true });
    } else {
      // `add` creates or overwrites in Glance's 2.1 patch dialect; `replace` would fail on a missing key.
      apply.push({ op: 'add', path, value });
      undo.push(previous === undefined ? { op: 'remove', path } : { op: 'add', path, value: previous });
      expect.push({ pointer: path, value });
    }
  }
  return {
    describe,
    resource: { type: 'image', id: image.id, name: image.name ?? undefined },
    apply: {
      kind: 'http',
      service: 'image',
      method: 'PATCH',
      path: imagePath(image.id),
      contentType: jsonPatchContentType,
      body: apply,
    },
    undo: {
      kind: 'http',
      service: 'image',
      method: 'PATCH',
      path: imagePath(image.id),
      contentType: jsonPatchContentType,
      body: undo,
    },
    priorState: imageMetadata(image),
    after: { service: 'image', path: imagePath(image.id), expect },
  };
}
