#!/usr/bin/env node
/**
 * uds-conformance command line.
 *   run     every property over every pairing; the report on stdout (fitted to the terminal), reports
 *           in --out; --dry-run prints the plan instead, starting nothing
 *   replay  one case (property, server, client, seed, path) with its evidence
 *   list, report, merge, compare, --version, --help: see HELP
 * Longer than most files here because it is the whole command line in one place: HELP, the flags and
 * their checks, and each command's few lines of printing; the work itself is runSuite's and report/'s.
 * Exit codes: 0 nothing unexpected (SHOULD and MAY failures count only with --strict); 1 something
 * unexpected; 2 bad usage; 3 nothing ran / harness failure; 130/143 run cancelled by SIGINT/SIGTERM
 * (the reports of what finished are written, marked partial).
 */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import tmp from 'tmp-promise';
import { DEFAULTS, defaultJobs, RANGES } from './defaults.js';
import { sweepCaseDirs, sweepStaleCaseDirs } from './harness/casedir.js';
import { InstallError } from './harness/install.js';
import { installSignalHandlers, killAllLive } from './harness/process.js';
import { ADDRESS_KINDS, SOCKET_TYPES, type AddressKind, type SocketType } from './model/types.js';
import type { Implementation } from './model/types.js';
import { ShapeError } from './model/shape.js';
import { updatedExpectations } from './plan/blame.js';
import { selectProperties } from './plan/plan.js';
import { parseShard, type Shard } from './plan/shard.js';
import { allProperties } from './properties/index.js';
import type { Property } from './properties/property.js';
import { builtinImplementations } from './registry.js';
import { loadReport, mergeReports, ReportInputError } from './report/merge.js';
import { compareFiles, renderCompareText } from './report/compare.js';
import { startProgress, unitKind } from './report/progress.js';
import { renderPropertiesJson, renderPropertiesMarkdown, renderPropertiesText } from './report/properties-list.js';
import { readToolVersion, type RunReport } from './report/results.js';
import { renderSummary, renderTerminalReport } from './report/terminal.js';
import { colorEnabled, terminalWidth } from './report/layout.js';
import { parsePairingPattern, renderDryRun } from './plan/dry-run.js';
import { selectedProperties, unmatchedPatterns } from './properties/list.js';
import { checkOutDir, lockOutDir, OutDirError } from './report/atomic.js';
import { exitCodeFor, writeReports, type WrittenReports } from './report/write.js';
import { runUnit } from './plan/runner.js';
import { checkSuiteInstall, dryRunPlan, NothingToRun, planSuite, qualify, runSuite, type RunSuiteOptions } from './run.js';
import { loadSubjects, ManifestError, writeExpectations, type Subject } from './subjects/manifest.js';

export const EXIT = { ok: 0, unexpected: 1, usage: 2, harness: 3 } as const;

export class UsageError extends Error {}

