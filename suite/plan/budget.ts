/**
 * `run --budget 60s`: a run that fits a time budget on the machine at hand, in two passes.
 *
 * 1. Every unit runs its examples and a minimum of generated runs (BUDGET.minimumRuns, or fewer where
 *    the property caps them), whatever the budget: coverage has a floor, and the first pass measures
 *    what a run of each unit costs here.
 * 2. What is left of the budget, less a reserve for blame and the reports, goes to the units that
 *    passed, as more generated runs (allocateRuns), from a seed of their own (topUpSeed) so that they
 *    draw new inputs. A unit whose second pass fails reports that failure, shrunk, with the second
 *    pass's seed in its replay line. Generation stops at the budget's end, and a unit cut short there
 *    keeps the runs it made.
 *
 * Run counts then depend on the machine's speed and load, so the report says so (report.budget), and
 * each result's `runs` is what its unit got. Which units run is not touched: `--shard` splits the
 * planned units before either pass, so the shards of one run still cover every unit exactly once.
 */
import { BUDGET } from '../defaults.js';
import type { ResultEntry, Status } from '../model/types.js';
import type { Unit } from './plan.js';
import { runUnitsUntil, type RunnerOptions } from './runner.js';

/** What a budgeted run records in its report. */
export interface BudgetRecord {
  /** The budget (--budget), in ms. */
  budgetMs: number;
  /** Generated runs every unit had at least (its property may cap it lower). */
  minimumRuns: number;
  /** The most runs of one unit (--runs with --budget). */
  maxRuns: number;
  /** Wall time of the first pass. */
  firstPassMs: number;
  /** Units that got more runs in the second pass, and how many runs they got in all. */
  toppedUpUnits: number;
  moreRuns: number;
  /** Units whose second pass the budget's end cut short. */
  cutShort: number;
}

/** A unit's cost and room, as its first pass measured them. */
export interface UnitCost {
  /** Cases the first pass ran (examples and generated). */
  runs: number;
  durationMs: number;
  /** Generated runs the unit may still get (its cap less those it had). */
  room: number;
}

/**
 * The more runs each unit gets from `unitTimeMs` of unit time (wall time × the units' measured
 * parallelism).
 *
 * Where runs are cheapest per unit of coverage: the inputs a unit's runs explore grow with the log of
 * their number (each doubling of the runs adds about as much as the doubling before; a property's
 * generators favour small inputs and their edges first), so a run's worth is about 1/n at n runs and
 * its cost the unit's time per run c. Giving each next run where 1/(n·c) is highest ends where n·c is
 * the same for every unit: equal time per unit, and so more runs where a run is cheap. A unit whose
 * cap is reached leaves its share to the others (water-filling the common time T by bisection).
 */
export function allocateRuns(units: UnitCost[], unitTimeMs: number): number[] {
  const perRun = units.map((u) => (u.runs > 0 ? Math.max(u.durationMs, 1) / u.runs : Infinity));
  const more = (t: number): number[] => units.map((u, i) => (Number.isFinite(perRun[i]!) ? Math.max(0, Math.min(u.room, Math.floor(t / perRun[i]!) - u.runs)) : 0));
  const cost = (runs: number[]): number => runs.reduce((sum, n, i) => sum + (n > 0 ? n * perRun[i]! : 0), 0);
  if (unitTimeMs <= 0 || units.length === 0) return units.map(() => 0);
  let low = 0;
  let high = Math.max(...units.map((u, i) => (Number.isFinite(perRun[i]!) ? (u.runs + u.room) * perRun[i]! : 0)));
  if (cost(more(high)) <= unitTimeMs) return more(high);
  for (let k = 0; k < 60 && high - low > 0.5; k++) {
    const mid = (low + high) / 2;
    if (cost(more(mid)) <= unitTimeMs) low = mid;
    else high = mid;
  }
  return more(low);
}

/** The statuses whose unit may get more runs: a failure already has its counterexample. */
const TOPPED_UP: ReadonlySet<Status> = new Set<Status>(['pass', 'unexpected-pass']);

