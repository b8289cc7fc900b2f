import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import {
  buildConversionSteps,
  createQcow2ConvertCheck,
  planImageConversion,
  readConversionSettings,
} from '../../checks/image/qcow2-convert.js';
import type { Check, CheckContext, Finding, Procedure } from '../../core/check.js';
import { ExitCode, StackdoctorError, UsageError } from '../../core/errors.js';
import { applyFixes, type FixOutcome, type PlannedFix } from '../../core/fixer.js';
import type { Journal } from '../../core/journal.js';
import type { Json } from '../../core/json.js';
import type { Logger } from '../../core/logger.js';
import { cloudTarget, completeFinding } from '../../core/runner.js';
import type { ConversionPlan, ConvertProgress } from '../../images/convert.js';
import { findWhyNotConvertible, formatBytes } from '../../images/convert.js';
import { ImageConvertError } from '../../images/convert-error.js';
import { getImage, type Image, imageSchema } from '../../openstack/image.js';
import type { CloudSession } from '../../openstack/types.js';
import { type RenderOptions, renderListing } from '../../reporters/format.js';
import { connectCloud } from '../connect.js';
import { createCheckContext } from '../context.js';
import type { CliEnvironment } from '../environment.js';
import { addCommonOptions, type CommonOptions } from '../options.js';

export interface ImageConvertOptions extends CommonOptions {
  apply?: boolean;
  yes?: boolean;
  tmpDir?: string;
  deactivateOld?: boolean;
  nameSuffix?: string;
}

/** What the command needs from the program around it (the same helpers every command uses). */
export interface ImageConvertCommandDeps {
  environment: CliEnvironment;
  journalFor: (options: CommonOptions) => Journal;
  loggerFor: (options: CommonOptions) => Logger;
  renderOptions: (options: CommonOptions) => RenderOptions;
  warnInterrupted: (journal: Journal, log: Logger) => Promise<void>;
  confirm: (question: string) => Promise<boolean>;
  toolVersion: string;
  setExitCode: (code: number) => void;
}

/** `stackdoctor image convert IMAGE... [--apply]`, added under an `image` command group. */
export function addImageConvertCommand(program: Command, deps: ImageConvertCommandDeps): void {
  const image = program.command('image').description('work on Glance images');
  addCommonOptions(image.command('convert').argument('<images...>', 'image ids or exact names'))
    .description('replace qcow2 images by verified raw copies (dry run by default); the old images are kept')
    .option('--apply', 'carry out the conversion')
    .option('--yes', 'consent to --deactivate-old without asking')
    .option('--tmp-dir <dir>', 'where the download and the raw file go (default: the system temp directory)')
    .option('--deactivate-old', 'also deactivate the retired qcow2 images (reversible: undo reactivates)')
    .option('--name-suffix <text>', 'appended to a retired image’s name (default " (qcow2, retired DATE)")')
    .action(async (images: string[], options: ImageConvertOptions) => {
      deps.setExitCode(await runImageConvert(images, options, deps));
    });
}

