/**
 * The reports rendered from a RunReport built here (every status, both single-role placeholders, bytes
 * that XML and HTML cannot hold as they are), cases on other socket types (case labels), `report
 * --from` (schema versions 1 and 2), merge's checks of its input, and that every results.json written
 * here matches docs/results.schema.json.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import vm from 'node:vm';
import { dir as tmpDir } from 'tmp-promise';
import { describe, expect, it } from 'vitest';
import { V1_CAPABILITIES } from '../suite/driver/protocol.js';
import { checkShape } from '../suite/model/shape.js';
import { byVariant, caseLabel, matrixAxes, reportCases, scorecards, variantName, worstStatus } from '../suite/report/common.js';
import { renderHtml } from '../suite/report/html.js';
import { HTML_JS } from '../suite/report/html-assets.js';
import { renderJUnit } from '../suite/report/junit.js';
import { renderMarkdown } from '../suite/report/markdown.js';
import { mergeReports, ReportInputError, validateReport } from '../suite/report/merge.js';
import { buildReport, summarize, type RunReport } from '../suite/report/results.js';
import { startProgress } from '../suite/report/progress.js';
import { renderDetails, renderMatrix } from '../suite/report/terminal.js';
import { sequenceEvidence } from '../suite/report/sequence.js';
import { exitCodeFor } from '../suite/report/write.js';
import type { ResultEntry } from '../suite/model/types.js';
import { cli } from './support/cli.js';

const REPLAY = "npx uds-conformance replay --property delivery.payload --server ts-net --client c-reference --seed 17 --path '3:0'";

function result(partial: Partial<ResultEntry> & Pick<ResultEntry, 'server' | 'client' | 'property' | 'status'>): ResultEntry {
  return { socketType: 'stream', address: 'pathname', runs: 3, durationMs: 12, ...partial };
}

/** The file must match docs/results.schema.json (checkShape throws a ShapeError naming the field if not). */
function expectValidResults(doc: unknown): void {
  expect(() => checkShape('results', doc)).not.toThrow();
}

/** ts-net's in-process driver: stream sockets at pathnames, no fds. */
const TS_NET_CAPABILITIES = { types: ['stream' as const], addresses: ['pathname' as const], fds: false, credentials: false, commands: ['hello', 'listen', 'accept', 'connect', 'send', 'recv', 'shutdown', 'close', 'quit'] };

export function fixtureReport(): RunReport {
  const results: ResultEntry[] = [
    result({ server: 'c-reference', client: 'c-reference', property: 'delivery.payload', status: 'pass' }),
    result({
      server: 'ts-net',
      client: 'c-reference',
      property: 'delivery.payload',
      status: 'fail',
      message: 'stdout differs from the payload at offset 3 (expected 6 bytes, got 4)',
      counterexample: { input: { length: 6, head: '@0: "ab\\x00<&>"' }, seed: 17, path: '3:0', numShrinks: 4 },
      evidence: {
        message: 'stdout differs',
        expected: '@0: "ab\\x00<&>"',
        actual: '@0: "ab\\x00]"',
        bytes: { expectedLength: 6, actualLength: 4, expectedSha256: 'a'.repeat(64), actualSha256: 'b'.repeat(64), firstDifference: 3, expectedContext: '@0: "ab\\x00<&>"', actualContext: '@0: "ab\\x00]"' },
        server: { how: 'process', command: ['node', 'cli.js'], exitCode: 0, signal: null, timedOut: false, stderr: 'bad \u0001 byte </script><script>alert(1)</script> & more', stdoutLength: 0, durationMs: 3 },
        client: { how: 'process', exitCode: 0, signal: null, timedOut: false, stderr: '', stdoutLength: 4, durationMs: 2 },
      },
      replay: REPLAY,
      blame: 'server',
    }),
    result({
      server: 'c-reference',
      client: 'c-original',
      property: 'delivery.payload',
      status: 'expected-fail',
      message: 'stdout differs from the payload at offset 0 (expected 1 bytes, got 0)',
      reason: 'fputs stops at NUL',
      counterexample: { input: { length: 1, head: '@0: "\\x00"' }, seed: 5, path: '1:0', numShrinks: 0 },
      replay: 'npx uds-conformance replay --property delivery.payload --server c-reference --client c-original --seed 5 --path 1:0',
    }),
    result({ server: 'c-original', client: 'c-reference', property: 'delivery.payload', status: 'unsupported', runs: 0, reason: 'server c-original lacks payload' }),
    result({ server: 'c-original', client: 'c-original', property: 'path.forms', status: 'unexpected-pass', reason: 'binds 14 bytes', message: 'known failure did not happen' }),
    result({ server: 'ts-net', client: 'ts-net', property: 'delivery.payload', status: 'error', message: 'harness error: Error: boom | pipe' }),
    result({ server: '-', client: 'ts-net', property: 'connect.enoent', status: 'pass' }),
    result({ server: 'c-reference', client: '-', property: 'server.should-thing', status: 'pass' }),
  ];
  return {
    schemaVersion: 2,
    tool: { name: 'uds-conformance', version: '0.1.0' },
    seed: 42,
    runs: 3,
    startedAt: '2026-11-23T22:50:40.000Z',
    durationMs: 1234,
    implementations: [
      { name: 'c-original', roles: ['server', 'client'], kind: 'builtin', payload: false, driver: false, description: 'c-original' },
      { name: 'c-reference', roles: ['server', 'client'], kind: 'builtin', payload: true, driver: true, capabilities: V1_CAPABILITIES, description: 'c-reference' },
      { name: 'ts-net', roles: ['server', 'client'], kind: 'builtin', payload: true, driver: true, capabilities: TS_NET_CAPABILITIES, description: 'ts-net' },
    ],
    properties: [
      { id: 'delivery.payload', level: 'MUST', category: 'delivery', scope: 'pairing', requirement: 'bytes in = bytes out', reference: 'seed', socketTypes: ['stream'], addresses: ['pathname'] },
      { id: 'path.forms', level: 'MUST', category: 'paths', scope: 'pairing', requirement: 'paths work', reference: 'unix(7)', socketTypes: ['stream'], addresses: ['pathname'] },
      { id: 'connect.enoent', level: 'MUST', category: 'connect-errors', scope: 'client', requirement: 'ENOENT', reference: 'connect(2)', socketTypes: ['stream'], addresses: ['pathname'] },
      { id: 'server.should-thing', level: 'SHOULD', category: 'misc', scope: 'server', requirement: 'a SHOULD', reference: 'here', socketTypes: ['stream'], addresses: ['pathname'] },
    ],
    results,
    summary: summarize(results),
  };
}

/** The fixture as version 1 wrote it: features instead of driver and capabilities, no socket types or addresses. */
export function fixtureReportV1(): Record<string, unknown> {
  const v2 = fixtureReport();
  return {
    ...v2,
    schemaVersion: 1,
    implementations: v2.implementations.map(({ driver, capabilities: _, ...i }) => ({ ...i, features: [...(i.payload ? ['payload'] : []), ...(driver ? ['driver'] : [])] })),
    properties: v2.properties.map(({ socketTypes: _t, addresses: _a, ...p }) => p),
    results: v2.results.map(({ socketType: _t, address: _a, ...r }) => r),
  };
}

/** What a version 1 file reads as: version 2, with what version 1 could not say left out. */
function fixtureReportFromV1(): RunReport {
  const v2 = fixtureReport();
  return { ...v2, implementations: v2.implementations.map(({ capabilities: _, ...i }) => i) };
}

/**
 * A property that runs over two socket types and two address kinds: one pairing has four of its cases,
 * told apart by their case labels.
 */
