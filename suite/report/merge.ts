/**
 * Reading results.json back (`report --from`, `merge`) and merging the reports of shards into one.
 * Input is checked field by field: a bad file is reported as "FILE: FIELD: what is wrong" (exit 2).
 */
import { readFile } from 'node:fs/promises';
import { NO_PEER } from './common.js';
import { SCHEMA_VERSION, summarize, type RunReport } from './results.js';
import { STATUSES, type ResultEntry } from '../model/types.js';

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

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => (v === undefined ? 'missing' : `got ${JSON.stringify(v)?.slice(0, 80)}`);

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

/** Checks a parsed results.json (schema 1) and returns it with its summary recomputed. */
export function validateReport(value: unknown, file: string): RunReport {
  const fail = (field: string, problem: string): never => {
    throw new ReportInputError(file, field, problem);
  };
  if (!isObj(value)) return fail('(top level)', `expected an object, ${show(value)}`);
  const str = (o: Obj, key: string, at: string, optional = false): void => {
    if (optional && o[key] === undefined) return;
    if (typeof o[key] !== 'string') fail(`${at}${key}`, `expected a string, ${show(o[key])}`);
  };
  const num = (o: Obj, key: string, at: string, opts: { int?: boolean; min?: number; optional?: boolean } = {}): void => {
    const v = o[key];
    if (opts.optional && v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || (opts.int && !Number.isInteger(v)) || (opts.min !== undefined && v < opts.min)) {
      fail(`${at}${key}`, `expected ${opts.int ? 'an integer' : 'a number'}${opts.min !== undefined ? ` >= ${opts.min}` : ''}, ${show(v)}`);
    }
  };
  const arr = (o: Obj, key: string, at: string): unknown[] => {
    if (!Array.isArray(o[key])) fail(`${at}${key}`, `expected an array, ${show(o[key])}`);
    return o[key] as unknown[];
  };
  const oneOf = (o: Obj, key: string, at: string, allowed: readonly string[]): void => {
    if (!allowed.includes(o[key] as string)) fail(`${at}${key}`, `expected one of ${allowed.join(', ')}, ${show(o[key])}`);
  };
  if (value.schemaVersion !== SCHEMA_VERSION) fail('schemaVersion', `expected ${SCHEMA_VERSION}, ${show(value.schemaVersion)}`);
  if (!isObj(value.tool)) fail('tool', `expected an object, ${show(value.tool)}`);
  str(value.tool as Obj, 'name', 'tool.');
  str(value.tool as Obj, 'version', 'tool.');
  num(value, 'seed', '', { int: true });
  num(value, 'runs', '', { int: true, min: 1 });
  str(value, 'startedAt', '');
  if (Number.isNaN(Date.parse(value.startedAt as string))) fail('startedAt', `expected an ISO date, ${show(value.startedAt)}`);
  num(value, 'durationMs', '', { min: 0 });
  arr(value, 'implementations', '').forEach((impl, i) => {
    const at = `implementations[${i}].`;
    if (!isObj(impl)) return fail(at.slice(0, -1), `expected an object, ${show(impl)}`);
    str(impl, 'name', at);
    const roles = arr(impl, 'roles', at);
    roles.forEach((r, j) => r === 'server' || r === 'client' || fail(`${at}roles[${j}]`, `expected "server" or "client", ${show(r)}`));
  });
  const propertyIds = new Set<string>();
  arr(value, 'properties', '').forEach((p, i) => {
    const at = `properties[${i}].`;
    if (!isObj(p)) return fail(at.slice(0, -1), `expected an object, ${show(p)}`);
    str(p, 'id', at);
    oneOf(p, 'level', at, ['MUST', 'SHOULD', 'MAY']);
    str(p, 'category', at);
    oneOf(p, 'scope', at, ['pairing', 'server', 'client']);
    str(p, 'requirement', at);
    str(p, 'reference', at);
    propertyIds.add(p.id as string);
  });
  const seen = new Map<string, number>();
  arr(value, 'results', '').forEach((r, i) => {
    const at = `results[${i}].`;
    if (!isObj(r)) return fail(at.slice(0, -1), `expected an object, ${show(r)}`);
    for (const k of ['server', 'client', 'property']) str(r, k, at);
    if (!propertyIds.has(r.property as string)) fail(`${at}property`, `${JSON.stringify(r.property)} is not among the file's properties`);
    oneOf(r, 'status', at, STATUSES);
    num(r, 'runs', at, { int: true, min: 0 });
    num(r, 'durationMs', at, { min: 0 });
    for (const k of ['message', 'reason', 'replay']) str(r, k, at, true);
    if (r.counterexample !== undefined) {
      if (!isObj(r.counterexample)) return fail(`${at}counterexample`, `expected an object, ${show(r.counterexample)}`);
      num(r.counterexample, 'seed', `${at}counterexample.`, { int: true });
      str(r.counterexample, 'path', `${at}counterexample.`);
    }
    if (r.evidence !== undefined && !isObj(r.evidence)) fail(`${at}evidence`, `expected an object, ${show(r.evidence)}`);
    const key = caseKey(r as unknown as ResultEntry);
    if (seen.has(key)) fail(`results[${i}]`, `the same case as results[${seen.get(key)}] (${key})`);
    seen.set(key, i);
  });
  if (value.shard !== undefined) {
    if (!isObj(value.shard)) fail('shard', `expected an object, ${show(value.shard)}`);
    const shard = value.shard as Obj;
    num(shard, 'count', 'shard.', { int: true, min: 1 });
    num(shard, 'index', 'shard.', { int: true, min: 1 });
    if ((shard.index as number) > (shard.count as number)) fail('shard.index', `${shard.index} is more than shard.count ${shard.count}`);
  }
  const report = value as unknown as RunReport;
  return { ...report, summary: summarize(report.results) };
}

/** A case: one property on one pairing. */
export function caseKey(r: Pick<ResultEntry, 'property' | 'server' | 'client'>): string {
  return `${r.property} ${r.server} × ${r.client}`;
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
  // The order of a single run: property, then server, then client, in implementation order.
  const propIndex = new Map(properties.map((p, i) => [p.id, i]));
  const implIndex = (name: string): number => (name === NO_PEER ? -1 : implementations.findIndex((i) => i.name === name));
  results.sort(
    (a, b) =>
      propIndex.get(a.property)! - propIndex.get(b.property)! || implIndex(a.server) - implIndex(b.server) || implIndex(a.client) - implIndex(b.client),
  );
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
  // Perf is measured by one shard (the first); carry whatever the inputs measured.
  const perf = inputs.flatMap((i) => i.report.perf ?? []);
  if (perf.length) report.perf = perf;
  return { report, warnings };
}
