import { StackdoctorError } from '../core/errors.js';

interface HostErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Everything the one-line message leaves out (e.g. ssh's full stderr), for `--verbose` and the journal. */
  details?: string;
}

/** The host could not be reached or logged in to: the run goes on and the host is reported as skipped. */
export class HostUnreachableError extends StackdoctorError {
  readonly host: string;
  readonly details: string | undefined;
  constructor(host: string, message: string, options: HostErrorOptions = {}) {
    super('host-unreachable', message, options);
    this.name = 'HostUnreachableError';
    this.host = host;
    this.details = options.details;
  }
}

/** The host's key is unknown or differs from known_hosts: never trusted silently. */
export class HostKeyError extends StackdoctorError {
  readonly host: string;
  readonly details: string | undefined;
  constructor(host: string, message: string, options: HostErrorOptions = {}) {
    super('host-key', message, options);
    this.name = 'HostKeyError';
    this.host = host;
    this.details = options.details;
  }
}

/** A command on a reachable host could not run, timed out, failed, or said more than we accept. */
export class HostCommandError extends StackdoctorError {
  readonly host: string;
  readonly details: string | undefined;
  constructor(host: string, message: string, options: HostErrorOptions = {}) {
    super('host-command', message, options);
    this.name = 'HostCommandError';
    this.host = host;
    this.details = options.details;
  }
}

/**
 * An operation the host layer refuses by design: a path outside `--root`, a relative path, running or writing
 * on a collected copy of a host's files.
 */
export class HostAccessError extends StackdoctorError {
  readonly host: string;
  constructor(host: string, message: string, options: { hint?: string } = {}) {
    super('host-access', message, options);
    this.name = 'HostAccessError';
    this.host = host;
  }
}
