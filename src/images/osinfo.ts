import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { StackdoctorError } from '../core/errors.js';

/** One `<os>` entry of osinfo-db, reduced to what image checks need (reference §8). */
export interface OsinfoOs {
  /** e.g. `http://ubuntu.com/ubuntu/22.04`; Nova accepts it as `os_distro` too. */
  id: string;
  /** The first is the canonical one (`ubuntu22.04`); later ones are aliases (`ubuntujammy`). */
  shortIds: string[];
  name: string | undefined;
  version: string | undefined;
  /** Glance's convention for `os_distro` (`ubuntu`, `win`, `rhel`, …). */
  distro: string | undefined;
  family: string | undefined;
  releaseDate: string | undefined;
}

export interface OsinfoDatabase {
  /** Where the entries came from: a directory, or the data file shipped with stackdoctor. */
  source: string;
  /** osinfo-db's VERSION (e.g. `20221203`). */
  version: string;
  entries: readonly OsinfoOs[];
}

export class OsinfoError extends StackdoctorError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('osinfo', message, {
      ...options,
      hint: 'install osinfo-db (apt-get install osinfo-db) or give --set osinfo_dir=DIR',
    });
    this.name = 'OsinfoError';
  }
}

const topLevelFields = new Set(['short-id', 'name', 'version', 'distro', 'family', 'release-date']);
const entityMap: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos);/g, (_, name: string) => entityMap[name] ?? '');
}

function readAttribute(attributes: string, name: string): string | undefined {
  const match = new RegExp(`(?:^|\\s)${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`).exec(attributes);
  const value = match?.[1] ?? match?.[2];
  return value === undefined ? undefined : decodeEntities(value);
}

interface PartialOs {
  id: string;
  shortIds: string[];
  fields: Record<string, string>;
}

/**
 * The `<os>` entries of one osinfo-db XML file. Only direct children of `<os>` count: `<media>` and
 * `<variant>` carry their own `<name>`s that must not overwrite the OS's. Localised names are skipped.
 */
export function parseOsinfoXml(text: string): OsinfoOs[] {
  const entries: PartialOs[] = [];
  const stack: string[] = [];
  let current: PartialOs | undefined;
  let capture: { field: string; text: string } | undefined;
  const tagPattern =
    /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!\[CDATA\[([\s\S]*?)\]\]>|<(\/?)([A-Za-z][\w:.-]*)([^>]*?)(\/?)>/g;
  let last = 0;
  for (let match = tagPattern.exec(text); match !== null; match = tagPattern.exec(text)) {
    if (capture) capture.text += text.slice(last, match.index);
    last = tagPattern.lastIndex;
    const [, cdata, closing, tag, attributes = '', selfClosing] = match;
    if (cdata !== undefined && capture) capture.text += cdata;
    if (tag === undefined) continue;
    if (closing) {
      if (capture && stack.length === 3 && current) {
        const value = decodeEntities(capture.text).trim();
        if (capture.field === 'short-id') current.shortIds.push(value);
        else if (!(capture.field in current.fields)) current.fields[capture.field] = value;
        capture = undefined;
      }
      stack.pop();
      if (tag === 'os' && stack.length === 1) current = undefined;
      continue;
    }
    if (!selfClosing) stack.push(tag);
    if (tag === 'os' && stack.length === 2) {
      const id = readAttribute(attributes, 'id');
      current = id === undefined ? undefined : { id, shortIds: [], fields: {} };
      if (current) entries.push(current);
    } else if (current && stack.length === 3 && !selfClosing && topLevelFields.has(tag)) {
      capture = readAttribute(attributes, 'xml:lang') === undefined ? { field: tag, text: '' } : undefined;
    }
  }
  return entries.map((entry) => ({
    id: entry.id,
    shortIds: entry.shortIds.filter((shortId) => shortId !== ''),
    name: entry.fields.name,
    version: entry.fields.version,
    distro: entry.fields.distro?.toLowerCase(),
    family: entry.fields.family,
    releaseDate: entry.fields['release-date'],
  }));
}

