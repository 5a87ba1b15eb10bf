/**
 * Reading results.json back (`report --from`, `merge`) and merging the reports of shards into one.
 * Input is checked against docs/results.schema.json (model/shape.ts) and then for what a schema cannot
 * say; a bad file is reported as "FILE: FIELD: what is wrong" (exit 2). Version 1 files are read as
 * version 2; what is written is always version 2.
 */
import { readFile } from 'node:fs/promises';
import { checkShape, ShapeError } from '../model/shape.js';
import { NO_PEER, type ResultEntry } from '../model/types.js';
import { addressesOf, socketTypesOf } from '../plan/plan.js';
import { caseComparator, caseLabel } from './common.js';
import { SCHEMA_VERSION, summarize, type RunReport } from './results.js';

export class ReportInputError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    problem: string,
  ) {
    super(`${file}: ${field}: ${problem}`);
    this.name = 'ReportInputError';
  }
}

export async function loadReport(file: string): Promise<RunReport> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ReportInputError(file, '(file)', `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ReportInputError(file, '(json)', `not JSON: ${(err as Error).message}`);
  }
  return validateReport(value, file);
}

/** results.json as version 1 wrote it: what version 2 added is absent, and implementations have features. */
type ReportV1 = Omit<RunReport, 'schemaVersion' | 'implementations' | 'properties' | 'results'> & {
  schemaVersion: 1;
  implementations: Array<Omit<RunReport['implementations'][number], 'driver' | 'capabilities'> & { features?: string[] }>;
  properties: Array<Omit<RunReport['properties'][number], 'socketTypes' | 'addresses'> & Partial<Pick<RunReport['properties'][number], 'socketTypes' | 'addresses'>>>;
  results: Array<Omit<ResultEntry, 'socketType' | 'address'>>;
};

/**
 * Checks a parsed results.json against docs/results.schema.json (version 1 or 2), then what the schema
 * cannot say: every result's property is among the file's properties (and its level, when it has one,
 * is that property's), no re-run count has more failures than re-runs, no case is there twice,
 * shard.index <= shard.count and startedAt is a date. Returns it as version 2 (a version 1 file's
 * results are all stream sockets at pathnames), with its summary recomputed.
 */
export function validateReport(value: unknown, file: string): RunReport {
  const fail = (field: string, problem: string): never => {
    throw new ReportInputError(file, field, problem);
  };
  let doc: RunReport | ReportV1;
  try {
    doc = checkShape<RunReport | ReportV1>('results', value);
  } catch (err) {
    if (err instanceof ShapeError) return fail(err.field, err.message);
    throw err;
  }
  if (Number.isNaN(Date.parse(doc.startedAt))) fail('startedAt', `expected an ISO date, got ${JSON.stringify(doc.startedAt)}`);
  if (doc.shard && doc.shard.index > doc.shard.count) fail('shard.index', `${doc.shard.index} is more than shard.count ${doc.shard.count}`);
  const report = doc.schemaVersion === 1 ? fromV1(doc) : doc;
  const levels = new Map(report.properties.map((p) => [p.id, p.level]));
  const seen = new Map<string, number>();
  report.results.forEach((r, i) => {
    if (!levels.has(r.property)) fail(`results[${i}].property`, `${JSON.stringify(r.property)} is not among the file's properties`);
    // The exit is graded by it: a result may not grade itself other than its property says.
    if (r.level !== undefined && r.level !== levels.get(r.property)) fail(`results[${i}].level`, `${r.level} differs from ${r.property}'s level ${levels.get(r.property)}`);
    const counts: Array<[string, { failed: number; of: number } | undefined]> = [['flaky', r.flaky], ...(['server', 'client', 'pairing'] as const).map((k): [string, { failed: number; of: number } | undefined] => [`blameRuns.${k}`, r.blameRuns?.[k]])];
    for (const [field, n] of counts) if (n && n.failed > n.of) fail(`results[${i}].${field}.failed`, `${n.failed} failed re-runs of only ${n.of}`);
    const key = caseKey(r);
    if (seen.has(key)) fail(`results[${i}]`, `the same case as results[${seen.get(key)}] (${key})`);
    seen.set(key, i);
  });
  return { ...report, summary: summarize(report.results) };
}

/** A version 1 report as version 2: every result a stream socket at a pathname, as every v1 case was. */
function fromV1(doc: ReportV1): RunReport {
  return {
    ...doc,
    schemaVersion: SCHEMA_VERSION,
    implementations: doc.implementations.map(({ features, ...impl }) => ({ ...impl, driver: impl.kind === 'driver' || (features ?? []).includes('driver') })),
    properties: doc.properties.map((p) => ({ ...p, socketTypes: [...socketTypesOf(p)], addresses: [...addressesOf(p)] })),
    results: doc.results.map((r) => ({ ...r, socketType: 'stream', address: 'pathname' })),
  };
}

/** A case: one property on one pairing, socket type and address kind (named by its case label). */
export function caseKey(r: Pick<ResultEntry, 'property' | 'server' | 'client' | 'socketType' | 'address'>): string {
  return `${caseLabel(r)} ${r.server} × ${r.client}`;
}

export interface MergeOutcome {
  report: RunReport;
  /** Things worth saying that do not stop the merge (e.g. a missing shard). */
  warnings: string[];
}