/** Every flag of every command, grouped; test/cli-list.test.ts checks that each OPTIONS flag is here. */
export const HELP = `uds-conformance: conformance suite for Unix domain socket implementations

Usage:
  uds-conformance run [options]      run every property over every server x client pairing
  uds-conformance replay [options]   re-run one case: --property, --server/--client, --seed, --path
  uds-conformance list [--property GLOB]... [--json | --markdown]   the properties: id, level, category,
                                     socket types, requirement
  uds-conformance report --from FILE [--out DIR]   re-render the reports from a results.json
  uds-conformance merge FILE... [--out DIR]        merge the results.json of shards into one set of reports
  uds-conformance compare BASE.json HEAD.json [--out DIR]   what changed per cell and property
                                     (compare.md, compare.json); exit 1 when anything regressed
  uds-conformance --version, -V      the package's version
  uds-conformance --help, -h         this text

Every run, report and merge writes into --out (default reports/): results.json, junit.xml, summary.md
(for a CI job summary) and index.html (the matrix; one self-contained file).

Options of run, selection (what runs):
  --property ID       only this property; globs like 'delivery.*' work (repeatable)
  --exclude ID        leave this property out; globs work (repeatable; after --property)
  --server NAME       only pairings with this server (repeatable)
  --client NAME       only pairings with this client (repeatable)
  --exclude-pairing SERVER×CLIENT   leave this pairing out (x for ×; names or globs, - for the absent
                      side of a single-role property, e.g. 'c-original×*' or --exclude-pairing=-×ts-net;
                      repeatable)
  --shard i/n         run only part i of n of the cases (needs --seed; merge the n results.json)
  --dry-run           print the units that would run and their count, then exit; starts no process, so
                      whether a driver unit applies (its drivers' hello) is left open and said so
Subjects (your implementations):
  --subject FILE      a third-party implementation described by a manifest (repeatable)
  --subjects-only     only pairings with a subject in them
  --update-expectations  write each subject's failures back as its expected failures
Execution:
  --runs N            generated cases per property and pairing (default ${DEFAULTS.runs}; a property may cap it)
  --seed N            run seed (default: random); every result records the seed to replay it
  --jobs N            cases in parallel (default: number of cores)
  --no-shrink         report the first failing input without shrinking it
  --deadline MS       per-case deadline in milliseconds (default ${DEFAULTS.caseDeadlineMs})
  --unit-budget MS    time budget of one unit (property x pairing): shrinking stops there (default ${DEFAULTS.unitBudgetMs})
  --quiet-ms MS       a client that has every byte and then nothing for this long ends the case (default ${DEFAULTS.quietMs})
  --coverage          run the JavaScript implementations as processes under NODE_V8_COVERAGE and
                      write a c8 report of the lines they ran (text on stdout, HTML in DIR/coverage/)
  --perf              after the cases, measure throughput (MB/s) and connect-to-first-byte latency of
                      every pairing whose server takes a payload (64 MiB, median of 3 sessions, one
                      pairing at a time): results.json "perf", and two columns of the matrix
Output:
  --out DIR           where reports go (default: reports/); checked before any case runs, and locked
                      for the run: a second run into the same DIR exits 2 naming the first one's pid
  --strict            SHOULD and MAY failures fail the run too (exit 1), as MUST failures do
  The terminal report fits COLUMNS, else the terminal's width, else 80 columns: the matrix when it fits,
  else one line per pairing. Colour: on for a terminal, off with NO_COLOR, forced with FORCE_COLOR=1.
Options of replay:
  --property ID --server NAME --client NAME --seed N --path PATH   (as printed in a report)
  --socket-type T --address A   the unit's socket type and address kind, when not stream/pathname
  --subject FILE      the subject's manifest, when the case has one (as printed in the replay line)
Options of list:
  --property GLOB     only the properties it matches, as run selects them (repeatable)
  --json | --markdown for tools | docs/properties.md

Ranges: --runs ${RANGES.runs.min}..${RANGES.runs.max}, --jobs ${RANGES.jobs.min}..${RANGES.jobs.max}, --deadline ${RANGES.caseDeadlineMs.min}..${RANGES.caseDeadlineMs.max},
--unit-budget ${RANGES.unitBudgetMs.min}..${RANGES.unitBudgetMs.max}, --quiet-ms ${RANGES.quietMs.min}..${RANGES.quietMs.max}, --seed ${RANGES.seed.min}..${RANGES.seed.max}; outside them, exit 2.

Exit status: 0 nothing unexpected (SHOULD and MAY failures are reported but exit 0 unless --strict),
1 an unexpected MUST failure (with --strict any failure), an unexpected pass or a harness error,
2 bad usage, 3 nothing ran or the harness failed.
Ctrl-C (SIGINT) or SIGTERM during run: no new case starts, the cases in flight are stopped, and the
reports of what finished are written, marked "partial run"; exit 130 or 143. A second Ctrl-C ends it at once.
report and merge exit as a run of their results would (--strict too); a bad file is bad usage (2), named with its field.
`;

