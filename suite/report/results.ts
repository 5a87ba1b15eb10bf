/**
 * results.json, schema version 2 (docs/results.schema.json; a test checks that every file written here
 * validates against it). Version 2 added socketType and address to every result, socketTypes and
 * addresses to every property, and driver (and capabilities, from the driver's hello) to every
 * implementation; it dropped implementations[].features. A version 1 file is read as version 2
 * (merge.ts). Fields added to version 2 since (optional, so older version 2 files still read): a
 * result's `level`, `blameRuns` and `flaky`; the report's `partial` and `notRun` (a cancelled run).
 */
import type { BudgetRecord } from '../plan/budget.js';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../harness/paths.js';
import type { PerfEntry } from '../measure/perf.js';
import { isUnexpected } from '../model/format.js';
import { propertyInfo, type CapabilityMap } from '../plan/plan.js';
import { STATUSES, type AddressKind, type Capabilities, type Implementation, type PropertyInfo, type ResultEntry, type Role, type SocketType, type Status } from '../model/types.js';

export const SCHEMA_VERSION = 2;

export interface ImplementationEntry {
  name: string;
  /** The roles it plays by the seed protocol (command templates or in-process roles). */
  roles: Role[];
  kind: Implementation['kind'];
  payload: boolean;
  /** It has a driver (docs/driver-protocol.md). */
  driver: boolean;
  /** Its driver's answer to hello, when it has a driver and the run asked it. */
  capabilities?: Capabilities;
  description: string;
}

/** A property as reports know it; socketTypes and addresses are always written (defaults stream, pathname). */
export interface PropertyEntry extends Omit<PropertyInfo, 'socketTypes' | 'addresses'> {
  socketTypes: SocketType[];
  addresses: AddressKind[];
}

export interface RunReport {
  schemaVersion: typeof SCHEMA_VERSION;
  tool: { name: string; version: string };
  seed: number;
  runs: number;
  startedAt: string;
  durationMs: number;
  implementations: ImplementationEntry[];
  properties: PropertyEntry[];
  results: ResultEntry[];
  summary: Record<Status, number>;
  /** Subject expectations that matched no failure in this run. */
  staleExpectations?: Array<{ implementation: string; property: string; reason: string }>;
  /**
   * Set by `run --budget`: run counts depended on time (plan/budget.ts), each result's `runs` is what
   * its unit got, and a rerun with the same seed can give other counts.
   */
  budget?: BudgetRecord;
  /** Set by `run --shard i/n`: this report holds shard i of n (1-based). */
  shard?: { index: number; count: number };
  /** Set by `merge`: the files merged into this report (and the shards they held, if any). */
  merged?: { from: string[]; shards?: number[] };
  /** Set by `run --coverage`: the c8 report of the JavaScript implementations, relative to the report dir. */
  coverage?: { html: string; summary: string };
  /**
   * Set by `run --perf`: throughput (MB/s, first byte to last) and connect-to-first-byte latency of
   * every pairing whose server takes a payload, medians of a few sessions (suite/perf.ts).
   */
  perf?: PerfEntry[];
  /**
   * Set when the run was cancelled (Ctrl-C, SIGTERM, runSuite's `signal`): results holds only the units
   * that finished before it, and notRun counts the others (never started, or cut short and discarded).
   */
  partial?: true;
  notRun?: number;
}

let toolVersion: string | undefined;
export async function readToolVersion(): Promise<string> {
  toolVersion ??= (JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return toolVersion;
}

export function summarize(results: ResultEntry[]): Record<Status, number> {
  const summary = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>;
  for (const r of results) summary[r.status]++;
  return summary;
}

export async function buildReport(input: {
  seed: number;
  runs: number;
  startedAt: Date;
  durationMs: number;
  implementations: Implementation[];
  properties: PropertyInfo[];
  results: ResultEntry[];
  /** The drivers' hello answers (plan/capabilities.ts), by implementation name. */
  capabilities?: CapabilityMap;
}): Promise<RunReport> {
  return {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: 'uds-conformance', version: await readToolVersion() },
    seed: input.seed,
    runs: input.runs,
    startedAt: input.startedAt.toISOString(),
    durationMs: Math.round(input.durationMs),
    implementations: input.implementations.map((i) => {
      const answer = i.driver ? input.capabilities?.get(i.name) : undefined;
      return {
        name: i.name,
        roles: (['server', 'client'] as const).filter((r) => i[r] !== undefined),
        kind: i.kind,
        payload: i.server?.payload ?? false,
        driver: i.driver !== undefined,
        ...(answer && 'capabilities' in answer ? { capabilities: answer.capabilities } : {}),
        description: i.description,
      };
    }),
    properties: input.properties.map(propertyInfo),
    results: input.results.map((r) => withLevel(r, input.properties)),
    summary: summarize(input.results),
  };
}

/** The result with its property's level, placed after the property's id (a level already there stays). */
export function withLevel(r: ResultEntry, properties: ReadonlyArray<Pick<PropertyInfo, 'id' | 'level'>>): ResultEntry {
  const level = properties.find((p) => p.id === r.property)?.level;
  if (r.level !== undefined || level === undefined) return r;
  const { server, client, property, ...rest } = r;
  return { server, client, property, level, ...rest };
}

export async function writeResults(report: RunReport, outDir: string): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, 'results.json');
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

/**
 * What every report says first about a cancelled run ("partial run: ..."); undefined for a complete one.
 * The cases that did not run have no cell at all: they are not counted as passes or failures.
 */
export function partialNote(report: Pick<RunReport, 'partial' | 'notRun' | 'results'>): string | undefined {
  if (!report.partial) return undefined;
  const notRun = report.notRun ?? 0;
  return `partial run: cancelled before it finished; ${notRun} of ${report.results.length + notRun} cases did not run and have no result here`;
}

/** Unexpected outcomes: the ones that make a run exit 1. */
export function unexpected(results: ResultEntry[]): ResultEntry[] {
  return results.filter((r) => isUnexpected(r.status));
}
