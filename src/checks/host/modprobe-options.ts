import type { Host } from '../../hosts/index.js';

/**
 * The directories modprobe reads, in kmod's order (libkmod.c `default_config_paths`): a file name found in
 * an earlier directory hides the same name in later ones; the surviving files are then read in the order
 * of their names, whatever directory they are in.
 */
export const modprobeDirectories = [
  '/etc/modprobe.d',
  '/run/modprobe.d',
  '/usr/local/lib/modprobe.d',
  '/usr/lib/modprobe.d',
  '/lib/modprobe.d',
] as const;

export interface ModprobeFile {
  path: string;
  content: string;
}

/** One `name=value` given to a module, and where. */
export interface ModuleParameter {
  value: string;
  /** `FILE:LINE`, or `/proc/cmdline` for the kernel command line. */
  source: string;
}

/** modprobe treats `-` and `_` in module names alike. */
export function normaliseModuleName(name: string): string {
  return name.replaceAll('-', '_');
}

/** The files modprobe would read, after same-name shadowing, in the order it reads them. */
export async function readModprobeFiles(host: Host): Promise<{ files: ModprobeFile[]; shadowed: string[] }> {
  const chosen = new Map<string, string>();
  const shadowed: string[] = [];
  for (const directory of modprobeDirectories) {
    for (const name of (await host.listDir(directory)) ?? []) {
      if (!name.endsWith('.conf')) continue;
      const file = `${directory}/${name}`;
      if (chosen.has(name)) shadowed.push(file);
      else chosen.set(name, file);
    }
  }
  const files: ModprobeFile[] = [];
  // byte order, as kmod's strcmp
  for (const name of [...chosen.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const file = chosen.get(name)!;
    const content = await host.readFile(file);
    if (content !== null) files.push({ path: file, content });
  }
  return { files, shadowed };
}

/**
 * Every value `parameter` of `module` is given, in the order the kernel applies them (the last one wins):
 * `options` lines of the files in reading order, then `module.parameter=value` on the kernel command line,
 * which kmod appends after the files.
 */
export function findModuleParameter(
  files: readonly ModprobeFile[],
  kernelCommandLine: string | null,
  module: string,
  parameter: string,
): ModuleParameter[] {
  const wanted = normaliseModuleName(module);
  const found: ModuleParameter[] = [];
  for (const file of files) {
    for (const { text, line } of joinContinuations(file.content)) {
      const words = text.split(/\s+/).filter((word) => word !== '');
      if (words[0] !== 'options' || words[1] === undefined || normaliseModuleName(words[1]) !== wanted)
        continue;
      for (const word of words.slice(2)) {
        const value = parameterValue(word, parameter);
        if (value !== undefined) found.push({ value, source: `${file.path}:${line}` });
      }
    }
  }
  for (const word of (kernelCommandLine ?? '').split(/\s+/)) {
    const dot = word.indexOf('.');
    if (dot <= 0 || normaliseModuleName(word.slice(0, dot)) !== wanted) continue;
    const value = parameterValue(word.slice(dot + 1), parameter);
    if (value !== undefined) found.push({ value, source: '/proc/cmdline' });
  }
  return found;
}

function parameterValue(word: string, parameter: string): string | undefined {
  const equals = word.indexOf('=');
  const name = equals < 0 ? word : word.slice(0, equals);
  if (normaliseModuleName(name) !== normaliseModuleName(parameter)) return undefined;
  // a bare bool parameter name means "on", as the kernel's param parser takes it
  return equals < 0 ? 'Y' : word.slice(equals + 1).replace(/^"(.*)"$/, '$1');
}

/** Lines with `#` comments dropped and `\`-continued lines joined, each with the number of its first line. */
function joinContinuations(content: string): { text: string; line: number }[] {
  const lines: { text: string; line: number }[] = [];
  let pending: { text: string; line: number } | undefined;
  content.split('\n').forEach((raw, index) => {
    const continued = raw.endsWith('\\');
    const body = continued ? raw.slice(0, -1) : raw;
    if (pending === undefined) pending = { text: body, line: index + 1 };
    else pending.text = `${pending.text} ${body}`;
    if (!continued) {
      const text = pending.text.trim();
      if (text !== '' && !text.startsWith('#')) lines.push({ text, line: pending.line });
      pending = undefined;
    }
  });
  if (pending !== undefined && pending.text.trim() !== '') lines.push(pending);
  return lines;
}