export const OPTIONS = {
  runs: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  server: { type: 'string', multiple: true },
  client: { type: 'string', multiple: true },
  property: { type: 'string', multiple: true },
  exclude: { type: 'string', multiple: true },
  'exclude-pairing': { type: 'string', multiple: true },
  'dry-run': { type: 'boolean' },
  jobs: { type: 'string' },
  'no-shrink': { type: 'boolean' },
  deadline: { type: 'string' },
  'unit-budget': { type: 'string' },
  'quiet-ms': { type: 'string' },
  path: { type: 'string' },
  shard: { type: 'string' },
  coverage: { type: 'boolean' },
  perf: { type: 'boolean' },
  subject: { type: 'string', multiple: true },
  'subjects-only': { type: 'boolean' },
  'update-expectations': { type: 'boolean' },
  strict: { type: 'boolean' },
  'socket-type': { type: 'string' },
  address: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

/**
 * A whole number within its documented range (defaults.ts RANGES): outside it, a usage error naming
 * the flag and the range. Bounded because, e.g., a deadline past 2^31 - 1 ms overflows Node's timers to
 * 1 ms and fails every case.
 */
function rangedInt(flag: string, value: string | undefined, range: { min: number; max: number }, fallback: number, kind = 'a positive integer'): number {
  if (value === undefined) return fallback;
  const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= range.min && n <= range.max)) throw new UsageError(`--${flag} must be ${kind} from ${range.min} to ${range.max}, got ${JSON.stringify(value)}`);
  return n;
}

function seedValue(value: string | undefined): number {
  if (value === undefined) return Math.floor(Math.random() * 0x7fffffff);
  return rangedInt('seed', value, RANGES.seed, 0, 'an integer');
}

function checkNames(flag: string, names: string[] | undefined, known: Implementation[], role: 'server' | 'client'): void {
  for (const name of names ?? []) {
    const impl = known.find((i) => i.name === name);
    if (!impl) throw new UsageError(`--${flag} ${name}: no such implementation (known: ${known.map((i) => i.name).join(', ')})`);
    if (!impl[role] && !(impl.driver && (impl.driver.roles ?? ['server', 'client']).includes(role))) throw new UsageError(`--${flag} ${name}: ${name} has no ${role} role`);
  }
}

export interface ParsedRun {
  options: RunSuiteOptions & { seed: number };
  outDir: string;
  subjects: Subject[];
  updateExpectations: boolean;
  /** --strict: a SHOULD or MAY failure fails the run (exit 1), not only a MUST one. */
  strict: boolean;
  /** --dry-run: print the plan and exit, starting nothing. */
  dryRun: boolean;
  /** replay: the unit's socket type and address kind. */
  socketType: SocketType;
  address: AddressKind;
}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

