import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { ConfigError } from '../core/errors.js';
import { Redactor } from './redact.js';
import type { ServiceType } from './types.js';

/**
 * Cloud configuration, read the way openstacksdk reads it (reference §1.4, §1.5; openstacksdk
 * `openstack/config/loader.py`, `cloud_region.py`), so that an operator's clouds.yaml, secure.yaml and
 * OS_* variables work unchanged. Deliberate differences, each because failing loudly beats guessing:
 * a malformed file, a directory in place of a file and an unreadable OS_CLIENT_CONFIG_FILE are errors
 * (current openstacksdk skips them with a warning), and an unsupported auth_type is rejected here rather
 * than at the first request.
 */

export interface ResolveCloudConfigInput {
  /** `--os-cloud`; wins over `OS_CLOUD`. */
  cloudName?: string;
  /** `--os-region-name`. */
  regionName?: string;
  env: Record<string, string | undefined>;
  cwd: string;
  homeDir: string;
  /** `--insecure`. */
  insecure?: boolean;
  /** `--os-cacert`. */
  cacert?: string;
  /** `--os-interface`. */
  interface?: string;
  /** The last search directory, `/etc/openstack`; tests point it at a scratch directory. */
  systemConfigDir?: string;
}

export type DomainRef = { id: string } | { name: string };
export type UserRef = { id: string } | { name: string; domain: DomainRef };
export type ProjectRef = { id: string } | { name: string; domain: DomainRef };

export type AuthScope =
  | { kind: 'project'; project: ProjectRef }
  | { kind: 'domain'; domain: DomainRef }
  | { kind: 'system' }
  | { kind: 'trust'; trustId: string }
  | { kind: 'unscoped' };

export type AuthMethod =
  | { type: 'password'; authUrl: string; user: UserRef; password: string; scope: AuthScope }
  | {
      type: 'application-credential';
      authUrl: string;
      credential: { id: string } | { name: string; user: UserRef };
      secret: string;
    }
  | { type: 'token'; authUrl: string; token: string; scope: AuthScope }
  /** keystoneauth `admin_token` (alias `token_endpoint`): the token is sent as is, no catalog. */
  | { type: 'admin-token'; token: string; endpoint: string | undefined }
  /** keystoneauth `none`: no token at all (standalone services); endpoints come from overrides. */
  | { type: 'none'; endpoint: string | undefined };

export type EndpointInterface = 'public' | 'internal' | 'admin';

export interface ServiceSettings {
  endpointOverride: string | undefined;
  interface: EndpointInterface | undefined;
  regionName: string | undefined;
  apiVersion: string | undefined;
  defaultMicroversion: string | undefined;
}

export interface TlsSettings {
  verify: boolean;
  /** CA bundle (absolute, `~` expanded); only used when verify is true. */
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
}

export interface ConfigSources {
  cloudsFile: string | undefined;
  secureFile: string | undefined;
  /** The cloud is the `envvars` cloud built from OS_* variables. */
  fromEnvironment: boolean;
  /** Line of the cloud's entry in cloudsFile, for messages. */
  line: number | undefined;
}

export interface ResolvedCloudConfig {
  cloudName: string;
  sources: ConfigSources;
  /** The keystoneauth plugin name as configured (after aliasing), e.g. `password`, `v3applicationcredential`. */
  authType: string;
  auth: AuthMethod;
  regionName: string | undefined;
  interface: EndpointInterface;
  tls: TlsSettings;
  /** `api_timeout` in milliseconds. */
  timeoutMs: number | undefined;
  identityApiVersion: string | undefined;
  services: Partial<Record<ServiceType, ServiceSettings>>;
  /** Things worth telling the operator that are not errors (skipped unreadable files, ignored keys). */
  warnings: string[];
}

type Dict = Record<string, unknown>;

const serviceTypes: readonly ServiceType[] = [
  'identity',
  'compute',
  'placement',
  'image',
  'network',
  'workflowv2',
];

/** Config-key prefixes per service: the type and its os-service-types aliases (`workflow_*` for Mistral). */
export const serviceTypeAliases: Record<ServiceType, readonly string[]> = {
  identity: ['identity'],
  compute: ['compute'],
  placement: ['placement'],
  image: ['image'],
  network: ['network'],
  workflowv2: ['workflowv2', 'workflow'],
};

/** OS_* variables that select or locate a cloud without describing one (openstacksdk `_get_os_environ`). */
const selectorVariables = new Set([
  'OS_CLOUD',
  'OS_REGION_NAME',
  'OS_CLIENT_CONFIG_FILE',
  'OS_CLIENT_SECURE_FILE',
  'OS_CLOUD_NAME',
]);

