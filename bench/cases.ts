/**
 * Per-case cost of c-original × c-original, three contenders, each at 1 job and at the default job
 * count (the core count), every one over the same number of cases:
 *   - the bare floor (c-reference/bench/floor.c --bare): spawn the server, wait for LISTEN, spawn the
 *     client, read its output, reap; no temp dir per case, no inotify;
 *   - the design floor (floor.c): the same with the harness's design, a temp dir per case and an
 *     inotify watch on it;
 *   - the harness: runSuite over delivery.default-message, each case a CaseContext with a session.
 * And in-process ts-net × ts-net through the harness, as context.
 *
 * The floors are C, not a Node loop: a Node loop would pay child_process's fork of a large process per
 * spawn (docs/benchmark.md, history), which the harness avoids through its posix_spawn launcher, so
 * it would sit above the harness's own spawn path and floor nothing.
 *
 * Each tinybench iteration is one batch of cases; the per-case figure is the median batch time divided
 * by the batch's cases. A floor's batch time is its own (timed inside bench-floor); the harness's is
 * one runSuite call, its fixed cost included once per batch (options, planning, the drivers' hello).
 * Every contender alternates round by round in one process, so a change in the machine's load reaches
 * all of them.
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Bench } from 'tinybench';
import { C_BIN } from '../suite/harness/paths.js';
import { deliveryDefaultMessage } from '../suite/properties/delivery.js';
import { cOriginal, tsNet } from '../suite/registry.js';
import { runSuite } from '../suite/run.js';
import type { Implementation } from '../suite/model/types.js';

const run = promisify(execFile);

export interface BatchFigure {
  /** Cases per batch (one tinybench iteration). */
  cases: number;
  /** Batches measured (after warm-up). */
  batches: number;
  /** Median batch time / cases, in ms. */
  perCaseMs: number;
  /** Mean batch time / cases, in ms. */
  meanPerCaseMs: number;
  jobs: number;
}

/** One contender at 1 job and at the default job count. */
export interface JobsPair {
  sequential: BatchFigure;
  parallel: BatchFigure;
}

export interface CaseFigures {
  /** The default job count (the core count): the parallel figures' jobs. */
  jobs: number;
  /** Cases per batch, the same for every contender. */
  cases: number;
  bare: JobsPair;
  design: JobsPair;
  harness: JobsPair;
  /** The harness process's own CPU (user + system) per case, median over batches: context, no target. */
  harnessCpuPerCaseMs: { sequential: number; parallel: number };
  tsNetInProcess: BatchFigure & { casesPerSecond: number };
}

export type FloorMode = 'bare' | 'design';

/**
 * One batch of a floor: `cases` cases on `jobs` worker processes. Returns the floor's own wall time
 * (timed inside bench-floor, from its first fork to its last reap): Node's start of bench-floor is the
 * measurement's cost, not the floor's.
 */
async function floorBatch(mode: FloorMode, cases: number, jobs: number): Promise<number> {
  const args = [...(mode === 'bare' ? ['--bare'] : []), join(C_BIN, 'original-server'), join(C_BIN, 'original-client'), String(cases), String(jobs)];
  const { stdout } = await run(join(C_BIN, 'bench-floor'), args, { timeout: 120_000 });
  const out = JSON.parse(stdout) as { failures: number; mode: string; cases: number; wallMs: number };
  if (out.failures !== 0) throw new Error(`${mode} floor: ${out.failures} cases failed`);
  if (out.mode !== mode || out.cases !== cases) throw new Error(`${mode} floor: ran ${out.mode} with ${out.cases} cases`);
  return out.wallMs;
}

