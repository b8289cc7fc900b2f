import type { Check } from './check.js';
import { UsageError } from './errors.js';

/** The catalogue: every check, in the order `list` shows them. Ids are unique. */
export class CheckRegistry {
  readonly #checks = new Map<string, Check>();

  constructor(checks: readonly Check[]) {
    for (const check of checks) {
      if (this.#checks.has(check.meta.id)) throw new Error(`duplicate check id ${check.meta.id}`);
      this.#checks.set(check.meta.id, check);
    }
  }

  all(): Check[] {
    return [...this.#checks.values()];
  }

  get(id: string): Check | undefined {
    return this.#checks.get(id);
  }

  /**
   * Selects checks by id globs (`image/*`, `*allocations*`); no pattern selects all.
   * A pattern that matches nothing is a usage error, so a typo never silently checks nothing.
   */
  select(patterns: readonly string[]): Check[] {
    if (patterns.length === 0) return this.all();
    const selected = new Set<Check>();
    for (const pattern of patterns) {
      const matcher = globToRegExp(pattern);
      const matches = this.all().filter((check) => matcher.test(check.meta.id));
      if (matches.length === 0) {
        throw new UsageError(`no check matches "${pattern}"`, {
          hint: 'stackdoctor list shows the catalogue',
        });
      }
      for (const check of matches) selected.add(check);
    }
    return this.all().filter((check) => selected.has(check));
  }
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${escaped}$`);
}
