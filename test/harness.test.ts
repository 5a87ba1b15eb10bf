import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { OutputCapture } from '../suite/harness/capture.js';
import { CaseContext } from '../suite/harness/context.js';
import { liveProcessCount, spawnProcess } from '../suite/harness/process.js';
import { readUnixTable, waitListening } from '../suite/harness/readiness.js';
import { cOriginal, cReference } from '../suite/registry.js';
import type { Implementation } from '../suite/model/types.js';
import { leftoversOf, nothingLeft } from './support/leftovers.js';

afterAll(() => {
  expect(liveProcessCount()).toBe(0);
  expect(leftoversOf(process.pid)).toEqual({ dirs: [], sockets: [], processes: [] });
});

/** A server that binds, reports it, and listens only when told on stdin: the bind-to-listen window. */
const BIND_THEN_WAIT = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
print("bound", flush=True)
sys.stdin.readline()
s.listen(1)
print("listening", flush=True)
sys.stdin.readline()
`;

describe('readiness', () => {
  it('waits for the listening state, not for the socket file', async () => {
    await CaseContext.with({}, 10_000, async (ctx) => {
      const path = 'ready-test';
      const child = spawn('python3', ['-c', BIND_THEN_WAIT, path], { cwd: ctx.dir, stdio: ['pipe', 'pipe', 'inherit'] });
      const exited = new Promise((r) => child.once('exit', r));
      try {
        const lines = child.stdout[Symbol.asyncIterator]();
        expect(String((await lines.next()).value)).toContain('bound');
        let settled = false;
        const ready = waitListening({ path, cwd: ctx.dir, pid: child.pid!, exited, signal: ctx.signal }).then((o) => {
          settled = true;
          return o;
        });
        // The file exists and the kernel lists the socket, but not as listening: readiness must wait.
        expect(existsSync(ctx.resolve(path))).toBe(true);
        expect(readUnixTable().some((e) => e.path === path && !e.listening)).toBe(true);
        await new Promise((r) => setImmediate(r));
        expect(settled).toBe(false);
        child.stdin.write('\n');
        const outcome = await ready;
        expect(outcome.ready).toBe(true);
        expect(readUnixTable().some((e) => e.path === path && e.listening)).toBe(true);
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
    });
  });

  it("reports a server listening at a truncated path at once (the seed's 14-byte bind)", async () => {
    await CaseContext.with({ server: cOriginal }, 10_000, async (ctx) => {
      const path = 'a_longer_socket_path';
      const server = await ctx.startServer({ path });
      expect(server.ready).toMatchObject({ ready: false, reason: 'wrong-path', boundPath: 'a_longer_socke' });
      expect(server.ready.waitedMs).toBeLessThan(5000);
    });
  });

  it('reports a server that exits before listening', async () => {
    await CaseContext.with({ server: cReference }, 10_000, async (ctx) => {
      const server = await ctx.startServer({ path: 'no/such/dir/s' });
      expect(server.ready).toMatchObject({ ready: false, reason: 'exited' });
      const summary = await server.exited;
      expect(summary.exitCode).toBe(1);
      expect(summary.stderr).toBe('bind: No such file or directory\n');
    });
  });
});

describe('deadlines and cleanup', () => {
  const hanging: Implementation = {
    name: 'hanging',
    kind: 'mutant',
    description: 'a server that never binds, and whose child never exits either',
    server: { command: { command: ['sh', '-c', 'tail -f /dev/null & tail -f /dev/null'] }, payload: false },
    expectations: {},
  };

  it('kills the whole process tree of a server that never listens, at the deadline', async () => {
    let dir = '';
    await CaseContext.with({ server: hanging }, 500, async (ctx) => {
      dir = ctx.dir;
      const server = await ctx.startServer({ path: 's' });
      expect(server.ready).toMatchObject({ ready: false, reason: 'deadline' });
      const summary = await server.exited;
      expect(summary.signal).toBe('SIGKILL');
      expect(summary.timedOut).toBe(true);
    });
    expect(existsSync(dir)).toBe(false);
    expect(nothingLeft(leftoversOf(process.pid))).toBe(true);
  });

  it('removes the case dir and kills processes when the check throws', async () => {
    let dir = '';
    await expect(
      CaseContext.with({ server: cReference }, 10_000, async (ctx) => {
        dir = ctx.dir;
        const server = await ctx.startServer({ path: 's', payload: new Uint8Array(1) });
        expect(server.ready.ready).toBe(true);
        throw new Error('check failed while the server waits for a client');
      }),
    ).rejects.toThrow('check failed');
    expect(existsSync(dir)).toBe(false);
    expect(nothingLeft(leftoversOf(process.pid))).toBe(true);
  });

  it('turns a missing executable into exit 127 with the reason on stderr', async () => {
    await CaseContext.with({}, 5_000, async (ctx) => {
      const p = spawnProcess(['/nonexistent/program'], { cwd: ctx.dir, signal: ctx.signal, stdout: new OutputCapture({ cap: 10 }) });
      const summary = await p.exited;
      expect(summary.exitCode).toBe(127);
      expect(summary.stderr).toMatch(/ENOENT|not found|No such file/);
    });
  });
});

describe('OutputCapture', () => {
  it('keeps a bounded head, hashes everything and finds the first difference incrementally', () => {
    const expected = Buffer.from('hello world, this is the payload');
    const cap = new OutputCapture({ cap: 8, expected });
    cap.push(Buffer.from('hello wo'));
    cap.push(Buffer.from('rld, thiX is the payload'));
    const cmp = cap.compare();
    expect(cap.head().toString()).toBe('hello wo');
    expect(cap.truncated).toBe(true);
    expect(cmp.firstDifference).toBe(16);
    expect(cmp.actualLength).toBe(expected.length);
    expect(cmp.expectedContext).toBe('@8: "rld, this is the"');
    expect(cmp.actualContext).toContain('past the 8 bytes kept');
  });

  it('reports a short stream as differing at its end, and a long one at the expected end', () => {
    const expected = Buffer.from('abc');
    const short = new OutputCapture({ cap: 100, expected });
    short.push(Buffer.from('ab'));
    expect(short.compare().firstDifference).toBe(2);
    const long = new OutputCapture({ cap: 100, expected });
    long.push(Buffer.from('abcd'));
    expect(long.compare().firstDifference).toBe(3);
    const same = new OutputCapture({ cap: 100, expected });
    same.push(Buffer.from('abc'));
    expect(same.compare().firstDifference).toBeNull();
  });
});