const supportedAuthTypes = [
  'password',
  'v3password',
  'v3applicationcredential',
  'token',
  'v3token',
  'admin_token',
  'token_endpoint',
  'none',
];

const scopeOptions = [
  'system_scope',
  'domain_id',
  'domain_name',
  'project_id',
  'project_name',
  'project_domain_id',
  'project_domain_name',
  'trust_id',
];
const userOptions = ['user_id', 'username', 'user_domain_id', 'user_domain_name'];

/** keystoneauth plugin options per auth_type: these move from the top level into `auth`. */
const pluginOptions: Record<string, readonly string[]> = {
  password: [
    'auth_url',
    ...scopeOptions,
    'default_domain_id',
    'default_domain_name',
    ...userOptions,
    'password',
  ],
  v3password: ['auth_url', ...scopeOptions, ...userOptions, 'password'],
  v3applicationcredential: [
    'auth_url',
    ...scopeOptions,
    ...userOptions,
    'application_credential_secret',
    'application_credential_id',
    'application_credential_name',
  ],
  token: ['auth_url', ...scopeOptions, 'default_domain_id', 'default_domain_name', 'token'],
  v3token: ['auth_url', ...scopeOptions, 'token'],
  admin_token: ['endpoint', 'token'],
  none: ['endpoint'],
};

/** Deprecated plugin option names (keystoneauth `deprecated_opts`). */
const deprecatedOptionNames: Record<string, readonly string[]> = { username: ['user_name'] };

export async function resolveCloudConfig(input: ResolveCloudConfigInput): Promise<ResolvedCloudConfig> {
  const { env } = input;
  const warnings: string[] = [];
  const searchDirs = configSearchDirs(input);

  const cloudsCandidates = candidateFiles(searchDirs, 'clouds', nonEmpty(env.OS_CLIENT_CONFIG_FILE), input);
  const secureCandidates = candidateFiles(searchDirs, 'secure', nonEmpty(env.OS_CLIENT_SECURE_FILE), input);
  const cloudsFile = await loadFirstFile(cloudsCandidates, warnings);
  const secureFile = await loadFirstFile(secureCandidates, warnings);

  const merged: Dict = deepMerge(cloudsFile?.data ?? {}, secureFile?.data ?? {});
  const fileClouds = readCloudsSection(merged, cloudsFile?.path ?? secureFile?.path);
  const clouds: Dict = { ...fileClouds };

  // The cloud built from OS_* variables is called `envvars` (or $OS_CLOUD_NAME); openstacksdk refuses a
  // file cloud of the same name even when no OS_* variable is set.
  const envvarKey = nonEmpty(env.OS_CLOUD_NAME) ?? 'envvars';
  if (Object.hasOwn(fileClouds, envvarKey)) {
    throw new ConfigError(
      `${cloudsFile?.path ?? secureFile?.path ?? 'clouds.yaml'} defines a cloud named "${envvarKey}", the name of the cloud built from OS_* variables`,
      { hint: 'rename that cloud, or set OS_CLOUD_NAME to another name' },
    );
  }
  const envCloud = environmentCloud(env);
  if (envCloud !== undefined) clouds[envvarKey] = envCloud;

  const requested = nonEmpty(input.cloudName) ?? nonEmpty(env.OS_CLOUD);
  let cloudName = requested;
  if (cloudName === undefined && envCloud !== undefined) cloudName = envvarKey;
  const names = Object.keys(clouds);
  if (cloudName === undefined && names.length === 1) cloudName = names[0];

  const searched = describeSearch(searchDirs, env, input.homeDir);
  if (cloudName === undefined) {
    if (names.length === 0) {
      throw new ConfigError(
        `no cloud configured: no clouds.yaml found (searched ${searched}) and no OS_* variables set`,
        {
          hint: 'create clouds.yaml, point OS_CLIENT_CONFIG_FILE at one, or source an openrc file',
        },
      );
    }
    throw new ConfigError(
      `no cloud selected: ${cloudsFile?.path ?? 'clouds.yaml'} defines ${names.length} clouds (${names.join(', ')})`,
      { hint: 'choose one with --os-cloud NAME or OS_CLOUD=NAME' },
    );
  }
  if (!Object.hasOwn(clouds, cloudName)) {
    const where = cloudsFile ? `in ${cloudsFile.path}` : `(no clouds.yaml found; searched ${searched})`;
    const known = names.length > 0 ? `; known clouds: ${names.join(', ')}` : '';
    throw new ConfigError(`cloud "${cloudName}" not found ${where}${known}`, {
      hint: 'check --os-cloud / OS_CLOUD (cloud names are case sensitive)',
    });
  }

  const fromEnvironment = envCloud !== undefined && cloudName === envvarKey;
  const sources: ConfigSources = {
    cloudsFile: fromEnvironment ? undefined : cloudsFile?.path,
    secureFile: fromEnvironment ? undefined : secureFile?.path,
    fromEnvironment,
    line: fromEnvironment ? undefined : cloudsFile?.cloudLine(cloudName),
  };
  const where = fromEnvironment
    ? `cloud "${cloudName}" (from OS_* variables)`
    : `cloud "${cloudName}" (${sources.cloudsFile ?? sources.secureFile ?? 'clouds.yaml'}${sources.line === undefined ? '' : `:${sources.line}`})`;

  const entry = clouds[cloudName];
  if (!isDict(entry)) throw new ConfigError(`${where} is not a mapping`);
  return buildCloud({ name: cloudName, entry: normalizeKeys(entry), where, sources, input, warnings });
}

