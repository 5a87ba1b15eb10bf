/**
 * The runner: runs each planned unit as a fast-check property with a seed derived from the run seed,
 * and turns the outcome into a result with status, counterexample, evidence and replay line.
 * Independent units run concurrently, as many as admission.ts admits within the configured ceiling. Applicability and transports were
 * settled by the plan (plan.ts); the runner only carries them into each case.
 */
import os from 'node:os';
import fc from 'fast-check';
import { withDriverReuse } from '../driver/pool.js';
import { CaseContext, type CaseOptions } from '../harness/context.js';
import { ADMISSION, DEFAULTS } from '../defaults.js';
import { launcherPid } from '../harness/launcher.js';
import { CheckFailure, NO_PEER, Unsupported, type Implementation, type ResultEntry, type Status } from '../model/types.js';
import type { Property } from '../properties/property.js';
import { CpuMeter, nextLimit, type AdmissionConfig, type AdmissionDecision } from './admission.js';
import { CaseSlots, Speculation, type CaseOutcome } from './speculation.js';
import { expectationFor, topUpSeed, unitSeed, type PlanInput, type Unit } from './plan.js';

export { expectationFor, globToRegExp, planUnits, selectProperties, unitSeed, type Unit } from './plan.js';
export { CaseSlots } from './speculation.js';

/** How units run: everything but what the plan chose. */
export interface RunnerOptions {
  /** Generated runs per unit (a property's maxRuns caps it). */
  runs: number;
  seed: number;
  /** The peer that plays the absent side of single-role properties (c-reference). */
  oracle?: Implementation;
  /**
   * At most this many cases in flight (default: the cores). Above the cores the runner adapts the count
   * to the work, from the cores up to this (plan/admission.ts); at or under them it is exactly this.
   */
  concurrency?: number;
  caseDeadlineMs?: number;
  /** Shrink failures to a minimal counterexample (default). Off: stop at the first failure. */
  shrink?: boolean;
  /** Replays one recorded counterexample instead of generating (replay command). */
  replayPath?: string;
  /** Extra words for the replay line (e.g. `--subject FILE`), so it can be pasted as it is. */
  replayArgs?: string[];
  onResult?: (result: ResultEntry, done: number, total: number) => void;
  /** Each admission decision of an adaptive run (plan/admission.ts), with the cases then in flight. */
  onAdmission?: (decision: AdmissionDecision, inFlight: number) => void;
  /** Run-wide case options: force process mode, extra subject environment (`run --coverage`). */
  caseOptions?: CaseOptions;
  /** Time budget per unit (default DEFAULTS.unitBudgetMs): shrinking stops there. */
  unitBudgetMs?: number;
  /** A budgeted run (plan/budget.ts): each unit's generated runs, by its index among the units run, instead of `runs`. */
  runsByIndex?: readonly number[];
  /** The second pass of a budgeted run (plan/budget.ts). */
  topUp?: TopUp;
}

/**
 * The second pass of a budgeted run: no examples (the first pass ran them), each unit's top-up seed,
 * and no case starts after `stopAtMs` (performance.now()) until a failure is held; `cutShort` gets the
 * index of every unit stopped there.
 */
export interface TopUp {
  stopAtMs: number;
  cutShort: Set<number>;
}

export type RunConfig = PlanInput & RunnerOptions;

export function replayLine(unit: Unit, seed: number, path: string, extra: string[] = []): string {
  const q = (s: string): string => (/^[\w./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const words = ['npx', 'uds-conformance', 'replay', '--property', unit.property.id];
  if (unit.server) words.push('--server', unit.server.name);
  if (unit.client) words.push('--client', unit.client.name);
  if (unit.socketType !== 'stream') words.push('--socket-type', unit.socketType);
  if (unit.address !== 'pathname') words.push('--address', unit.address);
  words.push('--seed', String(seed), '--path', path, ...extra);
  return words.map(q).join(' ');
}

/**
 * A recorded path is fast-check's path, and for a sequence property (fc.commands) `~` and the
 * commands' replayPath: fc.commands shrinks by which commands ran, so seed and path alone cannot walk
 * back to the shrunk sequence (fast-check's documentation of fc.commands' replayPath).
 */
export function splitReplayPath(path: string | undefined): { path: string | undefined; commands: string | undefined } {
  if (path === undefined) return { path, commands: undefined };
  const at = path.indexOf('~');
  return at < 0 ? { path, commands: undefined } : { path: path.slice(0, at), commands: path.slice(at + 1) };
}

/** The replayPath an fc.commands value prints with its commands (`/*replayPath="..."*\/`), if any. */
function commandsReplayPathOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || !(Symbol.iterator in value)) return undefined;
  return /\/\*replayPath="([^"]*)"\*\//.exec(String(value))?.[1];
}

