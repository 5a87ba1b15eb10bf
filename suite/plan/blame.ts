/**
 * Blame and expectations for subjects. A failing cell that involves a subject is re-run, with the same
 * seed and counterexample path, DEFAULTS.blameReruns times with the oracle peer (c-reference) in each
 * role in turn: how often each still fails ("server: 4/5") says whether the subject's server, its
 * client, or only this pairing is at fault, and whether the failure is intermittent (`flaky`).
 *
 * The oracle is taken to be right. When it is the other side of the pairing, the subject is at fault
 * whatever the re-runs say: a failure that the re-runs do not always repeat is a flaky failure of the
 * subject, never "pairing".
 */
import os from 'node:os';
import { DEFAULTS } from '../defaults.js';
import { CASE_DIR_PREFIX } from '../harness/casedir.js';
import type { Blame, Expectation, Implementation, RerunCount, ResultEntry, Role } from '../model/types.js';
import { unitKey } from './plan.js';
import { runUnit, type RunnerOptions, type Unit } from './runner.js';

const FAILING = new Set(['fail', 'expected-fail']);

/** The counterexample a re-run replays. */
export interface Replayed {
  seed: number;
  path: string;
}

/** Runs `unit` once on the counterexample; resolves true when it fails. */
export type Rerun = (unit: Unit, counterexample: Replayed) => Promise<boolean>;

export interface BlameOptions {
  config: RunnerOptions;
  /** The oracle peer. */
  reference: Implementation;
  /** Names of the subjects: only cells involving one are blamed. */
  subjects: Set<string>;
  /** Re-runs per role (default DEFAULTS.blameReruns). */
  reruns?: number;
  /** One re-run (default: the runner, on exactly the counterexample); tests give their own. */
  rerun?: Rerun;
}

/**
 * Runs the unit on exactly the counterexample, once. With a path, fast-check replays the value at it and
 * then goes on with that value's later siblings until numRuns, which the runner never sets below the
 * corpus examples: only the first case is run for real, the rest pass without starting anything.
 * No shrinking: a re-run asks whether this input still fails, not for a smaller one.
 */
export function rerunWith(config: RunnerOptions): Rerun {
  return async (unit, { seed, path }) => {
    let ran = false;
    const property = {
      ...unit.property,
      check: async (input: unknown, ctx: Parameters<Unit['property']['check']>[1]) => {
        if (ran) return undefined;
        ran = true;
        return unit.property.check(input, ctx);
      },
    };
    const r = await runUnit({ ...unit, property }, { ...config, runs: 1, seed, replayPath: path, shrink: false, onResult: undefined });
    return FAILING.has(r.status);
  };
}

/** The unit with `impl` in `role`, its driver's transport chosen as the plan would choose it. */
function withPeer(unit: Unit, role: Role, impl: Implementation): Unit {
  if (unit[role]?.name === impl.name) return unit;
  const next: Unit = { ...unit, [role]: impl };
  if (unit.transport) {
    const inProcess = impl.driver?.inProcess !== undefined && unit.property.isolation !== 'process';
    next.transport = { ...unit.transport, [role]: inProcess ? 'in-process' : 'process' };
  }
  return next;
}

/** At most `limit` tasks at a time. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    while (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** The count when it is intermittent: some re-runs failed and some did not (or none did, after a failure). */
function intermittent(n: RerunCount | undefined): RerunCount | undefined {
  return n && n.failed < n.of ? { ...n } : undefined;
}

