import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Command, CommanderError } from 'commander';
import { allChecks } from '../checks/index.js';
import type { Severity } from '../core/check.js';
import { describeError, ExitCode, StackdoctorError, UsageError } from '../core/errors.js';
import { exitCodeForResults } from '../core/exit-codes.js';
import { applyFixes, planFixes } from '../core/fixer.js';
import { findInterruptedSteps, Journal } from '../core/journal.js';
import type { Logger } from '../core/logger.js';
import { CheckRegistry } from '../core/registry.js';
import { runChecks } from '../core/runner.js';
import { applyUndo, planUndo } from '../core/undo.js';
import type { RenderOptions } from '../reporters/format.js';
import { renderCheckResults, validateParameters } from './commands/check.js';
import { describeCloud } from './commands/cloud.js';
import { explainCheck } from './commands/explain.js';
import { renderOutcomes, renderPlan } from './commands/fix.js';
import { addImageConvertCommand } from './commands/image-convert.js';
import { listRuns, renderUndoOutcomes, renderUndoPlan, showRun } from './commands/journal.js';
import { listChecks } from './commands/list.js';
import { exitCodeForScan, renderScan, scanLogPaths } from './commands/logs.js';
import { CheckService, parseListen } from './commands/serve.js';
import {
  knownPeersFromCatalog,
  renderTrace,
  type TraceOptions,
  traceLocalService,
} from './commands/trace.js';
import { connectCloud } from './connect.js';
import { createCheckContext } from './context.js';
import { type CliEnvironment, journalDirectory, processEnvironment, useColour } from './environment.js';
import { connectRunTargets, needsCloud, noCloudLabel } from './hosts.js';
import { createStderrLogger } from './logger.js';
import {
  addCommonOptions,
  addHostOptions,
  addRunOptions,
  type CommonOptions,
  type HostOptions,
  parseParameters,
  parsePositiveInteger,
  parseSeverity,
  type RunOptions,
} from './options.js';
import { version } from './version.js';

interface FixOptions extends RunOptions {
  apply?: boolean;
  yes?: boolean;
  max: number;
}

interface UndoOptions extends CommonOptions, HostOptions {
  apply?: boolean;
}