// ---------------------------------------------------------------------------------------------
// Files

interface CandidateFile {
  path: string;
  /** Named by OS_CLIENT_CONFIG_FILE / OS_CLIENT_SECURE_FILE: its absence or unreadability is an error. */
  explicit: boolean;
}

interface LoadedFile {
  path: string;
  data: Dict;
  cloudLine(name: string): number | undefined;
}

/** Directories in openstacksdk's CONFIG_SEARCH_PATH order, duplicates removed. */
function configSearchDirs(input: ResolveCloudConfigInput): string[] {
  const { env, homeDir, cwd } = input;
  const xdgConfigHome = nonEmpty(env.XDG_CONFIG_HOME?.trim()) ?? path.join(homeDir, '.config');
  // snaps set HOME to a per-revision directory; the real one is in SNAP_REAL_HOME.
  const unixConfigHome = path.join(nonEmpty(env.SNAP_REAL_HOME) ?? homeDir, '.config', 'openstack');
  // platformdirs' site config dirs: every $XDG_CONFIG_DIRS entry (default /etc/xdg), each + /openstack.
  const xdgConfigDirs = (nonEmpty(env.XDG_CONFIG_DIRS?.trim()) ?? '/etc/xdg')
    .split(':')
    .filter((dir) => dir !== '')
    .map((dir) => path.join(dir, 'openstack'));
  const dirs = [
    cwd,
    path.join(xdgConfigHome, 'openstack'),
    unixConfigHome,
    ...xdgConfigDirs,
    input.systemConfigDir ?? '/etc/openstack',
  ];
  return [...new Set(dirs.map((dir) => path.resolve(cwd, dir)))];
}

function candidateFiles(
  dirs: readonly string[],
  base: 'clouds' | 'secure',
  override: string | undefined,
  input: ResolveCloudConfigInput,
): CandidateFile[] {
  const files: CandidateFile[] = [];
  if (override !== undefined)
    files.push({ path: path.resolve(input.cwd, expandHome(override, input.homeDir)), explicit: true });
  for (const dir of dirs) {
    for (const suffix of ['.yaml', '.yml', '.json'])
      files.push({ path: path.join(dir, base + suffix), explicit: false });
  }
  return files;
}

function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}

async function loadFirstFile(
  candidates: readonly CandidateFile[],
  warnings: string[],
): Promise<LoadedFile | undefined> {
  for (const candidate of candidates) {
    let text: string;
    try {
      text = await readFile(candidate.path, 'utf8');
    } catch (error) {
      const code = errnoCode(error);
      // A missing file is skipped even when OS_CLIENT_CONFIG_FILE names it, like openstacksdk: pointing it
      // at a nonexistent path is a known way to keep clouds.yaml files out of an OS_* based run.
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      // Like openstacksdk, an unreadable file in the search path is skipped (another may be readable).
      if ((code === 'EACCES' || code === 'EPERM') && !candidate.explicit) {
        warnings.push(`skipped ${candidate.path}: permission denied`);
        continue;
      }
      const reason =
        code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (code ?? 'read error');
      throw new ConfigError(`cannot read ${candidate.path}: ${reason}`, {
        hint: candidate.explicit ? 'check OS_CLIENT_CONFIG_FILE / OS_CLIENT_SECURE_FILE' : undefined,
        cause: error,
      });
    }
    return parseConfigFile(candidate.path, text);
  }
  return undefined;
}

