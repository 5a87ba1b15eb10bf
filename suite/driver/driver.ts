/**
 * What a property holds in its hand: one typed method per command of docs/driver-protocol.md, the
 * same whichever transport carries them (a process speaking JSON lines, or an in-process adapter).
 * Implemented once, by DriverClient (client.ts); started by startDriver (start.ts).
 */
import type { Capabilities, ControlMessage, DriverErrorInfo, FdStat, HelloAnswer, MkfdFields, OpenFd, RecvAnswer, RlimitResource, SocketOption, SocketType, Ucred } from './protocol.js';
import type { ProcessSummary } from '../model/types.js';

export interface ListenOptions {
  /** listen(2)'s backlog; the driver's default (16) when absent. */
  backlog?: number;
  /** The socket type; the driver's default (stream) when absent. */
  type?: SocketType;
}
export interface ConnectOptions {
  type?: SocketType;
  /** Connect this existing socket (from bind) instead of a new one. */
  sock?: string;
  /** Non-blocking for the connect(2) only: a full backlog is EAGAIN at once, not a wait. */
  nonblock?: boolean;
}

/**
 * Where a socket is: a pathname, or an abstract name (the exact bytes after the leading NUL; the
 * length is part of the name). A plain string is a pathname.
 */
export type Address = string | { path: string } | { abstract: Uint8Array };

/** An address as the kernel reported it (getsockname, getpeername, recvfrom), decoded. */
export interface SockName {
  /** The socklen_t the kernel returned. */
  length: number;
  /** sun_path's first (length - 2) bytes, exactly. */
  bytes: Buffer;
  kind: 'unnamed' | 'pathname' | 'abstract';
  /** The abstract name (bytes after the leading NUL), or the path's bytes up to its first NUL. */
  name: Buffer;
}
export interface SendOptions {
  /** Names of fds to pass (SCM_RIGHTS) with the first byte sent. */
  fds?: string[];
  flags?: string[];
  /** One sendmsg only; by default what it leaves is sent plainly until all is sent. */
  once?: boolean;
  /** SCM_CREDENTIALS to attach, first in msg_control. */
  credentials?: Ucred;
}
export interface RecvOptions {
  dataSize: number;
  /** Control buffer of exactly CMSG_LEN(controlFds * 4) bytes; 0 (default): no control buffer. */
  controlFds?: number;
  cloexec?: boolean;
  /** read(2) instead of recvmsg(2). */
  plain?: boolean;
  flags?: string[];
  /** Room for one SCM_CREDENTIALS before the fds' room. */
  credentials?: boolean;
}
export type MkfdOptions = MkfdFields;

export interface Driver {
  /** Names the driver in messages and evidence, e.g. "server c-reference". */
  readonly label: string;
  /** What hello claimed; V1_CAPABILITIES when the answer had none (or before hello). */
  readonly capabilities: Capabilities;
  /** Resolves when the driver has finished (never rejects). */
  readonly exited: Promise<ProcessSummary>;