export async function runCli(
  args: readonly string[],
  environment: CliEnvironment = processEnvironment(),
): Promise<number> {
  let exitCode: number = ExitCode.ok;
  let debug = args.includes('--debug');
  const registry = new CheckRegistry(allChecks);
  const print = (text: string) => environment.stdout.write(text);
  const renderOptions = (options: CommonOptions): RenderOptions => ({
    format: options.format,
    columns: options.column,
    colour: useColour(options, environment),
  });
  const loggerFor = (options: CommonOptions): Logger => {
    debug = Boolean(options.debug);
    return createStderrLogger(debug);
  };
  const journalFor = (options: CommonOptions) => new Journal(journalDirectory(options, environment));
  // Checks' memory between runs lives next to the journal, so --journal-dir moves both together.
  const stateDirectory = (options: CommonOptions) =>
    path.join(journalDirectory(options, environment), 'state');
  const warnInterrupted = async (journal: Journal, log: Logger) => {
    for (const state of await findInterruptedSteps(journal)) {
      log.warn(
        `run ${state.step.runId} stopped between intent and outcome of "${state.step.describe}" ` +
          `(${state.step.resource.type} ${state.step.resource.id}): check it; the prior state is in \`stackdoctor journal ${state.step.runId}\``,
      );
    }
  };

  const program = new Command('stackdoctor')
    .description('Finds and safely repairs the problems OpenStack operators hit again and again.')
    .version(version, '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: print, writeErr: (text) => environment.stderr.write(text) })
    .showSuggestionAfterError();

  addCommonOptions(program.command('list').description('list the catalogue of checks')).action(
    (options: CommonOptions) => {
      print(listChecks(registry.all(), renderOptions(options)));
    },
  );

  addCommonOptions(
    program.command('explain').argument('<check>').description('show the runbook of a check'),
  ).action(async (id: string, options: CommonOptions) => {
    const check = registry.get(id);
    if (!check) throw new UsageError(`no check "${id}"`, { hint: 'stackdoctor list shows the catalogue' });
    print(await explainCheck(check, renderOptions(options)));
  });

  addRunOptions(program.command('check').argument('[checks...]', 'check ids or globs (default: all)'))
    .description('detect problems; the exit code is the worst finding')
    .action(async (patterns: string[], options: RunOptions) => {
      const checks = registry.select(patterns);
      const parameters = parseParameters(options.set);
      validateParameters(checks, parameters);
      const log = loggerFor(options);
      const targets = await connectRunTargets(needsCloud(checks, options), options, environment, log);
      const { cloud, hosts } = targets;
      try {
        const startedAt = new Date();
        const results = await runChecks(
          checks,
          (signal) => createCheckContext(cloud, parameters, log, signal, stateDirectory(options), hosts),
          {
            concurrency: options.concurrency,
            timeoutMs: options.timeout * 1000,
          },
        );
        exitCode = exitCodeForResults(results, options.failOn);
        print(
          renderCheckResults(
            results,
            { cloud: cloud.cloudName, region: cloud.region, startedAt, exitCode },
            renderOptions(options),
          ),
        );
      } finally {
        await targets.close();
      }
    });

  addRunOptions(program.command('fix').argument('[checks...]', 'check ids or globs (default: all fixable)'))
    .description('plan repairs (dry run by default); --apply to carry them out')
    .option('--apply', 'carry out the plan')
    .option('--yes', 'consent to fixes that need confirmation')
    .option('--max <n>', 'refuse to touch more resources than this', parsePositiveInteger, 25)
    .action(async (patterns: string[], options: FixOptions) => {
      const checks = registry.select(patterns).filter((check) => check.meta.fix !== undefined);
      if (checks.length === 0) throw new UsageError('none of the selected checks can fix anything');
      const parameters = parseParameters(options.set);
      validateParameters(checks, parameters);
      const log = loggerFor(options);
      const journal = journalFor(options);
      // Fail before touching the cloud when the journal cannot be written: no journal, no change.
      if (options.apply) await journal.ensureWritable();
      await warnInterrupted(journal, log);
      const targets = await connectRunTargets(needsCloud(checks, options), options, environment, log);
      const { cloud, hosts } = targets;
      try {
        const controller = new AbortController();
        const ctx = createCheckContext(
          cloud,
          parameters,
          log,
          controller.signal,
          stateDirectory(options),
          hosts,
        );
        const results = await runChecks(checks, () => ctx, {
          concurrency: options.concurrency,
          timeoutMs: options.timeout * 1000,
        });
        const render = renderOptions(options);
        const items = results.flatMap((result) =>
          result.findings.map((finding) => ({ check: registry.get(result.checkId)!, finding })),
        );
        for (const result of results) {
          if (result.outcome.status === 'skipped' || result.outcome.status === 'error') {
            log.warn(`${result.checkId} ${result.outcome.status}: ${result.outcome.reason}`);
          }
        }
        const { planned, failures } = await planFixes(items, ctx);
        const unfixable = items.filter((item) => !item.finding.fixable).length;
        if (unfixable > 0)
          log.warn(`${unfixable} finding(s) cannot be fixed automatically; \`stackdoctor check\` lists them`);
        print(renderPlan(planned, failures, render));
        if (!options.apply) {
          exitCode =
            planned.length > 0 ? ExitCode.fixNotApplied : exitCodeForResults(results, options.failOn);
          if (planned.length > 0)
            log.warn(`dry run: ${planned.length} resource(s) would change; re-run with --apply`);
          return;
        }
        const { runId, outcomes } = await applyFixes(
          planned,
          {
            journal,
            ctx,
            operator: environment.operator,
            toolVersion: version,
            confirm: (question) => askYesNo(question, environment),
          },
          { max: options.max, yes: Boolean(options.yes) },
        );
        print(renderOutcomes(outcomes, render));
        environment.stderr.write(`journal: run ${runId} (undo with: stackdoctor undo ${runId} --apply)\n`);
        const bad = outcomes.filter(
          (outcome) => outcome.result !== 'fixed' && outcome.result !== 'resolved-meanwhile',
        );
        exitCode = bad.some(
          (outcome) =>
            outcome.result === 'failed' ||
            outcome.result === 'conflict' ||
            outcome.result === 'still-present',
        )
          ? ExitCode.toolFailure
          : bad.length > 0
            ? ExitCode.fixNotApplied
            : ExitCode.ok;
      } finally {
        await targets.close();
      }
    });

  addHostOptions(addCommonOptions(program.command('undo').argument('<run-id>')))
    .description('restore what a fix run changed (dry run by default)')
    .option('--apply', 'carry out the undo')
    .action(async (runId: string, options: UndoOptions) => {
      const log = loggerFor(options);
      const journal = journalFor(options);
      await warnInterrupted(journal, log);
      const plan = await planUndo(journal, runId);
      const render = renderOptions(options);
      print(renderUndoPlan(plan, render));
      if (!options.apply) {
        exitCode = plan.items.some((item) => item.kind === 'reversible')
          ? ExitCode.fixNotApplied
          : ExitCode.ok;
        return;
      }
      // a run that only changed hosts is undone without a cloud session, as it was made
      const targets = await connectRunTargets(
        plan.items.some((item) => item.state.step.target.kind === 'cloud'),
        { ...options, osCloud: options.osCloud ?? plan.run.cloud },
        environment,
        log,
        plan.run.cloud ?? noCloudLabel,
      );
      try {
        const ctx = createCheckContext(
          targets.cloud,
          {},
          log,
          new AbortController().signal,
          undefined,
          targets.hosts,
        );
        const { runId: undoRunId, outcomes } = await applyUndo(plan, {
          journal,
          ctx,
          findCheck: (id) => registry.get(id),
          operator: environment.operator,
          toolVersion: version,
        });
        print(renderUndoOutcomes(outcomes, render));
        environment.stderr.write(`journal: undo run ${undoRunId}\n`);
        exitCode = outcomes.every((outcome) => outcome.result === 'undone')
          ? ExitCode.ok
          : ExitCode.toolFailure;
      } finally {
        await targets.close();
      }
    });

  addCommonOptions(program.command('journal').argument('[run-id]'))
    .description('list fix runs, or show what one changed and the prior state')
    .action(async (runId: string | undefined, options: CommonOptions) => {
      const log = loggerFor(options);
      const journal = journalFor(options);
      await warnInterrupted(journal, log);
      print(
        runId
          ? await showRun(journal, runId, renderOptions(options))
          : await listRuns(journal, renderOptions(options)),
      );
    });

  addRunOptions(program.command('serve').argument('[checks...]', 'check ids or globs (default: all)'))
    .description('check every interval and serve a dashboard, /metrics and /api/v1/report (read-only)')
    .option(
      '--listen <host:port>',
      'where to serve (loopback by default: no authentication)',
      '127.0.0.1:9747',
    )
    .option('--interval <seconds>', 'time between sweeps', parsePositiveInteger, 300)
    .action(async (patterns: string[], options: RunOptions & { listen: string; interval: number }) => {
      const checks = registry.select(patterns);
      const parameters = parseParameters(options.set);
      validateParameters(checks, parameters);
      const listen = parseListen(options.listen);
      const log = loggerFor(options);
      const targets = await connectRunTargets(needsCloud(checks, options), options, environment, log);
      const { cloud, hosts } = targets;
      const service = new CheckService(
        checks,
        cloud,
        (signal) => createCheckContext(cloud, parameters, log, signal, stateDirectory(options), hosts),
        {
          ...listen,
          intervalSeconds: options.interval,
          concurrency: options.concurrency,
          timeoutMs: options.timeout * 1000,
          failOn: options.failOn,
        },
        log,
      );
      const { url } = await service.start();
      environment.stderr.write(`serving ${url} (metrics: ${url}metrics); Ctrl-C stops\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await service.stop();
      await targets.close();
    });

  addCommonOptions(
    program.command('logs').argument('<paths...>', 'log files or directories (kolla: /var/log/kolla)'),
  )
    .description('scan logs for the signatures of known failures (rotated and gzipped files too)')
    .option(
      '--host-from-path <regex>',
      'a regular expression with a named group "host" applied to paths below each directory',
    )
    .option('--fail-on <severity>', 'lowest severity that changes the exit code', parseSeverity, 'warning')
    .action(async (paths: string[], options: CommonOptions & { hostFromPath?: string; failOn: Severity }) => {
      loggerFor(options);
      const result = await scanLogPaths(paths, options);
      print(renderScan(result, renderOptions(options)));
      exitCode = exitCodeForScan(result, options.failOn);
    });

  addCommonOptions(
    program.command('trace').argument('<service>', 'process name or pattern, as pgrep -f takes it'),
  )
    .description('show what a silent service is doing: processes, sockets and their peers, strace summary')
    .option('--seconds <n>', 'how long to attach strace', parsePositiveInteger, 10)
    .option('--raw-output <prefix>', 'keep the raw strace output in PREFIX.<pid>.strace')
    .option('--describe-only', 'only /proc: no strace')
    .option('--max-processes <n>', 'refuse to attach to more processes at once', parsePositiveInteger, 16)
    .action(async (pattern: string, options: CommonOptions & TraceOptions) => {
      const log = loggerFor(options);
      // Peers are named from the catalog only when a cloud was named: trace must work on a host with no clouds.yaml.
      let knownPeers = {};
      if (options.osCloud !== undefined || environment.env.OS_CLOUD !== undefined) {
        const cloud = await connectCloud(options, environment, log);
        try {
          knownPeers = await knownPeersFromCatalog(cloud, log);
        } finally {
          await cloud.close();
        }
      }
      print(renderTrace(await traceLocalService(pattern, options, knownPeers), renderOptions(options)));
    });

  addCommonOptions(program.command('cloud'))
    .description('show the authenticated identity, endpoints, API versions and runnable checks')
    .action(async (options: CommonOptions) => {
      const log = loggerFor(options);
      const cloud = await connectCloud(options, environment, log);
      try {
        print(await describeCloud(cloud, registry.all(), renderOptions(options)));
      } finally {
        await cloud.close();
      }
    });

  addImageConvertCommand(program, {
    environment,
    journalFor,
    loggerFor,
    renderOptions,
    warnInterrupted,
    confirm: (question) => askYesNo(question, environment),
    toolVersion: version,
    setExitCode: (code) => {
      exitCode = code;
    },
  });

  try {
    await program.parseAsync([...args], { from: 'user' });
  } catch (error) {
    return reportError(error, environment, debug);
  }
  return exitCode;
}

function reportError(error: unknown, environment: CliEnvironment, debug: boolean): number {
  if (error instanceof CommanderError) {
    // Commander already printed its message; help and version are successes.
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.toolFailure;
  }
  if (error instanceof StackdoctorError) {
    environment.stderr.write(`stackdoctor: ${error.message}\n`);
    if (error.hint) environment.stderr.write(`hint: ${error.hint}\n`);
    if (debug && error.cause !== undefined)
      environment.stderr.write(`cause: ${describeError(error.cause)}\n`);
    return error.exitCode;
  }
  environment.stderr.write(`stackdoctor: unexpected error (please report it): ${describeError(error)}\n`);
  if (debug && error instanceof Error && error.stack) environment.stderr.write(`${error.stack}\n`);
  return ExitCode.toolFailure;
}

async function askYesNo(question: string, environment: CliEnvironment): Promise<boolean> {
  if (!environment.stdinIsTty) return false;
  const readline = createInterface({ input: process.stdin, output: environment.stderr });
  try {
    const answer = await readline.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    readline.close();
  }
}