/** Entries defined in several files (override `.d` directories) are merged: the first definition wins. */
function mergeEntries(entries: readonly OsinfoOs[]): OsinfoOs[] {
  const byId = new Map<string, OsinfoOs>();
  for (const entry of entries) {
    const known = byId.get(entry.id);
    if (!known) {
      byId.set(entry.id, { ...entry, shortIds: [...entry.shortIds] });
      continue;
    }
    for (const shortId of entry.shortIds) if (!known.shortIds.includes(shortId)) known.shortIds.push(shortId);
    known.name ??= entry.name;
    known.version ??= entry.version;
    known.distro ??= entry.distro;
    known.family ??= entry.family;
    known.releaseDate ??= entry.releaseDate;
  }
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}

async function listXmlFiles(directory: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) files.push(...(await listXmlFiles(full)));
    else if (entry.name.endsWith('.xml')) files.push(full);
  }
  return files.sort();
}

/** The system osinfo-db tree (`/usr/share/osinfo` on Debian; libosinfo's own default). */
export const systemOsinfoDir = '/usr/share/osinfo';

/** Reads an osinfo-db tree (`DIR/os/**.xml` and `DIR/VERSION`). */
export async function readOsinfoTree(directory: string): Promise<OsinfoDatabase> {
  let files: string[];
  try {
    files = await listXmlFiles(path.join(directory, 'os'));
  } catch (error) {
    throw new OsinfoError(`cannot read the osinfo database under ${directory}/os`, { cause: error });
  }
  const version = await readFile(path.join(directory, 'VERSION'), 'utf8').then(
    (text) => text.trim(),
    () => 'unknown',
  );
  const entries: OsinfoOs[] = [];
  for (const file of files) entries.push(...parseOsinfoXml(await readFile(file, 'utf8')));
  return { source: directory, version, entries: mergeEntries(entries) };
}

const shippedDataSchema = z.object({
  osinfoDbVersion: z.string(),
  generatedFrom: z.string(),
  entries: z.array(
    z.object({
      id: z.string(),
      shortIds: z.array(z.string()),
      name: z.string().optional(),
      version: z.string().optional(),
      distro: z.string().optional(),
      family: z.string().optional(),
      releaseDate: z.string().optional(),
    }),
  ),
});

/** The list generated from Debian's osinfo-db and shipped in `data/osinfo-os.json`, for hosts without it. */
export const shippedOsinfoFile = path.resolve(import.meta.dirname, '../../data/osinfo-os.json');

export async function readShippedOsinfo(file = shippedOsinfoFile): Promise<OsinfoDatabase> {
  let parsed: z.infer<typeof shippedDataSchema>;
  try {
    parsed = shippedDataSchema.parse(JSON.parse(await readFile(file, 'utf8')));
  } catch (error) {
    throw new OsinfoError(`cannot read the shipped osinfo list ${file}`, { cause: error });
  }
  return {
    source: `${file} (generated from ${parsed.generatedFrom})`,
    version: parsed.osinfoDbVersion,
    entries: parsed.entries.map((entry) => ({
      id: entry.id,
      shortIds: entry.shortIds,
      name: entry.name,
      version: entry.version,
      distro: entry.distro,
      family: entry.family,
      releaseDate: entry.releaseDate,
    })),
  };
}

/** The installed tree when there is one, else the shipped list; an explicit directory must exist. */
export async function loadOsinfoDatabase(directory?: string): Promise<OsinfoDatabase> {
  if (directory !== undefined) return readOsinfoTree(directory);
  try {
    return await readOsinfoTree(systemOsinfoDir);
  } catch {
    return readShippedOsinfo();
  }
}