/** Adds `blame`, `blameRuns` and (for an intermittent failure) `flaky` to every failing result with a subject in it. */
export async function assignBlame(results: ResultEntry[], units: Unit[], options: BlameOptions): Promise<void> {
  const { config, reference, subjects } = options;
  const reruns = Math.max(1, options.reruns ?? DEFAULTS.blameReruns);
  const rerun = options.rerun ?? rerunWith(config);
  const slot = limiter(Math.max(1, config.concurrency ?? os.availableParallelism()));
  // The same input with the same peers is the same experiment: cells of one subject that shrank to the
  // same counterexample (with different clients, say) share the oracle re-runs instead of repeating them.
  const experiments = new Map<string, Promise<RerunCount>>();
  const count = (unit: Unit, r: ResultEntry): Promise<RerunCount> => {
    const ce = r.counterexample!;
    const key = `${unitKey(unit)}\0${JSON.stringify(ce.input) ?? ''}`;
    let known = experiments.get(key);
    if (!known) {
      known = Promise.all(Array.from({ length: reruns }, () => slot(() => rerun(unit, { seed: ce.seed, path: ce.path })))).then((failed) => ({
        failed: failed.filter(Boolean).length,
        of: reruns,
      }));
      experiments.set(key, known);
    }
    return known;
  };

  const judge = async (r: ResultEntry, unit: Unit): Promise<void> => {
    const scope = unit.property.scope;
    if (scope !== 'pairing') {
      // A single-role property already runs against the oracle: re-run the unit as it is.
      const n = await count(unit, r);
      setBlame(r, scope, { [scope]: n }, intermittent(n));
      return;
    }
    const server = unit.server!;
    const client = unit.client!;
    // The same input with the oracle in the other role: does this side still fail it?
    const [s, c] = await Promise.all([
      server.name === reference.name ? undefined : count(withPeer(unit, 'client', reference), r),
      client.name === reference.name ? undefined : count(withPeer(unit, 'server', reference), r),
    ]);
    const runs = { ...(s ? { server: s } : {}), ...(c ? { client: c } : {}) };
    if (!s || !c) {
      // One side is the oracle: the other is at fault, however often the re-runs repeat the failure.
      const role: Role = s ? 'server' : 'client';
      setBlame(r, role, runs, intermittent(s ?? c));
      return;
    }
    const serverFails = s.failed > 0;
    const clientFails = c.failed > 0;
    if (serverFails && !clientFails) setBlame(r, 'server', runs, intermittent(s));
    else if (clientFails && !serverFails) setBlame(r, 'client', runs, intermittent(c));
    else if (serverFails && clientFails) {
      // Both fail it with the oracle: both are at fault, which one caused this failure is not known.
      const both = { failed: s.failed + c.failed, of: s.of + c.of };
      setBlame(r, 'unknown', runs, s.failed < s.of && c.failed < c.of ? both : undefined);
    } else {
      // Each side holds with the oracle: re-run the pairing itself, to tell a real mismatch from chance.
      const p = await count(unit, r);
      setBlame(r, 'pairing', { ...runs, pairing: p }, intermittent(p));
    }
  };

  const blamed: Array<Promise<void>> = [];
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!;
    const unit = units[i]!;
    if (!FAILING.has(r.status) || !r.counterexample || !(subjects.has(r.server) || subjects.has(r.client))) continue;
    blamed.push(judge(r, unit));
  }
  await Promise.all(blamed);
}

