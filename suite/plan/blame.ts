/**
 * Blame and expectations for subjects. A failing cell that involves a subject is re-run, with the same
 * seed and counterexample path, with the oracle peer (c-reference) in each role in turn: which of the
 * two still fails says whether the subject's server, its client, or only this pairing is at fault.
 */
import { runUnit, type RunnerOptions, type Unit } from './runner.js';
import type { Expectation, Implementation, ResultEntry, Role } from '../model/types.js';
const FAILING = new Set(['fail', 'expected-fail']);

export interface BlameOptions {
  config: RunnerOptions;
  /** The oracle peer. */
  reference: Implementation;
  /** Names of the subjects: only cells involving one are blamed. */
  subjects: Set<string>;
}

async function stillFails(unit: Unit, seed: number, path: string, config: RunnerOptions): Promise<boolean> {
  const r = await runUnit(unit, { ...config, seed, replayPath: path, onResult: undefined });
  return FAILING.has(r.status);
}

/** Adds `blame` to every failing result of a pairing with a subject in it. */
export async function assignBlame(results: ResultEntry[], units: Unit[], options: BlameOptions): Promise<void> {
  const { config, reference, subjects } = options;
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!;
    const unit = units[i]!;
    if (!FAILING.has(r.status) || !r.counterexample || !(subjects.has(r.server) || subjects.has(r.client))) continue;
    if (unit.property.scope !== 'pairing') {
      r.blame = unit.property.scope;
      continue;
    }
    const { seed, path } = r.counterexample;
    // The same input with the oracle in one role: does the other side still fail it?
    const serverAlone = unit.server!.name === reference.name ? true : await stillFails({ ...unit, client: reference }, seed, path, config);
    const clientAlone = unit.client!.name === reference.name ? true : await stillFails({ ...unit, server: reference }, seed, path, config);
    const serverAtFault = unit.server!.name !== reference.name && serverAlone;
    const clientAtFault = unit.client!.name !== reference.name && clientAlone;
    r.blame = serverAtFault && !clientAtFault ? 'server' : clientAtFault && !serverAtFault ? 'client' : !serverAtFault && !clientAtFault ? 'pairing' : 'unknown';
  }
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
 * does not point at the other side), keeping the reasons already given.
 */
export function updatedExpectations(subject: Implementation, results: ResultEntry[], today: string): Record<string, Expectation> {
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
    const e: Expectation = old ? { ...old } : { status: 'fail', reason: `found by uds-conformance on ${today}: ${message ?? 'fails'}` };
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
    if (mine.length === 0) continue;
    if (!mine.some((r) => r.status === 'expected-fail')) stale.push({ implementation: subject.name, property, reason: e.reason });
  }
  return stale;
}