/** Parses YAML (as YAML 1.1, like PyYAML: `yes`/`no`/`on`/`off` are booleans) or JSON, with line numbers. */
export function parseConfigFile(filePath: string, text: string): LoadedFile {
  const lineCounter = new LineCounter();
  const isJson = filePath.endsWith('.json');
  const document = parseDocument(text, {
    version: isJson ? '1.2' : '1.1',
    // PyYAML keeps the last of duplicate keys instead of failing.
    uniqueKeys: false,
    lineCounter,
    prettyErrors: false,
  });
  const firstError = document.errors[0];
  if (firstError !== undefined) {
    const position = lineCounter.linePos(firstError.pos[0]);
    const message = new Redactor().text(firstError.message.split('\n')[0] ?? '');
    throw new ConfigError(
      `malformed ${isJson ? 'JSON' : 'YAML'} in ${filePath}:${position.line}:${position.col}: ${message}`,
    );
  }
  const data: unknown = document.toJS();
  // openstacksdk treats an empty file as no configuration, and anything else that is not a mapping as an error.
  if (data === null || data === undefined) {
    return { path: filePath, data: {}, cloudLine: () => undefined };
  }
  if (!isDict(data)) throw new ConfigError(`${filePath} is not a mapping (expected "clouds:" at the top)`);
  const cloudsNode = document.get('clouds', true);
  return {
    path: filePath,
    data,
    cloudLine(name: string): number | undefined {
      if (!isMap(cloudsNode)) return undefined;
      for (const pair of cloudsNode.items) {
        if (isScalar(pair.key) && String(pair.key.value) === name && pair.key.range) {
          return lineCounter.linePos(pair.key.range[0]).line;
        }
      }
      return undefined;
    },
  };
}

function readCloudsSection(config: Dict, filePath: string | undefined): Dict {
  const clouds = config.clouds;
  if (clouds === undefined || clouds === null) return {};
  if (!isDict(clouds)) throw new ConfigError(`${filePath ?? 'clouds.yaml'}: "clouds" is not a mapping`);
  return clouds;
}

function describeSearch(
  dirs: readonly string[],
  env: Record<string, string | undefined>,
  homeDir: string,
): string {
  const shown = dirs.map((dir) => (dir.startsWith(`${homeDir}/`) ? `~${dir.slice(homeDir.length)}` : dir));
  const prefix = nonEmpty(env.OS_CLIENT_CONFIG_FILE) ? [nonEmpty(env.OS_CLIENT_CONFIG_FILE)] : [];
  return [...prefix, ...shown].join(', ');
}

// ---------------------------------------------------------------------------------------------
// The environment cloud (reference §1.5)

function environmentCloud(env: Record<string, string | undefined>): Dict | undefined {
  const cloud: Dict = {};
  let describesCloud = false;
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.startsWith('OS_')) continue;
    // oslotest / infra variables, not cloud settings.
    if (name.startsWith('OS_TEST') || name.startsWith('OS_STD') || name.startsWith('OS_LOG')) continue;
    cloud[name.slice(3).toLowerCase()] = value;
    if (!selectorVariables.has(name)) describesCloud = true;
  }
  return describesCloud ? cloud : undefined;
}

// ---------------------------------------------------------------------------------------------
// One cloud

interface BuildArgs {
  name: string;
  entry: Dict;
  where: string;
  sources: ConfigSources;
  input: ResolveCloudConfigInput;
  warnings: string[];
}

function buildCloud(args: BuildArgs): ResolvedCloudConfig {
  const { name, entry, where, input, warnings } = args;
  if (entry.profile !== undefined || entry.cloud !== undefined) {
    warnings.push(`${where}: vendor profiles are not supported; only the keys in the entry itself are used`);
  }
  const config: Dict = { ...entry, auth: isDict(entry.auth) ? { ...entry.auth } : {} };

  const region = selectRegion(entry, input.regionName, name);
  updateWithAuth(config, region.values);
  delete config.regions;
  if (region.name !== '') config.region_name = region.name;
  else delete config.region_name;

  const fixed = applyMagicFixes(config);
  // Command-line options beat the file (they are applied after the legacy-key fix-ups on purpose:
  // a legacy `endpoint_type` in the file must not override --os-interface).
  if (input.interface !== undefined) fixed.interface = input.interface;
  if (input.insecure !== undefined) fixed.insecure = input.insecure;
  if (input.cacert !== undefined) fixed.cacert = input.cacert;
  const explicitAuthType = Object.hasOwn(fixed, 'auth_type');
  const authType = normaliseAuthType(fixed, explicitAuthType);
  if (!supportedAuthTypes.includes(authType)) {
    throw new ConfigError(`${where}: auth_type "${authType}" is not supported`, {
      hint: `stackdoctor supports ${supportedAuthTypes.join(', ')}`,
    });
  }
  const canonicalType = authType === 'token_endpoint' ? 'admin_token' : authType;
  const auth = moveOptionsIntoAuth(fixed, pluginOptions[canonicalType] ?? []);
  expandAuthUrl(auth, fixed);

  return {
    cloudName: name,
    sources: args.sources,
    authType: canonicalType,
    auth: buildAuth(canonicalType, auth, where, warnings),
    regionName: stringValue(fixed.region_name),
    interface: parseInterface(fixed.interface, where, 'interface') ?? 'public',
    tls: buildTls(fixed, input, where),
    timeoutMs: parseTimeout(fixed.api_timeout, where),
    identityApiVersion: checkIdentityVersion(stringValue(fixed.identity_api_version), where),
    services: buildServices(fixed, where),
    warnings,
  };
}

