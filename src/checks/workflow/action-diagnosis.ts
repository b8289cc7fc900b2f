import type { JsonObject } from '../../core/json.js';
import { parseConfBoolean } from '../host/oslo-conf.js';
import type { LogSighting, MistralRuntime, ProviderConfig } from './mistral-install.js';

/** Where Mistral's standard actions come from: the database (up to Ussuri) or action providers (Victoria on). */
export type ActionSource = 'database' | 'providers' | 'unknown';

/** Python actions Mistral ships under `std.`; none listed means the standard actions are not there. */
const standardActions = new Set([
  'std.noop',
  'std.echo',
  'std.http',
  'std.fail',
  'std.sleep',
  'std.mistral_http',
]);
/** Ad-hoc actions `populate` registers from mistral/resources/actions (Victoria on). */
const preinstalledAdhocActions = new Set(['std.wait_ssh']);

export interface ActionListFacts {
  /** Names from GET /v2/actions. */
  actions: readonly { name: string; id?: string | null | undefined }[];
  dynamicActionsApi: boolean;
  /** `--set mistral_release=…`: the operator says which release runs. */
  releaseGiven?: string | undefined;
  runtime?: MistralRuntime | { error: string } | undefined;
  config?: ProviderConfig | undefined;
  logLines?: readonly LogSighting[] | undefined;
}

export interface ActionListDiagnosis {
  problem: 'populate-never-ran' | 'providers-not-loaded' | 'source-unknown';
  source: ActionSource;
  /** How the release was told: each piece of evidence, strongest first. */
  releaseEvidence: string[];
  /** What makes providers fail here (configuration lines, entry points, log lines). */
  causes: string[];
  message: string;
  fixable: boolean;
  /** What an operator changes by hand when there is nothing to run. */
  remedy: string;
}

const releaseMajors: Record<string, number> = {
  queens: 6,
  rocky: 7,
  stein: 8,
  train: 9,
  ussuri: 10,
  victoria: 11,
  wallaby: 12,
  xena: 13,
  yoga: 14,
  zed: 15,
  antelope: 16,
  '2023.1': 16,
  bobcat: 17,
  '2023.2': 17,
  caracal: 18,
  '2024.1': 18,
  dalmatian: 19,
  '2024.2': 19,
  epoxy: 20,
  '2025.1': 20,
};

/** A release name or a Mistral version → where actions come from (Mistral 11 = Victoria brought providers). */
export function sourceOfRelease(release: string): ActionSource {
  const lowered = release.trim().toLowerCase();
  const major = releaseMajors[lowered] ?? Number.parseInt(lowered, 10);
  if (!Number.isFinite(major)) return 'unknown';
  return major <= 10 ? 'database' : 'providers';
}

export function decideActionSource(facts: ActionListFacts): {
  source: ActionSource;
  evidence: string[];
  /** Evidence pointing the other way than the decision (a given release the host contradicts). */
  contradicting: string[];
} {
  const evidence: string[] = [];
  const contradicting: string[] = [];
  let source: ActionSource = 'unknown';
  const settle = (found: ActionSource, why: string) => {
    evidence.push(why);
    if (source === 'unknown') source = found;
    else if (found !== source && found !== 'unknown') contradicting.push(why);
  };
  if (facts.releaseGiven !== undefined) {
    settle(sourceOfRelease(facts.releaseGiven), `--set mistral_release=${facts.releaseGiven}`);
  }
  if (facts.runtime !== undefined && 'version' in facts.runtime) {
    const found = sourceOfRelease(facts.runtime.version);
    settle(
      found,
      `installed Mistral ${facts.runtime.version} (${found === 'database' ? '≤ 10: Ussuri or older' : '≥ 11: Victoria or newer'})`,
    );
  }
  if (facts.dynamicActionsApi) settle('providers', 'the API has /v2/dynamic_actions (Wallaby or newer)');
  if (facts.actions.some((action) => action.id === action.name)) {
    settle('providers', 'listed actions have their name as id (provider-based listing)');
  }
  if (facts.logLines?.some((line) => line.signature === 'mistral-no-action-providers')) {
    settle('providers', 'the log says "No action providers found in the system." (Victoria or newer)');
  }
  if (facts.config?.hasSection) {
    settle('providers', `${facts.config.file} has [legacy_action_provider] (an option of Victoria or newer)`);
  }
  return { source, evidence, contradicting };
}

