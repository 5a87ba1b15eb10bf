/**
 * What issue 6's speed-ups must not change: the bounded capture's verdicts (memcmp comparison, lazy
 * hashing), the process launcher's behaviour as a process runner, and `run --perf` in results.json and
 * the matrix. No timed assertion here: performance is checked by the benchmark (npm run bench) only.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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
