/**
 * A connection's life after its first exchange, step by step over two drivers: a half-close
 * (shutdown(SHUT_WR) ends one direction only), a close with unread data (the peer reads what was
 * queued, then ECONNRESET, then EOF), a write to a peer that has closed (EPIPE), and MSG_PEEK (the
 * same bytes again, consumed once). Each check runs in both directions, on connections opened one
 * after another, so a bug shows whichever role the subject plays. Sources: shutdown(2), send(2),
 * recv(2), unix(7), kernel selftest tools/testing/selftests/net/af_unix/unix_connreset.c, gVisor
 * test/syscalls/linux/socket_unix_stream.cc and socket_unix.cc, and the issue threads each property
 * names.
 *
 * Never a wait for something that has not happened: a blocking recv reads bytes the peer's answered
 * send has queued (a unix socket queues them on the receiver before send returns), or an EOF or error
 * the peer's answered shutdown or close has set; where a bug could leave nothing queued (a peek that
 * consumed), the recv is MSG_DONTWAIT.
 */
import fc from 'fast-check';
import type { Driver } from '../driver/driver.js';
import { DriverError } from '../driver/driver.js';
import type { CaseContext } from '../harness/context.js';
import type { Role } from '../model/types.js';
import { errnoOf, withDrivers, type Drivers } from './pair.js';
import { messageBytes } from './packets.js';
import type { Property } from './property.js';
import { expectBytes, expectErrno, fail } from './verify.js';

/** One end of a connection: which role's driver holds it, and its name there. */
export interface Side {
  role: Role;
  driver: Driver;
  conn: string;
}

/** Connects the client to the listener and accepts on the server: the two ends, server first. */
export async function connectOnce(ctx: CaseContext, d: Drivers, listener: string): Promise<[Side, Side]> {
  const clientConn = await d.client.connect(d.address, { type: ctx.socketType });
  const serverConn = await d.server.accept(listener);
  return [
    { role: 'server', driver: d.server, conn: serverConn },
    { role: 'client', driver: d.client, conn: clientConn },
  ];
}

/** What one recv gave: bytes, the end of the stream, or an errno. */
export type Received = { kind: 'data'; data: Buffer } | { kind: 'eof' } | { kind: 'error'; errno: string };

export const receivedText = (r: Received): string => (r.kind === 'data' ? `${r.data.length} bytes` : r.kind === 'eof' ? 'EOF (recv returned 0)' : r.errno);

/** One recv; a failed one is its errno, not a throw. */
export async function recvOnce(side: Side, dataSize: number, flags: string[] = []): Promise<Received> {
  try {
    const r = await side.driver.recv(side.conn, { dataSize: Math.max(1, dataSize), ...(flags.length ? { flags } : {}) });
    // Every message these properties send has bytes, so an empty recv is the end on a packet socket too.
    return r.data.length === 0 ? { kind: 'eof' } : { kind: 'data', data: r.data };
  } catch (err) {
    if (err instanceof DriverError) return { kind: 'error', errno: err.code };
    throw err;
  }
}

/** What a run of recvs gave: the bytes, and what ended the run (null: `length` bytes came). */
export interface Drained {
  data: Buffer;
  end: Exclude<Received, { kind: 'data' }> | null;
}

/**
 * Reads until `length` bytes came, or EOF, or an error. Each recv asks for what is still missing, so a
 * packet socket's message fits. `flags` ['MSG_DONTWAIT'] where a bug could leave nothing queued.
 */
export async function readUpTo(side: Side, length: number, flags: string[] = []): Promise<Drained> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < length) {
    const r = await recvOnce(side, Math.min(65536, length - got), flags);
    if (r.kind !== 'data') return { data: Buffer.concat(parts), end: r };
    parts.push(r.data);
    got += r.data.length;
  }
  return { data: Buffer.concat(parts), end: null };
}

/** Reads until EOF or an error, which the model says is pending; at most `limit` bytes and one recv more. */
export async function readToEnd(side: Side, limit: number): Promise<Drained> {
  const parts: Buffer[] = [];
  let got = 0;
  for (;;) {
    const r = await recvOnce(side, 65536);
    if (r.kind !== 'data') return { data: Buffer.concat(parts), end: r };
    parts.push(r.data);
    got += r.data.length;
    if (got > limit) return { data: Buffer.concat(parts), end: null };
  }
}

/** Sends all of data on one end; a short count fails. */
export async function sendAll(side: Side, data: Uint8Array, what: string): Promise<void> {
  const sent = await side.driver.send(side.conn, data);
  if (sent !== data.length) fail(`${what}: the ${side.role}'s send answered sent ${sent} for ${data.length} bytes`, `sent ${data.length}`, `sent ${sent}`);
}

const endText = (d: Drained): string => (d.end === null ? 'no end' : receivedText(d.end));