function setBlame(r: ResultEntry, blame: Blame, runs: NonNullable<ResultEntry['blameRuns']>, flaky: RerunCount | undefined): void {
  r.blame = blame;
  r.blameRuns = runs;
  if (flaky) r.flaky = flaky;
  else delete r.flaky;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** What names a case's own files, for `stableMessage`: the harness process (its pid) that made them. */
export interface MessageOrigin {
  pid: number;
}

/** The longest reason written for a new expectation (the expectations schema allows 2000 characters). */
const MAX_REASON = 1000;

/**
 * A failure message with everything that differs from one run to the next taken out, for a reason that
 * is committed (--update-expectations):
 *
 * - a case dir (`/tmp/udsc-<pid>-XXXXXX`, harness/casedir.ts, or the launcher's) becomes `{dir}`;
 * - a payload file (`{dir}-p/payload-N.bin`) becomes `{payload}`;
 * - a generated socket name (`s<pid in base 36><counter>`, CaseContext.socketName) becomes `{path}`,
 *   and `{dir}/{path}` is `{path}` too;
 * - socket inodes and pids become `{inode}` and `{pid}`;
 * - the runner's notes on how shrinking went (the time budget, a shortened deadline) are dropped: they
 *   describe the run, not the failure.
 *
 * Byte counts, exits and the input itself stay: with the same seed they are the same on every run.
 */
export function stableMessage(message: string, origin: MessageOrigin = { pid: process.pid }): string {
  const caseDir = `(?:/[^\\s"'/]+)*/${CASE_DIR_PREFIX}-\\d+-(?:launcher-)?[A-Za-z0-9]{6}`;
  // The socket name's pid part is the last four base-36 digits of the harness's pid; its counter is up
  // to four more. Whole names only, so no word of the message is taken for one.
  const socketName = `(?<![\\w.-])s${escapeRegExp(origin.pid.toString(36).slice(-4))}[0-9a-z]{1,4}(?![\\w.-])`;
  return message
    .replace(/ \(shrinking stopped at the time budget \(\d+ ms\) after \d+ shrinks: [^()]*\)/g, '')
    .replace(/ \(it failed under the shortened shrink deadline of \d+ ms \(a replay runs it with the full \d+ ms\)\)/g, '')
    .replace(new RegExp(`${caseDir}-p/payload-\\d+\\.bin`, 'g'), '{payload}')
    .replace(new RegExp(caseDir, 'g'), '{dir}')
    .replace(new RegExp(socketName, 'g'), '{path}')
    .replace(/\{dir\}\/\{path\}/g, '{path}')
    .replace(/\binode \d+/g, 'inode {inode}')
    .replace(/\bpid \d+/g, 'pid {pid}');
}

/** The role a subject plays in a result, and the role the blame points at. */
function faultRole(r: ResultEntry, name: string): Role | undefined {
  const plays: Role[] = [];
  if (r.server === name) plays.push('server');
  if (r.client === name) plays.push('client');
  if (r.blame === 'server' || r.blame === 'client') return plays.includes(r.blame) ? r.blame : undefined;
  return plays.length === 1 ? plays[0] : undefined;
}

/**
 * The expectations a subject should carry after this run: one per property it fails (where the blame
 * does not point at the other side), keeping the reasons already given. A new reason is the failure
 * message made stable (`stableMessage`), so that updating twice leaves the file as it is.
 */
export function updatedExpectations(subject: Implementation, results: ResultEntry[], today: string, origin?: MessageOrigin): Record<string, Expectation> {
  const failing = new Map<string, { roles: Set<Role | undefined>; message?: string }>();
  for (const r of results) {
    if (!FAILING.has(r.status) || (r.server !== subject.name && r.client !== subject.name)) continue;
    const role = faultRole(r, subject.name);
    if ((r.blame === 'server' || r.blame === 'client') && role === undefined) continue;
    const entry = failing.get(r.property) ?? { roles: new Set<Role | undefined>(), message: r.message };
    entry.roles.add(role);
    failing.set(r.property, entry);
  }
  const next: Record<string, Expectation> = {};
  for (const [property, { roles, message }] of failing) {
    const old = subject.expectations[property];
    const found = message === undefined ? 'fails' : stableMessage(message, origin);
    const reason = `found by uds-conformance on ${today}: ${found.length > MAX_REASON ? `${found.slice(0, MAX_REASON - 1)}…` : found}`;
    const e: Expectation = old ? { ...old } : { status: 'fail', reason };
    // One role when only that role fails it; both roles (or an unknown one) leave it unscoped.
    const only = roles.size === 1 ? [...roles][0] : undefined;
    if (only) e.role = only;
    else delete e.role;
    next[property] = e;
  }
  return next;
}

/** Expectations that no longer match anything: an unexpected pass, or a property that never failed. */
export function staleExpectations(subject: Implementation, results: ResultEntry[]): Array<{ implementation: string; property: string; reason: string }> {
  const stale: Array<{ implementation: string; property: string; reason: string }> = [];
  for (const [property, e] of Object.entries(subject.expectations)) {
    const mine = results.filter((r) => r.property === property && (r.server === subject.name || r.client === subject.name));
    if (mine.length === 0 || e.intermittent) continue;
    if (!mine.some((r) => r.status === 'expected-fail')) stale.push({ implementation: subject.name, property, reason: e.reason });
  }
  return stale;
}