/** The document `data/osinfo-os.json` holds, generated from an installed tree. */
export function serialiseOsinfoDatabase(database: OsinfoDatabase, generatedFrom: string): string {
  const entries = database.entries.map((entry) => ({
    id: entry.id,
    shortIds: entry.shortIds,
    ...(entry.name === undefined ? {} : { name: entry.name }),
    ...(entry.version === undefined ? {} : { version: entry.version }),
    ...(entry.distro === undefined ? {} : { distro: entry.distro }),
    ...(entry.family === undefined ? {} : { family: entry.family }),
    ...(entry.releaseDate === undefined ? {} : { releaseDate: entry.releaseDate }),
  }));
  // One entry per line: the file stays small and a regeneration diffs line by line.
  const header = `{"osinfoDbVersion":${JSON.stringify(database.version)},"generatedFrom":${JSON.stringify(generatedFrom)},`;
  return `${header}"entries":[\n${entries.map((entry) => JSON.stringify(entry)).join(',\n')}\n]}\n`;
}

export type OsDistroMatch =
  /** Nova finds it (short-id or full id): libosinfo defaults apply. */
  | { kind: 'short-id' | 'id'; os: OsinfoOs }
  /** A distribution name in Glance's convention (`ubuntu`): valid for Glance, useless for Nova's lookup. */
  | { kind: 'distro'; distro: string }
  | { kind: 'unknown' };

export interface OsinfoIndex {
  database: OsinfoDatabase;
  byShortId: ReadonlyMap<string, OsinfoOs>;
  byId: ReadonlyMap<string, OsinfoOs>;
  distros: ReadonlySet<string>;
  /** Each entry's distinctive name words, computed once: guessing runs for thousands of images. */
  nameWords: readonly { os: OsinfoOs; words: readonly string[] }[];
}

export function indexOsinfo(database: OsinfoDatabase): OsinfoIndex {
  const byShortId = new Map<string, OsinfoOs>();
  const byId = new Map<string, OsinfoOs>();
  const distros = new Set<string>();
  for (const entry of database.entries) {
    byId.set(entry.id, entry);
    for (const shortId of entry.shortIds) if (!byShortId.has(shortId)) byShortId.set(shortId, entry);
    if (entry.distro) distros.add(entry.distro);
  }
  const nameWords = database.entries
    .map((os) => ({ os, words: tokenise(os.name ?? '').filter((word) => !nameNoise.has(word)) }))
    .filter(({ words }) => words.length >= 2);
  return { database, byShortId, byId, distros, nameWords };
}

/**
 * How Nova and Glance see an `os_distro` value. Nova (nova/virt/osinfo.py) looks it up as an osinfo id when
 * it starts with `http`, else as a short-id; both lookups are exact, so `Ubuntu22.04` is not found.
 */
export function matchOsDistro(index: OsinfoIndex, value: string): OsDistroMatch {
  if (value.startsWith('http')) {
    const os = index.byId.get(value);
    return os ? { kind: 'id', os } : { kind: 'unknown' };
  }
  const os = index.byShortId.get(value);
  if (os) return { kind: 'short-id', os };
  if (index.distros.has(value)) return { kind: 'distro', distro: value };
  return { kind: 'unknown' };
}

export interface OsinfoGuess {
  shortId: string;
  os: OsinfoOs;
  confidence: 'high' | 'medium';
  reason: string;
}

// Glance's documented spellings that osinfo spells differently (reference §8, vocabulary gaps).
const distroAliases: Record<string, string> = {
  windows: 'win',
  arch: 'archlinux',
  alma: 'almalinux',
  alpine: 'alpinelinux',
  redhat: 'rhel',
  suse: 'sles',
  oracle: 'ol',
};
// Words osinfo puts in names that image names usually leave out.
const nameNoise = new Set(['microsoft', 'lts', 'linux', 'gnu', 'the', 'edition', 'operating', 'system']);

function tokenise(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[\s_\-/(),+:]+/)
    .filter((token) => token !== '');
}

function compareNewestFirst(a: OsinfoOs, b: OsinfoOs): number {
  return (b.releaseDate ?? '').localeCompare(a.releaseDate ?? '') || a.id.localeCompare(b.id);
}

function describeOs(os: OsinfoOs): string {
  return os.name ?? os.id;
}

