/**
 * `run --budget` (suite/plan/budget.ts): how a budget is shared out, a failure found only by the
 * second pass (shrunk, and replayable from its own seed), the CLI's flag, and a budgeted run's shards
 * merged, which still cover every unit exactly once.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { dir as tmpDir } from 'tmp-promise';
import { describe, expect, it } from 'vitest';
import { BUDGET } from '../suite/defaults.js';
import { CheckFailure } from '../suite/model/types.js';
import { allocateRuns, mergePasses, parseBudget, runBudgeted, type UnitCost } from '../suite/plan/budget.js';
import { topUpSeed, unitSeed, type Unit } from '../suite/plan/plan.js';
import { CaseSlots, runUnit, type TopUp } from '../suite/plan/runner.js';
import type { Property } from '../suite/properties/property.js';
import { cReference } from '../suite/registry.js';
import type { RunReport } from '../suite/report/results.js';
import { cli } from './support/cli.js';

describe('allocateRuns', () => {
  const cost = (units: UnitCost[], more: number[]): number => more.reduce((t, n, i) => t + (n * units[i]!.durationMs) / units[i]!.runs, 0);

  it('gives each unit the same time, so a cheap unit gets more runs, within the time there is', () => {
    // Per run: 1 ms, 10 ms, 100 ms; each had 10 runs.
    const units: UnitCost[] = [
      { runs: 10, durationMs: 10, room: 10_000 },
      { runs: 10, durationMs: 100, room: 10_000 },
      { runs: 10, durationMs: 1000, room: 10_000 },
    ];
    const more = allocateRuns(units, 3000);
    expect(cost(units, more)).toBeLessThanOrEqual(3000);
    expect(cost(units, more)).toBeGreaterThan(2900);
    // Equal total time T per unit: (10 + more) × per-run cost is about the same for all three.
    const totals = more.map((n, i) => (10 + n) * (units[i]!.durationMs / units[i]!.runs));
    expect(Math.max(...totals) - Math.min(...totals)).toBeLessThanOrEqual(100);
    expect(more[0]!).toBeGreaterThan(more[1]!);
    expect(more[1]!).toBeGreaterThan(more[2]!);
  });

  it('stops a unit at its cap and hands its share to the others; nothing for no time', () => {
    const units: UnitCost[] = [
      { runs: 10, durationMs: 10, room: 5 },
      { runs: 10, durationMs: 10, room: 10_000 },
    ];
    const more = allocateRuns(units, 1000);
    expect(more[0]).toBe(5);
    expect(more[1]).toBeGreaterThan(900);
    expect(cost(units, more)).toBeLessThanOrEqual(1000);
    expect(allocateRuns(units, 0)).toEqual([0, 0]);
    expect(allocateRuns(units, 1_000_000)).toEqual([5, 10_000]);
  });
});

it('parseBudget reads 60s, 2m, 1500ms and plain seconds, and names what is wrong otherwise', () => {
  expect(parseBudget('60s')).toBe(60_000);
  expect(parseBudget('2m')).toBe(120_000);
  expect(parseBudget('1500ms')).toBe(1500);
  expect(parseBudget('90')).toBe(90_000);
  expect(parseBudget('soon')).toMatch(/--budget must be a duration/);
  expect(parseBudget('10ms')).toMatch(/from 1s to 24h/);
});

it('mergePasses keeps the second pass verdict with the runs and time of both', () => {
  const first = { server: 'a', client: 'b', property: 'p', socketType: 'stream', address: 'pathname', status: 'pass', runs: 11, durationMs: 50, observed: { x: 1 } } as const;
  const merged = mergePasses(first, { ...first, status: 'fail', runs: 7, durationMs: 30, observed: undefined, message: 'm' });
  expect(merged).toMatchObject({ status: 'fail', runs: 18, durationMs: 80, message: 'm', observed: { x: 1 } });
});

describe('a budgeted run of one unit', () => {
  // A property over plain integers that touches no process: its check fails for one value only, one
  // that the second pass draws and the first does not, so only a second pass can find it.
  const arbitrary = fc.integer({ min: 0, max: 1_000_000 });
  const property = (failOn: number): Property<number> =>
    ({
      id: 'budget.test',
      level: 'MUST',
      category: 'test',
      scope: 'pairing',
      requirement: 'never the chosen value',
      reference: 'test',
      arbitrary,
      check: async (x: number) => {
        if (x === failOn) throw new CheckFailure({ message: `drew ${x}`, expected: 'another value', actual: String(x) });
      },
    }) as unknown as Property<number>;
  const unitOf = (p: Property<number>): Unit => ({ property: p, server: cReference, client: cReference, socketType: 'stream', address: 'pathname' });
  const runSeed = 99;

  it('finds a failure only the second pass draws, shrunk, with a replay line carrying the second pass seed', async () => {
    const probe = unitOf(property(-1));
    const seed = unitSeed(runSeed, probe);
    const firstInputs = new Set(fc.sample(arbitrary, { seed, numRuns: BUDGET.minimumRuns }));
    const secondInputs = fc.sample(arbitrary, { seed: topUpSeed(seed), numRuns: 200 });
    const target = secondInputs.find((x) => !firstInputs.has(x))!;
    const unit = unitOf(property(target));
    const config = { runs: 400, seed: runSeed, oracle: cReference, concurrency: 1, caseDeadlineMs: 5000 };
    const { results, budget } = await runBudgeted([unit], config, 20_000, performance.now());
    const [result] = results;
    expect(result?.status).toBe('fail');
    expect(result!.runs).toBeGreaterThan(BUDGET.minimumRuns);
    expect(result!.counterexample?.input).toBe(target);
    expect(result!.counterexample?.seed).toBe(topUpSeed(seed));
    expect(result!.replay).toContain(`--seed ${topUpSeed(seed)}`);
    expect(budget).toMatchObject({ budgetMs: 20_000, minimumRuns: BUDGET.minimumRuns, maxRuns: 400, toppedUpUnits: 1 });
    // The replay line's seed and path give the same failure again.
    const replayed = await runUnit(unit, { ...config, seed: result!.counterexample!.seed, replayPath: result!.counterexample!.path });
    expect(replayed.status).toBe('fail');
    expect(replayed.counterexample?.input).toBe(target);
  });

  it('stops generating at the budget end, keeps what ran and says the unit was cut short', async () => {
    // The check moves the budget's end to the past at its fifth case: the pass stops there.
    const topUp: TopUp = { stopAtMs: Number.POSITIVE_INFINITY, cutShort: new Set() };
    let calls = 0;
    const p = { ...property(-1), check: async () => void (++calls === 5 && (topUp.stopAtMs = 0)) } as unknown as Property<number>;
    const result = await runUnit(unitOf(p), { runs: 400, seed: runSeed, oracle: cReference, topUp, runsByIndex: [400] }, { slots: new CaseSlots(1), index: 0 });
    expect(result).toMatchObject({ status: 'pass', runs: 5 });
    expect([...topUp.cutShort]).toEqual([0]);
    // Stopped before its first case: a pass with nothing added, not fast-check's "never ran" failure.
    const before: TopUp = { stopAtMs: 0, cutShort: new Set() };
    const none = await runUnit(unitOf(property(-1)), { runs: 400, seed: runSeed, oracle: cReference, topUp: before, runsByIndex: [400] }, { slots: new CaseSlots(1), index: 0 });
    expect(none).toMatchObject({ status: 'pass', runs: 0 });
    expect([...before.cutShort]).toEqual([0]);
  });
});

describe('run --budget from the command line', () => {
  it('rejects a bad budget, and --budget on replay, with exit 2 naming the flag', async () => {
    const bad = await cli(['run', '--budget', 'soon', '--property', 'connect.enoent']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--budget must be a duration/);
    const replay = await cli(['replay', '--budget', '5s', '--property', 'connect.enoent', '--server', 'c-reference', '--seed', '1', '--path', '0']);
    expect(replay.exitCode).toBe(2);
    expect(replay.stderr).toMatch(/--budget is only for run/);
  });

  it('shards of a budgeted run merge into every unit exactly once, with run counts said to depend on time', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      const filters = ['--seed', '777', '--budget', '6s', '--property', 'delivery.payload', '--property', 'eof.exit-zero', '--server', 'c-reference', '--server', 'c-original'];
      const plain = await cli(['run', '--runs', '1', '--seed', '777', ...filters.slice(4), '--out', join(dir.path, 'plain')]);
      expect(plain.exitCode, plain.stderr).toBe(0);
      const shards = await Promise.all([1, 2].map((i) => cli(['run', ...filters, '--shard', `${i}/2`, '--out', join(dir.path, `shard${i}`)])));
      for (const s of shards) expect(s.exitCode, s.stderr).toBe(0);
      expect(shards[0]!.stdout.replace(/\s+/g, ' ')).toMatch(/budget 6 s: 10 to 1000 runs per unit, counts depended on time/);
      const files = [1, 2].map((i) => join(dir.path, `shard${i}`, 'results.json'));
      const merged = await cli(['merge', ...files, '--out', join(dir.path, 'merged')]);
      expect(merged.exitCode, merged.stderr).toBe(0);
      const read = async (p: string): Promise<RunReport> => JSON.parse(await readFile(join(dir.path, p, 'results.json'), 'utf8')) as RunReport;
      const [a, b] = [await read('plain'), await read('merged')];
      const keys = (r: RunReport): string[] => r.results.map((x) => `${x.property} ${x.socketType} ${x.address} ${x.server} × ${x.client}`);
      expect(keys(b)).toEqual(keys(a));
      expect(new Set(keys(b)).size).toBe(keys(b).length);
      expect(b.budget).toMatchObject({ budgetMs: 6000, minimumRuns: BUDGET.minimumRuns, maxRuns: BUDGET.maxRuns });
      // Every unit that ran had at least its minimum (or its property's cap); the budget added more somewhere.
      for (const r of b.results.filter((x) => x.status === 'pass')) expect(r.runs).toBeGreaterThanOrEqual(Math.min(BUDGET.minimumRuns, 3));
      expect(b.budget!.moreRuns).toBeGreaterThan(0);
      expect(await readFile(join(dir.path, 'merged', 'summary.md'), 'utf8')).toMatch(/counts depended on time/);
      // A shard without the budget is not of the same run: the second shard's file, its budget taken out.
      const unbudgeted = join(dir.path, 'unbudgeted.json');
      const { budget: _, ...rest } = JSON.parse(await readFile(files[1]!, 'utf8')) as RunReport;
      await writeFile(unbudgeted, JSON.stringify(rest));
      const mixed = await cli(['merge', files[0]!, unbudgeted, '--out', join(dir.path, 'mixed')]);
      expect(mixed.exitCode).toBe(2);
      expect(mixed.stderr).toMatch(/budget: no --budget differs from --budget 6000 ms/);
    } finally {
      await dir.cleanup();
    }
  });
});
