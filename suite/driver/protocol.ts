/**
 * The driver protocol's vocabulary (docs/driver-protocol.md), shared by both transports: the process
 * driver (JSON lines) and the in-process adapter (an object whose async methods are the commands).
 * One definition of every command's fields and answer, so the two transports cannot drift.
 */

/** Socket types a unit can run on (socket(2) SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM). */
export type SocketType = 'stream' | 'seqpacket' | 'dgram';
export const SOCKET_TYPES: readonly SocketType[] = ['stream', 'seqpacket', 'dgram'];
/** Address kinds: a filesystem path, or (Linux) an abstract name (unix(7)). */
export type AddressKind = 'pathname' | 'abstract';
export const ADDRESS_KINDS: readonly AddressKind[] = ['pathname', 'abstract'];

/** The protocol version the shipped drivers speak (docs/driver-protocol.md). */
export const DRIVER_PROTOCOL = 'uds-driver/2';
/** Every version the harness accepts in a hello answer: uds-driver/1 is read with its own, older meaning. */
export const DRIVER_PROTOCOLS: readonly string[] = ['uds-driver/1', 'uds-driver/2'];

/**
 * What a driver can do on one socket type at one address kind (uds-driver/2's `sockets`):
 * - `fds`: SCM_RIGHTS on send/sendto/recv/recvfrom;
 * - `peercred`: the peercred command (SO_PEERCRED);
 * - `passcred`: SO_PASSCRED, and SCM_CREDENTIALS reported by recv with `credentials`;
 * - `sendcred`: send/sendto attach SCM_CREDENTIALS as given;
 * - `getsockname`: getsockname/getpeername report the kernel's exact bytes and length;
 * - `autobind`: bind without an address autobinds;
 * - `sndbuf`: SO_SNDBUF and SO_RCVBUF through setsockopt/getsockopt;
 * - `msg-trunc`: MSG_TRUNC as a recv input flag, with the message's full `length`;
 * - `msg-peek`: MSG_PEEK on recv/recvfrom: the next data returned and left queued;
 * - `msg-dontwait`: MSG_DONTWAIT on recv/recvfrom and send/sendto: EAGAIN at once instead of waiting;
 * - `shutdown-read`: shutdown with how "read" or "both" (SHUT_RD, SHUT_RDWR);
 * - `msg-waitall`: MSG_WAITALL on recv: a stream recv waits for all its bytes (or EOF, an error, the
 *   end of a send that carried fds), never a short read.
 */
export const SOCKET_FEATURES = ['fds', 'peercred', 'passcred', 'sendcred', 'getsockname', 'autobind', 'sndbuf', 'msg-trunc', 'msg-peek', 'msg-dontwait', 'shutdown-read', 'msg-waitall'] as const;
export type SocketFeature = (typeof SOCKET_FEATURES)[number];

/** One socket type at one address kind, and the features a driver has there. */
export interface SocketSupport {
  type: SocketType;
  address: AddressKind;
  features: SocketFeature[];
}

/** What a driver answers to `hello`: what it can do. The plan reads it before any case runs. */
export interface Capabilities {
  types: SocketType[];
  addresses: AddressKind[];
  /** It passes and receives fds (SCM_RIGHTS): mkfd, stat, read, fds, and fds on send/recv. */
  fds: boolean;
  /** It passes credentials (SO_PEERCRED, SCM_CREDENTIALS). */
  credentials: boolean;
  /** The commands it implements. */
  commands: string[];
  /**
   * uds-driver/2: every socket type × address kind it supports, with its features there. Absent (a
   * uds-driver/1 answer): types × addresses, each with `fds` when `fds` is true and nothing else.
   */
  sockets?: SocketSupport[];
}

/** Every command of uds-driver/1, in the protocol table's order. */
export const DRIVER_COMMANDS = [
  'hello', 'listen', 'accept', 'connect', 'send', 'recv', 'shutdown', 'close', 'mkfd', 'stat', 'read', 'fds', 'open', 'whoami', 'quit',
  // uds-driver/2
  'bind', 'sendto', 'recvfrom', 'getsockname', 'getpeername', 'setsockopt', 'getsockopt', 'peercred',
  // uds-driver/2, issue 14
  'setrlimit',
] as const;
/**
 * Commands a driver may add and list in hello `commands` (uds-driver/2, issue 17: `reset`, so that
 * the harness may reuse it for another case). Kept apart from DRIVER_COMMANDS, which adapters list
 * as what they implement.
 */
