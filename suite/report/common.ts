/**
 * What the reporters (JUnit, Markdown, HTML, the terminal) share: status severity, case labels, the
 * socket type × address kind groups, the server × client axes of the matrix, per-implementation scorecards, and the blame of a result where one
 * is recorded.
 */
import { ADDRESS_KINDS, SOCKET_TYPES } from '../driver/protocol.js';
import { NO_PEER, type Blame, type Level, type ResultEntry, type Status } from '../model/types.js';
import type { RunReport } from './results.js';
import { isUnexpected } from '../model/format.js';

/** Worst first: a cell is coloured by the first of these among its results. */
export const SEVERITY: readonly Status[] = ['fail', 'error', 'unexpected-pass', 'expected-fail', 'pass', 'unsupported'];

export const STATUS_LABEL: Record<Status, string> = {
  pass: 'pass',
  fail: 'FAIL',
  'expected-fail': 'xfail',
  'unexpected-pass': 'XPASS',
  unsupported: 'n/a',
  error: 'ERROR',
};

export const STATUS_ICON: Record<Status, string> = {
  pass: '✅',
  fail: '❌',
  'expected-fail': '⚠️',
  'unexpected-pass': '❗',
  unsupported: '➖',
  error: '💥',
};

export const LEVELS: readonly Level[] = ['MUST', 'SHOULD', 'MAY'];

export function worstStatus(statuses: Iterable<Status>): Status | undefined {
  let worst: number | undefined;
  for (const s of statuses) {
    const i = SEVERITY.indexOf(s);
    if (worst === undefined || i < worst) worst = i;
  }
  return worst === undefined ? undefined : SEVERITY[worst];
}

/** Whether the requirement held in this case (a stale expectation still means it held). */
export function held(status: Status): boolean {
  return status === 'pass' || status === 'unexpected-pass';
}

/** Who a result blames, when the result says. */
export function blameOf(r: ResultEntry): Blame | undefined {
  const b = (r as ResultEntry & { blame?: unknown }).blame;
  return b === 'server' || b === 'client' || b === 'pairing' || b === 'unknown' ? b : undefined;
}

/** What names one case of a pairing: a property on one socket type and address kind. */
export type CaseOf = Pick<ResultEntry, 'property' | 'socketType' | 'address'>;

/**
 * The one name of a case in every report (JUnit testcase, summary.md items, HTML details, terminal
 * columns): the property id for a stream socket at a pathname, else the id with what differs, e.g.
 * `fd.identity [seqpacket]`, `connect.enoent [abstract]`, `fd.identity [seqpacket, abstract]`.
 * Reporters key their rows, columns and testcases by it; they group and filter by `byVariant` and
 * `variantName`, and never test for a particular socket type or address kind.
 */
export function caseLabel(r: CaseOf): string {
  const variant = [r.socketType !== 'stream' ? r.socketType : undefined, r.address !== 'pathname' ? r.address : undefined].filter((x) => x !== undefined);
  return variant.length ? `${r.property} [${variant.join(', ')}]` : r.property;
}

/** The socket type and address kind a result ran on. */
export type VariantOf = Pick<ResultEntry, 'socketType' | 'address'>;

/**
 * How every report names a result's socket type and address kind, including the default ones:
 * "stream · pathname", "seqpacket · abstract".
 */
export function variantName(r: VariantOf): string {
  return `${r.socketType} · ${r.address}`;
}

export interface VariantGroup {
  socketType: ResultEntry['socketType'];
  address: ResultEntry['address'];
  /** variantName of the group. */
  name: string;
  /** The group's results, in the report's order. */
  results: ResultEntry[];
}

/**
 * The results grouped by socket type × address kind, only the groups that have results, in the
 * protocol's order (SOCKET_TYPES × ADDRESS_KINDS: stream · pathname first); a value outside those lists
 * (a foreign file) makes a group after them.
 */
