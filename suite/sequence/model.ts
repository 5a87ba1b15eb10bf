/**
 * A small model of AF_UNIX connections (SOCK_STREAM and SOCK_SEQPACKET), the second oracle of the
 * sequence properties: one listener and up to K connections, each with two ends that hold what the
 * kernel keeps per socket (the receive queue, RCV_SHUTDOWN and SEND_SHUTDOWN, a pending ECONNRESET).
 * `expected` says what the kernel answers to a command; `apply` moves the state by what a run
 * observed, so a run whose answers the equivalence allows (fewer stream bytes, an ENOTSUP) is then
 * judged from its own state.
 *
 * The rules are Linux's net/unix/af_unix.c, checked on this machine (6.18) with Python's socket module:
 * - send: SEND_SHUTDOWN (own SHUT_WR, the peer's SHUT_RD, the peer closed) is EPIPE. A stream send
 *   never reports the pending ECONNRESET (it stays for recv); a seqpacket send reports it first, and
 *   clears it, even after its own SHUT_WR (sock_alloc_send_pskb's sock_error).
 * - recv, stream: queued bytes first (min(size, queued), across sends), then a pending ECONNRESET
 *   once (a MSG_PEEK consumes it too), then EOF once RCV_SHUTDOWN is set; else EAGAIN.
 * - recv, seqpacket: a pending ECONNRESET first, even before queued messages (the datagram receive
 *   path checks sk_err before the queue), then the next message, cut to the buffer with MSG_TRUNC
 *   and the rest of it dropped (kept under MSG_PEEK), then EOF; else EAGAIN.
 * - shutdown(how) sets the end's own bits and the peer's mirrored ones (SHUT_RD: the peer's
 *   SEND_SHUTDOWN; SHUT_WR: the peer's RCV_SHUTDOWN); it does not drop queued data, and succeeds after
 *   the peer is gone.
 * - fds (SCM_RIGHTS) travel with the first byte of their send. A stream recv takes them with that
 *   byte and stops at the end of that send's bytes (unix_stream_read_generic: `if (scm.fp) break`,
 *   and under MSG_PEEK `if (UNIXCB(skb).fp) break`); a seqpacket recv takes its message's fds. A
 *   MSG_PEEK gets copies and leaves them queued; a stream MSG_PEEK is given the fds of the first send
 *   that still has them even when it peeks only bytes before that send (seen on 6.18 with Python:
 *   send 10 bytes, then 10 with one fd; a 4-byte peek gets the fd, a 4-byte recv does not).
 * - close: the peer gets both bits; if the closing end had unread data, the peer gets ECONNRESET
 *   (unix_release_sock). A connection closed by the client before it was accepted is still accepted.
 */
import type { SocketType } from '../driver/protocol.js';

export type Side = 'client' | 'server';
export const other = (side: Side): Side => (side === 'client' ? 'server' : 'client');

/**
 * listen(2)'s backlog, drawn per sequence from 0..MAX_LISTEN_BACKLOG: small, so that K connections can
 * fill it. AF_UNIX lets backlog + 1 connections wait unaccepted (unix_recvq_full: the queue's length >
 * the backlog), so with backlog 0 the second pending connect fails, with 2 the fourth; non-blocking,
 * with EAGAIN (verified on this machine for 0, 1 and 2, stream and seqpacket, with Python).
 */
export const MAX_LISTEN_BACKLOG = 2;

/** Most connections a sequence opens (the K). */
export const MAX_CONNECTIONS = 4;

export interface End {
  /** The end has a name in its driver: connected (client), accepted (server), not yet closed. */
  live: boolean;
  closed: boolean;
  /** RCV_SHUTDOWN: recv gives EOF once the queue is empty. */
  rcvShut: boolean;
  /** SEND_SHUTDOWN: send gives EPIPE. */
  sendShut: boolean;
  /** ECONNRESET waiting for the next recv (and, on seqpacket, send). */
  reset: boolean;
  /** What the peer sent and this end has not read: stream bytes as one buffer per send, or messages. */
  queue: Buffer[];
  /**
   * Per queue entry, the fds (SCM_RIGHTS) still attached to its first byte: a recv that reads that
   * byte takes them (a MSG_PEEK gets copies and leaves them), and a stream recv stops at the end of
   * the entry whose fds it took (unix_stream_read_generic: one sender's fds per recv).
   */
  queueFds: number[];
  /** Bytes this end has sent so far (the pattern's offset for the next send). */
  sent: number;
}

