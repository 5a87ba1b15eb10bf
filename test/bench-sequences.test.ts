/**
 * The benchmark's sequence throughput (h) and per-area shares (f): the C floor (bench-seqfloor) runs
 * the bench's own scripted sequences on real AF_UNIX sockets and checks every answer (a script
 * altered at one expected answer stops it there, naming the line); the scripted sequences are the
 * harness's (each case's transcript length is the scripted walk's); and the report's rows from fixed
 * figures. No timed assertion: the speed itself is measured by `npm run bench` only.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sequenceRows, TARGETS, wallRows } from '../bench/report.js';
import type { ScriptedSequence } from '../bench/sequence-script.js';
import { oracleCapabilities, prepareSequences, SEQUENCE_RUNS, SEQUENCE_SEED, type PairingSequenceFigure, type SequenceFigures } from '../bench/sequences.js';
import { areaShares, type WallFigure } from '../bench/wall.js';
import { C_BIN, PROJECT_ROOT } from '../suite/harness/paths.js';
import { liveProcessCount } from '../suite/harness/process.js';
import type { Property } from '../suite/properties/property.js';
import { sequenceEquivalent } from '../suite/properties/sequences.js';
import { cReference, tsNative } from '../suite/registry.js';
import { runSuite } from '../suite/run.js';
import type { GeneratedSequence } from '../suite/sequence/commands.js';
import { leftoversOf } from './support/leftovers.js';

const SEQFLOOR = join(C_BIN, 'bench-seqfloor');

interface FloorOut {
  sequences: number;
  unique: number;
  jobs: number;
  steps: number;
  wallMs: number;
  failures: number;
}

let dir: string;
/** The bench's sequences for each pairing it measures, as prepareSequences scripts them. */
const prepared = new Map<string, Awaited<ReturnType<typeof prepareSequences>>>();

beforeAll(async () => {
  // `npm run build` makes it too; make is a no-op when the binary is up to date, and rebuilds a stale one.
  await execa('make', ['-s', '-C', join(PROJECT_ROOT, 'c-reference', 'bench')]);
  dir = mkdtempSync(join(os.tmpdir(), 'udsc-test-seqfloor-'));
  const oracle = await oracleCapabilities();
  for (const impl of [cReference, tsNative]) prepared.set(impl.name, await prepareSequences(impl, oracle));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  expect(liveProcessCount()).toBe(0);
  expect(leftoversOf(process.pid)).toEqual({ dirs: [], sockets: [], processes: [] });
});

function scriptsOf(name: string): ScriptedSequence[] {
  const p = prepared.get(name);
  if (!p) throw new Error(`no sequences prepared for ${name}`);
  return p.scripts;
}

async function runFloor(lines: string[], count: number, jobs: number): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  const r = await execa(SEQFLOOR, [dir, String(count), String(jobs)], { input: `${lines.join('\n')}\n`, reject: false, timeout: 30_000 });
  // Every sequence unlinks its socket path, also the one a difference stopped.
  expect(readdirSync(dir)).toEqual([]);
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

