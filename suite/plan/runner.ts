/**
 * The runner: runs each planned unit as a fast-check property with a seed derived from the run seed,
 * and turns the outcome into a result with status, counterexample, evidence and replay line.
 * Independent units run concurrently, up to the configured limit. Applicability and transports were
 * settled by the plan (plan.ts); the runner only carries them into each case.
 */
import os from 'node:os';
import fc from 'fast-check';
import { CaseContext, type CaseOptions } from '../harness/context.js';
import { DEFAULTS } from '../defaults.js';
import { CheckFailure, NO_PEER, Unsupported, type Implementation, type ResultEntry, type Status } from '../model/types.js';
import type { Property } from '../properties/property.js';
import { expectationFor, unitSeed, type PlanInput, type Unit } from './plan.js';

export { expectationFor, globToRegExp, planUnits, selectProperties, unitSeed, type Unit } from './plan.js';

/** How units run: everything but what the plan chose. */
export interface RunnerOptions {
  /** Generated runs per unit (a property's maxRuns caps it). */
  runs: number;
  seed: number;
  /** The peer that plays the absent side of single-role properties (c-reference). */
  oracle?: Implementation;
  concurrency?: number;
  caseDeadlineMs?: number;
  /** Shrink failures to a minimal counterexample (default). Off: stop at the first failure. */
  shrink?: boolean;
  /** Replays one recorded counterexample instead of generating (replay command). */
  replayPath?: string;
  /** Extra words for the replay line (e.g. `--subject FILE`), so it can be pasted as it is. */
  replayArgs?: string[];
  onResult?: (result: ResultEntry, done: number, total: number) => void;
  /** Run-wide case options: force process mode, extra subject environment (`run --coverage`). */
  caseOptions?: CaseOptions;
  /** Time budget per unit (default DEFAULTS.unitBudgetMs): shrinking stops there. */
  unitBudgetMs?: number;
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

function describeInput(property: Property<any>, input: unknown): unknown {
  if (property.describe) return property.describe(input);
  return input;
}

export async function runUnit(unit: Unit, config: RunnerOptions): Promise<ResultEntry> {
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
  const seed = config.replayPath !== undefined ? config.seed : unitSeed(config.seed, unit);
  if (!config.oracle && (!unit.server || !unit.client)) throw new Error(`${unit.property.id} is single-role: the runner needs the oracle peer`);
  const caseUnit = { server: unit.server, client: unit.client, oracle: config.oracle, socketType: unit.socketType, address: unit.address, transport: unit.transport ?? {} };
  const deadline = config.caseDeadlineMs ?? DEFAULTS.caseDeadlineMs;
  let runs = 0;
  let observed: Record<string, unknown> | undefined;
  let unsupportedCase: Unsupported | undefined;
  const predicate = fc.asyncProperty(unit.property.arbitrary, async (input: unknown) => {
    // Once a case is declared unsupported the unit is: fail the remaining (shrinking) runs at once.
    if (unsupportedCase) throw unsupportedCase;
    runs++;
    try {
      observed = (await CaseContext.with(caseUnit, deadline, (ctx) => unit.property.check(input, ctx), config.caseOptions)) ?? observed;
    } catch (err) {
      if (err instanceof Unsupported) unsupportedCase = err;
      throw err;
    }
  });
  // fast-check counts examples among numRuns: every corpus example runs, then the generated cases.
  const numRuns = Math.min(config.runs, unit.property.maxRuns ?? config.runs) + (unit.property.examples?.length ?? 0);
  const details = await fc.check(predicate, {
    numRuns,
    seed,
    path: config.replayPath,
    // The same examples on replay: a recorded path counts them.
    examples: (unit.property.examples ?? []).map((e) => [e] as [unknown]),
    endOnFailure: config.shrink === false,
  });
  const durationMs = Math.round(performance.now() - started);
  const error = details.errorInstance;
  if (!details.failed) {
    const status: Status = expectation ? 'unexpected-pass' : 'pass';
    return {
      ...base,
      status,
      runs,
      durationMs,
      ...(observed ? { observed } : {}),
      ...(expectation ? { reason: expectation.reason, message: `known failure did not happen: ${expectation.reason}` } : {}),
    };
  }
  if (unsupportedCase || error instanceof Unsupported) {
    const reason = (unsupportedCase ?? (error as Unsupported)).message;
    return { ...base, status: 'unsupported', runs, durationMs, reason, message: `unsupported: ${reason}` };
  }
  const counterexample = {
    input: describeInput(unit.property, details.counterexample?.[0]),
    seed: details.seed,
    path: details.counterexamplePath ?? '',
    numShrinks: details.numShrinks,
  };
  const replay = replayLine(unit, details.seed, counterexample.path, config.replayArgs);
  if (error instanceof CheckFailure) {
    return {
      ...base,
      status: expectation ? 'expected-fail' : 'fail',
      runs,
      durationMs,
      message: error.message,
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
  const limit = Math.max(1, config.concurrency ?? os.availableParallelism());
  const results: ResultEntry[] = new Array(units.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < units.length) {
      const i = next++;
      results[i] = await runUnit(units[i]!, config);
      done++;
      config.onResult?.(results[i]!, done, units.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, units.length) }, worker));
  return results;
}