function describeInput(property: Property<any>, input: unknown): unknown {
  if (property.describe) return property.describe(input);
  return input;
}

/** The shortest deadline a timed-out unit's later shrink runs get. */
const SHRINK_DEADLINE_FLOOR_MS = 2000;

/**
 * What shrinking a unit may cost: a broken subject costs seconds, not a deadline per shrink step.
 *
 * - The unit's time budget (unitBudgetMs, from the unit's start). Once a failure is held and the budget
 *   has run out, the next shrink run interrupts fast-check from inside the predicate
 *   (`new fc.PreconditionFailure(true)`): fast-check stops at once and keeps the last failure, so the
 *   counterexample, its seed and its path (the replay line) are the smallest found so far, exactly as
 *   found. Not fast-check's interruptAfterTimeLimit: it races the running predicate, abandoning a case
 *   mid-flight (its processes and case dir outlive the result), and it counts the generation phase too,
 *   where an interrupt before any failure reads as a pass. Only shrinking is cut short here; a case
 *   already running finishes under its own deadline.
 * - Timed-out cases are shrunk with a shorter deadline. Once a case of the unit has hit its deadline,
 *   later shrink runs get min(deadline, max(2 s, 3 × the longest passing case so far)): the cases that
 *   passed show how long a working session of this pairing takes, shrink candidates are smaller than
 *   the input that failed, and 3× leaves room for a loaded machine; 2 s is the floor when nothing has
 *   passed (or everything passed in milliseconds), e.g. a subject that hangs on every input. A run that
 *   fails only because of the shorter deadline can make a smaller counterexample than the full
 *   deadline would have; the result says so when the reported counterexample ran with it, and a replay
 *   (the replay line, `replayPath`) always runs with the full deadline.
 */
class ShrinkControl {
  private failedOnce = false;
  private timedOutOnce = false;
  private longestPassMs = 0;
  /** The deadline of the latest failing case: fast-check reports the latest failure. */
  private counterexampleDeadlineMs: number;
  private stoppedByBudget = false;

  constructor(
    private readonly deadlineMs: number,
    private readonly budgetMs: number,
    private readonly startedAt: number,
    private readonly replay: boolean,
  ) {
    this.counterexampleDeadlineMs = deadlineMs;
  }

  /** True (and remembered) when a failure is held and the budget has run out: stop shrinking. */
  outOfBudget(): boolean {
    if (!this.failedOnce || performance.now() - this.startedAt < this.budgetMs) return false;
    this.stoppedByBudget = true;
    return true;
  }

  caseDeadline(): number {
    if (this.replay || !this.timedOutOnce) return this.deadlineMs;
    return Math.min(this.deadlineMs, Math.max(SHRINK_DEADLINE_FLOOR_MS, 3 * this.longestPassMs));
  }

  /** A failure is held: fast-check is shrinking it. */
  get holdsFailure(): boolean {
    return this.failedOnce;
  }

  passed(durationMs: number): void {
    this.longestPassMs = Math.max(this.longestPassMs, durationMs);
  }

  failed(deadlineMs: number, timedOut: boolean): void {
    this.failedOnce = true;
    if (timedOut) this.timedOutOnce = true;
    this.counterexampleDeadlineMs = deadlineMs;
  }

