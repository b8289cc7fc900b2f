import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { DriftProbe, FindingTarget, Operation, ResourceRef } from './check.js';
import { JournalError } from './errors.js';
import type { Json } from './json.js';

/**
 * The journal: one append-only JSON-lines file per run, mode 0600, each record fsync'd before the caller
 * goes on, so that the prior state of every change is on disk before the change is made.
 */

export type StepStatus = 'intent' | 'applied' | 'verified' | 'failed' | 'conflict' | 'abandoned' | 'undone';

export interface RunRecord {
  type: 'run';
  runId: string;
  command: 'fix' | 'undo';
  startedAt: string;
  operator: string;
  cloud?: string | undefined;
  region?: string | undefined;
  toolVersion: string;
  /** For an undo run: the run it undoes. */
  undoes?: string | undefined;
}

export interface StepRecord {
  type: 'step';
  runId: string;
  stepId: string;
  checkId: string;
  target: FindingTarget;
  resource: ResourceRef;
  describe: string;
  apply: Operation;
  undo: Operation | 'irreversible';
  priorState: Json;
  after?: DriftProbe | undefined;
  at: string;
  /** For a step of an undo run: the step it reverses. */
  reverses?: string | undefined;
}

export interface StatusRecord {
  type: 'status';
  runId: string;
  stepId: string;
  status: Exclude<StepStatus, 'intent'>;
  at: string;
  detail?: string | undefined;
}

export type JournalRecord = RunRecord | StepRecord | StatusRecord;

const jsonSchema: z.ZodType<Json> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(jsonSchema),
    z.record(z.string(), jsonSchema),
  ]),
);
const jsonObjectSchema = z.record(z.string(), jsonSchema);
const resourceSchema = z.object({ type: z.string(), id: z.string(), name: z.string().optional() });
const targetSchema = z.object({
  kind: z.enum(['cloud', 'host']),
  name: z.string(),
  region: z.string().optional(),
});
const operationSchema = z.union([
  z.object({
    kind: z.literal('http'),
    service: z.enum(['identity', 'compute', 'placement', 'image', 'network', 'workflowv2']),
    method: z.enum(['POST', 'PUT', 'PATCH', 'DELETE']),
    path: z.string(),
    microversion: z.string().optional(),
    contentType: z.string().optional(),
    body: jsonSchema.optional(),
  }),
  z.object({ kind: z.literal('procedure'), name: z.string(), args: jsonObjectSchema }),
]);
const expectedValueSchema = z.union([
  z.object({ pointer: z.string(), value: jsonSchema }),
  z.object({ pointer: z.string(), absent: z.literal(true) }),
]);
const driftSchema = z.object({
  service: z.enum(['identity', 'compute', 'placement', 'image', 'network', 'workflowv2']),
  path: z.string(),
  microversion: z.string().optional(),
  expect: z.array(expectedValueSchema),
});
const recordSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('run'),
    runId: z.string(),
    command: z.enum(['fix', 'undo']),
    startedAt: z.string(),
    operator: z.string(),
    cloud: z.string().optional(),
    region: z.string().optional(),
    toolVersion: z.string(),
    undoes: z.string().optional(),
  }),
  z.object({
    type: z.literal('step'),
    runId: z.string(),
    stepId: z.string(),
    checkId: z.string(),
    target: targetSchema,
    resource: resourceSchema,
    describe: z.string(),
    apply: operationSchema,
    undo: z.union([operationSchema, z.literal('irreversible')]),
    priorState: jsonSchema,
    after: driftSchema.optional(),
    at: z.string(),
    reverses: z.string().optional(),
  }),
  z.object({
    type: z.literal('status'),
    runId: z.string(),
    stepId: z.string(),
    status: z.enum(['applied', 'verified', 'failed', 'conflict', 'abandoned', 'undone']),
    at: z.string(),
    detail: z.string().optional(),
  }),
]);

