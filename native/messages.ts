/**
 * sendmsg/recvmsg with SCM_RIGHTS and SCM_CREDENTIALS, a destination and the sender's address: the
 * synchronous, non-blocking calls (async.ts waits and retries).
 */
import { binding, type RawAddress, type RawBinding, type RawControl } from './binding.js';

export type MsgConstant = keyof RawBinding['MSG'];
const MSG_CONSTANTS: readonly MsgConstant[] = [
  'MSG_OOB', 'MSG_PEEK', 'MSG_TRUNC', 'MSG_CTRUNC', 'MSG_EOR',
  'MSG_WAITALL', 'MSG_DONTWAIT', 'MSG_NOSIGNAL', 'MSG_MORE', 'MSG_ERRQUEUE', 'MSG_CMSG_CLOEXEC',
];

/** Input and output flag bits of sendmsg/recvmsg (MSG_* from <sys/socket.h>), read from the addon. */
export const MSG = {} as Readonly<Record<MsgConstant, number>>;
for (const name of MSG_CONSTANTS) {
  Object.defineProperty(MSG, name, { enumerable: true, get: () => binding().MSG[name] });
}

/**
 * sendmsg(2): data plus every fd in `fds` in one SCM_RIGHTS message (none: no control message).
 * Any count goes to the kernel, which refuses more than SCM_MAX_FD (253) with EINVAL; an invalid fd
 * in the list gives EBADF. MSG_NOSIGNAL and MSG_DONTWAIT are always added, so EAGAIN means "full".
 * On a stream socket the count may be short; the fds travel with the first byte sent.
 * @returns the number of bytes sent.
 */
export function sendmsg(fd: number, data: Uint8Array, fds: readonly number[] = [], flags = 0, options: SendmsgOptions = {}): number {
  return binding().sendmsg(fd, data, fds, flags, options.to ?? null, options.credentials ?? null);
}

/** struct ucred: what SCM_CREDENTIALS carries and SO_PEERCRED gives. */
export interface Credentials {
  pid: number;
  /** -1 stands for (uid_t)-1. */
  uid: number;
  gid: number;
}

export interface SendmsgOptions {
  /** msg_name (sendto): a path, or an abstract name starting with NUL, with bind's exact length. */
  to?: string | Uint8Array;
  /**
   * An SCM_CREDENTIALS message with exactly this struct ucred, placed first in msg_control (before
   * SCM_RIGHTS). Without privilege the kernel refuses a pid, uid or gid not the sender's (EPERM).
   */
  credentials?: Credentials;
}

export interface RecvmsgOptions {
  /** Size of the data buffer (default 65536); 0 is allowed (recvmsg(2): a zero-length read still receives the control message). */
  dataSize?: number;
  /**
   * The control buffer is exactly CMSG_LEN(controlFds * sizeof(int)) bytes (not CMSG_SPACE, whose
   * padding would let Linux deliver one more), so at most this many fds arrive; the kernel closes
   * the rest and sets MSG_CTRUNC. 0 means no control buffer. Default 253 (SCM_MAX_FD).
   */
  controlFds?: number;
  /** MSG_CMSG_CLOEXEC: received fds get FD_CLOEXEC. */
  cloexec?: boolean;
  /** MSG_PEEK: leave the data queued (received fds are still installed: recvmsg(2) MSG_PEEK). */
  peek?: boolean;
  /** More raw MSG_* input flags (e.g. MSG.MSG_TRUNC, MSG.MSG_WAITALL). MSG_DONTWAIT is always added. */
  flags?: number;
  /**
   * Room for one SCM_CREDENTIALS: CMSG_SPACE(sizeof(struct ucred)) more control bytes, before the
   * fds' CMSG_LEN. (The kernel only sends credentials to a receiver with SO_PASSCRED on.)
   */
  credentials?: boolean;
}

/** A control message as recvmsg returned it, in the kernel's order. */
export type ControlMessage = RawControl;

/** The msg_flags bits a driver's recv answer names, in its order (docs/driver-protocol.md). */
export type MsgFlagName = 'MSG_CTRUNC' | 'MSG_TRUNC' | 'MSG_EOR' | 'MSG_OOB' | 'MSG_ERRQUEUE';
export const MSG_FLAG_NAMES: readonly MsgFlagName[] = ['MSG_CTRUNC', 'MSG_TRUNC', 'MSG_EOR', 'MSG_OOB', 'MSG_ERRQUEUE'];

export interface MsgFlags {
  ctrunc: boolean;
  trunc: boolean;
  eor: boolean;
  oob: boolean;
  errqueue: boolean;
}

export interface RecvmsgResult {
  /** The bytes received (empty at EOF on a stream). */
  data: Buffer;
  /** recvmsg's return value: data.length, or a packet's full length when MSG_TRUNC was an input flag. */
  length: number;
  /** Every fd of every SCM_RIGHTS message, in order. They are the caller's to close. */
  fds: number[];
  /** Every control message (SCM_RIGHTS, SCM_CREDENTIALS, other) in the order the kernel wrote them. */
  control: ControlMessage[];
  /** The sender's address (msg_name); null when the kernel gave none. */
  from: RawAddress | null;
  flags: MsgFlags;
  /** msg_flags as the kernel returned it. */
  msgFlags: number;
  /** The names of the MSG_CTRUNC, MSG_TRUNC, MSG_EOR, MSG_OOB, MSG_ERRQUEUE bits that are set. */
  flagNames: MsgFlagName[];
}

/** The names of the reported msg_flags bits set in `msgFlags`. */
export function msgFlagNames(msgFlags: number): MsgFlagName[] {
  const bits = binding().MSG;
  return MSG_FLAG_NAMES.filter((name) => (msgFlags & bits[name]) !== 0);
}

/** recvmsg(2) once, non-blocking (EAGAIN when nothing is queued). */
export function recvmsg(fd: number, options: RecvmsgOptions = {}): RecvmsgResult {
  const b = binding();
  let flags = options.flags ?? 0;
  if (options.cloexec) flags |= b.MSG.MSG_CMSG_CLOEXEC;
  if (options.peek) flags |= b.MSG.MSG_PEEK;
  const r = b.recvmsg(fd, options.dataSize ?? 65536, options.controlFds ?? 253, flags, options.credentials ?? false);
  const m = r.msgFlags;
  return {
    data: r.data,
    length: r.length,
    fds: r.fds,
    control: r.control,
    from: r.from,
    flags: {
      ctrunc: (m & b.MSG.MSG_CTRUNC) !== 0,
      trunc: (m & b.MSG.MSG_TRUNC) !== 0,
      eor: (m & b.MSG.MSG_EOR) !== 0,
      oob: (m & b.MSG.MSG_OOB) !== 0,
      errqueue: (m & b.MSG.MSG_ERRQUEUE) !== 0,
    },
    msgFlags: m,
    flagNames: msgFlagNames(m),
  };
}