interface Region {
  name: string;
  values: Dict;
}

/** openstacksdk `_get_known_regions` / `_get_region`: the first known region unless one is asked for. */
function selectRegion(entry: Dict, requested: string | undefined, cloudName: string): Region {
  const known = knownRegions(entry, cloudName);
  const wanted = requested ?? '';
  if (known.length === 0) return { name: wanted, values: {} };
  if (wanted === '') return known[0] ?? { name: '', values: {} };
  const match = known.find((region) => region.name === wanted);
  if (match !== undefined) return match;
  throw new ConfigError(
    `region "${wanted}" is not a region of cloud "${cloudName}"; valid choices: ${known.map((r) => r.name).join(', ')}`,
    { hint: 'region names are case sensitive; check --os-region-name and the regions list in clouds.yaml' },
  );
}

function knownRegions(entry: Dict, cloudName: string): Region[] {
  const list = entry.regions ?? entry.region_name;
  if (list === undefined || list === null || list === '') return [];
  const items = Array.isArray(list) ? list : typeof list === 'string' ? list.split(',') : [list];
  return items.map((item): Region => {
    if (isDict(item)) {
      const regionName = stringValue(item.name);
      const extra = Object.keys(item).filter((key) => key !== 'name' && key !== 'values');
      if (regionName === undefined || extra.length > 0) {
        throw new ConfigError(
          `cloud "${cloudName}": invalid region entry (needs "name" and optional "values")`,
        );
      }
      return { name: regionName, values: isDict(item.values) ? normalizeKeys(item.values) : {} };
    }
    return { name: String(item).trim(), values: {} };
  });
}

/** openstacksdk `magic_fixes`: legacy spellings into current ones, domain shortcuts, booleans. */
function applyMagicFixes(input: Dict): Dict {
  let config: Dict = {};
  // Per-service timeouts from legacy clients fold into the one request timeout.
  for (const [key, value] of Object.entries(input)) {
    if (key.endsWith('timeout') && key !== 'timeout' && key !== 'api_timeout') config.api_timeout = value;
    else config[key] = value;
  }
  if (config.auth_plugin !== undefined) {
    if (config.auth_type === undefined) config.auth_type = config.auth_plugin;
    delete config.auth_plugin;
  }

  const auth = authOf(config);
  const legacy: Record<string, readonly string[]> = {
    domain_id: ['domain_id'],
    domain_name: ['domain_name'],
    user_domain_id: ['user_domain_id'],
    user_domain_name: ['user_domain_name'],
    project_domain_id: ['project_domain_id'],
    project_domain_name: ['project_domain_name'],
    token: ['auth_token', 'token'],
    project_id: ['tenant_id', 'project_id'],
    project_name: ['tenant_name', 'project_name'],
  };
  for (const [target, sources] of Object.entries(legacy)) {
    let value: unknown;
    for (const key of sources) {
      if (Object.hasOwn(auth, key)) {
        value = auth[key];
        delete auth[key];
      }
      // A top-level value (often from the command line or environment) beats the one inside auth.
      if (Object.hasOwn(config, key)) {
        value = config[key];
        delete config[key];
      }
    }
    const text = stringValue(value);
    if (text !== undefined && text !== '') auth[target] = text;
  }

  const renamed: Dict = {};
  for (const [key, value] of Object.entries(config)) {
    renamed[key.endsWith('endpoint_type') ? key.replace('endpoint_type', 'interface') : key] = value;
  }
  config = renamed;
  config.auth = auth;

  // A single domain_id/domain_name stands for both user and project domain when the token is project scoped.
  const projectScoped = 'project_id' in auth || 'project_name' in auth;
  const domainShortcuts: Record<string, readonly string[]> = {
    domain_id: ['user_domain_id', 'project_domain_id'],
    domain_name: ['user_domain_name', 'project_domain_name'],
  };
  for (const [shortcut, targets] of Object.entries(domainShortcuts)) {
    if (!projectScoped) continue;
    for (const target of targets) {
      if (Object.hasOwn(auth, shortcut) && !Object.hasOwn(auth, target)) auth[target] = auth[shortcut];
    }
    delete auth[shortcut];
  }

  for (const key of ['insecure', 'cache']) {
    if (Object.hasOwn(config, key)) config[key] = parseSdkBoolean(config[key]);
  }
  return config;
}