export function mayTopUp(result: ResultEntry): boolean {
  return TOPPED_UP.has(result.status);
}

/**
 * One unit's result from its two passes: the second pass's verdict (a failure it found, or a pass),
 * with the runs and time of both.
 */
export function mergePasses(first: ResultEntry, more: ResultEntry): ResultEntry {
  const observed = more.observed ?? first.observed;
  return { ...more, runs: first.runs + more.runs, durationMs: first.durationMs + more.durationMs, ...(observed ? { observed } : {}) };
}

/** `--budget` text: `90s`, `2m`, `1500ms`, or plain seconds; a message when it is none of them. */
export function parseBudget(text: string): number | string {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) return `--budget must be a duration such as 60s, 2m or 1500ms, got ${JSON.stringify(text)}`;
  const ms = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  if (!(ms >= 1000 && ms <= 86_400_000)) return `--budget must be from 1s to 24h, got ${JSON.stringify(text)}`;
  return Math.round(ms);
}

/** The reserve kept back from the second pass of a budget. */
export function reserveMs(budgetMs: number): number {
  return Math.max(BUDGET.reserveMinMs, budgetMs * BUDGET.reserveShare);
}

/** Generated runs a unit may have under the run's ceiling: its property's cap, if lower. */
function capOf(unit: Unit, maxRuns: number): number {
  return Math.min(maxRuns, unit.property.maxRuns ?? maxRuns);
}

/**
 * Runs `units` in the two passes of a budget (this file's header), from `startedAt` (performance.now()
 * when the run began, so that planning counts against the budget). `config.runs` is the most runs of
 * one unit. Results are in plan order with a hole for every unit the signal stopped before its first
 * pass ended; a unit stopped in its second pass keeps its first pass's result.
 */
export async function runBudgeted(
  units: Unit[],
  config: RunnerOptions,
  budgetMs: number,
  startedAt: number,
  signal?: AbortSignal,
): Promise<{ results: Array<ResultEntry | undefined>; budget: BudgetRecord }> {
  const firstRuns = units.map((u) => Math.min(BUDGET.minimumRuns, capOf(u, config.runs)));
  const firstStart = performance.now();
  const first = await runUnitsUntil(units, { ...config, runsByIndex: firstRuns }, signal);
  const firstEnd = performance.now();
  const record: BudgetRecord = { budgetMs, minimumRuns: BUDGET.minimumRuns, maxRuns: config.runs, firstPassMs: Math.round(firstEnd - firstStart), toppedUpUnits: 0, moreRuns: 0, cutShort: 0 };
  const stopAtMs = startedAt + budgetMs - reserveMs(budgetMs);
  if (signal?.aborted || firstEnd >= stopAtMs) return { results: first, budget: record };
  // The first pass's parallelism: unit time per wall second, which the second pass's units share alike.
  const unitTime = first.reduce((sum, r) => sum + (r?.durationMs ?? 0), 0);
  const parallelism = Math.max(1, unitTime / Math.max(1, firstEnd - firstStart));
  const candidates = units.map((_, i) => i).filter((i) => first[i] !== undefined && mayTopUp(first[i]!));
  const more = allocateRuns(
    candidates.map((i) => ({ runs: first[i]!.runs, durationMs: first[i]!.durationMs, room: capOf(units[i]!, config.runs) - firstRuns[i]! })),
    (stopAtMs - firstEnd) * parallelism,
  );
  const chosen = candidates.filter((_, k) => more[k]! > 0);
  const runsByIndex = candidates.flatMap((_, k) => (more[k]! > 0 ? [more[k]!] : []));
  const cutShort = new Set<number>();
  const second = await runUnitsUntil(chosen.map((i) => units[i]!), { ...config, runsByIndex, topUp: { stopAtMs, cutShort } }, signal);
  const results = [...first];
  chosen.forEach((i, k) => {
    const topped = second[k];
    if (!topped) return;
    results[i] = mergePasses(first[i]!, topped);
    record.toppedUpUnits++;
    record.moreRuns += topped.runs;
  });
  record.cutShort = cutShort.size;
  return { results, budget: record };
}