export async function runImageConvert(
  references: readonly string[],
  options: ImageConvertOptions,
  deps: ImageConvertCommandDeps,
): Promise<number> {
  const { environment } = deps;
  const log = deps.loggerFor(options);
  const journal = deps.journalFor(options);
  const render = deps.renderOptions(options);
  if (options.apply) await journal.ensureWritable();
  await deps.warnInterrupted(journal, log);
  const parameters: Record<string, string> = {
    tmp_dir: options.tmpDir ? path.resolve(environment.cwd, options.tmpDir) : os.tmpdir(),
    deactivate_old: options.deactivateOld ? 'yes' : 'no',
    ...(options.nameSuffix === undefined ? {} : { retired_suffix: options.nameSuffix }),
  };
  const controller = new AbortController();
  const progress = createProgressPrinter(environment.stderr);
  const failures: unknown[] = [];
  // The ids shown in the dry run are the ids the images get: the fixer's re-plan asks for them again.
  const plannedIds = new Map<string, string>();
  const idFor = (sourceId: string) => {
    const id = plannedIds.get(sourceId) ?? randomUUID();
    plannedIds.set(sourceId, id);
    return id;
  };
  const check = captureProcedureFailures(
    createQcow2ConvertCheck({ convert: { onProgress: progress.update }, newImageId: idFor }),
    failures,
  );
  // Ctrl-C: stop the pipeline, let it delete its temporary files and any half-made image, then exit.
  const onInterrupt = () => {
    if (controller.signal.aborted) {
      // A second Ctrl-C means now: the journal still says what was started and how to undo it.
      environment.stderr.write(
        `interrupted again: exiting without cleaning up; look for stackdoctor-convert-* in ${parameters.tmp_dir} and run \`stackdoctor journal\`\n`,
      );
      process.exit(ExitCode.toolFailure);
    }
    environment.stderr.write('\ninterrupted: stopping and cleaning up…\n');
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  const cloud = await connectCloud(options, environment, log);
  try {
    const ctx = createCheckContext(cloud, parameters, log, controller.signal);
    readConversionSettings(parameters, ctx.now());
    const planned: PlannedFix[] = [];
    const plans: ConversionPlan[] = [];
    for (const reference of references) {
      const found = await resolveImage(cloud, reference);
      const finding = await findConvertible(check, ctx, found);
      const plan = await planImageConversion(ctx, found, idFor(found.id));
      plans.push(plan);
      planned.push({ check, finding, steps: buildConversionSteps(plan) });
    }
    if (!options.apply) {
      environment.stdout.write(renderConversionPlans(plans, render));
      // The step list is for reading; machine formats and -c get the one listing above.
      if (render.format === 'table' && render.columns.length === 0)
        environment.stdout.write(renderConversionSteps(planned, render));
    }
    const short = plans.find(
      (plan) => plan.tempBytesNeeded !== undefined && plan.tempBytesNeeded > plan.tempBytesFree,
    );
    if (short?.tempBytesNeeded !== undefined) {
      throw new ImageConvertError(
        'convert-disk-space',
        `not enough disk in ${short.tmpDir} for image ${short.source.id}: ${formatBytes(short.tempBytesNeeded)} needed (download + raw, worst case), ${formatBytes(short.tempBytesFree)} free`,
        { hint: 'free space or point --tmp-dir at a larger file system' },
      );
    }
    if (!options.apply) {
      log.warn(`dry run: ${plans.length} image(s) would be converted; re-run with --apply`);
      return ExitCode.fixNotApplied;
    }
    if (controller.signal.aborted)
      throw new ImageConvertError('convert-aborted', 'interrupted before anything changed');
    if (options.deactivateOld && !options.yes) {
      const agreed = await deps.confirm(
        'deactivate the retired qcow2 images (their data can no longer be downloaded)?',
      );
      if (!agreed) throw new UsageError('--deactivate-old needs --yes (or an interactive yes)');
    }
    const { runId, outcomes } = await applyFixes(
      planned,
      {
        journal,
        ctx,
        operator: environment.operator,
        toolVersion: deps.toolVersion,
        confirm: deps.confirm,
        onStep: () => progress.finish(),
      },
      // Naming the images on the command line is the consent a `confirm` fix asks for.
      { max: planned.length, yes: true },
    );
    progress.finish();
    environment.stdout.write(renderConversionOutcomes(outcomes, render));
    environment.stderr.write(`journal: run ${runId} (undo with: stackdoctor undo ${runId} --apply)\n`);
    const failure = failures[0];
    if (controller.signal.aborted)
      throw new ImageConvertError(
        'convert-aborted',
        'conversion cancelled; temporary files removed, nothing half-made left in Glance',
      );
    if (failure instanceof StackdoctorError) throw failure;
    return outcomes.every((outcome) => outcome.result === 'fixed') ? ExitCode.ok : ExitCode.toolFailure;
  } finally {
    progress.finish();
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
    await cloud.close();
  }
}

/** The same check, whose procedures also keep the error they threw (the fixer records only its message). */
function captureProcedureFailures(check: Check, failures: unknown[]): Check {
  const procedures: Record<string, Procedure> = {};
  for (const [name, procedure] of Object.entries(check.procedures ?? {})) {
    procedures[name] = async (args, ctx) => {
      try {
        return await procedure(args, ctx);
      } catch (error) {
        failures.push(error);
        throw error;
      }
    };
  }
  return { ...check, procedures };
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An image by id, or by exact name when exactly one visible image has it. */
async function resolveImage(cloud: CloudSession, reference: string): Promise<Image> {
  if (uuidPattern.test(reference)) {
    const image = await getImage(cloud, reference);
    if (image !== null) return image;
  }
  const matches: Image[] = [];
  for await (const image of cloud.paginate('image', {
    path: '/v2/images',
    query: { name: reference, visibility: 'all' },
    itemsKey: 'images',
    paging: { kind: 'next', nextKey: 'next' },
    itemSchema: imageSchema,
  })) {
    matches.push(image);
  }
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new UsageError(`no image "${reference}"`);
  throw new UsageError(`${matches.length} images are named "${reference}"`, { hint: 'give the image id' });
}

async function findConvertible(check: Check, ctx: CheckContext, image: Image): Promise<Finding> {
  const target = cloudTarget(ctx.cloud);
  const probe: Finding = completeFinding(check, target, {
    resource: { type: 'image', id: image.id, name: image.name ?? undefined },
    message: '',
    evidence: {},
  });
  const input = await check.recheck!(probe, ctx);
  const why = findWhyNotConvertible(image);
  if (input === null || why !== undefined) {
    throw new ImageConvertError(
      'convert-not-convertible',
      `image ${image.id}: ${why ?? 'not an active qcow2 image'}`,
    );
  }
  return completeFinding(check, target, input);
}

export function renderConversionPlans(plans: readonly ConversionPlan[], render: RenderOptions): string {
  const rows: Json[][] = plans.map((plan) => [
    plan.source.id,
    plan.source.name ?? null,
    formatBytes(plan.storedBytes),
    plan.virtualBytes === undefined ? null : formatBytes(plan.virtualBytes),
    plan.tempBytesNeeded === undefined ? null : formatBytes(plan.tempBytesNeeded),
    `${formatBytes(plan.tempBytesFree)} in ${plan.tmpDir}`,
    `"${plan.source.name ?? ''}" (raw, new id ${plan.newImageId})`,
    [
      `renamed "${plan.retiredName}"`,
      plan.source.os_hidden === true ? 'already hidden' : 'hidden',
      plan.deactivateOld ? 'deactivated' : 'still active',
      'never deleted',
    ].join(', '),
  ]);
  return renderListing(
    {
      columns: ['Image', 'Name', 'Stored', 'Virtual', 'Temp needed', 'Free', 'New image', 'Old image'],
      rows,
    },
    render,
  );
}

function renderConversionSteps(planned: readonly PlannedFix[], render: RenderOptions): string {
  return renderListing(
    {
      columns: ['Step', 'Resource', 'What', 'Undo'],
      rows: planned.flatMap((plan) =>
        plan.steps.map((step, index) => [
          index + 1,
          step.resource.id,
          step.describe,
          step.undo === 'irreversible' ? 'irreversible' : 'reversible',
        ]),
      ),
    },
    render,
  );
}

function renderConversionOutcomes(outcomes: readonly FixOutcome[], render: RenderOptions): string {
  return renderListing(
    {
      columns: ['Image', 'Name', 'Result', 'Detail'],
      rows: outcomes.map((outcome) => [
        outcome.resource.id,
        outcome.resource.name ?? null,
        outcome.result,
        [outcome.steps[0]?.detail ?? outcome.detail, ...outcome.steps.slice(1).map((step) => step.describe)]
          .filter((text) => text !== '')
          .join('; '),
      ]),
    },
    render,
  );
}

const stageNames: Record<ConvertProgress['stage'], string> = {
  download: 'downloading',
  inspect: 'inspecting',
  convert: 'converting',
  create: 'creating the new image',
  upload: 'uploading',
  verify: 'verifying',
};

/** A progress bar on a terminal; one line per stage otherwise (logs, CI, a parent process reading stderr). */
export function createProgressPrinter(stream: NodeJS.WritableStream & { isTTY?: boolean }) {
  let stage: ConvertProgress['stage'] | undefined;
  let lastDrawn = 0;
  let open = false;
  const finish = () => {
    if (open) stream.write('\n');
    open = false;
    stage = undefined;
  };
  const update = (progress: ConvertProgress) => {
    const changed = progress.stage !== stage;
    if (changed) {
      finish();
      stage = progress.stage;
      if (!stream.isTTY) {
        const size =
          progress.total !== undefined && progress.stage !== 'convert'
            ? ` ${formatBytes(progress.total)}`
            : '';
        stream.write(`${stageNames[progress.stage]}${size}\n`);
      }
    }
    if (!stream.isTTY || progress.done === undefined || !progress.total) return;
    const now = Date.now();
    if (!changed && now - lastDrawn < 100 && progress.done < progress.total) return;
    lastDrawn = now;
    const fraction = Math.min(1, progress.done / progress.total);
    const width = 30;
    const filled = Math.round(fraction * width);
    const amount =
      progress.stage === 'convert' ? '' : ` ${formatBytes(progress.done)}/${formatBytes(progress.total)}`;
    stream.write(
      `\r${stageNames[progress.stage].padEnd(12)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%${amount}`,
    );
    open = true;
  };
  return { update, finish };
}