/** Why providers loaded no standard actions, from configuration, entry points and the log. */
function findProviderCauses(facts: ActionListFacts): string[] {
  const causes: string[] = [];
  const config = facts.config;
  if (config !== undefined) {
    for (const value of [config.loadActionPlugins, config.loadActionGenerators]) {
      if (value !== null && parseConfBoolean(value.value) === false) {
        const option = value === config.loadActionPlugins ? 'load_action_plugins' : 'load_action_generators';
        causes.push(
          `[legacy_action_provider] ${option} = ${value.value.trim()} (${value.file}:${value.line})`,
        );
      }
    }
    const builtin = config.onlyBuiltinActions;
    if (builtin !== null && parseConfBoolean(builtin.value) === true) {
      causes.push(
        `[legacy_action_provider] only_builtin_actions = ${builtin.value.trim()} (${builtin.file}:${builtin.line})`,
      );
    }
  }
  const runtime = facts.runtime;
  if (runtime !== undefined && 'version' in runtime) {
    if (!runtime.providers.includes('legacy')) {
      causes.push(
        `entry point group mistral.action.providers lacks "legacy" (has: ${runtime.providers.join(', ') || 'nothing'}): broken install`,
      );
    }
    if (runtime.actions === 0) causes.push('entry point group mistral.actions is empty: broken install');
  }
  for (const line of facts.logLines ?? []) {
    causes.push(`log: ${line.lastText.trim()} (line ${line.lastLine}, seen ${line.count}×)`);
  }
  return causes;
}

/**
 * The diagnosis for an action list without Mistral's standard actions, or null when they are listed.
 * Pure: the check gathers the facts (API, controller host) and the unit tests state every case as data.
 */
export function diagnoseActionList(facts: ActionListFacts): ActionListDiagnosis | null {
  const names = facts.actions.map((action) => action.name);
  if (names.some((name) => standardActions.has(name))) return null;
  const { source, evidence, contradicting } = decideActionSource(facts);
  const listed =
    names.length === 0
      ? 'Mistral lists no actions'
      : `Mistral lists ${names.length} action(s) (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}) but none of the standard std.* actions`;
  const why =
    (evidence.length > 0 ? evidence[0] : 'nothing tells the release') +
    (contradicting.length > 0 ? `; yet ${contradicting.join('; ')}` : '');
  if (source === 'database') {
    return {
      problem: 'populate-never-ran',
      source,
      releaseEvidence: evidence,
      causes: [],
      message: `${listed}: up to Ussuri actions live in the database, so \`mistral-db-manage populate\` never ran (${why})`,
      fixable: true,
      remedy:
        'mistral-db-manage --config-file /etc/mistral/mistral.conf populate (kolla: inside mistral_api)',
    };
  }
  if (source === 'providers') {
    const causes = findProviderCauses(facts);
    const adhoc = names.filter((name) => preinstalledAdhocActions.has(name));
    return {
      problem: 'providers-not-loaded',
      source,
      releaseEvidence: evidence,
      causes,
      message:
        `${listed}: since Victoria the standard actions come from action providers, and they loaded none (${why})` +
        `${causes.length > 0 ? `; cause: ${causes[0]}` : ''}. populate does not help: it only adds ad-hoc actions${adhoc.length > 0 ? ` (${adhoc.join(', ')} is already there)` : ''}`,
      fixable: false,
      remedy: providerRemedy(facts),
    };
  }
  return {
    problem: 'source-unknown',
    source,
    releaseEvidence: evidence,
    causes: findProviderCauses(facts),
    message: `${listed}, and the release cannot be told (no controller host answered, the API shows no Wallaby feature): up to Ussuri run populate, since Victoria fix the action providers`,
    fixable: false,
    remedy:
      'give the controller with --host (or -i/--limit), or --set mistral_release=RELEASE, and check again',
  };
}

function providerRemedy(facts: ActionListFacts): string {
  const file = facts.config?.file ?? 'mistral.conf';
  return (
    `in ${file} set [legacy_action_provider] load_action_plugins = true and load_action_generators = true ` +
    '(or remove them: true is the default) and only_builtin_actions = false; with kolla put it in ' +
    '/etc/kolla/config/mistral.conf and run kolla-ansible reconfigure -t mistral; then restart mistral_api, ' +
    'mistral_engine and mistral_executor. If entry points are missing, reinstall the mistral package/image.'
  );
}

export function describeDiagnosis(diagnosis: ActionListDiagnosis): JsonObject {
  return {
    problem: diagnosis.problem,
    actionSource: diagnosis.source,
    releaseEvidence: diagnosis.releaseEvidence,
    causes: diagnosis.causes,
    remedy: diagnosis.remedy,
  };
}