/** Both directions of a property: the server acting first, then the client, each on its own connection. */
async function bothWays(ctx: CaseContext, d: Drivers, body: (actor: Side, peer: Side) => Promise<void>): Promise<void> {
  const listener = await d.server.listen(d.address, { type: ctx.socketType });
  for (const actor of ['server', 'client'] as const) {
    const [server, client] = await connectOnce(ctx, d, listener);
    await body(actor === 'server' ? server : client, actor === 'server' ? client : server);
  }
}

interface HalfClose {
  /** Bytes the closing side sends before its shutdown(SHUT_WR). */
  before: number;
  /** Bytes its peer sends back afterwards. */
  reply: number;
}

export const streamHalfClose: Property<HalfClose> = {
  id: 'stream.half-close',
  level: 'MUST',
  category: 'streams',
  scope: 'pairing',
  requirement:
    'After shutdown(SHUT_WR) the peer reads what was sent before it and then EOF, while the other direction keeps working: the side that shut down still receives everything its peer sends, until the peer shuts down too.',
  reference:
    'shutdown(2): SHUT_WR, further transmissions disallowed; gVisor test/syscalls/linux/socket_unix.cc UnixSocketPairTest.Shutdown; JuliaLang/julia#60959, apple/containerization#323, oven-sh/bun#35947 (a half-close that closed the whole socket)',
  socketTypes: ['stream', 'seqpacket'],
  addresses: ['pathname'],
  via: 'driver',
  needs: { commands: ['shutdown'] },
  arbitrary: fc.record({ before: fc.integer({ min: 1, max: 2048 }), reply: fc.integer({ min: 1, max: 2048 }) }),
  examples: [{ before: 3, reply: 5 }],
  maxRuns: 4,
  describe: (h) => h,
  async check(h, ctx) {
    return withDrivers(ctx, async (d) => {
      await bothWays(ctx, d, async (closer, peer) => {
        const before = messageBytes(0, h.before);
        const reply = messageBytes(1, h.reply);
        await sendAll(closer, before, `the ${closer.role}'s ${h.before} bytes before its shutdown`);
        await closer.driver.shutdown(closer.conn, 'write');
        // Its bytes, then EOF: both are there once the shutdown's answer came.
        const drained = await readToEnd(peer, before.length);
        expectBytes(drained.data, before, `after the ${closer.role}'s shutdown(SHUT_WR), what the ${peer.role} read before the end differs from the bytes sent`);
        if (drained.end?.kind !== 'eof') fail(`after the ${closer.role}'s shutdown(SHUT_WR) and its ${h.before} bytes, the ${peer.role}'s next recv gave ${endText(drained)}, not EOF`, 'EOF', endText(drained));
        // The other direction is still open: the peer sends, the side that shut down reads.
        const refused = await errnoOf(peer.driver.send(peer.conn, reply));
        if (refused !== null) {
          fail(
            `after the ${closer.role}'s shutdown(SHUT_WR), the ${peer.role}'s send of ${h.reply} bytes failed with ${refused}: the shutdown also closed the ${closer.role}'s reading side`,
            `the send succeeds (only the ${closer.role}'s writing side is shut)`,
            refused,
          );
        }
        const back = await readUpTo(closer, reply.length);
        if (back.end !== null) fail(`the ${closer.role}, after its own shutdown(SHUT_WR), read ${back.data.length} of the ${h.reply} bytes its peer sent, then ${endText(back)}`, `${h.reply} bytes`, `${back.data.length} bytes, then ${endText(back)}`);
        expectBytes(back.data, reply, `the bytes the ${closer.role} read after its own shutdown(SHUT_WR) differ from what the ${peer.role} sent`);
        // And the peer's end reaches it once the peer shuts down in turn.
        await peer.driver.shutdown(peer.conn, 'write');
        const last = await readToEnd(closer, 0);
        if (last.data.length > 0 || last.end?.kind !== 'eof') fail(`once the ${peer.role} shut down too, the ${closer.role} read ${last.data.length} more bytes, then ${endText(last)}`, 'EOF', `${last.data.length} bytes, then ${endText(last)}`);
        await closer.driver.close(closer.conn);
        await peer.driver.close(peer.conn);
      });
      return { before: h.before, reply: h.reply };
    });
  },
};

interface CloseUnread {
  /** Bytes sent to the closing side that it never reads. */
  unread: number;
  /** Bytes the closing side sends before it closes (0: none). */
  queued: number;
}

