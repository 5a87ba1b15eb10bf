/**
 * A deliberately slow-starting subject (bench/slow-subject.json: c-reference's server and client
 * behind slow-start.sh, which sleeps 150 ms before exec'ing them) run through runSuite twice in one
 * bench run, with the same selection and seed: at a fixed job count (`jobs` = the cores, the runner of
 * before: at or under the cores the count is fixed) and with the adaptive default (no `jobs`: units in
 * flight follow the work, plan/admission.ts). Issue 17's target: the adaptive run takes at least 3×
 * fewer wall seconds on 2 cores. The two runs must give the same statuses, cell by cell: concurrency
 * may change how long a run takes, never what it finds.
 *
 * The selection is fixed (properties, servers, clients, runs, seed), so that runs of the bench compare:
 * the subject's pairings with c-reference and with itself, and its single-role units.
 */
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { defaultJobCeiling } from '../suite/defaults.js';
import { PROJECT_ROOT } from '../suite/harness/paths.js';
import { allProperties } from '../suite/properties/index.js';
import { builtinImplementations } from '../suite/registry.js';
import { runSuite } from '../suite/run.js';
import { loadSubjects, type Subject } from '../suite/subjects/manifest.js';

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

/** One of the two runs. */
export interface SlowSubjectRun {
  /** `jobs` as given to runSuite (null: the adaptive default). */
  jobs: number | null;
  /** The most units that were in flight at once. */
  peakInFlight: number;
  wallMs: number;
  /** CPU of the harness's own process (user + system) during the run; the subjects' and the launcher's are not in it. */
  harnessCpuMs: number;
}

export interface SlowSubjectFigure {
  startDelayMs: number;
  /** The fixed run's job count (the cores). */
  jobs: number;
  selection: typeof SLOW_SELECTION;
  results: number;
  /** Cases run (the results' runs summed). */
  cases: number;
  summary: Record<string, number>;
  /** The fixed run's wall time and harness CPU (as before the adaptive runner). */
  wallMs: number;
  harnessCpuMs: number;
  /** harnessCpuMs / (wallMs × jobs): the share of the allowed cores the harness kept busy. */
  cpuShareOfJobs: number;
  fixed: SlowSubjectRun;
  adaptive: SlowSubjectRun;
  /** fixed wall / adaptive wall (target: at least 3). */
  speedup: number;
}

type Report = Awaited<ReturnType<typeof runSuite>>;

async function timedRun(subjects: Subject[], jobs: number | undefined): Promise<{ run: SlowSubjectRun; report: Report }> {
  let peakInFlight = jobs ?? 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const report = await runSuite({
    ...SLOW_SELECTION,
    subjects,
    subjectsOnly: true,
    ...(jobs !== undefined ? { jobs } : {}),
    onAdmission: (_decision, inFlight) => void (peakInFlight = Math.max(peakInFlight, inFlight)),
  });
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const bad = report.results.filter((r) => r.status === 'error' || r.status === 'fail');
  if (bad.length > 0) throw new Error(`slow subject: ${bad.map((r) => `${r.property} ${r.server} × ${r.client}: ${r.status}: ${r.message ?? ''}`).join('; ')}`);
  return { run: { jobs: jobs ?? null, peakInFlight, wallMs, harnessCpuMs: (cpu.user + cpu.system) / 1000 }, report };
}

const cellOf = (r: Report['results'][number]): string => `${r.property} ${r.server} × ${r.client} ${r.socketType}/${r.address}: ${r.status}`;

export async function measureSlowSubject(options: { log: (line: string) => void; jobs?: number }): Promise<SlowSubjectFigure> {
  const jobs = options.jobs ?? os.availableParallelism();
  const builtins = builtinImplementations();
  const subjects = loadSubjects([SLOW_SUBJECT_MANIFEST], builtins.map((i) => i.name), allProperties().map((p) => p.id));
  const fixed = await timedRun(subjects, jobs);
  options.log(`  fixed ${jobs} jobs: ${fixed.report.results.length} results, ${(fixed.run.wallMs / 1000).toFixed(1)} s wall, ${(fixed.run.harnessCpuMs / 1000).toFixed(2)} s harness CPU`);
  const adaptive = await timedRun(subjects, undefined);
  options.log(`  adaptive (ceiling ${defaultJobCeiling()}): peak ${adaptive.run.peakInFlight} in flight, ${(adaptive.run.wallMs / 1000).toFixed(1)} s wall, ${(adaptive.run.harnessCpuMs / 1000).toFixed(2)} s harness CPU`);
  const a = fixed.report.results.map(cellOf);
  const b = adaptive.report.results.map(cellOf);
  const differ = a.filter((cell, i) => cell !== b[i]);
  if (a.length !== b.length || differ.length > 0) throw new Error(`slow subject: the adaptive run's statuses differ from the fixed run's: ${differ.slice(0, 5).join('; ')}`);
  const summary: Record<string, number> = {};
  for (const r of fixed.report.results) summary[r.status] = (summary[r.status] ?? 0) + 1;
  const figure: SlowSubjectFigure = {
    startDelayMs: SLOW_START_MS,
    jobs,
    selection: SLOW_SELECTION,
    results: fixed.report.results.length,
    cases: fixed.report.results.reduce((n, r) => n + r.runs, 0),
    summary,
    wallMs: fixed.run.wallMs,
    harnessCpuMs: fixed.run.harnessCpuMs,
    cpuShareOfJobs: fixed.run.harnessCpuMs / (fixed.run.wallMs * jobs),
    fixed: fixed.run,
    adaptive: adaptive.run,
    speedup: fixed.run.wallMs / adaptive.run.wallMs,
  };
  options.log(`  fixed / adaptive wall: ${figure.speedup.toFixed(2)}× (target ≥ 3×), load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  return figure;
}
