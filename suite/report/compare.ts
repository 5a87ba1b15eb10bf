/**
 * `compare BASE.json HEAD.json`: what changed between two results.json (a baseline from the main branch
 * and a pull request's run, say), per cell and per property, in the manner of WebKit's test262 runner
 * ("NEW FAIL") and wpt.fyi's run-over-run diffs.
 *
 * A cell is one case of one pairing: property × server × client × socket type × address kind (merge.ts
 * caseKey). Each cell in either file is one of:
 *   newly-failing   in both; unexpected in HEAD (fail, error, unexpected-pass), not in BASE: a regression
 *   newly-passing   in both; a pass in HEAD, a fail, error or expected-fail in BASE
 *   changed         in both, any other change of status (fail → error, pass → n/a, n/a → pass, ...)
 *   added           only in HEAD: a regression when its status is unexpected
 *   removed         only in BASE
 *   unchanged       the same status in both (only counted)
 * A regression is a cell that HEAD made unexpected, whatever its level: compare judges the change, and
 * a new SHOULD failure is news to a pull request too (a run's own exit still grades by level).
 * Both files are checked against docs/results.schema.json (merge.ts loadReport: exit 2 naming the file
 * and the field). compare.json has its own schema, docs/compare.schema.json.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isUnexpected } from '../model/format.js';
import { STATUSES, type Level, type ResultEntry, type Status } from '../model/types.js';
import { commitStaged, lockOutDir, stagingDir } from './atomic.js';
import { blameText, caseComparator, caseLabel, levelOf, pairingName, STATUS_ICON, STATUS_LABEL } from './common.js';
import { mdCode, mdText } from './markdown.js';
import { caseKey, loadReport } from './merge.js';
import { readToolVersion, type RunReport } from './results.js';

export const COMPARE_SCHEMA_VERSION = 1;

export const CHANGES = ['newly-failing', 'newly-passing', 'changed', 'added', 'removed'] as const;
export type Change = (typeof CHANGES)[number];

/** One side of a changed cell: what that run said of it. */
export interface CellSide {
  status: Status;
  message?: string;
  reason?: string;
  replay?: string;
  blame?: string;
  flaky?: { failed: number; of: number };
  expected?: string;
  actual?: string;
  /** The first non-empty line of each side's stderr, when the evidence has one. */
  serverStderr?: string;
  clientStderr?: string;
  /** The command lines the evidence recorded, joined with spaces as the HTML shows them. */
  serverCommand?: string;
  clientCommand?: string;
}

export interface CellChange {
  change: Change;
  /** HEAD made this cell unexpected (newly-failing, or added with an unexpected status). */
  regression: boolean;
  property: string;
  /** The case label (common.ts caseLabel): the property id, with the variant when not stream · pathname. */
  case: string;
  server: string;
  client: string;
  socketType: ResultEntry['socketType'];
  address: ResultEntry['address'];
  level: Level;
  requirement?: string;
  base?: CellSide;
  head?: CellSide;
}

export interface PropertyChange {
  id: string;
  level: Level;
  requirement?: string;
  /** Where the property is: in both runs, or only in one of them. */
  in: 'both' | 'base' | 'head';
  counts: Record<Change, number>;
  regressions: number;
  /** Cells of the property in each run, by status. */
  base: Record<Status, number>;
  head: Record<Status, number>;
}

export interface RunSide {
  file: string;
  seed: number;
  runs: number;
  startedAt: string;
  toolVersion: string;
  results: number;
  summary: Record<Status, number>;
  partial?: true;
}

export interface Comparison {
  schemaVersion: typeof COMPARE_SCHEMA_VERSION;
  tool: { name: string; version: string };
  base: RunSide;
  head: RunSide;
  /** Any regression: compare exits 1. */
  regressed: boolean;
  counts: Record<Change | 'unchanged' | 'regressions', number>;
  /** Every cell that changed, regressions first, then by change, then in run order. */
  cells: CellChange[];
  /** Every property that has a changed cell or is in only one run, in HEAD's order then BASE's. */
  properties: PropertyChange[];
  /** Things a reader must know to trust the diff (a partial run, other --runs). */
  notes: string[];
}

const zeroStatuses = (): Record<Status, number> => Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>;
const zeroChanges = (): Record<Change, number> => Object.fromEntries(CHANGES.map((c) => [c, 0])) as Record<Change, number>;

