/**
 * Messages on packet sockets (SOCK_SEQPACKET, SOCK_DGRAM), step by step over two drivers: boundaries,
 * truncation, the send-buffer limit, empty messages; and, as the limit's counterpart, a stream send of
 * the same size. Each run sends several generated messages and reads them back, so one driver session
 * checks many messages. Sources: unix(7), socket(2) SOCK_SEQPACKET, recv(2) MSG_TRUNC, send(2)
 * EMSGSIZE, gVisor test/syscalls/linux/socket_non_stream.cc and socket_unix_non_stream.cc.
 *
 * The pair factory and the queued-message readers below are shared with datagrams.ts.
 */
import fc from 'fast-check';
import { patternBytes } from '../../fixtures/corpora/payloads.js';
import type { Driver, RecvResult } from '../driver/driver.js';
import { DriverError } from '../driver/driver.js';
import type { CaseContext } from '../harness/context.js';
import type { Role } from '../model/types.js';
import { errnoOf, receiveBytes, withDrivers, type Drivers } from './pair.js';
import type { Property } from './property.js';
import { expectBytes, expectErrno, fail } from './verify.js';

/** Two connected sockets of the unit's socket type, one in each driver; `sender` writes, `receiver` reads. */
export interface Channel {
  sender: Driver;
  senderSock: string;
  receiver: Driver;
  receiverSock: string;
}

/**
 * gVisor's socket-pair factories over two drivers, with the unit's type and address. Connection types:
 * the server listens at the unit's address, the client connects, the server accepts. A datagram socket
 * has no listener: the receiving role binds the unit's address and the sending role connects its own
 * socket to it. `sender` is the property's data (which side's bug it is meant to catch).
 */
export async function openChannel(ctx: CaseContext, d: Drivers, sender: Role): Promise<Channel> {
  const type = ctx.socketType;
  const tx = sender === 'server' ? d.server : d.client;
  const rx = sender === 'server' ? d.client : d.server;
  if (type === 'dgram') {
    const receiverSock = await rx.bind(d.address, { type });
    const senderSock = await tx.connect(d.address, { type });
    return { sender: tx, senderSock, receiver: rx, receiverSock };
  }
  const listener = await d.server.listen(d.address, { type });
  const clientConn = await d.client.connect(d.address, { type });
  const serverConn = await d.server.accept(listener);
  return sender === 'server'
    ? { sender: d.server, senderSock: serverConn, receiver: d.client, receiverSock: clientConn }
    : { sender: d.client, senderSock: clientConn, receiver: d.server, receiverSock: serverConn };
}

/** Message `index` of a run: its own bytes, so a joined, split, lost or repeated message shows. */
export function messageBytes(index: number, size: number): Buffer {
  const bytes = Buffer.from(patternBytes(size, 0x5eed + index * 7919));
  // The index in the first bytes, where there is room: two short messages never look alike.
  if (size >= 4) bytes.writeUInt32BE(index, 0);
  return bytes;
}

/** Sends one message with one sendmsg; a packet socket sends it whole or not at all. */
export async function sendMessage(ch: Channel, data: Uint8Array, what: string, flags?: string[]): Promise<void> {
  const sent = await ch.sender.send(ch.senderSock, data, { once: true, ...(flags ? { flags } : {}) });
  if (sent !== data.length) fail(`${what}: the send answered sent ${sent} for a ${data.length}-byte message`, `sent ${data.length}`, `sent ${sent}`);
}

/**
 * One recv of a message the model says is already queued (a unix socket queues it on the receiver
 * before sendmsg returns). MSG_DONTWAIT: a lost message is EAGAIN at once, never a wait to the deadline.
 */
export async function recvQueued(ch: Channel, dataSize: number, flags: string[] = []): Promise<RecvResult | { errno: string }> {
  try {
    return await ch.receiver.recv(ch.receiverSock, { dataSize: Math.max(1, dataSize), flags: ['MSG_DONTWAIT', ...flags] });
  } catch (err) {
    if (err instanceof DriverError) return { errno: err.code };
    throw err;
  }
}