  /** What the result message adds about how the counterexample was shrunk ('' when nothing). */
  note(interrupted: boolean, numShrinks: number): string {
    const notes: string[] = [];
    if (interrupted && this.stoppedByBudget) {
      notes.push(`shrinking stopped at the time budget (${this.budgetMs} ms) after ${numShrinks} shrinks: this is the smallest counterexample found by then`);
    }
    if (this.counterexampleDeadlineMs < this.deadlineMs) {
      notes.push(`it failed under the shortened shrink deadline of ${this.counterexampleDeadlineMs} ms (a replay runs it with the full ${this.deadlineMs} ms)`);
    }
    return notes.map((n) => ` (${n})`).join('');
  }
}

/** Where a unit runs: the run's case slots and the unit's place in the plan (for the slots' turns). */
export interface UnitPlace {
  slots: CaseSlots;
  index: number;
}

export async function runUnit(unit: Unit, config: RunnerOptions, place?: UnitPlace): Promise<ResultEntry> {
  const started = performance.now();
  const base = {
    server: unit.server?.name ?? NO_PEER,
    client: unit.client?.name ?? NO_PEER,
    property: unit.property.id,
    socketType: unit.socketType,
    address: unit.address,
  };
  const expectation = expectationFor(unit);
  if (unit.unsupported) {
    return { ...base, status: 'unsupported', runs: 0, durationMs: 0, reason: unit.unsupported, message: `not applicable: ${unit.unsupported}` };
  }
  if (unit.broken) {
    const evidence = { message: unit.broken, expected: 'a driver that answers hello', actual: unit.broken };
    return { ...base, status: expectation ? 'expected-fail' : 'fail', runs: 0, durationMs: 0, message: unit.broken, evidence, ...(expectation ? { reason: expectation.reason } : {}) };
  }
  // A replay gives the unit's own seed (as reported); a run derives each unit's seed from the run seed.
  const topUp = place ? config.topUp : undefined;
  const seed = config.replayPath !== undefined ? config.seed : topUp ? topUpSeed(unitSeed(config.seed, unit)) : unitSeed(config.seed, unit);
  if (!config.oracle && (!unit.server || !unit.client)) throw new Error(`${unit.property.id} is single-role: the runner needs the oracle peer`);
  const caseUnit = { server: unit.server, client: unit.client, oracle: config.oracle, socketType: unit.socketType, address: unit.address, transport: unit.transport ?? {} };
  const deadline = config.caseDeadlineMs ?? DEFAULTS.caseDeadlineMs;
  const budgetMs = config.unitBudgetMs ?? DEFAULTS.unitBudgetMs;
  const shrinking = new ShrinkControl(deadline, budgetMs, started, config.replayPath !== undefined);
  let runs = 0;
  let observed: Record<string, unknown> | undefined;
  let unsupportedCase: Unsupported | undefined;
  const replayed = splitReplayPath(config.replayPath);
  const arbitrary = unit.property.arbitraryFor ? unit.property.arbitraryFor({ replayPath: replayed.commands }) : unit.property.arbitrary;
  const runCase = async (input: unknown, caseDeadline: number): Promise<CaseOutcome> => {
    const caseStarted = performance.now();
    let timedOut = false;
    try {
      const value = await CaseContext.with(
        caseUnit,
        caseDeadline,
        async (ctx) => {
          try {
            return await unit.property.check(input, ctx);
          } finally {
            // Read before CaseContext.with aborts the signal itself ("case finished"): only the
            // deadline can have aborted it by now.
            timedOut = ctx.signal.aborted;
          }
        },
        config.caseOptions,
      );
      return { ok: true, observed: value, durationMs: performance.now() - caseStarted };
    } catch (error) {
      return { ok: false, error, timedOut, deadlineMs: caseDeadline };
    }
  };
  // fast-check counts examples among numRuns: every corpus example runs, then the generated cases.
  const generated = place && config.runsByIndex ? config.runsByIndex[place.index]! : Math.min(config.runs, unit.property.maxRuns ?? config.runs);
  // The same examples on replay: a recorded path counts them. A top-up pass has run them already.
  const examples = topUp ? [] : (unit.property.examples ?? []).map((e) => [e] as [unknown]);
  const numRuns = generated + examples.length;
  /** A top-up pass at the budget's end, before any failure: no more cases start. */
  const pastBudget = (): boolean => topUp !== undefined && !shrinking.holdsFailure && performance.now() >= topUp.stopAtMs;
  const ahead =
    place && place.slots.limit > 1 && config.replayPath === undefined && !unit.property.arbitraryFor
      ? new Speculation(
          fc.sample(fc.tuple(arbitrary), { numRuns, seed, examples }).map(([input]) => input),
          (input) => (pastBudget() ? Promise.resolve<CaseOutcome>({ ok: 'skipped' }) : runCase(input, shrinking.caseDeadline())),
          place.slots,
          place.index,
        )
      : undefined;
  /** The unit's state changes here, in fast-check's order, whenever the case ran. */
  const consume = (outcome: CaseOutcome): void => {
    if (outcome.ok === 'skipped') throw new Error('internal: a skipped case was handed to fast-check');
    runs++;
    if (outcome.ok) {
      observed = outcome.observed ?? observed;
      shrinking.passed(outcome.durationMs);
      return;
    }
    if (outcome.error instanceof Unsupported) unsupportedCase = outcome.error;
    shrinking.failed(outcome.deadlineMs, outcome.timedOut);
    if (!fc.PreconditionFailure.isFailure(outcome.error)) ahead?.failed();
    throw outcome.error;
  };
  const predicate = fc.asyncProperty(arbitrary, async (input: unknown) => {
    // Once a case is declared unsupported the unit is: fail the remaining (shrinking) runs at once.
    if (unsupportedCase) throw unsupportedCase;
    if (shrinking.outOfBudget()) throw new fc.PreconditionFailure(true);
    if (pastBudget()) {
      topUp!.cutShort.add(place!.index);
      throw new fc.PreconditionFailure(true);
    }
    const early = ahead?.take();
    if (early) {
      const outcome = await early;
      // Started ahead, then skipped at the budget's end: fast-check stops here too, with what ran.
      if (outcome.ok === 'skipped' && topUp) {
        topUp.cutShort.add(place!.index);
        throw new fc.PreconditionFailure(true);
      }
      return consume(outcome);
    }
    const caseDeadline = shrinking.caseDeadline();
    if (!place) return consume(await runCase(input, caseDeadline));
    await place.slots.acquire(place.index);
    try {
      return consume(await runCase(input, caseDeadline));
    } finally {
      place.slots.release();
    }
  });
  let details: Awaited<ReturnType<typeof fc.check<[unknown]>>>;
  try {
    // Process drivers that pass a case are reset and kept for the next case (driver/pool.ts).
    details = await withDriverReuse(() => fc.check(predicate, { numRuns, seed, path: replayed.path, examples, endOnFailure: config.shrink === false }), { extraEnv: config.caseOptions?.env });
  } finally {
    await ahead?.end();
  }
  const durationMs = Math.round(performance.now() - started);
  const error = details.errorInstance;
  // fast-check calls a run interrupted before its first case failed; a top-up pass the budget's end
  // stopped before any case ran has simply nothing to add.
  const stoppedBeforeAnyCase = topUp !== undefined && details.interrupted && details.numRuns === 0 && details.counterexample === null;
  if (!details.failed || stoppedBeforeAnyCase) {
    // An intermittent known failure that this run did not reach is a plain pass.
    const awaited = expectation?.intermittent ? undefined : expectation;
    const status: Status = awaited ? 'unexpected-pass' : 'pass';
    return {
      ...base,
      status,
      runs,
      durationMs,
      ...(observed ? { observed } : {}),
      ...(awaited ? { reason: awaited.reason, message: `known failure did not happen: ${awaited.reason}` } : {}),
    };
  }
  if (unsupportedCase || error instanceof Unsupported) {
    const reason = (unsupportedCase ?? (error as Unsupported)).message;
    return { ...base, status: 'unsupported', runs, durationMs, reason, message: `unsupported: ${reason}` };
  }
  const counterexample = {
    input: describeInput(unit.property, details.counterexample?.[0]),
    seed: details.seed,
    path: (details.counterexamplePath ?? '') + (commandsReplayPathOf(details.counterexample?.[0]) !== undefined ? `~${commandsReplayPathOf(details.counterexample?.[0])}` : ''),
    numShrinks: details.numShrinks,
  };
  const replay = replayLine(unit, details.seed, counterexample.path, config.replayArgs);
  if (error instanceof CheckFailure) {
    return {
      ...base,
      status: expectation ? 'expected-fail' : 'fail',
      runs,
      durationMs,
      message: error.message + shrinking.note(details.interrupted, details.numShrinks),
      counterexample,
      evidence: error.evidence,
      replay,
      ...(expectation ? { reason: expectation.reason } : {}),
    };
  }
  // Anything else is the harness failing, not the implementation: never excused by an expectation.
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error ?? 'unknown error');
  return { ...base, status: 'error', runs, durationMs, message: `harness error: ${text}`, counterexample, replay };
}

