/**
 * Readiness says what went wrong at once (issue 10, item 5): a server that exits before listening, or
 * listens somewhere else (another directory, an abstract name, a TCP or UDP port), fails with that
 * named, never after a deadline; and a unit's time budget stops shrinking with the smallest
 * counterexample so far. The digit-only mutant (Node's server.listen("1") binds TCP port 1) is found
 * on every seed.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { mutants } from '../fixtures/mutants/index.js';
import { CaseContext } from '../suite/harness/context.js';
import { liveProcessCount } from '../suite/harness/process.js';
import { CheckFailure, type Implementation, type ResultEntry } from '../suite/model/types.js';
import { pathForms } from '../suite/properties/paths.js';
import type { Property } from '../suite/properties/property.js';
import { session } from '../suite/properties/session.js';
import { requireReady } from '../suite/properties/verify.js';
import { cReference } from '../suite/registry.js';
import { runSuite } from '../suite/run.js';
import { leftoversOf } from './support/leftovers.js';

afterAll(() => {
  expect(liveProcessCount()).toBe(0);
  expect(leftoversOf(process.pid)).toEqual({ dirs: [], sockets: [], processes: [] });
});

const referenceServer = cReference.server!.commandWithoutPayload!.command[0]!;

/** A seed-protocol server made of a command line, for one test. */
const serverOf = (name: string, command: string[]): Implementation => ({
  name,
  kind: 'mutant',
  description: name,
  server: { command: { command }, payload: false },
  expectations: {},
});

/** Runs one session with `server` at path and returns requireReady's failure (it must fail). */
async function readinessFailure(server: Implementation, path = 's'): Promise<CheckFailure> {
  return CaseContext.with({ server, client: cReference }, 10_000, async (ctx) => {
    const outcome = await session(ctx, { path });
    try {
      requireReady(outcome, path);
    } catch (err) {
      if (err instanceof CheckFailure) return err;
      throw err;
    }
    throw new Error(`requireReady passed: ${JSON.stringify(outcome.ready)}`);
  });
}

/** A python3 server that makes the socket `code` describes, then blocks in a call only a kill ends. */
const python = (name: string, code: string): Implementation => serverOf(name, ['python3', '-c', `import socket, sys\n${code}`, '{path}']);

describe('readiness names what went wrong', () => {
  it('a server that exits before listening: its exit status and stderr, without waiting', async () => {
    const crash = serverOf('crash', ['sh', '-c', 'echo "usage: crash PATH --really" >&2; exit 3', '{path}']);
    const failure = await readinessFailure(crash);
    expect(failure.message).toBe('server exited before listening at "s": exit 3, stderr "usage: crash PATH --really"');
    expect(failure.evidence.server?.timedOut).toBe(false);
  });

  it('a server that chdirs elsewhere and binds the same relative name: both absolute paths', async () => {
    // The reference server, started in a subdirectory: it binds "s" there, not in the case dir.
    const elsewhere = serverOf('elsewhere', ['sh', '-c', `mkdir -p sub && cd sub && exec "${referenceServer}" "$0"`, '{path}']);
    const failure = await readinessFailure(elsewhere);
    expect(failure.message).toMatch(/^server is listening at "\/[^"]*\/sub\/s" instead of "\/[^"]*\/s" \(the same name in another directory\)$/);
    expect(failure.evidence.server?.timedOut).toBe(false);
  });

  it('a server that binds an abstract name', async () => {
    const abstract = python('abstract', 's = socket.socket(socket.AF_UNIX)\ns.bind("\\0" + sys.argv[1] + "-abstract")\ns.listen(1)\ns.accept()');
    const path = `s${process.pid}`;
    const failure = await readinessFailure(abstract, path);
    expect(failure.message).toBe(`server is listening on the abstract name "@${path}-abstract", not on the unix path "${path}"`);
  });

  it('a server that binds a UDP port', async () => {
    const udp = python('udp', 's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(("127.0.0.1", 0))\nprint(s.getsockname()[1], file=sys.stderr, flush=True)\ns.recvfrom(1)');
    const failure = await readinessFailure(udp);
    const port = Number(failure.evidence.server?.stderr.trim());
    expect(port).toBeGreaterThan(0);
    expect(failure.message).toBe(`server is bound to UDP port ${port} (127.0.0.1), not to the unix path "s"`);
  });

  it('a server that listens on a TCP port over IPv6', async () => {
    const tcp6 = python('tcp6', 's = socket.socket(socket.AF_INET6)\ns.bind(("::1", 0))\ns.listen(1)\nprint(s.getsockname()[1], file=sys.stderr, flush=True)\ns.accept()');
    const failure = await readinessFailure(tcp6);
    const port = Number(failure.evidence.server?.stderr.trim());
    expect(failure.message).toBe(`server is listening on TCP port ${port} (::1), not on the unix path "s"`);
  });

  it('an in-process server is confirmed by its socket at the absolute path, in the harness\'s fds', async () => {
    await CaseContext.with({ server: cReference, client: cReference }, 10_000, async (ctx) => {
      const tsNet = (await import('../fixtures/ts-net/index.js')).tsNet;
      const server = await ctx.startServer({ path: 's', mode: 'in-process' }, tsNet);
      expect(server.ready).toMatchObject({ ready: true });
      expect(server.ready.ready && server.ready.inode).toBeGreaterThan(0);
    });
  });

  it('an in-process server that says it listens when nothing does fails, naming the path', async () => {
    const liar: Implementation = {
      ...serverOf('liar', []),
      server: {
        payload: false,
        inProcess: async ({ onListening, signal }) => {
          onListening();
          await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
          return 0;
        },
      },
    };
    await CaseContext.with({ server: liar }, 10_000, async (ctx) => {
      const server = await ctx.startServer({ path: 's', mode: 'in-process' });
      expect(server.ready).toMatchObject({
        ready: false,
        reason: 'wrong-path',
        detail: `server said it was listening, but no socket of the harness's process is listening at ${JSON.stringify(ctx.resolve('s'))}`,
      });
    });
  });
});