/** One recv (with `room` bytes) must return exactly `message`, untruncated; `which` names it in the failure. */
export async function expectMessage(ch: Channel, message: Uint8Array, which: string, room: number): Promise<void> {
  const got = await recvQueued(ch, room);
  if ('errno' in got) fail(`${which} was not there: the recv gave ${got.errno}`, `${message.length} bytes`, got.errno);
  expectBytes(got.data, message, `one recv of ${which} differs from it`);
  if (got.flags.includes('MSG_TRUNC')) fail(`one recv of ${which} had MSG_TRUNC set: the message queued was longer`, 'flags without MSG_TRUNC', JSON.stringify(got.flags));
}

/**
 * Reads the messages sent, one recv each, and fails at the first that differs. `room` 'all': each recv
 * has room for all of them, so a reader that joins messages shows it (packet.boundaries and its
 * kin); 'each': room for that message only, for properties about something else than boundaries.
 */
export async function expectMessages(ch: Channel, messages: Uint8Array[], room: 'all' | 'each' = 'all'): Promise<void> {
  const all = messages.reduce((n, m) => n + m.length, 0) + 1;
  for (const [i, message] of messages.entries()) {
    await expectMessage(ch, message, `message ${i + 1} of ${messages.length} (${message.length} bytes)`, room === 'all' ? all : message.length);
  }
}

/** Fails unless nothing more is queued: what a joined or split message, or a duplicate, leaves behind. */
export async function expectNothingQueued(ch: Channel, after: string): Promise<void> {
  const got = await recvQueued(ch, 65536);
  if ('errno' in got) {
    expectErrno(got.errno, 'EAGAIN', `after ${after}, a MSG_DONTWAIT recv`);
    return;
  }
  fail(`after ${after}, a recv found ${got.data.length} more bytes`, 'EAGAIN (nothing queued)', `${got.data.length} bytes`);
}

const sizesText = (sizes: number[]): string => `${sizes.length} messages of ${sizes.join(', ')} bytes`;

export const packetBoundaries: Property<number[]> = {
  id: 'packet.boundaries',
  level: 'MUST',
  category: 'packets',
  scope: 'pairing',
  requirement: 'On SOCK_SEQPACKET and SOCK_DGRAM sockets every message arrives as one recv of its own, whole: several messages sent in a row are never joined into one read, nor split across reads.',
  reference:
    'unix(7): SOCK_DGRAM and SOCK_SEQPACKET preserve message boundaries; socket(2) SOCK_SEQPACKET: a consumer reads an entire packet with each input system call; gVisor test/syscalls/linux/socket_non_stream.cc SingleRecv',
  socketTypes: ['seqpacket', 'dgram'],
  addresses: ['pathname', 'abstract'],
  via: 'driver',
  arbitrary: fc.array(fc.integer({ min: 1, max: 2048 }), { minLength: 2, maxLength: 8 }),
  examples: [[1, 10, 1, 300, 2048]],
  maxRuns: 3,
  describe: (sizes) => ({ messages: sizes }),
  async check(sizes, ctx) {
    return withDrivers(ctx, async (d) => {
      // The server sends, the client reads: all sent before the first recv, so a reader that joins them can.
      const ch = await openChannel(ctx, d, 'server');
      const messages = sizes.map((n, i) => messageBytes(i, n));
      for (const [i, m] of messages.entries()) await sendMessage(ch, m, `message ${i + 1}`);
      await expectMessages(ch, messages);
      await expectNothingQueued(ch, `the ${sizes.length} messages`);
      return { messages: sizes };
    });
  },
};

interface Truncation {
  /** Each message: its size and the shorter recv buffer it is read with; `full` asks with MSG_TRUNC as an input flag. */
  reads: Array<{ size: number; short: number; full: boolean }>;
}

