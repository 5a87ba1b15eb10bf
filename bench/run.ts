/**
 * `npm run bench`: the figures of issues 6 and 17 and the sequence throughput, measured in one run,
 * each printed against its target with a ratio of two numbers of this run at the same job count
 * (bench/report.ts). See docs/benchmark.md for what each figure is and how to read it.
 *
 *   node dist/bench/run.js [--quick] [--no-wall] [--no-slow] [--json FILE] [--markdown]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../suite/harness/paths.js';
import { LAUNCHER_PATH } from '../suite/harness/launcher.js';
import { measureCases } from './cases.js';
import { measureMemory } from './memory.js';
import { caseRows, likeForLike, markdown, memoryRows, sequenceRows, slowSubjectRows, startupRows, table, throughputRows, wallRows, type BenchJson } from './report.js';
import { measureSequences } from './sequences.js';
import { measureSlowSubject, type SlowSubjectFigure } from './slow-subject.js';
import { measureStartup } from './startup.js';
import { measureThroughput } from './throughput.js';
import { measureWall, type WallFigure } from './wall.js';

const MiB = 1024 * 1024;

const { values } = parseArgs({
  options: { quick: { type: 'boolean' }, 'no-wall': { type: 'boolean' }, 'no-slow': { type: 'boolean' }, json: { type: 'string' }, markdown: { type: 'boolean' } },
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

const info = machine();
const loadStart = load();
log(`uds-conformance benchmark: ${info.date}, ${info.nproc} cores, ${info.cpu}, Node ${info.node}, launcher ${info.launcher}, load ${loadStart}`);
log('(a)(b) cases per batch: bare floor, design floor and harness at 1 job and the default jobs, alternating by round ...');
const cases = await measureCases({ rounds: quick ? 2 : 5, batch: quick ? 60 : 99, log });
let slowSubject: SlowSubjectFigure | undefined;
if (!values['no-slow']) {
  log('(c) slow-starting subject, at fixed jobs and adaptive ...');
  slowSubject = await measureSlowSubject({ log });
}
log('(d) start-up CPU ...');
const startup = await measureStartup({ rounds: quick ? 5 : 15, log });
log('(e) throughput ...');
const throughput = await measureThroughput({ bytes: 64 * MiB, samples: quick ? 2 : 5, log });
log('(g) memory ...');
const memory = await measureMemory({ sizes: [1 * MiB, 64 * MiB], pairings: [['c-reference', 'c-reference'], ['ts-net', 'ts-net']], log });
log('(h) sequence throughput: harness and C floor, in-process and C process drivers ...');
const sequences = await measureSequences({ cases: quick ? 63 : 203, rounds: quick ? 2 : 3, floorSequences: quick ? 1000 : 4000, log });
let wall: WallFigure | undefined;
if (!values['no-wall']) {
  log('(f) default run ...');
  wall = await measureWall({ samples: 1, log });
}
const rows = [...caseRows(cases), ...slowSubjectRows(slowSubject), ...startupRows(startup), ...throughputRows(throughput), ...wallRows(wall), ...memoryRows(memory), ...sequenceRows(sequences)];
const loadEnd = load();
const loaded = Math.max(Number(loadStart.split(' ')[0]), Number(loadEnd.split(' ')[0])) > 1;
const header = `${info.date} · ${info.nproc} cores · ${info.cpu} · Node ${info.node} · launcher ${info.launcher} · load ${loadStart} → ${loadEnd}${loaded ? ' · LOADED (load average above 1): not reference figures' : ''}`;
process.stdout.write(`\n${header}\n\n${table(rows)}\n`);
const missed = rows.filter((r) => r.verdict === 'MISSED');
process.stdout.write(missed.length ? `\n${missed.length} target(s) missed\n` : '\nevery target holds\n');
if (values.markdown) process.stdout.write(`\n${header}\n\n${markdown(rows)}\n`);
const jsonFile = values.json ?? join(PROJECT_ROOT, 'reports', 'bench.json');
mkdirSync(dirname(jsonFile), { recursive: true });
const json: BenchJson = {
  machine: { ...info, loadStart, loadEnd, loaded: String(loaded) },
  cases,
  ratios: likeForLike(cases),
  ...(slowSubject ? { slowSubject } : {}),
  startup,
  throughput,
  memory,
  ...(wall ? { wall } : {}),
  sequences,
  rows,
};
writeFileSync(jsonFile, `${JSON.stringify(json, null, 2)}\n`);
log(`figures: ${jsonFile}`);
process.exitCode = missed.length ? 1 : 0;
