import { StackdoctorError } from '../core/errors.js';

/** The log scan could not start (bad option); problems with single files are results, not errors. */
export class LogScanError extends StackdoctorError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('log-scan', message, options);
    this.name = 'LogScanError';
  }
}