const truncationArb: fc.Arbitrary<Truncation> = fc.record({
  reads: fc.array(
    fc.integer({ min: 2, max: 2048 }).chain((size) => fc.record({ size: fc.constant(size), short: fc.integer({ min: 1, max: size - 1 }), full: fc.boolean() })),
    { minLength: 2, maxLength: 6 },
  ),
});

export const packetTruncation: Property<Truncation> = {
  id: 'packet.truncation',
  level: 'MUST',
  category: 'packets',
  scope: 'pairing',
  requirement:
    'A recv shorter than the message returns its first bytes with MSG_TRUNC set and discards the rest (the next recv gets the next message); with MSG_TRUNC as an input flag it returns the message\'s full length.',
  reference:
    'recv(2) MSG_TRUNC (input: the real length of the datagram, UNIX datagram since Linux 3.4; msg_flags: the trailing portion was discarded); socket(2) SOCK_SEQPACKET: data remaining in the packet is discarded; gVisor test/syscalls/linux/socket_non_stream.cc RecvmsgMsghdrFlagMsgTrunc, MsgTruncTruncationRecvmsgMsghdrFlagMsgTrunc, SplitRecv',
  socketTypes: ['seqpacket', 'dgram'],
  addresses: ['pathname'],
  via: 'driver',
  needs: { features: ['msg-trunc'] },
  arbitrary: truncationArb,
  examples: [{ reads: [{ size: 10, short: 3, full: false }, { size: 10, short: 3, full: true }, { size: 512, short: 256, full: false }] }],
  maxRuns: 3,
  describe: (t) => ({ reads: t.reads.map((r) => `${r.size} into ${r.short}${r.full ? ' (MSG_TRUNC)' : ''}`) }),
  async check(t, ctx) {
    return withDrivers(ctx, async (d) => {
      const ch = await openChannel(ctx, d, 'server');
      const messages = t.reads.map((r, i) => messageBytes(i, r.size));
      for (const [i, m] of messages.entries()) await sendMessage(ch, m, `message ${i + 1}`);
      for (const [i, r] of t.reads.entries()) {
        const which = `message ${i + 1} of ${t.reads.length} (${r.size} bytes) read into ${r.short} bytes${r.full ? ' with MSG_TRUNC as an input flag' : ''}`;
        const got = await recvQueued(ch, r.short, r.full ? ['MSG_TRUNC'] : []);
        if ('errno' in got) fail(`${which} was not there: the recv gave ${got.errno}`, `${r.short} bytes, MSG_TRUNC`, got.errno);
        // Its start: a rest left behind would be the next recv's data, which the next message's check sees.
        expectBytes(got.data, messages[i]!.subarray(0, r.short), `${which}: the data differs from the message's first ${r.short} bytes`);
        if (!got.flags.includes('MSG_TRUNC')) fail(`${which}: MSG_TRUNC is not set in msg_flags`, 'flags with MSG_TRUNC', JSON.stringify(got.flags));
        const length = r.full ? r.size : r.short;
        if (got.length !== length) {
          fail(`${which}: recvmsg returned ${got.length}, not ${r.full ? "the message's full length" : 'the bytes copied'}`, String(length), String(got.length));
        }
      }
      await expectNothingQueued(ch, `the ${t.reads.length} truncated messages`);
      return { reads: t.reads.length };
    });
  },
};

interface SendBuffer {
  /** The SO_SNDBUF asked for (the kernel doubles it: socket(7)); sizes below are relative to what getsockopt answers. */
  sndbuf: number;
  /** The message that fits: this many thousandths of half the buffer (at least 1 byte). */
  fitPermille: number;
  /** The message too large: the buffer, plus one, plus this many thousandths of the buffer. */
  excessPermille: number;
}

