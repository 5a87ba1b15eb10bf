/** EOF handling: the client ends when the server closes, having printed everything, with status 0. */
import fc from 'fast-check';
import { patternBytes } from '../../fixtures/corpora/payloads.js';
import { noNulPayloadArb, withoutNul } from './arbitraries.js';
import type { CaseContext } from '../harness/context.js';
import { exitText } from '../model/format.js';
import type { ProcessSummary } from '../model/types.js';
import { FIXED_MESSAGE } from '../model/seed.js';
import type { Property } from './property.js';
import { describePayload } from './delivery.js';
import { EOF_GRACE_MS, session, sides } from './session.js';
import { requireSession } from './session-proof.js';
import { expectBytes, expectExitZero, fail, requireReady } from './verify.js';

/**
 * What a client that printed the wrong number of bytes did, said as it happened: more than the server
 * was given is the client's excess; fewer after a server that failed is the server's failure, not
 * a client that printed too few.
 */
export function printedText(printed: number, given: number, server: ProcessSummary): string {
  if (printed > given) return `the client printed ${printed} bytes, ${printed - given} more than the ${given} sent`;
  if (server.exitCode !== 0) return `the server ended with ${exitText(server)} before the client had all ${given} bytes it was given (the client printed ${printed})`;
  // The server exited 0, so it says it wrote everything; the harness cannot count what it wrote.
  return `the client printed ${printed} of the ${given} bytes the server was given, then exited`;
}

function expectedOutput(ctx: CaseContext, payload: Uint8Array): Uint8Array {
  return ctx.server.server?.payload ? payload : FIXED_MESSAGE;
}

export const eofExitZero: Property<Uint8Array> = {
  id: 'eof.exit-zero',
  level: 'MUST',
  category: 'eof',
  scope: 'pairing',
  requirement: 'Once the server closes, the client has printed everything it was sent and exits with status 0.',
  reference: 'read(2)/recv(2): 0 at EOF after an orderly shutdown; seed c-reference/original/client.c: while ((n = read(...)) > 0) ...; return 0',
  arbitrary: noNulPayloadArb,
  examples: [1024, 1025, 65537].map((n) => withoutNul(patternBytes(n, n))),
  describe: describePayload,
  async check(payload, ctx) {
    const path = ctx.socketName();
    const expected = expectedOutput(ctx, payload);
    const outcome = await session(ctx, { path, payload, expected });
    requireReady(outcome, path);
    const evidence = { ...sides(outcome), details: { clientExit: exitText(outcome.client), serverExit: exitText(outcome.server) } };
    requireSession(outcome, evidence);
    if (outcome.clientHung) {
      fail(`the client was still running ${EOF_GRACE_MS} ms after the server had closed and exited`, 'client exits at EOF', 'client kept running (killed)', evidence);
    }
    // All of it, not the same bytes: a wrong byte is delivery.payload's failure, not this one's.
    if (outcome.stdout.length !== expected.length) {
      fail(
        printedText(outcome.stdout.length, expected.length, outcome.server),
        `${expected.length} bytes, then exit 0`,
        `${outcome.stdout.length} bytes, ${exitText(outcome.client)}`,
        { ...evidence, bytes: outcome.stdout.compare() },
      );
    }
    expectExitZero(outcome.client, 'at EOF the client', evidence);
  },
};

export const eofSilentServer: Property<null> = {
  id: 'eof.silent-server',
  level: 'MUST',
  category: 'eof',
  scope: 'pairing',
  requirement: 'When the server closes without sending anything, the client ends with status 0 and prints nothing.',
  reference: 'read(2)/recv(2): 0 at EOF on an empty stream; seed c-reference/original/client.c read loop',
  needsPayload: true,
  arbitrary: fc.constant(null),
  maxRuns: 3,
  async check(_input, ctx) {
    const path = ctx.socketName();
    const empty = new Uint8Array(0);
    const outcome = await session(ctx, { path, payload: empty, expected: empty });
    requireReady(outcome, path);
    requireSession(outcome);
    if (outcome.clientHung) {
      fail(`the client was still running ${EOF_GRACE_MS} ms after the server closed without sending`, 'exit 0, no output', `hung (killed), ${outcome.stdout.length} bytes`, sides(outcome));
    }
    expectExitZero(outcome.client, 'after a server that sent nothing, the client', sides(outcome));
    expectBytes(outcome.stdout, empty, 'after a server that sent nothing, stdout differs from the empty stream', sides(outcome));
  },
};