function variantReport(): RunReport {
  const base = fixtureReport();
  const v = (socketType: ResultEntry['socketType'], address: ResultEntry['address'], status: ResultEntry['status'], extra: Partial<ResultEntry> = {}): ResultEntry =>
    result({ server: 'c-reference', client: 'ts-net', property: 'fd.identity', socketType, address, status, ...extra });
  const results: ResultEntry[] = [
    ...base.results,
    v('stream', 'pathname', 'pass'),
    v('stream', 'abstract', 'pass'),
    v('seqpacket', 'pathname', 'fail', { message: 'the fd received is not the one sent', blame: 'client' }),
    v('seqpacket', 'abstract', 'unsupported', { runs: 0, reason: 'client ts-net has no abstract addresses' }),
  ];
  return {
    ...base,
    properties: [
      ...base.properties,
      { id: 'fd.identity', level: 'MUST', category: 'fd-passing', scope: 'pairing', requirement: 'the fd received is the one sent', reference: 'unix(7)', socketTypes: ['stream', 'seqpacket'], addresses: ['pathname', 'abstract'] },
    ],
    results,
    summary: summarize(results),
  };
}

/** A small XML well-formedness check: tags balance, attributes are quoted, text holds no raw markup. */
function checkXml(xml: string): void {
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, '');
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(body); m; m = tag.exec(body)) {
    const text = body.slice(last, m.index);
    expect(text).not.toMatch(/[<>]|&(?!(amp|lt|gt|quot|apos);)/);
    last = tag.lastIndex;
    if (m[1]) expect(stack.pop()).toBe(m[2]);
    else if (!m[4]) stack.push(m[2]!);
  }
  expect(body.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
  // XML 1.0 has no place for these.
  expect(xml).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f]/);
}

describe('junit.xml', () => {
  const xml = renderJUnit(fixtureReport());

  it('is well-formed, with one testsuite per pairing and one testcase per property', () => {
    checkXml(xml);
    const report = fixtureReport();
    const pairings = new Set(report.results.map((r) => `${r.server} × ${r.client}`));
    expect(xml.match(/<testsuite /g)).toHaveLength(pairings.size);
    expect(xml.match(/<testcase /g)).toHaveLength(report.results.length);
    expect(xml).toContain('<testsuite name="- × ts-net"');
    expect(xml).toContain('<testsuite name="c-reference × -"');
    expect(xml).toMatch(/<testsuites name="uds-conformance" tests="8" failures="2" errors="1" skipped="1"/);
  });

  it('puts the requirement, expected against actual and the replay command in a failure', () => {
    const failure = /<testcase name="delivery.payload" classname="ts-net × c-reference"[^>]*>\s*<properties><property name="socketType" value="stream"\/><property name="address" value="pathname"\/><property name="level" value="MUST"\/><property name="blame" value="server"\/><property name="status" value="fail"\/><property name="replay" value="[^"]*"\/><\/properties>\s*<failure type="fail \(MUST\)" message="\[MUST\] stdout differs[^>]*>([\s\S]*?)<\/failure>/.exec(xml);
    expect(failure).not.toBeNull();
    const text = failure![1]!;
    expect(text).toContain('requirement (MUST): bytes in = bytes out');
    expect(text).toContain('expected: @0: &quot;ab\\x00&lt;&amp;&gt;&quot;');
    expect(text).toContain('actual:   @0: &quot;ab\\x00]&quot;');
    expect(text).toContain('first difference at offset 3');
    expect(text).toContain('blame: server');
    expect(text).toContain(`replay: ${REPLAY.replace(/'/g, '&apos;')}`);
    // The control byte in stderr is shown escaped, not written raw.
    expect(text).toContain('bad \\u0001 byte');
  });

  it('reports an unexpected pass as a failure, a harness error as an error, and skips expected failures and unsupported cases', () => {
    expect(xml).toMatch(/<testcase name="path.forms"[^>]*>\s*<properties><property name="socketType" value="stream"\/><property name="address" value="pathname"\/><property name="level" value="MUST"\/><property name="status" value="unexpected-pass"\/><property name="reason" value="binds 14 bytes"\/><\/properties>\s*<failure type="unexpected-pass \(MUST\)"/);
    expect(xml).toMatch(/<testcase name="delivery.payload" classname="ts-net × ts-net"[^>]*>\s*<properties>[^\n]*<\/properties>\s*<error type="harness-error"/);
    // An expected failure is a passing testcase that says so in <system-out> and its status property;
    // only an unsupported case is <skipped>, with a type.
    expect(xml).toMatch(/<testcase name="delivery.payload" classname="c-reference × c-original"[^>]*>\s*<properties>[^\n]*<property name="status" value="expected-fail"\/>[^\n]*<\/properties>\s*<system-out>expected failure: fputs stops at NUL\n[\s\S]*?replay: npx uds-conformance replay[\s\S]*?<\/system-out>\s*<\/testcase>/);
    expect(xml).not.toContain('expected failure: fputs stops at NUL"');
    expect(xml.match(/<skipped /g)).toHaveLength(1);
    expect(xml).toContain('<skipped type="unsupported" message="unsupported: server c-original lacks payload"/>');
    expect(xml).toMatch(/<testcase name="connect.enoent" classname="- × ts-net" time="0.012">\s*<properties><property name="socketType" value="stream"\/><property name="address" value="pathname"\/><property name="level" value="MUST"\/><property name="status" value="pass"\/><\/properties>\s*<\/testcase>/);
  });
});

describe('summary.md', () => {
  const md = renderMarkdown(fixtureReport());

  it('lists the unexpected results first, with their replay lines', () => {
    expect(md.split('\n')[0]).toBe('## uds-conformance: ❌ 3 unexpected');
    const unexpectedAt = md.indexOf('### Unexpected results (3)');
    expect(unexpectedAt).toBeGreaterThan(0);
    expect(unexpectedAt).toBeLessThan(md.indexOf('### Matrix'));
    expect(md).toContain(`replay: \`${REPLAY}\``);
    expect(md).toContain('harness error: Error: boom \\| pipe');
    expect(md.indexOf('Expected failures (1)')).toBeGreaterThan(md.indexOf('### Matrix'));
  });

  it('has a server × client matrix with "-" for the absent side, each cell its worst status', () => {
    expect(md).toContain('| server ╲ client | c-original | c-reference | ts-net | \\- (server only) |');
    expect(md).toMatch(/\| \*\*ts-net\*\* \| {2}\| ❌ 0\/1 \| 💥 0\/1 \| {2}\|/);
    expect(md).toMatch(/\| \*\*c-reference\*\* \| ⚠️ 0\/1 \| ✅ 1\/1 \| {2}\| ✅ 1\/1 \|/);
    expect(md).toMatch(/\| \*\*\\- \(client only\)\*\* \| {2}\| {2}\| ✅ 1\/1 \| {2}\|/);
  });

  it('has scorecards per implementation and level', () => {
    // ts-net's server is blamed for its failure with the c-reference client, so that case does not count
    // against c-reference; its expected failure with c-original (no blame, nothing to infer it from) does.
    expect(md).toContain('| c-reference | 0/1 | 1/1 | – |');
    // An unexpected pass held the requirement; the unsupported case does not apply.
    expect(md).toContain('| c-original | 1/2 | – | – |');
    expect(md).toContain('| ts-net | 1/2 | – | – |');
  });
});

describe('index.html', () => {
  const report = fixtureReport();
  const html = renderHtml(report);

  it('is one self-contained file: no network, no external script, style or font', () => {
    expect(html).not.toMatch(/<(script|img|iframe)[^>]+src=/i);
    expect(html).not.toMatch(/<link/i);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/@import|url\(/);
    expect(html).toContain("default-src 'none'");
  });

  it('embeds the report so that no result text can end the script element', () => {
    expect(html.match(/<\/script>/g)).toHaveLength(2);
    const json = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
    const data = JSON.parse(json) as { report: RunReport; axes: unknown; scorecards: unknown };
    expect(data.report).toEqual(report);
    expect(data.axes).toEqual({ servers: ['c-original', 'c-reference', 'ts-net', '-'], clients: ['c-original', 'c-reference', 'ts-net', '-'] });
    expect(data.scorecards).toEqual(scorecards(report));
  });

  it('carries a script that compiles', () => {
    expect(() => new vm.Script(HTML_JS)).not.toThrow();
  });
});

