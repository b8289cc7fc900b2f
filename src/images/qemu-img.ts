import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { z } from 'zod';
import { StackdoctorError } from '../core/errors.js';
import type { ImageInspection, InspectionProblem } from './format-inspector.js';
import type { ImageFormat } from './inspection.js';
import { createProblem } from './inspection.js';

export const QEMU_FORMATS = ['raw', 'qcow2', 'qed', 'vmdk', 'vpc', 'vhdx', 'vdi', 'luks'] as const;
export type QemuFormat = (typeof QEMU_FORMATS)[number];

/** Nova Zed's limits for `qemu-img info` on untrusted images (reference §7.1). */
export const QEMU_INFO_LIMITS = { addressSpaceBytes: 1024 * 1024 * 1024, cpuSeconds: 30 } as const;
const ALLOWED_VMDK_CREATE_TYPES: ReadonlySet<string> = new Set(['monolithicSparse', 'streamOptimized']);
const MAX_INFO_OUTPUT_BYTES = 4 * 1024 * 1024;
const STDERR_TAIL_BYTES = 2048;
/** prlimit's exit status when it cannot execute the command it was given. */
const PRLIMIT_EXEC_FAILED = new Set([126, 127]);

export type QemuImgErrorKind =
  | 'qemu-img-missing'
  | 'qemu-img-failed'
  | 'qemu-img-output'
  | 'qemu-img-aborted';

export class QemuImgError extends StackdoctorError {
  readonly stderrTail: string;

  constructor(
    kind: QemuImgErrorKind,
    message: string,
    options: { hint?: string; cause?: unknown; stderrTail?: string } = {},
  ) {
    super(kind, message, options);
    this.name = 'QemuImgError';
    this.stderrTail = options.stderrTail ?? '';
  }
}

export interface QemuImgCommandOptions {
  /** Command names or paths; resolved through PATH by the OS. */
  qemuImgCommand?: string;
  prlimitCommand?: string;
  signal?: AbortSignal;
}

/** The keys of `qemu-img info --output=json` that safety decisions use (reference §7.5). */
export const QemuImgInfoSchema = z.looseObject({
  format: z.string(),
  'virtual-size': z.number().int().nonnegative(),
  filename: z.string().optional(),
  'actual-size': z.number().optional(),
  'cluster-size': z.number().optional(),
  'dirty-flag': z.boolean().optional(),
  'backing-filename': z.string().optional(),
  'full-backing-filename': z.string().optional(),
  'backing-filename-format': z.string().optional(),
  'format-specific': z
    .looseObject({
      type: z.string(),
      data: z
        .looseObject({
          compat: z.string().optional(),
          'compression-type': z.string().optional(),
          'lazy-refcounts': z.boolean().optional(),
          'refcount-bits': z.number().optional(),
          corrupt: z.boolean().optional(),
          'extended-l2': z.boolean().optional(),
          'data-file': z.string().optional(),
          'data-file-raw': z.boolean().optional(),
          encrypt: z.unknown().optional(),
          'create-type': z.string().optional(),
          extents: z.array(z.looseObject({ filename: z.string().optional() })).optional(),
        })
        .optional(),
    })
    .optional(),
});
export type QemuImgInfo = z.infer<typeof QemuImgInfoSchema>;

export function toQemuFormat(format: ImageFormat): QemuFormat {
  switch (format) {
    case 'vhd':
      return 'vpc';
    case 'iso':
    case 'gpt':
    case 'mbr':
    case 'raw':
      return 'raw';
    default:
      return format;
  }
}