const sendBufferArb: fc.Arbitrary<SendBuffer> = fc.record({
  sndbuf: fc.integer({ min: 2048, max: 16384 }),
  fitPermille: fc.integer({ min: 1, max: 1000 }),
  excessPermille: fc.integer({ min: 0, max: 7000 }),
});

const fitSize = (buffer: number, p: SendBuffer): number => Math.max(1, Math.floor(((buffer >> 1) * p.fitPermille) / 1000));
const largeSize = (buffer: number, p: SendBuffer): number => buffer + 1 + Math.floor((buffer * p.excessPermille) / 1000);

/** Sets SO_SNDBUF on the sender and answers what it became. */
async function smallSendBuffer(ch: Channel, asked: number): Promise<number> {
  await ch.sender.setsockopt(ch.senderSock, 'SO_SNDBUF', asked);
  return ch.sender.getsockopt(ch.senderSock, 'SO_SNDBUF');
}

export const packetEmsgsize: Property<SendBuffer> = {
  id: 'packet.emsgsize',
  level: 'MUST',
  category: 'packets',
  scope: 'pairing',
  requirement:
    "On SOCK_SEQPACKET and SOCK_DGRAM sockets a message larger than the sender's SO_SNDBUF fails with EMSGSIZE and nothing of it is delivered (after a message that fits was delivered whole).",
  reference:
    'send(2) EMSGSIZE: the message is not transmitted; unix(7): for datagram sockets the SO_SNDBUF value imposes an upper limit on the size of outgoing datagrams; gVisor test/syscalls/linux/socket_non_stream.cc SendMsgTooLarge',
  socketTypes: ['seqpacket', 'dgram'],
  addresses: ['pathname'],
  via: 'driver',
  needs: { features: ['sndbuf'] },
  arbitrary: sendBufferArb,
  examples: [{ sndbuf: 4096, fitPermille: 1000, excessPermille: 7000 }],
  maxRuns: 3,
  describe: (p) => p,
  async check(p, ctx) {
    return withDrivers(ctx, async (d) => {
      const ch = await openChannel(ctx, d, 'server');
      const buffer = await smallSendBuffer(ch, p.sndbuf);
      // Works first: a message that fits goes through the same socket whole.
      const fit = messageBytes(0, fitSize(buffer, p));
      await sendMessage(ch, fit, `a ${fit.length}-byte message (SO_SNDBUF ${buffer})`);
      await expectMessage(ch, fit, `the ${fit.length}-byte message that fits`, fit.length + 1);
      const large = messageBytes(1, largeSize(buffer, p));
      // MSG_DONTWAIT: the size is refused before anything could block, and a sender that splits it
      // instead cannot fill the buffer and wait for a reader who is not reading.
      const refused = await errnoOf(ch.sender.send(ch.senderSock, large, { once: true, flags: ['MSG_DONTWAIT'] }));
      expectErrno(refused, 'EMSGSIZE', `a ${large.length}-byte message with SO_SNDBUF ${buffer}`);
      await expectNothingQueued(ch, `the refused ${large.length}-byte message`);
      return { sndbuf: buffer, fit: fit.length, refused: large.length };
    });
  },
};

