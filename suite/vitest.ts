/**
 * `uds-conformance/vitest`: the suite inside a library's own vitest run. `conformance(subject)`, called
 * in a describe, registers one vitest test per property × pairing the subject can take part in (the
 * subject as server with c-reference as client, c-reference as server with the subject as client, and
 * the subject with itself), named `${property} · ${server} × ${client}`.
 *
 * Which tests exist is settled at collection time, from the property list and the roles the subject
 * has (the plan's own pairing rule, planUnits, with no driver asked); whether each one applies is
 * only known after the drivers' hello, so every test runs its own runSuite: that property, that
 * pairing. A test that vitest's -t filter, --shard or .only leaves out starts nothing, and each test
 * keeps its own timeout. The cost is one hello per driver per test (measured in docs/adapters.md).
 *
 * A test's outcome is the suite's verdict on its units (one per socket type × address kind):
 * - a failure that grades the run (a MUST failure; any failure with `strict`), an unexpected pass or
 *   a harness error fails it, with the terminal reporter's details (evidence, counterexample, replay
 *   line) as its message, and the line that replays it under vitest;
 * - all units unsupported: skipped, with the reasons as the skip note;
 * - otherwise it passes; expected failures, SHOULD/MAY failures and unsupported variants are noted
 *   as annotations (vitest's verbose, JSON and JUnit reporters show them).
 */
import { it, type TestContext } from 'vitest';
import { DEFAULTS } from './defaults.js';
import { NO_PEER, type ResultEntry } from './model/types.js';
import { planUnits, type CapabilityMap, type Unit } from './plan/plan.js';
import { allProperties } from './properties/index.js';
import { cReference } from './registry.js';
import { gradesExit, levelOf, variantName } from './report/common.js';
import type { RunReport } from './report/results.js';
import { renderDetails } from './report/terminal.js';
import { runSuite } from './run.js';
import type { Subject } from './subjects/manifest.js';

/** Read when `seed` is not given: the seed a failing test's message says to replay it with. */
export const SEED_ENV = 'UDS_CONFORMANCE_SEED';

export interface ConformanceOptions {
  /** Generated cases per unit (default 100; a property's maxRuns caps it). */
  runs?: number;
  /**
   * The run seed (default: $UDS_CONFORMANCE_SEED, else random, chosen once per conformance() call).
   * Each unit's seed is derived from it and the unit alone, so a test replays the same cases whichever
   * other tests run.
   */
  seed?: number;
  /**
   * Each test's vitest timeout in ms (default 300000). The test's run is fitted into it (timePlan):
   * a failure is reported with its smallest counterexample so far, before vitest would time it out.
   */
  timeout?: number;
  /** Property ids or globs (`stream.*`), as `--property` takes them (default: every property). */
  properties?: string[];
  /** Cases in flight at once within one test (its socket type × address kind variants; default the cores). */
  jobs?: number;
  /** Per-case deadline in ms (default a tenth of `timeout`, at most 15000). */
  caseDeadlineMs?: number;
  /** Fail the test on SHOULD and MAY failures too, as `run --strict` does (default false: they are annotated). */
  strict?: boolean;
}

/** One test conformance() registers: a property on one pairing, with the variants (units) it covers. */
export interface ConformanceTest {
  name: string;
  property: string;
  server: string;
  client: string;
}

const DEFAULT_TIMEOUT_MS = 300_000;

/**
 * The tests conformance(subject, options) registers, in order: by property, then pairing. Pure (no
 * driver is started): the plan's pairing rule over the subject and c-reference, keeping the pairings
 * the subject is in.
 */
export function conformanceTests(subject: Subject, options: Pick<ConformanceOptions, 'properties'> = {}): ConformanceTest[] {
  const impl = subject.implementation;
  if (impl.name === cReference.name) throw new Error(`conformance(): the subject cannot be named ${cReference.name}, the suite's oracle`);
  const implementations = [impl, cReference];
  // Pairings only: which units apply is decided per test, after hello.
  const notAsked: CapabilityMap = new Map(implementations.filter((i) => i.driver).map((i) => [i.name, { unsupported: 'not asked' }]));
  const units = planUnits({ implementations, properties: allProperties(), propertyPatterns: options.properties, onlyWith: [impl.name] }, notAsked);
  const tests = new Map<string, ConformanceTest>();
  for (const u of units) {
    const test = testOf(u);
    if (!tests.has(test.name)) tests.set(test.name, test);
  }
  return [...tests.values()];
}

function testOf(unit: Unit): ConformanceTest {
  const server = unit.server?.name ?? NO_PEER;
  const client = unit.client?.name ?? NO_PEER;
  return { name: `${unit.property.id} · ${server} × ${client}`, property: unit.property.id, server, client };
}

function runSeed(options: ConformanceOptions): number {
  if (options.seed !== undefined) return options.seed;
  const env = process.env[SEED_ENV];
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isSafeInteger(n)) throw new Error(`${SEED_ENV}=${JSON.stringify(env)}: not an integer`);
    return n;
  }
  return Math.floor(Math.random() * 0x7fffffff);
}

/** A failure whose message is the whole story: no stack frames of the suite's own under it. */
class ConformanceFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConformanceFailure';
    this.stack = `${this.name}: ${message}`;
  }
}

