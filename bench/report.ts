/**
 * The bench's report: rows of figure, measured, target, ratio, verdict, built from the figures of one
 * run (bench/run.ts measures them). Every ratio here divides two figures measured at the same job
 * count in the same run; no row divides a figure at one job count by one at another.
 */
import type { BatchFigure, CaseFigures, JobsPair } from './cases.js';
import type { MemoryFigure } from './memory.js';
import type { SlowSubjectFigure } from './slow-subject.js';
import type { StartupFigure } from './startup.js';
import type { SequenceFigures } from './sequences.js';
import type { PairingFigure } from './throughput.js';
import type { WallFigure } from './wall.js';

const MiB = 1024 * 1024;

/** Issue 6's targets (throughput, memory, the default run) and issue 17's (case cost, start-up). */
export const TARGETS = {
  /** harness / design floor, at the default job count: the cost of the TypeScript. */
  harnessOverDesign: 1.2,
  /** design floor / bare floor, at the default job count: the cost of the design. */
  designOverBare: 1.3,
  wallMs: 60_000,
  throughput: 0.5,
  memoryMiB: 4,
  /** CPU of `--help`, `--version`, `list` / CPU of `node -e 0`. */
  startup: 1.5,
  /** For the later adaptive runner: the slow subject's wall seconds, fixed jobs / adaptive. */
  slowSubjectSpeedup: 3,
  /** Generated sequences (sequence.equivalent) per second: on in-process drivers, on C process drivers. */
  sequencesInProcess: 200,
  sequencesCProcess: 30,
};

export interface Row {
  figure: string;
  measured: string;
  target: string;
  ratio: string;
  verdict: '' | 'ok' | 'MISSED';
}

/** A ratio of two figures measured at the same job count. */
export interface LikeForLike {
  name: 'harness / design floor' | 'design floor / bare floor';
  meaning: 'the cost of the TypeScript' | 'the cost of the design';
  jobs: number;
  numeratorMs: number;
  denominatorMs: number;
  ratio: number;
  /** Set for the default job count only: the targets are stated there. */
  target?: number;
}

export function likeForLike(c: CaseFigures): LikeForLike[] {
  const out: LikeForLike[] = [];
  // The default job count first (the headline, with the targets), then 1 job; one set when the default is 1.
  for (const sequential of c.jobs === 1 ? [false] : [false, true]) {
    const pick = (p: JobsPair): BatchFigure => (sequential ? p.sequential : p.parallel);
    const [harness, design, bare] = [pick(c.harness), pick(c.design), pick(c.bare)];
    if (harness.jobs !== design.jobs || design.jobs !== bare.jobs) throw new Error('likeForLike: job counts differ');
    const target = (t: number): { target?: number } => (sequential ? {} : { target: t });
    out.push({
      name: 'harness / design floor',
      meaning: 'the cost of the TypeScript',
      jobs: harness.jobs,
      numeratorMs: harness.perCaseMs,
      denominatorMs: design.perCaseMs,
      ratio: harness.perCaseMs / design.perCaseMs,
      ...target(TARGETS.harnessOverDesign),
    });
    out.push({
      name: 'design floor / bare floor',
      meaning: 'the cost of the design',
      jobs: design.jobs,
      numeratorMs: design.perCaseMs,
      denominatorMs: bare.perCaseMs,
      ratio: design.perCaseMs / bare.perCaseMs,
      ...target(TARGETS.designOverBare),
    });
  }
  return out;
}

const ms = (x: number): string => `${x.toFixed(2)} ms`;
const signed = (x: number): string => `${x < 0 ? '-' : '+'}${Math.abs(x).toFixed(1)}`;
const times = (x: number): string => `${x.toFixed(2)}×`;
/** A ratio far below 1, readable: `0.0073× (1/137)`. */
const fraction = (x: number): string => (x >= 0.1 ? times(x) : `${x.toPrecision(2)}× (1/${(1 / x).toFixed(0)})`);
const verdict = (ok: boolean): Row['verdict'] => (ok ? 'ok' : 'MISSED');
const jobsWord = (n: number): string => `${n} job${n === 1 ? '' : 's'}`;
const row = (figure: string, measured = '', target = '', ratio = '', v: Row['verdict'] = ''): Row => ({ figure, measured, target, ratio, verdict: v });

