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
 * - close: the peer gets both bits; if the closing end had unread data, the peer gets ECONNRESET
 *   (unix_release_sock). A connection closed by the client before it was accepted is still accepted.
 */
import type { SocketType } from '../driver/protocol.js';

export type Side = 'client' | 'server';
export const other = (side: Side): Side => (side === 'client' ? 'server' : 'client');

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
  | { kind: 'data'; bytes: Buffer; flags: string[] }
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
      const end = (e: End): End => ({ ...e, queue: [...e.queue] });
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

  /** What the kernel answers to connect (a fresh connection: the listener's backlog is above K). */
  connect(): number {
    const index = this.connections.length;
    const fresh = (live: boolean): End => ({ live, closed: false, rcvShut: false, sendShut: false, reset: false, queue: [], sent: 0 });
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
  applySend(conn: number, side: Side, data: Buffer, outcome: Outcome): void {
    const e = this.end(conn, side);
    if (outcome.kind === 'errno' && outcome.code === 'ECONNRESET' && this.type === 'seqpacket') e.reset = false;
    if (outcome.kind !== 'sent') return;
    const sent = data.subarray(0, outcome.n);
    e.sent += sent.length;
    const peer = this.peerOf(conn, side);
    if (!peer.closed) peer.queue.push(Buffer.from(sent));
  }

  expectedRecv(conn: number, side: Side, size: number, peek: boolean): Outcome {
    const e = this.end(conn, side);
    if (this.type === 'seqpacket') {
      if (e.reset) return { kind: 'errno', code: 'ECONNRESET' };
      const message = e.queue[0];
      if (message) {
        const cut = message.length > size;
        return { kind: 'data', bytes: Buffer.from(message.subarray(0, size)), flags: cut ? ['MSG_TRUNC'] : [] };
      }
    } else {
      if (e.queue.length > 0) return { kind: 'data', bytes: Buffer.concat(e.queue).subarray(0, size), flags: [] };
      if (e.reset) return { kind: 'errno', code: 'ECONNRESET' };
    }
    if (e.rcvShut) return { kind: 'eof' };
    void peek;
    return { kind: 'errno', code: 'EAGAIN' };
  }

  /** Moves the state by a recv's outcome (the bytes a run actually got, which may be fewer on a stream). */
  applyRecv(conn: number, side: Side, peek: boolean, outcome: Outcome): void {
    const e = this.end(conn, side);
    if (outcome.kind === 'errno' && outcome.code === 'ECONNRESET') e.reset = false;
    if (outcome.kind !== 'data' || peek) return;
    if (this.type === 'seqpacket') {
      e.queue.shift();
      return;
    }
    let n = outcome.bytes.length;
    while (n > 0 && e.queue.length > 0) {
      const head = e.queue[0]!;
      if (head.length <= n) {
        n -= head.length;
        e.queue.shift();
      } else {
        e.queue[0] = head.subarray(n);
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
  }
}
