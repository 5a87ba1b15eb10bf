/**
 * runSuite: the one orchestration of a conformance run, used by the CLI, the benchmark, the tests and
 * the public API. It normalises its options once (as fast-check's QualifiedParameters does), asks every
 * driver what it can do, plans the units, runs them, blames the failing cells that involve a subject,
 * and returns the report. Writing the reports, printing and exit codes are the caller's.
 */
import { dirname } from 'node:path';
import { ADDON_PATH, binding } from '../native/binding.js';
import { BUDGET, DEFAULTS, defaultJobCeiling, defaultJobs } from './defaults.js';
import { checkInstall } from './harness/install.js';
import { startCoverage } from './measure/coverage.js';
import { measurePerf } from './measure/perf.js';
import type { Implementation, ResultEntry } from './model/types.js';
import { assignBlame, staleExpectations } from './plan/blame.js';
import { runBudgeted } from './plan/budget.js';
import { askDrivers } from './plan/capabilities.js';
import { chosenProperties, planUnits, type CapabilityMap, type PairingPattern, type PlanInput, type Unit } from './plan/plan.js';
import type { AdmissionDecision } from './plan/admission.js';
import { runUnitsUntil, type RunnerOptions } from './plan/runner.js';
import { shardOf, type Shard } from './plan/shard.js';
import { allProperties } from './properties/index.js';
import type { Property } from './properties/property.js';
import { builtinImplementations, cReference } from './registry.js';
import { buildReport, type RunReport } from './report/results.js';
import { ManifestError, type Subject } from './subjects/manifest.js';

export interface RunSuiteOptions {
  /** The implementations to pair (default: the built-ins). Subjects are added to them. */
  implementations?: Implementation[];
  /** Third-party subjects (manifests): paired with everything, blamed when a cell with them fails. */
  subjects?: Subject[];
  /** Only units with a subject in them (--subjects-only). */
  subjectsOnly?: boolean;
  properties?: Property<any>[];
  /** Property ids or globs. */
  propertyPatterns?: string[];
  /** Property ids or globs left out (--exclude). */
  excludeProperties?: string[];
  /** Pairings left out (--exclude-pairing SERVER×CLIENT): names or globs, `-` for an absent side. */
  excludePairings?: PairingPattern[];
  servers?: string[];
  clients?: string[];
  /** Generated runs per unit (default DEFAULTS.runs); with `budgetMs`, the most one unit gets (default BUDGET.maxRuns). */
  runs?: number;
  /**
   * A time budget for the whole run (`--budget`, plan/budget.ts): every unit gets its examples and
   * BUDGET.minimumRuns, and the rest of the budget goes as more runs where runs are cheapest. Run
   * counts then depend on the machine's speed: the report's `budget` says so.
   */
  budgetMs?: number;
  /** Run seed (default: random). */
  seed?: number;
  /**
   * The most cases in flight: a hard ceiling (`--jobs`). Default: the cores × ADAPTIVE_JOBS_PER_CORE.
   * Above the cores the count adapts to the work (plan/admission.ts: more while cases wait, bounded by
   * memory and fds); at or under them it is exactly this many, the fixed count of before.
   */
  jobs?: number;
  caseDeadlineMs?: number;
  shrink?: boolean;
  shard?: Shard;
  /** Replay one recorded counterexample path (the replay command). */
  replayPath?: string;
  replayArgs?: string[];
  /** Run JavaScript implementations as processes under NODE_V8_COVERAGE; the c8 report goes to coverageOutDir. */
  coverage?: boolean;
  coverageOutDir?: string;
  /** After the cases, measure throughput and first-byte latency (results.json `perf`). */
  perf?: boolean;
  /** Time budget per unit: shrinking stops there, with the smallest counterexample so far (default DEFAULTS.unitBudgetMs). */
  unitBudgetMs?: number;
  /** Quiet period after a client has everything (default DEFAULTS.quietMs). */
  quietMs?: number;
  /** Re-runs per role when blaming (default DEFAULTS.blameReruns). */
  blameReruns?: number;
  /** Run every planned unit this many times (the benchmark's batches of identical cases; default 1). */
  repeat?: number;
  /** The oracle peer for single-role properties and blame (default c-reference). */
  oracle?: Implementation;
  onPlan?: (units: Unit[], planned: number) => void;
  onResult?: (result: ResultEntry, done: number, total: number) => void;
  /** Each admission decision of an adaptive run, with the cases then in flight (the benchmark's peak). */
  onAdmission?: (decision: AdmissionDecision, inFlight: number) => void;
  /** Free-text notes for the user (the coverage summary, what --perf is doing). */
  onNote?: (text: string) => void;
  /**
   * Cancels the run (as execa's and fast-check's `signal`; the CLI aborts it on Ctrl-C and SIGTERM): no
   * case starts after it, the cases in flight end as at their deadline, and runSuite returns the report
   * of the units that finished before it, with `partial: true` and `notRun` (the units it discarded or
   * never started). Blame, --perf and stale expectations are skipped then: they need every unit.
   */
  signal?: AbortSignal;
}

