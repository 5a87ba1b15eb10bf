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

export const DRIVER_PROTOCOL = 'uds-driver/1';

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
}

/** Every command of uds-driver/1, in the protocol table's order. */
export const DRIVER_COMMANDS = ['hello', 'listen', 'accept', 'connect', 'send', 'recv', 'shutdown', 'close', 'mkfd', 'stat', 'read', 'fds', 'open', 'whoami', 'quit'] as const;
export type DriverCommand = (typeof DRIVER_COMMANDS)[number];

/**
 * What a driver that answers `hello` without `capabilities` can do: everything uds-driver/1 asked of
 * every driver before capabilities were answered (stream sockets at pathnames, fd passing).
 */
export const V1_CAPABILITIES: Capabilities = { types: ['stream'], addresses: ['pathname'], fds: true, credentials: false, commands: [...DRIVER_COMMANDS] };

export interface HelloAnswer {
  protocol: string;
  implementation: string;
  capabilities: Capabilities;
}
export interface ListenFields {
  path: string;
  backlog?: number;
  type?: SocketType;
}
export interface ConnectFields {
  path: string;
  type?: SocketType;
}
export interface SendFields {
  conn: string;
  /** base64 on the wire; bytes in process. */
  data: Uint8Array;
  fds?: string[];
  flags?: string[];
  /** One sendmsg only; by default what it leaves is sent plainly until all is sent. */
  once?: boolean;
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
}
export interface RecvAnswer {
  data: Uint8Array;
  fds: string[];
  flags: string[];
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
  accept?(fields: { sock: string }): Promise<{ conn: string }>;
  connect?(fields: ConnectFields): Promise<{ conn: string }>;
  send?(fields: SendFields): Promise<{ sent: number }>;
  recv?(fields: RecvFields): Promise<RecvAnswer>;
  shutdown?(fields: { conn: string; how: 'read' | 'write' | 'both' }): Promise<void>;
  close?(fields: { name: string }): Promise<void>;
  mkfd?(fields: MkfdFields): Promise<{ fd: string; dev: number; ino: number }>;
  stat?(fields: { fd: string }): Promise<FdStat>;
  read?(fields: { fd: string; n: number }): Promise<{ data: Uint8Array; error: string | null }>;
  fds?(): Promise<{ open: OpenFd[] }>;
  open?(fields: { path: string }): Promise<void>;
  whoami?(): Promise<{ uid: number; gid: number }>;
  /** Close everything the adapter holds; the in-process driver's `quit`. */
  quit?(fields: { status: number }): Promise<void>;
}

/** How a driver runs: a process of its own (JSON lines), or an adapter object in the harness's process. */
export type Transport = 'process' | 'in-process';