export const OPTIONAL_COMMANDS = ['reset'] as const;
/** The commands of uds-driver/1: what a hello without capabilities is taken to implement. */
export const V1_COMMANDS: readonly DriverCommand[] = DRIVER_COMMANDS.slice(0, 15);
export type DriverCommand = (typeof DRIVER_COMMANDS)[number] | (typeof OPTIONAL_COMMANDS)[number];

/**
 * What a driver that answers `hello` without `capabilities` can do: everything uds-driver/1 asked of
 * every driver before capabilities were answered (stream sockets at pathnames, fd passing).
 */
export const V1_CAPABILITIES: Capabilities = { types: ['stream'], addresses: ['pathname'], fds: true, credentials: false, commands: [...V1_COMMANDS] };

/** The resources setrlimit takes. */
export const RLIMIT_RESOURCES = ['RLIMIT_NOFILE'] as const;
export type RlimitResource = (typeof RLIMIT_RESOURCES)[number];

/** The socket options setsockopt and getsockopt take. */
export const SOCKET_OPTIONS = ['SO_PASSCRED', 'SO_SNDBUF', 'SO_RCVBUF'] as const;
export type SocketOption = (typeof SOCKET_OPTIONS)[number];

export interface HelloAnswer {
  protocol: string;
  implementation: string;
  capabilities: Capabilities;
}
/**
 * An address, as a command names it: exactly one of `path` (a pathname) or `abstract` (the abstract
 * name: the exact bytes after the leading NUL; its length is part of the name). Neither, for `bind`:
 * autobind.
 */
export interface AddressFields {
  path?: string;
  abstract?: Uint8Array;
}
/** An address as the kernel reported it: its socklen_t and sun_path's first (length - 2) bytes. */
export interface AddressAnswer {
  length: number;
  bytes: Uint8Array;
}
/** SO_PEERCRED's answer, and what SCM_CREDENTIALS carries (struct ucred). */
export interface Ucred {
  pid: number;
  uid: number;
  gid: number;
}
/** One control message a recv returned, in the order the kernel wrote them. */
export type ControlMessage =
  | { type: 'SCM_RIGHTS'; fds: string[] }
  | ({ type: 'SCM_CREDENTIALS' } & Ucred)
  | { type: 'other'; level: number; cmsgType: number; bytes: Uint8Array };

export interface ListenFields extends AddressFields {
  backlog?: number;
  type?: SocketType;
}
export interface BindFields extends AddressFields {
  type?: SocketType;
}
export interface ConnectFields extends AddressFields {
  type?: SocketType;
  /** An existing socket (from bind) to connect, instead of a new one. */
  sock?: string;
  /**
   * SOCK_NONBLOCK (O_NONBLOCK for `sock`) for the connect(2) only: a full backlog fails at once with
   * EAGAIN from "connect" (AF_UNIX gives EAGAIN, not EINPROGRESS); after a successful connect the
   * socket is blocking again. Default false.
   */
  nonblock?: boolean;
}
export interface SendFields {
  conn: string;
  /** base64 on the wire; bytes in process. */
  data: Uint8Array;
  fds?: string[];
  flags?: string[];
  /** One sendmsg only; by default what it leaves is sent plainly until all is sent. */
  once?: boolean;
  /** An SCM_CREDENTIALS control message, first in msg_control. */
  credentials?: Ucred;
}
export interface SendtoFields extends AddressFields {
  sock: string;
  data: Uint8Array;
  fds?: string[];
  flags?: string[];
  credentials?: Ucred;
}
export interface RecvFields {
  conn: string;
  dataSize: number;
  /** Control buffer of exactly CMSG_LEN(controlFds * 4) bytes; 0 (default): no control buffer. */
  controlFds?: number;
  cloexec?: boolean;
  /** read(2) instead of recvmsg(2). */
  plain?: boolean;
  flags?: string[];
  /** Room for one SCM_CREDENTIALS (CMSG_SPACE(sizeof(struct ucred))) before the fds' room. */
  credentials?: boolean;
}
export interface RecvAnswer {
  data: Uint8Array;
  fds: string[];
  flags: string[];
  /** recvmsg's return value: with MSG_TRUNC as input on a packet socket, the message's full length (uds-driver/2). */
  length?: number;
  /** Every control message, in order (uds-driver/2). */
  control?: ControlMessage[];
}
export interface RecvfromAnswer extends RecvAnswer {
  /** The sender's address; null when the kernel gave none. */
  from: AddressAnswer | null;
}
export interface MkfdFields {
  /** file | pipe | socket | memfd | dir | file:/ABSOLUTE-PATH */
  kind: string;
  index?: number;
  dir?: string;
  skip?: number;
  cloexec?: boolean;
}
export interface FdStat {
  kind: string;
  dev: number;
  ino: number;
  cloexec: boolean;
  accmode: string | null;
  offset: number | null;
}
export interface OpenFd {
  fd: number;
  dev: number | null;
  ino: number | null;
}

