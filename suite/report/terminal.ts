/**
 * The report a run prints, fitted to the terminal's width (layout.ts: COLUMNS, the TTY's width, or 80).
 * Unexpected results come first, in full (requirement, blame, expected against actual, the first line
 * of each side's stderr, replay), each line wrapped within the width and the replay command wrapped so
 * that it still pastes. Then the results, grouped by socket type × address kind (a block per group
 * that has results, stream · pathname first, each headed by its name, e.g. "seqpacket · abstract"):
 * - when every block fits, the matrix: one row per pairing, one column per case of the group (a
 *   property, or its variant: its case label), numbered group by group in one list above, so a block's
 *   columns are a run of numbers; status marks in colour, `·` where the pairing has no such case, and
 *   a legend;
 * - otherwise one line per pairing: its counts by status and the cases that went wrong, e.g.
 *   `c-reference × ts-net   ok 14  xfail 1  n/a 5   FAIL: path.forms`.
 * Then the expected failures, by group. Colour is the caller's choice (layout.ts colorEnabled);
 * without options everything renders uncoloured and unbounded, as the other reports' tests read it.
 */
import type { RunReport } from './results.js';
import type { ResultEntry, Status } from '../model/types.js';
import { blameLine, byVariant, caseLabel, flakyText, gradesExit, levelOf, pairingName, reportCases, runsText, stderrLines, variantName } from './common.js';
import { colors, pad, visibleWidth, wrap, wrapItems, wrapShell, type Colors } from './layout.js';
import { partialNote, unexpected } from './results.js';
import { firstDifference, sequenceEvidence, stepText } from './sequence.js';

export const STATUS_MARK: Record<Status, string> = {
  pass: 'ok',
  fail: 'FAIL',
  'expected-fail': 'xfail',
  'unexpected-pass': 'XPASS',
  unsupported: 'n/a',
  error: 'ERROR',
};

/** The mark of a matrix cell whose pairing has no such case (a blank would make columns hard to count). */
export const NO_CASE = '·';

export interface TerminalOptions {
  /** Columns to fit (default: unbounded). */
  width?: number;
  /** Colour the marks (default off). */
  color?: boolean;
  /** --strict, as the exit status is graded. */
  strict?: boolean;
}

/** The order a pairing line counts in: what held, what is known, then what went wrong. */
const COUNT_ORDER: readonly Status[] = ['pass', 'expected-fail', 'unsupported', 'unexpected-pass', 'fail', 'error'];

