import type { ByteSource } from './byte-source.js';
import { ImageReadError } from './byte-source.js';
import {
  analyzeLuks,
  analyzeQed,
  analyzeVdi,
  analyzeVhd,
  analyzeVhdx,
  locateVhdFooter,
  matchLuks,
  matchQed,
  matchVdi,
  matchVhdx,
} from './inspect-disk-formats.js';
import { analyzeGpt, analyzeIso, analyzeMbr, matchIso, matchPartitionTable } from './inspect-layouts.js';
import { analyzeQcow2, matchQcow2 } from './inspect-qcow2.js';
import { analyzeVmdk, matchVmdk } from './inspect-vmdk.js';
import type { FormatAnalysis, ImageFormat, InspectionProblem } from './inspection.js';
import { createProblem, HeaderReader, MAX_INSPECT_BYTES, ReadBudgetExceeded } from './inspection.js';

export type { ImageFormat, InspectionProblem } from './inspection.js';
export { IMAGE_FORMATS, MAX_INSPECT_BYTES } from './inspection.js';

export interface ImageInspection {
  /** The format the bytes are in; `raw` when no structure was recognised. */
  format: ImageFormat;
  /** Every format whose structure matched (an ISO hybrid lists `iso` and its partition table). */
  formats: ImageFormat[];
  virtualSize?: number;
  safe: boolean;
  problems: InspectionProblem[];
  bytesRead: number;
}

export interface InspectOptions {
  /** The format the image claims to be in, e.g. Glance's `disk_format`. */
  claimedFormat?: string;
}

/** Formats that wrap guest data in their own structure; one file can only honestly be one of them. */
const CONTAINER_FORMATS: readonly ImageFormat[] = ['qcow2', 'qed', 'luks', 'vhdx', 'vhd', 'vmdk', 'vdi'];
/** Formats whose bytes are the guest disk itself; qemu-img reads them as raw. */
const RAW_LAYOUTS: ReadonlySet<ImageFormat> = new Set(['raw', 'gpt', 'mbr']);
/** Glance disk formats whose data is a plain disk. */
const RAW_ALIASES: ReadonlySet<string> = new Set(['raw', 'ami', 'ari', 'aki']);

/**
 * Detects an image's format from its headers and checks it is safe to hand to qemu-img (reference §7).
 * Never throws on hostile or broken content: anything it cannot vouch for comes back with `safe: false`.
 * Only a failing byte source raises (ImageReadError).
 */
export async function inspectImage(
  source: ByteSource,
  options: InspectOptions = {},
): Promise<ImageInspection> {
  let reader: HeaderReader | undefined;
  let result: Omit<ImageInspection, 'bytesRead' | 'safe'>;
  try {
    reader = await HeaderReader.open(source);
    result = await detectAndAnalyze(reader);
  } catch (error) {
    if (error instanceof ImageReadError) throw error;
    const rule = error instanceof ReadBudgetExceeded ? 'inspect.read-budget' : 'inspect.internal';
    const message =
      error instanceof ReadBudgetExceeded
        ? `inspection stopped: headers ask for more than ${MAX_INSPECT_BYTES} bytes`
        : `inspection failed on malformed headers: ${error instanceof Error ? error.message : String(error)}`;
    result = { format: 'raw', formats: [], problems: [createProblem(rule, message)] };
  }
  if (options.claimedFormat !== undefined && !isClaimCompatible(options.claimedFormat, result.format)) {
    result.problems.push(
      createProblem(
        'format.mismatch',
        `image claims to be ${JSON.stringify(options.claimedFormat)} but its content is ${result.format}`,
      ),
    );
  }
  return { ...result, safe: result.problems.length === 0, bytesRead: reader?.bytesRead ?? 0 };
}

async function detectAndAnalyze(reader: HeaderReader): Promise<Omit<ImageInspection, 'bytesRead' | 'safe'>> {
  const head = reader.head;
  const vhdFooter = await locateVhdFooter(reader);
  const containerMatches: Record<string, boolean> = {
    qcow2: matchQcow2(head),
    qed: matchQed(head),
    luks: matchLuks(head),
    vhdx: matchVhdx(head),
    vhd: vhdFooter !== undefined,
    vmdk: matchVmdk(head),
    vdi: matchVdi(head),
  };
  const containers = CONTAINER_FORMATS.filter((format) => containerMatches[format]);
  const layouts: ImageFormat[] = [];
  if (matchIso(head)) layouts.push('iso');
  const table = matchPartitionTable(head);
  if (table) layouts.push(table);
  const formats = [...containers, ...layouts];

  // A file that parses as two container formats (or a container and a disk layout) is built to confuse.
  if (containers.length > 1 || (containers.length === 1 && layouts.length > 0)) {
    return {
      format: formats[0]!,
      formats,
      problems: [createProblem('format.multiple', `image matches several formats: ${formats.join(', ')}`)],
    };
  }
  const format: ImageFormat = containers[0] ?? layouts[0] ?? 'raw';
  const analyses: FormatAnalysis[] = [];
  switch (format) {
    case 'qcow2':
      analyses.push(await analyzeQcow2(reader));
      break;
    case 'qed':
      analyses.push(analyzeQed(reader));
      break;
    case 'luks':
      analyses.push(analyzeLuks(reader));
      break;
    case 'vhdx':
      analyses.push(await analyzeVhdx(reader));
      break;
    case 'vhd':
      analyses.push(await analyzeVhd(reader, vhdFooter!));
      break;
    case 'vmdk':
      analyses.push(await analyzeVmdk(reader));
      break;
    case 'vdi':
      analyses.push(analyzeVdi(reader));
      break;
    default:
      if (layouts.includes('iso')) analyses.push(analyzeIso(reader));
      if (table === 'mbr') analyses.push(analyzeMbr(reader));
      if (table === 'gpt') analyses.push(await analyzeGpt(reader));
      // A plain disk's guest-visible size is its length.
      if (reader.size !== undefined) analyses.push({ virtualSize: reader.size, problems: [] });
  }
  const problems = analyses.flatMap((analysis) => analysis.problems);
  const virtualSize = analyses.find((analysis) => analysis.virtualSize !== undefined)?.virtualSize;
  return virtualSize === undefined
    ? { format, formats: formats.length > 0 ? formats : ['raw'], problems }
    : { format, formats: formats.length > 0 ? formats : ['raw'], virtualSize, problems };
}

function isClaimCompatible(claimed: string, detected: ImageFormat): boolean {
  const name = claimed.toLowerCase();
  if (RAW_ALIASES.has(name)) return RAW_LAYOUTS.has(detected);
  // Glance calls it vhd, QEMU calls it vpc.
  if (name === 'vpc') return detected === 'vhd';
  return name === detected;
}