export function caseRows(c: CaseFigures): Row[] {
  const rows: Row[] = [row(`(a) per case, c-original × c-original, ${c.cases} cases per batch for every contender`)];
  const counts = c.jobs === 1 ? [true] : [true, false];
  const contenders: Array<[string, JobsPair]> = [
    ['bare floor (C: spawn, wait for LISTEN, spawn, reap)', c.bare],
    ['design floor (C: + a temp dir per case, inotify)', c.design],
    ['harness (runSuite, delivery.default-message)', c.harness],
  ];
  for (const [name, pair] of contenders) {
    for (const sequential of counts) {
      const f = sequential ? pair.sequential : pair.parallel;
      rows.push(row(`    ${name}, ${jobsWord(f.jobs)}${f.jobs === c.jobs ? ' (default)' : ''}`, `${ms(f.perCaseMs)}/case`));
    }
  }
  rows.push(row(`    harness CPU per case (its own process), 1 job | ${jobsWord(c.jobs)}`, `${ms(c.harnessCpuPerCaseMs.sequential)} | ${ms(c.harnessCpuPerCaseMs.parallel)}`, 'context'));
  for (const r of likeForLike(c)) {
    const label = `    ${r.name}, both at ${jobsWord(r.jobs)}: ${r.meaning}`;
    rows.push(
      r.target === undefined
        ? row(label, '', 'context', times(r.ratio))
        : row(label, '', `≤ ${r.target}×`, times(r.ratio), verdict(r.ratio <= r.target)),
    );
  }
  rows.push(row(`(b) ts-net × ts-net in-process, harness, ${jobsWord(c.tsNetInProcess.jobs)}`, `${c.tsNetInProcess.casesPerSecond.toFixed(0)} cases/s`, 'none set'));
  return rows;
}

export function slowSubjectRows(s: SlowSubjectFigure | undefined): Row[] {
  if (!s) return [row('(c) slow-starting subject', 'skipped (--no-slow)')];
  const cpu = (r: SlowSubjectFigure['fixed']): string => `harness CPU ${(r.harnessCpuMs / 1000).toFixed(2)} s`;
  return [
    row(`(c) slow-starting subject (${s.startDelayMs} ms before exec), the same selection and seed twice: ${s.results} results, ${s.cases} cases`),
    row(`    runSuite at a fixed ${jobsWord(s.jobs)}`, `${(s.fixed.wallMs / 1000).toFixed(1)} s wall`, 'baseline', cpu(s.fixed)),
    row(
      `    runSuite adaptive (peak ${s.adaptive.peakInFlight} units in flight)`,
      `${(s.adaptive.wallMs / 1000).toFixed(1)} s wall`,
      `≥ ${TARGETS.slowSubjectSpeedup}× fewer`,
      `${times(s.speedup)} fewer; ${cpu(s.adaptive)}`,
      verdict(s.speedup >= TARGETS.slowSubjectSpeedup),
    ),
  ];
}

export function startupRows(s: StartupFigure): Row[] {
  const rows: Row[] = [row(`(d) start-up CPU (user + sys), median of ${s.rounds}`), row(`    ${s.baseline.name}`, `${ms(s.baseline.cpuMs)}`, 'baseline')];
  for (const c of s.commands) {
    rows.push(
      c.exists && c.ratio !== null
        ? row(`    ${c.name}`, ms(c.cpuMs), `≤ ${TARGETS.startup}× node -e 0`, times(c.ratio), verdict(c.ratio <= TARGETS.startup))
        : row(`    ${c.name}`, `not implemented (exit ${c.exitCode})`, `≤ ${TARGETS.startup}× node -e 0`),
    );
  }
  return rows;
}

export function throughputRows(t: PairingFigure[]): Row[] {
  const base = t.find((p) => p.server === 'c-reference' && p.client === 'c-reference');
  const rows: Row[] = [row(`(e) ${t[0] ? t[0].payloadBytes / MiB : 0} MiB payload: MB/s, first byte`, '', '', 'vs c-ref')];
  for (const p of t) {
    const homogeneous = p.server === p.client && p.server !== 'c-reference';
    const ratio = base ? p.mbPerSec / base.mbPerSec : NaN;
    const targeted = homogeneous && (p.server === 'ts-net' || p.server === 'ts-native');
    rows.push(
      row(
        `    ${p.server} × ${p.client}`,
        `${p.mbPerSec.toFixed(0)} MB/s, ${ms(p.firstByteMs)}`,
        p === base ? 'baseline' : targeted ? `≥ ${TARGETS.throughput * 100}% of c-ref` : '',
        `${times(ratio)} / ${base ? times(p.firstByteMs / base.firstByteMs) : ''}`,
        targeted ? verdict(ratio >= TARGETS.throughput) : '',
      ),
    );
  }
  return rows;
}

export function wallRows(w: WallFigure | undefined): Row[] {
  if (!w) return [row('(f) default run', 'skipped (--no-wall)', `≤ ${TARGETS.wallMs / 1000} s`)];
  const rows = [row(`(f) default run, ${w.results} results`, `${(w.wallMs / 1000).toFixed(1)} s`, `≤ ${TARGETS.wallMs / 1000} s`, times(w.wallMs / TARGETS.wallMs), verdict(w.wallMs <= TARGETS.wallMs))];
  // Informational: where the run's time goes. Units overlap, so their sum exceeds the wall.
  rows.push(row(`    per area, share of the summed unit time (${(w.unitMs / 1000).toFixed(1)} s over ${w.results} units, in parallel)`, '', '', 'share'));
  for (const a of w.areas) rows.push(row(`    ${a.area}, ${a.units} unit${a.units === 1 ? '' : 's'}`, `${(a.ms / 1000).toFixed(1)} s`, '', `${(a.share * 100).toFixed(1)}%`));
  return rows;
}

