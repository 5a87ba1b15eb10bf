/**
 * What a packet socket's peer sees when the other side goes away or stops reading: EOF on SOCK_SEQPACKET
 * after the peer closes, ECONNREFUSED on a SOCK_DGRAM socket connected to a receiver that closed, and
 * EAGAIN (never a lost or repeated datagram) when the receiver's queue is full. The pair factory and
 * message readers are packets.ts's. Sources: unix(7), send(2), kernel selftest
 * tools/testing/selftests/net/af_unix/unix_connreset.c, gVisor test/syscalls/linux/socket_unix_dgram.cc,
 * socket_unix_seqpacket.cc.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { DriverError } from '../driver/driver.js';
import { errnoOf, withDrivers } from './pair.js';
import { expectMessages, expectNothingQueued, messageBytes, openChannel, recvQueued, sendMessage } from './packets.js';
import type { Property } from './property.js';
import { expectErrno, fail } from './verify.js';

interface EofReads {
  /** Messages queued before the close (none is empty, so an empty recv is EOF). */
  sizes: number[];
  /** recvs after the last message (at least two), each of which must be EOF. */
  eofReads: number;
}

export const seqpacketEof: Property<EofReads> = {
  id: 'seqpacket.eof',
  level: 'MUST',
  category: 'eof',
  scope: 'pairing',
  requirement: 'After the peer closes a SOCK_SEQPACKET connection, the receiver still reads every message it had queued, then recv returns 0 (EOF), and again on every later recv.',
  reference:
    'socket(2) SOCK_SEQPACKET: a connection-based, reliable path; recv(2): 0 after an orderly shutdown; kernel selftest tools/testing/selftests/net/af_unix/unix_connreset.c (eof, SOCK_SEQPACKET); gVisor test/syscalls/linux/socket_unix_seqpacket.cc ReadOneSideClosed',
  socketTypes: ['seqpacket'],
  addresses: ['pathname', 'abstract'],
  via: 'driver',
  arbitrary: fc.record({ sizes: fc.array(fc.integer({ min: 1, max: 1024 }), { maxLength: 5 }), eofReads: fc.integer({ min: 2, max: 4 }) }),
  examples: [{ sizes: [1, 100, 1024], eofReads: 2 }],
  maxRuns: 3,
  describe: (e) => e,
  async check(e, ctx) {
    return withDrivers(ctx, async (d) => {
      // The server sends and closes; the client reads. The client sends nothing, so the close is orderly
      // (unread data at the closing side would make it ECONNRESET: unix_connreset.c).
      const ch = await openChannel(ctx, d, 'server');
      const messages = e.sizes.map((n, i) => messageBytes(i, n));
      for (const [i, m] of messages.entries()) await sendMessage(ch, m, `message ${i + 1}`);
      await ch.sender.close(ch.senderSock);
      await expectMessages(ch, messages, 'each');
      const queued = e.sizes.length === 0 ? 'no message queued' : `the ${e.sizes.length} queued messages`;
      // The close is done when its answer comes, so EOF is there now: MSG_DONTWAIT sees it or its absence.
      for (let i = 0; i < e.eofReads; i++) {
        const got = await recvQueued(ch, 65536);
        const which = `recv ${i + 1} after ${queued}, once the peer had closed,`;
        if ('errno' in got) fail(`${which} gave ${got.errno}, not EOF: the peer's close did not reach the receiver`, 'EOF (recv returns 0)', got.errno);
        if (got.data.length > 0) fail(`${which} returned ${got.data.length} bytes, not EOF`, 'EOF (recv returns 0)', `${got.data.length} bytes`);
      }
      return { messages: e.sizes.length, eofReads: e.eofReads };
    });
  },
};

interface PeerClosed {
  /** Datagrams that must go through before the receiver closes. */
  before: number[];
  /** The datagram sent after it closed. */
  probe: number;
}

