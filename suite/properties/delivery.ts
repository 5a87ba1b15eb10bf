/** Delivery: the bytes the server sends are the bytes the client prints. */
import fc from 'fast-check';
import { payloadCorpus } from '../../fixtures/corpora/payloads.js';
import { payloadArb } from './arbitraries.js';
import { describeBytes } from '../harness/capture.js';
import { exitText } from '../model/format.js';
import { FIXED_MESSAGE } from '../model/seed.js';
import type { Property } from './property.js';
import { session, sides } from './session.js';
import { requireSession } from './session-proof.js';
import { expectBytes, requireReady } from './verify.js';

/** A payload as it appears in reports: its length and its first bytes, escaped. */
export function describePayload(payload: Uint8Array): unknown {
  return { length: payload.length, head: describeBytes(payload.subarray(0, 48)) };
}

let corpusBytes: Uint8Array[] | undefined;

export const deliveryPayload: Property<Uint8Array> = {
  id: 'delivery.payload',
  level: 'MUST',
  category: 'delivery',
  scope: 'pairing',
  requirement: "The client's stdout equals the server's payload, byte for byte.",
  reference: 'unix(7): SOCK_STREAM is a byte stream; seed protocol (c-reference/original/: server.c writes, client.c prints until EOF)',
  needsPayload: true,
  arbitrary: payloadArb,
  // A getter, made once at the first read (by the runner): the corpus is about 3 MiB of pattern bytes,
  // which `list` and --dry-run, loading the registry, would otherwise make and never use.
  get examples() {
    return (corpusBytes ??= payloadCorpus().map((entry) => entry.bytes));
  },
  describe: describePayload,
  async check(payload, ctx) {
    const path = ctx.socketName();
    const outcome = await session(ctx, { path, payload, expected: payload });
    requireReady(outcome, path);
    requireSession(outcome);
    expectBytes(outcome.stdout, payload, 'stdout differs from the payload', { ...sides(outcome), details: { client: exitText(outcome.client) } });
  },
};

export const deliveryDefaultMessage: Property<null> = {
  id: 'delivery.default-message',
  level: 'MUST',
  category: 'delivery',
  scope: 'pairing',
  requirement: 'A server started without a payload sends exactly "Server Message\\n", and the client prints exactly that.',
  reference: 'seed c-reference/original/server.c: write(connfd, "Server Message\\n", ...)',
  startsWithoutPayload: true,
  arbitrary: fc.constant(null),
  maxRuns: 3,
  async check(_input, ctx) {
    const path = ctx.socketName();
    const outcome = await session(ctx, { path, expected: FIXED_MESSAGE });
    requireReady(outcome, path);
    requireSession(outcome);
    expectBytes(outcome.stdout, FIXED_MESSAGE, `the client's stdout differs from "Server Message\\n"`, sides(outcome));
  },
};
