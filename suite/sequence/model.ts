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
 * listen(2)'s backlog in every sequence: small, so that K connections can fill it. AF_UNIX lets
 * backlog + 1 connections wait unaccepted (unix_recvq_full: the queue's length > the backlog), so
 * the third pending connect fails; non-blocking, with EAGAIN (verified on this machine).
 */
export const LISTEN_BACKLOG = 1;

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

  constructor(readonly type: SocketType) {}

  clone(): WorldModel {
    const copy = new WorldModel(this.type);
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

  /** The listener's queue is full: a connect would wait (blocking) or fail with EAGAIN (non-blocking). */
  backlogFull(): boolean {
    return this.acceptQueue.length > LISTEN_BACKLOG;
  }

  /** What the kernel answers to a connect (run non-blocking when the backlog is full: resolve). */
  expectedConnect(): Outcome {
    return this.backlogFull() ? { kind: 'errno', code: 'EAGAIN' } : { kind: 'ok' };
  }

  /** A connection, queued on the listener until accepted (a connect that succeeded). */
  connect(): number {
    const index = this.connections.length;
    const fresh = (live: boolean): End => ({ live, closed: false, rcvShut: false, sendShut: false, reset: false, queue: [], queueFds: [], sent: 0 });
    this.connections.push({ index, ends: { client: fresh(true), server: fresh(false) } });
    this.acceptQueue.push(index);
    return index;
  }

  /** accept takes the oldest queued connection (the model lets accept run only when one is queued). */
  accept(): number {
    const index = this.acceptQueue.shift();
    if (index === undefined) throw new Error('model: accept with nothing queued');
    this.end(index, 'server').live = true;
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

  expectedRecv(conn: number, side: Side, size: number, peek: boolean): Outcome {
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