/** Runs every unit with at most `concurrency` in flight; results come back in plan order. */
export async function runUnits(units: Unit[], config: RunnerOptions): Promise<ResultEntry[]> {
  return (await runUnitsUntil(units, config)).filter((r): r is ResultEntry => r !== undefined);
}

/**
 * Runs units as runUnits does until `signal` is aborted (Ctrl-C): then no unit starts, and units that
 * end after the abort (their cases were cancelled) are dropped. Results are in plan order, with a hole
 * for every unit that did not run to the end.
 *
 * At most `limit` cases are in flight (CaseSlots), and at most `limit` units: units start in plan
 * order, which puts a property's pairings side by side, a unit runs its cases ahead of fast-check
 * (Speculation), and the slots go to the units in turn, so a slow subject's unit shares the machine
 * instead of holding it one case at a time. The limit is admission.ts's: from min(cores, concurrency)
 * up to `concurrency` while the cases wait, and exactly `concurrency` when that is at most the cores
 * (`--jobs N`, the fixed count of before). Neither the order of starts nor the count reaches a result:
 * a unit's seed is its own (unitSeed), its outcomes are consumed in fast-check's order, and each result
 * goes to its unit's place in the plan.
 *
 * A unit that throws (the harness, never a subject) stops further starts; the units in flight finish,
 * so none is left running, and then the error is thrown.
 */
