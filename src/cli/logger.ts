import type { Logger } from '../core/logger.js';

/** Writes to stderr; debug and info lines only when verbose. Callers never hand it secrets. */
export function createStderrLogger(verbose: boolean): Logger {
  return {
    debug: (message) => {
      if (verbose) process.stderr.write(`debug: ${message}\n`);
    },
    info: (message) => {
      if (verbose) process.stderr.write(`${message}\n`);
    },
    warn: (message) => process.stderr.write(`warning: ${message}\n`),
  };
}
