import { StackdoctorError } from '../core/errors.js';

export type TraceErrorKind =
  | 'trace-strace-missing'
  | 'trace-ptrace-denied'
  | 'trace-process-gone'
  | 'trace-strace-failed'
  | 'trace-too-many-processes'
  | 'trace-bad-pattern';

/** `stackdoctor trace` could not look inside the process; `kind` says why. */
export class TraceError extends StackdoctorError {
  constructor(kind: TraceErrorKind, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(kind, message, options);
    this.name = 'TraceError';
  }
}