/** The options with every default filled in, once. */
export interface QualifiedRunOptions extends Required<Pick<RunSuiteOptions, 'runs' | 'seed' | 'jobs' | 'caseDeadlineMs' | 'shrink' | 'coverage' | 'perf'>> {
  implementations: Implementation[];
  subjects: Subject[];
  properties: Property<any>[];
  oracle: Implementation;
}

export function qualify(options: RunSuiteOptions): QualifiedRunOptions {
  const subjects = options.subjects ?? [];
  const implementations = [...(options.implementations ?? builtinImplementations()), ...subjects.map((s) => s.implementation)];
  // Names key results, expectations and blame: a subject made in code (defineSubject) is checked here,
  // as loadSubjects checks a manifest's against the built-ins.
  const seen = new Set<string>();
  for (const i of implementations) {
    const subject = subjects.find((s) => s.implementation === i);
    if (seen.has(i.name)) throw subject ? new ManifestError(subject.file, 'name', `${JSON.stringify(i.name)} is already taken`) : new Error(`two implementations are named ${JSON.stringify(i.name)}`);
    seen.add(i.name);
  }
  return {
    implementations,
    subjects,
    properties: options.properties ?? allProperties(),
    oracle: options.oracle ?? cReference,
    runs: options.runs ?? (options.budgetMs !== undefined ? BUDGET.maxRuns : DEFAULTS.runs),
    seed: options.seed ?? Math.floor(Math.random() * 0x7fffffff),
    jobs: options.jobs ?? defaultJobCeiling(),
    caseDeadlineMs: options.caseDeadlineMs ?? DEFAULTS.caseDeadlineMs,
    shrink: options.shrink ?? DEFAULTS.shrink,
    coverage: options.coverage ?? false,
    perf: options.perf ?? false,
  };
}

/**
 * Throws InstallError (the CLI's exit 3) when a file the suite ships is missing for the implementations
 * that can take part (those the --server/--client filters leave, and the oracle): a broken install is
 * the harness's fault, found before any case runs, never a subject failure.
 */
export function checkSuiteInstall(options: RunSuiteOptions, q: QualifiedRunOptions = qualify(options)): void {
  const named = (names: string[] | undefined, i: Implementation): boolean => !names?.length || names.includes(i.name);
  const taking = q.implementations.filter((i) => named(options.servers, i) || named(options.clients, i));
  checkInstall([...taking, q.oracle], { loadAddon: binding, addonPath: ADDON_PATH });
}

/** Thrown when the filters leave nothing to run (the CLI's exit 3). */
export class NothingToRun extends Error {}

/** Plans a run: asks the drivers (once), then every unit, applicable or not. */
/** What the plan takes of a run's options (planSuite and dryRunPlan alike). */
function planInputOf(options: RunSuiteOptions, q: QualifiedRunOptions): PlanInput {
  return {
    implementations: q.implementations,
    properties: q.properties,
    servers: options.servers,
    clients: options.clients,
    propertyPatterns: options.propertyPatterns,
    excludePatterns: options.excludeProperties,
    excludePairings: options.excludePairings,
    onlyWith: options.subjectsOnly ? q.subjects.map((s) => s.implementation.name) : undefined,
    forceProcess: q.coverage,
  };
}

/**
 * `run --dry-run`: the units a run with these options would run (its shard's, with `shard`), planned
 * from what is declared alone, starting no process and calling no adapter: a driver unit's
 * applicability, which its drivers' hello answers settle, is left open (`awaitsHello`). `planned` counts
 * the units before sharding, as onPlan does.
 */
export function dryRunPlan(options: RunSuiteOptions): { units: Unit[]; planned: number } {
  const q = qualify(options);
  const planned = planUnits({ ...planInputOf(options, q), withoutHello: true });
  return { units: options.shard ? shardOf(planned, options.shard) : planned, planned: planned.length };
}

