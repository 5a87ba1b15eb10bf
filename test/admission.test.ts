/**
 * The adaptive runner (issue 17, item 3): the admission logic as a pure function over fake samples,
 * the case slots' turns, the assumption Speculation rests on (fc.sample draws what fc.check draws), and
 * that a run's results do not depend on how many cases were in flight.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { dir as tmpDir } from 'tmp-promise';
import { describe, expect, it } from 'vitest';
import { ADMISSION } from '../suite/defaults.js';
import { nextLimit, type AdmissionConfig, type AdmissionSample } from '../suite/plan/admission.js';
import { CaseSlots } from '../suite/plan/speculation.js';
import { allProperties } from '../suite/properties/index.js';
import type { RunReport } from '../suite/report/results.js';
import { PROJECT_ROOT } from '../suite/harness/paths.js';
import { cli } from './support/cli.js';

const GiB = 1024 ** 3;
const config: AdmissionConfig = { ...ADMISSION, cores: 2, floor: 2, ceiling: 16 };
const at = (atMs: number, harnessCpuMs: number, childrenCpuMs: number, more: Partial<AdmissionSample> = {}): AdmissionSample => ({
  atMs,
  harnessCpuMs,
  childrenCpuMs,
  availableMemoryBytes: 16 * GiB,
  fdsOpen: 100,
  fdLimit: 20_000,
  ...more,
});
const t0 = at(0, 0, 0);

describe('nextLimit', () => {
  it('grows a binding limit while the cores are idle and units wait, at most doubling per sample', () => {
    // 2 in flight used 14 ms of CPU in 100 ms on 2 cores: 7%, far under the target.
    const d = nextLimit({ limit: 2, inFlight: 2, waiting: 10 }, t0, at(100, 10, 4), config);
    expect(d).toMatchObject({ limit: 4, why: 'grow' });
    expect(d.utilisation).toBeCloseTo(0.07);
    // Nearer the target, towards it: 8 in flight at 60% → 0.075 each → 10 reach 80%.
    expect(nextLimit({ limit: 8, inFlight: 8, waiting: 10 }, t0, at(100, 40, 80), config)).toMatchObject({ limit: 10, why: 'grow' });
    // Never past the ceiling.
    expect(nextLimit({ limit: 12, inFlight: 12, waiting: 10 }, t0, at(100, 1, 1), config)).toMatchObject({ limit: 16, why: 'ceiling' });
  });

  it('holds when nothing waits, or the limit does not bind, or there is no interval', () => {
    expect(nextLimit({ limit: 4, inFlight: 4, waiting: 0 }, t0, at(100, 1, 1), config)).toMatchObject({ limit: 4, why: 'hold' });
    expect(nextLimit({ limit: 4, inFlight: 3, waiting: 5 }, t0, at(100, 1, 1), config)).toMatchObject({ limit: 4, why: 'hold' });
    expect(nextLimit({ limit: 4, inFlight: 4, waiting: 5 }, t0, at(0, 1, 1), config)).toMatchObject({ limit: 4, why: 'hold' });
  });

  it('shrinks when the run is over the high mark or the harness thread is busy, never under the floor', () => {
    // 10 in flight used 196 ms in 100 ms on 2 cores: 98%. 80% allows 8.
    expect(nextLimit({ limit: 10, inFlight: 10, waiting: 5 }, t0, at(100, 50, 146), config)).toMatchObject({ limit: 8, why: 'shrink' });
    // The harness at 95% of its one thread, though the machine is half idle: 8 × 0.85 / 0.95 → 7.
    expect(nextLimit({ limit: 8, inFlight: 8, waiting: 5 }, t0, at(100, 95, 0), config)).toMatchObject({ limit: 7, why: 'shrink' });
    expect(nextLimit({ limit: 3, inFlight: 3, waiting: 5 }, t0, at(100, 99, 100), config)).toMatchObject({ limit: 2, why: 'shrink' });
  });

  it('counts the whole machine when it is busier than the run: other work holds the run back', () => {
    // The run itself used 5% of the cores; the machine's 4 CPUs were 90% busy over the same 100 ms.
    const busy = { machine: { busyMs: 360, cpus: 4 } };
    const idle = { machine: { busyMs: 0, cpus: 4 } };
    expect(nextLimit({ limit: 4, inFlight: 4, waiting: 5 }, at(0, 0, 0, idle), at(100, 5, 5, busy), config)).toMatchObject({ limit: 4, why: 'hold', utilisation: 0.9 });
    expect(nextLimit({ limit: 4, inFlight: 4, waiting: 5 }, at(0, 0, 0, idle), at(100, 5, 5, { machine: { busyMs: 392, cpus: 4 } }), config)).toMatchObject({ why: 'shrink', limit: 3 });
    // Without the machine's figures (no /proc/stat), the run's own.
    expect(nextLimit({ limit: 4, inFlight: 4, waiting: 5 }, t0, at(100, 5, 5), config)).toMatchObject({ why: 'grow', utilisation: 0.05 });
  });

  it('reads a drop in the children\'s CPU (a launcher reaped) as none used', () => {
    expect(nextLimit({ limit: 2, inFlight: 2, waiting: 5 }, at(0, 0, 5000), at(100, 2, 0), config)).toMatchObject({ limit: 4, utilisation: 0.01 });
  });

  it('admits beyond those in flight only what memory and fds leave room for, even under the floor', () => {
    const idle = (more: Partial<AdmissionSample>) => at(100, 1, 1, more);
    // Room for 3 more cases of 128 MiB beyond the 512 MiB reserve.
    const memory = ADMISSION.memoryReserveBytes + 3.5 * ADMISSION.caseMemoryBytes;
    expect(nextLimit({ limit: 4, inFlight: 4, waiting: 9 }, t0, idle({ availableMemoryBytes: memory }), config)).toMatchObject({ limit: 7, why: 'memory' });
    expect(nextLimit({ limit: 2, inFlight: 1, waiting: 9 }, t0, idle({ availableMemoryBytes: 0 }), config)).toMatchObject({ limit: 1, why: 'memory' });
    // 100 fds free: 64 reserved, one case of 32 more.
    expect(nextLimit({ limit: 4, inFlight: 4, waiting: 9 }, t0, idle({ fdsOpen: 900, fdLimit: 1000 }), config)).toMatchObject({ limit: 5, why: 'fds' });
    expect(nextLimit({ limit: 2, inFlight: 0, waiting: 9 }, t0, idle({ fdsOpen: 1000, fdLimit: 1000 }), config)).toMatchObject({ limit: 1, why: 'fds' });
  });

  it('keeps a fixed count fixed (floor = ceiling, --jobs at most the cores)', () => {
    const fixed = { ...config, floor: 2, ceiling: 2 };
    expect(nextLimit({ limit: 2, inFlight: 2, waiting: 9 }, t0, at(100, 1, 1), fixed).limit).toBe(2);
    expect(nextLimit({ limit: 2, inFlight: 2, waiting: 9 }, t0, at(100, 100, 100), fixed).limit).toBe(2);
  });
});

describe('CaseSlots', () => {
  it('grants at most the limit, to the asking units in turn', async () => {
    const slots = new CaseSlots(0);
    const granted: string[] = [];
    const ask = (unit: number, tag: string) => slots.acquire(unit).then(() => void granted.push(tag));
    // Unit 0 asks for three cases at once (as a unit running ahead does), then units 1 and 2.
    const all = [ask(0, 'a1'), ask(0, 'a2'), ask(0, 'a3'), ask(1, 'b1'), ask(2, 'c1'), ask(1, 'b2')];
    await Promise.resolve();
    expect(slots.waiting).toBe(6);
    slots.setLimit(2);
    await Promise.resolve();
    expect(granted).toEqual(['a1', 'b1']);
    expect(slots.inFlight).toBe(2);
    slots.release();
    slots.release();
    await Promise.resolve();
    // Unit 0's second case waits for units 1's and 2's turns, not the other way round.
    expect(granted).toEqual(['a1', 'b1', 'c1', 'a2']);
    slots.setLimit(6);
    await Promise.all(all);
    expect(granted).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
    expect(slots.inFlight).toBe(4);
    expect(slots.waiting).toBe(0);
  });
});

describe('Speculation\'s premise', () => {
  it('fc.sample with the seed, numRuns and examples draws the inputs fc.check passes, in order, for every property', async () => {
    const properties = allProperties().filter((p) => !p.arbitraryFor);
    expect(properties.length).toBeGreaterThan(20);
    for (const property of properties) {
      const examples = (property.examples ?? []).map((e) => [e] as [unknown]);
      const numRuns = 15 + examples.length;
      const seen: unknown[] = [];
      const details = await fc.check(
        fc.asyncProperty(property.arbitrary, async (input: unknown) => void seen.push(input)),
        { numRuns, seed: 4242, examples },
      );
      expect(details.failed).toBe(false);
      const drawn = fc.sample(fc.tuple(property.arbitrary), { numRuns, seed: 4242, examples }).map(([input]) => input);
      expect(fc.stringify(drawn), property.id).toBe(fc.stringify(seen));
    }
  });
});

describe('a run at any concurrency', () => {
  it('writes the same results.json with --jobs 1 as with the adaptive default', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      // A slow-starting subject (its cases wait, so the adaptive run rises above the cores), an expected
      // failure with a counterexample (c-original), passes, unsupported cases, a client-only property.
      const filters = ['--runs', '6', '--seed', '1717', '--subject', join(PROJECT_ROOT, 'bench', 'slow-subject.json'),
        '--property', 'delivery.payload', '--property', 'eof.exit-zero', '--property', 'connect.enoent',
        '--server', 'c-reference', '--server', 'c-original', '--server', 'slow-start', '--client', 'c-reference', '--client', 'slow-start', '--client', 'c-original'];
      const one = await cli(['run', ...filters, '--jobs', '1', '--out', join(dir.path, 'one')]);
      expect(one.exitCode, one.stderr).toBe(0);
      const adaptive = await cli(['run', ...filters, '--out', join(dir.path, 'adaptive')]);
      expect(adaptive.exitCode, adaptive.stderr).toBe(0);
      // What time, the harness's pid and its counters make differ: durations, the start, and the names
      // the harness gives case dirs, payload files and sockets (context.ts: `s<pid><counter>`; a run that
      // ran cases ahead of a failure has counted further).
      const stable = async (name: string, pid: number): Promise<RunReport> => {
        const text = (await readFile(join(dir.path, name, 'results.json'), 'utf8'))
          .replace(/udsc-\d+-[\w-]+/g, 'udsc-DIR')
          .replace(/payload-\d+/g, 'payload-N')
          .replace(new RegExp(`\\bs${pid.toString(36).slice(-4)}[0-9a-z]+\\b`, 'g'), 'sNAME');
        return JSON.parse(text, (key, value: unknown) => (key === 'durationMs' || key === 'startedAt' ? undefined : value)) as RunReport;
      };
      const a = await stable('one', one.pid);
      const b = await stable('adaptive', adaptive.pid);
      expect(a.results.some((r) => r.status === 'expected-fail' && r.counterexample !== undefined)).toBe(true);
      expect(a.results.some((r) => r.server === 'slow-start' && r.status === 'pass')).toBe(true);
      expect(b).toEqual(a);
    } finally {
      await dir.cleanup();
    }
  }, 120_000);
});
