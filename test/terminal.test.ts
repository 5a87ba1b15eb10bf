/**
 * The terminal report fits the terminal (issue 16, item 1): its width from COLUMNS or the TTY (80
 * otherwise), colour by the NO_COLOR / FORCE_COLOR / TTY conventions, the matrix when it fits and one
 * line per pairing when not, the unexpected results first and in full (requirement, blame, expected
 * against actual, the first stderr line, a replay that still pastes when wrapped); summary.md has the
 * same blame and stderr line; the progress ETA is steady and in one time format.
 */
import { stripVTControlCharacters } from 'node:util';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { ResultEntry } from '../suite/model/types.js';
import { blameLine, durationText, stderrHead } from '../suite/report/common.js';
import { colorEnabled, terminalWidth, wrap, wrapShell } from '../suite/report/layout.js';
import { renderMarkdown } from '../suite/report/markdown.js';
import { EtaEstimator, startProgress } from '../suite/report/progress.js';
import { summarize, type RunReport } from '../suite/report/results.js';
import { renderSummary, renderTerminalReport } from '../suite/report/terminal.js';

function result(partial: Partial<ResultEntry> & Pick<ResultEntry, 'server' | 'client' | 'property' | 'status'>): ResultEntry {
  return { socketType: 'stream', address: 'pathname', runs: 3, durationMs: 12, ...partial };
}

const LONG_REPLAY =
  "npx uds-conformance replay --property delivery.payload --server ts-net --client my-subject --seed 17 --path '3:0:1:0:0:2~QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkwYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo:c2VxdWVuY2U' --subject '/home/someone/projects/my library/uds-manifest.json'";

/**
 * A report of `cases` properties over three implementations: one unexpected failure with blame,
 * multi-line stderr on both sides and a long replay; an expected failure; unsupported cases.
 */
function report(cases: number, subject = 'my-subject'): RunReport {
  const ids = Array.from({ length: cases }, (_, i) => `area${i % 4}.property-${i}`);
  const names = ['c-reference', 'ts-net', subject];
  const results: ResultEntry[] = [];
  for (const server of names) {
    for (const client of names) {
      ids.forEach((property, i) => {
        if (server === 'ts-net' && client === names[2] && i === 1) {
          results.push(
            result({
              server,
              client,
              property,
              status: 'fail',
              message: 'stdout differs from the payload at offset 3 (got 4 of the 6 bytes expected)',
              evidence: {
                message: 'stdout differs',
                expected: '@0: "ab\\x00<&>"',
                actual: '@0: "ab\\x00]"',
                server: { how: 'process', exitCode: 0, signal: null, timedOut: false, stderr: '\n  listening on /tmp/udsc-1/s with a first line long enough that it cannot fit in eighty columns at all\nsecond line\nthird\n', stdoutLength: 0, durationMs: 3 },
                client: { how: 'process', exitCode: 1, signal: null, timedOut: false, stderr: 'read: \u0001 reset\n', stdoutLength: 4, durationMs: 2 },
              },
              counterexample: { input: { length: 6 }, seed: 17, path: '3:0', numShrinks: 4 },
              replay: LONG_REPLAY,
              blame: 'client',
              blameRuns: { server: { failed: 0, of: 5 }, client: { failed: 5, of: 5 } },
            }),
          );
        } else if (client === 'ts-net' && i === 2) {
          results.push(result({ server, client, property, status: 'expected-fail', message: 'a known failure', reason: 'node:net cannot' }));
        } else if (server === names[2] && i % 3 === 0) {
          results.push(result({ server, client, property, status: 'unsupported', runs: 0, reason: 'no driver' }));
        } else results.push(result({ server, client, property, status: 'pass' }));
      });
    }
  }
  return {
    schemaVersion: 2,
    tool: { name: 'uds-conformance', version: '0.1.0' },
    seed: 42,
    runs: 3,
    startedAt: '2026-11-23T22:50:40.000Z',
    durationMs: 83_400,
    implementations: names.map((name) => ({ name, roles: ['server', 'client'], kind: 'builtin', payload: true, driver: false, description: name })),
    properties: ids.map((id) => ({ id, level: 'MUST', category: 'x', scope: 'pairing', requirement: `the requirement of ${id}, stated in one sentence that is long enough to wrap at eighty columns`, reference: 'unix(7)', socketTypes: ['stream'], addresses: ['pathname'] })),
    results,
    summary: summarize(results),
  } as RunReport;
}