/**
 * How one test spends its timeout T, so that a failure is reported with its evidence before vitest's
 * own "timed out" (which would carry none): a case deadline of at most T/10, shrinking stopped at 40%
 * of T (the unit budget), blame's re-runs (each up to a case deadline, per role) within another 40%,
 * and the run cancelled at 90% of T whatever is still going, with what finished reported.
 */
export function timePlan(timeout: number, caseDeadlineMs?: number): { caseDeadlineMs: number; unitBudgetMs: number; blameReruns: number; cancelAtMs: number } {
  const deadline = caseDeadlineMs ?? Math.max(100, Math.min(DEFAULTS.caseDeadlineMs, Math.floor(timeout / 10)));
  return {
    caseDeadlineMs: deadline,
    unitBudgetMs: Math.max(1000, Math.min(DEFAULTS.unitBudgetMs, Math.floor(timeout * 0.4))),
    blameReruns: Math.max(1, Math.min(DEFAULTS.blameReruns, Math.floor((timeout * 0.4) / (2 * deadline)))),
    cancelAtMs: Math.floor(timeout * 0.9),
  };
}

/** Runs one test: its property on its pairing, through runSuite, and turns the results into the test's outcome. */
async function runTest(subject: Subject, test: ConformanceTest, options: ConformanceOptions, seed: number, timeout: number, ctx: TestContext): Promise<void> {
  const plan = timePlan(timeout, options.caseDeadlineMs);
  const cancel = AbortSignal.any([ctx.signal, AbortSignal.timeout(plan.cancelAtMs)]);
  const report = await runSuite({
    implementations: [cReference],
    subjects: [subject],
    subjectsOnly: true,
    propertyPatterns: [test.property],
    servers: test.server === NO_PEER ? undefined : [test.server],
    clients: test.client === NO_PEER ? undefined : [test.client],
    runs: options.runs,
    seed,
    jobs: options.jobs,
    caseDeadlineMs: plan.caseDeadlineMs,
    unitBudgetMs: plan.unitBudgetMs,
    blameReruns: plan.blameReruns,
    signal: cancel,
  });
  // Only this test's pairing: a single-role property's results name the absent side "-".
  const results = report.results.filter((r) => r.property === test.property && r.server === test.server && r.client === test.client);
  if (results.length === 0) throw new ConformanceFailure(`${test.name}: the run planned no unit for this test (the property or pairing is not in the plan)`);
  const strict = options.strict ?? false;
  const grades = (r: ResultEntry): boolean => r.status === 'error' || gradesExit(r.status, levelOf(r, report.properties), strict);
  const failing = results.filter(grades);
  if (failing.length > 0) throw new ConformanceFailure(failureText({ ...report, results }, subject, test, seed, options));
  if (report.partial) throw new ConformanceFailure(`${test.name}: cancelled at ${plan.cancelAtMs} ms, 90% of the test's timeout, with ${report.notRun ?? 0} case(s) not run: give conformance() a longer timeout`);
  const notes = (r: ResultEntry): string => `${variantName(r)}: ${r.reason ?? r.message ?? ''}`;
  const unsupported = results.filter((r) => r.status === 'unsupported');
  if (unsupported.length === results.length) ctx.skip(`unsupported: ${unsupported.map(notes).join('; ')}`);
  for (const r of results) {
    if (r.status === 'expected-fail') await ctx.annotate(`expected failure (${variantName(r)}): ${r.message ?? ''}${r.reason ? ` (known: ${r.reason})` : ''}`, 'notice');
    else if (r.status === 'fail') await ctx.annotate(`a ${levelOf(r, report.properties)} failure (${variantName(r)}), not graded without strict: ${r.message ?? ''}`, 'warning');
    else if (r.status === 'unsupported') await ctx.annotate(`unsupported ${notes(r)}`, 'notice');
  }
}

/** The terminal reporter's details of this test's results, then how to replay it under vitest. */
function failureText(report: RunReport, subject: Subject, test: ConformanceTest, seed: number, options: ConformanceOptions): string {
  const details = renderDetails(report, { expectedToo: true, strict: options.strict ?? false });
  const how = options.seed !== undefined ? `(seed ${seed} is fixed in the options)` : `${SEED_ENV}=${seed}`;
  // A subject defined in code lives in the test file: the CLI's replay line cannot name it.
  const cli = subject.inline ? ' (the replay line above needs a manifest file; this subject is defined in code)' : '';
  const partial = report.partial ? `\n(cancelled at 90% of the test's timeout: ${report.notRun ?? 0} case(s) did not run)` : '';
  return `${details}${partial}\n\nreplay under vitest${cli}: ${how} npx vitest run <this file> -t ${JSON.stringify(test.name)}`;
}

/**
 * Registers the conformance tests of `subject` in the current describe: one vitest test per property ×
 * pairing (see conformanceTests), each running the suite on that property and pairing when vitest runs
 * it. Call it at collection time, inside describe().
 */
export function conformance(subject: Subject, options: ConformanceOptions = {}): void {
  const seed = runSeed(options);
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
  for (const test of conformanceTests(subject, options)) {
    it(test.name, (ctx) => runTest(subject, test, options, seed, timeout, ctx), timeout);
  }
}
