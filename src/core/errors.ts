/**
 * Exit codes are part of the CLI's API (monitoring-plugin convention); see README "Exit codes".
 */
export const ExitCode = {
  ok: 0,
  warning: 1,
  critical: 2,
  toolFailure: 3,
  fixNotApplied: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An error the tool understands: printed as one line (plus an optional hint), never as a stack trace.
 * `kind` is a stable machine-readable cause, used in JSON output and tests.
 */
export class StackdoctorError extends Error {
  readonly kind: string;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;

  constructor(
    kind: string,
    message: string,
    options: { hint?: string; cause?: unknown; exitCode?: ExitCode } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StackdoctorError';
    this.kind = kind;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? ExitCode.toolFailure;
  }
}

export class ConfigError extends StackdoctorError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('config', message, options);
    this.name = 'ConfigError';
  }
}

export class UsageError extends StackdoctorError {
  constructor(message: string, options: { hint?: string } = {}) {
    super('usage', message, options);
    this.name = 'UsageError';
  }
}

export class JournalError extends StackdoctorError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('journal', message, options);
    this.name = 'JournalError';
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