export const dgramPeerClosed: Property<PeerClosed> = {
  id: 'dgram.peer-closed',
  level: 'MUST',
  category: 'datagrams',
  scope: 'pairing',
  requirement: 'A SOCK_DGRAM socket connected to a receiver that has closed gets ECONNREFUSED from its next send (Linux), after sends to the live receiver were delivered.',
  reference:
    'unix(7) ECONNREFUSED; kernel net/unix/af_unix.c unix_dgram_sendmsg (a dead connected peer is ECONNREFUSED); gVisor test/syscalls/linux/socket_unix_dgram.cc WriteOneSideClosed',
  socketTypes: ['dgram'],
  addresses: ['pathname'],
  via: 'driver',
  arbitrary: fc.record({ before: fc.array(fc.integer({ min: 1, max: 1024 }), { minLength: 1, maxLength: 4 }), probe: fc.integer({ min: 1, max: 1024 }) }),
  examples: [{ before: [3, 1024], probe: 3 }],
  maxRuns: 3,
  describe: (p) => p,
  async check(p, ctx) {
    return withDrivers(ctx, async (d) => {
      // The server binds and reads, the client connects and sends.
      const ch = await openChannel(ctx, d, 'client');
      const messages = p.before.map((n, i) => messageBytes(i, n));
      for (const [i, m] of messages.entries()) await sendMessage(ch, m, `datagram ${i + 1}, to the live receiver`);
      await expectMessages(ch, messages, 'each');
      await ch.receiver.close(ch.receiverSock);
      const refused = await errnoOf(ch.sender.send(ch.senderSock, messageBytes(messages.length, p.probe), { once: true }));
      expectErrno(refused, 'ECONNREFUSED', `a send of ${p.probe} bytes to the receiver that had closed`);
      return { delivered: messages.length, refused };
    });
  },
};

/** The kernel's receive-queue limit for datagrams (Documentation/admin-guide/sysctl/net.rst, max_dgram_qlen). */
function maxDgramQlen(): number | null {
  try {
    const n = Number.parseInt(readFileSync('/proc/sys/net/unix/max_dgram_qlen', 'utf8'), 10);
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Sends before a sender that never says EAGAIN is failed: well past the kernel's queue limit. */
function sendCap(): number {
  const qlen = maxDgramQlen();
  return qlen === null ? 1024 : qlen * 4 + 64;
}

export const dgramQueueFull: Property<number[]> = {
  id: 'dgram.queue-full',
  level: 'MUST',
  category: 'datagrams',
  scope: 'pairing',
  requirement:
    'While the receiver does not read, a non-blocking SOCK_DGRAM sender gets EAGAIN once its queue is full; every datagram that was accepted is then received exactly once, in order, none lost or repeated.',
  reference:
    'send(2) EAGAIN: the socket is nonblocking and the operation would block; unix(7): UNIX domain datagram sockets are reliable and do not reorder datagrams; Documentation/admin-guide/sysctl/net.rst max_dgram_qlen; gVisor test/syscalls/linux/socket_unix_dgram.cc IncreasedSocketSendBufUnblocksWrites',
  socketTypes: ['dgram'],
  addresses: ['pathname'],
  via: 'driver',
  // Datagram i has size sizes[i % length]; at least 4 bytes, so each carries its index.
  arbitrary: fc.array(fc.integer({ min: 4, max: 1024 }), { minLength: 1, maxLength: 4 }),
  examples: [[4, 1024]],
  maxRuns: 3,
  describe: (sizes) => ({ sizes }),
  async check(sizes, ctx) {
    return withDrivers(ctx, async (d) => {
      const ch = await openChannel(ctx, d, 'client');
      const cap = sendCap();
      const accepted: Buffer[] = [];
      let refused: string | null = null;
      while (refused === null && accepted.length < cap) {
        const datagram = messageBytes(accepted.length, sizes[accepted.length % sizes.length]!);
        try {
          await sendMessage(ch, datagram, `datagram ${accepted.length + 1}`, ['MSG_DONTWAIT']);
          accepted.push(datagram);
        } catch (err) {
          if (!(err instanceof DriverError)) throw err;
          refused = err.code;
        }
      }
      if (refused === null) fail(`${cap} non-blocking sends to a receiver that reads nothing all succeeded: the queue never filled`, 'EAGAIN once the queue is full', `${cap} datagrams accepted`);
      if (accepted.length === 0) fail(`the first datagram to an empty queue was refused with ${refused}`, 'the first sends accepted', refused);
      expectErrno(refused, 'EAGAIN', `the non-blocking send after ${accepted.length} accepted datagrams`);
      await expectMessages(ch, accepted, 'each');
      await expectNothingQueued(ch, `the ${accepted.length} accepted datagrams`);
      return { accepted: accepted.length };
    });
  },
};