/**
 * A libosinfo short-id for an image, from what the image says about itself: a short-id in its name
 * (`win2k19-datacenter`), a Glance-style `os_distro` with `os_version`, or the osinfo name inside the image
 * name (`Ubuntu 22.04 LTS` → `ubuntu22.04`). `high`: one entry matches exactly; `medium`: the nearest entry
 * of the same major version, or the best of several.
 */
export function guessOsinfoShortId(
  index: OsinfoIndex,
  image: { name: string | undefined; osDistro?: string | undefined; osVersion?: string | undefined },
): OsinfoGuess | undefined {
  const name = image.name ?? '';
  const result = (os: OsinfoOs, confidence: OsinfoGuess['confidence'], reason: string): OsinfoGuess => ({
    shortId: os.shortIds[0] ?? os.id,
    os,
    confidence,
    reason,
  });

  // `unknown` is a real short-id (a placeholder OS); a name containing the word says nothing.
  const candidates = [...name.toLowerCase().split(/[\s_/(),+]+/), ...tokenise(name)];
  for (const token of candidates) {
    const os = token === 'unknown' ? undefined : index.byShortId.get(token);
    if (os) return result(os, 'high', `the name contains the short-id "${token}"`);
  }

  const declaredDistro = image.osDistro?.toLowerCase();
  const distro = declaredDistro === undefined ? undefined : (distroAliases[declaredDistro] ?? declaredDistro);
  if (distro !== undefined && index.distros.has(distro) && image.osVersion) {
    const version = image.osVersion.trim().toLowerCase();
    const exact = index.database.entries.filter((os) => os.distro === distro && os.version === version);
    if (exact.length > 0) {
      const os = [...exact].sort(compareNewestFirst)[0]!;
      return result(
        os,
        exact.length === 1 ? 'high' : 'medium',
        `os_distro "${image.osDistro}" with os_version "${image.osVersion}"`,
      );
    }
  }

  const tokens = new Set(tokenise(name));
  const named = index.nameWords.filter(({ os, words }) => {
    if (!words.every((word) => tokens.has(word))) return false;
    return distro === undefined || !index.distros.has(distro) || os.distro === distro;
  });
  if (named.length > 0) {
    const most = Math.max(...named.map(({ words }) => words.length));
    const best = named.filter(({ words }) => words.length === most).map(({ os }) => os);
    const os = [...best].sort(compareNewestFirst)[0]!;
    return result(
      os,
      best.length === 1 ? 'high' : 'medium',
      best.length === 1
        ? `the name matches "${describeOs(os)}"`
        : `the name matches ${best.length} entries (${best.map(describeOs).join(', ')}); took the newest`,
    );
  }

  return guessNearestVersion(index, tokens, distro, result);
}

/** A distribution word and a version in the name, when osinfo only knows other minor versions. */
function guessNearestVersion(
  index: OsinfoIndex,
  tokens: ReadonlySet<string>,
  declaredDistro: string | undefined,
  result: (os: OsinfoOs, confidence: OsinfoGuess['confidence'], reason: string) => OsinfoGuess,
): OsinfoGuess | undefined {
  const distroWord = [...tokens]
    .map((token) => distroAliases[token] ?? token)
    .find((token) => index.distros.has(token));
  const distro =
    distroWord ?? (declaredDistro && index.distros.has(declaredDistro) ? declaredDistro : undefined);
  const version = [...tokens].find((token) => /^\d+(\.\d+)*$/.test(token));
  if (distro === undefined || version === undefined) return undefined;
  const major = version.split('.')[0]!;
  const sameMajor = index.database.entries.filter(
    (os) => os.distro === distro && (os.version === major || os.version?.startsWith(`${major}.`)),
  );
  if (sameMajor.length === 0) return undefined;
  const exactMajor = sameMajor.find((os) => os.version === major);
  const os = exactMajor ?? [...sameMajor].sort(compareNewestFirst)[0]!;
  const confidence = exactMajor !== undefined && version === major ? 'high' : 'medium';
  return result(
    os,
    confidence,
    confidence === 'high'
      ? `the name says ${distro} ${version}`
      : `the name says ${distro} ${version}; osinfo-db knows ${distro} ${os.version ?? '?'} as the nearest`,
  );
}
