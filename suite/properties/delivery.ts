/** Delivery: the bytes the server sends are the bytes the client prints. */
import fc from 'fast-check';
import { FIXED_MESSAGE, payloadCorpus } from '../../fixtures/corpora/payloads.js';
import { payloadArb } from './arbitraries.js';
import { describeBytes } from '../harness/capture.js';
import { CheckFailure, type Property } from '../model/types.js';
import { exitText, requireReady, session, sides } from './session.js';

/** A payload as it appears in reports: its length and its first bytes, escaped. */
export function describePayload(payload: Uint8Array): unknown {
  return { length: payload.length, head: describeBytes(payload.subarray(0, 48)) };
}

export const deliveryPayload: Property<Uint8Array> = {
  id: 'delivery.payload',
  level: 'MUST',
  category: 'delivery',
  scope: 'pairing',
  requirement: "The client's stdout equals the server's payload, byte for byte.",
  reference: 'seed protocol (server writes, client prints until EOF); unix(7) SOCK_STREAM is a byte stream; uds-semantics C1',
  requires: { server: ['payload'] },
  arbitrary: payloadArb,
  examples: payloadCorpus().map((entry) => entry.bytes),
  describe: describePayload,
  async check(payload, ctx) {
    const path = ctx.socketName();
    const outcome = await session(ctx, { path, payload, expected: payload });
    requireReady(outcome, path);
    const bytes = outcome.stdout.compare();
    if (bytes.firstDifference !== null) {
      throw new CheckFailure({
        message: `stdout differs from the payload at offset ${bytes.firstDifference} (expected ${bytes.expectedLength} bytes, got ${bytes.actualLength})`,
        expected: bytes.expectedContext,
        actual: bytes.actualContext,
        bytes,
        ...sides(outcome),
        details: { client: exitText(outcome.client) },
      });
    }
  },
};

export const deliveryDefaultMessage: Property<null> = {
  id: 'delivery.default-message',
  level: 'MUST',
  category: 'delivery',
  scope: 'pairing',
  requirement: 'A server started without a payload sends exactly "Server Message\\n", and the client prints exactly that.',
  reference: 'seed server.c: write(connfd, "Server Message\\n", ...)',
  arbitrary: fc.constant(null),
  maxRuns: 3,
  async check(_input, ctx) {
    const path = ctx.socketName();
    const outcome = await session(ctx, { path, expected: FIXED_MESSAGE });
    requireReady(outcome, path);
    const bytes = outcome.stdout.compare();
    if (bytes.firstDifference !== null) {
      throw new CheckFailure({
        message: `client printed ${bytes.actualLength} bytes that differ from "Server Message\\n" at offset ${bytes.firstDifference}`,
        expected: bytes.expectedContext,
        actual: bytes.actualContext,
        bytes,
        ...sides(outcome),
      });
    }
  },
};