export function byVariant(report: Pick<RunReport, 'results'>): VariantGroup[] {
  const groups = new Map<string, VariantGroup>();
  for (const r of report.results) {
    const name = variantName(r);
    if (!groups.has(name)) groups.set(name, { socketType: r.socketType, address: r.address, name, results: [] });
    groups.get(name)!.results.push(r);
  }
  const rank = (g: VariantGroup): number => {
    const t = SOCKET_TYPES.indexOf(g.socketType);
    const a = ADDRESS_KINDS.indexOf(g.address);
    return (t < 0 ? SOCKET_TYPES.length : t) * (ADDRESS_KINDS.length + 1) + (a < 0 ? ADDRESS_KINDS.length : a);
  };
  return [...groups.values()].sort((x, y) => rank(x) - rank(y) || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

/**
 * Orders cases as a run does: by property (the report's order), then socket type and address kind
 * (the property's own order, as the plan instantiates them).
 */
export function caseComparator(report: Pick<RunReport, 'properties'>): (a: CaseOf, b: CaseOf) => number {
  const props = new Map(report.properties.map((p, i) => [p.id, { i, types: p.socketTypes ?? SOCKET_TYPES, addresses: p.addresses ?? ADDRESS_KINDS }]));
  // A value the property does not list (a foreign file) goes after those it lists, in the global order.
  const rank = <T>(list: readonly T[], v: T, all: readonly T[]): number => {
    const i = list.indexOf(v);
    return i >= 0 ? i : list.length + all.indexOf(v);
  };
  return (a, b) => {
    const pa = props.get(a.property);
    const pb = props.get(b.property);
    if (!pa || !pb || a.property !== b.property) return (pa?.i ?? 1e9) - (pb?.i ?? 1e9);
    return rank(pa.types, a.socketType, SOCKET_TYPES) - rank(pa.types, b.socketType, SOCKET_TYPES) || rank(pa.addresses, a.address, ADDRESS_KINDS) - rank(pa.addresses, b.address, ADDRESS_KINDS);
  };
}

/** The cases of a report that have results, in run order, each with its label and property. */
export function reportCases(report: RunReport): Array<{ label: string; property: string; level: Level }> {
  const level = new Map(report.properties.map((p) => [p.id, p.level]));
  const first = new Map<string, ResultEntry>();
  for (const r of report.results) {
    const label = caseLabel(r);
    if (!first.has(label)) first.set(label, r);
  }
  return [...first.values()]
    .sort(caseComparator(report))
    .map((r) => ({ label: caseLabel(r), property: r.property, level: level.get(r.property) ?? 'MUST' }));
}

export function pairingName(r: { server: string; client: string }): string {
  return `${r.server} × ${r.client}`;
}

export interface Axes {
  /** Row names: servers in implementation order, then "-" when client-only properties ran. */
  servers: string[];
  /** Column names: clients in implementation order, then "-" when server-only properties ran. */
  clients: string[];
}

export function matrixAxes(report: RunReport): Axes {
  const order = report.implementations.map((i) => i.name);
  const axis = (names: Set<string>): string[] => {
    const known = order.filter((n) => names.has(n));
    const others = [...names].filter((n) => n !== NO_PEER && !order.includes(n)).sort();
    return [...known, ...others, ...(names.has(NO_PEER) ? [NO_PEER] : [])];
  };
  return {
    servers: axis(new Set(report.results.map((r) => r.server))),
    clients: axis(new Set(report.results.map((r) => r.client))),
  };
}

/** Results grouped by pairing, in row-major matrix order; each group in case order. */
export function byPairing(report: RunReport): Array<{ server: string; client: string; results: ResultEntry[] }> {
  const { servers, clients } = matrixAxes(report);
  const order = caseComparator(report);
  const groups: Array<{ server: string; client: string; results: ResultEntry[] }> = [];
  for (const server of servers) {
    for (const client of clients) {
      const results = report.results.filter((r) => r.server === server && r.client === client).sort(order);
      if (results.length) groups.push({ server, client, results });
    }
  }
  return groups;
}

export interface LevelScore {
  held: number;
  total: number;
  /** Properties not held, for a tooltip. */
  missed: string[];
}
export interface Scorecard {
  name: string;
  levels: Record<Level, LevelScore>;
}

/**
 * Who a failing pairing case points at. The result's own blame where it has one; otherwise inferred from
 * the same property's other cases: a side that fails it in the same role with another peer as well is a
 * suspect, and if exactly one side is, it is blamed. Otherwise undefined (both sides count).
 */
export function effectiveBlame(r: ResultEntry, all: readonly ResultEntry[]): Blame | undefined {
  const own = blameOf(r);
  if (own || held(r.status) || r.server === NO_PEER || r.client === NO_PEER) return own ?? (r.client === NO_PEER ? 'server' : r.server === NO_PEER ? 'client' : undefined);
  const label = caseLabel(r);
  const failsElsewhere = (role: 'server' | 'client'): boolean => {
    const other = role === 'server' ? 'client' : 'server';
    return all.some((q) => q !== r && caseLabel(q) === label && q[role] === r[role] && q[other] !== r[other] && q.status !== 'unsupported' && !held(q.status));
  };
  const s = failsElsewhere('server');
  const c = failsElsewhere('client');
  return s && !c ? 'server' : c && !s ? 'client' : undefined;
}

/**
 * One scorecard per implementation: per level, the properties it holds out of those that applied to it.
 * A property is held when every applicable case the implementation took part in held (on every socket
 * type and address kind it ran on). A case whose
 * failure is blamed on the other side (by the result, or inferred by effectiveBlame) says nothing about
 * this one and is left out; otherwise a failing pairing counts against both sides.
 */
export function scorecards(report: RunReport): Scorecard[] {
  const level = new Map<string, Level>(report.properties.map((p) => [p.id, p.level]));
  const cards: Scorecard[] = [];
  for (const impl of report.implementations) {
    const card: Scorecard = {
      name: impl.name,
      levels: { MUST: { held: 0, total: 0, missed: [] }, SHOULD: { held: 0, total: 0, missed: [] }, MAY: { held: 0, total: 0, missed: [] } },
    };
    for (const p of report.properties) {
      const cases = report.results.filter((r) => {
        if (r.property !== p.id || r.status === 'unsupported') return false;
        const side = r.server === impl.name ? 'server' : r.client === impl.name ? 'client' : undefined;
        if (!side) return false;
        const blame = effectiveBlame(r, report.results);
        // Only the other side is blamed: this case says nothing about this implementation.
        if (!held(r.status) && (blame === 'server' || blame === 'client') && blame !== side && !(r.server === r.client)) return false;
        return true;
      });
      if (cases.length === 0) continue;
      const score = card.levels[level.get(p.id) ?? 'MUST'];
      score.total++;
      if (cases.every((r) => held(r.status))) score.held++;
      else score.missed.push(p.id);
    }
    if (LEVELS.some((l) => card.levels[l].total > 0)) cards.push(card);
  }
  return cards;
}

export function formatScore(card: Scorecard): string {
  return LEVELS.filter((l) => card.levels[l].total > 0)
    .map((l) => `${l} ${card.levels[l].held}/${card.levels[l].total}`)
    .join(', ');
}

/** Statuses that make a run exit 1 (a SHOULD or MAY `fail` only with --strict: see `gradesExit`). */
export { isUnexpected };

/** The level of a result: its own (written since results carry it), else its property's, else MUST. */
export function levelOf(r: Pick<ResultEntry, 'property' | 'level'>, properties: ReadonlyArray<{ id: string; level: Level }>): Level {
  return r.level ?? properties.find((p) => p.id === r.property)?.level ?? 'MUST';
}

/**
 * Whether an unexpected result fails the run (exit 1), as h2spec grades: a MUST failure always; a
 * SHOULD or MAY failure only under --strict (it is still reported, as a failure of its level). An
 * unexpected pass (a stale expectation) and a harness error fail the run whatever the level: neither
 * is the implementation falling short of a requirement.
 */
export function gradesExit(status: Status, level: Level, strict: boolean): boolean {
  if (!isUnexpected(status)) return false;
  return status !== 'fail' || level === 'MUST' || strict;
}

/** "failed 2 of 5 re-runs" */
export function rerunText(n: { failed: number; of: number }): string {
  return `failed ${n.failed} of ${n.of} re-run${n.of === 1 ? '' : 's'}`;
}

/**
 * What blame found, in one line: who is at fault, how often each role's re-runs with the oracle failed,
 * and whether the failure is intermittent, e.g. "server (server: 4/5) · flaky: failed 4 of 5 re-runs".
 * Undefined when the result has no blame.
 */
export function blameText(r: ResultEntry): string | undefined {
  const blame = blameOf(r);
  if (!blame) return undefined;
  const runs = r.blameRuns ?? {};
  const counts = (['server', 'client', 'pairing'] as const).filter((k) => runs[k]).map((k) => `${k}: ${runs[k]!.failed}/${runs[k]!.of}`);
  return `${blame}${counts.length ? ` (${counts.join(', ')})` : ''}${r.flaky ? ` · ${flakyText(r.flaky)}` : ''}`;
}

/** "flaky: failed 2 of 5 re-runs" */
export function flakyText(n: { failed: number; of: number }): string {
  return `flaky: ${rerunText(n)}`;
}

/** Seconds with millisecond precision, as JUnit wants them. */
export function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

/**
 * The first non-empty line of a process's stderr, escaped for one line of text (control characters
 * as JSON writes them), and how many lines follow it: what the terminal and summary.md show of each
 * side's stderr (results.json, JUnit and the page have all of it).
 */
export function stderrHead(p: { stderr: string } | undefined): { line: string; more: number } | undefined {
  const lines = (p?.stderr ?? '').split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return undefined;
  return { line: JSON.stringify(lines[0]!.trim()).slice(1, -1), more: lines.length - 1 };
}

/** "server stderr: <first line> (+3 more lines)" for each side with any, server first. */
export function stderrLines(r: ResultEntry): string[] {
  const out: string[] = [];
  for (const role of ['server', 'client'] as const) {
    const head = stderrHead(r.evidence?.[role]);
    if (head) out.push(`${role} stderr: ${head.line}${head.more ? ` (+${head.more} more line${head.more === 1 ? '' : 's'})` : ''}`);
  }
  return out;
}

/**
 * Who an unexpected result blames, in one line: blame's own finding (blameText) when it ran, else, for
 * a failing pairing of two real sides, the side inferred from the same case's other pairings
 * (effectiveBlame), said to be inferred. Undefined when neither says.
 */
export function blameLine(r: ResultEntry, all: readonly ResultEntry[]): string | undefined {
  const own = blameText(r);
  if (own) return own;
  if (held(r.status) || r.status === 'error' || r.server === NO_PEER || r.client === NO_PEER) return undefined;
  const side = effectiveBlame(r, all);
  if (side !== 'server' && side !== 'client') return undefined;
  const other = side === 'server' ? 'client' : 'server';
  return `${side} (inferred: ${side} ${r[side]} fails this case with another ${other} too)`;
}

/**
 * A duration for people, one format wherever the terminal shows one (the progress bar, its plain
 * lines): "45 s", "3 min 05 s", "1 h 02 min". (JUnit's machine format is `seconds`.)
 */
export function durationText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/**
 * How many runs the units got, as a report's header says it: `--runs`, or for a budgeted run the
 * budget and that the counts depended on time (plan/budget.ts).
 */
export function runsText(report: Pick<RunReport, 'runs' | 'budget'>): string {
  const b = report.budget;
  if (!b) return `${report.runs} runs`;
  const seconds = b.budgetMs % 1000 === 0 ? `${b.budgetMs / 1000} s` : `${(b.budgetMs / 1000).toFixed(1)} s`;
  return `budget ${seconds}: ${b.minimumRuns} to ${b.maxRuns} runs per unit, counts depended on time`;
}