export interface Connection {
  /** Its index in the world (c1 is 0). */
  index: number;
  ends: Record<Side, End>;
}

/** What a command gives (or gave): the same shape for the model, the kernel and a subject. */
export type Outcome =
  | { kind: 'ok' }
  | { kind: 'sent'; n: number }
  /** `fds` arrived with the bytes; `fdsAt` (the model's only): the offset of the byte they came with. */
  | { kind: 'data'; bytes: Buffer; flags: string[]; fds?: number; fdsAt?: number }
  | { kind: 'eof' }
  | { kind: 'errno'; code: string }
  /** The driver answered ENOTSUP from "driver": it cannot express the command; nothing happened. */
  | { kind: 'unsupported'; message: string }
  /** Not sent to this run's drivers: a blocking recv with nothing pending in this run's state. */
  | { kind: 'skipped'; why: string };

export class WorldModel {
  readonly connections: Connection[] = [];
  /** Connections connected and not yet accepted, oldest first (the listener's accept queue). */
  readonly acceptQueue: number[] = [];

  /**
   * Per side, the free fd slots below the RLIMIT_NOFILE soft limit a `limit` command set (null: not
   * limited). socket() (connect) and accept take one and fail with EMFILE at 0 (accept's connection
   * stays queued); close gives one back; a recv installs only as many passed fds as are free
   * (scm_detach_fds), with MSG_CTRUNC when fewer, and the harness closes them at once.
   */
  readonly freeSlots: Record<Side, number | null> = { client: null, server: null };
  /** Per side, its driver was killed (SIGKILL): its ends and, for the server, the listener are gone. */
  readonly dead: Record<Side, boolean> = { client: false, server: false };

  constructor(
    readonly type: SocketType,
    readonly backlog = 1,
  ) {}

  clone(): WorldModel {
    const copy = new WorldModel(this.type, this.backlog);
    copy.freeSlots.client = this.freeSlots.client;
    copy.freeSlots.server = this.freeSlots.server;
    copy.dead.client = this.dead.client;
    copy.dead.server = this.dead.server;
    for (const c of this.connections) {
      const end = (e: End): End => ({ ...e, queue: [...e.queue], queueFds: [...e.queueFds] });
      copy.connections.push({ index: c.index, ends: { client: end(c.ends.client), server: end(c.ends.server) } });
    }
    copy.acceptQueue.push(...this.acceptQueue);
    return copy;
  }

  end(conn: number, side: Side): End {
    const c = this.connections[conn];
    if (!c) throw new Error(`model: no connection c${conn + 1}`);
    return c.ends[side];
  }

  peerOf(conn: number, side: Side): End {
    return this.end(conn, other(side));
  }

  queuedBytes(e: End): number {
    return e.queue.reduce((n, b) => n + b.length, 0);
  }

  /** A blocking recv cannot hang: data, a reset or EOF is waiting. */
  pending(conn: number, side: Side): boolean {
    const e = this.end(conn, side);
    return e.queue.length > 0 || e.reset || e.rcvShut;
  }

  /**
   * A blocking MSG_WAITALL recv of `size` returns at once: the kernel waits for all `size` bytes, EOF,
   * an error, or the end of a send that carried fds (unix_stream_read_generic: `if (scm.fp) break`),
   * and the model knows that one of them is there. Left out: a pending reset with some bytes but
   * fewer than `size` queued, where the kernel returns the bytes and swallows the ECONNRESET
   * (`return copied ?: err` after sock_error cleared it; seen on 6.18 with Python: the next recv is
   * EOF, not ECONNRESET), a kernel detail no library is asked to copy. Seqpacket: WAITALL has no
   * effect on a message read (seen: a 10-byte WAITALL recv of a 3-byte message returns it), so it
   * completes whenever anything is pending.
   */
  waitallCompletes(conn: number, side: Side, size: number): boolean {
    const e = this.end(conn, side);
    if (this.type === 'seqpacket') return this.pending(conn, side);
    let available = 0;
    for (const [i, entry] of e.queue.entries()) {
      available += entry.length;
      if ((e.queueFds[i] ?? 0) > 0) return true;
      if (available >= size) return true;
    }
    if (e.reset) return available === 0;
    return e.rcvShut;
  }

