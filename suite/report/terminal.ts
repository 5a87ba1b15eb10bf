/**
 * The readable matrix printed at the end of a run, grouped by socket type × address kind (a block per
 * group that has results, stream · pathname first, each headed by its name, e.g. "seqpacket · abstract"):
 * in each block one row per pairing with results there, one column per case of the group (a property,
 * or its variant: its case label). Cases are numbered group by group in one list, so a block's columns
 * are a run of numbers and no block is wider than the one matrix was. Then the details of everything
 * unexpected, each naming its socket type and address kind and, for a sequence property, its first
 * differing step (command, then both sides' outcomes); and of expected failures, by group.
 */
import type { RunReport } from './results.js';
import type { ResultEntry, Status } from '../model/types.js';
import { blameText, byVariant, caseLabel, flakyText, gradesExit, levelOf, reportCases, variantName } from './common.js';
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

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export function renderMatrix(report: RunReport): string {
  const cases = reportCases(report);
  const partial = partialNote(report);
  const groups = byVariant(report).map((g) => {
    const labels = new Set(g.results.map(caseLabel));
    const rows = new Map<string, Map<string, ResultEntry>>();
    for (const r of g.results) {
      const key = `${r.server} × ${r.client}`;
      if (!rows.has(key)) rows.set(key, new Map());
      rows.get(key)!.set(caseLabel(r), r);
    }
    return { ...g, cases: cases.filter((c) => labels.has(c.label)), rows };
  });
  // A case label names its variant, so each case is in exactly one group.
  const number = new Map(groups.flatMap((g) => g.cases).map((c, i) => [c.label, i + 1]));
  const keys = new Set(report.results.map((r) => `${r.server} × ${r.client}`));
  const labelWidth = Math.max(18, ...[...keys].map((k) => k.length)) + 2;
  const colWidth = 7;
  const lines: string[] = [];
  if (partial) lines.push(partial, '');
  lines.push('Properties:');
  for (const g of groups) {
    lines.push(`  ${g.name}`);
    for (const c of g.cases) lines.push(`  ${String(number.get(c.label)).padStart(2)}  ${pad(c.label, 26)} ${c.level}`);
  }
  // `run --perf`: throughput and first-byte latency at the end of a pairing's row, in the first block
  // that has the pairing (perf measures the seed protocol: stream · pathname).
  const perf = new Map((report.perf ?? []).map((e) => [`${e.server} × ${e.client}`, e]));
  const perfShown = new Set<string>();
  for (const g of groups) {
    lines.push('', `${g.name} (${plural(g.results.length, 'result')})`);
    const perfRows = [...g.rows.keys()].filter((k) => perf.has(k) && !perfShown.has(k));
    const perfHead = perfRows.length ? `  ${'MB/s'.padStart(7)} ${'1st byte'.padStart(9)}` : '';
    lines.push(pad('server × client', labelWidth) + g.cases.map((c) => pad(String(number.get(c.label)).padStart(3), colWidth)).join('') + perfHead);
    for (const [key, cells] of g.rows) {
      const e = perfRows.includes(key) ? perf.get(key) : undefined;
      if (e) perfShown.add(key);
      const perfCells = !e ? '' : e.mbPerSec === null ? `  ${'error'.padStart(7)}` : `  ${e.mbPerSec.toFixed(0).padStart(7)} ${`${e.firstByteMs!.toFixed(2)} ms`.padStart(9)}`;
      lines.push(pad(key, labelWidth) + g.cases.map((c) => pad(cells.has(c.label) ? STATUS_MARK[cells.get(c.label)!.status] : '', colWidth)).join('') + perfCells);
    }
  }
  lines.push('');
  lines.push('ok pass · FAIL fail · xfail expected fail · XPASS unexpected pass · n/a unsupported · ERROR harness error');
  if (perf.size) {
    const bytes = report.perf![0]!.payloadBytes;
    lines.push(`MB/s: ${bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes} bytes`} payload, first byte to last (10^6 bytes/s); 1st byte: from starting the client (median of ${report.perf![0]!.samples})`);
    for (const e of report.perf!) if (e.error) lines.push(`perf ${e.server} × ${e.client}: ${e.error}`);
  }
  return lines.join('\n');
}

function renderFailure(r: ResultEntry, report: RunReport, strict: boolean): string {
  const level = levelOf(r, report.properties);
  const out = [`${STATUS_MARK[r.status]}  ${caseLabel(r)}  ${r.server} × ${r.client}  (${level})`];
  if (!gradesExit(r.status, level, strict)) out.push(`  a ${level} failure: reported, but it does not fail the run (--strict makes it)`);
  const requirement = report.properties.find((p) => p.id === r.property)?.requirement;
  if (requirement) out.push(`  requirement: ${requirement}`);
  out.push(`  socket type · address: ${variantName(r)}`);
  if (r.message) out.push(`  ${r.message}`);
  if (r.reason && r.status !== 'unsupported') out.push(`  known: ${r.reason}`);
  const blame = blameText(r);
  if (blame) out.push(`  blame: ${blame}`);
  const ev = r.evidence;
  if (ev?.expected !== undefined) out.push(`  expected: ${ev.expected}`);
  if (ev?.actual !== undefined) out.push(`  actual:   ${ev.actual}`);
  const diff = firstDifference(sequenceEvidence(ev?.details));
  if (diff) {
    out.push(`  first difference at step ${diff.step} of ${diff.of}: ${stepText(diff.command)}`);
    out.push(`    ${stepText(diff.subject.label, 60)}: ${stepText(diff.subject.outcome)} · ${stepText(diff.oracle.label, 60)}: ${stepText(diff.oracle.outcome)}`);
  }
  if (ev?.client?.stderr) out.push(`  client stderr: ${JSON.stringify(ev.client.stderr.slice(0, 200))}`);
  if (ev?.server?.stderr) out.push(`  server stderr: ${JSON.stringify(ev.server.stderr.slice(0, 200))}`);
  if (r.counterexample) out.push(`  counterexample: ${JSON.stringify(r.counterexample.input)} (after ${r.counterexample.numShrinks} shrinks)`);
  if (r.replay) out.push(`  replay: ${r.replay}`);
  return out.join('\n');
}

/**
 * The details of everything unexpected, first and in one list (each with its level, its socket type and
 * address kind, and for a SHOULD or MAY failure whether it fails the run: `strict`, as the exit status is
 * graded), then, with `expectedToo`, the expected failures under a heading per socket type × address kind.
 */
export function renderDetails(report: RunReport, options: { expectedToo: boolean; strict?: boolean }): string {
  const bad = unexpected(report.results);
  const sections: string[] = [];
  if (bad.length) sections.push(`Unexpected results (${bad.length}):\n\n${bad.map((r) => renderFailure(r, report, options.strict ?? false)).join('\n\n')}`);
  if (options.expectedToo) {
    const xf = report.results.filter((r) => r.status === 'expected-fail');
    const line = (r: ResultEntry): string => {
      const flaky = r.flaky ? ` (${flakyText(r.flaky)})` : '';
      return `  ${caseLabel(r)}  ${r.server} × ${r.client}  (${levelOf(r, report.properties)}): ${r.message}${flaky}`;
    };
    const groups = byVariant({ results: xf }).map((g) => `  ${g.name}\n${g.results.map((r) => `  ${line(r)}`).join('\n')}`);
    if (xf.length) sections.push(`Expected failures (${xf.length}):\n${groups.join('\n')}`);
  }
  return sections.join('\n\n');
}

export function renderSummary(report: RunReport): string {
  const s = report.summary;
  const partial = partialNote(report);
  return `${partial ? `${partial}\n` : ''}${report.results.length} results in ${(report.durationMs / 1000).toFixed(1)} s: ${s.pass} pass, ${s.fail} fail, ${s['expected-fail']} expected-fail, ${s['unexpected-pass']} unexpected-pass, ${s.unsupported} unsupported, ${s.error} error (seed ${report.seed}, ${report.runs} runs)`;
}
