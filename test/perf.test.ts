/**
 * What issue 6's speed-ups must not change: the bounded capture's verdicts (memcmp comparison, lazy
 * hashing), the process launcher's behaviour as a process runner, and `run --perf` in results.json and
 * the matrix. No timed assertion here: performance is checked by the benchmark (npm run bench) only.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import tmp from 'tmp-promise';
import { describe, expect, it } from 'vitest';
import { OutputCapture } from '../suite/harness/capture.js';
import { CaseContext } from '../suite/harness/context.js';
import { LAUNCHER_PATH } from '../suite/harness/launcher.js';
import { measurePairing, perfPayload } from '../suite/measure/perf.js';
import { spawnProcess } from '../suite/harness/process.js';
import { cReference, tsNet } from '../suite/registry.js';
import { cli } from './support/cli.js';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { C_BIN, PROJECT_ROOT } from '../suite/harness/paths.js';
import type { BatchFigure, CaseFigures } from '../bench/cases.js';
import { caseRows, likeForLike, startupRows, TARGETS } from '../bench/report.js';
import type { StartupFigure } from '../bench/startup.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function firstDifference(a: Uint8Array, b: Uint8Array): number | null {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return null;
}

describe('OutputCapture', () => {
  it('gives the same length, hashes and first difference as a naive comparison, however the stream is cut', () => {
    const stream = fc
      .record({
        expected: fc.uint8Array({ maxLength: 300 }).map((b) => b.map((x) => x % 4)),
        edit: fc.constantFrom('same', 'shorter', 'longer', 'flip'),
        at: fc.nat(),
        cuts: fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 40 }),
        cap: fc.integer({ min: 0, max: 80 }),
      })
      .map(({ expected, edit, at, cuts, cap }) => {
        let actual = Uint8Array.from(expected);
        if (edit === 'shorter') actual = actual.subarray(0, at % (expected.length + 1));
        if (edit === 'longer') actual = Uint8Array.from([...expected, 1 + (at % 3)]);
        if (edit === 'flip' && expected.length > 0) actual[at % expected.length]! ^= 0x10;
        return { expected, actual, cuts, cap };
      });
    fc.assert(
      fc.property(stream, ({ expected, actual, cuts, cap }) => {
        const capture = new OutputCapture({ cap, expected });
        let offset = 0;
        for (let i = 0; offset < actual.length; i++) {
          const n = cuts.length ? cuts[i % cuts.length]! : actual.length;
          capture.push(actual.subarray(offset, offset + n));
          offset += n;
          // Asking for the hash mid-stream must not disturb the rest.
          if (i % 3 === 1) expect(capture.sha256()).toBe(sha(actual.subarray(0, offset)));
        }
        const cmp = capture.compare();
        expect(cmp.actualLength).toBe(actual.length);
        expect(cmp.actualSha256).toBe(sha(actual));
        expect(cmp.expectedSha256).toBe(sha(expected));
        expect(cmp.firstDifference).toBe(firstDifference(expected, actual));
        expect([...capture.head()]).toEqual([...actual.subarray(0, cap)]);
      }),
      { numRuns: 300 },
    );
  });
});

describe.runIf(existsSync(LAUNCHER_PATH))('the process launcher', () => {
  it('runs processes as child_process did: cwd, env, stdin file, stdout, stderr, exit code and signal', async () => {
    await CaseContext.with({}, 10_000, async (ctx) => {
      writeFileSync(join(ctx.dir, 'in.txt'), 'from stdin');
      const stdout = new OutputCapture({ cap: 1024 });
      const p = spawnProcess(['sh', '-c', 'pwd; echo "$GREETING"; cat; echo oops >&2; exit 3'], {
        cwd: ctx.dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GREETING: 'hello é' },
        signal: ctx.signal,
        stdout,
        stdin: { file: join(ctx.dir, 'in.txt') },
      });
      expect(await p.started).toBeGreaterThan(0);
      const summary = await p.exited;
      expect(stdout.text()).toBe(`${ctx.dir}\nhello é\nfrom stdin`);
      expect(summary).toMatchObject({ exitCode: 3, signal: null, stderr: 'oops\n', timedOut: false });

      const killed = spawnProcess(['sh', '-c', 'sleep 30 & wait'], { cwd: ctx.dir, env: {}, signal: ctx.signal, stdout: new OutputCapture({ cap: 0 }) });
      await killed.started;
      killed.kill();
      expect(await killed.exited).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
    });
  });

  it('reports a program that cannot start as exit 127 with the reason, as Node words it', async () => {
    await CaseContext.with({}, 5_000, async (ctx) => {
      const p = spawnProcess(['no-such-program-here'], { cwd: ctx.dir, env: { PATH: '/nonexistent' }, signal: ctx.signal, stdout: new OutputCapture({ cap: 0 }) });
      expect(await p.started).toBe(-1);
      expect(await p.exited).toMatchObject({ exitCode: 127, spawnFailed: true, stderr: 'spawn no-such-program-here ENOENT\n' });
    });
  });

  it('feeds an interactive stdin, passes no fd but 0 to 2, and drops privileges in the child', async () => {
    // Every process goes through the launcher now: drivers (a stdin pipe) and privilege drops too.
    const script = [
      'import os, sys',
      'def is_open(fd):',
      '    try:',
      '        os.fstat(fd)',
      '        return True',
      '    except OSError:',
      '        return False',
      'print(sys.stdin.readline().strip(), sys.stdin.read() == "", [fd for fd in range(1024) if is_open(fd)], os.getuid(), os.getgid())',
    ].join('\n');
    // The system python3: root's pyenv shims are not readable by nobody.
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const stdout = new OutputCapture({ cap: 1024 });
    const controller = new AbortController();
    const p = spawnProcess(['python3', '-c', script], { cwd: '/', env: { PATH: '/usr/bin:/bin' }, signal: controller.signal, stdout, stdin: 'pipe', ...asNobody });
    p.stdin!.write('hello\n');
    p.stdin!.end();
    expect(await p.exited).toMatchObject({ exitCode: 0, stderr: '' });
    const [uid, gid] = 'uid' in asNobody ? [65534, 65534] : [process.getuid?.(), process.getgid?.()];
    expect(stdout.text()).toBe(`hello True [0, 1, 2] ${uid} ${gid}\n`);
  });

  it('kills a process that was aborted before the launcher reported it', async () => {
    const controller = new AbortController();
    const p = spawnProcess(['sleep', '30'], { cwd: '/', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, signal: controller.signal, stdout: new OutputCapture({ cap: 0 }) });
    controller.abort();
    expect(await p.exited).toMatchObject({ signal: 'SIGKILL', timedOut: true });
  });
});

describe('perf', () => {
  it('measures a pairing through the harness, checking the bytes', async () => {
    const entry = await measurePairing(cReference, tsNet, { payload: perfPayload(256 * 1024), samples: 2, warmup: false });
    expect(entry).toMatchObject({ server: 'c-reference', client: 'ts-net', payloadBytes: 256 * 1024, samples: 2 });
    expect(entry.error).toBeUndefined();
    expect(entry.mbPerSec).toBeGreaterThan(0);
    expect(entry.firstByteMs).toBeGreaterThan(0);
  });

  it('run --perf puts throughput and first-byte latency in results.json and in the matrix', async () => {
    const out = await tmp.dir({ unsafeCleanup: true });
    try {
      const r = await cli(['run', '--runs', '1', '--seed', '3', '--out', out.path, '--property', 'delivery.default-message', '--server', 'c-reference', '--client', 'ts-net', '--perf']);
      expect(r.exitCode).toBe(0);
      const report = JSON.parse(readFileSync(join(out.path, 'results.json'), 'utf8'));
      expect(report.perf).toHaveLength(1);
      expect(report.perf[0]).toMatchObject({ server: 'c-reference', client: 'ts-net', payloadBytes: 64 * 1024 * 1024, samples: 3 });
      expect(report.perf[0].mbPerSec).toBeGreaterThan(0);
      expect(r.stdout).toMatch(/MB\/s +1st byte/);
      expect(r.stdout).toMatch(/c-reference × ts-net +ok +\d+ +[\d.]+ ms/);
    } finally {
      await out.cleanup();
    }
  });
});

/**
 * The bench's report shape (issue 17): every ratio divides two figures at the same job count, the
 * targets sit on the default job count's, and the C helpers print what bench/*.ts parse. The figures
 * here are made up (numbers chosen so that a cross-job-count ratio could not come out equal); nothing
 * is timed.
 */
