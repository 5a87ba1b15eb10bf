/**
 * (f) Wall time of the default run: `node dist/suite/cli.js run --out DIR` (only --out, so that the
 * reports go to a temp dir), a fresh Node process as a user starts it, with the machine's environment.
 * One tinybench iteration per sample (a run takes tens of seconds); no warm-up. Its results.json
 * also gives each area's share of the time (areaShares), so the next addition knows its cost.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { distPath } from '../suite/harness/paths.js';

/** One area's part of the default run: the results whose property id starts with `area.`. */
export interface AreaShare {
  area: string;
  units: number;
  /** Their summed durationMs. */
  ms: number;
  /** Of the run's summed unit time (units overlap in time, so the sum exceeds the wall). */
  share: number;
}

export interface WallFigure {
  samples: number;
  /** Median wall time, ms. */
  wallMs: number;
  results: number;
  summary: Record<string, number>;
  seeds: number[];
  exitCodes: number[];
  /** Per area (the property id's first segment), of the last sample's results, largest first. */
  areas: AreaShare[];
  /** The last sample's summed unit time, ms. */
  unitMs: number;
}

/** Groups the results' durationMs by area: what each area of the suite costs a default run. */
export function areaShares(results: ReadonlyArray<{ property: string; durationMs: number }>): AreaShare[] {
  const by = new Map<string, { units: number; ms: number }>();
  for (const r of results) {
    const area = r.property.split('.')[0]!;
    const a = by.get(area) ?? { units: 0, ms: 0 };
    a.units++;
    a.ms += r.durationMs;
    by.set(area, a);
  }
  const total = [...by.values()].reduce((n, a) => n + a.ms, 0);
  return [...by.entries()].map(([area, a]) => ({ area, units: a.units, ms: a.ms, share: total > 0 ? a.ms / total : 0 })).sort((x, y) => y.ms - x.ms || x.area.localeCompare(y.area));
}

function runOnce(out: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [distPath('suite/cli.js'), 'run', '--out', out], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CI: 'true' },
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => void (stderr = (stderr + c.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 || code === 1 ? resolve(code) : reject(new Error(`default run exited ${code}: ${stderr}`))));
  });
}

export async function measureWall(options: { samples: number; log: (line: string) => void }): Promise<WallFigure> {
  const seeds: number[] = [];
  const exitCodes: number[] = [];
  let last: { results: Array<{ property: string; durationMs: number }>; summary: Record<string, number> } | undefined;
  const bench = new Bench({ name: 'default run', iterations: options.samples, time: 0, warmup: false, throws: true });
  bench.add('default run', async () => {
    const out = mkdtempSync(join(os.tmpdir(), 'udsc-bench-run-'));
    try {
      exitCodes.push(await runOnce(out));
      last = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as typeof last & { seed: number };
      seeds.push((last as unknown as { seed: number }).seed);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
  await bench.run();
  const result = bench.tasks[0]!.result;
  if (result.state !== 'completed') throw new Error(`default run: ${result.state}`);
  const figure: WallFigure = {
    samples: options.samples,
    wallMs: result.latency.p50,
    results: last?.results.length ?? 0,
    summary: last?.summary ?? {},
    seeds,
    exitCodes,
    areas: areaShares(last?.results ?? []),
    unitMs: (last?.results ?? []).reduce((n, r) => n + r.durationMs, 0),
  };
  options.log(`  ${(figure.wallMs / 1000).toFixed(1)} s for ${figure.results} results (seeds ${seeds.join(', ')}, exit ${exitCodes.join(', ')})`);
  return figure;
}