/** `qemu-img info` under prlimit, with the format given explicitly so qemu-img never probes it. */
export async function qemuImgInfo(
  path: string,
  format: QemuFormat,
  options: QemuImgCommandOptions = {},
): Promise<QemuImgInfo> {
  const qemuImg = options.qemuImgCommand ?? 'qemu-img';
  const prlimit = options.prlimitCommand ?? 'prlimit';
  const args = [
    `--as=${QEMU_INFO_LIMITS.addressSpaceBytes}`,
    `--cpu=${QEMU_INFO_LIMITS.cpuSeconds}`,
    '--',
    qemuImg,
    'info',
    '-f',
    format,
    '--output=json',
    toSafePath(path),
  ];
  const result = await runCommand(prlimit, args, {
    signal: options.signal,
    maxStdoutBytes: MAX_INFO_OUTPUT_BYTES,
  });
  if (
    result.exitCode !== null &&
    PRLIMIT_EXEC_FAILED.has(result.exitCode) &&
    /failed to execute/.test(result.stderrTail)
  ) {
    throw new QemuImgError('qemu-img-missing', `cannot run ${qemuImg} under prlimit`, {
      hint: 'install qemu-utils (Debian/Ubuntu) or qemu-img (RHEL)',
      stderrTail: result.stderrTail,
    });
  }
  if (result.exitCode !== 0) throw describeFailure('info', result);
  let document: unknown;
  try {
    document = JSON.parse(result.stdout);
  } catch (error) {
    throw new QemuImgError('qemu-img-output', 'qemu-img info printed something that is not JSON', {
      cause: error,
    });
  }
  const parsed = QemuImgInfoSchema.safeParse(document);
  if (!parsed.success) {
    throw new QemuImgError(
      'qemu-img-output',
      `qemu-img info output is not as expected: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
}

export interface CrossCheck {
  safe: boolean;
  problems: InspectionProblem[];
}

/** Second opinion: what qemu-img itself sees must agree with the header inspection, or we stop. */
export function crossCheckInfo(info: QemuImgInfo, inspection: ImageInspection): CrossCheck {
  const problems: InspectionProblem[] = [];
  if (!inspection.safe) {
    const rules = inspection.problems.map((p) => p.rule).join(', ');
    problems.push(
      createProblem('qemu.inspection-refused', `the header inspection refused this image (${rules})`),
    );
  }
  const expected = toQemuFormat(inspection.format);
  if (info.format !== expected) {
    problems.push(
      createProblem(
        'qemu.format',
        `qemu-img reads the image as ${info.format}, the inspector as ${expected}`,
      ),
    );
  }
  const backing = info['backing-filename'] ?? info['full-backing-filename'];
  if (backing !== undefined) {
    problems.push(
      createProblem('qemu.backing-file', `qemu-img reports a backing file ${JSON.stringify(backing)}`),
    );
  }
  const data = info['format-specific']?.data;
  if (data?.['data-file'] !== undefined) {
    problems.push(
      createProblem(
        'qemu.data-file',
        `qemu-img reports an external data file ${JSON.stringify(data['data-file'])}`,
      ),
    );
  }
  if (data?.encrypt !== undefined)
    problems.push(createProblem('qemu.encrypted', 'qemu-img reports the image is encrypted'));
  if (data?.corrupt === true)
    problems.push(createProblem('qemu.corrupt', 'qemu-img reports the image is corrupt'));
  if (info.format === 'vmdk') {
    const createType = data?.['create-type'];
    if (createType === undefined || !ALLOWED_VMDK_CREATE_TYPES.has(createType)) {
      problems.push(
        createProblem(
          'qemu.vmdk-create-type',
          `qemu-img reports vmdk create type ${createType ?? 'unknown'}`,
        ),
      );
    }
    const foreign = (data?.extents ?? []).filter((extent) => extent.filename !== info.filename);
    if (foreign.length > 0) {
      problems.push(createProblem('qemu.vmdk-extent', 'qemu-img reports vmdk extents in other files'));
    }
  }
  if (inspection.virtualSize !== info['virtual-size']) {
    problems.push(
      createProblem(
        'qemu.virtual-size',
        `qemu-img reports virtual size ${info['virtual-size']}, the inspector ${inspection.virtualSize ?? 'none'}`,
      ),
    );
  }
  return { safe: problems.length === 0, problems };
}

export interface QemuImgConvertOptions extends QemuImgCommandOptions {
  src: string;
  srcFormat: QemuFormat;
  dst: string;
  /** Called with 0..100 as qemu-img reports progress. */
  onProgress?: (percent: number) => void;
}

/**
 * Converts to a sparse raw file. The destination is left in place on failure: the caller owns its removal.
 */
export async function qemuImgConvert(options: QemuImgConvertOptions): Promise<void> {
  const qemuImg = options.qemuImgCommand ?? 'qemu-img';
  const args = [
    'convert',
    '-p',
    '-f',
    options.srcFormat,
    '-O',
    'raw',
    '-S',
    '4k',
    toSafePath(options.src),
    toSafePath(options.dst),
  ];
  const onProgress = options.onProgress;
  const result = await runCommand(qemuImg, args, {
    signal: options.signal,
    maxStdoutBytes: 0,
    onStdoutText: onProgress === undefined ? undefined : createProgressParser(onProgress),
  });
  if (result.exitCode !== 0) throw describeFailure('convert', result);
}

/** True when both images have the same guest-visible content (`qemu-img compare` exit 0), false on exit 1. */
export async function qemuImgCompare(
  a: string,
  aFormat: QemuFormat,
  b: string,
  bFormat: QemuFormat,
  options: QemuImgCommandOptions = {},
): Promise<boolean> {
  const qemuImg = options.qemuImgCommand ?? 'qemu-img';
  const args = ['compare', '-f', aFormat, '-F', bFormat, toSafePath(a), toSafePath(b)];
  const result = await runCommand(qemuImg, args, { signal: options.signal, maxStdoutBytes: 64 * 1024 });
  if (result.exitCode === 0) return true;
  if (result.exitCode === 1) return false;
  throw describeFailure('compare', result);
}

/**
 * `-p` output is a stream of `    (12.34/100%)` updates separated by carriage returns; a chunk may end mid-update.
 */
export function createProgressParser(onProgress: (percent: number) => void): (text: string) => void {
  let pending = '';
  return (text) => {
    pending += text;
    const pieces = pending.split(/[\r\n]/);
    pending = pieces.pop() ?? '';
    for (const piece of pieces) {
      const match = /\((\d{1,3}(?:\.\d+)?)\/100%\)/.exec(piece);
      if (match) onProgress(Math.min(100, Number(match[1])));
    }
  };
}

/**
 * qemu-img treats `json:{…}` and `proto:…` file names as specifications; an absolute path is always a plain file.
 */
function toSafePath(path: string): string {
  return resolve(path);
}

interface CommandResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderrTail: string;
}

interface RunOptions {
  signal: AbortSignal | undefined;
  maxStdoutBytes: number;
  onStdoutText?: ((text: string) => void) | undefined;
}

function runCommand(command: string, args: string[], options: RunOptions): Promise<CommandResult> {
  return new Promise((resolvePromise, reject) => {
    if (options.signal?.aborted) {
      reject(new QemuImgError('qemu-img-aborted', `${command} was cancelled before it started`));
      return;
    }
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stdoutBytes = 0;
    let stderrTail = '';
    let failure: QemuImgError | undefined;
    const stop = (error: QemuImgError): void => {
      failure ??= error;
      child.kill('SIGKILL');
    };
    const onAbort = (): void => stop(new QemuImgError('qemu-img-aborted', `${command} was cancelled`));
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      options.onStdoutText?.(text);
      if (options.maxStdoutBytes === 0) return;
      stdoutBytes += Buffer.byteLength(text);
      if (stdoutBytes > options.maxStdoutBytes) {
        stop(
          new QemuImgError('qemu-img-output', `${command} printed more than ${options.maxStdoutBytes} bytes`),
        );
      } else {
        stdout += text;
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      stderrTail = (stderrTail + text).slice(-STDERR_TAIL_BYTES);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (error.code === 'ENOENT') {
        reject(
          new QemuImgError('qemu-img-missing', `${command} is not installed or not on PATH`, {
            hint: 'install qemu-utils and util-linux (prlimit)',
            cause: error,
          }),
        );
      } else {
        reject(
          new QemuImgError('qemu-img-failed', `cannot start ${command}: ${error.message}`, { cause: error }),
        );
      }
    });
    // 'close' waits for the process to exit and its pipes to drain, so a cancelled child is gone by then.
    child.on('close', (exitCode, signal) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (failure) reject(failure);
      else resolvePromise({ exitCode, signal, stdout, stderrTail });
    });
  });
}

function describeFailure(operation: string, result: CommandResult): QemuImgError {
  const lastLine = result.stderrTail.trim().split('\n').pop() ?? '';
  const how =
    result.signal !== null
      ? `was killed by ${result.signal} (resource limit?)`
      : `failed with exit code ${result.exitCode}`;
  throw new QemuImgError(
    'qemu-img-failed',
    `qemu-img ${operation} ${how}${lastLine ? `: ${lastLine}` : ''}`,
    {
      stderrTail: result.stderrTail,
    },
  );
}
