/**
 * fd passing on SOCK_SEQPACKET: a message is a record, and the fds it carries belong to it. The same fd
 * session as the stream properties (session.ts) sends the payload as up to three messages: the bytes
 * before the fds, the fd-carrying message, the bytes after it. Sources: unix(7) and socket(2)
 * (SOCK_SEQPACKET preserves message boundaries), gVisor test/syscalls/linux/socket_unix_seqpacket.cc.
 */
import fc from 'fast-check';
import type { Property } from '../property.js';
import { expectBytes, fail } from '../verify.js';
import { distinctKindArb, expectSameObjects, fdSession, requireServerReport, textPayload } from './session.js';
import type { FdKind } from './reports.js';

interface Messages {
  /** Bytes before the fd-carrying message (0: none). */
  before: number;
  /** Bytes of the fd-carrying message (at least 1). */
  carrying: number;
  /** Bytes after it (0: none). */
  after: number;
  kinds: FdKind[];
}

const messagesArb: fc.Arbitrary<Messages> = fc.record({
  before: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2000 })),
  carrying: fc.integer({ min: 1, max: 2000 }),
  after: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2000 })),
  kinds: fc.array(distinctKindArb, { minLength: 1, maxLength: 4 }),
});

export const fdMessageBoundary: Property<Messages> = {
  id: 'fd.message-boundary',
  level: 'MUST',
  category: 'fd-passing',
  scope: 'pairing',
  requirement: 'On a SOCK_SEQPACKET socket the message that carries fds arrives whole, in one read, with all of its fds; the messages before and after it arrive as reads of their own.',
  reference: 'unix(7), socket(2) SOCK_SEQPACKET: message boundaries are preserved; gVisor socket_unix_seqpacket.cc',
  socketTypes: ['seqpacket'],
  via: 'driver',
  needs: { fds: true },
  arbitrary: messagesArb,
  examples: [{ before: 5, carrying: 10, after: 5, kinds: ['pipe'] }],
  maxRuns: 10,
  describe: (m) => ({ messages: [m.before, m.carrying, m.after].filter((n) => n > 0), kinds: m.kinds }),
  async check(m, ctx) {
    const payload = textPayload(m.before + m.carrying + m.after);
    // The receiver's buffer holds any one message, so a read shorter than its message is the sender's doing.
    const s = await fdSession(ctx, { payload, pass: m.kinds, server: { fdAt: m.before, fdLen: m.carrying }, client: { recvBuf: payload.length + 1 } });
    expectBytes(s.client.bytes, payload, 'the messages differ from the payload', s.evidence);
    expectSameObjects(s, requireServerReport(s).sent, 'the fds of the message did not all arrive');
    const want = [
      ...(m.before > 0 ? [{ length: m.before, fds: 0 }] : []),
      { length: m.carrying, fds: m.kinds.length },
      ...(m.after > 0 ? [{ length: m.after, fds: 0 }] : []),
    ];
    const got = s.client.reads.map((r) => ({ length: r.length, fds: r.fds }));
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      fail(`the receiver read ${got.length} messages for the ${want.length} sent`, JSON.stringify(want), JSON.stringify(got.slice(0, 8)), s.evidence);
    }
  },
};
