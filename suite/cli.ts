#!/usr/bin/env node
/**
 * uds-conformance command line.
 *   run     every property over every pairing; matrix on stdout, reports in --out
 *   replay  one case (property, server, client, seed, path) with its evidence
 * Exit codes: 0 nothing unexpected; 1 something unexpected; 2 bad usage; 3 nothing ran / harness failure.
 */
import { realpathSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import tmp from 'tmp-promise';
import { sweepCaseDirs } from './harness/context.js';
import { installSignalHandlers, killAllLive } from './harness/process.js';
import { allProperties } from './properties/index.js';
import { assignBlame, staleExpectations, updatedExpectations } from './plan/blame.js';
import { builtinImplementations, cReference } from './registry.js';
import { loadSubjects, ManifestError, writeExpectations, type Subject } from './subjects/manifest.js';
import { buildReport, type RunReport } from './report/results.js';
import { renderDetails, renderMatrix, renderSummary } from './report/terminal.js';
import { loadReport, mergeReports, ReportInputError } from './report/merge.js';
import { startProgress } from './report/progress.js';
import { exitCodeFor, writeReports, type WrittenReports } from './report/write.js';
import { startCoverage } from './measure/coverage.js';
import { parseShard, shardOf, type Shard } from './plan/shard.js';
import { measurePerf } from './measure/perf.js';
import { planUnits, runUnits, selectProperties, type RunConfig } from './plan/runner.js';
import type { Implementation, Property } from './model/types.js';

export const EXIT = { ok: 0, unexpected: 1, usage: 2, harness: 3 } as const;

export class UsageError extends Error {}

const HELP = `uds-conformance: conformance suite for Unix domain socket implementations

Usage:
  uds-conformance run [options]      run every property over every server x client pairing
  uds-conformance replay [options]   re-run one case: --property, --server/--client, --seed, --path
  uds-conformance report --from FILE [--out DIR]   re-render the reports from a results.json
  uds-conformance merge FILE... [--out DIR]        merge the results.json of shards into one set of reports
  uds-conformance --help

Every run, report and merge writes into --out (default reports/): results.json, junit.xml, summary.md
(for a CI job summary) and index.html (the matrix; one self-contained file).

Options (run):
  --runs N            generated cases per property and pairing (default 100; a property may cap it)
  --seed N            run seed (default: random); every result records the seed to replay it
  --out DIR           where reports go (default: reports/)
  --server NAME       only pairings with this server (repeatable)
  --client NAME       only pairings with this client (repeatable)
  --property ID       only this property; globs like 'delivery.*' work (repeatable)
  --jobs N            cases in parallel (default: number of cores)
  --no-shrink         report the first failing input without shrinking it
  --deadline MS       per-case deadline in milliseconds (default 15000)
  --shard i/n         run only part i of n of the cases (needs --seed; merge the n results.json)
  --coverage          run the JavaScript implementations as processes under NODE_V8_COVERAGE and
                      write a c8 report of the lines they ran (text on stdout, HTML in DIR/coverage/)
  --perf              after the cases, measure throughput (MB/s) and connect-to-first-byte latency of
                      every pairing whose server takes a payload (64 MiB, median of 3 sessions, one
                      pairing at a time): results.json "perf", and two columns of the matrix
Options (replay):
  --property ID --server NAME --client NAME --seed N --path PATH   (as printed in a report)

Exit status: 0 nothing unexpected, 1 an unexpected result, 2 bad usage, 3 nothing ran or the harness failed.
report and merge exit as a run of their results would; a bad file is bad usage (2), named with its field.
`;

const OPTIONS = {
  runs: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  server: { type: 'string', multiple: true },
  client: { type: 'string', multiple: true },
  property: { type: 'string', multiple: true },
  jobs: { type: 'string' },
  'no-shrink': { type: 'boolean' },
  deadline: { type: 'string' },
  path: { type: 'string' },
  shard: { type: 'string' },
  coverage: { type: 'boolean' },
  perf: { type: 'boolean' },
  subject: { type: 'string', multiple: true },
  'subjects-only': { type: 'boolean' },
  'update-expectations': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

function seedValue(value: string | undefined): number {
  if (value === undefined) return Math.floor(Math.random() * 0x7fffffff);
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new UsageError(`--seed must be an integer, got ${JSON.stringify(value)}`);
  return Number(value) | 0;
}

function checkNames(flag: string, names: string[] | undefined, known: Implementation[], role: 'server' | 'client'): void {
  for (const name of names ?? []) {
    const impl = known.find((i) => i.name === name);
    if (!impl) throw new UsageError(`--${flag} ${name}: no such implementation (known: ${known.map((i) => i.name).join(', ')})`);
    if (!impl[role] && !impl.driver) throw new UsageError(`--${flag} ${name}: ${name} has no ${role} role`);
  }
}

export interface ParsedRun {
  config: RunConfig;
  outDir: string;
  /** `--shard i/n`: run only this part of the plan. */
  shard?: Shard;
  /** `--coverage`: JavaScript implementations as processes under NODE_V8_COVERAGE, then a c8 report. */
  coverage: boolean;
  /** `--perf`: throughput and first-byte latency per payload pairing, after the cases (suite/perf.ts). */
  perf: boolean;
  subjects: Subject[];
  updateExpectations: boolean;
}

/** Parses `run`/`replay` arguments into a config; throws UsageError on anything wrong. */
export function parseRunArgs(command: 'run' | 'replay', args: string[], builtins: Implementation[], properties: Property<any>[]): ParsedRun {
  let implementations = builtins;
  let values;
  try {
    ({ values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  // Subjects join the built-ins before names are checked, so --server/--client can name them.
  const subjects = loadSubjects(values.subject ?? [], implementations.map((i) => i.name), properties.map((p) => p.id));
  implementations = [...implementations, ...subjects.map((s) => s.implementation)];
  if (values['subjects-only'] && subjects.length === 0) throw new UsageError('--subjects-only needs at least one --subject FILE');
  if (values['update-expectations'] && subjects.length === 0) throw new UsageError('--update-expectations needs at least one --subject FILE');
  checkNames('server', values.server, implementations, 'server');
  checkNames('client', values.client, implementations, 'client');
  const patterns = values.property ?? [];
  for (const p of patterns) {
    if (selectProperties(properties, [p]).length === 0) throw new UsageError(`--property ${p}: matches no property (known: ${properties.map((q) => q.id).join(', ')})`);
  }
  if (command === 'replay') {
    if (values.shard !== undefined) throw new UsageError('--shard is only for run');
    if (values.coverage) throw new UsageError('--coverage is only for run');
    if (values.perf) throw new UsageError('--perf is only for run');
    if (patterns.length !== 1 || /[*?]/.test(patterns[0]!)) throw new UsageError('replay needs exactly one --property ID (no glob)');
    if (values.seed === undefined) throw new UsageError('replay needs --seed N');
    if (values.path === undefined) throw new UsageError('replay needs --path PATH (from the report)');
    if (!/^\d+(:\d+)*$/.test(values.path)) throw new UsageError(`--path must look like 12:0:3, got ${JSON.stringify(values.path)}`);
  } else if (values.path !== undefined) {
    throw new UsageError('--path is only for replay');
  }
  let shard: Shard | undefined;
  if (values.shard !== undefined) {
    const parsed = parseShard(values.shard);
    if (typeof parsed === 'string') throw new UsageError(parsed);
    // Every shard must derive the same case seeds: a random seed per shard would not merge.
    if (values.seed === undefined) throw new UsageError('--shard needs --seed N, the same in every shard');
    shard = parsed;
  }
  const config: RunConfig = {
    implementations,
    properties,
    runs: positiveInt('runs', values.runs, 100),
    seed: seedValue(values.seed),
    servers: values.server,
    clients: values.client,
    propertyPatterns: patterns,
    concurrency: positiveInt('jobs', values.jobs, os.availableParallelism()),
    caseDeadlineMs: positiveInt('deadline', values.deadline, 15_000),
    shrink: !values['no-shrink'],
    replayPath: values.path,
    onlyWith: values['subjects-only'] ? subjects.map((s) => s.implementation.name) : undefined,
    replayArgs: subjects.flatMap((s) => ['--subject', s.file]),
  };
  return { config, outDir: resolve(values.out ?? 'reports'), subjects, updateExpectations: values['update-expectations'] ?? false, shard, coverage: values.coverage ?? false, perf: values.perf ?? false };
}

async function run(args: string[]): Promise<number> {
  const properties = allProperties();
  const { config, outDir, subjects, updateExpectations, shard, coverage: withCoverage, perf: measurePerfToo } = parseRunArgs('run', args, builtinImplementations(), properties);
  const implementations = config.implementations;
  const planned = planUnits(config);
  if (planned.length === 0) {
    process.stderr.write('uds-conformance: nothing to run (the filters leave no pairing)\n');
    return EXIT.harness;
  }
  const units = shard ? shardOf(planned, shard) : planned;
  if (shard) process.stderr.write(`uds-conformance: shard ${shard.index}/${shard.count}: ${units.length} of ${planned.length} cases\n`);
  const startedAt = new Date();
  const t0 = performance.now();
  const coverage = withCoverage ? await startCoverage({ roots: subjects.map((s) => dirname(s.file)) }) : undefined;
  if (coverage) config.caseOptions = { ...config.caseOptions, ...coverage.caseOptions };
  const progress = startProgress({ total: units.length, label: shard ? `shard ${shard.index}/${shard.count}` : undefined });
  config.onResult = (r, done) => progress.update(r, done);
  let results;
  try {
    results = await runUnits(units, config);
  } finally {
    progress.stop();
  }
  const subjectNames = new Set(subjects.map((s) => s.implementation.name));
  if (subjectNames.size > 0) await assignBlame(results, units, { config, reference: cReference, subjects: subjectNames });
  const report = await buildReport({
    seed: config.seed,
    runs: config.runs,
    startedAt,
    durationMs: performance.now() - t0,
    implementations,
    properties: selectProperties(properties, config.propertyPatterns),
    results,
  });
  if (shard) report.shard = shard;
  // After the cases, one pairing at a time, so that nothing else runs while a session is timed (and
  // never under --coverage's instrumentation). With --shard, shard 1 measures.
  if (measurePerfToo && (!shard || shard.index === 1)) {
    process.stderr.write('uds-conformance: measuring throughput and first-byte latency (--perf) ...\n');
    report.perf = await measurePerf(implementations, { servers: config.servers, clients: config.clients });
  }
  let coverageText = '';
  if (coverage) {
    try {
      const c = await coverage.report(outDir);
      if (c) {
        report.coverage = { html: 'coverage/index.html', summary: 'coverage/summary.txt' };
        coverageText = `${c.text}coverage report: ${join(c.htmlDir, 'index.html')}\n`;
      } else coverageText = 'coverage: no JavaScript implementation ran as a process, so there is nothing to report\n';
    } finally {
      await coverage.cleanup();
    }
  }
  const stale = subjects.flatMap((s) => staleExpectations(s.implementation, results));
  if (stale.length > 0) report.staleExpectations = stale;
  const written = await writeReports(report, outDir);
  process.stdout.write(`${renderMatrix(report)}\n\n`);
  const details = renderDetails(report, { expectedToo: true });
  if (details) process.stdout.write(`${details}\n\n`);
  for (const s of stale) process.stdout.write(`stale expectation: ${s.implementation} ${s.property} no longer fails ("${s.reason}")\n`);
  if (updateExpectations) {
    const today = new Date().toISOString().slice(0, 10);
    for (const s of subjects) {
      await writeExpectations(s, updatedExpectations(s.implementation, results, today));
      process.stdout.write(`expectations of ${s.implementation.name} written to ${s.expectationsFile}\n`);
    }
  }
  if (coverageText) process.stdout.write(`\n${coverageText}\n`);
  process.stdout.write(`${renderSummary(report)}\n${reportLines(written)}`);
  return exitCodeFor(results, { shard: shard !== undefined });
}

function reportLines(w: WrittenReports): string {
  return `results: ${w.results}\nreports: ${w.junit}, ${w.summary}, ${w.html}\n`;
}

function parseOwnArgs<const O extends NonNullable<ParseArgsConfig['options']>>(command: string, args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message}`);
  }
}

/** Prints a loaded or merged report like a run does, writes the four reports, and exits as a run would. */
async function emitReports(report: RunReport, outDir: string): Promise<number> {
  const written = await writeReports(report, outDir);
  if (report.results.length) process.stdout.write(`${renderMatrix(report)}\n\n`);
  const details = renderDetails(report, { expectedToo: true });
  if (details) process.stdout.write(`${details}\n\n`);
  process.stdout.write(`${renderSummary(report)}\n${reportLines(written)}`);
  return exitCodeFor(report.results);
}

/** `report --from results.json --out DIR`: re-renders the four reports from a results file. */
async function reportCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseOwnArgs('report', args, { from: { type: 'string' }, out: { type: 'string' } });
  if (positionals.length) throw new UsageError(`report: unexpected argument ${JSON.stringify(positionals[0])} (use --from FILE)`);
  if (values.from === undefined) throw new UsageError('report needs --from FILE (a results.json)');
  const report = await loadReport(values.from);
  return emitReports(report, resolve(values.out ?? 'reports'));
}

/** `merge a.json b.json ... --out DIR`: one set of reports from the results of several shards. */
async function mergeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseOwnArgs('merge', args, { out: { type: 'string' } });
  if (positionals.length === 0) throw new UsageError('merge needs one or more results.json files');
  const inputs = [];
  for (const file of positionals) inputs.push({ file, report: await loadReport(file) });
  const { report, warnings } = mergeReports(inputs);
  for (const w of warnings) process.stderr.write(`uds-conformance: merge: ${w}\n`);
  return emitReports(report, resolve(values.out ?? 'reports'));
}

async function replay(args: string[]): Promise<number> {
  const properties = allProperties();
  const { config } = parseRunArgs('replay', args, builtinImplementations(), properties);
  const units = planUnits(config);
  if (units.length !== 1) {
    throw new UsageError(`replay must select exactly one case; --property/--server/--client select ${units.length}`);
  }
  const [result] = await runUnits(units, { ...config, concurrency: 1 });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return result!.status === 'pass' || result!.status === 'unsupported' ? EXIT.ok : EXIT.unexpected;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help' || rest.includes('--help')) {
    process.stdout.write(HELP);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  tmp.setGracefulCleanup();
  installSignalHandlers(async () => sweepCaseDirs());
  process.on('exit', sweepCaseDirs);
  try {
    if (command === 'run') return await run(rest);
    if (command === 'replay') return await replay(rest);
    if (command === 'report') return await reportCommand(rest);
    if (command === 'merge') return await mergeCommand(rest);
    throw new UsageError(`unknown command ${JSON.stringify(command)} (try --help)`);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ManifestError || err instanceof ReportInputError) {
      process.stderr.write(`uds-conformance: ${err.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`uds-conformance: harness failure: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.harness;
  } finally {
    killAllLive();
  }
}

/** True when this module is the program (also through npm's bin symlink), not when imported by tests. */
function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}
if (isMain()) {
  process.exitCode = await main(process.argv.slice(2));
}
