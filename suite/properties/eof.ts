/** EOF handling: the client ends when the server closes, having printed everything, with status 0. */
import fc from 'fast-check';
import { FIXED_MESSAGE, patternBytes } from '../../fixtures/corpora/payloads.js';
import { noNulPayloadArb, withoutNul } from './arbitraries.js';
import type { CaseContext } from '../harness/context.js';
import { CheckFailure, type Property } from '../model/types.js';
import { describePayload } from './delivery.js';
import { EOF_GRACE_MS, exitText, requireReady, session, sides } from './session.js';

function expectedOutput(ctx: CaseContext, payload: Uint8Array): Uint8Array {
  return ctx.server.server?.payload ? payload : FIXED_MESSAGE;
}

export const eofExitZero: Property<Uint8Array> = {
  id: 'eof.exit-zero',
  level: 'MUST',
  category: 'eof',
  scope: 'pairing',
  requirement: 'Once the server closes, the client has printed everything it was sent and exits with status 0.',
  reference: 'seed client.c: while ((n = read(...)) > 0) ...; return 0; read(2) returns 0 at EOF (uds-semantics B13)',
  arbitrary: noNulPayloadArb,
  examples: [1024, 1025, 65537].map((n) => withoutNul(patternBytes(n, n))),
  describe: describePayload,
  async check(payload, ctx) {
    const path = ctx.socketName();
    const expected = expectedOutput(ctx, payload);
    const outcome = await session(ctx, { path, payload, expected });
    requireReady(outcome, path);
    const evidence = { ...sides(outcome), details: { clientExit: exitText(outcome.client), serverExit: exitText(outcome.server) } };
    if (outcome.clientHung) {
      throw new CheckFailure({
        message: `the client was still running ${EOF_GRACE_MS} ms after the server had closed and exited`,
        expected: 'client exits at EOF',
        actual: 'client kept running (killed)',
        ...evidence,
      });
    }
    if (outcome.stdout.length !== expected.length) {
      throw new CheckFailure({
        message: `the client printed ${outcome.stdout.length} of the ${expected.length} bytes sent before it exited`,
        expected: `${expected.length} bytes, then exit 0`,
        actual: `${outcome.stdout.length} bytes, ${exitText(outcome.client)}`,
        bytes: outcome.stdout.compare(),
        ...evidence,
      });
    }
    if (outcome.client.exitCode !== 0) {
      throw new CheckFailure({ message: `the client ended with ${exitText(outcome.client)} at EOF`, expected: 'exit 0', actual: exitText(outcome.client), ...evidence });
    }
  },
};

export const eofSilentServer: Property<null> = {
  id: 'eof.silent-server',
  level: 'MUST',
  category: 'eof',
  scope: 'pairing',
  requirement: 'When the server closes without sending anything, the client ends with status 0 and prints nothing.',
  reference: 'read(2) returns 0 at EOF on an empty stream (uds-semantics B13)',
  requires: { server: ['payload'] },
  arbitrary: fc.constant(null),
  maxRuns: 3,
  async check(_input, ctx) {
    const path = ctx.socketName();
    const empty = new Uint8Array(0);
    const outcome = await session(ctx, { path, payload: empty, expected: empty });
    requireReady(outcome, path);
    if (outcome.clientHung || outcome.client.exitCode !== 0 || outcome.stdout.length !== 0) {
      throw new CheckFailure({
        message: outcome.clientHung
          ? `the client was still running ${EOF_GRACE_MS} ms after the server closed without sending`
          : `the client ended with ${exitText(outcome.client)} and printed ${outcome.stdout.length} bytes`,
        expected: 'exit 0, no output',
        actual: `${outcome.clientHung ? 'hung (killed)' : exitText(outcome.client)}, ${outcome.stdout.length} bytes`,
        ...sides(outcome),
      });
    }
  },
};
