/**
 * summary.md: a compact report for a CI job summary ($GITHUB_STEP_SUMMARY) or a PR comment. Unexpected
 * results come first (each with its level, socket type and address kind, blame and its re-runs, or the
 * side inferred from the other pairings, expected against actual, the first line of each side's stderr,
 * a sequence property's first differing step and the replay line), then the server × client matrix
 * (each cell: the worst status and how many of its cases held; a case is named by its case label), the
 * results counted per socket type × address kind, the scorecards and the expected failures (with
 * levels, under a heading per socket type × address kind).
 */
import { NO_PEER, type ResultEntry, type Status } from '../model/types.js';
import { STATUS_ICON, STATUS_LABEL, LEVELS, blameLine, byVariant, caseLabel, flakyText, gradesExit, held, isUnexpected, levelOf, matrixAxes, pairingName, runsText, scorecards, stderrHead, variantName, worstStatus, SEVERITY } from './common.js';
import { partialNote, type RunReport } from './results.js';
import { firstDifference, sequenceEvidence, stepText } from './sequence.js';

/** At most this many unexpected results are listed in full; results.json has the rest. */
const MAX_LISTED = 50;

/** Text for a table cell or a list item: one line, pipes escaped, bounded. */
export function mdText(text: string, max = 240): string {
  const one = text.replace(/\s*\n\s*/g, ' ⏎ ').replace(/\|/g, '\\|').replace(/([*_[\]<>])/g, '\\$1');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** An inline code span that survives backticks in its content. */
export function mdCode(text: string, max = 400): string {
  const one = text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
  const body = one.length > max ? `${one.slice(0, max - 1)}…` : one;
  const fence = body.includes('`') ? '``' : '`';
  return `${fence}${fence.length > 1 ? ' ' : ''}${body}${fence.length > 1 ? ' ' : ''}${fence}`;
}

function headline(report: RunReport): string {
  const unexpected = report.results.filter((r) => isUnexpected(r.status));
  const bad = unexpected.length;
  // As the exit status is graded (h2spec): SHOULD and MAY failures fail a run only under --strict.
  const lesser = unexpected.filter((r) => !gradesExit(r.status, levelOf(r, report.properties), false)).length;
  const verdict =
    report.results.length === 0
      ? '➖ nothing ran'
      : !bad
        ? '✅ nothing unexpected'
        : lesser === bad
          ? `⚠️ ${bad} unexpected, SHOULD or MAY failures only`
          : `❌ ${bad} unexpected${lesser ? ` (${lesser} of them SHOULD or MAY failures)` : ''}`;
  const shard = report.shard ? ` (shard ${report.shard.index}/${report.shard.count})` : '';
  return `## uds-conformance${shard}: ${report.partial ? '⏸️ partial run · ' : ''}${verdict}`;
}

function counts(report: RunReport): string {
  const parts = SEVERITY.map((s) => `${STATUS_ICON[s]} ${report.summary[s] ?? 0} ${s}`);
  return `${report.results.length} results in ${(report.durationMs / 1000).toFixed(1)} s · seed ${report.seed} · ${runsText(report)} · ${parts.join(' · ')}`;
}

function unexpectedItem(r: ResultEntry, report: RunReport): string {
  const p = report.properties.find((q) => q.id === r.property);
  const lines = [`- ${STATUS_ICON[r.status]} **${STATUS_LABEL[r.status]}** ${mdCode(caseLabel(r))} ${mdText(pairingName(r))} (${levelOf(r, report.properties)}): ${mdText(r.message ?? '')}`];
  if (p) lines.push(`  - requirement: ${mdText(p.requirement)}`);
  lines.push(`  - socket type · address: ${mdText(variantName(r))}`);
  const blame = blameLine(r, report.results);
  if (blame) lines.push(`  - blame: ${mdText(blame)}`);
  if (r.evidence?.expected !== undefined || r.evidence?.actual !== undefined) {
    lines.push(`  - expected ${mdCode(r.evidence?.expected ?? '')} · actual ${mdCode(r.evidence?.actual ?? '')}`);
  }
  const diff = firstDifference(sequenceEvidence(r.evidence?.details));
  if (diff) {
    lines.push(`  - first difference at step ${diff.step} of ${diff.of}: ${mdCode(stepText(diff.command))} · ${mdText(diff.subject.label, 60)}: ${mdCode(stepText(diff.subject.outcome))} · ${mdText(diff.oracle.label, 60)}: ${mdCode(stepText(diff.oracle.outcome))}`);
  }
  for (const role of ['server', 'client'] as const) {
    const head = stderrHead(r.evidence?.[role]);
    if (head) lines.push(`  - ${role} stderr: ${mdCode(head.line, 300)}${head.more ? ` (+${head.more} more line${head.more === 1 ? '' : 's'} in results.json)` : ''}`);
  }
  if (r.counterexample) lines.push(`  - counterexample: ${mdCode(JSON.stringify(r.counterexample.input), 300)}`);
  if (r.replay) lines.push(`  - replay: ${mdCode(r.replay, 1000)}`);
  return lines.join('\n');
}

function cellText(results: ResultEntry[]): string {
  if (results.length === 0) return '';
  const worst = worstStatus(results.map((r) => r.status))!;
  const applicable = results.filter((r) => r.status !== 'unsupported');
  if (applicable.length === 0) return `${STATUS_ICON.unsupported} n/a`;
  return `${STATUS_ICON[worst]} ${applicable.filter((r) => held(r.status)).length}/${applicable.length}`;
}

export function renderMarkdown(report: RunReport): string {
  const out: string[] = [headline(report), ''];
  const partial = partialNote(report);
  if (partial) out.push(`> **${mdText(partial)}**`, '');
  out.push(counts(report), '');
  const bad = report.results.filter((r) => isUnexpected(r.status));
  if (bad.length) {
    out.push(`### Unexpected results (${bad.length})`, '');
    for (const r of bad.slice(0, MAX_LISTED)) out.push(unexpectedItem(r, report));
    if (bad.length > MAX_LISTED) out.push(`- … and ${bad.length - MAX_LISTED} more (see results.json or index.html)`);
    out.push('');
  }
  const { servers, clients } = matrixAxes(report);
  if (servers.length && clients.length) {
    out.push('### Matrix', '', 'Rows are servers, columns clients; each cell shows its worst status and the properties that held out of those that applied. `-` is the absent side of a client-only or server-only property.', '');
    const label = (n: string, role: string): string => (n === NO_PEER ? `\\- (${role} only)` : mdText(n));
    out.push(`| server ╲ client | ${clients.map((c) => label(c, 'server')).join(' | ')} |`);
    out.push(`|---|${clients.map(() => '---').join('|')}|`);
    for (const s of servers) {
      const cells = clients.map((c) => cellText(report.results.filter((r) => r.server === s && r.client === c)));
      out.push(`| **${label(s, 'client')}** | ${cells.join(' | ')} |`);
    }
    out.push('');
  }
  const groups = byVariant(report);
  if (groups.length) {
    out.push('### By socket type and address', '', `| socket type · address | results | held | ${SEVERITY.map((s) => `${STATUS_ICON[s]} ${s}`).join(' | ')} |`, `|---|---|---|${SEVERITY.map(() => '---').join('|')}|`);
    for (const g of groups) {
      const applicable = g.results.filter((r) => r.status !== 'unsupported');
      const heldText = applicable.length ? `${applicable.filter((r) => held(r.status)).length}/${applicable.length}` : 'n/a';
      out.push(`| ${mdText(g.name)} | ${g.results.length} | ${heldText} | ${SEVERITY.map((s) => g.results.filter((r) => r.status === s).length).join(' | ')} |`);
    }
    out.push('');
  }
  if (report.perf?.length) {
    // `run --perf` (suite/perf.ts): medians through the harness.
    out.push(`### Throughput (${(report.perf[0]!.payloadBytes / 1048576).toFixed(0)} MiB payload)`, '', '| server × client | MB/s | first byte |', '|---|---|---|');
    for (const e of report.perf) {
      out.push(`| ${mdText(`${e.server} × ${e.client}`)} | ${e.mbPerSec === null ? `error: ${mdText(e.error ?? '', 120)}` : e.mbPerSec.toFixed(0)} | ${e.firstByteMs === null ? '' : `${e.firstByteMs.toFixed(2)} ms`} |`);
    }
    out.push('');
  }
  const cards = scorecards(report);
  if (cards.length) {
    out.push('### Scorecards', '', `| implementation | ${LEVELS.join(' | ')} |`, `|---|${LEVELS.map(() => '---').join('|')}|`);
    for (const card of cards) {
      out.push(`| ${mdText(card.name)} | ${LEVELS.map((l) => (card.levels[l].total ? `${card.levels[l].held}/${card.levels[l].total}` : '–')).join(' | ')} |`);
    }
    out.push('');
  }
  const xfail = report.results.filter((r) => r.status === 'expected-fail');
  if (xfail.length) {
    out.push(`<details><summary>Expected failures (${xfail.length})</summary>`, '');
    for (const g of byVariant({ results: xfail })) {
      out.push(`**${mdText(g.name)}**`, '');
      for (const r of g.results) {
        const flaky = r.flaky ? ` (${flakyText(r.flaky)})` : '';
        out.push(`- ${mdCode(caseLabel(r))} ${mdText(pairingName(r))} (${levelOf(r, report.properties)}): ${mdText(r.message ?? '')}${flaky}${r.reason ? ` (known: ${mdText(r.reason, 160)})` : ''}`);
      }
      out.push('');
    }
    out.push('</details>', '');
  }
  const legend = (Object.keys(STATUS_LABEL) as Status[]).map((s) => `${STATUS_ICON[s]} ${s}`).join(' · ');
  out.push(`<sub>${legend}</sub>`, '');
  return out.join('\n');
}
