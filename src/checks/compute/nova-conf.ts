/**
 * The two settings of nova.conf this check needs. oslo.config files are INI: `[section]`, `key = value`,
 * `#`/`;` comments, indented continuation lines; the last occurrence of a key wins.
 */
export interface NovaDatabaseSettings {
  /** `[database] connection`: this node's cell database. */
  database: string | undefined;
  /** `[api_database] connection`: the API database, which lists every cell. */
  apiDatabase: string | undefined;
}

export function parseNovaConfDatabases(text: string): NovaDatabaseSettings {
  const values = new Map<string, string>();
  let section = '';
  let lastKey: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*[#;]/.test(raw) || raw.trim() === '') {
      lastKey = undefined;
      continue;
    }
    if (/^\s/.test(raw) && lastKey !== undefined) {
      values.set(lastKey, `${values.get(lastKey) ?? ''}\n${raw.trim()}`);
      continue;
    }
    const header = /^\[([^\]]+)\]\s*$/.exec(raw.trim());
    if (header) {
      section = (header[1] ?? '').trim().toLowerCase();
      lastKey = undefined;
      continue;
    }
    const assignment = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(raw.trim());
    if (!assignment) continue;
    lastKey = `${section}.${(assignment[1] ?? '').trim().toLowerCase()}`;
    values.set(lastKey, (assignment[2] ?? '').trim());
  }
  const nonEmpty = (key: string) => {
    const value = values.get(key);
    return value === undefined || value === '' ? undefined : value;
  };
  return { database: nonEmpty('database.connection'), apiDatabase: nonEmpty('api_database.connection') };
}