/** One batch through the harness: `units` units of delivery.default-message, 3 cases each. */
function harnessBatch(impl: Implementation, units: number, concurrency: number): () => Promise<number> {
  const options = { implementations: [impl], properties: [deliveryDefaultMessage], runs: 3, seed: 1, jobs: concurrency, repeat: units };
  return async () => {
    const { results } = await runSuite(options);
    let cases = 0;
    for (const r of results) {
      if (r.status !== 'pass') throw new Error(`harness batch: ${r.status}: ${r.message ?? ''}`);
      cases += r.runs;
    }
    return cases;
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function figure(samples: number[], cases: number, jobs: number): BatchFigure {
  return {
    cases,
    batches: samples.length,
    perCaseMs: median(samples) / cases,
    meanPerCaseMs: samples.reduce((a, b) => a + b, 0) / samples.length / cases,
    jobs,
  };
}

export interface CaseOptions {
  rounds: number;
  /** Cases per batch (a multiple of 3: the property's runs per unit). */
  batch: number;
  log: (line: string) => void;
}

export async function measureCases(options: CaseOptions): Promise<CaseFigures> {
  const jobs = os.availableParallelism();
  const units = Math.max(1, Math.round(options.batch / 3));
  const cases = units * 3;
  // The harness process's own CPU per batch (user + system): less moved by other work on the machine than wall time.
  const cpu: Record<'harness' | 'harnessParallel', number[]> = { harness: [], harnessParallel: [] };
  const harnessTask = (impl: Implementation, concurrency: number, cpuKey?: keyof typeof cpu): (() => Promise<void>) => {
    const batch = harnessBatch(impl, units, concurrency);
    return async () => {
      const before = process.cpuUsage();
      const ran = await batch();
      const used = process.cpuUsage(before);
      if (cpuKey && !warming) cpu[cpuKey].push((used.user + used.system) / 1000);
      if (ran !== cases) throw new Error(`harness batch: ${ran} cases instead of ${cases}`);
    };
  };
  // The floors' samples are their own wall times (floorBatch), taken outside tinybench's warm-up.
  const reported: Record<'bare' | 'bareParallel' | 'design' | 'designParallel', number[]> = { bare: [], bareParallel: [], design: [], designParallel: [] };
  let warming = false;
  const floorTask = (key: keyof typeof reported, mode: FloorMode, concurrency: number) => async (): Promise<void> => {
    const wallMs = await floorBatch(mode, cases, concurrency);
    if (!warming) reported[key].push(wallMs);
  };
  const tasks = {
    bare: floorTask('bare', 'bare', 1),
    bareParallel: floorTask('bareParallel', 'bare', jobs),
    design: floorTask('design', 'design', 1),
    designParallel: floorTask('designParallel', 'design', jobs),
    harness: harnessTask(cOriginal, 1, 'harness'),
    harnessParallel: harnessTask(cOriginal, jobs, 'harnessParallel'),
    tsNetInProcess: harnessTask(tsNet, jobs),
  };
  const samples = Object.fromEntries(Object.keys(tasks).map((k) => [k, [] as number[]])) as Record<keyof typeof tasks, number[]>;
  for (let round = 0; round < options.rounds; round++) {
    // A fresh Bench per round; every task is warmed up once in the first round only.
    const bench = new Bench({ name: `cases round ${round + 1}`, iterations: 2, time: 0, warmup: round === 0, warmupIterations: 1, warmupTime: 0, retainSamples: true, throws: true });
    for (const [name, fn] of Object.entries(tasks)) {
      bench.add(name, fn, {
        beforeAll(mode) {
          warming = mode === 'warmup';
        },
      });
    }
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== 'completed') throw new Error(`bench task ${task.name}: ${result.state}`);
      const name = task.name as keyof typeof tasks;
      if (!(name in reported)) samples[name].push(...(result.latency.samples ?? []));
    }
    for (const [name, list] of Object.entries(reported)) samples[name as keyof typeof reported] = [...list];
    const at = (k: keyof typeof tasks): string => (median(samples[k]) / cases).toFixed(2);
    options.log(`  round ${round + 1}/${options.rounds}, ms/case at 1 | ${jobs} jobs: bare ${at('bare')} | ${at('bareParallel')}, design ${at('design')} | ${at('designParallel')}, harness ${at('harness')} | ${at('harnessParallel')}`);
  }
  const ts = figure(samples.tsNetInProcess, cases, jobs);
  const pair = (sequential: number[], parallel: number[]): JobsPair => ({ sequential: figure(sequential, cases, 1), parallel: figure(parallel, cases, jobs) });
  return {
    jobs,
    cases,
    bare: pair(samples.bare, samples.bareParallel),
    design: pair(samples.design, samples.designParallel),
    harness: pair(samples.harness, samples.harnessParallel),
    harnessCpuPerCaseMs: { sequential: median(cpu.harness) / cases, parallel: median(cpu.harnessParallel) / cases },
    tsNetInProcess: { ...ts, casesPerSecond: 1000 / ts.perCaseMs },
  };
}