/** Merges reports of one run (shards, or runs over disjoint filters) into one, in the order a single run has. */
export function mergeReports(inputs: Array<{ file: string; report: RunReport }>): MergeOutcome {
  if (inputs.length === 0) throw new Error('mergeReports: no input');
  const [first] = inputs;
  const warnings: string[] = [];
  const implementations: RunReport['implementations'] = [];
  const properties: RunReport['properties'] = [];
  const owner = new Map<string, string>();
  const results: ResultEntry[] = [];
  const shards = new Map<number, string>();
  let shardCount: number | undefined;
  for (const { file, report } of inputs) {
    for (const key of ['seed', 'runs'] as const) {
      if (report[key] !== first!.report[key]) {
        throw new ReportInputError(file, key, `${report[key]} differs from ${first!.report[key]} in ${first!.file}: merge takes the shards of one run (same --seed and --runs)`);
      }
    }
    // A budgeted shard's run counts depended on time; one without a budget's did not: not one run.
    if ((report.budget?.budgetMs ?? null) !== (first!.report.budget?.budgetMs ?? null)) {
      const say = (r: RunReport): string => (r.budget ? `--budget ${r.budget.budgetMs} ms` : 'no --budget');
      throw new ReportInputError(file, 'budget', `${say(report)} differs from ${say(first!.report)} in ${first!.file}: merge takes the shards of one run`);
    }
    if (report.shard) {
      if (shardCount !== undefined && report.shard.count !== shardCount) {
        throw new ReportInputError(file, 'shard.count', `${report.shard.count} differs from ${shardCount} in an earlier file`);
      }
      shardCount = report.shard.count;
      const other = shards.get(report.shard.index);
      if (other) throw new ReportInputError(file, 'shard.index', `shard ${report.shard.index} is also in ${other}`);
      shards.set(report.shard.index, file);
    }
    for (const impl of report.implementations) if (!implementations.some((i) => i.name === impl.name)) implementations.push(impl);
    report.properties.forEach((p, i) => {
      const known = properties.find((q) => q.id === p.id);
      if (!known) properties.push(p);
      else if (known.level !== p.level || known.scope !== p.scope) {
        throw new ReportInputError(file, `properties[${i}]`, `${p.id} is ${p.level}/${p.scope} here but ${known.level}/${known.scope} in an earlier file`);
      }
    });
    report.results.forEach((r, i) => {
      const key = caseKey(r);
      const other = owner.get(key);
      if (other) throw new ReportInputError(file, `results[${i}]`, `case ${key} is also in ${other}`);
      owner.set(key, file);
      results.push(r);
    });
  }
  if (shardCount !== undefined) {
    const missing = Array.from({ length: shardCount }, (_, i) => i + 1).filter((i) => !shards.has(i));
    if (missing.length) warnings.push(`shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${shardCount} missing: the merged report is incomplete`);
  }
  // The order of a single run: property, socket type and address kind, then server, then client, in
  // implementation order.
  const byCase = caseComparator({ properties });
  const implIndex = (name: string): number => (name === NO_PEER ? -1 : implementations.findIndex((i) => i.name === name));
  results.sort((a, b) => byCase(a, b) || implIndex(a.server) - implIndex(b.server) || implIndex(a.client) - implIndex(b.client));
  const started = Math.min(...inputs.map((i) => Date.parse(i.report.startedAt)));
  const report: RunReport = {
    schemaVersion: SCHEMA_VERSION,
    tool: first!.report.tool,
    seed: first!.report.seed,
    runs: first!.report.runs,
    startedAt: new Date(started).toISOString(),
    // Shards run side by side: the merged run took as long as its longest part.
    durationMs: Math.max(...inputs.map((i) => i.report.durationMs)),
    implementations,
    properties,
    results,
    summary: summarize(results),
    merged: { from: inputs.map((i) => i.file), ...(shards.size ? { shards: [...shards.keys()].sort((a, b) => a - b) } : {}) },
  };
  // An expectation is stale only if no part of the run matched it: stale in every input.
  const stale = inputs.map((i) => i.report.staleExpectations ?? []);
  const everywhere = stale[0]!.filter((s) => stale.every((list) => list.some((t) => t.implementation === s.implementation && t.property === s.property)));
  if (everywhere.length) report.staleExpectations = everywhere;
  // A part that was cancelled leaves the whole incomplete: the merge says so, with the count it lacks.
  const partial = inputs.filter((i) => i.report.partial);
  if (partial.length) {
    report.partial = true;
    report.notRun = partial.reduce((n, i) => n + (i.report.notRun ?? 0), 0);
    warnings.push(`${partial.map((i) => i.file).join(', ')} ${partial.length > 1 ? 'are partial runs' : 'is a partial run'}: ${report.notRun} case${report.notRun === 1 ? '' : 's'} did not run, and the merged report is partial`);
  }
  // Each shard shared its own budget out: the merged record sums what they did, its first pass as long as the longest.
  const budgets = inputs.flatMap((i) => (i.report.budget ? [i.report.budget] : []));
  if (budgets.length) {
    const sum = (key: 'toppedUpUnits' | 'moreRuns' | 'cutShort'): number => budgets.reduce((n, b) => n + b[key], 0);
    report.budget = { ...budgets[0]!, firstPassMs: Math.max(...budgets.map((b) => b.firstPassMs)), toppedUpUnits: sum('toppedUpUnits'), moreRuns: sum('moreRuns'), cutShort: sum('cutShort') };
  }
  // Perf is measured by one shard (the first); carry whatever the inputs measured.
  const perf = inputs.flatMap((i) => i.report.perf ?? []);
  if (perf.length) report.perf = perf;
  return { report, warnings };
}