export const streamCloseUnreadReset: Property<CloseUnread> = {
  id: 'stream.close-unread-reset',
  level: 'MUST',
  category: 'streams',
  scope: 'pairing',
  requirement:
    'When a stream socket is closed with data it never read, its peer first reads every byte queued for it, then gets ECONNRESET once, then EOF (Linux). A clean EOF in place of the reset, or lost queued bytes, hides that data was discarded.',
  reference:
    'kernel selftest tools/testing/selftests/net/af_unix/unix_connreset.c (SOCK_STREAM: ECONNRESET after a close with unread data); net/unix/af_unix.c unix_release_sock; gVisor test/syscalls/linux/socket_unix_stream.cc ReadOneSideClosedWithUnreadData; google/gvisor#735, ocaml-multicore/eio#313, libuv/libuv#2643',
  // SOCK_SEQPACKET resets too (unix_connreset.c), but reports ECONNRESET before the queued messages:
  // another order, so not this requirement.
  socketTypes: ['stream'],
  addresses: ['pathname'],
  via: 'driver',
  arbitrary: fc.record({ unread: fc.integer({ min: 1, max: 2048 }), queued: fc.integer({ min: 0, max: 2048 }) }),
  examples: [{ unread: 1, queued: 3 }],
  maxRuns: 4,
  describe: (c) => c,
  async check(c, ctx) {
    return withDrivers(ctx, async (d) => {
      await bothWays(ctx, d, async (closer, peer) => {
        await sendAll(peer, messageBytes(0, c.unread), `the ${peer.role}'s ${c.unread} bytes, which the ${closer.role} never reads`);
        const queued = messageBytes(1, c.queued);
        if (c.queued > 0) await sendAll(closer, queued, `the ${closer.role}'s ${c.queued} bytes before it closes`);
        await closer.driver.close(closer.conn);
        const closed = `the ${closer.role} closed with ${c.unread} bytes unread`;
        const got = await readUpTo(peer, queued.length);
        if (got.end !== null) {
          fail(`${closed}: the ${peer.role} read ${got.data.length} of the ${c.queued} bytes queued for it, then ${endText(got)}`, `${c.queued} bytes, then ECONNRESET`, `${got.data.length} bytes, then ${endText(got)}`);
        }
        expectBytes(got.data, queued, `${closed}: the bytes it had sent first differ`);
        const reset = await recvOnce(peer, 65536);
        if (reset.kind !== 'error' || reset.errno !== 'ECONNRESET') {
          fail(`${closed}: after the ${c.queued} queued bytes the ${peer.role}'s recv gave ${receivedText(reset)}, not ECONNRESET`, 'ECONNRESET', receivedText(reset));
        }
        const eof = await recvOnce(peer, 65536);
        if (eof.kind !== 'eof') fail(`${closed}: after ECONNRESET the ${peer.role}'s next recv gave ${receivedText(eof)}, not EOF (the reset is reported once)`, 'EOF', receivedText(eof));
        await peer.driver.close(peer.conn);
      });
      return { ...c };
    });
  },
};

interface WriteAfterClose {
  /** Bytes the writer sends while both are open. */
  before: number;
  /** The peer closes without reading them (a reset), else after reading them all (an orderly close). */
  unread: boolean;
  /** Bytes of each send after the peer closed. */
  probe: number;
}

export const streamWriteAfterPeerClose: Property<WriteAfterClose> = {
  id: 'stream.write-after-peer-close',
  level: 'MUST',
  category: 'streams',
  scope: 'pairing',
  requirement:
    'Once the peer has closed the connection, whether it had read everything or closed with bytes unread (a reset), and the writer has seen the close (EOF, or ECONNRESET), a send fails with EPIPE, with MSG_NOSIGNAL and without it, after sends to the open peer went through. (Without MSG_NOSIGNAL the kernel also raises SIGPIPE; drivers ignore SIGPIPE by protocol, so the signal is not observable through a driver and only the EPIPE is checked.)',
  reference:
    'send(2) EPIPE: the local end has been shut down on a connection oriented socket, and SIGPIPE unless MSG_NOSIGNAL; unix(7); gVisor test/syscalls/linux/socket_unix_stream.cc WriteOneSideClosed; kernel selftest tools/testing/selftests/net/af_unix/unix_connreset.c',
  socketTypes: ['stream', 'seqpacket'],
  addresses: ['pathname'],
  via: 'driver',
  arbitrary: fc.record({ before: fc.integer({ min: 1, max: 2048 }), unread: fc.boolean(), probe: fc.integer({ min: 1, max: 2048 }) }),
  examples: [{ before: 4, unread: true, probe: 1 }],
  maxRuns: 4,
  describe: (w) => w,
  async check(w, ctx) {
    return withDrivers(ctx, async (d) => {
      await bothWays(ctx, d, async (closer, writer) => {
        const before = messageBytes(0, w.before);
        await sendAll(writer, before, `the ${writer.role}'s ${w.before} bytes to the open peer`);
        if (!w.unread) {
          // Read all of it, so the close is an orderly one.
          const got = await readUpTo(closer, before.length);
          expectBytes(got.data, before, `what the ${closer.role} read from the open connection differs from what the ${writer.role} sent`);
        }
        await closer.driver.close(closer.conn);
        const closed = `after the ${closer.role} closed${w.unread ? ` with the ${w.before} bytes unread` : ''}`;
        // The writer sees the close first, as an application reading its peer would: EOF, or the reset.
        // (A packet socket reports a pending reset to the first call, send or recv, so it is read here.)
        const seen = await readToEnd(writer, 0);
        const end = seen.end;
        if (seen.data.length > 0 || end === null || (end.kind === 'error' && end.errno !== 'ECONNRESET')) {
          fail(`${closed}, the ${writer.role} read ${seen.data.length} bytes, then ${endText(seen)}`, 'EOF, or ECONNRESET after a close with bytes unread', `${seen.data.length} bytes, then ${endText(seen)}`);
        }
        for (const flags of [[], ['MSG_NOSIGNAL']]) {
          const refused = await errnoOf(writer.driver.send(writer.conn, messageBytes(1, w.probe), { flags }));
          expectErrno(refused, 'EPIPE', `a send of ${w.probe} bytes by the ${writer.role} ${flags.length ? 'with' : 'without'} MSG_NOSIGNAL, ${closed}`);
        }
        await writer.driver.close(writer.conn);
      });
      return { ...w };
    });
  },
};