function firstLine(text: string | undefined): string | undefined {
  const line = text?.split('\n').find((l) => l.trim() !== '');
  return line === undefined ? undefined : line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

function sideOf(r: ResultEntry): CellSide {
  const ev = r.evidence;
  const side: CellSide = { status: r.status };
  const set = <K extends keyof CellSide>(k: K, v: CellSide[K] | undefined): void => {
    if (v !== undefined && v !== '') side[k] = v;
  };
  set('message', r.message);
  set('reason', r.reason);
  set('replay', r.replay);
  set('blame', blameText(r));
  set('flaky', r.flaky);
  set('expected', ev?.expected);
  set('actual', ev?.actual);
  set('serverStderr', firstLine(ev?.server?.stderr));
  set('clientStderr', firstLine(ev?.client?.stderr));
  set('serverCommand', ev?.server?.command?.join(' '));
  set('clientCommand', ev?.client?.command?.join(' '));
  return side;
}

function classify(base: ResultEntry | undefined, head: ResultEntry | undefined): Change | undefined {
  if (!base) return 'added';
  if (!head) return 'removed';
  if (base.status === head.status) return undefined;
  if (isUnexpected(head.status) && !isUnexpected(base.status)) return 'newly-failing';
  // The requirement did not hold in BASE (a stale expectation, unexpected-pass, already held).
  if (head.status === 'pass' && (base.status === 'fail' || base.status === 'error' || base.status === 'expected-fail')) return 'newly-passing';
  return 'changed';
}

function runSide(file: string, report: RunReport): RunSide {
  return {
    file,
    seed: report.seed,
    runs: report.runs,
    startedAt: report.startedAt,
    toolVersion: report.tool.version,
    results: report.results.length,
    summary: report.summary,
    ...(report.partial ? { partial: true as const } : {}),
  };
}

/** Compares two reports already read and checked (merge.ts loadReport). */
export function compareReports(base: { file: string; report: RunReport }, head: { file: string; report: RunReport }, toolVersion: string): Comparison {
  const baseCells = new Map(base.report.results.map((r) => [caseKey(r), r]));
  const headCells = new Map(head.report.results.map((r) => [caseKey(r), r]));
  const propInfo = new Map([...base.report.properties, ...head.report.properties].map((p) => [p.id, p]));
  // HEAD's order first (the run a PR is about), then what only BASE has.
  const properties = [...head.report.properties, ...base.report.properties.filter((p) => !head.report.properties.some((q) => q.id === p.id))];
  const byCase = caseComparator({ properties });
  const implOrder = [...head.report.implementations, ...base.report.implementations].map((i) => i.name);
  const implIndex = (n: string): number => {
    const i = implOrder.indexOf(n);
    return i < 0 ? implOrder.length : i;
  };
  const counts: Comparison['counts'] = { ...zeroChanges(), unchanged: 0, regressions: 0 };
  const cells: CellChange[] = [];
  for (const key of new Set([...headCells.keys(), ...baseCells.keys()])) {
    const b = baseCells.get(key);
    const h = headCells.get(key);
    const change = classify(b, h);
    if (!change) {
      counts.unchanged++;
      continue;
    }
    const r = (h ?? b)!;
    const p = propInfo.get(r.property);
    const regression = h !== undefined && isUnexpected(h.status) && (b === undefined || !isUnexpected(b.status));
    counts[change]++;
    if (regression) counts.regressions++;
    cells.push({
      change,
      regression,
      property: r.property,
      case: caseLabel(r),
      server: r.server,
      client: r.client,
      socketType: r.socketType,
      address: r.address,
      level: levelOf(r, properties),
      ...(p ? { requirement: p.requirement } : {}),
      ...(b ? { base: sideOf(b) } : {}),
      ...(h ? { head: sideOf(h) } : {}),
    });
  }
  cells.sort(
    (x, y) =>
      Number(y.regression) - Number(x.regression) ||
      CHANGES.indexOf(x.change) - CHANGES.indexOf(y.change) ||
      byCase(x, y) ||
      implIndex(x.server) - implIndex(y.server) ||
      implIndex(x.client) - implIndex(y.client),
  );
  const byProperty: PropertyChange[] = [];
  for (const p of properties) {
    const inBase = base.report.properties.some((q) => q.id === p.id);
    const inHead = head.report.properties.some((q) => q.id === p.id);
    const own = cells.filter((c) => c.property === p.id);
    if (own.length === 0 && inBase && inHead) continue;
    const tally = (rs: ResultEntry[]): Record<Status, number> => {
      const t = zeroStatuses();
      for (const r of rs) if (r.property === p.id) t[r.status]++;
      return t;
    };
    const changeCounts = zeroChanges();
    for (const c of own) changeCounts[c.change]++;
    byProperty.push({
      id: p.id,
      level: p.level,
      requirement: p.requirement,
      in: inBase && inHead ? 'both' : inBase ? 'base' : 'head',
      counts: changeCounts,
      regressions: own.filter((c) => c.regression).length,
      base: tally(base.report.results),
      head: tally(head.report.results),
    });
  }
  const notes: string[] = [];
  for (const [name, side] of [['BASE', base], ['HEAD', head]] as const) {
    if (side.report.partial) notes.push(`${name} (${side.file}) is a partial run: ${side.report.notRun ?? 0} of its cases did not run, so cells missing from it may only not have run`);
  }
  if (base.report.runs !== head.report.runs) notes.push(`the runs differ in --runs (BASE ${base.report.runs}, HEAD ${head.report.runs}): a change may come from the number of generated cases`);
  return {
    schemaVersion: COMPARE_SCHEMA_VERSION,
    tool: { name: 'uds-conformance', version: toolVersion },
    base: runSide(base.file, base.report),
    head: runSide(head.file, head.report),
    regressed: counts.regressions > 0,
    counts,
    cells,
    properties: byProperty,
    notes,
  };
}

const CHANGE_TITLE: Record<Change, string> = {
  'newly-failing': 'Newly failing',
  'newly-passing': 'Newly passing',
  changed: 'Other status changes',
  added: 'Cells added',
  removed: 'Cells removed',
};

/** "pass → FAIL", "(none) → xfail" */
function transition(c: CellChange): string {
  const s = (side: CellSide | undefined): string => (side ? STATUS_LABEL[side.status] : '(none)');
  return `${s(c.base)} → ${s(c.head)}`;
}

function countsLine(cmp: Comparison): string {
  const c = cmp.counts;
  const n = (k: number, one: string, many = `${one}s`): string => `${k} ${k === 1 ? one : many}`;
  return [
    n(c['newly-failing'], 'newly failing', 'newly failing'),
    n(c['newly-passing'], 'newly passing', 'newly passing'),
    n(c.changed, 'other status change'),
    n(c.added, 'cell added', 'cells added'),
    n(c.removed, 'cell removed', 'cells removed'),
    n(c.unchanged, 'unchanged', 'unchanged'),
  ].join(', ');
}

function runLine(name: string, s: RunSide): string {
  return `${name}: ${s.file} (seed ${s.seed}, ${s.runs} runs, ${s.results} results, ${s.startedAt}, uds-conformance ${s.toolVersion}${s.partial ? ', partial run' : ''})`;
}

/** compare.md: for a pull request comment. Regressions first, each with what is needed to act on it. */
export function renderCompareMarkdown(cmp: Comparison): string {
  const out: string[] = [];
  const c = cmp.counts;
  out.push(
    cmp.regressed
      ? `## uds-conformance compare: ❌ ${c.regressions} regression${c.regressions === 1 ? '' : 's'}`
      : `## uds-conformance compare: ✅ no regression`,
    '',
    mdText(countsLine(cmp), 1000),
    '',
    `- ${mdText(runLine('base', cmp.base), 600)}`,
    `- ${mdText(runLine('head', cmp.head), 600)}`,
    '',
  );
  for (const note of cmp.notes) out.push(`> **note:** ${mdText(note, 600)}`, '');
  const regressions = cmp.cells.filter((x) => x.regression);
  if (regressions.length) {
    out.push(`### Regressions (${regressions.length})`, '');
    for (const x of regressions) {
      const h = x.head!;
      out.push(`- ${STATUS_ICON[h.status]} **${transition(x)}** ${mdCode(x.case)} ${mdText(pairingName(x))} (${x.level}, ${mdText(`${x.socketType} · ${x.address}`)})${x.change === 'added' ? ' (new cell)' : ''}`);
      if (x.requirement) out.push(`  - requirement: ${mdText(x.requirement)}`);
      if (h.message) out.push(`  - ${mdText(h.message, 400)}`);
      if (h.expected !== undefined || h.actual !== undefined) out.push(`  - expected ${mdCode(h.expected ?? '')} · actual ${mdCode(h.actual ?? '')}`);
      if (h.blame) out.push(`  - blame: ${mdText(h.blame)}`);
      for (const side of ['server', 'client'] as const) {
        const line = h[`${side}Stderr`];
        if (line) out.push(`  - ${side} stderr: ${mdCode(line, 300)}`);
      }
      if (h.replay) out.push(`  - replay: ${mdCode(h.replay, 1000)}`);
    }
    out.push('');
  }
  for (const change of CHANGES) {
    const rest = cmp.cells.filter((x) => x.change === change && !x.regression);
    if (rest.length === 0) continue;
    const title = change === 'added' && regressions.some((x) => x.change === 'added') ? 'Other cells added' : CHANGE_TITLE[change];
    const open = change === 'newly-passing' || change === 'changed';
    out.push(`<details${open ? ' open' : ''}><summary>${title} (${rest.length})</summary>`, '');
    for (const x of rest) {
      const side = x.head ?? x.base!;
      const why = side.message ?? side.reason;
      out.push(`- **${transition(x)}** ${mdCode(x.case)} ${mdText(pairingName(x))} (${x.level})${why ? `: ${mdText(why, 200)}` : ''}`);
    }
    out.push('', '</details>', '');
  }
  if (cmp.properties.length) {
    out.push('### By property', '', '| property | level | regressions | newly failing | newly passing | other changes | added | removed |', '|---|---|---|---|---|---|---|---|');
    for (const p of cmp.properties) {
      const where = p.in === 'both' ? '' : p.in === 'base' ? ' (only in base)' : ' (only in head)';
      out.push(`| ${mdCode(p.id)}${where} | ${p.level} | ${p.regressions} | ${p.counts['newly-failing']} | ${p.counts['newly-passing']} | ${p.counts.changed} | ${p.counts.added} | ${p.counts.removed} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** The terminal summary: one line per changed cell (regressions first, marked NEW FAIL as WebKit does). */
export function renderCompareText(cmp: Comparison): string {
  const mark: Record<Change, string> = { 'newly-failing': 'NEW FAIL', 'newly-passing': 'NEW PASS', changed: 'changed', added: 'added', removed: 'removed' };
  const lines = [runLine('base', cmp.base), runLine('head', cmp.head), ...cmp.notes.map((n) => `note: ${n}`), ''];
  for (const x of cmp.cells) {
    const tag = x.regression && x.change === 'added' ? 'NEW FAIL' : mark[x.change];
    lines.push(`${tag.padEnd(8)}  ${x.case}  ${pairingName(x)}  ${transition(x)}  (${x.level})`);
    const h = x.head;
    if (x.regression && h) {
      if (x.requirement) lines.push(`          requirement: ${x.requirement}`);
      if (h.message) lines.push(`          ${h.message}`);
      if (h.replay) lines.push(`          replay: ${h.replay}`);
    }
  }
  if (cmp.cells.length) lines.push('');
  lines.push(`${cmp.regressed ? `${cmp.counts.regressions} regression${cmp.counts.regressions === 1 ? '' : 's'}` : 'no regression'}: ${countsLine(cmp)}`);
  return `${lines.join('\n')}\n`;
}

/** compare.json and compare.md into `outDir`, atomically and under its lock (report/atomic.ts). */
export async function writeComparison(cmp: Comparison, outDir: string): Promise<string[]> {
  const lock = lockOutDir(outDir);
  try {
    const staging = stagingDir(lock.dir);
    try {
      await writeFile(join(staging, 'compare.json'), `${JSON.stringify(cmp, null, 2)}\n`);
      await writeFile(join(staging, 'compare.md'), renderCompareMarkdown(cmp));
      return commitStaged(staging, lock.dir, ['compare.json', 'compare.md']);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  } finally {
    lock.release();
  }
}

/** The comparison of two results.json files as the CLI runs it: load (ajv), compare, write, 1 on a regression. */
export async function compareFiles(baseFile: string, headFile: string, outDir: string): Promise<{ comparison: Comparison; written: string[]; exitCode: 0 | 1 }> {
  const base = await loadReport(baseFile);
  const head = await loadReport(headFile);
  const comparison = compareReports({ file: baseFile, report: base }, { file: headFile, report: head }, await readToolVersion());
  const written = await writeComparison(comparison, outDir);
  return { comparison, written, exitCode: comparison.regressed ? 1 : 0 };
}
