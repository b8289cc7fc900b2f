import { readFile } from 'node:fs/promises';
import type { Check } from '../../core/check.js';
import { type RenderOptions, renderRecord } from '../../reporters/format.js';

/** The runbook page ships with the package: docs/checks/AREA/NAME.md. */
export function runbookUrl(check: Check): URL {
  return new URL(`../../../docs/checks/${check.meta.id}.md`, import.meta.url);
}

export async function explainCheck(check: Check, render: RenderOptions): Promise<string> {
  const { meta } = check;
  if (render.format === 'table') {
    const page = await readFile(runbookUrl(check), 'utf8');
    const parameters = Object.entries(meta.parameters ?? {}).map(
      ([name, text]) => `  --set ${name}=…  ${text}`,
    );
    return `${page.trimEnd()}\n${parameters.length > 0 ? `\nParameters:\n${parameters.join('\n')}\n` : ''}`;
  }
  return renderRecord(
    {
      id: meta.id,
      title: meta.title,
      description: meta.description,
      severity: meta.severity,
      targets: [...meta.targets],
      requires: {
        services: [...(meta.requires.services ?? [])],
        microversions: { ...meta.requires.microversions },
        admin: meta.requires.admin ?? false,
      },
      references: [...meta.references],
      parameters: { ...meta.parameters },
      fix: meta.fix ? { ...meta.fix } : null,
    },
    render,
  );
}