export function sequenceRows(s: SequenceFigures): Row[] {
  const perUnit = s.pairings[0]?.casesPerUnit;
  const rows: Row[] = [row(`(h) sequence.equivalent, stream at pathnames, seed ${s.seed}, --runs ${s.runs}${perUnit ? ` (maxRuns caps a unit at ${perUnit} cases, examples included)` : ''}, jobs default (≤ ${s.jobsCeiling})`)];
  const perSecond = (x: number): string => `${x < 100 ? x.toFixed(1) : x.toFixed(0)} sequences/s`;
  for (const p of s.pairings) {
    const inProcess = p.transport.server === 'in-process' && p.transport.client === 'in-process';
    const target = inProcess ? TARGETS.sequencesInProcess : TARGETS.sequencesCProcess;
    const transport = p.transport.server === p.transport.client ? `${p.transport.server ?? '?'} drivers` : `server ${p.transport.server ?? '?'}, client ${p.transport.client ?? '?'}`;
    const left = [p.limitsLeftOut ? `${p.limitsLeftOut} limit left out` : '', p.killsAsCloses ? `${p.killsAsCloses} kill as closes` : ''].filter(Boolean).join(', ');
    rows.push(
      row(
        `    ${p.server} × ${p.client} (${transport}), harness: ${p.units} units × ${p.casesPerUnit} cases, median of ${p.rounds}`,
        `${perSecond(p.sequencesPerSecond)}, CPU ${ms(p.cpuPerCaseMs)}/case`,
        `≥ ${target}/s`,
        times(p.sequencesPerSecond / target),
        verdict(p.sequencesPerSecond >= target),
      ),
      row(`    C floor: the same ${p.casesPerUnit} sequences in one world, no drivers${left ? ` (${left})` : ''}, ${p.floorParallel.jobs} processes | 1`, `${perSecond(p.floorParallel.sequencesPerSecond)} | ${perSecond(p.floor.sequencesPerSecond)}`, 'floor'),
      row(`    harness / C floor, sequences/s, ${p.server} × ${p.client}: floor at ${jobsWord(p.floorParallel.jobs)} | 1 process`, '', 'context', `${fraction(p.ratio)} | ${fraction(p.sequencesPerSecond / p.floor.sequencesPerSecond)}`),
    );
  }
  return rows;
}

export function memoryRows(m: MemoryFigure[]): Row[] {
  const rows: Row[] = [row('(g) memory: harness RSS growth during one session')];
  const pairs = [...new Set(m.map((f) => `${f.server} × ${f.client}`))];
  for (const pair of pairs) {
    const [small, large] = m.filter((f) => `${f.server} × ${f.client}` === pair).sort((a, b) => a.payloadBytes - b.payloadBytes);
    if (!small || !large) continue;
    const inProcess = pair === 'ts-net × ts-net';
    const grew = large.growthMiB - small.growthMiB;
    rows.push(
      row(
        `    ${pair}${inProcess ? ' (in-process: its own reads count)' : ''}`,
        `${small.payloadBytes / MiB} MiB ${signed(small.growthMiB)}, ${large.payloadBytes / MiB} MiB ${signed(large.growthMiB)} MiB (peak ${large.peakMiB.toFixed(0)})`,
        inProcess ? '' : `flat: ≤ +${TARGETS.memoryMiB} MiB more`,
        `${signed(grew)} MiB`,
        inProcess ? '' : verdict(grew <= TARGETS.memoryMiB),
      ),
    );
  }
  return rows;
}

export function table(rows: Row[]): string {
  const cols: Array<keyof Row> = ['figure', 'measured', 'target', 'ratio', 'verdict'];
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)));
  const line = (r: Record<keyof Row, string>): string => cols.map((c, i) => r[c].padEnd(width[i]!)).join('  ').trimEnd();
  return [line({ figure: 'figure', measured: 'measured', target: 'target', ratio: 'ratio', verdict: 'verdict' }), ...rows.map(line)].join('\n');
}

export function markdown(rows: Row[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|').trim();
  return ['| figure | measured | target | ratio | verdict |', '|---|---|---|---|---|', ...rows.map((r) => `| ${esc(r.figure)} | ${esc(r.measured)} | ${esc(r.target)} | ${esc(r.ratio)} | ${r.verdict} |`)].join('\n');
}

/** reports/bench.json: the machine, every figure, the like-for-like ratios and the rows as printed. */
export interface BenchJson {
  machine: Record<string, string>;
  cases: CaseFigures;
  ratios: LikeForLike[];
  slowSubject?: SlowSubjectFigure;
  startup: StartupFigure;
  throughput: PairingFigure[];
  memory: MemoryFigure[];
  wall?: WallFigure;
  sequences: SequenceFigures;
  rows: Row[];
}
