/**
 * junit.xml: one <testsuite> per pairing (server × client, "-" for the absent side of a single-role
 * property), one <testcase> per case, named by its case label (the property id, with the socket type
 * and address kind in brackets when they are not stream and pathname: a stream · pathname case keeps
 * the bare id CI consumers key on).
 *
 *   pass             a plain testcase
 *   fail             <failure type="fail (LEVEL)" message="[LEVEL] ...">: requirement, level, expected
 *                    against actual, blame and its re-runs, each side's command line and stderr,
 *                    counterexample, replay (a SHOULD or MAY failure is a failure of that level; only the
 *                    exit status is graded by --strict)
 *   unexpected-pass  <failure type="unexpected-pass (LEVEL)">: the expectation is stale, which CI must notice
 *   error            <error>: the harness failed in that case
 *   expected-fail    a passing testcase (no <skipped>), with <system-out> "expected failure: REASON" and
 *                    the same details as a failure, and the property status=expected-fail
 *   unsupported      <skipped type="unsupported" message="unsupported: REASON"/>
 *
 * Why an expected failure is a passing testcase and not a <skipped> (as pytest writes xfail): consumers
 * keep the element, not its text. junit-to-ctrf (its read.js and convert.js; test/reports.test.ts reads
 * this file with it) gives a testcase one status from the child it has (failure or error, else skipped,
 * else passed) and drops <skipped>'s message and type and every <property>: two kinds of <skipped> become
 * one "skipped" count. The Ant/Jenkins JUnit format has no kind of skip either, so a CI UI built on it
 * can only do the same. What consumers keep is the status and <system-out>. The verdict on an expected
 * failure is "as declared" (the build stays green, as in vitest's and WPT's expected results), and it
 * is not a case that did not run: so it is a pass whose <system-out> says "expected failure" first, and
 * only a case that did not run (unsupported) is skipped. A consumer that reads properties gets the exact
 * status either way.
 *
 * Every testcase carries <properties> (as pytest's record_property writes them): socketType, address and
 * level, blame's findings where there are any (blame, blame.server "4/5", ..., flaky "2/5"), then status
 * (the suite's own: pass, fail, expected-fail, unexpected-pass, unsupported, error), reason (an
 * expectation's or why unsupported) and replay, where the result has them.
 */
import { countOf } from '../model/format.js';
import type { ResultEntry } from '../model/types.js';
import { blameOf, blameText, byPairing, caseLabel, flakyText, levelOf, pairingName, runsText, seconds } from './common.js';
import type { RunReport } from './results.js';