/** openstacksdk `get_boolean`: only the string `true` (any case) is true. */
function parseSdkBoolean(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  return typeof value === 'string' && value.toLowerCase() === 'true';
}

function normaliseAuthType(config: Dict, explicit: boolean): string {
  const raw = config.auth_type;
  if (explicit) {
    if (raw === null || raw === '' || raw === 'None') return 'none';
    return String(raw);
  }
  // The `openstack` CLI picks the token plugin when a token but no password is given; application
  // credentials are unambiguous in the same way. Otherwise the generic password plugin (SDK default).
  const auth = authOf(config);
  const has = (key: string) => nonEmpty(stringValue(auth[key] ?? config[key])) !== undefined;
  if (has('password')) return 'password';
  if (has('application_credential_secret')) return 'v3applicationcredential';
  if (has('token')) return 'token';
  return 'password';
}

/** openstacksdk `_validate_auth`: plugin options given at the top level move into auth; auth wins. */
function moveOptionsIntoAuth(config: Dict, options: readonly string[]): Dict {
  const auth = authOf(config);
  for (const option of options) {
    const names = [option, ...(deprecatedOptionNames[option] ?? [])];
    let winner: unknown;
    for (const source of [auth, config]) {
      for (const candidate of names) {
        if (winner === undefined && source[candidate] !== undefined && source[candidate] !== '')
          winner = source[candidate];
      }
    }
    for (const candidate of names) {
      delete config[candidate];
      delete auth[candidate];
    }
    if (winner !== undefined) auth[option] = winner;
  }
  config.auth = auth;
  return auth;
}

/** openstacksdk formats auth_url with the cloud's own keys (`{region_name}` in a URL template). */
function expandAuthUrl(auth: Dict, config: Dict): void {
  const url = stringValue(auth.auth_url);
  if (url === undefined) return;
  auth.auth_url = url.replace(
    /\{([a-z_][a-z0-9_]*)\}/gi,
    (whole, key: string) => stringValue(config[key]) ?? whole,
  );
}

function buildAuth(authType: string, auth: Dict, where: string, warnings: string[]): AuthMethod {
  const get = (key: string) => nonEmpty(stringValue(auth[key]));
  if (authType === 'admin_token') {
    const token = get('token');
    if (token === undefined) throw new ConfigError(`${where}: auth_type admin_token needs a token`);
    return { type: 'admin-token', token, endpoint: optionalUrl(get('endpoint'), where, 'endpoint') };
  }
  if (authType === 'none') return { type: 'none', endpoint: optionalUrl(get('endpoint'), where, 'endpoint') };

  const authUrl = get('auth_url');
  if (authUrl === undefined) {
    throw new ConfigError(`${where} has no auth_url`, {
      hint: 'set auth: {auth_url: https://keystone.example:5000/v3} in clouds.yaml, or OS_AUTH_URL',
    });
  }
  checkUrl(authUrl, where, 'auth_url');

  if (authType === 'v3applicationcredential') {
    const secret = get('application_credential_secret');
    if (secret === undefined) {
      throw new ConfigError(`${where} has no application_credential_secret`, {
        hint: 'set it in clouds.yaml / secure.yaml or OS_APPLICATION_CREDENTIAL_SECRET',
      });
    }
    if (scopeOptions.some((key) => get(key) !== undefined)) {
      // Keystone refuses any scope with an application credential: the credential fixes its project.
      warnings.push(`${where}: project/domain settings are ignored with an application credential`);
    }
    const id = get('application_credential_id');
    if (id !== undefined) return { type: 'application-credential', authUrl, credential: { id }, secret };
    const name = get('application_credential_name');
    if (name === undefined) {
      throw new ConfigError(
        `${where} needs application_credential_id, or application_credential_name and a user`,
      );
    }
    return {
      type: 'application-credential',
      authUrl,
      credential: { name, user: buildUser(auth, where) },
      secret,
    };
  }

  const scope = buildScope(auth, where);
  if (authType === 'token' || authType === 'v3token') {
    const token = get('token');
    if (token === undefined)
      throw new ConfigError(`${where}: auth_type ${authType} needs a token (OS_TOKEN)`);
    return { type: 'token', authUrl, token, scope };
  }

  if (get('password') === undefined && get('application_credential_secret') !== undefined) {
    throw new ConfigError(`${where} has application credential settings but auth_type ${authType}`, {
      hint: 'set auth_type: v3applicationcredential (OS_AUTH_TYPE=v3applicationcredential)',
    });
  }
  const password = stringValue(auth.password);
  if (password === undefined || password === '') {
    throw new ConfigError(`${where} has no password`, {
      hint: 'set auth.password in clouds.yaml or secure.yaml, or OS_PASSWORD',
    });
  }
  return { type: 'password', authUrl, user: buildUser(auth, where), password, scope };
}

