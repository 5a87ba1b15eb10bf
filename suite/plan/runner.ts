/**
 * The runner: instantiates every property over every pairing it applies to (gVisor's TEST_P over
 * socket-pair factories), runs each instance as a fast-check property with a seed derived from the run
 * seed, and turns the outcome into a result with status, counterexample, evidence and replay line.
 * Independent instances run concurrently, up to the configured limit.
 */
import os from 'node:os';
import fc from 'fast-check';
import { cReference } from '../registry.js';
import { CaseContext, DEFAULT_CASE_DEADLINE_MS, type CaseOptions } from '../harness/context.js';
import { CheckFailure, Unsupported, type Expectation, type Implementation, type Property, type ResultEntry, type Status } from '../model/types.js';

export interface RunConfig {
  implementations: Implementation[];
  properties: Property<any>[];
  /** Generated runs per property and pairing (a property's maxRuns caps it). */
  runs: number;
  seed: number;
  /** Keep only these server / client names (empty: all). */
  servers?: string[];
  clients?: string[];
  /** The peer that plays the absent side of single-role properties (default c-reference). */
  oracle?: Implementation;
  /** Keep only pairings with one of these implementations in them (--subjects-only). */
  onlyWith?: string[];
  /** Property ids or globs (`delivery.*`); empty: all. */
  propertyPatterns?: string[];
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
}

/** One property on one pairing. For client-scoped properties the server is absent, and vice versa. */
export interface Unit {
  property: Property<any>;
  server?: Implementation;
  client?: Implementation;
}

/** The name used for the absent side of a single-role property in results and matrices. */
export const NO_PEER = '-';

export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

export function selectProperties(properties: Property<any>[], patterns: string[] = []): Property<any>[] {
  if (patterns.length === 0) return properties;
  const res = patterns.map(globToRegExp);
  return properties.filter((p) => res.some((re) => re.test(p.id)));
}

/** Every (property, pairing) instance of the run, in a stable order. */
export function planUnits(config: RunConfig): Unit[] {
  const pick = (names: string[] | undefined, impl: Implementation): boolean => !names?.length || names.includes(impl.name);
  // A driver plays either role of the properties that run over drivers (fd passing); a command role
  // plays its own role in every property.
  const plays = (impl: Implementation, role: 'server' | 'client', property: Property<any>): boolean =>
    impl[role] !== undefined || (impl.driver !== undefined && (property.requires?.[role] ?? []).includes('fd-passing'));
  const units: Unit[] = [];
  for (const property of selectProperties(config.properties, config.propertyPatterns)) {
    const servers = config.implementations.filter((i) => plays(i, 'server', property) && pick(config.servers, i));
    const clients = config.implementations.filter((i) => plays(i, 'client', property) && pick(config.clients, i));
    if (property.scope === 'client') for (const client of clients) units.push({ property, client });
    else if (property.scope === 'server') for (const server of servers) units.push({ property, server });
    else for (const server of servers) for (const client of clients) units.push({ property, server, client });
  }
  if (config.onlyWith?.length) {
    const only = new Set(config.onlyWith);
    return units.filter((u) => (u.server && only.has(u.server.name)) || (u.client && only.has(u.client.name)));
  }
  return units;
}

/** A stable 31-bit seed for one unit, so that any unit can be replayed on its own. */
export function unitSeed(runSeed: number, unit: Unit): number {
  let h = 0x811c9dc5 ^ runSeed;
  for (const ch of `${unit.property.id}\0${unit.server?.name ?? NO_PEER}\0${unit.client?.name ?? NO_PEER}`) {
    h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  }
  return (h >>> 1) & 0x7fffffff;
}

/** The known failure that excuses this unit, if either side declares one for the role it plays. */
export function expectationFor(unit: Unit): Expectation | undefined {
  const id = unit.property.id;
  const s = unit.server?.expectations[id];
  if (s && (s.role === undefined || s.role === 'server')) return s;
  const c = unit.client?.expectations[id];
  if (c && (c.role === undefined || c.role === 'client')) return c;
  return undefined;
}

function missingFeatures(unit: Unit): string | undefined {
  const req = unit.property.requires;
  const missing: string[] = [];
  for (const f of req?.server ?? []) if (unit.server && !unit.server.features.includes(f)) missing.push(`server ${unit.server.name} lacks ${f}`);
  for (const f of req?.client ?? []) if (unit.client && !unit.client.features.includes(f)) missing.push(`client ${unit.client.name} lacks ${f}`);
  return missing.length ? missing.join('; ') : undefined;
}

export function replayLine(unit: Unit, seed: number, path: string, extra: string[] = []): string {
  const q = (s: string): string => (/^[\w./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const words = ['npx', 'uds-conformance', 'replay', '--property', unit.property.id];
  if (unit.server) words.push('--server', unit.server.name);
  if (unit.client) words.push('--client', unit.client.name);
  words.push('--seed', String(seed), '--path', path, ...extra);
  return words.map(q).join(' ');
}

function describeInput(property: Property<any>, input: unknown): unknown {
  if (property.describe) return property.describe(input);
  return input;
}

export async function runUnit(unit: Unit, config: RunConfig): Promise<ResultEntry> {
  const started = performance.now();
  const base = {
    server: unit.server?.name ?? NO_PEER,
    client: unit.client?.name ?? NO_PEER,
    property: unit.property.id,
  };
  const expectation = expectationFor(unit);
  const unsupported = missingFeatures(unit);
  if (unsupported) {
    return { ...base, status: 'unsupported', runs: 0, durationMs: 0, reason: unsupported, message: `not applicable: ${unsupported}` };
  }
  // A replay gives the unit's own seed (as reported); a run derives each unit's seed from the run seed.
  const seed = config.replayPath !== undefined ? config.seed : unitSeed(config.seed, unit);
  const pairing = { server: unit.server, client: unit.client, oracle: config.oracle ?? cReference };
  const deadline = config.caseDeadlineMs ?? DEFAULT_CASE_DEADLINE_MS;
  let runs = 0;
  let observed: Record<string, unknown> | undefined;
  let unsupportedCase: Unsupported | undefined;
  const predicate = fc.asyncProperty(unit.property.arbitrary, async (input: unknown) => {
    // Once a case is declared unsupported the unit is: fail the remaining (shrinking) runs at once.
    if (unsupportedCase) throw unsupportedCase;
    runs++;
    try {
      observed = (await CaseContext.with(pairing, deadline, (ctx) => unit.property.check(input, ctx), config.caseOptions)) ?? observed;
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
export async function runUnits(units: Unit[], config: RunConfig): Promise<ResultEntry[]> {
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