/** Text safe for XML 1.0: markup escaped, characters XML cannot hold shown as \xNN / \uNNNN. */
export function xmlEscape(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (ch === '"') out += '&quot;';
    else if (ch === "'") out += '&apos;';
    else if (c === 0x9 || c === 0xa || c === 0xd) out += ch;
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if ((c >= 0xd800 && c <= 0xdfff) || c === 0xfffe || c === 0xffff) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

const attr = (name: string, value: string | number): string => ` ${name}="${xmlEscape(String(value))}"`;

/** The text inside a <failure>, <error> or expected-fail <skipped>: everything needed to act on it. */
export function failureText(r: ResultEntry, property: RunReport['properties'][number] | undefined): string {
  const lines: string[] = [];
  if (property) {
    lines.push(`requirement (${property.level}): ${property.requirement}`);
    lines.push(`reference: ${property.reference}`);
  }
  lines.push(`status: ${r.status}`);
  if (r.message) lines.push(`message: ${r.message}`);
  if (r.reason && r.status !== 'unsupported') lines.push(`known failure: ${r.reason}`);
  if (property || r.level) lines.push(`level: ${r.level ?? property!.level}`);
  const blame = blameText(r);
  if (blame) lines.push(`blame: ${blame}`);
  if (r.flaky) lines.push(`intermittent: ${flakyText(r.flaky)}`);
  const ev = r.evidence;
  if (ev?.expected !== undefined) lines.push(`expected: ${ev.expected}`);
  if (ev?.actual !== undefined) lines.push(`actual:   ${ev.actual}`);
  if (ev?.bytes && ev.bytes.firstDifference !== null) {
    lines.push(`bytes: expected ${ev.bytes.expectedLength}, got ${ev.bytes.actualLength}; first difference at offset ${ev.bytes.firstDifference}`);
  }
  for (const side of ['server', 'client'] as const) {
    const p = ev?.[side];
    if (!p) continue;
    const end = p.signal ? `signal ${p.signal}` : `exit ${p.exitCode}`;
    lines.push(`${side}: ${p.how}, ${end}${p.timedOut ? ' (deadline)' : ''}, ${countOf(p.stdoutLength, 'byte')} of stdout, ${Math.round(p.durationMs)} ms`);
    // The command line as the HTML shows it ("$ ..."), so a failure can be re-run by hand from CI's view.
    if (p.command?.length) lines.push(`${side} command: $ ${p.command.join(' ')}`);
    if (p.stderr) lines.push(`${side} stderr: ${JSON.stringify(p.stderr.slice(0, 2000))}`);
  }
  if (r.counterexample) {
    const c = r.counterexample;
    lines.push(`counterexample: ${JSON.stringify(c.input)} (seed ${c.seed}, path ${c.path}, ${c.numShrinks} shrinks)`);
  }
  if (r.replay) lines.push(`replay: ${r.replay}`);
  return lines.join('\n');
}

/**
 * A testcase's own <properties>: its socket type, address kind and level, what blame found (`blame`,
 * `blame.server` as "4/5", ..., and `flaky` as "2/5" for an intermittent failure), then its status and,
 * where the result has them, its reason and replay line (see the file's comment).
 */
function testcaseProperties(r: ResultEntry, level: string): string {
  const entries: Array<[string, string]> = [
    ['socketType', r.socketType],
    ['address', r.address],
    ['level', level],
  ];
  const blame = blameOf(r);
  if (blame) entries.push(['blame', blame]);
  for (const k of ['server', 'client', 'pairing'] as const) {
    const n = r.blameRuns?.[k];
    if (n) entries.push([`blame.${k}`, `${n.failed}/${n.of}`]);
  }
  if (r.flaky) entries.push(['flaky', `${r.flaky.failed}/${r.flaky.of}`]);
  entries.push(['status', r.status]);
  if (r.reason) entries.push(['reason', r.reason]);
  if (r.replay) entries.push(['replay', r.replay]);
  return propertiesXml(entries);
}

function propertiesXml(entries: Array<[string, string]>): string {
  return `      <properties>${entries.map(([k, v]) => `<property${attr('name', k)}${attr('value', v)}/>`).join('')}</properties>`;
}

export function renderJUnit(report: RunReport): string {
  const props = new Map(report.properties.map((p) => [p.id, p]));
  const count = (rs: ResultEntry[], ...s: ResultEntry['status'][]): number => rs.filter((r) => s.includes(r.status)).length;
  const all = report.results;
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuites${attr('name', 'uds-conformance')}${attr('tests', all.length)}${attr('failures', count(all, 'fail', 'unexpected-pass'))}` +
      `${attr('errors', count(all, 'error'))}${attr('skipped', count(all, 'unsupported'))}${attr('time', seconds(report.durationMs))}` +
      `${attr('timestamp', report.startedAt)}>`,
  );
  for (const group of byPairing(report)) {
    const rs = group.results;
    const name = pairingName(group);
    out.push(
      `  <testsuite${attr('name', name)}${attr('tests', rs.length)}${attr('failures', count(rs, 'fail', 'unexpected-pass'))}` +
        `${attr('errors', count(rs, 'error'))}${attr('skipped', count(rs, 'unsupported'))}` +
        `${attr('time', seconds(rs.reduce((t, r) => t + r.durationMs, 0)))}${attr('timestamp', report.startedAt)}>`,
    );
    const meta = { seed: report.seed, runs: report.budget ? runsText(report) : report.runs, server: group.server, client: group.client };
    out.push(`    <properties>${Object.entries(meta).map(([k, v]) => `<property${attr('name', k)}${attr('value', v)}/>`).join('')}</properties>`);
    for (const r of rs) {
      const p = props.get(r.property);
      const level = levelOf(r, report.properties);
      const open = `    <testcase${attr('name', caseLabel(r))}${attr('classname', name)}${attr('time', seconds(r.durationMs))}`;
      const body = xmlEscape(failureText(r, p));
      const caseProps = testcaseProperties(r, level);
      switch (r.status) {
        case 'pass':
          out.push(`${open}>`, caseProps, '    </testcase>');
          break;
        case 'fail':
        case 'unexpected-pass':
          out.push(`${open}>`, caseProps, `      <failure${attr('type', `${r.status} (${level})`)}${attr('message', `[${level}] ${r.message ?? r.status}`)}>${body}</failure>`, '    </testcase>');
          break;
        case 'error':
          out.push(`${open}>`, caseProps, `      <error${attr('type', 'harness-error')}${attr('message', r.message ?? 'harness error')}>${body}</error>`, '    </testcase>');
          break;
        case 'expected-fail':
          out.push(`${open}>`, caseProps, `      <system-out>${xmlEscape(`expected failure: ${r.reason ?? r.message ?? ''}\n`)}${body}</system-out>`, '    </testcase>');
          break;
        case 'unsupported':
          out.push(`${open}>`, caseProps, `      <skipped${attr('type', 'unsupported')}${attr('message', `unsupported: ${r.reason ?? r.message ?? ''}`)}/>`, '    </testcase>');
          break;
      }
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}
