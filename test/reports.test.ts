/**
 * The reports rendered from a RunReport built here (every status, both single-role placeholders, bytes
 * that XML and HTML cannot hold as they are), `report --from`, and merge's checks of its input.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import vm from 'node:vm';
import { dir as tmpDir } from 'tmp-promise';
import { describe, expect, it } from 'vitest';
import { matrixAxes, scorecards, worstStatus } from '../suite/report/common.js';
import { renderHtml } from '../suite/report/html.js';
import { HTML_JS } from '../suite/report/html-assets.js';
import { renderJUnit } from '../suite/report/junit.js';
import { renderMarkdown } from '../suite/report/markdown.js';
import { mergeReports, ReportInputError, validateReport } from '../suite/report/merge.js';
import { summarize, type RunReport } from '../suite/report/results.js';
import { startProgress } from '../suite/report/progress.js';
import { exitCodeFor } from '../suite/report/write.js';
import type { ResultEntry } from '../suite/model/types.js';
import { cli } from './support/cli.js';

const REPLAY = "npx uds-conformance replay --property delivery.payload --server ts-net --client c-reference --seed 17 --path '3:0'";

function result(partial: Partial<ResultEntry> & Pick<ResultEntry, 'server' | 'client' | 'property' | 'status'>): ResultEntry {
  return { runs: 3, durationMs: 12, ...partial };
}

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
    schemaVersion: 1,
    tool: { name: 'uds-conformance', version: '0.1.0' },
    seed: 42,
    runs: 3,
    startedAt: '2026-11-23T22:50:40.000Z',
    durationMs: 1234,
    implementations: ['c-original', 'c-reference', 'ts-net'].map((name) => ({ name, roles: ['server', 'client'] as const, kind: 'builtin' as const, payload: name !== 'c-original', features: [], description: name })).map((i) => ({ ...i, roles: [...i.roles] })),
    properties: [
      { id: 'delivery.payload', level: 'MUST', category: 'delivery', scope: 'pairing', requirement: 'bytes in = bytes out', reference: 'seed' },
      { id: 'path.forms', level: 'MUST', category: 'paths', scope: 'pairing', requirement: 'paths work', reference: 'unix(7)' },
      { id: 'connect.enoent', level: 'MUST', category: 'connect-errors', scope: 'client', requirement: 'ENOENT', reference: 'connect(2)' },
      { id: 'server.should-thing', level: 'SHOULD', category: 'misc', scope: 'server', requirement: 'a SHOULD', reference: 'here' },
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
    expect(xml).toMatch(/<testsuites name="uds-conformance" tests="8" failures="2" errors="1" skipped="2"/);
  });

  it('puts the requirement, expected against actual and the replay command in a failure', () => {
    const failure = /<testcase name="delivery.payload" classname="ts-net × c-reference"[^>]*>\s*<failure type="fail"[^>]*>([\s\S]*?)<\/failure>/.exec(xml);
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
    expect(xml).toMatch(/<testcase name="path.forms"[^>]*>\s*<failure type="unexpected-pass"/);
    expect(xml).toMatch(/<testcase name="delivery.payload" classname="ts-net × ts-net"[^>]*>\s*<error type="harness-error"/);
    expect(xml).toMatch(/<skipped message="expected failure: fputs stops at NUL">[\s\S]*?replay: npx uds-conformance replay[\s\S]*?<\/skipped>/);
    expect(xml).toContain('<skipped message="unsupported: server c-original lacks payload"/>');
    expect(xml).toMatch(/<testcase name="connect.enoent" classname="- × ts-net" time="0.012"\/>/);
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
    const r = fixtureReport().results;
    expect(exitCodeFor(r)).toBe(1);
    expect(exitCodeFor(r.filter((x) => x.status === 'pass' || x.status === 'expected-fail'))).toBe(0);
    expect(exitCodeFor(r.filter((x) => x.status === 'unsupported'))).toBe(3);
    expect(exitCodeFor([])).toBe(3);
    expect(exitCodeFor([], { shard: true })).toBe(0);
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
    expect(bad((o) => (o.schemaVersion = 2))).toBe('x.json: schemaVersion: expected 1, got 2');
    expect(bad((o) => (o.results[1].status = 'meh'))).toMatch(/^x\.json: results\[1\]\.status: expected one of pass, /);
    expect(bad((o) => delete o.results[0].server)).toBe('x.json: results[0].server: expected a string, missing');
    expect(bad((o) => (o.results[0].property = 'nope'))).toBe('x.json: results[0].property: "nope" is not among the file\'s properties');
    expect(bad((o) => (o.properties[0].level = 'OUGHT'))).toMatch(/^x\.json: properties\[0\]\.level: expected one of MUST, SHOULD, MAY/);
    expect(bad((o) => (o.seed = 'x'))).toBe('x.json: seed: expected an integer, got "x"');
    expect(bad((o) => o.results.push(o.results[0]))).toBe('x.json: results[8]: the same case as results[0] (delivery.payload c-reference × c-reference)');
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
      expect(again).toEqual(fixtureReport());
      expect(await readFile(join(dir.path, 'out', 'junit.xml'), 'utf8')).toBe(renderJUnit(fixtureReport()));
      expect(await readFile(join(dir.path, 'out', 'summary.md'), 'utf8')).toBe(renderMarkdown(fixtureReport()));
      expect(await readFile(join(dir.path, 'out', 'index.html'), 'utf8')).toBe(renderHtml(fixtureReport()));

      const passing = { ...fixtureReport(), results: fixtureReport().results.filter((x) => x.status === 'pass') };
      await writeFile(from, JSON.stringify(passing));
      expect((await cli(['report', '--from', from, '--out', join(dir.path, 'out2')])).exitCode).toBe(0);
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