const widest = (text: string): number => Math.max(...stripVTControlCharacters(text).split('\n').map((l) => [...l].length));

describe('the width and the colour', () => {
  it('takes COLUMNS first, then the terminal, else 80', () => {
    expect(terminalWidth({ isTTY: true, columns: 132 }, { COLUMNS: '100' })).toBe(100);
    expect(terminalWidth({ isTTY: true, columns: 132 }, {})).toBe(132);
    expect(terminalWidth({ isTTY: false, columns: 132 }, {})).toBe(80);
    expect(terminalWidth({}, {})).toBe(80);
    expect(terminalWidth({}, { COLUMNS: 'wide' })).toBe(80);
    expect(terminalWidth({}, { COLUMNS: '0' })).toBe(80);
    expect(terminalWidth({}, { COLUMNS: '12' })).toBe(40);
  });

  it('colours a TTY, not a pipe; NO_COLOR turns it off, FORCE_COLOR on', () => {
    const tty = { isTTY: true };
    const pipe = { isTTY: false };
    expect(colorEnabled(tty, {})).toBe(true);
    expect(colorEnabled(pipe, {})).toBe(false);
    expect(colorEnabled(pipe, { CI: 'true' })).toBe(false);
    expect(colorEnabled(tty, { TERM: 'dumb' })).toBe(false);
    expect(colorEnabled(tty, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled(tty, { NO_COLOR: '' })).toBe(true);
    expect(colorEnabled(pipe, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled(pipe, { FORCE_COLOR: '' })).toBe(true);
    expect(colorEnabled(tty, { FORCE_COLOR: '0' })).toBe(false);
    expect(colorEnabled(pipe, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(false);
  });

  it('colours the marks only when asked', () => {
    const r = report(4);
    const plain = renderTerminalReport(r, { width: 120 });
    const coloured = renderTerminalReport(r, { width: 120, color: true });
    expect(plain).not.toMatch(/\x1b\[/);
    // FAIL bold red, ok green; the text is the same without the escapes.
    expect(coloured).toContain('\x1b[1m\x1b[31mFAIL\x1b[39m\x1b[22m');
    expect(coloured).toContain('\x1b[32mok\x1b[39m');
    expect(stripVTControlCharacters(coloured)).toBe(plain);
  });
});

describe('the terminal report fits', () => {
  for (const width of [80, 120]) {
    for (const cases of [4, 12, 40]) {
      it(`at ${width} columns with ${cases} properties, no line is wider (coloured or not, a short or a long subject name)`, () => {
        for (const subject of ['my-subject', 'a-subject-with-a-rather-long-name-that-takes-half-a-line']) {
          const r = report(cases, subject);
          for (const color of [false, true]) {
            const text = renderTerminalReport(r, { width, color });
            expect(widest(text), text).toBeLessThanOrEqual(width);
            expect(widest(renderSummary(r, { width }))).toBeLessThanOrEqual(width);
          }
        }
      });
    }
  }

  it('prints the matrix when it fits, with numbered properties and a legend; one line per pairing when not', () => {
    const small = renderTerminalReport(report(4), { width: 80 });
    expect(small).toContain('Properties:');
    expect(small).toMatch(/^server × client +1 +2 +3 +4$/m);
    expect(small).toMatch(/^ts-net × my-subject +ok +FAIL +ok +ok$/m);
    expect(small).toMatch(/ok pass, FAIL fail, xfail expected fail/);
    // 12 columns of 6 after a 25-column label: 97 columns, too wide for 80, not for 120.
    expect(renderTerminalReport(report(12), { width: 120 })).toContain('Properties:');
    const narrow = renderTerminalReport(report(12), { width: 80 });
    expect(narrow).not.toContain('Properties:');
    expect(narrow).toMatch(/^stream · pathname \(108 results\)$/m);
    // Count columns line up: a pairing without expected failures leaves that column blank.
    expect(narrow).toMatch(/^ts-net × my-subject {9}ok 11 {3}FAIL: area1\.property-1$/m);
    expect(narrow).toMatch(/^c-reference × ts-net +ok 11 +xfail 1$/m);
    expect(narrow).toMatch(/^my-subject × c-reference {4}ok 8 {12}n\/a 4$/m);
  });

  it('lists a pairing\'s failing cases by status, and goes on indented when they do not fit', () => {
    const r = report(40);
    const many = r.results.map((x) => (x.server === 'c-reference' && x.client === 'c-reference' && /-(1\d)$/.test(x.property) ? { ...x, status: 'fail' as const } : x));
    many.push(result({ server: 'c-reference', client: 'c-reference', property: 'area0.property-0', status: 'error', socketType: 'seqpacket' }));
    const text = renderTerminalReport({ ...r, results: many, summary: summarize(many) }, { width: 80 });
    const at = text.split('\n').findIndex((l) => l.startsWith('c-reference × c-reference'));
    const lines = text.split('\n').slice(at, at + 4);
    expect(lines[0]).toMatch(/^c-reference × c-reference +ok 30$/);
    expect(lines[1]).toMatch(/^ {4}FAIL: area2\.property-10, area3\.property-11, /);
    expect(lines.slice(1).join(' ')).toContain('area1.property-17, area2.property-18, area3.property-19');
    // The error is on another socket type: its own group, its own line.
    expect(text).toMatch(/^seqpacket · pathname \(1 result\)\nc-reference × c-reference +ERROR: area0\.property-0 \[seqpacket\]$/m);
  });

  it('puts the unexpected results first, in full: requirement, blame, expected and actual, the first stderr line of each side, replay', () => {
    const text = renderTerminalReport(report(12), { width: 80 });
    expect(text.indexOf('Unexpected results (1):')).toBe(0);
    expect(text.indexOf('Unexpected results')).toBeLessThan(text.indexOf('stream · pathname ('));
    expect(text.indexOf('stream · pathname (')).toBeLessThan(text.indexOf('Expected failures (3):'));
    const failure = text.slice(0, text.indexOf('\n\n', text.indexOf('FAIL  ')));
    expect(failure).toContain('FAIL  area1.property-1  ts-net × my-subject  (MUST)\n  requirement: the requirement of area1.property-1,');
    expect(failure).toContain('  blame: client (server: 0/5, client: 5/5)');
    expect(failure).toContain('  expected: @0: "ab\\x00<&>"\n  actual:   @0: "ab\\x00]"');
    // The first non-empty line, wrapped, and how many follow; control characters escaped.
    expect(failure).toMatch(/ {2}server stderr: listening on \/tmp\/udsc-1\/s with a first line long enough that\n {6}it cannot fit in eighty columns at all \(\+2 more lines\)/);
    expect(failure).toContain('  client stderr: read: \\u0001 reset\n');
    expect(failure).toContain('  replay: npx uds-conformance replay');
  });

  it('a partial run says so first, and in short in the summary line', () => {
    const r = { ...report(4), partial: true as const, notRun: 5 };
    const text = renderTerminalReport(r, { width: 80 });
    expect(text.split('\n')[0]).toMatch(/^partial run: cancelled before it finished; 5 of \d+ cases did not run/);
    expect(text.match(/partial run/g)).toHaveLength(1);
    expect(renderSummary(r, { width: 80 }).split('\n')[0]).toBe(`partial run: 5 of ${r.results.length + 5} cases did not run`);
  });

  it('wraps the replay so that a shell reads the same command from the lines pasted', async () => {
    const lines = wrapShell(LONG_REPLAY, 80, '  replay: ', '      ');
    expect(lines.length).toBeGreaterThan(2);
    for (const l of lines) expect([...l].length).toBeLessThanOrEqual(80);
    const pasted = lines.join('\n').replace(/^ {2}replay: /, '');
    const words = async (command: string): Promise<string[]> => (await execa('bash', ['-c', `printf '%s\\n' ${command.replace(/^npx /, '')}`])).stdout.split('\n');
    const original = await words(LONG_REPLAY);
    expect(original).toContain('/home/someone/projects/my library/uds-manifest.json');
    expect(await words(pasted)).toEqual(original);
    // A quote inside a quoted word, cut anywhere, too.
    const quoted = `npx uds-conformance replay --path '${'a'.repeat(50)}'\\''${'b'.repeat(50)}' --seed 1`;
    for (const width of [40, 47, 53, 61]) {
      const cut = wrapShell(quoted, width).join('\n');
      for (const l of cut.split('\n')) expect(l.length).toBeLessThanOrEqual(width);
      expect(await words(cut)).toEqual(await words(quoted));
    }
  });

  it('wraps prose at spaces with a hanging indent, keeping the spaces inside a line, and cuts a word longer than a line', () => {
    expect(wrap('FAIL  a.b  x × y  (MUST)', 80)).toEqual(['FAIL  a.b  x × y  (MUST)']);
    expect(wrap('one two three four', 9, '', '  ')).toEqual(['one two', '  three', '  four']);
    expect(wrap('x'.repeat(25), 10, '> ', '  ')).toEqual(['> xxxxxxxx', '  xxxxxxxx', '  xxxxxxxx', '  x']);
  });
});

describe('summary.md: blame and the first stderr line', () => {
  it('gives both for an unexpected result', () => {
    const md = renderMarkdown(report(4));
    expect(md).toContain('  - blame: client (server: 0/5, client: 5/5)');
    expect(md).toContain('  - server stderr: `listening on /tmp/udsc-1/s with a first line long enough that it cannot fit in eighty columns at all` (+2 more lines in results.json)');
    expect(md).toContain('  - client stderr: `read: \\u0001 reset`\n');
  });

  it('infers the side to blame from the other pairings when blame did not run, and says it is inferred', () => {
    const r = report(4);
    const results = r.results.map((x) => (x.property === 'area0.property-0' && x.server === 'ts-net' && x.client !== 'ts-net' ? { ...x, status: 'fail' as const, message: 'no' } : x));
    const failing = results.find((x) => x.status === 'fail' && x.property === 'area0.property-0')!;
    expect(blameLine(failing, results)).toBe(`server (inferred: server ts-net fails this case with another client too)`);
    // One failing pairing alone says nothing about which side it is.
    expect(blameLine(failing, results.filter((x) => x === failing || x.status !== 'fail'))).toBeUndefined();
    expect(renderMarkdown({ ...r, results, summary: summarize(results) })).toContain('  - blame: server (inferred: server ts-net fails this case with another client too)');
  });

  it('reads the first non-empty stderr line, and nothing from an empty one', () => {
    expect(stderrHead({ stderr: '\r\n\nfirst\r\nsecond\n' })).toEqual({ line: 'first', more: 1 });
    expect(stderrHead({ stderr: ' \n' })).toBeUndefined();
    expect(stderrHead(undefined)).toBeUndefined();
  });
});

describe('progress', () => {
  it('formats every time one way', () => {
    expect([0, 400, 59_400, 60_000, 185_000, 3_599_000, 3_600_000, 3_720_000].map(durationText)).toEqual(['0 s', '0 s', '59 s', '1 min 00 s', '3 min 05 s', '59 min 59 s', '1 h 00 min', '1 h 02 min']);
  });

  /**
   * A run as the plan orders it (by property): 40 unsupported units that take no time, 60 quick ones
   * (0.5 s), 60 slow ones (3 s), 60 quick ones of another property, two at a time. The truth at each
   * result is known.
   */
  type Reading = { done: number; eta: number | undefined; truth: number };
  function simulate(estimator: (kinds: string[]) => EtaEstimator): Reading[] {
    const units = [
      ...Array<[string, number]>(40).fill(['unsupported', 0]),
      ...Array<[string, number]>(60).fill(['quick', 500]),
      ...Array<[string, number]>(60).fill(['slow', 3000]),
      ...Array<[string, number]>(60).fill(['quick2', 500]),
    ];
    const eta = estimator(units.map(([k]) => k));
    const total = units.reduce((s, [, ms]) => s + ms, 0) / 2;
    let clock = 0;
    return units.map(([kind, ms], i) => {
      clock += ms / 2;
      eta.record(kind, ms);
      return { done: i + 1, eta: eta.eta(clock), truth: total - clock };
    });
  }
  const relativeError = (r: Reading): number => Math.abs(r.eta! - r.truth) / r.truth;

  it('estimates the units left by the mean of their own kind, and is near the truth once every kind has run', () => {
    const readings = simulate((kinds) => new EtaEstimator(kinds));
    // Only unsupported units so far: nothing measured, no ETA rather than a wrong one.
    expect(readings[39]!.eta).toBeUndefined();
    expect(readings[40]!.eta).toBeGreaterThan(0);
    for (const r of readings.slice(170, -1)) expect(Math.abs(r.eta! - r.truth), JSON.stringify(r)).toBeLessThan(Math.max(1500, 0.25 * r.truth));
    expect(readings.at(-1)!.eta).toBe(0);
    // One mean over all units (what a rate over the run extrapolates) holds on to the quick units'
    // pace while the slow ones run: far further off there.
    const overall = simulate((kinds) => new EtaEstimator(kinds.map(() => 'unit')));
    const worst = (rs: Reading[]): number => Math.max(...rs.slice(104, 150).map(relativeError));
    expect(worst(readings) * 3, `${worst(readings)} vs ${worst(overall)}`).toBeLessThan(worst(overall));
  });

  it('moves a fraction of the way to a new estimate at each result, so it does not jump', () => {
    const shown = simulate((kinds) => new EtaEstimator(kinds));
    const raw = simulate((kinds) => new EtaEstimator(kinds, 1));
    // The change at each result beyond the countdown between them.
    const jumps = (rs: Reading[]): number[] => rs.slice(41).map((r, i) => Math.abs(r.eta! - (rs[40 + i]!.eta! - (rs[40 + i]!.truth - r.truth))));
    // The first slow unit: the raw estimate leaps (30 s to 105 s); the shown one moves under a third of that.
    expect(Math.max(...jumps(raw))).toBeGreaterThan(60_000);
    expect(Math.max(...jumps(shown))).toBeLessThan(0.35 * Math.max(...jumps(raw)));
    // And within six results of it, it is within 15% of the truth.
    expect(relativeError(shown[105]!)).toBeLessThan(0.15);
  });

  it('counts down steadily over units of one kind whose times vary', () => {
    const eta = new EtaEstimator(Array<string>(100).fill('a'));
    let clock = 0;
    let last = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 100; i++) {
      const ms = i % 2 ? 700 : 300;
      clock += ms;
      eta.record('a', ms);
      const now = eta.eta(clock)!;
      // Once a few units have shown the kind's mean: never up, and within a unit's time of the truth.
      if (i >= 20) {
        expect(now).toBeLessThanOrEqual(last);
        expect(Math.abs(now - (100 - i - 1) * 500)).toBeLessThanOrEqual(700);
      }
      last = now;
      // Between results it only counts down.
      expect(eta.eta(clock + 200)).toBe(Math.max(0, now - 200));
    }
  });

  it('plain lines give the elapsed time and the ETA in the same format', () => {
    let now = 0;
    const lines: string[] = [];
    const stream = { isTTY: false, write: (t: string) => lines.push(t) } as unknown as NodeJS.WriteStream;
    const progress = startProgress({ total: 3, kinds: ['a', 'a', 'a'], stream, now: () => now, intervalMs: 60_000 });
    now = 65_000;
    progress.update(result({ server: 'x', client: 'y', property: 'a', status: 'pass', durationMs: 65_000 }), 1);
    now = 130_000;
    progress.update(result({ server: 'x', client: 'y', property: 'a', status: 'pass', durationMs: 65_000 }), 2);
    progress.stop();
    expect(lines).toEqual(['[2 min 10 s] 2/3 cases done, 0 unexpected, 0 xfail, ETA 1 min 05 s\n']);
  });
});
