/**
 * Per-case cost: (a) the floor, the bare C cycle of c-original × c-original (c-reference/bench/floor.c);
 * (b) the same pairing through the real harness (runSuite over the delivery.default-message property,
 * each case a CaseContext with a session); (c) in-process ts-net × ts-net through the same path.
 *
 * Each tinybench iteration is one batch of cases; the per-case figure is the median batch time divided
 * by the batch's cases. The floor and the harness alternate round by round in one process, so a change
 * in the machine's load reaches both.
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

export interface CaseFigures {
  floor: BatchFigure;
  floorParallel: BatchFigure;
  harness: BatchFigure;
  harnessSequential: BatchFigure;
  tsNetInProcess: BatchFigure & { casesPerSecond: number };
}

/** One batch of the floor: `cases` cases on `jobs` worker processes. */
async function floorBatch(cases: number, jobs: number): Promise<void> {
  const { stdout } = await run(join(C_BIN, 'bench-floor'), [join(C_BIN, 'original-server'), join(C_BIN, 'original-client'), String(cases), String(jobs)], {
    timeout: 120_000,
  });
  const out = JSON.parse(stdout) as { failures: number };
  if (out.failures !== 0) throw new Error(`floor: ${out.failures} cases failed`);
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
  const tasks = {
    floor: () => floorBatch(cases, 1),
    floorParallel: () => floorBatch(cases, jobs),
    harness: harnessBatch(cOriginal, units, jobs),
    harnessSequential: harnessBatch(cOriginal, units, 1),
    tsNetInProcess: harnessBatch(tsNet, units, jobs),
  };
  const samples: Record<keyof typeof tasks, number[]> = { floor: [], floorParallel: [], harness: [], harnessSequential: [], tsNetInProcess: [] };
  for (let round = 0; round < options.rounds; round++) {
    // A fresh Bench per round; every task is warmed up once in the first round only.
    const bench = new Bench({ name: `cases round ${round + 1}`, iterations: 2, time: 0, warmup: round === 0, warmupIterations: 1, warmupTime: 0, retainSamples: true, throws: true });
    for (const [name, fn] of Object.entries(tasks)) bench.add(name, fn);
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== 'completed') throw new Error(`bench task ${task.name}: ${result.state}`);
      samples[task.name as keyof typeof tasks].push(...(result.latency.samples ?? []));
    }
    options.log(`  round ${round + 1}/${options.rounds}: floor ${(median(samples.floor) / cases).toFixed(2)} ms/case, harness ${(median(samples.harness) / cases).toFixed(2)} ms/case`);
  }
  const ts = figure(samples.tsNetInProcess, cases, jobs);
  return {
    floor: figure(samples.floor, cases, 1),
    floorParallel: figure(samples.floorParallel, cases, jobs),
    harness: figure(samples.harness, cases, jobs),
    harnessSequential: figure(samples.harnessSequential, cases, 1),
    tsNetInProcess: { ...ts, casesPerSecond: 1000 / ts.perCaseMs },
  };
}