export function newRunId(now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

const runIdPattern = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;

export class Journal {
  readonly directory: string;

  constructor(directory: string) {
    this.directory = directory;
  }

  /** Creates the directory (0700) and proves it writable before any run starts. */
  async ensureWritable(): Promise<void> {
    try {
      await fs.mkdir(this.directory, { recursive: true, mode: 0o700 });
      await fs.access(this.directory, constants.W_OK);
    } catch (error) {
      throw new JournalError(`journal directory ${this.directory} is not writable`, {
        cause: error,
        hint: 'set --journal-dir or STACKDOCTOR_JOURNAL_DIR to a writable directory',
      });
    }
  }

  async openRun(record: RunRecord): Promise<JournalWriter> {
    await this.ensureWritable();
    const file = this.#fileOf(record.runId);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, 'wx', 0o600);
    } catch (error) {
      throw new JournalError(`cannot create journal file ${file}`, { cause: error });
    }
    const writer = new JournalWriter(handle, file);
    await writer.append(record);
    return writer;
  }

  async listRunIds(): Promise<string[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.directory);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw new JournalError(`cannot read journal directory ${this.directory}`, { cause: error });
    }
    return names
      .filter((name) => name.endsWith('.jsonl'))
      .map((name) => name.slice(0, -'.jsonl'.length))
      .filter((id) => runIdPattern.test(id))
      .sort();
  }

  async readRun(runId: string): Promise<JournalRecord[]> {
    if (!runIdPattern.test(runId)) throw new JournalError(`"${runId}" is not a run id`);
    const file = this.#fileOf(runId);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      if (isNotFound(error)) throw new JournalError(`no journal for run ${runId} in ${this.directory}`);
      throw new JournalError(`cannot read ${file}`, { cause: error });
    }
    const records: JournalRecord[] = [];
    const lines = text.split('\n');
    for (const [index, line] of lines.entries()) {
      if (line.trim() === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        // A crash can cut the last line short; everything before it is still valid.
        if (index === lines.length - 1 || lines.slice(index + 1).every((rest) => rest.trim() === '')) break;
        throw new JournalError(`${file}:${index + 1}: not a JSON record`);
      }
      const result = recordSchema.safeParse(parsed);
      if (!result.success) throw new JournalError(`${file}:${index + 1}: not a journal record`);
      records.push(result.data);
    }
    return records;
  }

  /** Opens an existing run's file to append to it (an undo run marks the steps it reversed). */
  async reopenRun(runId: string): Promise<JournalWriter> {
    if (!runIdPattern.test(runId)) throw new JournalError(`"${runId}" is not a run id`);
    const file = this.#fileOf(runId);
    try {
      return new JournalWriter(await fs.open(file, 'a', 0o600), file);
    } catch (error) {
      throw new JournalError(`cannot open journal file ${file}`, { cause: error });
    }
  }

  #fileOf(runId: string): string {
    return path.join(this.directory, `${runId}.jsonl`);
  }
}

export class JournalWriter {
  readonly #handle: fs.FileHandle;
  readonly file: string;

  constructor(handle: fs.FileHandle, file: string) {
    this.#handle = handle;
    this.file = file;
  }

  /** Appends and fsyncs: when this resolves, the record survives a crash of this process or the host. */
  async append(record: JournalRecord): Promise<void> {
    try {
      await this.#handle.appendFile(`${JSON.stringify(record)}\n`, 'utf8');
      await this.#handle.sync();
    } catch (error) {
      throw new JournalError(`cannot write journal ${this.file}`, { cause: error });
    }
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}

export interface StepState {
  step: StepRecord;
  status: StepStatus;
  detail: string | undefined;
  history: StatusRecord[];
}

/** Folds a run's records into the latest state of each step, in journal order. */
export function summariseSteps(records: readonly JournalRecord[]): StepState[] {
  const states = new Map<string, StepState>();
  for (const record of records) {
    if (record.type === 'step') {
      states.set(record.stepId, { step: record, status: 'intent', detail: undefined, history: [] });
    } else if (record.type === 'status') {
      const state = states.get(record.stepId);
      if (!state) continue;
      state.history.push(record);
      // `verified` refines `applied`; a later `undone` (written by an undo run) supersedes both.
      state.status = record.status;
      state.detail = record.detail;
    }
  }
  return [...states.values()];
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'ENOENT';
}

/** Steps that reached `intent` and never got an outcome: the process died, or the host did, mid-change. */
export async function findInterruptedSteps(journal: Journal): Promise<StepState[]> {
  const interrupted: StepState[] = [];
  for (const runId of await journal.listRunIds()) {
    const records = await journal.readRun(runId);
    interrupted.push(...summariseSteps(records).filter((state) => state.status === 'intent'));
  }
  return interrupted;
}