/** The entity's own domain first, then the generic password plugin's `default_domain_*`. */
function domainRef(auth: Dict, prefix: 'user_domain' | 'project_domain'): DomainRef | undefined {
  for (const [idKey, nameKey] of [
    [`${prefix}_id`, `${prefix}_name`],
    ['default_domain_id', 'default_domain_name'],
  ]) {
    const id = nonEmpty(stringValue(auth[idKey ?? '']));
    if (id !== undefined) return { id };
    const name = nonEmpty(stringValue(auth[nameKey ?? '']));
    if (name !== undefined) return { name };
  }
  return undefined;
}

function buildUser(auth: Dict, where: string): UserRef {
  const id = nonEmpty(stringValue(auth.user_id));
  if (id !== undefined) return { id };
  const name = nonEmpty(stringValue(auth.username));
  if (name === undefined) {
    throw new ConfigError(`${where} has no username or user_id`, {
      hint: 'set auth.username, or OS_USERNAME',
    });
  }
  const domain = domainRef(auth, 'user_domain');
  if (domain === undefined) {
    throw new ConfigError(`${where}: user "${name}" is given by name but without a domain`, {
      hint: 'set user_domain_name (e.g. Default) or user_domain_id, or OS_USER_DOMAIN_NAME',
    });
  }
  return { name, domain };
}

/** keystoneauth's precedence: trust, project, domain, system; otherwise an unscoped token. */
function buildScope(auth: Dict, where: string): AuthScope {
  const get = (key: string) => nonEmpty(stringValue(auth[key]));
  const trustId = get('trust_id');
  if (trustId !== undefined) return { kind: 'trust', trustId };
  const projectId = get('project_id');
  if (projectId !== undefined) return { kind: 'project', project: { id: projectId } };
  const projectName = get('project_name');
  if (projectName !== undefined) {
    const domain = domainRef(auth, 'project_domain');
    if (domain === undefined) {
      throw new ConfigError(`${where}: project "${projectName}" is given by name but without a domain`, {
        hint: 'set project_domain_name (e.g. Default) or project_domain_id, or OS_PROJECT_DOMAIN_NAME',
      });
    }
    return { kind: 'project', project: { name: projectName, domain } };
  }
  const domainId = get('domain_id');
  if (domainId !== undefined) return { kind: 'domain', domain: { id: domainId } };
  const domainName = get('domain_name');
  if (domainName !== undefined) return { kind: 'domain', domain: { name: domainName } };
  const system = get('system_scope');
  if (system !== undefined) {
    if (system !== 'all') throw new ConfigError(`${where}: system_scope must be "all" (got "${system}")`);
    return { kind: 'system' };
  }
  return { kind: 'unscoped' };
}

const interfaceSpellings: Record<string, EndpointInterface> = {
  public: 'public',
  publicurl: 'public',
  internal: 'internal',
  internalurl: 'internal',
  admin: 'admin',
  adminurl: 'admin',
};

/** Accepts the v3 names and keystoneauth's v2 spellings (`publicURL`, `internalURL`, `adminURL`). */
export function normaliseInterface(value: string): EndpointInterface | undefined {
  return interfaceSpellings[value.trim().toLowerCase()];
}

function parseInterface(value: unknown, where: string, key: string): EndpointInterface | undefined {
  const text = nonEmpty(stringValue(value));
  if (text === undefined) return undefined;
  const parsed = normaliseInterface(text);
  if (parsed === undefined) {
    throw new ConfigError(`${where}: ${key} "${text}" is not one of public, internal, admin`);
  }
  return parsed;
}