/** An {ok:false} answer's error: errno name (glibc's spelling), number, the failing call, strerror text. */
export interface DriverErrorInfo {
  code: string;
  errno: number | null;
  /** The call that failed ("sendmsg"), or "driver" for the driver's own refusal. */
  syscall: string;
  message: string;
}

/**
 * An in-process driver: the protocol's commands as async methods, for a library that lives in the
 * harness's own process (a Node library). Each method takes the command's fields and resolves with the
 * answer's, or rejects with an error carrying {code, errno, syscall} the way Node's system errors do
 * (errno may be negative, as libuv reports it). A method left out answers ENOTSUP, so an adapter
 * implements only what its library can do, and says so in `hello`.
 */
export interface DriverAdapter {
  hello(): Promise<Omit<HelloAnswer, 'protocol'> & { protocol?: string }>;
  listen?(fields: ListenFields): Promise<{ sock: string }>;
  bind?(fields: BindFields): Promise<{ sock: string }>;
  accept?(fields: { sock: string }): Promise<{ conn: string }>;
  connect?(fields: ConnectFields): Promise<{ conn: string }>;
  send?(fields: SendFields): Promise<{ sent: number }>;
  sendto?(fields: SendtoFields): Promise<{ sent: number }>;
  recv?(fields: RecvFields): Promise<RecvAnswer>;
  recvfrom?(fields: RecvFields): Promise<RecvfromAnswer>;
  getsockname?(fields: { name: string }): Promise<AddressAnswer>;
  getpeername?(fields: { name: string }): Promise<AddressAnswer>;
  setsockopt?(fields: { name: string; option: SocketOption; value: number }): Promise<void>;
  getsockopt?(fields: { name: string; option: SocketOption }): Promise<{ value: number }>;
  peercred?(fields: { name: string }): Promise<Ucred>;
  /**
   * setrlimit(2) of the driver's own process: the soft limit to `soft`, the hard limit kept; answers
   * the soft limit before. An adapter in the harness's process must leave it out (it would limit the
   * harness); a property that needs it says isolation: 'process'.
   */
  setrlimit?(fields: { resource: RlimitResource; soft: number }): Promise<{ previous: number }>;
  shutdown?(fields: { conn: string; how: 'read' | 'write' | 'both' }): Promise<void>;
  close?(fields: { name: string }): Promise<void>;
  mkfd?(fields: MkfdFields): Promise<{ fd: string; dev: number; ino: number }>;
  stat?(fields: { fd: string }): Promise<FdStat>;
  read?(fields: { fd: string; n: number }): Promise<{ data: Uint8Array; error: string | null }>;
  fds?(): Promise<{ open: OpenFd[] }>;
  open?(fields: { path: string }): Promise<void>;
  /** The real uid and gid, and (uds-driver/2) the pid: process.pid for an adapter. */
  whoami?(): Promise<{ uid: number; gid: number; pid?: number }>;
  /**
   * Back to the state after hello, so that the harness may run another case on this driver: every
   * name closed, setrlimit undone, the cwd moved to `dir` when given (docs/driver-protocol.md, reset).
   */
  reset?(fields: { dir?: string }): Promise<void>;
  /** Close everything the adapter holds; the in-process driver's `quit`. */
  quit?(fields: { status: number }): Promise<void>;
}

/** How a driver runs: a process of its own (JSON lines), or an adapter object in the harness's process. */
export type Transport = 'process' | 'in-process';

/** What a driver supports per socket type and address kind: `sockets`, or what a v1 answer implies. */
export function socketsOf(caps: Capabilities): SocketSupport[] {
  if (caps.sockets) return caps.sockets;
  const features: SocketFeature[] = caps.fds ? ['fds'] : [];
  return caps.types.flatMap((type) => caps.addresses.map((address) => ({ type, address, features: [...features] })));
}

/** The features a driver has on one socket type at one address kind; undefined when it has no such socket. */
export function featuresAt(caps: Capabilities, type: SocketType, address: AddressKind): SocketFeature[] | undefined {
  return socketsOf(caps).find((s) => s.type === type && s.address === address)?.features;
}