  hello(): Promise<HelloAnswer>;
  /** A listening socket at address; its name. */
  listen(address: Address, options?: ListenOptions): Promise<string>;
  /** A socket bound at address (none: autobind), not listening; its name. */
  bind(address: Address | undefined, options?: { type?: SocketType }): Promise<string>;
  /** One accept(2); the connection's name. */
  accept(sock: string): Promise<string>;
  connect(address: Address, options?: ConnectOptions): Promise<string>;
  /** Sends data (and fds, with its first byte); the byte count sent. */
  send(conn: string, data: Uint8Array, options?: SendOptions): Promise<number>;
  /** One sendmsg to address (a datagram); the byte count sent. */
  sendto(sock: string, to: Address, data: Uint8Array, options?: Omit<SendOptions, 'once'>): Promise<number>;
  recv(conn: string, options: RecvOptions): Promise<RecvResult>;
  recvfrom(sock: string, options: RecvOptions): Promise<RecvResult & { from: SockName | null }>;
  getsockname(name: string): Promise<SockName>;
  getpeername(name: string): Promise<SockName>;
  setsockopt(name: string, option: SocketOption, value: number): Promise<void>;
  getsockopt(name: string, option: SocketOption): Promise<number>;
  /** SO_PEERCRED of a socket. */
  peercred(name: string): Promise<Ucred>;
  /** setrlimit(2) of the driver's process: the soft limit to soft, the hard one kept; the soft limit before. */
  setrlimit(resource: RlimitResource, soft: number): Promise<number>;
  shutdown(conn: string, how: 'read' | 'write' | 'both'): Promise<void>;
  close(name: string): Promise<void>;
  mkfd(options: MkfdOptions): Promise<{ fd: string; dev: number; ino: number }>;
  stat(fd: string): Promise<FdStat>;
  /** Reads up to n bytes through fd; a failed read(2) is `error` (its errno name), not a throw. */
  read(fd: string, n: number): Promise<{ data: Buffer; error: string | null }>;
  /** The driver's open fds (without the one that listed them), sorted. */
  fds(): Promise<OpenFd[]>;
  /** Tries open(path, O_RDONLY): null when it opened, else the errno name. */
  open(path: string): Promise<{ error: string | null }>;
  /** The driver's real uid and gid, and its pid when it tells it (uds-driver/2). */
  whoami(): Promise<{ uid: number; gid: number; pid?: number }>;
  /**
   * Puts the driver back to its state after hello (every name closed, setrlimit undone, the cwd
   * moved to dir), for another case; only where hello lists `reset` in commands (pool.ts). The
   * transcript starts again after it, so that a case's evidence is its own.
   */
  reset(options?: { dir?: string }): Promise<void>;
  /**
   * The deadline of the case now using the driver (a pooled one serves several): aborting it fails
   * every waiting and later command, as the signal it was started with does.
   */
  useDeadline(signal: AbortSignal): void;
  /** Asks the driver to close everything and finish with status; resolves with its summary. */
  quit(status?: number): Promise<ProcessSummary>;
  /**
   * Any command, by name, with its wire fields (bytes already base64): for tests of refusals. An
   * {ok:false} answer rejects with DriverError, as for the typed commands.
   */
  request(cmd: string, fields: Record<string, unknown>): Promise<Record<string, unknown>>;

  /** The last lines exchanged, `>` to the driver and `<` from it, long lines cut. */
  transcript(): string[];
  /** Ends the driver at once (its process group, or the adapter's quit); idempotent. */
  kill(): void;
  /** Kills the driver and waits for it: for cleanup paths. */
  stop(): Promise<ProcessSummary>;
}

/**
 * The answer of recv, with Buffer for bytes (RecvAnswer's Uint8Array is the adapter's side). `length`
 * and `control` are always filled: from a uds-driver/1 answer, the data's length and one SCM_RIGHTS
 * message holding `fds` (when there are any).
 */
export type RecvResult = Omit<RecvAnswer, 'data' | 'length' | 'control'> & { data: Buffer; length: number; control: ControlMessage[] };

/** Decodes an address the kernel reported: length 2 is unnamed, a leading NUL abstract, else a path up to its NUL. */
export function decodeSockName(length: number, bytes: Uint8Array): SockName {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (length <= 2 || b.length === 0) return { length, bytes: b, kind: 'unnamed', name: Buffer.alloc(0) };
  if (b[0] === 0) return { length, bytes: b, kind: 'abstract', name: b.subarray(1) };
  const nul = b.indexOf(0);
  return { length, bytes: b, kind: 'pathname', name: nul < 0 ? b : b.subarray(0, nul) };
}

/** An Address as a command's fields: {path} or {abstract} (base64 on the wire). */
export function addressFields(address: Address | undefined): { path?: string; abstract?: Uint8Array } {
  if (address === undefined) return {};
  if (typeof address === 'string') return { path: address };
  return 'path' in address ? { path: address.path } : { abstract: address.abstract };
}

/** A command the driver answered with {ok:false}: an honest failure, errno and all. */
export class DriverError extends Error {
  constructor(
    /** The command that failed ("send"). */
    readonly command: string,
    readonly info: DriverErrorInfo,
    /** Which driver ("server c-reference"). */
    readonly driver: string,
  ) {
    super(`the ${driver} driver's ${command} failed: ${info.syscall}: ${info.message} (${info.code})`);
    this.name = 'DriverError';
  }
  get code(): string {
    return this.info.code;
  }
  get errno(): number | null {
    return this.info.errno;
  }
  get syscall(): string {
    return this.info.syscall;
  }
}
