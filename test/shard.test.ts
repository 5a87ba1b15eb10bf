/**
 * `run --shard i/n` and `merge`: the n shards cover every case of the plan exactly once, and a 3-shard
 * run merged equals a single run with the same seed, case for case.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dir as tmpDir } from 'tmp-promise';
import { describe, expect, it } from 'vitest';
import { allProperties } from '../suite/properties/index.js';
import { builtinImplementations } from '../suite/registry.js';
import type { RunReport } from '../suite/report/results.js';
import { unitSeed } from '../suite/plan/runner.js';
import { planSuite } from '../suite/run.js';
import { parseShard, shardOf } from '../suite/plan/shard.js';
import { cli } from './support/cli.js';

describe('shardOf', () => {
  it('puts every case of the plan in exactly one of n shards, the same way every time', async () => {
    const { units } = await planSuite({ implementations: builtinImplementations(), properties: allProperties() });
    expect(units.length).toBeGreaterThan(20);
    for (const n of [1, 2, 3, 5, units.length, units.length + 3]) {
      const shards = Array.from({ length: n }, (_, i) => shardOf(units, { index: i + 1, count: n }));
      expect(shards.flat().length).toBe(units.length);
      expect(new Set(shards.flat()).size).toBe(units.length);
      // Balanced: sizes differ by at most one.
      const sizes = shards.map((s) => s.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      expect(shards).toEqual(Array.from({ length: n }, (_, i) => shardOf(units, { index: i + 1, count: n })));
    }
    // A case's seed depends on the run seed and the case alone, not on the shard it lands in.
    const [u] = shardOf(units, { index: 2, count: 3 });
    expect(unitSeed(7, u!)).toBe(unitSeed(7, units[1]!));
  });

  it('parses i/n', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    expect(parseShard('1/1')).toEqual({ index: 1, count: 1 });
    expect(parseShard('0/3')).toMatch(/need 1 <= i <= n/);
    expect(parseShard('3/2')).toMatch(/need 1 <= i <= n/);
    expect(parseShard('2-3')).toMatch(/must look like i\/n/);
  });
});

describe('a sharded run, merged', () => {
  it('equals a single run case for case', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      // Small but varied: c-original's expected failure (with a counterexample), passes, unsupported
      // cases, and a client-only property (server "-").
      const filters = ['--runs', '3', '--seed', '4242', '--jobs', '2', '--property', 'delivery.payload', '--property', 'eof.exit-zero', '--property', 'connect.enoent', '--server', 'c-reference', '--server', 'c-original'];
      const single = await cli(['run', ...filters, '--out', join(dir.path, 'single')]);
      expect(single.exitCode, single.stderr).toBe(0);
      const shards = await Promise.all([1, 2, 3].map((i) => cli(['run', ...filters, '--shard', `${i}/3`, '--out', join(dir.path, `shard${i}`)])));
      for (const s of shards) expect(s.exitCode, s.stderr).toBe(0);
      expect(shards[0]!.stderr).toMatch(/shard 1\/3: \d+ of \d+ cases/);

      const files = [1, 2, 3].map((i) => join(dir.path, `shard${i}`, 'results.json'));
      const parts = await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, 'utf8')) as RunReport));
      parts.forEach((p, i) => expect(p.shard).toEqual({ index: i + 1, count: 3 }));
      for (const name of ['junit.xml', 'summary.md', 'index.html']) await readFile(join(dir.path, 'shard1', name), 'utf8');

      const merged = await cli(['merge', ...files, '--out', join(dir.path, 'merged')]);
      expect(merged.exitCode, merged.stderr).toBe(0);
      expect(merged.stderr).toBe('');
      const a = JSON.parse(await readFile(join(dir.path, 'single', 'results.json'), 'utf8')) as RunReport;
      const b = JSON.parse(await readFile(join(dir.path, 'merged', 'results.json'), 'utf8')) as RunReport;
      const cases = (r: RunReport) => r.results.map((x) => ({ property: x.property, server: x.server, client: x.client, status: x.status, counterexample: x.counterexample, replay: x.replay }));
      expect(cases(b)).toEqual(cases(a));
      expect(a.results.some((x) => x.status === 'expected-fail' && x.counterexample)).toBe(true);
      expect(a.results.some((x) => x.server === '-')).toBe(true);
      expect(b.summary).toEqual(a.summary);
      expect(b.properties).toEqual(a.properties);
      expect(b.implementations).toEqual(a.implementations);
      expect(b.merged).toEqual({ from: files, shards: [1, 2, 3] });
      for (const name of ['junit.xml', 'summary.md', 'index.html']) await readFile(join(dir.path, 'merged', name), 'utf8');

      // Two shards of three: merged, with a warning that the third is missing.
      const partial = await cli(['merge', files[0]!, files[2]!, '--out', join(dir.path, 'partial')]);
      expect(partial.exitCode).toBe(0);
      expect(partial.stderr).toContain('shard 2 of 3 missing');
      // The same shard twice is refused.
      const twice = await cli(['merge', files[0]!, files[0]!, '--out', join(dir.path, 'twice')]);
      expect(twice.exitCode).toBe(2);
      expect(twice.stderr).toContain(`${files[0]}: shard.index: shard 1 is also in ${files[0]}`);
    } finally {
      await dir.cleanup();
    }
  });
});
