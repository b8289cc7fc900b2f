/** Where a value came from, for evidence an operator can open in an editor. */
export interface ConfValue {
  value: string;
  file: string;
  line: number;
}

/** An OpenStack service's configuration file as oslo.config reads it: `[section]` → option → last value. */
export type OsloConf = ReadonlyMap<string, ReadonlyMap<string, ConfValue>>;

/**
 * Parses the INI dialect of oslo.config: `#` and `;` comments, `key = value` (or `key: value`), indented
 * lines continue the previous value, and a later definition of an option replaces an earlier one. Section
 * names are kept as written; option names are matched case-insensitively, as oslo.config normalises them.
 */
export function parseOsloConf(text: string, file: string): OsloConf {
  const sections = new Map<string, Map<string, ConfValue>>();
  let section: Map<string, ConfValue> | undefined;
  let last: ConfValue | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) {
      last = undefined;
      return;
    }
    if (/^\s/.test(line) && last !== undefined) {
      last.value = `${last.value}\n${trimmed}`;
      return;
    }
    const header = /^\[([^\]]+)\]$/.exec(trimmed);
    if (header?.[1] !== undefined) {
      const name = header[1].trim();
      section = sections.get(name) ?? new Map<string, ConfValue>();
      sections.set(name, section);
      last = undefined;
      return;
    }
    const assignment = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(trimmed);
    if (assignment?.[1] === undefined || section === undefined) return;
    last = { value: assignment[2] ?? '', file, line: index + 1 };
    section.set(assignment[1].toLowerCase(), last);
  });
  return sections;
}

export function readConfValue(conf: OsloConf, section: string, option: string): ConfValue | undefined {
  return conf.get(section)?.get(option.toLowerCase());
}

/** oslo.config's boolean parser accepts these spellings (strutils.bool_from_string, strict). */
export function parseConfBoolean(value: string): boolean | undefined {
  const lowered = value.trim().toLowerCase();
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(lowered)) return true;
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(lowered)) return false;
  return undefined;
}
