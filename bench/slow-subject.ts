/**
 * A deliberately slow-starting subject (bench/slow-subject.json: c-reference's server and client
 * behind slow-start.sh, which sleeps 150 ms before exec'ing them) run through runSuite with a fixed
 * job count, the core count. Its wall seconds against the harness's CPU seconds show how much of the
 * run waits rather than works: the figure issue 17's adaptive parallelism is to be measured against
 * (target there: at least 3× fewer wall seconds on 2 cores). RunSuiteOptions has no cap on the cases
 * in flight other than `jobs` today, so this is the one figure.
 *
 * The selection is fixed (properties, servers, clients, runs, seed), so that runs of the bench compare:
 * the subject's pairings with c-reference and with itself, and its single-role units.
 */
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PROJECT_ROOT } from '../suite/harness/paths.js';
import { allProperties } from '../suite/properties/index.js';
import { builtinImplementations } from '../suite/registry.js';
import { runSuite } from '../suite/run.js';
import { loadSubjects } from '../suite/subjects/manifest.js';

export const SLOW_SUBJECT_MANIFEST = join(PROJECT_ROOT, 'bench', 'slow-subject.json');
/** What slow-start.sh sleeps before each start. */
export const SLOW_START_MS = 150;

/** The fixed selection: properties whose cases start the subject, with both few and many runs. */
export const SLOW_SELECTION = {
  propertyPatterns: ['delivery.default-message', 'delivery.payload', 'eof.exit-zero', 'eof.silent-server', 'stale-path.replaced', 'cleanup.path-removed'],
  servers: ['c-reference', 'slow-start'],
  clients: ['c-reference', 'slow-start'],
  runs: 10,
  seed: 17,
};

export interface SlowSubjectFigure {
  startDelayMs: number;
  jobs: number;
  /** What RunSuiteOptions offers to cap the cases in flight besides `jobs` (none yet). */
  inFlightCap: null;
  selection: typeof SLOW_SELECTION;
  results: number;
  /** Cases run (the results' runs summed). */
  cases: number;
  summary: Record<string, number>;
  wallMs: number;
  /** CPU of the harness's own process (user + system) during the run; the subjects' and the launcher's are not in it. */
  harnessCpuMs: number;
  /** harnessCpuMs / (wallMs × jobs): the share of the allowed cores the harness kept busy. */
  cpuShareOfJobs: number;
}

export async function measureSlowSubject(options: { log: (line: string) => void; jobs?: number }): Promise<SlowSubjectFigure> {
  const jobs = options.jobs ?? os.availableParallelism();
  const builtins = builtinImplementations();
  const subjects = loadSubjects([SLOW_SUBJECT_MANIFEST], builtins.map((i) => i.name), allProperties().map((p) => p.id));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const report = await runSuite({ ...SLOW_SELECTION, subjects, subjectsOnly: true, jobs });
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const harnessCpuMs = (cpu.user + cpu.system) / 1000;
  const bad = report.results.filter((r) => r.status === 'error' || r.status === 'fail');
  if (bad.length > 0) throw new Error(`slow subject: ${bad.map((r) => `${r.property} ${r.server} × ${r.client}: ${r.status}: ${r.message ?? ''}`).join('; ')}`);
  const summary: Record<string, number> = {};
  for (const r of report.results) summary[r.status] = (summary[r.status] ?? 0) + 1;
  const figure: SlowSubjectFigure = {
    startDelayMs: SLOW_START_MS,
    jobs,
    inFlightCap: null,
    selection: SLOW_SELECTION,
    results: report.results.length,
    cases: report.results.reduce((n, r) => n + r.runs, 0),
    summary,
    wallMs,
    harnessCpuMs,
    cpuShareOfJobs: harnessCpuMs / (wallMs * jobs),
  };
  options.log(`  ${figure.results} results, ${figure.cases} cases at ${jobs} jobs: ${(wallMs / 1000).toFixed(1)} s wall, ${(harnessCpuMs / 1000).toFixed(2)} s harness CPU`);
  return figure;
}
