import { StackdoctorError } from '../core/errors.js';

/**
 * Why a conversion stopped. Each kind is a different thing for the operator to do: free disk, look at the
 * stored data, distrust the image, ask Glance's operator, or pick another image.
 */
export type ImageConvertErrorKind =
  | 'convert-disk-space'
  | 'convert-hash-mismatch'
  | 'convert-unsafe-image'
  | 'convert-upload-refused'
  | 'convert-not-convertible'
  | 'convert-output-mismatch'
  | 'convert-aborted';

export class ImageConvertError extends StackdoctorError {
  constructor(
    kind: ImageConvertErrorKind,
    message: string,
    options: { hint?: string; cause?: unknown } = {},
  ) {
    super(kind, message, options);
    this.name = 'ImageConvertError';
  }
}