  /** The listener's queue is full: a connect would wait (blocking) or fail with EAGAIN (non-blocking). */
  backlogFull(): boolean {
    return this.acceptQueue.length > this.backlog;
  }

  /** The side is limited and has no fd slot left: socket() and accept fail with EMFILE. */
  outOfFds(side: Side): boolean {
    return this.freeSlots[side] === 0;
  }

  /** What the kernel answers to a connect (run non-blocking when the backlog is full: resolve). */
  expectedConnect(): Outcome {
    if (this.outOfFds('client')) return { kind: 'errno', code: 'EMFILE' };
    // The listener died with its driver: nothing listens at the name (pathname and abstract alike, seen on 6.18).
    if (this.dead.server) return { kind: 'errno', code: 'ECONNREFUSED' };
    return this.backlogFull() ? { kind: 'errno', code: 'EAGAIN' } : { kind: 'ok' };
  }

  expectedAccept(): Outcome {
    return this.outOfFds('server') ? { kind: 'errno', code: 'EMFILE' } : { kind: 'ok' };
  }

  /**
   * SIGKILL of a side's driver: every end it holds closes as close() does (the peer gets EOF, and
   * ECONNRESET where the killed end had unread data). A killed server also closes its listener: the
   * client end of each connection still in the accept queue gets ECONNRESET, then EOF, and EPIPE on
   * send (unix_release_sock with embrion set; seen on 6.18 with Python), and later connects are refused.
   */
  kill(side: Side): void {
    for (const c of this.connections) if (c.ends[side].live) this.close(c.index, side);
    if (side === 'server') {
      for (const index of this.acceptQueue) {
        const client = this.end(index, 'client');
        if (client.closed) continue;
        client.rcvShut = true;
        client.sendShut = true;
        client.reset = true;
        // The embryo's queue went with it: what the client sent is gone.
      }
      this.acceptQueue.length = 0;
    }
    this.dead[side] = true;
  }

  /** RLIMIT_NOFILE lowered on a side so that `free` fd slots are left below it. */
  limit(side: Side, free: number): void {
    this.freeSlots[side] = free;
  }

  private takeSlot(side: Side, delta: number): void {
    const free = this.freeSlots[side];
    if (free !== null) this.freeSlots[side] = free + delta;
  }

  /** A connection, queued on the listener until accepted (a connect that succeeded). */
  connect(): number {
    const index = this.connections.length;
    const fresh = (live: boolean): End => ({ live, closed: false, rcvShut: false, sendShut: false, reset: false, queue: [], queueFds: [], sent: 0 });
    this.connections.push({ index, ends: { client: fresh(true), server: fresh(false) } });
    this.acceptQueue.push(index);
    this.takeSlot('client', -1);
    return index;
  }

  /** accept takes the oldest queued connection (the model lets accept run only when one is queued). */
  accept(): number {
    const index = this.acceptQueue.shift();
    if (index === undefined) throw new Error('model: accept with nothing queued');
    this.end(index, 'server').live = true;
    this.takeSlot('server', -1);
    return index;
  }

  expectedSend(conn: number, side: Side, size: number): Outcome {
    const e = this.end(conn, side);
    if (this.type === 'seqpacket' && e.reset) return { kind: 'errno', code: 'ECONNRESET' };
    if (e.sendShut) return { kind: 'errno', code: 'EPIPE' };
    return { kind: 'sent', n: size };
  }

  /** Moves the state by a send's outcome: `data` (the bytes sent) reach the peer only when it was sent. */
  applySend(conn: number, side: Side, data: Buffer, outcome: Outcome, fds = 0): void {
    const e = this.end(conn, side);
    if (outcome.kind === 'errno' && outcome.code === 'ECONNRESET' && this.type === 'seqpacket') e.reset = false;
    if (outcome.kind !== 'sent') return;
    const sent = data.subarray(0, outcome.n);
    e.sent += sent.length;
    const peer = this.peerOf(conn, side);
    if (!peer.closed) {
      peer.queue.push(Buffer.from(sent));
      peer.queueFds.push(fds);
    }
  }