function buildTls(config: Dict, input: ResolveCloudConfigInput, where: string): TlsSettings {
  let verify = true;
  let caFile: string | undefined;
  const rawVerify = config.verify;
  if (typeof rawVerify === 'boolean') verify = rawVerify;
  else if (typeof rawVerify === 'string' && rawVerify !== '') {
    const lowered = rawVerify.toLowerCase();
    if (lowered === 'false') verify = false;
    // Like requests' `verify=<path>`: a string that is not a boolean is a CA bundle.
    else if (lowered !== 'true') caFile = rawVerify;
  } else if (rawVerify !== undefined && rawVerify !== null) {
    throw new ConfigError(`${where}: verify must be true, false or a CA bundle path`);
  }
  // `insecure: true` is the most aggressive setting and wins (openstacksdk get_requests_verify_args).
  if (config.insecure === true) verify = false;
  const cacert = nonEmpty(stringValue(config.cacert)) ?? caFile;
  const resolvePath = (file: string | undefined) =>
    file === undefined ? undefined : path.resolve(input.cwd, expandHome(file, input.homeDir));
  return {
    verify,
    caFile: verify ? resolvePath(cacert) : undefined,
    certFile: resolvePath(nonEmpty(stringValue(config.cert))),
    keyFile: resolvePath(nonEmpty(stringValue(config.key))),
  };
}

function parseTimeout(value: unknown, where: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const seconds = typeof value === 'number' ? value : Number(String(value));
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new ConfigError(`${where}: api_timeout must be a positive number of seconds`);
  }
  return Math.round(seconds * 1000);
}

function checkIdentityVersion(version: string | undefined, where: string): string | undefined {
  if (version !== undefined && version !== '' && !/^3(\.\d+)?$/.test(version)) {
    throw new ConfigError(
      `${where}: identity_api_version ${version} is not supported; Keystone v3 is required`,
    );
  }
  return version;
}

function buildServices(config: Dict, where: string): Partial<Record<ServiceType, ServiceSettings>> {
  const services: Partial<Record<ServiceType, ServiceSettings>> = {};
  for (const service of serviceTypes) {
    const lookup = (suffix: string): string | undefined => {
      for (const alias of serviceTypeAliases[service]) {
        const value = nonEmpty(stringValue(config[`${alias.replaceAll('-', '_')}_${suffix}`]));
        if (value !== undefined) return value;
      }
      return undefined;
    };
    const settings: ServiceSettings = {
      endpointOverride: optionalUrl(lookup('endpoint_override'), where, `${service}_endpoint_override`),
      interface: parseInterface(lookup('interface'), where, `${service}_interface`),
      regionName: lookup('region_name'),
      apiVersion: lookup('api_version'),
      defaultMicroversion: lookup('default_microversion'),
    };
    if (Object.values(settings).some((value) => value !== undefined)) services[service] = settings;
  }
  return services;
}

function optionalUrl(value: string | undefined, where: string, key: string): string | undefined {
  if (value !== undefined) checkUrl(value, where, key);
  return value;
}

function checkUrl(value: string, where: string, key: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigError(`${where}: ${key} "${new Redactor().url(value)}" is not an http(s) URL`);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function authOf(config: Dict): Dict {
  const auth = config.auth;
  if (isDict(auth)) return auth;
  const fresh: Dict = {};
  config.auth = fresh;
  return fresh;
}

/** openstacksdk `_auth_update`: like Object.assign, except that `auth` is merged one level deep. */
function updateWithAuth(target: Dict, source: Dict): void {
  for (const [key, value] of Object.entries(source)) {
    if (key === 'auth' && isDict(value)) target.auth = { ...authOf(target), ...value };
    else target[key] = value;
  }
}

/** secure.yaml over clouds.yaml: mappings merge recursively, anything else replaces. */
function deepMerge(base: Dict, overlay: Dict): Dict {
  const result: Dict = { ...base };
  for (const [key, value] of Object.entries(overlay)) {
    const existing = result[key];
    result[key] = isDict(existing) && isDict(value) ? deepMerge(existing, value) : value;
  }
  return result;
}

/** Dashes in keys become underscores, recursively (`project-name` == `project_name`). */
function normalizeKeys(value: Dict): Dict {
  const result: Dict = {};
  for (const [key, item] of Object.entries(value)) {
    result[key.replaceAll('-', '_')] = isDict(item) ? normalizeKeys(item) : item;
  }
  return result;
}

/** YAML numbers are strings to keystone (a numeric project id, say); booleans and objects are not strings. */
function stringValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function expandHome(file: string, homeDir: string): string {
  if (file === '~') return homeDir;
  return file.startsWith('~/') ? path.join(homeDir, file.slice(2)) : file;
}