/** Parses `run`/`replay` arguments into runSuite options; throws UsageError on anything wrong. */
export function parseRunArgs(command: 'run' | 'replay', args: string[], builtins: Implementation[], properties: Property<any>[]): ParsedRun {
  let values;
  try {
    ({ values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  // Subjects join the built-ins before names are checked, so --server/--client can name them.
  const subjects = loadSubjects(values.subject ?? [], builtins.map((i) => i.name), properties.map((p) => p.id));
  const implementations = [...builtins, ...subjects.map((s) => s.implementation)];
  if (values['subjects-only'] && subjects.length === 0) throw new UsageError('--subjects-only needs at least one --subject FILE');
  if (values['update-expectations'] && subjects.length === 0) throw new UsageError('--update-expectations needs at least one --subject FILE');
  checkNames('server', values.server, implementations, 'server');
  checkNames('client', values.client, implementations, 'client');
  const patterns = values.property ?? [];
  for (const p of patterns) {
    if (selectProperties(properties, [p]).length === 0) throw new UsageError(`--property ${p}: matches no property (known: ${properties.map((q) => q.id).join(', ')})`);
  }
  // An exclusion that matches nothing is a typo that would exclude nothing, silently.
  for (const p of unmatchedPatterns(values.exclude ?? [], properties)) throw new UsageError(`--exclude ${p}: matches no property (known: ${properties.map((q) => q.id).join(', ')})`);
  const excludePairings = (values['exclude-pairing'] ?? []).map((text) => {
    const parsed = parsePairingPattern(text, implementations.map((i) => i.name));
    if (typeof parsed === 'string') throw new UsageError(parsed);
    return parsed;
  });
  if (command === 'replay') {
    if (values.shard !== undefined) throw new UsageError('--shard is only for run');
    if (values.coverage) throw new UsageError('--coverage is only for run');
    if (values.perf) throw new UsageError('--perf is only for run');
    if (values.strict) throw new UsageError('--strict is only for run, report and merge');
    if (values['dry-run']) throw new UsageError('--dry-run is only for run');
    if (values.exclude !== undefined || values['exclude-pairing'] !== undefined) throw new UsageError('--exclude and --exclude-pairing are only for run');
    if (patterns.length !== 1 || /[*?]/.test(patterns[0]!)) throw new UsageError('replay needs exactly one --property ID (no glob)');
    if (values.seed === undefined) throw new UsageError('replay needs --seed N');
    if (values.path === undefined) throw new UsageError('replay needs --path PATH (from the report)');
    // A sequence property's path carries fc.commands' replayPath after `~` (runner.ts splitReplayPath).
    if (!/^\d+(:\d+)*(~[A-Za-z0-9+/]*:[A-Za-z0-9+/]*)?$/.test(values.path)) throw new UsageError(`--path must look like 12:0:3 (or 12:0:3~AB:cd for a sequence), got ${JSON.stringify(values.path)}`);
  } else {
    if (values.path !== undefined) throw new UsageError('--path is only for replay');
    if (values['socket-type'] !== undefined || values.address !== undefined) throw new UsageError('--socket-type and --address are only for replay');
  }
  let shard: Shard | undefined;
  if (values.shard !== undefined) {
    const parsed = parseShard(values.shard);
    if (typeof parsed === 'string') throw new UsageError(parsed);
    // Every shard must derive the same case seeds: a random seed per shard would not merge.
    if (values.seed === undefined) throw new UsageError('--shard needs --seed N, the same in every shard');
    shard = parsed;
  }
  const options = {
    implementations: builtins,
    subjects,
    subjectsOnly: values['subjects-only'] ?? false,
    properties,
    runs: rangedInt('runs', values.runs, RANGES.runs, DEFAULTS.runs),
    seed: seedValue(values.seed),
    servers: values.server,
    clients: values.client,
    propertyPatterns: patterns,
    excludeProperties: values.exclude,
    excludePairings: excludePairings.length ? excludePairings : undefined,
    jobs: rangedInt('jobs', values.jobs, RANGES.jobs, Math.min(defaultJobs(), RANGES.jobs.max)),
    caseDeadlineMs: rangedInt('deadline', values.deadline, RANGES.caseDeadlineMs, DEFAULTS.caseDeadlineMs),
    unitBudgetMs: rangedInt('unit-budget', values['unit-budget'], RANGES.unitBudgetMs, DEFAULTS.unitBudgetMs),
    quietMs: rangedInt('quiet-ms', values['quiet-ms'], RANGES.quietMs, DEFAULTS.quietMs),
    shrink: !values['no-shrink'],
    replayPath: values.path,
    shard,
    coverage: values.coverage ?? false,
    perf: values.perf ?? false,
  };
  return {
    options,
    outDir: resolve(values.out ?? DEFAULTS.outDir),
    subjects,
    updateExpectations: values['update-expectations'] ?? false,
    strict: values.strict ?? false,
    dryRun: values['dry-run'] ?? false,
    socketType: oneOf('socket-type', values['socket-type'], SOCKET_TYPES, 'stream'),
    address: oneOf('address', values.address, ADDRESS_KINDS, 'pathname'),
  };
}

async function run(args: string[]): Promise<number> {
  const { options, outDir, subjects, updateExpectations, strict, dryRun } = parseRunArgs('run', args, builtinImplementations(), allProperties());
  if (dryRun) return dryRunCommand(options);
  checkOutDir(outDir);
  // Held until the reports are written (and released at exit whatever happens): see report/atomic.ts.
  const lock = lockOutDir(outDir);
  // The case dirs of runs that were killed (their owner file names a process that is gone).
  sweepStaleCaseDirs();
  // Until the reports are written, the first SIGINT or SIGTERM cancels the run instead of ending the
  // process (installSignalHandlers' graceful hook, in main): what finished is written, then exit 130/143.
  const cancel: CancellableRun = { controller: new AbortController() };
  cancellable = cancel;
  try {
    return await runLocked({ options, outDir, subjects, updateExpectations, strict }, cancel);
  } finally {
    cancellable = undefined;
    lock.release();
  }
}

async function runLocked({ options, outDir, subjects, updateExpectations, strict }: Pick<ParsedRun, 'options' | 'outDir' | 'subjects' | 'updateExpectations' | 'strict'>, cancel: CancellableRun): Promise<number> {
  let progress: ReturnType<typeof startProgress> | undefined;
  let report: RunReport;
  const notes: string[] = [];
  try {
    report = await runSuite({
      ...options,
      signal: cancel.controller.signal,
      coverageOutDir: outDir,
      onPlan: (units, planned) => {
        if (options.shard) process.stderr.write(`uds-conformance: shard ${options.shard.index}/${options.shard.count}: ${units.length} of ${planned} cases\n`);
        progress = startProgress({ total: units.length, kinds: units.map(unitKind), label: options.shard ? `shard ${options.shard.index}/${options.shard.count}` : undefined });
      },
      onResult: (r, done) => progress?.update(r, done),
      onNote: (text) => (text.endsWith('...') ? process.stderr.write(`uds-conformance: ${text}\n`) : notes.push(text)),
    });
  } catch (err) {
    if (err instanceof NothingToRun) {
      process.stderr.write(`uds-conformance: ${err.message}\n`);
      return EXIT.harness;
    }
    throw err;
  } finally {
    progress?.stop();
  }
  const written = await writeReports(report, outDir);
  const fit = stdoutFit();
  process.stdout.write(`${renderTerminalReport(report, { ...fit, strict })}\n\n`);
  for (const s of report.staleExpectations ?? []) process.stdout.write(`stale expectation: ${s.implementation} ${s.property} no longer fails ("${s.reason}")\n`);
  if (updateExpectations && report.partial) {
    process.stdout.write('expectations not written: a partial run has no result for the cases that did not run\n');
  } else if (updateExpectations) {
    const today = new Date().toISOString().slice(0, 10);
    for (const s of subjects) {
      await writeExpectations(s, updatedExpectations(s.implementation, report.results, today));
      process.stdout.write(`expectations of ${s.implementation.name} written to ${s.expectationsFile}\n`);
    }
  }
  for (const note of notes) process.stdout.write(`\n${note}\n\n`);
  process.stdout.write(`${renderSummary(report, fit)}\n${reportLines(written)}`);
  if (cancel.by) return cancel.by === 'SIGTERM' ? 143 : 130;
  return exitCodeFor(report.results, report.properties, { shard: options.shard !== undefined, strict });
}

/** A run that a signal can cancel: `by` is the signal that did. */
interface CancellableRun {
  controller: AbortController;
  by?: NodeJS.Signals;
}
let cancellable: CancellableRun | undefined;

/**
 * The graceful hook of installSignalHandlers: the first SIGINT or SIGTERM during `run` cancels it
 * (true); anything else, or a second one, ends the process at once (false).
 */
function cancelRun(signal: NodeJS.Signals): boolean {
  const run = cancellable;
  if (!run || run.by || (signal !== 'SIGINT' && signal !== 'SIGTERM')) return false;
  run.by = signal;
  run.controller.abort(new Error(`cancelled by ${signal}`));
  process.stderr.write(`uds-conformance: ${signal}: no new case starts and the cases in flight are stopped; writing the reports of what finished (${signal === 'SIGINT' ? 'Ctrl-C' : 'a signal'} again ends it at once)\n`);
  return true;
}

/** The width and colour of what goes to stdout (report/layout.ts: COLUMNS, the TTY, NO_COLOR, FORCE_COLOR). */
function stdoutFit(): { width: number; color: boolean } {
  return { width: terminalWidth(process.stdout, process.env), color: colorEnabled(process.stdout, process.env) };
}

/**
 * `run --dry-run`: the plan from what is declared (run.ts dryRunPlan), printed within the terminal's
 * width; no process, no report, no lock on --out. Exits 3 when nothing would run, as the run would.
 */
function dryRunCommand(options: RunSuiteOptions): number {
  const { units, planned } = dryRunPlan(options);
  if (planned === 0) {
    process.stderr.write('uds-conformance: nothing to run (the filters leave no pairing)\n');
    return EXIT.harness;
  }
  process.stdout.write(`${renderDryRun(units, planned, { width: stdoutFit().width, shard: options.shard })}\n`);
  return EXIT.ok;
}

/** One path a line: three on one line would not fit a terminal. */
function reportLines(w: WrittenReports): string {
  return `results: ${w.results}\nreports: ${w.reports.join('\n         ')}\n`;
}

function parseOwnArgs<const O extends NonNullable<ParseArgsConfig['options']>>(command: string, args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message}`);
  }
}

/** Prints a loaded or merged report like a run does, writes the four reports, and exits as a run would. */
async function emitReports(report: RunReport, outDir: string, strict = false): Promise<number> {
  const written = await writeReports(report, outDir);
  const fit = stdoutFit();
  const text = renderTerminalReport(report, { ...fit, strict });
  if (text) process.stdout.write(`${text}\n\n`);
  process.stdout.write(`${renderSummary(report, fit)}\n${reportLines(written)}`);
  return exitCodeFor(report.results, report.properties, { strict });
}

/** `report --from results.json --out DIR`: re-renders the four reports from a results file. */
async function reportCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseOwnArgs('report', args, { from: { type: 'string' }, out: { type: 'string' }, strict: { type: 'boolean' } });
  if (positionals.length) throw new UsageError(`report: unexpected argument ${JSON.stringify(positionals[0])} (use --from FILE)`);
  if (values.from === undefined) throw new UsageError('report needs --from FILE (a results.json)');
  const outDir = resolve(values.out ?? DEFAULTS.outDir);
  checkOutDir(outDir);
  const report = await loadReport(values.from);
  return emitReports(report, outDir, values.strict ?? false);
}

/** `merge a.json b.json ... --out DIR`: one set of reports from the results of several shards. */
async function mergeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseOwnArgs('merge', args, { out: { type: 'string' }, strict: { type: 'boolean' } });
  if (positionals.length === 0) throw new UsageError('merge needs one or more results.json files');
  const outDir = resolve(values.out ?? DEFAULTS.outDir);
  checkOutDir(outDir);
  const inputs = [];
  for (const file of positionals) inputs.push({ file, report: await loadReport(file) });
  const { report, warnings } = mergeReports(inputs);
  for (const w of warnings) process.stderr.write(`uds-conformance: merge: ${w}\n`);
  return emitReports(report, outDir, values.strict ?? false);
}

/** `compare BASE.json HEAD.json [--out DIR]`: compare.md and compare.json (report/compare.ts); 1 on a regression. */
async function compareCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseOwnArgs('compare', args, { out: { type: 'string' } });
  if (positionals.length !== 2) throw new UsageError(`compare needs two results.json files, BASE and HEAD (got ${positionals.length})`);
  const outDir = resolve(values.out ?? DEFAULTS.outDir);
  checkOutDir(outDir);
  const { comparison, written, exitCode } = await compareFiles(positionals[0]!, positionals[1]!, outDir);
  process.stdout.write(`${renderCompareText(comparison)}compare: ${written.join(', ')}\n`);
  return exitCode;
}

async function replay(args: string[]): Promise<number> {
  const { options, socketType, address } = parseRunArgs('replay', args, builtinImplementations(), allProperties());
  checkSuiteInstall(options);
  sweepStaleCaseDirs();
  const { units } = await planSuite(options);
  const matching = units.filter((u) => u.socketType === socketType && u.address === address);
  if (matching.length !== 1) {
    throw new UsageError(`replay must select exactly one case; --property/--server/--client/--socket-type/--address select ${matching.length}`);
  }
  const unit = matching[0]!;
  // The recorded seed is the unit's own: give it to the runner as is (no per-unit derivation).
  const q = qualify(options);
  const result = await runUnit(unit, {
    runs: q.runs,
    seed: q.seed,
    oracle: q.oracle,
    caseDeadlineMs: q.caseDeadlineMs,
    shrink: q.shrink,
    replayPath: options.replayPath,
    replayArgs: q.subjects.flatMap((s) => ['--subject', s.file]),
  });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return result.status === 'pass' || result.status === 'unsupported' ? EXIT.ok : EXIT.unexpected;
}

/** `list [--property GLOB]... [--json | --markdown]`: the properties, from the property objects themselves. */
function list(args: string[]): number {
  const { values, positionals } = parseOwnArgs('list', args, { json: { type: 'boolean' }, markdown: { type: 'boolean' }, property: { type: 'string', multiple: true } });
  if (positionals.length) throw new UsageError(`list: unexpected argument ${JSON.stringify(positionals[0])}`);
  if (values.json && values.markdown) throw new UsageError('list: give --json or --markdown, not both');
  const patterns = values.property ?? [];
  for (const p of unmatchedPatterns(patterns)) throw new UsageError(`--property ${p}: matches no property (known: ${allProperties().map((q) => q.id).join(', ')})`);
  // The filter of listProperties and of run --property (properties/list.ts), on the property objects.
  const properties = selectedProperties({ patterns });
  const text = values.json ? `${JSON.stringify(renderPropertiesJson(properties), null, 2)}\n` : values.markdown ? renderPropertiesMarkdown(properties) : renderPropertiesText(properties);
  process.stdout.write(text);
  return EXIT.ok;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help' || rest.includes('--help')) {
    process.stdout.write(HELP);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  // -V as commander and Python have it (-v is often --verbose); the bare version, for scripts.
  if (command === '--version' || command === '-V') {
    process.stdout.write(`${await readToolVersion()}\n`);
    return EXIT.ok;
  }
  // A reader that goes away (`| head`) is no error of the run: what is left to print is dropped.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  tmp.setGracefulCleanup();
  installSignalHandlers(async () => sweepCaseDirs(), cancelRun);
  process.on('exit', sweepCaseDirs);
  try {
    if (command === 'run') return await run(rest);
    if (command === 'replay') return await replay(rest);
    if (command === 'list') return list(rest);
    if (command === 'report') return await reportCommand(rest);
    if (command === 'merge') return await mergeCommand(rest);
    if (command === 'compare') return await compareCommand(rest);
    throw new UsageError(`unknown command ${JSON.stringify(command)} (try --help)`);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ManifestError || err instanceof ReportInputError || err instanceof ShapeError || err instanceof OutDirError) {
      process.stderr.write(`uds-conformance: ${err.message}\n`);
      return EXIT.usage;
    }
    // The suite's own files are missing (npm install --ignore-scripts, a deleted binary): the harness's fault.
    if (err instanceof InstallError) {
      process.stderr.write(`uds-conformance: ${err.message}\n`);
      return EXIT.harness;
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
