/**
 * `npm run bench`: every figure of issue 6 measured in one run, each printed against its target with
 * the ratio computed from numbers of this run. See the README's "Benchmark" section.
 *
 *   node dist/bench/run.js [--quick] [--no-wall] [--json FILE] [--markdown]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../suite/harness/paths.js';
import { LAUNCHER_PATH } from '../suite/harness/launcher.js';
import { measureCases, type CaseFigures } from './cases.js';
import { measureMemory, type MemoryFigure } from './memory.js';
import { measureThroughput, type PairingFigure } from './throughput.js';
import { measureWall, type WallFigure } from './wall.js';

const MiB = 1024 * 1024;
const TARGETS = { overhead: 1.5, wallMs: 60_000, throughput: 0.5, memoryMiB: 4 };

const { values } = parseArgs({
  options: { quick: { type: 'boolean' }, 'no-wall': { type: 'boolean' }, json: { type: 'string' }, markdown: { type: 'boolean' } },
});
const quick = values.quick ?? false;
const log = (line: string): void => void process.stderr.write(`${line}\n`);

function machine(): Record<string, string> {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    nproc: String(os.availableParallelism()),
    cpu,
    node: process.version,
    launcher: process.env.UDSC_NO_LAUNCHER === '1' ? 'off (UDSC_NO_LAUNCHER=1)' : existsSync(LAUNCHER_PATH) ? 'on' : 'not built',
  };
}

const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');

interface Row {
  figure: string;
  measured: string;
  target: string;
  ratio: string;
  verdict: '' | 'ok' | 'MISSED';
}

const ms = (x: number): string => `${x.toFixed(2)} ms`;
const signed = (x: number): string => `${x < 0 ? '-' : '+'}${Math.abs(x).toFixed(1)}`;
const times = (x: number): string => `${x.toFixed(2)}×`;
const verdict = (ok: boolean): Row['verdict'] => (ok ? 'ok' : 'MISSED');

function caseRows(c: CaseFigures): Row[] {
  const b = c.harness.perCaseMs / c.floor.perCaseMs;
  return [
    { figure: '(a) floor: bare C cycle, c-original × c-original, 1 job', measured: `${ms(c.floor.perCaseMs)}/case`, target: 'baseline', ratio: '', verdict: '' },
    { figure: '    floor with ' + c.floorParallel.jobs + ' jobs (context)', measured: `${ms(c.floorParallel.perCaseMs)}/case`, target: '', ratio: '', verdict: '' },
    { figure: `(b) harness, same pairing, runSuite at ${c.harness.jobs} jobs (default)`, measured: `${ms(c.harness.perCaseMs)}/case`, target: `≤ ${TARGETS.overhead}× (a)`, ratio: times(b), verdict: verdict(b <= TARGETS.overhead) },
    { figure: '    harness 1 job / floor 1 job (context)', measured: `${ms(c.harnessSequential.perCaseMs)}/case`, target: '', ratio: times(c.harnessSequential.perCaseMs / c.floor.perCaseMs), verdict: '' },
    { figure: `    harness ${c.harness.jobs} jobs / floor ${c.floorParallel.jobs} jobs (context)`, measured: '', target: '', ratio: times(c.harness.perCaseMs / c.floorParallel.perCaseMs), verdict: '' },
    { figure: `(c) ts-net × ts-net in-process, ${c.tsNetInProcess.jobs} jobs`, measured: `${c.tsNetInProcess.casesPerSecond.toFixed(0)} cases/s`, target: 'none set', ratio: '', verdict: '' },
  ];
}

function throughputRows(t: PairingFigure[]): Row[] {
  const base = t.find((p) => p.server === 'c-reference' && p.client === 'c-reference');
  const rows: Row[] = [{ figure: `(d) ${t[0] ? t[0].payloadBytes / MiB : 0} MiB payload: MB/s, first byte`, measured: '', target: '', ratio: 'vs c-ref', verdict: '' }];
  for (const p of t) {
    const homogeneous = p.server === p.client && p.server !== 'c-reference';
    const ratio = base ? p.mbPerSec / base.mbPerSec : NaN;
    const targeted = homogeneous && (p.server === 'ts-net' || p.server === 'ts-native');
    rows.push({
      figure: `    ${p.server} × ${p.client}`,
      measured: `${p.mbPerSec.toFixed(0)} MB/s, ${ms(p.firstByteMs)}`,
      target: p === base ? 'baseline' : targeted ? `≥ ${TARGETS.throughput * 100}% of c-ref` : '',
      ratio: `${times(ratio)} / ${base ? times(p.firstByteMs / base.firstByteMs) : ''}`,
      verdict: targeted ? verdict(ratio >= TARGETS.throughput) : '',
    });
  }
  return rows;
}

function wallRows(w: WallFigure | undefined): Row[] {
  if (!w) return [{ figure: '(e) default run', measured: 'skipped (--no-wall)', target: `≤ ${TARGETS.wallMs / 1000} s`, ratio: '', verdict: '' }];
  return [
    {
      figure: `(e) default run, ${w.results} results`,
      measured: `${(w.wallMs / 1000).toFixed(1)} s`,
      target: `≤ ${TARGETS.wallMs / 1000} s`,
      ratio: times(w.wallMs / TARGETS.wallMs),
      verdict: verdict(w.wallMs <= TARGETS.wallMs),
    },
  ];
}

function memoryRows(m: MemoryFigure[]): Row[] {
  const rows: Row[] = [{ figure: 'memory: harness RSS growth during one session', measured: '', target: '', ratio: '', verdict: '' }];
  const pairs = [...new Set(m.map((f) => `${f.server} × ${f.client}`))];
  for (const pair of pairs) {
    const [small, large] = m.filter((f) => `${f.server} × ${f.client}` === pair).sort((a, b) => a.payloadBytes - b.payloadBytes);
    if (!small || !large) continue;
    const inProcess = pair === 'ts-net × ts-net';
    const grew = large.growthMiB - small.growthMiB;
    rows.push({
      figure: `    ${pair}${inProcess ? ' (in-process: its own reads count)' : ''}`,
      measured: `${small.payloadBytes / MiB} MiB ${signed(small.growthMiB)}, ${large.payloadBytes / MiB} MiB ${signed(large.growthMiB)} MiB (peak ${large.peakMiB.toFixed(0)})`,
      target: inProcess ? '' : `flat: ≤ +${TARGETS.memoryMiB} MiB more`,
      ratio: `${signed(grew)} MiB`,
      verdict: inProcess ? '' : verdict(grew <= TARGETS.memoryMiB),
    });
  }
  return rows;
}

function table(rows: Row[]): string {
  const cols: Array<keyof Row> = ['figure', 'measured', 'target', 'ratio', 'verdict'];
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)));
  const line = (r: Record<keyof Row, string>): string => cols.map((c, i) => r[c].padEnd(width[i]!)).join('  ').trimEnd();
  return [line({ figure: 'figure', measured: 'measured', target: 'target', ratio: 'ratio', verdict: 'verdict' }), ...rows.map(line)].join('\n');
}

function markdown(rows: Row[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|').trim();
  return ['| figure | measured | target | ratio | verdict |', '|---|---|---|---|---|', ...rows.map((r) => `| ${esc(r.figure)} | ${esc(r.measured)} | ${esc(r.target)} | ${esc(r.ratio)} | ${r.verdict} |`)].join('\n');
}

const info = machine();
const loadStart = load();
log(`uds-conformance benchmark: ${info.date}, ${info.nproc} cores, ${info.cpu}, Node ${info.node}, launcher ${info.launcher}, load ${loadStart}`);
log('(a)(b)(c) cases per batch, floor and harness alternating by round ...');
const cases = await measureCases({ rounds: quick ? 2 : 5, batch: quick ? 60 : 99, log });
log('(d) throughput ...');
const throughput = await measureThroughput({ bytes: 64 * MiB, samples: quick ? 2 : 5, log });
log('memory ...');
const memory = await measureMemory({ sizes: [1 * MiB, 64 * MiB], pairings: [['c-reference', 'c-reference'], ['ts-net', 'ts-net']], log });
let wall: WallFigure | undefined;
if (!values['no-wall']) {
  log('(e) default run ...');
  wall = await measureWall({ samples: 1, log });
}
const rows = [...caseRows(cases), ...throughputRows(throughput), ...wallRows(wall), ...memoryRows(memory)];
const header = `${info.date} · ${info.nproc} cores · ${info.cpu} · Node ${info.node} · launcher ${info.launcher} · load ${loadStart} → ${load()}`;
process.stdout.write(`\n${header}\n\n${table(rows)}\n`);
const missed = rows.filter((r) => r.verdict === 'MISSED');
process.stdout.write(missed.length ? `\n${missed.length} target(s) missed\n` : '\nevery target holds\n');
if (values.markdown) process.stdout.write(`\n${header}\n\n${markdown(rows)}\n`);
const jsonFile = values.json ?? join(PROJECT_ROOT, 'reports', 'bench.json');
mkdirSync(dirname(jsonFile), { recursive: true });
writeFileSync(jsonFile, `${JSON.stringify({ machine: { ...info, loadStart, loadEnd: load() }, cases, throughput, memory, wall, rows }, null, 2)}\n`);
log(`figures: ${jsonFile}`);
process.exitCode = missed.length ? 1 : 0;