describe('a digit-only path bound as a TCP port', () => {
  const mutant = mutants().find((m) => m.implementation.name === 'mutant-server-digit-path-tcp')!;

  it('is caught by path.forms on every seed, naming the port, with no case waiting for its deadline', async () => {
    expect(mutant.caughtBy).toEqual(['path.forms']);
    // One seed after another: each case's server binds the same ports.
    const results: ResultEntry[] = [];
    for (const seed of [1, 20261123, 987654321]) {
      const { results: [result] } = await runSuite({
        implementations: [mutant.implementation, cReference],
        properties: [pathForms],
        servers: [mutant.implementation.name],
        clients: [cReference.name],
        seed,
        runs: 30,
        jobs: 1,
      });
      results.push(result!);
    }
    for (const r of results) {
      expect(r.status).toBe('fail');
      const m = /^server is listening on TCP port (\d+) \(127\.0\.0\.1\), not on the unix path "(\d+)"$/.exec(r.message ?? '');
      expect(m, r.message).not.toBeNull();
      // The first digit-only example, which the examples put before any generated path.
      expect(m![2]).toBe('1');
      expect(m![1]).toBe('1');
      // The evidence is the counterexample's: its server was stopped by the suite, not the deadline.
      expect(r.evidence?.server?.timedOut).toBe(false);
      expect(r.evidence?.server?.signal).toBe('SIGKILL');
      expect(r.message).not.toContain('shrinking stopped');
    }
  }, 120_000);
});

describe('the unit time budget', () => {
  // Never listens, never exits: every case waits for its deadline (tail blocks on a file that never grows).
  const hanging = serverOf('hanging-server', ['sh', '-c', 'exec tail -f /dev/null', '{path}']);
  const hangs: Property<number> = {
    id: 'test.hanging-server',
    level: 'MUST',
    category: 'test',
    scope: 'pairing',
    requirement: 'The server listens.',
    reference: 'unix(7)',
    // Uniform and far from its minimum, so that shrinking has many steps to take: below 2000 the case
    // passes at once (fast-check tries the minimum first), above it every shrink step hangs.
    arbitrary: fc.noBias(fc.integer({ min: 1000, max: 1_000_000 })),
    maxRuns: 5,
    async check(n, ctx) {
      if (n < 2000) return;
      const path = ctx.socketName();
      requireReady(await session(ctx, { path }), path, { n });
    },
  };

  it('stops shrinking with the smallest counterexample so far; timed-out cases shrink with a shorter deadline; the replay path replays it', async () => {
    const common = {
      implementations: [hanging, cReference],
      properties: [hangs],
      servers: [hanging.name],
      clients: [cReference.name],
      seed: 42,
      caseDeadlineMs: 3000,
      jobs: 1,
    };
    const { results: [r] } = await runSuite({ ...common, unitBudgetMs: 5000 });
    expect(r!.status).toBe('fail');
    expect(r!.message).toMatch(/^server never listened at "[^"]+": the case deadline passed before the socket was listening/);
    expect(r!.message).toContain('(shrinking stopped at the time budget (5000 ms) after ');
    // The first case timed out at 3 s; the shrink runs after it had 2 s (the floor: what passed took
    // milliseconds).
    expect(r!.message).toContain('(it failed under the shortened shrink deadline of 2000 ms (a replay runs it with the full 3000 ms))');
    expect(r!.counterexample!.numShrinks).toBeGreaterThanOrEqual(1);
    expect(r!.counterexample!.input).toBeGreaterThanOrEqual(2000);

    // The replay line's seed and path give back exactly that counterexample, with the full deadline.
    const { results: [again] } = await runSuite({ ...common, seed: r!.counterexample!.seed, replayPath: r!.counterexample!.path, shrink: false });
    expect(again!.status).toBe('fail');
    expect(again!.counterexample!.input).toBe(r!.counterexample!.input);
    expect(again!.message).not.toContain('shortened');
    expect(again!.evidence?.server?.timedOut).toBe(true);
  }, 60_000);
});