export const streamLargeSend: Property<SendBuffer> = {
  id: 'stream.large-send',
  level: 'MUST',
  category: 'packets',
  scope: 'pairing',
  requirement: "On a SOCK_STREAM socket a blocking send larger than the sender's SO_SNDBUF delivers every byte while the peer reads: the size limit is a packet socket's, not a stream's.",
  reference: 'unix(7): SO_SNDBUF limits the size of outgoing datagrams (datagram sockets only); send(2): a blocking send waits for room, it does not fail; gVisor test/syscalls/linux/socket_non_stream.cc SendMsgTooLarge (non-stream only)',
  socketTypes: ['stream'],
  addresses: ['pathname'],
  via: 'driver',
  needs: { features: ['sndbuf'] },
  arbitrary: sendBufferArb,
  examples: [{ sndbuf: 4096, fitPermille: 1000, excessPermille: 7000 }],
  maxRuns: 3,
  describe: (p) => ({ sndbuf: p.sndbuf, excessPermille: p.excessPermille }),
  async check(p, ctx) {
    return withDrivers(ctx, async (d) => {
      const ch = await openChannel(ctx, d, 'server');
      const buffer = await smallSendBuffer(ch, p.sndbuf);
      const data = messageBytes(0, largeSize(buffer, p));
      // The send blocks until the reader has made room, so both run at once. A send that fails ends the
      // check at once; the reader's pending recv dies with its driver.
      const sending = ch.sender.send(ch.senderSock, data).then(
        (sent) => ({ sent }),
        (err: unknown) => ({ err }),
      );
      const reading = receiveBytes(ch.receiver, ch.receiverSock, data.length);
      reading.catch(() => undefined);
      const first = await Promise.race([sending, reading.then(() => null)]);
      const sent = first ?? (await sending);
      if ('err' in sent) {
        if (!(sent.err instanceof DriverError)) throw sent.err;
        fail(`a blocking ${data.length}-byte stream send with SO_SNDBUF ${buffer} failed: ${sent.err.info.syscall}: ${sent.err.code}`, `sent ${data.length}`, sent.err.code);
      }
      expectBytes(await reading, data, `the bytes the reader received differ from the ${data.length} sent`);
      await expectNothingQueued(ch, `all ${data.length} bytes`);
      return { sndbuf: buffer, bytes: data.length };
    });
  },
};

interface EmptyMessages {
  head: number;
  /** Messages between head and tail; an empty one is put in at `emptyAt`. 0 is an empty message too. */
  middle: number[];
  emptyAt: number;
  tail: number;
}

const emptyMessagesArb: fc.Arbitrary<EmptyMessages> = fc
  .record({
    head: fc.integer({ min: 1, max: 512 }),
    middle: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 512 })), { maxLength: 4 }),
    emptyAt: fc.nat(),
    tail: fc.integer({ min: 1, max: 512 }),
  })
  .map((m) => ({ ...m, emptyAt: m.emptyAt % (m.middle.length + 1) }));

/** head, the middle with an empty message at emptyAt, tail: always an empty one between two that are not. */
const emptySizes = (m: EmptyMessages): number[] => [m.head, ...m.middle.slice(0, m.emptyAt), 0, ...m.middle.slice(m.emptyAt), m.tail];

export const packetZeroLength: Property<EmptyMessages> = {
  id: 'packet.zero-length',
  level: 'MUST',
  category: 'packets',
  scope: 'pairing',
  requirement: 'On SOCK_SEQPACKET and SOCK_DGRAM sockets a zero-length message is a message: the receiver gets it as an empty recv, in its place between the others.',
  reference: 'recv(2): datagram sockets permit zero-length datagrams, and a recv of one returns 0; unix(7): message boundaries are preserved; gVisor test/syscalls/linux/socket_unix_non_stream.cc ZeroLengthRecvPendingMessage',
  socketTypes: ['seqpacket', 'dgram'],
  addresses: ['pathname'],
  via: 'driver',
  arbitrary: emptyMessagesArb,
  examples: [{ head: 1, middle: [], emptyAt: 0, tail: 1 }],
  maxRuns: 3,
  describe: (m) => ({ messages: emptySizes(m) }),
  async check(m, ctx) {
    return withDrivers(ctx, async (d) => {
      const ch = await openChannel(ctx, d, 'server');
      const sizes = emptySizes(m);
      const messages = sizes.map((n, i) => messageBytes(i, n));
      for (const [i, msg] of messages.entries()) await sendMessage(ch, msg, `message ${i + 1} (${msg.length} bytes)`);
      await expectMessages(ch, messages);
      await expectNothingQueued(ch, sizesText(sizes));
      return { messages: sizes };
    });
  },
};
