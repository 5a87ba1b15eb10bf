/**
 * `run` and `replay`: their flags and checks (parseRunArgs, one parser for both, so a flag means the same
 * in each), the run under a lock on --out with a first-signal cancel, the dry run, and the printing.
 * Loaded by suite/cli.ts only for these two commands; the work itself is runSuite's (suite/run.ts).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BUDGET, DEFAULTS, RANGES } from '../defaults.js';
import { sweepStaleCaseDirs } from '../harness/casedir.js';
import { killAllLive } from '../harness/process.js';
import { ADDRESS_KINDS, SOCKET_TYPES, type AddressKind, type SocketType } from '../model/types.js';
import type { Implementation } from '../model/types.js';
import { updatedExpectations } from '../plan/blame.js';
import { parseBudget } from '../plan/budget.js';
import { parsePairingPattern, renderDryRun } from '../plan/dry-run.js';
import { selectProperties } from '../plan/plan.js';
import { runUnit } from '../plan/runner.js';
import { parseShard, type Shard } from '../plan/shard.js';
import { allProperties } from '../properties/index.js';
import { unmatchedPatterns } from '../properties/list.js';
import type { Property } from '../properties/property.js';
import { builtinImplementations } from '../registry.js';
import { checkOutDir, lockOutDir } from '../report/atomic.js';
import { startProgress, unitKind } from '../report/progress.js';
import type { RunReport } from '../report/results.js';
import { renderSummary, renderTerminalReport } from '../report/terminal.js';
import { exitCodeFor, writeReports } from '../report/write.js';
import { checkSuiteInstall, dryRunPlan, NothingToRun, planSuite, qualify, runSuite, type RunSuiteOptions } from '../run.js';
import { loadSubjects, writeExpectations, type Subject } from '../subjects/manifest.js';
import { guardProcess } from './guard.js';
import { reportLines, stdoutFit } from './output.js';
import { EXIT, OPTIONS, UsageError } from './usage.js';

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
    if (values.budget !== undefined) throw new UsageError('--budget is only for run');
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
  let budgetMs: number | undefined;
  if (values.budget !== undefined) {
    const parsed = parseBudget(values.budget);
    if (typeof parsed === 'string') throw new UsageError(parsed);
    budgetMs = parsed;
  }
  const options = {
    implementations: builtins,
    subjects,
    subjectsOnly: values['subjects-only'] ?? false,
    properties,
    runs: rangedInt('runs', values.runs, RANGES.runs, budgetMs !== undefined ? BUDGET.maxRuns : DEFAULTS.runs),
    ...(budgetMs !== undefined ? { budgetMs } : {}),
    seed: seedValue(values.seed),
    servers: values.server,
    clients: values.client,
    propertyPatterns: patterns,
    excludeProperties: values.exclude,
    excludePairings: excludePairings.length ? excludePairings : undefined,
    // No --jobs: runSuite's adaptive default (plan/admission.ts); --jobs N is a hard ceiling.
    jobs: values.jobs === undefined ? undefined : rangedInt('jobs', values.jobs, RANGES.jobs, 1),
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

/** `run [options]`: every property over every pairing, or with --dry-run the plan. */
export async function runCommand(args: string[]): Promise<number> {
  guardProcess(cancelRun);
  try {
    return await run(args);
  } finally {
    killAllLive();
  }
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
  // process (installSignalHandlers' graceful hook, given by runCommand): what finished is written, then exit 130/143.
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

/** `replay`: one case, its result as JSON on stdout. */
export async function replayCommand(args: string[]): Promise<number> {
  guardProcess(cancelRun);
  try {
    return await replay(args);
  } finally {
    killAllLive();
  }
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