describe('bench-seqfloor, the C floor of the sequence throughput', () => {
  it.each(['c-reference', 'ts-native'])('runs the bench\'s %s × itself sequences on real sockets, every answer as scripted, in 1 process and in 2', async (name) => {
    const scripts = scriptsOf(name);
    const lines = scripts.flatMap((s) => s.lines);
    // The steps after each listen (S) and before each end (E), counted here from the script.
    const steps = scripts.reduce((n, s) => n + s.lines.filter((l) => l !== 'E' && !l.startsWith('S ')).length, 0);
    for (const jobs of [1, 2]) {
      // Twice over, so that each worker reuses its socket path for a later sequence.
      const r = await runFloor(lines, 2 * scripts.length, jobs);
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      const out = JSON.parse(r.stdout) as FloorOut;
      expect(out).toMatchObject({ sequences: 2 * scripts.length, unique: scripts.length, jobs, steps: 2 * steps, failures: 0 });
      expect(out.wallMs).toBeGreaterThan(0);
    }
  });

  /** One expected answer of the c-reference script altered: the first line `match` finds, rewritten. */
  const alterations: Array<{ what: string; match: RegExp; alter: (line: string) => string; says: (line: string) => RegExp }> = [
    { what: 'a byte of received data', match: /^R .* data \d \S+ \S+$/, alter: (l) => l.slice(0, -1) + (l.endsWith('A') ? 'B' : 'A'), says: () => /recv got \d+ bytes that differ from the expected ones/ },
    { what: 'the fds received', match: /^R .* data [1-3] /, alter: (l) => l.replace(/ data (\d) /, (_, n: string) => ` data ${Number(n) - 1} `), says: (l) => new RegExp(`recv got ${/ data (\d) /.exec(l)![1]} fds, not ${Number(/ data (\d) /.exec(l)![1]) - 1}`) },
    { what: 'the errno of a recv', match: /^R .* err EAGAIN$/, alter: (l) => l.replace(/EAGAIN$/, 'ECONNRESET'), says: () => /recv got EAGAIN, not the expected answer/ },
    { what: 'the errno of a send', match: /^W .* err EPIPE$/, alter: (l) => l.replace(/EPIPE$/, 'ECONNRESET'), says: () => /got EPIPE, not the expected answer/ },
    { what: 'the count sent', match: /^W .* sent \d+$/, alter: (l) => l.replace(/(\d+)$/, (n) => String(Number(n) + 1)), says: (l) => new RegExp(`got ${/(\d+)$/.exec(l)![1]}, not the expected answer`) },
    { what: 'an EOF', match: /^R .* eof$/, alter: (l) => l.replace(/eof$/, 'err EAGAIN'), says: () => /recv got EOF, not the expected answer/ },
    { what: 'a connect that succeeds', match: /^C \d+ \d ok$/, alter: (l) => l.replace(/ok$/, 'err ECONNREFUSED'), says: () => /got 0, not the expected answer/ },
  ];

  /** The lines with the first match altered, its 1-based input line and the 0-based sequence it is in. */
  function altered(lines: string[], a: (typeof alterations)[number]): { lines: string[]; line: number; sequence: number; original: string } {
    const at = lines.findIndex((l) => a.match.test(l));
    if (at < 0) throw new Error(`the bench's c-reference sequences have no step for ${a.what} (${a.match})`);
    const copy = [...lines];
    copy[at] = a.alter(lines[at]!);
    expect(copy[at]).not.toBe(lines[at]);
    return { lines: copy, line: at + 1, sequence: lines.slice(0, at + 1).filter((l) => l.startsWith('S ')).length - 1, original: lines[at]! };
  }

  it.each(alterations.map((a) => [a.what, a] as const))('stops at %s altered in the script, exit 1, naming that sequence and line', async (_, a) => {
    const lines = scriptsOf('c-reference').flatMap((s) => s.lines);
    const bad = altered(lines, a);
    const r = await runFloor(bad.lines, scriptsOf('c-reference').length, 1);
    expect(r.exitCode).toBe(1);
    // Stopped at the difference: no figure printed, one line on stderr naming the step.
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^seqfloor: sequence ${bad.sequence}, input line ${bad.line}: `));
    expect(r.stderr).toMatch(a.says(bad.original));
  });

  it('counts a worker stopped by a difference as a failure, with exit 1, in parallel', async () => {
    const scripts = scriptsOf('c-reference');
    const bad = altered(
      scripts.flatMap((s) => s.lines),
      alterations[0]!,
    );
    // The altered sequence runs twice in 2 × its count: once in each worker (i and i + unique differ in parity).
    expect(scripts.length % 2).toBe(1);
    const r = await runFloor(bad.lines, 2 * scripts.length, 2);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ sequences: 2 * scripts.length, jobs: 2, failures: 2 });
    const said = r.stderr.trim().split('\n');
    expect(said).toEqual([0, 1].map(() => expect.stringMatching(new RegExp(`^seqfloor: sequence ${bad.sequence}, input line ${bad.line}: recv got`))));
  });
});

describe('the bench\'s sequences are the harness\'s', () => {
  it('scripts one sequence per case of the unit, on the transports its rows name (the target follows them)', () => {
    for (const [name, transport] of [['c-reference', 'process'], ['ts-native', 'in-process']] as const) {
      const p = prepared.get(name)!;
      expect(p.unit).toMatchObject({ socketType: 'stream', address: 'pathname', transport: { server: transport, client: transport } });
      expect(p.scripts).toHaveLength(p.casesPerUnit);
      // The property's 2 examples and its maxRuns (5) generated runs, whatever --runs asks.
      expect(p.casesPerUnit).toBe((sequenceEquivalent.examples?.length ?? 0) + Math.min(SEQUENCE_RUNS, sequenceEquivalent.maxRuns ?? SEQUENCE_RUNS));
      for (const s of p.scripts) expect([s.lines[0]!.startsWith('S '), s.lines.at(-1)]).toEqual([true, 'E']);
    }
  });

  it('c-reference × c-reference, one unit through runSuite: every case\'s transcript is as long as its scripted walk', async () => {
    const p = prepared.get('c-reference')!;
    // The bench's property (stream only, same id and seeds), recording what each case observed.
    const seen: number[] = [];
    const recording: Property<GeneratedSequence> = {
      ...sequenceEquivalent,
      socketTypes: ['stream'],
      async check(cmds, ctx) {
        const observed = await sequenceEquivalent.check(cmds, ctx);
        seen.push((observed as { steps: number }).steps);
        return observed;
      },
    };
    const report = await runSuite({ implementations: [cReference], properties: [recording], runs: SEQUENCE_RUNS, seed: SEQUENCE_SEED });
    expect(report.results).toHaveLength(1);
    const [r] = report.results;
    expect(r).toMatchObject({ server: 'c-reference', client: 'c-reference', socketType: 'stream', address: 'pathname', status: 'pass', runs: p.casesPerUnit });
    // The bench's own check: the last case's transcript length, the last script's.
    expect(r!.observed).toEqual({ steps: p.scripts.at(-1)!.transcriptLines });
    // Every case's (cases may finish out of order: compared as a multiset).
    const sorted = (xs: number[]): number[] => [...xs].sort((x, y) => x - y);
    expect(sorted(seen)).toEqual(sorted(p.scripts.map((s) => s.transcriptLines)));
    expect(new Set(seen).size).toBeGreaterThan(2);
  });
});

describe('bench report: sequence rows and per-area shares', () => {
  const floor = (jobs: number, sequencesPerSecond: number): PairingSequenceFigure['floor'] => ({ jobs, sequences: 203, passes: 20, steps: 30_000, wallMs: 203_000 / sequencesPerSecond, sequencesPerSecond });
  const pairing = (name: string, transport: PairingSequenceFigure['transport'], sequencesPerSecond: number, extra: Partial<PairingSequenceFigure> = {}): PairingSequenceFigure => {
    const floorParallel = floor(2, 25_000);
    return {
      server: name,
      client: name,
      transport,
      unitSeed: 1,
      units: 29,
      casesPerUnit: 7,
      cases: 203,
      rounds: 3,
      wallMs: 203_000 / sequencesPerSecond,
      callMs: 203_000 / sequencesPerSecond + 50,
      sequencesPerSecond,
      cpuPerCaseMs: 1.5,
      floor: floor(1, 12_500),
      floorParallel,
      ratio: sequencesPerSecond / floorParallel.sequencesPerSecond,
      limitsLeftOut: 0,
      killsAsCloses: 0,
      transcriptLinesChecked: 4,
      ...extra,
    };
  };
  const figures = (pairings: PairingSequenceFigure[]): SequenceFigures => ({ seed: SEQUENCE_SEED, runs: SEQUENCE_RUNS, jobsCeiling: 4, cores: 2, pairings });

  it('sets 200/s on in-process drivers and 30/s on process drivers, with ok and MISSED, and ratios to the floor at each job count', () => {
    const rows = sequenceRows(
      figures([
        pairing('ts-native', { server: 'in-process', client: 'in-process' }, 250, { limitsLeftOut: 4, killsAsCloses: 1 }),
        pairing('c-reference', { server: 'process', client: 'process' }, 20),
        // One side in-process is not an in-process pairing: its target is the process drivers'.
        pairing('mixed', { server: 'in-process', client: 'process' }, 100),
      ]),
    );
    expect(TARGETS).toMatchObject({ sequencesInProcess: 200, sequencesCProcess: 30 });
    expect(rows[0]!.figure).toMatch(/^\(h\) sequence\.equivalent, stream at pathnames, seed 14, --runs 200 \(maxRuns caps a unit at 7 cases, examples included\), jobs default \(≤ 4\)$/);
    const harness = rows.filter((r) => r.figure.includes(', harness: '));
    expect(harness.map((r) => [r.figure.trim(), r.measured, r.target, r.ratio, r.verdict])).toEqual([
      ['ts-native × ts-native (in-process drivers), harness: 29 units × 7 cases, median of 3', '250 sequences/s, CPU 1.50 ms/case', '≥ 200/s', '1.25×', 'ok'],
      ['c-reference × c-reference (process drivers), harness: 29 units × 7 cases, median of 3', '20.0 sequences/s, CPU 1.50 ms/case', '≥ 30/s', '0.67×', 'MISSED'],
      ['mixed × mixed (server in-process, client process), harness: 29 units × 7 cases, median of 3', '100 sequences/s, CPU 1.50 ms/case', '≥ 30/s', '3.33×', 'ok'],
    ]);
    const floors = rows.filter((r) => r.figure.includes('C floor:'));
    expect(floors.map((r) => [r.figure.trim(), r.measured, r.target, r.verdict])).toEqual([
      ['C floor: the same 7 sequences in one world, no drivers (4 limit left out, 1 kill as closes), 2 processes | 1', '25000 sequences/s | 12500 sequences/s', 'floor', ''],
      ['C floor: the same 7 sequences in one world, no drivers, 2 processes | 1', '25000 sequences/s | 12500 sequences/s', 'floor', ''],
      ['C floor: the same 7 sequences in one world, no drivers, 2 processes | 1', '25000 sequences/s | 12500 sequences/s', 'floor', ''],
    ]);
    // harness / floor, like for like by the floor's process count: 250/25000 and 250/12500, never crossed.
    const ratios = rows.filter((r) => r.figure.includes('harness / C floor'));
    expect(ratios.map((r) => [r.target, r.ratio, r.verdict])).toEqual([
      ['context', '0.010× (1/100) | 0.020× (1/50)', ''],
      ['context', '0.00080× (1/1250) | 0.0016× (1/625)', ''],
      ['context', '0.0040× (1/250) | 0.0080× (1/125)', ''],
    ]);
    expect(ratios[0]!.figure).toMatch(/ts-native × ts-native: floor at 2 jobs \| 1 process$/);
    expect(rows).toHaveLength(1 + 3 * 3);
  });

  it('groups the results by area (the property id\'s first segment), largest first, shares of the summed unit time', () => {
    const results = [
      { property: 'stream.a', durationMs: 100 },
      { property: 'sequence.equivalent', durationMs: 600 },
      { property: 'stream.b', durationMs: 50 },
      { property: 'path.x', durationMs: 150 },
      { property: 'cred.y', durationMs: 100 },
      { property: 'stream.a', durationMs: 0 },
    ];
    const areas = areaShares(results);
    // path and stream tie at 150 ms: by name.
    expect(areas).toEqual([
      { area: 'sequence', units: 1, ms: 600, share: 0.6 },
      { area: 'path', units: 1, ms: 150, share: 0.15 },
      { area: 'stream', units: 3, ms: 150, share: 0.15 },
      { area: 'cred', units: 1, ms: 100, share: 0.1 },
    ]);
    expect(areaShares([{ property: 'fd.z', durationMs: 0 }])).toEqual([{ area: 'fd', units: 1, ms: 0, share: 0 }]);
    expect(areaShares([])).toEqual([]);

    const wall: WallFigure = { samples: 1, wallMs: 45_000, results: results.length, summary: { pass: 6 }, seeds: [3], exitCodes: [0], areas, unitMs: 1000 };
    const rows = wallRows(wall);
    expect(rows.map((r) => [r.figure.trim(), r.measured, r.target, r.ratio, r.verdict])).toEqual([
      ['(f) default run, 6 results', '45.0 s', '≤ 60 s', '0.75×', 'ok'],
      ['per area, share of the summed unit time (1.0 s over 6 units, in parallel)', '', '', 'share', ''],
      ['sequence, 1 unit', '0.6 s', '', '60.0%', ''],
      ['path, 1 unit', '0.1 s', '', '15.0%', ''],
      ['stream, 3 units', '0.1 s', '', '15.0%', ''],
      ['cred, 1 unit', '0.1 s', '', '10.0%', ''],
    ]);
    expect(wallRows({ ...wall, wallMs: 61_000 })[0]).toMatchObject({ ratio: '1.02×', verdict: 'MISSED' });
    expect(wallRows(undefined)).toEqual([{ figure: '(f) default run', measured: 'skipped (--no-wall)', target: '≤ 60 s', ratio: '', verdict: '' }]);
  });
});