describe('bench report', () => {
  const batch = (perCaseMs: number, jobs: number): BatchFigure => ({ cases: 99, batches: 10, perCaseMs, meanPerCaseMs: perCaseMs, jobs });
  const figures = (jobs: number): CaseFigures => ({
    jobs,
    cases: 99,
    bare: { sequential: batch(2, 1), parallel: batch(1.3, jobs) },
    design: { sequential: batch(3, 1), parallel: batch(1.7, jobs) },
    harness: { sequential: batch(3.5, 1), parallel: batch(2.9, jobs) },
    harnessCpuPerCaseMs: { sequential: 1.5, parallel: 1.6 },
    tsNetInProcess: { ...batch(1, jobs), casesPerSecond: 1000 },
  });

  it('gives each ratio like for like, the targets at the default job count and 1 job as context', () => {
    const ratios = likeForLike(figures(2));
    expect(ratios.map((r) => [r.name, r.jobs, r.numeratorMs, r.denominatorMs, r.target])).toEqual([
      ['harness / design floor', 2, 2.9, 1.7, TARGETS.harnessOverDesign],
      ['design floor / bare floor', 2, 1.7, 1.3, TARGETS.designOverBare],
      ['harness / design floor', 1, 3.5, 3, undefined],
      ['design floor / bare floor', 1, 3, 2, undefined],
    ]);
    for (const r of ratios) expect(r.ratio).toBeCloseTo(r.numeratorMs / r.denominatorMs, 12);
    const rows = caseRows(figures(2));
    const ratioRows = rows.filter((r) => r.ratio !== '');
    // One printed ratio per like-for-like pair, each naming one job count ("both at N jobs").
    expect(ratioRows).toHaveLength(4);
    for (const r of ratioRows) expect(r.figure).toMatch(/both at \d+ jobs?: the cost of the (TypeScript|design)$/);
    expect(ratioRows.map((r) => r.ratio)).toEqual(['1.71×', '1.31×', '1.17×', '1.50×']);
    expect(ratioRows.map((r) => r.verdict)).toEqual(['MISSED', 'MISSED', '', '']);
  });

  it('prints one set of ratios on one core, and refuses figures whose job counts differ', () => {
    expect(likeForLike(figures(1)).map((r) => r.jobs)).toEqual([1, 1]);
    const skewed = figures(2);
    skewed.design.parallel = batch(1.7, 1);
    expect(() => likeForLike(skewed)).toThrow(/job counts differ/);
  });

  it('marks a start-up command that does not exist yet, rather than a ratio for it', () => {
    const command = (name: string, cpuMs: number, exists: boolean, ratio: number | null) => ({ name, argv: [], exists, exitCode: exists ? 0 : 2, samples: 3, cpuMs, wallMs: cpuMs, ratio });
    const s: StartupFigure = { rounds: 3, extraCaCertsRemoved: true, baseline: command('node -e 0', 20, true, null), commands: [command('uds-conformance --help', 25, true, 1.25), command('uds-conformance --version', 0, false, null)] };
    const rows = startupRows(s);
    expect(rows.find((r) => r.figure.includes('--help'))).toMatchObject({ ratio: '1.25×', verdict: 'ok' });
    expect(rows.find((r) => r.figure.includes('--version'))).toMatchObject({ measured: 'not implemented (exit 2)', ratio: '', verdict: '' });
  });

  describe('the C helpers', () => {
    const floorDirs = (): string[] => readdirSync(os.tmpdir()).filter((n) => n.startsWith('udsfloor-')).sort();

    it('bench-floor runs the bare and the design floor over the cases it is given, leaving no dir behind', () => {
      execFileSync('make', ['-s', '-C', `${PROJECT_ROOT}/c-reference/bench`]);
      const before = floorDirs();
      for (const mode of ['bare', 'design']) {
        for (const jobs of [1, 2]) {
          const args = [...(mode === 'bare' ? ['--bare'] : []), `${C_BIN}/original-server`, `${C_BIN}/original-client`, '4', String(jobs)];
          const out = JSON.parse(execFileSync(`${C_BIN}/bench-floor`, args, { encoding: 'utf8', timeout: 30_000 }));
          expect(out).toMatchObject({ mode, cases: 4, jobs, failures: 0 });
          expect(out.wallMs).toBeGreaterThan(0);
        }
      }
      expect(floorDirs()).toEqual(before);
    });

    it('bench-rusage reports the child\'s exit code and CPU', () => {
      execFileSync('make', ['-s', '-C', `${PROJECT_ROOT}/c-reference/bench`]);
      const out = JSON.parse(execFileSync(`${C_BIN}/bench-rusage`, ['sh', '-c', 'exit 3'], { encoding: 'utf8' }));
      expect(out).toMatchObject({ exitCode: 3 });
      for (const k of ['userMs', 'sysMs', 'wallMs']) expect(typeof out[k]).toBe('number');
    });
  });
});