export async function planSuite(options: RunSuiteOptions, q: QualifiedRunOptions = qualify(options), extraEnv?: Record<string, string>): Promise<{ units: Unit[]; capabilities: CapabilityMap }> {
  const input = planInputOf(options, q);
  // Only the drivers that can take part: a filtered run does not start the others.
  const named = (names: string[] | undefined, i: Implementation): boolean => !names?.length || names.includes(i.name);
  const candidates = q.implementations.filter((i) => i.driver && (named(options.servers, i) || named(options.clients, i)));
  const capabilities = await askDrivers(candidates, { deadlineMs: Math.min(q.caseDeadlineMs, DEFAULTS.helloDeadlineMs), extraEnv });
  return { units: planUnits(input, capabilities), capabilities };
}

export async function runSuite(options: RunSuiteOptions = {}): Promise<RunReport> {
  const q = qualify(options);
  checkSuiteInstall(options, q);
  const startedAt = new Date();
  const t0 = performance.now();
  const coverage = q.coverage ? await startCoverage({ roots: q.subjects.filter((s) => !s.inline).map((s) => dirname(s.file)) }) : undefined;
  try {
    const { units: planned, capabilities } = await planSuite(options, q, coverage?.caseOptions.env);
    if (planned.length === 0) throw new NothingToRun('nothing to run (the filters leave no pairing)');
    const sharded = options.shard ? shardOf(planned, options.shard) : planned;
    const units = (options.repeat ?? 1) > 1 ? sharded.flatMap((u) => Array<Unit>(options.repeat!).fill(u)) : sharded;
    options.onPlan?.(units, planned.length);
    const runner: RunnerOptions = {
      runs: q.runs,
      seed: q.seed,
      oracle: q.oracle,
      concurrency: q.jobs,
      caseDeadlineMs: q.caseDeadlineMs,
      shrink: q.shrink,
      replayPath: options.replayPath,
      // A subject defined in code (defineSubject) has no file a replay could name.
      replayArgs: options.replayArgs ?? q.subjects.flatMap((s) => (s.inline ? [] : ['--subject', s.file])),
      onResult: options.onResult,
      onAdmission: options.onAdmission,
      caseOptions: { ...coverage?.caseOptions, quietMs: options.quietMs },
      unitBudgetMs: options.unitBudgetMs,
    };
    const signal = options.signal;
    const running = signal ? { ...runner, caseOptions: { ...runner.caseOptions, cancel: signal } } : runner;
    const budgeted = options.budgetMs !== undefined ? await runBudgeted(units, running, options.budgetMs, t0, signal) : undefined;
    const finished = budgeted ? budgeted.results : await runUnitsUntil(units, running, signal);
    const results = finished.filter((r): r is ResultEntry => r !== undefined);
    const notRun = units.length - results.length;
    const cancelled = signal?.aborted === true;
    const subjectNames = new Set(q.subjects.map((s) => s.implementation.name));
    // Blame's re-runs judge whether a failure is intermittent: at a fixed count of at most the cores, as
    // before, never at an adaptive ceiling that would load the machine while it judges.
    const blameConfig = { ...runner, concurrency: Math.min(q.jobs, defaultJobs()) };
    if (subjectNames.size > 0 && !cancelled) await assignBlame(results, units, { config: blameConfig, reference: q.oracle, subjects: subjectNames, reruns: options.blameReruns ?? DEFAULTS.blameReruns });
    const report = await buildReport({
      seed: q.seed,
      runs: q.runs,
      startedAt,
      durationMs: performance.now() - t0,
      implementations: q.implementations,
      properties: chosenProperties(q.properties, options.propertyPatterns, options.excludeProperties),
      results,
      capabilities,
    });
    if (options.shard) report.shard = options.shard;
    if (budgeted) report.budget = budgeted.budget;
    if (cancelled) {
      report.partial = true;
      report.notRun = notRun;
    }
    // After the cases, one pairing at a time, so that nothing else runs while a session is timed (and
    // never under --coverage's instrumentation). With --shard, shard 1 measures.
    if (q.perf && !signal?.aborted && (!options.shard || options.shard.index === 1)) {
      options.onNote?.('measuring throughput and first-byte latency (--perf) ...');
      report.perf = await measurePerf(q.implementations, { servers: options.servers, clients: options.clients });
    }
    if (coverage) {
      const c = await coverage.report(options.coverageOutDir ?? DEFAULTS.outDir);
      if (c) {
        report.coverage = { html: 'coverage/index.html', summary: 'coverage/summary.txt' };
        options.onNote?.(`${c.text}coverage report: ${c.htmlDir}/index.html`);
      } else options.onNote?.('coverage: no JavaScript implementation ran as a process, so there is nothing to report');
    }
    const stale = cancelled ? [] : q.subjects.flatMap((s) => staleExpectations(s.implementation, results));
    if (stale.length > 0) report.staleExpectations = stale;
    return report;
  } finally {
    await coverage?.cleanup();
  }
}

