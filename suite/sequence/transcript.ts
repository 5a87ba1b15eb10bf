/**
 * Per-command outcomes as the evidence shows them, and the declared equivalence: when a run's outcome
 * of a command counts as the same as the kernel's. The kernel's own run (c-reference × c-reference)
 * must give exactly what the model expects; another pairing is judged from its own state, which the
 * model keeps by what that pairing answered, so a stream recv that returned fewer bytes (allowed)
 * leaves the rest for the next one.
 */
import type { SocketType } from '../driver/protocol.js';
import type { Outcome } from './model.js';

/** The equivalence, in one sentence per socket type (evidence's `equivalence`). */
export function equivalenceText(type: SocketType): string {
  return type === 'seqpacket'
    ? 'message by message: each recv returns the next message whole, or cut to its buffer with MSG_TRUNC (a recv with MSG_DONTWAIT may find nothing yet); send, shutdown, close, connect and accept results, EOF, ECONNRESET and EPIPE as the kernel gives them; every end drained at the end of the sequence'
    : 'stream bytes as a concatenation: each recv returns the next bytes sent, maybe fewer than the kernel returned (but all of them under MSG_WAITALL; and one with MSG_DONTWAIT maybe none yet), and at the end of the sequence (the synchronisation point) every end, drained, has exactly the bytes sent to it; send, shutdown, close, connect and accept results, EOF, ECONNRESET and EPIPE as the kernel gives them';
}

/** Printable bytes, first 24 of them, as evidence quotes them. */
export function bytesText(bytes: Buffer): string {
  const head = bytes.subarray(0, 24).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return `'${head}${bytes.length > 24 ? '…' : ''}' (${bytes.length} byte${bytes.length === 1 ? '' : 's'})`;
}

export function outcomeText(o: Outcome | undefined): string {
  if (!o) return 'not run';
  switch (o.kind) {
    case 'ok':
      return 'ok';
    case 'sent':
      return `ok sent ${o.n}`;
    case 'data':
      return `data ${bytesText(o.bytes)} flags [${o.flags.join(', ')}]${o.fds ? ` with ${o.fds} fd${o.fds === 1 ? '' : 's'}${o.fdsAt !== undefined ? ` at byte ${o.fdsAt}` : ''}` : ''}`;
    case 'eof':
      return 'EOF (0 bytes)';
    case 'errno':
      return o.code;
    case 'unsupported':
      return `ENOTSUP from the driver (not compared): ${o.message}`;
    case 'skipped':
      return `not sent: ${o.why}`;
  }
}

/** The kernel's run must match the model exactly (bytes, flags, errno). */
export function sameOutcome(a: Outcome, b: Outcome): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'sent' && b.kind === 'sent') return a.n === b.n;
  if (a.kind === 'errno' && b.kind === 'errno') return a.code === b.code;
  if (a.kind === 'data' && b.kind === 'data') return a.bytes.equals(b.bytes) && a.flags.join(',') === b.flags.join(',') && (a.fds ?? 0) === (b.fds ?? 0);
  return true;
}

export interface RecvShape {
  type: SocketType;
  dontwait: boolean;
  /** MSG_WAITALL: a stream recv must return all the bytes the model expects. */
  waitall?: boolean;
}

/**
 * Whether a pairing's outcome is equivalent to what its own state expects. `expected` comes from the
 * model over that pairing's state; returns null when allowed, else why not.
 */
export function judge(expected: Outcome, actual: Outcome, recv: RecvShape | undefined): string | null {
  if (actual.kind === 'skipped') return null;
  if (actual.kind === 'unsupported') return 'the driver answered ENOTSUP for a command every driver of this socket type must do';
  if (sameOutcome(expected, actual)) return null;
  if (recv) {
    if (recv.dontwait && actual.kind === 'errno' && actual.code === 'EAGAIN') return null;
    if (recv.type === 'stream' && expected.kind === 'data' && actual.kind === 'data') {
      // MSG_WAITALL exists to prevent a short read: the model gives it only where the kernel's
      // answer is complete (WorldModel.waitallCompletes), so fewer bytes are the bug.
      if (recv.waitall && actual.bytes.length < expected.bytes.length && expected.bytes.subarray(0, actual.bytes.length).equals(actual.bytes)) return `a short read under MSG_WAITALL (${actual.bytes.length} of ${expected.bytes.length} bytes)`;
      if (actual.bytes.length > 0 && actual.bytes.length <= expected.bytes.length && expected.bytes.subarray(0, actual.bytes.length).equals(actual.bytes)) {
        // Fewer bytes: the fds (and a MSG_CTRUNC for those that did not fit) are due only when the
        // byte they travel with is among them.
        const reached = expected.fdsAt !== undefined && actual.bytes.length > expected.fdsAt;
        const due = reached ? (expected.fds ?? 0) : 0;
        const flags = reached ? expected.flags.join(',') : '';
        if (actual.flags.join(',') !== flags) return `flags [${actual.flags.join(', ')}] with these bytes, where [${reached ? expected.flags.join(', ') : ''}] are due`;
        return (actual.fds ?? 0) === due ? null : `${actual.fds ?? 0} fds came with these bytes, where ${due} travel with them`;
      }
      return actual.bytes.length > expected.bytes.length ? 'more bytes than were sent and not yet read' : 'not the next bytes of the stream';
    }
  }
  return `expected ${outcomeText(expected)}`;
}