function paint(c: Colors, status: Status, text: string): string {
  switch (status) {
    case 'pass':
      return c.green(text);
    case 'fail':
      return c.bold(c.red(text));
    case 'error':
      return c.bold(c.magenta(text));
    case 'unexpected-pass':
      return c.bold(c.yellow(text));
    case 'expected-fail':
      return c.yellow(text);
    case 'unsupported':
      return c.dim(text);
  }
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

interface Group {
  name: string;
  results: ResultEntry[];
  cases: Array<{ label: string; level: string }>;
  rows: Map<string, Map<string, ResultEntry>>;
}

function groupsOf(report: RunReport): Group[] {
  const cases = reportCases(report);
  return byVariant(report).map((g) => {
    const labels = new Set(g.results.map(caseLabel));
    const rows = new Map<string, Map<string, ResultEntry>>();
    for (const r of g.results) {
      const key = pairingName(r);
      if (!rows.has(key)) rows.set(key, new Map());
      rows.get(key)!.set(caseLabel(r), r);
    }
    return { name: g.name, results: g.results, cases: cases.filter((c) => labels.has(c.label)), rows };
  });
}

/**
 * The matrix view's lines: the numbered cases, a block per group, the legend, --perf's columns. Built
 * at any width; the caller checks that it fits.
 */
function matrixLines(report: RunReport, groups: Group[], width: number, c: Colors): string[] {
  // A case label names its variant, so each case is in exactly one group.
  const number = new Map(groups.flatMap((g) => g.cases).map((x, i) => [x.label, i + 1]));
  const labelWidth = Math.max(18, ...report.results.map((r) => pairingName(r).length)) + 2;
  // The widest mark (xfail, XPASS, ERROR) and a space; a case number takes no more at this scale.
  const colWidth = Math.max(6, String(number.size).length + 1);
  const lines: string[] = ['Properties:'];
  const labelCol = Math.min(26, Math.max(...groups.flatMap((g) => g.cases.map((x) => x.label.length)), 0));
  for (const g of groups) {
    lines.push(`  ${g.name}`);
    for (const x of g.cases) lines.push(`  ${String(number.get(x.label)).padStart(2)}  ${pad(x.label, labelCol)} ${x.level}`);
  }
  // `run --perf`: throughput and first-byte latency at the end of a pairing's row, in the first block
  // that has the pairing (perf measures the seed protocol: stream · pathname).
  const perf = new Map((report.perf ?? []).map((e) => [`${e.server} × ${e.client}`, e]));
  const perfShown = new Set<string>();
  for (const g of groups) {
    lines.push('', `${g.name} (${plural(g.results.length, 'result')})`);
    const perfRows = [...g.rows.keys()].filter((k) => perf.has(k) && !perfShown.has(k));
    const perfHead = perfRows.length ? `  ${'MB/s'.padStart(7)} ${'1st byte'.padStart(9)}` : '';
    lines.push((pad('server × client', labelWidth) + g.cases.map((x) => pad(String(number.get(x.label)), colWidth)).join('')).trimEnd() + perfHead);
    for (const [key, cells] of g.rows) {
      const e = perfRows.includes(key) ? perf.get(key) : undefined;
      if (e) perfShown.add(key);
      const perfCells = !e ? '' : e.mbPerSec === null ? `  ${'error'.padStart(7)}` : `  ${e.mbPerSec.toFixed(0).padStart(7)} ${`${e.firstByteMs!.toFixed(2)} ms`.padStart(9)}`;
      const marks = g.cases.map((x, i) => {
        const r = cells.get(x.label);
        const mark = r ? STATUS_MARK[r.status] : NO_CASE;
        const text = r ? paint(c, r.status, mark) : c.dim(mark);
        // The last column needs no padding unless perf columns follow.
        return i === g.cases.length - 1 && !perfCells ? text : text + ' '.repeat(colWidth - mark.length);
      });
      lines.push(pad(key, labelWidth) + marks.join('') + perfCells);
    }
  }
  lines.push('', ...legend(c, width));
  lines.push(...perfNotes(report, width));
  return lines;
}

function legend(c: Colors, width: number, noCase = true): string[] {
  const words: Record<Status, string> = {
    pass: 'pass',
    fail: 'fail',
    'expected-fail': 'expected fail',
    'unexpected-pass': 'unexpected pass',
    unsupported: 'unsupported',
    error: 'harness error',
  };
  const items = (Object.keys(STATUS_MARK) as Status[]).map((s) => `${paint(c, s, STATUS_MARK[s])} ${words[s]}`);
  return wrapItems(noCase ? [...items, `${c.dim(NO_CASE)} no such case`] : items, width, ', ');
}

function perfNotes(report: RunReport, width: number): string[] {
  if (!report.perf?.length) return [];
  const bytes = report.perf[0]!.payloadBytes;
  const lines = wrap(`MB/s: ${bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes} bytes`} payload, first byte to last (10^6 bytes/s); 1st byte: from starting the client (median of ${report.perf[0]!.samples})`, width, '', '  ');
  for (const e of report.perf) if (e.error) lines.push(...wrap(`perf ${e.server} × ${e.client}: ${e.error}`, width, '', '  '));
  return lines;
}

/**
 * The narrow view: per group, one line per pairing with its counts by status (aligned in columns) and
 * the cases that went wrong, by status; a line too long goes on indented.
 */
function pairingLines(report: RunReport, groups: Group[], width: number, c: Colors): string[] {
  const lines: string[] = [];
  const labelWidth = Math.max(...report.results.map((r) => pairingName(r).length)) + 3;
  for (const g of groups) {
    lines.push(`${g.name} (${plural(g.results.length, 'result')})`);
    const rows = [...g.rows.entries()].map(([key, cells]) => {
      const results = [...cells.values()];
      const counts = new Map(COUNT_ORDER.map((s) => [s, results.filter((r) => r.status === s).length]));
      return { key, results, counts };
    });
    // A count column for each status any row of the group has, as wide as its widest count.
    const shown = COUNT_ORDER.filter((s) => rows.some((r) => r.counts.get(s)! > 0) && (s === 'pass' || s === 'expected-fail' || s === 'unsupported'));
    const digits = new Map(shown.map((s) => [s, Math.max(...rows.map((r) => String(r.counts.get(s)).length))]));
    for (const row of rows) {
      const cells = shown.map((s) => {
        const n = row.counts.get(s)!;
        const cell = `${STATUS_MARK[s]} ${String(n).padEnd(digits.get(s)!)}`;
        return n > 0 ? paint(c, s, STATUS_MARK[s]) + cell.slice(STATUS_MARK[s].length) : ' '.repeat(cell.length);
      });
      const bad = (['fail', 'error', 'unexpected-pass'] as const)
        .map((s) => ({ s, labels: row.results.filter((r) => r.status === s).map(caseLabel) }))
        .filter((x) => x.labels.length > 0);
      const head = `${pad(row.key, labelWidth)}${cells.join('  ')}`.trimEnd();
      // "FAIL: a, b  XPASS: c": a status's cases joined by commas, two spaces before the next status.
      const items = bad.flatMap(({ s, labels }, g) => labels.map((l, i) => `${i === 0 ? `${g > 0 ? ' ' : ''}${paint(c, s, STATUS_MARK[s])}: ` : ''}${l}${i < labels.length - 1 ? ',' : ''}`));
      if (items.length === 0) {
        lines.push(...(visibleWidth(head) <= width ? [head] : wrap(head, width, '', '    ')));
        continue;
      }
      const line = `${head}   ${items.join(' ')}`;
      if (visibleWidth(line) <= width) lines.push(line);
      else lines.push(...(visibleWidth(head) <= width ? [head] : wrap(head, width, '', '    ')), ...wrapItems(items, width, ' ', '    '));
    }
    lines.push('');
  }
  lines.pop();
  lines.push('', ...legend(c, width, false));
  for (const e of report.perf ?? []) if (e.mbPerSec !== null) lines.push(...wrap(`perf ${e.server} × ${e.client}: ${e.mbPerSec.toFixed(0)} MB/s, first byte ${e.firstByteMs!.toFixed(2)} ms`, width, '', '  '));
  lines.push(...perfNotes(report, width));
  return lines;
}

/**
 * The results: the matrix when all of it fits in `width` columns (default unbounded), else one line
 * per pairing. A partial run says so first.
 */
export function renderMatrix(report: RunReport, options: TerminalOptions = {}): string {
  const width = options.width ?? Number.POSITIVE_INFINITY;
  const c = colors(options.color ?? false);
  const groups = groupsOf(report);
  const partial = partialNote(report);
  const head = partial ? [...wrap(partial, width), ''] : [];
  const matrix = matrixLines(report, groups, width, c);
  const fits = matrix.every((l) => visibleWidth(l) <= width);
  return [...head, ...(fits ? matrix : pairingLines(report, groups, width, c))].join('\n');
}

/** `  key: value`, wrapped with a hanging indent. */
function field(key: string, value: string, width: number): string[] {
  return wrap(value, width, `  ${key}: `, '      ');
}

function renderFailure(r: ResultEntry, report: RunReport, width: number, c: Colors, strict: boolean): string {
  const level = levelOf(r, report.properties);
  const out = wrap(`${caseLabel(r)}  ${r.server} × ${r.client}  (${level})`, width, `${paint(c, r.status, STATUS_MARK[r.status])}  `, '    ');
  const line = (text: string): void => void out.push(...wrap(text, width, '  ', '      '));
  if (!gradesExit(r.status, level, strict)) line(`a ${level} failure: reported, but it does not fail the run (--strict makes it)`);
  const requirement = report.properties.find((p) => p.id === r.property)?.requirement;
  if (requirement) out.push(...field('requirement', requirement, width));
  out.push(...field('socket type · address', variantName(r), width));
  if (r.message) line(r.message);
  if (r.reason && r.status !== 'unsupported') out.push(...field('known', r.reason, width));
  const blame = blameLine(r, report.results);
  if (blame) out.push(...field('blame', blame, width));
  const ev = r.evidence;
  if (ev?.expected !== undefined) out.push(...wrap(ev.expected, width, '  expected: ', '      '));
  if (ev?.actual !== undefined) out.push(...wrap(ev.actual, width, '  actual:   ', '      '));
  const diff = firstDifference(sequenceEvidence(ev?.details));
  if (diff) {
    line(`first difference at step ${diff.step} of ${diff.of}: ${stepText(diff.command)}`);
    out.push(...wrap(`${stepText(diff.subject.label, 60)}: ${stepText(diff.subject.outcome)} · ${stepText(diff.oracle.label, 60)}: ${stepText(diff.oracle.outcome)}`, width, '    ', '      '));
  }
  for (const s of stderrLines(r)) line(s);
  if (r.counterexample) line(`counterexample: ${JSON.stringify(r.counterexample.input)} (after ${r.counterexample.numShrinks} shrinks)`);
  if (r.replay) out.push(...wrapShell(r.replay, width, '  replay: ', '      '));
  return out.join('\n');
}

/**
 * The details of everything unexpected, first and in one list (each with its level, its socket type and
 * address kind, blame, the first line of each side's stderr, and for a SHOULD or MAY failure whether it
 * fails the run: `strict`, as the exit status is graded), then, with `expectedToo`, the expected failures
 * under a heading per socket type × address kind.
 */
export function renderDetails(report: RunReport, options: TerminalOptions & { expectedToo: boolean }): string {
  const width = options.width ?? Number.POSITIVE_INFINITY;
  const c = colors(options.color ?? false);
  const bad = unexpected(report.results);
  const sections: string[] = [];
  if (bad.length) sections.push(`${c.bold(`Unexpected results (${bad.length}):`)}\n\n${bad.map((r) => renderFailure(r, report, width, c, options.strict ?? false)).join('\n\n')}`);
  if (options.expectedToo) {
    const xf = expectedFailures(report, width, c);
    if (xf) sections.push(xf);
  }
  return sections.join('\n\n');
}

function expectedFailures(report: RunReport, width: number, c: Colors): string {
  const xf = report.results.filter((r) => r.status === 'expected-fail');
  if (xf.length === 0) return '';
  const lines = [`Expected failures (${xf.length}):`];
  for (const g of byVariant({ results: xf })) {
    lines.push(`  ${g.name}`);
    for (const r of g.results) {
      const flaky = r.flaky ? ` (${flakyText(r.flaky)})` : '';
      lines.push(...wrap(`${caseLabel(r)}  ${r.server} × ${r.client}  (${levelOf(r, report.properties)}): ${r.message}${flaky}`, width, '    ', '        '));
    }
  }
  return lines.join('\n');
}

/**
 * What `run`, `report` and `merge` print before the summary line: a partial run's note, the unexpected
 * results in full, the results (matrix or pairing lines), then the expected failures; every line
 * within `width`.
 */
export function renderTerminalReport(report: RunReport, options: TerminalOptions = {}): string {
  const width = options.width ?? Number.POSITIVE_INFINITY;
  const c = colors(options.color ?? false);
  const parts: string[] = [];
  // A partial run says so before anything else.
  const partial = partialNote(report);
  if (partial) parts.push(wrap(partial, width).join('\n'));
  const bad = renderDetails(report, { ...options, expectedToo: false });
  if (bad) parts.push(bad);
  if (report.results.length) parts.push(renderMatrix({ ...report, partial: undefined }, options));
  const xf = expectedFailures(report, width, c);
  if (xf) parts.push(xf);
  return parts.join('\n\n');
}

export function renderSummary(report: RunReport, options: TerminalOptions = {}): string {
  const width = options.width ?? Number.POSITIVE_INFINITY;
  const s = report.summary;
  const partial = partialNote(report);
  const text = `${report.results.length} results in ${(report.durationMs / 1000).toFixed(1)} s: ${s.pass} pass, ${s.fail} fail, ${s['expected-fail']} expected-fail, ${s['unexpected-pass']} unexpected-pass, ${s.unsupported} unsupported, ${s.error} error (seed ${report.seed}, ${runsText(report)})`;
  // The short form of the partial note: the full one heads the results.
  const note = partial ? [`partial run: ${report.notRun ?? 0} of ${report.results.length + (report.notRun ?? 0)} cases did not run`] : [];
  return [...note, ...wrap(text, width, '', '  ')].join('\n');
}