  /** The recv's outcome, with the fds a limited side has room for (MSG_CTRUNC when fewer: scm_detach_fds). */
  expectedRecv(conn: number, side: Side, size: number, peek: boolean): Outcome {
    const o = this.expectedRecvUnlimited(conn, side, size, peek);
    const free = this.freeSlots[side];
    if (o.kind !== 'data' || !o.fds || free === null || o.fds <= free) return o;
    const { fds: _fds, fdsAt, ...rest } = o;
    return { ...rest, flags: [...o.flags, 'MSG_CTRUNC'].sort(), ...(free > 0 ? { fds: free, fdsAt } : { fdsAt }) };
  }

  private expectedRecvUnlimited(conn: number, side: Side, size: number, peek: boolean): Outcome {
    const e = this.end(conn, side);
    if (this.type === 'seqpacket') {
      if (e.reset) return { kind: 'errno', code: 'ECONNRESET' };
      const message = e.queue[0];
      if (message) {
        const cut = message.length > size;
        return withFds({ kind: 'data', bytes: Buffer.from(message.subarray(0, size)), flags: cut ? ['MSG_TRUNC'] : [] }, e.queueFds[0] ?? 0, 0);
      }
    } else {
      if (e.queue.length > 0) return this.streamRead(e, size, peek);
      if (e.reset) return { kind: 'errno', code: 'ECONNRESET' };
    }
    if (e.rcvShut) return { kind: 'eof' };
    return { kind: 'errno', code: 'EAGAIN' };
  }

  /**
   * A stream recv of queued bytes: across sends, up to and including the first send with fds still
   * attached. A recv takes those fds when it reads that send's first byte; a MSG_PEEK is given them
   * whatever bytes it peeks, even when the send carrying them lies beyond its buffer.
   */
  private streamRead(e: End, size: number, peek: boolean): Outcome {
    const parts: Buffer[] = [];
    let got = 0;
    for (const [i, entry] of e.queue.entries()) {
      const take = Math.min(size - got, entry.length);
      if (take === 0) break;
      const fds = e.queueFds[i] ?? 0;
      parts.push(entry.subarray(0, take));
      if (fds > 0) return withFds({ kind: 'data', bytes: Buffer.concat(parts), flags: [] }, fds, got);
      got += take;
      if (take < entry.length) break;
    }
    const bytes = Buffer.concat(parts);
    return peek ? withFds({ kind: 'data', bytes, flags: [] }, e.queueFds.find((n) => n > 0) ?? 0, 0) : { kind: 'data', bytes, flags: [] };
  }

  /** Moves the state by a recv's outcome (the bytes a run actually got, which may be fewer on a stream). */
  applyRecv(conn: number, side: Side, peek: boolean, outcome: Outcome): void {
    const e = this.end(conn, side);
    if (outcome.kind === 'errno' && outcome.code === 'ECONNRESET') e.reset = false;
    if (outcome.kind !== 'data' || peek) return;
    if (this.type === 'seqpacket') {
      e.queue.shift();
      e.queueFds.shift();
      return;
    }
    let n = outcome.bytes.length;
    while (n > 0 && e.queue.length > 0) {
      const head = e.queue[0]!;
      if (head.length <= n) {
        n -= head.length;
        e.queue.shift();
        e.queueFds.shift();
      } else {
        // Its first byte is read: its fds went with it.
        e.queue[0] = head.subarray(n);
        e.queueFds[0] = 0;
        n = 0;
      }
    }
  }

  shutdown(conn: number, side: Side, how: 'read' | 'write' | 'both'): void {
    const e = this.end(conn, side);
    const peer = this.peerOf(conn, side);
    if (how !== 'write') {
      e.rcvShut = true;
      if (!peer.closed) peer.sendShut = true;
    }
    if (how !== 'read') {
      e.sendShut = true;
      if (!peer.closed) peer.rcvShut = true;
    }
  }

  close(conn: number, side: Side): void {
    const e = this.end(conn, side);
    const peer = this.peerOf(conn, side);
    if (!peer.closed) {
      peer.rcvShut = true;
      peer.sendShut = true;
      if (e.queue.length > 0) peer.reset = true;
    }
    if (e.live) this.takeSlot(side, 1);
    e.live = false;
    e.closed = true;
    e.queue = [];
    e.queueFds = [];
  }
}

/** A data outcome with the fds that came with the byte at `at` (none: the outcome as it is). */
function withFds(o: Outcome & { kind: 'data' }, fds: number, at: number): Outcome {
  return fds > 0 ? { ...o, fds, fdsAt: at } : o;
}