export async function runUnitsUntil(units: Unit[], config: RunnerOptions, signal?: AbortSignal): Promise<Array<ResultEntry | undefined>> {
  const cores = os.availableParallelism();
  const ceiling = Math.max(1, config.concurrency ?? cores);
  const admission: AdmissionConfig = { ...ADMISSION, cores, floor: Math.min(cores, ceiling), ceiling };
  const results: Array<ResultEntry | undefined> = new Array(units.length).fill(undefined);
  let next = 0;
  let done = 0;
  let inFlight = 0;
  const slots = new CaseSlots(admission.floor);
  let failure: { error: unknown } | undefined;
  let sampler: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve) => {
      const stopped = (): boolean => failure !== undefined || signal?.aborted === true;
      const fill = (): void => {
        while (inFlight < slots.limit && next < units.length && !stopped()) {
          const i = next++;
          inFlight++;
          void runUnit(units[i]!, config, { slots, index: i })
            .then((result) => {
              if (signal?.aborted) return;
              results[i] = result;
              done++;
              config.onResult?.(result, done, units.length);
            })
            .catch((error: unknown) => {
              failure ??= { error };
            })
            .finally(() => {
              inFlight--;
              fill();
            });
        }
        if (inFlight === 0 && (next >= units.length || stopped())) resolve();
      };
      if (admission.floor < admission.ceiling) {
        const meter = new CpuMeter(launcherPid);
        let previous = meter.sample();
        sampler = setInterval(() => {
          const current = meter.sample();
          const decision = nextLimit({ limit: slots.limit, inFlight: slots.inFlight, waiting: slots.waiting + units.length - next }, previous, current, admission);
          previous = current;
          slots.setLimit(decision.limit);
          config.onAdmission?.(decision, slots.inFlight);
          fill();
        }, ADMISSION.sampleMs);
      }
      fill();
    });
  } finally {
    clearInterval(sampler);
  }
  if (failure) throw failure.error;
  return results;
}