describe('cases on other socket types and address kinds', () => {
  const report = variantReport();

  it('names a case by its property id on a stream socket at a pathname, and by the id and what differs otherwise', () => {
    const r = (socketType: ResultEntry['socketType'], address: ResultEntry['address']) => ({ property: 'fd.cloexec', socketType, address });
    expect(caseLabel(r('stream', 'pathname'))).toBe('fd.cloexec');
    expect(caseLabel(r('seqpacket', 'pathname'))).toBe('fd.cloexec [seqpacket]');
    expect(caseLabel(r('dgram', 'pathname'))).toBe('fd.cloexec [dgram]');
    expect(caseLabel(r('stream', 'abstract'))).toBe('fd.cloexec [abstract]');
    expect(caseLabel(r('seqpacket', 'abstract'))).toBe('fd.cloexec [seqpacket, abstract]');
  });

  it('gives each variant its own JUnit testcase', () => {
    const xml = renderJUnit(report);
    checkXml(xml);
    expect(xml.match(/<testcase /g)).toHaveLength(report.results.length);
    const suite = /<testsuite name="c-reference × ts-net"[\s\S]*?<\/testsuite>/.exec(xml)![0];
    expect([...suite.matchAll(/<testcase name="([^"]*)"/g)].map((m) => m[1])).toEqual(['fd.identity', 'fd.identity [abstract]', 'fd.identity [seqpacket]', 'fd.identity [seqpacket, abstract]']);
    expect(suite).toMatch(/<testcase name="fd.identity" classname="c-reference × ts-net" time="0.012">\s*<properties><property name="socketType" value="stream"\/><property name="address" value="pathname"\/><property name="level" value="MUST"\/><property name="status" value="pass"\/><\/properties>\s*<\/testcase>/);
    expect(suite).toMatch(/<testcase name="fd.identity \[seqpacket\]"[^>]*>\s*<properties>[^\n]*<\/properties>\s*<failure type="fail \(MUST\)" message="\[MUST\] the fd received is not the one sent"/);
    expect(suite).toContain('<skipped type="unsupported" message="unsupported: client ts-net has no abstract addresses"/>');
  });

  it('gives each variant its own column in the terminal matrix and its own line in the details', () => {
    const text = renderMatrix(report);
    const columns = text.split('\n').filter((l) => /^ {2}[ \d]\d {2}/.test(l)).map((l) => l.trim().split(/\s+/)[1]);
    expect(columns).toEqual(['delivery.payload', 'path.forms', 'connect.enoent', 'server.should-thing', 'fd.identity', 'fd.identity', 'fd.identity', 'fd.identity']);
    expect(text).toContain('   5  fd.identity                MUST');
    expect(text).toContain('   7  fd.identity [seqpacket]    MUST');
    expect(text).toContain('   8  fd.identity [seqpacket, abstract] MUST');
    // One row per group the pairing has results in (socket type × address kind), each with its one case.
    const rows = text.split('\n').filter((l) => l.startsWith('c-reference × ts-net'));
    // A pairing without a case of a column shows `·` there (NO_CASE).
    expect(rows.map((row) => row.trim().split(/\s+/).slice(3).filter((m) => m !== '' && m !== '·'))).toEqual([['ok'], ['ok'], ['FAIL'], ['n/a']]);
    expect(renderDetails(report, { expectedToo: false })).toContain('FAIL  fd.identity [seqpacket]  c-reference × ts-net');
  });

  it('names the variant in summary.md and counts each case in its cell', () => {
    const md = renderMarkdown(report);
    expect(md).toContain('**FAIL** `fd.identity [seqpacket]` c-reference × ts-net (MUST): the fd received is not the one sent');
    expect(md).toMatch(/\| \*\*c-reference\*\* \| ⚠️ 0\/1 \| ✅ 1\/1 \| ❌ 2\/3 \| ✅ 1\/1 \|/);
  });

  it('gives the page the case label of every result and the cases in run order', () => {
    const html = renderHtml(report);
    const json = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
    const data = JSON.parse(json) as { report: RunReport; caseLabels: string[]; caseOrder: string[] };
    expect(data.report).toEqual(report);
    expect(data.caseLabels).toEqual(report.results.map(caseLabel));
    expect(data.caseOrder).toEqual(['delivery.payload', 'path.forms', 'connect.enoent', 'server.should-thing', 'fd.identity', 'fd.identity [abstract]', 'fd.identity [seqpacket]', 'fd.identity [seqpacket, abstract]']);
  });
});

/**
 * Results on five of the six socket type × address kind groups (no dgram · abstract): stream · pathname
 * from the fixture, a message property on seqpacket and dgram at both address kinds, an abstract-name
 * property on stream and seqpacket. One unexpected failure (seqpacket · abstract) and one expected
 * failure (dgram · pathname) among them.
 */
function groupedReport(): RunReport {
  const base = fixtureReport();
  const on = (property: string, server: string, client: string, socketType: ResultEntry['socketType'], address: ResultEntry['address'], status: ResultEntry['status'], extra: Partial<ResultEntry> = {}): ResultEntry =>
    result({ server, client, property, socketType, address, status, ...extra });
  const results: ResultEntry[] = [
    ...base.results,
    on('msg.boundaries', 'c-reference', 'c-reference', 'seqpacket', 'pathname', 'pass'),
    on('msg.boundaries', 'c-reference', 'c-reference', 'seqpacket', 'abstract', 'fail', { message: 'two messages arrived in one recv' }),
    on('msg.boundaries', 'c-reference', 'c-reference', 'dgram', 'pathname', 'expected-fail', { message: 'a datagram was split', reason: 'known split' }),
    on('msg.boundaries', 'c-reference', 'ts-net', 'seqpacket', 'pathname', 'unsupported', { runs: 0, reason: 'client ts-net has no seqpacket' }),
    on('abstract.exact-length', 'c-reference', 'c-reference', 'stream', 'abstract', 'pass'),
    on('abstract.exact-length', 'c-reference', 'c-reference', 'seqpacket', 'abstract', 'pass'),
    on('abstract.exact-length', 'c-reference', 'ts-net', 'stream', 'abstract', 'pass'),
  ];
  return {
    ...base,
    properties: [
      ...base.properties,
      { id: 'msg.boundaries', level: 'MUST', category: 'messages', scope: 'pairing', requirement: 'one message per recv', reference: 'unix(7)', socketTypes: ['seqpacket', 'dgram'], addresses: ['pathname', 'abstract'] },
      { id: 'abstract.exact-length', level: 'MUST', category: 'abstract', scope: 'pairing', requirement: 'the exact length is the name', reference: 'unix(7)', socketTypes: ['stream', 'seqpacket'], addresses: ['abstract'] },
    ],
    results,
    summary: summarize(results),
  };
}

describe('socket type and address kind in every report', () => {
  const report = groupedReport();
  const GROUPS = ['stream · pathname', 'stream · abstract', 'seqpacket · pathname', 'seqpacket · abstract', 'dgram · pathname'];

  it('groups by them', () => {
    expectValidResults(report);
    expect(byVariant(report).map((g) => [g.name, g.results.length])).toEqual([
      ['stream · pathname', 8],
      ['stream · abstract', 2],
      ['seqpacket · pathname', 2],
      ['seqpacket · abstract', 2],
      ['dgram · pathname', 1],
    ]);
    expect(variantName({ socketType: 'dgram', address: 'abstract' })).toBe('dgram · abstract');
  });

  it('the terminal matrix has a block per group with results, stream · pathname first, each with its rows and its own columns', () => {
    const text = renderMatrix(report);
    const lines = text.split('\n');
    const headings = lines.filter((l) => /^\w+ · \w+ \(\d+ results?\)$/.test(l));
    expect(headings).toEqual(['stream · pathname (8 results)', 'stream · abstract (2 results)', 'seqpacket · pathname (2 results)', 'seqpacket · abstract (2 results)', 'dgram · pathname (1 result)']);
    expect(text).not.toContain('dgram · abstract');
    // The block of a heading: its header line and its rows, up to the blank line.
    const block = (heading: string): string[] => {
      const at = lines.indexOf(heading);
      const end = lines.indexOf('', at);
      return lines.slice(at + 1, end);
    };
    const cells = (row: string): string[] => row.split(/\s{2,}/).filter((x) => x !== '');
    const seqAbstract = block('seqpacket · abstract (2 results)');
    // Its columns are its two cases, numbered in the one list of cases.
    expect(seqAbstract[0]!.trim().split(/\s+/).slice(3)).toEqual(['7', '8']);
    expect(text).toContain('   7  msg.boundaries [seqpacket, abstract] MUST');
    expect(text).toContain('   8  abstract.exact-length [seqpacket, abstract] MUST');
    expect(seqAbstract.slice(1).map(cells)).toEqual([['c-reference × c-reference', 'FAIL', 'ok']]);
    expect(block('seqpacket · pathname (2 results)').slice(1).map(cells)).toEqual([['c-reference × c-reference', 'ok'], ['c-reference × ts-net', 'n/a']]);
    expect(block('dgram · pathname (1 result)').slice(1).map(cells)).toEqual([['c-reference × c-reference', 'xfail']]);
    expect(block('stream · pathname (8 results)')).toHaveLength(1 + 8);
    // The properties list is grouped the same way, each case under its group.
    const list = lines.slice(lines.indexOf('Properties:') + 1, lines.indexOf(''));
    expect(list.filter((l) => !/^ {2}[ \d]\d {2}/.test(l)).map((l) => l.trim())).toEqual(GROUPS);
    expect(list[list.indexOf('  dgram · pathname') + 1]).toBe('   9  msg.boundaries [dgram]     MUST');
    // No line of the matrix is wider than one row with every case as a column.
    const labelWidth = Math.max(18, ...report.results.map((r) => `${r.server} × ${r.client}`.length)) + 2;
    const widest = labelWidth + 7 * reportCases(report).length;
    for (const g of GROUPS) for (const l of block(lines.find((h) => h.startsWith(`${g} (`))!)) expect(l.trimEnd().length).toBeLessThanOrEqual(widest);
  });

  it('the terminal details name the socket type and address of each unexpected result, first, and group the expected failures', () => {
    const text = renderDetails(report, { expectedToo: true });
    expect(text).toContain('FAIL  msg.boundaries [seqpacket, abstract]  c-reference × c-reference  (MUST)\n  requirement: one message per recv\n  socket type · address: seqpacket · abstract\n  two messages arrived in one recv');
    expect(text).toContain('FAIL  delivery.payload  ts-net × c-reference  (MUST)\n  requirement: bytes in = bytes out\n  socket type · address: stream · pathname\n');
    expect(text.indexOf('Unexpected results (4)')).toBe(0);
    const expected = text.slice(text.indexOf('Expected failures (2):'));
    expect(expected).toBe(
      'Expected failures (2):\n' +
        '  stream · pathname\n    delivery.payload  c-reference × c-original  (MUST): stdout differs from the payload at offset 0 (expected 1 bytes, got 0)\n' +
        '  dgram · pathname\n    msg.boundaries [dgram]  c-reference × c-reference  (MUST): a datagram was split',
    );
  });

  it('summary.md names them for every listed result and counts every result by them', () => {
    const md = renderMarkdown(report);
    expect(md).toContain('**FAIL** `msg.boundaries [seqpacket, abstract]` c-reference × c-reference (MUST): two messages arrived in one recv\n  - requirement: one message per recv\n  - socket type · address: seqpacket · abstract');
    expect(md).toMatch(/\*\*FAIL\*\* `delivery.payload` ts-net × c-reference[^\n]*\n {2}- requirement: [^\n]*\n {2}- socket type · address: stream · pathname\n/);
    const table = md.slice(md.indexOf('### By socket type and address'));
    expect(table.split('\n')[2]).toBe('| socket type · address | results | held | ❌ fail | 💥 error | ❗ unexpected-pass | ⚠️ expected-fail | ✅ pass | ➖ unsupported |');
    const rows = table.split('\n').slice(4, 9);
    expect(rows).toEqual([
      '| stream · pathname | 8 | 4/7 | 1 | 1 | 1 | 1 | 3 | 1 |',
      '| stream · abstract | 2 | 2/2 | 0 | 0 | 0 | 0 | 2 | 0 |',
      '| seqpacket · pathname | 2 | 1/1 | 0 | 0 | 0 | 0 | 1 | 1 |',
      '| seqpacket · abstract | 2 | 1/2 | 1 | 0 | 0 | 0 | 1 | 0 |',
      '| dgram · pathname | 1 | 0/1 | 0 | 0 | 0 | 1 | 0 | 0 |',
    ]);
    expect(table.split('\n')[9]).toBe('');
    const xfail = md.slice(md.indexOf('<details><summary>Expected failures (2)</summary>'), md.indexOf('</details>'));
    expect(xfail).toMatch(/\*\*stream · pathname\*\*\n\n- `delivery.payload` c-reference × c-original \(MUST\)[^\n]*\n\n\*\*dgram · pathname\*\*\n\n- `msg.boundaries \[dgram\]` c-reference × c-reference \(MUST\): a datagram was split \(known: known split\)\n/);
  });

  it('every JUnit testcase states them in its properties, and stream · pathname cases keep their names', () => {
    const xml = renderJUnit(report);
    checkXml(xml);
    const testcases = [...xml.matchAll(/<testcase name="([^"]*)" classname="([^"]*)"[^>]*?(\/?)>([\s\S]*?)(?:<\/testcase>|(?=<testcase|<\/testsuite))/g)];
    expect(testcases).toHaveLength(report.results.length);
    const seen = testcases.map((m) => {
      const props = /<properties><property name="socketType" value="(\w+)"\/><property name="address" value="(\w+)"\/>/.exec(m[4]!);
      return `${m[2]} ${m[1]} ${props ? `${props[1]} · ${props[2]}` : '(none)'}`;
    });
    expect(new Set(seen)).toEqual(new Set(report.results.map((r) => `${r.server} × ${r.client} ${caseLabel(r)} ${variantName(r)}`)));
    // A stream · pathname case is named by the bare property id, as before.
    expect(xml).toMatch(/<testcase name="delivery.payload" classname="c-reference × c-reference" time="0.012">\s*<properties><property name="socketType" value="stream"\/><property name="address" value="pathname"\/><property name="level" value="MUST"\/><property name="status" value="pass"\/><\/properties>\s*<\/testcase>/);
    expect(xml).toMatch(/<testcase name="msg.boundaries \[seqpacket, abstract\]"[^>]*>\s*<properties><property name="socketType" value="seqpacket"\/><property name="address" value="abstract"\/><property name="level" value="MUST"\/><property name="status" value="fail"\/><\/properties>\s*<failure /);
  });

  it('the page offers the socket types and address kinds the results have, in the protocol order', () => {
    const data = (r: RunReport) => JSON.parse(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(renderHtml(r))![1]!) as { socketTypes: string[]; addresses: string[] };
    expect(data(report)).toMatchObject({ socketTypes: ['stream', 'seqpacket', 'dgram'], addresses: ['pathname', 'abstract'] });
    // The first result on an abstract name comes before any at a pathname: the order is still the protocol's.
    const abstractFirst = [...report.results.filter((r) => r.address === 'abstract'), ...report.results.filter((r) => r.socketType === 'seqpacket' && r.address === 'pathname')];
    expect(abstractFirst.map((r) => `${r.socketType} ${r.address}`)[0]).toBe('seqpacket abstract');
    expect(data({ ...report, results: abstractFirst })).toMatchObject({ socketTypes: ['stream', 'seqpacket'], addresses: ['pathname', 'abstract'] });
    expect(data(fixtureReport())).toMatchObject({ socketTypes: ['stream'], addresses: ['pathname'] });
  });
});

describe('results.json', () => {
  it('version 2 records socket types, addresses, drivers and their capabilities, and matches docs/results.schema.json', async () => {
    const impl = (name: string, driver: boolean) => ({ name, kind: 'builtin' as const, description: name, expectations: {}, server: { payload: true, command: { command: ['x'] } }, ...(driver ? { driver: { command: { command: ['d'] } } } : {}) });
    const built = await buildReport({
      seed: 1,
      runs: 2,
      startedAt: new Date('2026-01-02T03:04:05Z'),
      durationMs: 10.4,
      implementations: [impl('plain', false), impl('driven', true), impl('refused', true)],
      properties: [
        { id: 'a.b', level: 'MUST', category: 'a', scope: 'server', requirement: 'r', reference: 'unix(7)' },
        { id: 'fd.x', level: 'MAY', category: 'fd', scope: 'server', requirement: 'r', reference: 'cmsg(3)', socketTypes: ['stream', 'seqpacket'], addresses: ['pathname', 'abstract'] },
      ],
      results: [result({ server: 'plain', client: '-', property: 'a.b', status: 'pass' }), result({ server: 'driven', client: '-', property: 'fd.x', socketType: 'seqpacket', address: 'abstract', status: 'pass' })],
      capabilities: new Map([
        ['driven', { capabilities: V1_CAPABILITIES }],
        ['refused', { unsupported: 'no driver binary' }],
      ]),
    });
    expect(built.schemaVersion).toBe(2);
    expect(built.implementations.map((i) => [i.name, i.driver, i.capabilities])).toEqual([
      ['plain', false, undefined],
      ['driven', true, V1_CAPABILITIES],
      ['refused', true, undefined],
    ]);
    expect(built.implementations[0]).not.toHaveProperty('features');
    expect(built.properties.map((p) => [p.socketTypes, p.addresses])).toEqual([
      [['stream'], ['pathname']],
      [['stream', 'seqpacket'], ['pathname', 'abstract']],
    ]);
    expectValidResults(JSON.parse(JSON.stringify(built)));
    expectValidResults(fixtureReport());
  });
});

describe('matrix helpers', () => {
  it('order severity: fail, error, unexpected-pass, expected-fail, pass, unsupported', () => {
    expect(worstStatus(['pass', 'unsupported'])).toBe('pass');
    expect(worstStatus(['pass', 'expected-fail', 'unsupported'])).toBe('expected-fail');
    expect(worstStatus(['expected-fail', 'unexpected-pass'])).toBe('unexpected-pass');
    expect(worstStatus(['error', 'fail'])).toBe('fail');
    expect(worstStatus([])).toBeUndefined();
    expect(matrixAxes({ ...fixtureReport(), results: [] })).toEqual({ servers: [], clients: [] });
  });

  it('exit codes follow the results: 3 nothing ran, 1 unexpected, 0 otherwise', () => {
    const { results: r, properties } = fixtureReport();
    expect(exitCodeFor(r, properties)).toBe(1);
    expect(exitCodeFor(r.filter((x) => x.status === 'pass' || x.status === 'expected-fail'), properties)).toBe(0);
    expect(exitCodeFor(r.filter((x) => x.status === 'unsupported'), properties)).toBe(3);
    expect(exitCodeFor([], properties)).toBe(3);
    expect(exitCodeFor([], properties, { shard: true })).toBe(0);
  });
});

/** A failure of the fixture's SHOULD property, by c-reference's server. */
function shouldFailure(): ResultEntry {
  return result({ server: 'c-reference', client: '-', property: 'server.should-thing', status: 'fail', message: 'the SHOULD did not hold', counterexample: { input: 1, seed: 3, path: '0', numShrinks: 0 } });
}

/** The results with the SHOULD property's pass turned into that failure. */
function withShouldFailure(results: ResultEntry[]): ResultEntry[] {
  return results.map((r) => (r.property === 'server.should-thing' ? shouldFailure() : r));
}

describe('levels grade the exit status, as in h2spec', () => {
  const { properties } = fixtureReport();
  const pass = result({ server: 'c-reference', client: 'c-reference', property: 'delivery.payload', status: 'pass' });
  const mustFail = result({ server: 'ts-net', client: 'c-reference', property: 'delivery.payload', status: 'fail' });

  it('a MUST failure exits 1; a SHOULD or MAY failure exits 0, and 1 with strict', () => {
    expect(exitCodeFor([pass, mustFail], properties)).toBe(1);
    expect(exitCodeFor([pass, shouldFailure()], properties)).toBe(0);
    expect(exitCodeFor([pass, shouldFailure()], properties, { strict: true })).toBe(1);
    const mayProperties = properties.map((p) => (p.id === 'server.should-thing' ? { ...p, level: 'MAY' as const } : p));
    expect(exitCodeFor([pass, shouldFailure()], mayProperties)).toBe(0);
    expect(exitCodeFor([pass, shouldFailure()], mayProperties, { strict: true })).toBe(1);
    // A result's own level is what it is graded by; one without a known property counts as MUST.
    expect(exitCodeFor([pass, { ...mustFail, level: 'SHOULD' }], properties)).toBe(0);
    expect(exitCodeFor([pass, { ...shouldFailure(), property: 'not.listed' }], properties)).toBe(1);
  });

  it('a stale expectation or a harness error fails the run whatever the level', () => {
    expect(exitCodeFor([pass, { ...shouldFailure(), status: 'unexpected-pass' }], properties)).toBe(1);
    expect(exitCodeFor([pass, { ...shouldFailure(), status: 'error' }], properties)).toBe(1);
    expect(exitCodeFor([pass, { ...shouldFailure(), status: 'expected-fail' }], properties, { strict: true })).toBe(0);
  });

  it('results.json gives every result its property\'s level, right after the property id', async () => {
    const report = fixtureReport();
    const built = await buildReport({ ...report, implementations: [], startedAt: new Date(report.startedAt), results: withShouldFailure(report.results) });
    expect(built.results.map((r) => [r.property, r.level])).toEqual(report.results.map((r) => [r.property, r.property === 'server.should-thing' ? 'SHOULD' : 'MUST']));
    expect(Object.keys(built.results[0]!).slice(0, 4)).toEqual(['server', 'client', 'property', 'level']);
    expectValidResults(JSON.parse(JSON.stringify(built)));
    // A level that is not its property's is refused on reading: the exit is graded by it.
    const lying = JSON.parse(JSON.stringify(built)) as RunReport;
    lying.results[1]!.level = 'MAY';
    expect(() => validateReport(lying, 'lying.json')).toThrow(/^lying\.json: results\[1\]\.level: MAY differs from delivery\.payload's level MUST$/);
    lying.results[1]!.level = 'SOMETIMES' as never;
    expect(() => validateReport(lying, 'lying.json')).toThrow(/^lying\.json: results\[1\]\.level: /);
  });

  it('every report shows the level of every failure', () => {
    const report = { ...fixtureReport(), results: withShouldFailure(fixtureReport().results) };
    report.summary = summarize(report.results);
    const xml = renderJUnit(report);
    checkXml(xml);
    expect(xml).toMatch(/<testcase name="server.should-thing" classname="c-reference × -"[^>]*>\s*<properties><property name="socketType" value="stream"\/><property name="address" value="pathname"\/><property name="level" value="SHOULD"\/><property name="status" value="fail"\/><\/properties>\s*<failure type="fail \(SHOULD\)" message="\[SHOULD\] the SHOULD did not hold">[^<]*requirement \(SHOULD\): a SHOULD/);
    const md = renderMarkdown(report);
    expect(md.split('\n')[0]).toBe('## uds-conformance: ❌ 4 unexpected (1 of them SHOULD or MAY failures)');
    expect(md).toContain('**FAIL** `server.should-thing` c-reference × - (SHOULD): the SHOULD did not hold');
    expect(md).toContain('`delivery.payload` c-reference × c-original (MUST): stdout differs');
    const onlyShould = { ...report, results: [fixtureReport().results[0]!, shouldFailure()] };
    expect(renderMarkdown(onlyShould).split('\n')[0]).toBe('## uds-conformance: ⚠️ 1 unexpected, SHOULD or MAY failures only');
    const text = renderDetails(report, { expectedToo: true });
    expect(text).toContain('FAIL  server.should-thing  c-reference × -  (SHOULD)\n  a SHOULD failure: reported, but it does not fail the run (--strict makes it)');
    expect(text).toContain('FAIL  delivery.payload  ts-net × c-reference  (MUST)\n  requirement: bytes in = bytes out');
    expect(text).toContain('  delivery.payload  c-reference × c-original  (MUST): stdout differs');
    expect(renderDetails(report, { expectedToo: false, strict: true })).not.toContain('does not fail the run');
  });
});

describe('blame in every report', () => {
  /** ts-net's server blamed after 5 re-runs with c-reference as the client, 2 of which failed. */
  function flakyReport(): RunReport {
    const report = fixtureReport();
    const results = report.results.map((r) => (r.server === 'ts-net' && r.client === 'c-reference' ? { ...r, blame: 'server' as const, blameRuns: { server: { failed: 2, of: 5 } }, flaky: { failed: 2, of: 5 } } : r));
    return { ...report, results };
  }

  it('results.json carries the re-run counts and matches the schema; a count beyond its re-runs is refused', () => {
    const report = flakyReport();
    expectValidResults(JSON.parse(JSON.stringify(report)));
    expect(validateReport(JSON.parse(JSON.stringify(report)), 'f.json')).toEqual(report);
    const broken = JSON.parse(JSON.stringify(report)) as RunReport;
    broken.results[1]!.flaky = { failed: 6, of: 5 };
    expect(() => validateReport(broken, 'f.json')).toThrow(/^f\.json: results\[1\]\.flaky\.failed: 6 failed re-runs of only 5$/);
    broken.results[1]!.blameRuns = { client: { failed: 1, of: 0 } };
    expect(() => validateReport(broken, 'f.json')).toThrow(/^f\.json: results\[1\]\.blameRuns\.client\.of: /);
  });

  it('the terminal, JUnit and summary.md say how often each re-run failed, and that it is flaky', () => {
    const report = flakyReport();
    expect(renderDetails(report, { expectedToo: false })).toContain('  blame: server (server: 2/5) · flaky: failed 2 of 5 re-runs');
    const xml = renderJUnit(report);
    checkXml(xml);
    expect(xml).toContain('<properties><property name="socketType" value="stream"/><property name="address" value="pathname"/><property name="level" value="MUST"/><property name="blame" value="server"/><property name="blame.server" value="2/5"/><property name="flaky" value="2/5"/><property name="status" value="fail"/>');
    expect(xml).toContain('blame: server (server: 2/5) · flaky: failed 2 of 5 re-runs\nintermittent: flaky: failed 2 of 5 re-runs');
    expect(renderMarkdown(report)).toContain('  - blame: server (server: 2/5) · flaky: failed 2 of 5 re-runs');
    const xfail = { ...report, results: report.results.map((r) => (r.status === 'expected-fail' ? { ...r, flaky: { failed: 1, of: 5 } } : r)) };
    expect(renderDetails(xfail, { expectedToo: true })).toContain('(MUST): stdout differs from the payload at offset 0 (expected 1 bytes, got 0) (flaky: failed 1 of 5 re-runs)');
    expect(renderMarkdown(xfail)).toContain('(flaky: failed 1 of 5 re-runs)');
  });
});

describe('progress without a terminal', () => {
  it('prints plain lines with done/total, the unexpected results so far and the expected failures', () => {
    const lines: string[] = [];
    const stream = { isTTY: false, write: (t: string) => lines.push(t) } as unknown as NodeJS.WriteStream;
    const progress = startProgress({ total: 3, stream, label: 'shard 1/2' });
    const [pass, fail, xfail] = ['pass', 'fail', 'expected-fail'].map((status) => fixtureReport().results.find((r) => r.status === status)!);
    progress.update(pass!, 1);
    progress.update(fail!, 2);
    progress.update(xfail!, 3);
    progress.stop();
    progress.stop();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[shard 1\/2\] \[\d+ s\] 3\/3 cases done, 1 unexpected, 1 xfail\n$/);
  });
});

describe('reading and merging results', () => {
  const shard = (index: number, results: ResultEntry[]): RunReport => ({ ...fixtureReport(), results, summary: summarize(results), shard: { index, count: 3 } });

  it('names the file and the field of bad input', () => {
    const bad = (mutate: (o: any) => void): string => {
      const o = JSON.parse(JSON.stringify(fixtureReport()));
      mutate(o);
      try {
        validateReport(o, 'x.json');
      } catch (err) {
        expect(err).toBeInstanceOf(ReportInputError);
        return (err as Error).message;
      }
      throw new Error('accepted bad input');
    };
    expect(bad((o) => (o.schemaVersion = 3))).toBe('x.json: schemaVersion: expected one of 1, 2');
    expect(bad((o) => (o.results[1].status = 'meh'))).toMatch(/^x\.json: results\[1\]\.status: expected one of pass, /);
    expect(bad((o) => delete o.results[0].server)).toBe('x.json: results[0].server: is required');
    expect(bad((o) => delete o.results[3].socketType)).toBe('x.json: results[3].socketType: is required');
    expect(bad((o) => (o.results[3].address = 'anywhere'))).toBe('x.json: results[3].address: expected one of pathname, abstract');
    expect(bad((o) => delete o.implementations[1].driver)).toBe('x.json: implementations[1].driver: is required');
    expect(bad((o) => delete o.properties[2].socketTypes)).toBe('x.json: properties[2].socketTypes: is required');
    expect(bad((o) => (o.results[0].property = 'nope'))).toBe('x.json: results[0].property: "nope" is not among the file\'s properties');
    expect(bad((o) => (o.properties[0].level = 'OUGHT'))).toMatch(/^x\.json: properties\[0\]\.level: expected one of MUST, SHOULD, MAY/);
    expect(bad((o) => (o.seed = 'x'))).toBe('x.json: seed: must be integer');
    expect(bad((o) => (o.shard = { index: 4, count: 3 }))).toBe('x.json: shard.index: 4 is more than shard.count 3');
    expect(bad((o) => o.results.push(o.results[0]))).toBe('x.json: results[8]: the same case as results[0] (delivery.payload c-reference × c-reference)');
    // A version 1 file has no socketType to tell cases apart: each case is a stream socket at a pathname.
    const v1 = (mutate: (o: any) => void): string => {
      const o = fixtureReportV1() as any;
      mutate(o);
      try {
        validateReport(o, 'v1.json');
      } catch (err) {
        expect(err).toBeInstanceOf(ReportInputError);
        return (err as Error).message;
      }
      throw new Error('accepted bad input');
    };
    expect(v1((o) => delete o.results[0].server)).toBe('v1.json: results[0].server: is required');
    expect(v1((o) => o.results.push(o.results[2]))).toBe('v1.json: results[8]: the same case as results[2] (delivery.payload c-reference × c-original)');
  });

  it('reads a version 1 file as version 2: every result a stream socket at a pathname', () => {
    const v1 = fixtureReportV1();
    expectValidResults(v1);
    const read = validateReport(v1, 'v1.json');
    expect(read).toEqual(fixtureReportFromV1());
    expectValidResults(read);
  });

  it('tells the cases of one pairing apart by socket type and address kind, and a version 1 shard merges with a version 2 one', () => {
    const report = variantReport();
    expectValidResults(report);
    expect(validateReport(report, 'v.json').results).toEqual(report.results);
    const labels = report.results.filter((r) => r.property === 'fd.identity').map(caseLabel);
    expect(labels).toEqual(['fd.identity', 'fd.identity [abstract]', 'fd.identity [seqpacket]', 'fd.identity [seqpacket, abstract]']);
    const v1 = validateReport(fixtureReportV1(), 'v1.json');
    const { report: merged } = mergeReports([
      { file: 'v1.json', report: { ...v1, shard: { index: 1, count: 2 } } },
      { file: 'v2.json', report: { ...report, results: report.results.filter((r) => r.property === 'fd.identity'), shard: { index: 2, count: 2 } } },
    ]);
    expect(merged.schemaVersion).toBe(2);
    expectValidResults(merged);
    expect(merged.results.slice(-4).map(caseLabel)).toEqual(labels);
  });

  it('merges shards in the order of a single run and refuses overlapping or foreign ones', () => {
    const all = fixtureReport().results;
    const parts = [shard(2, all.slice(0, 3)), shard(1, all.slice(3, 6)), shard(3, all.slice(6))];
    const { report, warnings } = mergeReports(parts.map((p, i) => ({ file: `s${i}.json`, report: p })));
    expect(warnings).toEqual([]);
    expect(report.results.map((r) => `${r.property} ${r.server} ${r.client}`)).toEqual([
      'delivery.payload c-reference c-original',
      'delivery.payload c-reference c-reference',
      'delivery.payload c-original c-reference',
      'delivery.payload ts-net c-reference',
      'delivery.payload ts-net ts-net',
      'path.forms c-original c-original',
      'connect.enoent - ts-net',
      'server.should-thing c-reference -',
    ].map((s) => s).sort((a, b) => order(a) - order(b)));
    expect(report.summary).toEqual(summarize(all));
    expect(report.merged).toEqual({ from: ['s0.json', 's1.json', 's2.json'], shards: [1, 2, 3] });
    expect(report.shard).toBeUndefined();

    expect(mergeReports([{ file: 'a', report: parts[0]! }]).warnings).toEqual(['shards 1, 3 of 3 missing: the merged report is incomplete']);
    expect(() => mergeReports([{ file: 'a', report: parts[0]! }, { file: 'b', report: shard(1, all.slice(2, 4)) }])).toThrow(
      'b: results[0]: case delivery.payload c-reference × c-original is also in a',
    );
    expect(() => mergeReports([{ file: 'a', report: parts[0]! }, { file: 'b', report: { ...parts[1]!, seed: 7 } }])).toThrow(/^b: seed: 7 differs from 42 in a/);
    expect(() => mergeReports([{ file: 'a', report: parts[0]! }, { file: 'b', report: shard(2, []) }])).toThrow('b: shard.index: shard 2 is also in a');
  });

  it('keeps a cancelled shard visible: the merged report is partial, with the cases that did not run summed', () => {
    const all = fixtureReport().results;
    const parts = [shard(1, all.slice(0, 3)), { ...shard(2, all.slice(3, 6)), partial: true as const, notRun: 4 }, { ...shard(3, all.slice(6)), partial: true as const, notRun: 1 }];
    const { report, warnings } = mergeReports(parts.map((p, i) => ({ file: `s${i}.json`, report: p })));
    expect([report.partial, report.notRun]).toEqual([true, 5]);
    expect(warnings).toEqual(['s1.json, s2.json are partial runs: 5 cases did not run, and the merged report is partial']);
    expectValidResults(report);
    const whole = mergeReports(parts.slice(0, 1).concat(shard(2, all.slice(3, 6)), shard(3, all.slice(6))).map((p, i) => ({ file: `s${i}.json`, report: p }))).report;
    expect([whole.partial, whole.notRun]).toEqual([undefined, undefined]);
  });

  function order(key: string): number {
    const [property, server, client] = key.split(' ');
    const impl = (n: string): number => (n === '-' ? -1 : ['c-original', 'c-reference', 'ts-net'].indexOf(n));
    const prop = ['delivery.payload', 'path.forms', 'connect.enoent', 'server.should-thing'].indexOf(property!);
    return prop * 100 + impl(server!) * 10 + impl(client!);
  }
});

describe('report and merge commands', () => {
  it('report --from re-renders all four reports and exits as the results say', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      const from = join(dir.path, 'in.json');
      await writeFile(from, JSON.stringify(fixtureReport()));
      const r = await cli(['report', '--from', from, '--out', join(dir.path, 'out')]);
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stdout).toContain('server × client');
      const again = JSON.parse(await readFile(join(dir.path, 'out', 'results.json'), 'utf8')) as RunReport;
      expectValidResults(again);
      expect(again).toEqual(fixtureReport());
      expect(await readFile(join(dir.path, 'out', 'junit.xml'), 'utf8')).toBe(renderJUnit(fixtureReport()));
      expect(await readFile(join(dir.path, 'out', 'summary.md'), 'utf8')).toBe(renderMarkdown(fixtureReport()));
      expect(await readFile(join(dir.path, 'out', 'index.html'), 'utf8')).toBe(renderHtml(fixtureReport()));

      const passing = { ...fixtureReport(), results: fixtureReport().results.filter((x) => x.status === 'pass') };
      await writeFile(from, JSON.stringify(passing));
      expect((await cli(['report', '--from', from, '--out', join(dir.path, 'out2')])).exitCode).toBe(0);
      expectValidResults(JSON.parse(await readFile(join(dir.path, 'out2', 'results.json'), 'utf8')));
    } finally {
      await dir.cleanup();
    }
  });

  it('report --from grades the exit by level: a SHOULD failure exits 0, and 1 with --strict', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      const from = join(dir.path, 'should.json');
      const results = withShouldFailure(fixtureReport().results).filter((r) => r.status === 'pass' || r.property === 'server.should-thing');
      await writeFile(from, JSON.stringify({ ...fixtureReport(), results, summary: summarize(results) }));
      const lenient = await cli(['report', '--from', from, '--out', join(dir.path, 'out')]);
      expect(lenient.exitCode, lenient.stderr).toBe(0);
      expect(lenient.stdout).toContain('FAIL  server.should-thing  c-reference × -  (SHOULD)\n  a SHOULD failure: reported, but it does not fail the run (--strict makes it)');
      const strict = await cli(['report', '--from', from, '--out', join(dir.path, 'out'), '--strict']);
      expect(strict.exitCode, strict.stderr).toBe(1);
      expect(strict.stdout).toContain('FAIL  server.should-thing  c-reference × -  (SHOULD)\n  requirement: a SHOULD');
    } finally {
      await dir.cleanup();
    }
  });

  it('report --from reads a version 1 results.json and writes version 2', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      const from = join(dir.path, 'v1.json');
      await writeFile(from, JSON.stringify(fixtureReportV1()));
      const r = await cli(['report', '--from', from, '--out', join(dir.path, 'out')]);
      expect(r.exitCode, r.stderr).toBe(1);
      const again = JSON.parse(await readFile(join(dir.path, 'out', 'results.json'), 'utf8')) as RunReport;
      expectValidResults(again);
      expect(again).toEqual(fixtureReportFromV1());
      expect(await readFile(join(dir.path, 'out', 'junit.xml'), 'utf8')).toBe(renderJUnit(fixtureReport()));
    } finally {
      await dir.cleanup();
    }
  });

  it('bad input exits 2 and names the file and the field', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      const good = join(dir.path, 'good.json');
      const bad = join(dir.path, 'bad.json');
      const other = join(dir.path, 'other.json');
      await writeFile(good, JSON.stringify(fixtureReport()));
      const broken = fixtureReport() as any;
      broken.results[2].status = 'sideways';
      await writeFile(bad, JSON.stringify(broken));
      await writeFile(other, JSON.stringify({ ...fixtureReport(), seed: 9, results: [] }));
      const out = ['--out', join(dir.path, 'out')];
      const cases: Array<[string[], RegExp]> = [
        [['merge', good, bad, ...out], new RegExp(`${bad}: results\\[2\\]\\.status: expected one of`)],
        [['merge', good, other, ...out], new RegExp(`${other}: seed: 9 differs from 42`)],
        [['merge', good, join(dir.path, 'missing.json'), ...out], /missing\.json: \(file\): cannot read it \(ENOENT\)/],
        [['merge', ...out], /merge needs one or more results\.json files/],
        [['report', '--from', bad, ...out], /bad\.json: results\[2\]\.status/],
        [['report', ...out], /report needs --from FILE/],
        [['report', '--from', good, '--bogus'], /report: Unknown option '--bogus'/],
        [['run', '--shard', '1/3'], /--shard needs --seed N/],
        [['run', '--shard', '4/3', '--seed', '1'], /--shard 4\/3: need 1 <= i <= n/],
        [['run', '--shard', 'half', '--seed', '1'], /--shard must look like i\/n/],
        [['replay', '--coverage'], /--coverage is only for run/],
      ];
      for (const [args, message] of cases) {
        const r = await cli(args);
        expect(r.exitCode, `${args.join(' ')}\n${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(message);
      }
      await writeFile(bad, '{ not json');
      const r = await cli(['report', '--from', bad, ...out]);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/bad\.json: \(json\): not JSON/);
    } finally {
      await dir.cleanup();
    }
  });
});

/**
 * A sequence property's evidence (details.sequence, docs/results.md): a failing sequence whose third
 * step differs, with outcomes that hold bytes (a NUL, a newline, markup); and a result whose
 * details.sequence does not have the shape (the oracle has one step too few).
 */
function sequenceReport(): RunReport {
  const base = fixtureReport();
  const sequence = {
    commands: ['connect c1', 'accept s1', 'c1.send 3 bytes [MSG_NOSIGNAL]', 's1.shutdown SHUT_WR', 'c1.recv 8 [MSG_DONTWAIT]'],
    subject: { label: 'ts-net × c-reference', steps: ['ok', 'ok', 'ok sent 2', 'not run', 'not run'] },
    oracle: { label: 'c-reference × c-reference (kernel)', steps: ['ok', 'ok', 'ok sent 3', 'ok', "data '<b>\u0000\n' (3 bytes) flags []"] },
    firstDifference: 2,
    equivalence: 'stream bytes as a concatenation up to each sync point',
  };
  const results: ResultEntry[] = [
    ...base.results,
    result({
      server: 'ts-net', client: 'c-reference', property: 'sequence.equivalent', status: 'fail',
      message: 'step 3 differs from the kernel',
      evidence: { message: 'step 3 differs from the kernel', details: { sequence, transcripts: { server: ['hello'] } } },
      replay: 'npx uds-conformance replay --property sequence.equivalent --server ts-net --client c-reference --seed 3 --path 7:1',
    }),
    result({
      server: 'c-reference', client: 'ts-net', property: 'sequence.equivalent', status: 'fail',
      message: 'step 1 differs',
      evidence: { message: 'step 1 differs', details: { sequence: { ...sequence, oracle: { ...sequence.oracle, steps: ['ok'] } } } },
    }),
  ];
  return {
    ...base,
    properties: [
      ...base.properties,
      { id: 'sequence.equivalent', level: 'MUST', category: 'sequences', scope: 'pairing', requirement: 'the same sequence has the same outcomes as the kernel', reference: 'unix(7)', socketTypes: ['stream'], addresses: ['pathname'] },
    ],
    results,
    summary: summarize(results),
  };
}

describe('sequence evidence in every report', () => {
  const report = sequenceReport();
  const good = report.results.at(-2)!;
  const bad = report.results.at(-1)!;

  it('reads details.sequence only when it has the shape, and never throws', () => {
    const s = sequenceEvidence(good.evidence!.details);
    expect(s?.firstDifference).toBe(2);
    expect(s?.subject.label).toBe('ts-net × c-reference');
    expect(sequenceEvidence(bad.evidence!.details)).toBeUndefined();
    const ok = good.evidence!.details!.sequence as Record<string, unknown>;
    const misfits: unknown[] = [
      undefined, null, 'x', [], {}, { sequence: 'x' }, { sequence: [] },
      { sequence: { ...ok, commands: 'connect' } },
      { sequence: { ...ok, commands: [1, 2, 3, 4, 5] } },
      { sequence: { ...ok, equivalence: 3 } },
      { sequence: { ...ok, subject: { label: 'x', steps: ['ok', 'ok', 'ok', 'ok', 7] } } },
      { sequence: { ...ok, subject: { steps: ['ok', 'ok', 'ok', 'ok', 'ok'] } } },
      { sequence: { ...ok, oracle: null } },
      { sequence: { ...ok, firstDifference: 5 } },
      { sequence: { ...ok, firstDifference: -1 } },
      { sequence: { ...ok, firstDifference: 1.5 } },
      { sequence: { ...ok, firstDifference: '2' } },
      { sequence: { ...ok, firstDifference: undefined } },
    ];
    for (const m of misfits) expect(sequenceEvidence(m), JSON.stringify(m)).toBeUndefined();
    expect(sequenceEvidence({ sequence: { ...ok, firstDifference: null } })?.firstDifference).toBeNull();
    // The report with both still matches the schema (details is free-form there).
    expectValidResults(JSON.parse(JSON.stringify(report)));
  });

  it('the terminal details give the first differing step in two lines: the command, then both outcomes', () => {
    const text = renderDetails(report, { expectedToo: false });
    expect(text).toContain([
      '  first difference at step 3 of 5: c1.send 3 bytes [MSG_NOSIGNAL]',
      '    ts-net × c-reference: ok sent 2 · c-reference × c-reference (kernel): ok sent 3',
    ].join('\n'));
    // The misfit is still listed, without a first difference.
    expect(text).toContain('FAIL  sequence.equivalent  c-reference × ts-net');
    expect(text.match(/first difference at step/g)).toHaveLength(1);
  });

  it('summary.md gives the first differing step in one line', () => {
    const md = renderMarkdown(report);
    expect(md).toContain('  - first difference at step 3 of 5: `c1.send 3 bytes [MSG_NOSIGNAL]` · ts-net × c-reference: `ok sent 2` · c-reference × c-reference (kernel): `ok sent 3`');
    expect(md.match(/first difference at step/g)).toHaveLength(1);
  });

  it('a step outcome holding bytes stays on one line, escaped', () => {
    const last = { ...(good.evidence!.details!.sequence as Record<string, unknown>), firstDifference: 4 };
    const r = { ...good, evidence: { ...good.evidence!, details: { sequence: last } } };
    const one = { ...report, results: [r], summary: summarize([r]) };
    const text = renderDetails(one, { expectedToo: false });
    expect(text).toContain("    ts-net × c-reference: not run · c-reference × c-reference (kernel): data '<b>\\x00\\x0a' (3 bytes) flags []");
    expect(renderMarkdown(one)).toContain("`data '<b>\\x00\\x0a' (3 bytes) flags []`");
  });

  it('the page gets the checked sequence of each result, null for a misfit, and no outcome can end its script element', () => {
    const html = renderHtml(report);
    expect(html.match(/<\/script>/g)).toHaveLength(2);
    const json = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
    const data = JSON.parse(json) as { report: RunReport; sequences: unknown[] };
    expect(data.report).toEqual(report);
    expect(data.sequences).toHaveLength(report.results.length);
    expect(data.sequences.at(-2)).toEqual(good.evidence!.details!.sequence);
    expect(data.sequences.at(-1)).toBeNull();
    expect(data.sequences.slice(0, -2).every((s) => s === null)).toBe(true);
  });
});

/**
 * junit.xml as a real consumer reads it: junit-to-ctrf (a devDependency) gives each testcase one status
 * from its child elements and drops <skipped>'s message and type and every <property>, as CI UIs do; an
 * expected failure must still not look like a case that did not run. Without the package the test is
 * skipped, except under CI=true, where it must run.
 */
const junitConsumer = await import(['junit-to-ctrf'][0]!).catch(() => undefined) as
  | { convertJUnitToCTRFReport: (file: string) => Promise<{ results: { summary: Record<string, number>; tests: Array<{ name: string; status: string; suite: string[]; stdout?: string[]; message?: string; trace?: string }> } }> }
  | undefined;
describe.skipIf(!junitConsumer && process.env.CI !== 'true')('junit.xml read by junit-to-ctrf', () => {
  it('tells expected failures (passed, saying so first in stdout) from unsupported cases (skipped), and keeps the command lines of a failure', async () => {
    if (!junitConsumer) throw new Error('junit-to-ctrf is not installed: it is a devDependency (npm install)');
    const report = fixtureReport();
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      const file = join(dir.path, 'junit.xml');
      await writeFile(file, renderJUnit(report));
      const ctrf = await junitConsumer.convertJUnitToCTRFReport(file);
      const test = (suite: string, name: string) => ctrf.results.tests.find((t) => t.suite.includes(suite) && t.name === name)!;
      const xfail = test('c-reference × c-original', 'delivery.payload');
      expect(xfail.status).toBe('passed');
      expect(xfail.stdout?.[0]).toBe('expected failure: fputs stops at NUL');
      expect(xfail.stdout).toContainEqual(expect.stringMatching(/^replay: npx uds-conformance replay /));
      expect(test('c-original × c-reference', 'delivery.payload').status).toBe('skipped');
      const s = report.summary;
      expect(ctrf.results.summary).toMatchObject({ tests: report.results.length, skipped: s.unsupported, failed: s.fail + s['unexpected-pass'] + s.error, passed: s.pass + s['expected-fail'] });
      const failure = test('ts-net × c-reference', 'delivery.payload');
      expect(failure.status).toBe('failed');
      expect(failure.message).toContain('[MUST] stdout differs');
      expect(failure.trace).toContain('server command: $ node cli.js');
    } finally {
      await dir.cleanup();
    }
  });
});