interface PeekRead {
  /** What the sender sends, one send each. */
  sizes: number[];
  /** The peeking recv's buffer. */
  peek: number;
}

export const streamPeekThenRead: Property<PeekRead> = {
  id: 'stream.peek-then-read',
  level: 'MUST',
  category: 'streams',
  scope: 'pairing',
  requirement:
    'A recv with MSG_PEEK returns the first bytes queued without removing them: a second peek returns the same bytes, and the reads that follow return everything sent from its first byte, exactly once.',
  reference:
    'recv(2) MSG_PEEK: returns data from the beginning of the receive queue without removing it, so a subsequent receive call returns the same data; unix(7); CPython Lib/test/test_socket.py testRecvmsgPeek',
  socketTypes: ['stream', 'seqpacket'],
  addresses: ['pathname'],
  via: 'driver',
  arbitrary: fc.record({ sizes: fc.array(fc.integer({ min: 1, max: 1024 }), { minLength: 1, maxLength: 3 }), peek: fc.integer({ min: 1, max: 2048 }) }),
  examples: [{ sizes: [5, 5], peek: 3 }],
  maxRuns: 4,
  describe: (p) => p,
  async check(p, ctx) {
    return withDrivers(ctx, async (d) => {
      const listener = await d.server.listen(d.address, { type: ctx.socketType });
      const [server, client] = await connectOnce(ctx, d, listener);
      for (const [sender, receiver] of [[server, client], [client, server]] as const) {
        const messages = p.sizes.map((n, i) => messageBytes(i, n));
        for (const m of messages) await sendAll(sender, m, `the ${sender.role}'s send`);
        const sent = Buffer.concat(messages);
        // MSG_DONTWAIT throughout: a peek that consumed would leave nothing, and a wait would hang.
        const first = await recvOnce(receiver, p.peek, ['MSG_PEEK', 'MSG_DONTWAIT']);
        if (first.kind !== 'data') fail(`the ${receiver.role}'s MSG_PEEK recv with ${sent.length} bytes queued gave ${receivedText(first)}`, 'the first bytes queued', receivedText(first));
        expectBytes(first.data, sent.subarray(0, first.data.length), `the ${receiver.role}'s MSG_PEEK recv (${p.peek}-byte buffer) differs from the first bytes sent`);
        const again = await recvOnce(receiver, p.peek, ['MSG_PEEK', 'MSG_DONTWAIT']);
        if (again.kind !== 'data') fail(`the ${receiver.role}'s second MSG_PEEK recv gave ${receivedText(again)}: the first peek consumed the bytes`, `the same ${first.data.length} bytes`, receivedText(again));
        expectBytes(again.data, first.data, `the ${receiver.role}'s second MSG_PEEK recv differs from its first: the first peek consumed bytes`);
        const read = await readUpTo(receiver, sent.length, ['MSG_DONTWAIT']);
        expectBytes(read.data, sent, `after two peeks, what the ${receiver.role} read differs from the ${sent.length} bytes sent (each byte is read once, from the first)`);
        const rest = await recvOnce(receiver, 65536, ['MSG_DONTWAIT']);
        if (rest.kind !== 'error' || rest.errno !== 'EAGAIN') fail(`after the ${receiver.role} read all ${sent.length} bytes, a MSG_DONTWAIT recv gave ${receivedText(rest)}`, 'EAGAIN (nothing left: peeked bytes are read once)', receivedText(rest));
      }
      return { sizes: p.sizes, peek: p.peek };
    });
  },
};
