/** Cleanup and stale paths: the path belongs to a session and is gone afterwards; a stale one is no obstacle. */
import { smallPayloadArb, smallTextPayloadArb } from './arbitraries.js';
import { CheckFailure, type Property } from '../model/types.js';
import { describePayload } from './delivery.js';
import { exitText, requireReady, session, sides, whatIsAt } from './session.js';

export const cleanupPathRemoved: Property<Uint8Array> = {
  id: 'cleanup.path-removed',
  level: 'MUST',
  category: 'cleanup',
  // The server owns the path. Its peer is the oracle client, which never unlinks: a client that
  // does (the seed's) would hide a server that leaves its path behind.
  scope: 'server',
  requirement: 'After a session the server has removed its socket path.',
  reference: 'seed server.c: close(sockfd); unlink(socketPath); unix(7): the socket file stays until unlinked',
  arbitrary: smallPayloadArb,
  maxRuns: 20,
  describe: describePayload,
  async check(payload, ctx) {
    const path = ctx.socketName();
    const outcome = await session(ctx, { path, payload });
    requireReady(outcome, path);
    const left = await whatIsAt(ctx.resolve(path));
    if (left !== 'nothing') {
      throw new CheckFailure({
        message: `after the session ${left} is still at the socket path`,
        expected: 'nothing at the path',
        actual: left,
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
  reference: 'seed server.c: unlink(socketPath) "in case it existed from a prior run"; bind(2) on an existing path gives EADDRINUSE (uds-semantics A7)',
  arbitrary: smallTextPayloadArb,
  maxRuns: 20,
  describe: describePayload,
  async check(payload, ctx) {
    const path = ctx.socketName();
    await ctx.makeStaleSocket(path);
    const expected = ctx.server.server?.payload ? payload : undefined;
    const outcome = await session(ctx, { path, payload, expected });
    requireReady(outcome, path);
    if (outcome.client.exitCode !== 0 || (expected && outcome.stdout.compare().firstDifference !== null)) {
      throw new CheckFailure({
        message: `over a stale socket the session did not complete: client ${exitText(outcome.client)}, ${outcome.stdout.length} bytes`,
        expected: 'the new server serves the client (exit 0, payload delivered)',
        actual: `client ${exitText(outcome.client)}`,
        bytes: expected ? outcome.stdout.compare() : undefined,
        ...sides(outcome),
      });
    }
  },
};
