import { stringify as stringifyYaml } from 'yaml';
import { UsageError } from '../core/errors.js';
import type { Json } from '../core/json.js';

export const outputFormats = ['table', 'json', 'yaml', 'value', 'html', 'prometheus'] as const;
export type OutputFormat = (typeof outputFormats)[number];
/** Reports of a whole check run; lists and records have no such form. */
const reportOnlyFormats: readonly OutputFormat[] = ['html', 'prometheus'];

export function parseOutputFormat(value: string): OutputFormat {
  const format = outputFormats.find((candidate) => candidate === value);
  if (!format) throw new UsageError(`-f ${value}: choose one of ${outputFormats.join(', ')}`);
  return format;
}

/** A list result, as the `openstack` CLI shows one: named columns, one row per item. */
export interface Listing {
  columns: readonly string[];
  rows: readonly (readonly Json[])[];
}

export interface RenderOptions {
  format: OutputFormat;
  /** `-c COLUMN`, repeatable; empty means all columns. */
  columns: readonly string[];
  colour: boolean;
  /** Optional per-cell colouring for the table format. */
  paint?: (column: string, value: Json) => ((text: string) => string) | undefined;
}

/** Restricts a listing to the `-c` columns, in the order given; an unknown column is a usage error. */
export function selectColumns(listing: Listing, wanted: readonly string[]): Listing {
  if (wanted.length === 0) return listing;
  const indexes = wanted.map((name) => {
    const index = listing.columns.findIndex((column) => column.toLowerCase() === name.toLowerCase());
    if (index < 0) throw new UsageError(`-c ${name}: no such column (${listing.columns.join(', ')})`);
    return index;
  });
  return {
    columns: indexes.map((index) => listing.columns[index]!),
    rows: listing.rows.map((row) => indexes.map((index) => row[index] ?? null)),
  };
}

export function renderListing(listing: Listing, options: RenderOptions): string {
  refuseReportFormat(options.format);
  const selected = selectColumns(listing, options.columns);
  switch (options.format) {
    case 'json':
      return `${JSON.stringify(toObjects(selected), null, 2)}\n`;
    case 'yaml':
      return stringifyYaml(toObjects(selected));
    case 'value':
      return selected.rows.map((row) => `${row.map(cellText).join(' ')}\n`).join('');
    default:
      return renderTable(selected, options);
  }
}

function refuseReportFormat(format: OutputFormat): void {
  if (reportOnlyFormats.includes(format))
    throw new UsageError(`-f ${format} is only for \`stackdoctor check\``);
}

/** A single record (`cloud`, `explain`), shown as Field/Value like `openstack … show`. */
export function renderRecord(record: Readonly<Record<string, Json>>, options: RenderOptions): string {
  refuseReportFormat(options.format);
  if (options.format === 'json') return `${JSON.stringify(pick(record, options.columns), null, 2)}\n`;
  if (options.format === 'yaml') return stringifyYaml(pick(record, options.columns));
  const listing: Listing = {
    columns: ['Field', 'Value'],
    rows: Object.entries(pick(record, options.columns)).map(([key, value]) => [key, value]),
  };
  if (options.format === 'value') return listing.rows.map((row) => `${cellText(row[1] ?? null)}\n`).join('');
  return renderTable(listing, { ...options, columns: [] });
}

function pick(record: Readonly<Record<string, Json>>, columns: readonly string[]): Record<string, Json> {
  if (columns.length === 0) return { ...record };
  const picked: Record<string, Json> = {};
  for (const column of columns) {
    const key = Object.keys(record).find((candidate) => candidate.toLowerCase() === column.toLowerCase());
    if (key === undefined)
      throw new UsageError(`-c ${column}: no such field (${Object.keys(record).join(', ')})`);
    picked[key] = record[key] ?? null;
  }
  return picked;
}

function toObjects(listing: Listing): Record<string, Json>[] {
  return listing.rows.map((row) =>
    Object.fromEntries(listing.columns.map((column, index) => [column, row[index] ?? null])),
  );
}

export function cellText(value: Json): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.join('\n');
  return JSON.stringify(value);
}

function renderTable(listing: Listing, options: RenderOptions): string {
  const textRows = listing.rows.map((row) => row.map((cell) => cellText(cell).split('\n')));
  const widths = listing.columns.map((column, index) =>
    Math.max(
      column.length,
      ...textRows.map((row) => Math.max(0, ...(row[index] ?? ['']).map((line) => line.length))),
    ),
  );
  const border = `+${widths.map((width) => '-'.repeat(width + 2)).join('+')}+\n`;
  const line = (cells: readonly string[], paints: readonly (((text: string) => string) | undefined)[] = []) =>
    `| ${cells
      .map((cell, index) => {
        const padded = cell.padEnd(widths[index] ?? 0);
        const paint = options.colour ? paints[index] : undefined;
        return paint ? paint(padded) : padded;
      })
      .join(' | ')} |\n`;
  let out = border + line(listing.columns) + border;
  listing.rows.forEach((row, rowIndex) => {
    const cells = textRows[rowIndex]!;
    const height = Math.max(1, ...cells.map((lines) => lines.length));
    const paints = row.map((value, index) => options.paint?.(listing.columns[index]!, value));
    for (let lineIndex = 0; lineIndex < height; lineIndex++) {
      out += line(
        cells.map((lines) => lines[lineIndex] ?? ''),
        paints,
      );
    }
  });
  return out + border;
}
