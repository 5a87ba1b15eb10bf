/** Cleanup and stale paths: the path belongs to a session and is gone afterwards; a stale one is no obstacle. */
import { smallPayloadArb, smallTextPayloadArb } from './arbitraries.js';
import { exitText } from '../model/format.js';
import type { Property } from './property.js';
import { describePayload } from './delivery.js';
import { session, sides, whatIsAt } from './session.js';
import { requireSession } from './session-proof.js';
import { expectBytes, expectExitZero, fail, requireReady } from './verify.js';

export const cleanupPathRemoved: Property<Uint8Array> = {
  id: 'cleanup.path-removed',
  level: 'MUST',
  category: 'cleanup',
  // The server owns the path. Its peer is the oracle client, which never unlinks: a client that
  // does (the seed's) would hide a server that leaves its path behind.
  scope: 'server',
  requirement: 'After a session the server has removed its socket path.',
  reference: 'unix(7): a bound pathname socket stays in the filesystem until unlink(2); seed c-reference/original/server.c: close(sockfd); unlink(socketPath)',
  arbitrary: smallPayloadArb,
  maxRuns: 20,
  describe: describePayload,
  async check(payload, ctx) {
    const path = ctx.socketName();
    const outcome = await session(ctx, { path, payload });
    requireReady(outcome, path);
    requireSession(outcome);
    const left = await whatIsAt(ctx.resolve(path));
    if (left !== 'nothing') {
      fail(`after the session ${left} is still at the socket path`, 'nothing at the path', left, {
        ...sides(outcome),
        details: { serverExit: exitText(outcome.server), clientExit: exitText(outcome.client) },
      });
    }
  },
};

export const stalePathReplaced: Property<Uint8Array> = {
  id: 'stale-path.replaced',
  level: 'MUST',
  category: 'stale-path',
  scope: 'pairing',
  requirement: 'A socket file left behind by a SIGKILLed server does not stop a new server from starting and serving.',
  reference: 'unix(7) EADDRINUSE: bind(2) on an existing socket file fails; seed c-reference/original/server.c unlinks the path before bind',
  arbitrary: smallTextPayloadArb,
  maxRuns: 20,
  describe: describePayload,
  async check(payload, ctx) {
    const path = ctx.socketName();
    await ctx.makeStaleSocket(path);
    const expected = ctx.server.server?.payload ? payload : undefined;
    const outcome = await session(ctx, { path, payload, expected });
    requireReady(outcome, path);
    requireSession(outcome);
    expectExitZero(outcome.client, 'over a stale socket the client', sides(outcome));
    if (expected) expectBytes(outcome.stdout, expected, "over a stale socket the client's stdout differs from the payload", sides(outcome));
  },
};
