/**
 * What a property holds in its hand: one typed method per command of docs/driver-protocol.md, the
 * same whichever transport carries them (a process speaking JSON lines, or an in-process adapter).
 * Implemented once, by DriverClient (client.ts); started by startDriver (start.ts).
 */
import type { Capabilities, DriverErrorInfo, FdStat, HelloAnswer, MkfdFields, OpenFd, RecvAnswer, SocketType } from './protocol.js';
import type { ProcessSummary } from '../model/types.js';

export interface ListenOptions {
  /** listen(2)'s backlog; the driver's default (16) when absent. */
  backlog?: number;
  /** The socket type; the driver's default (stream) when absent. */
  type?: SocketType;
}
export interface ConnectOptions {
  type?: SocketType;
}
export interface SendOptions {
  /** Names of fds to pass (SCM_RIGHTS) with the first byte sent. */
  fds?: string[];
  flags?: string[];
  /** One sendmsg only; by default what it leaves is sent plainly until all is sent. */
  once?: boolean;
}
export interface RecvOptions {
  dataSize: number;
  /** Control buffer of exactly CMSG_LEN(controlFds * 4) bytes; 0 (default): no control buffer. */
  controlFds?: number;
  cloexec?: boolean;
  /** read(2) instead of recvmsg(2). */
  plain?: boolean;
  flags?: string[];
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
  /** A listening socket at path; its name. */
  listen(path: string, options?: ListenOptions): Promise<string>;
  /** One accept(2); the connection's name. */
  accept(sock: string): Promise<string>;
  connect(path: string, options?: ConnectOptions): Promise<string>;
  /** Sends data (and fds, with its first byte); the byte count sent. */
  send(conn: string, data: Uint8Array, options?: SendOptions): Promise<number>;
  recv(conn: string, options: RecvOptions): Promise<RecvResult>;
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
  whoami(): Promise<{ uid: number; gid: number }>;
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

/** The answer of recv, with Buffer for bytes (RecvAnswer's Uint8Array is the adapter's side). */
export type RecvResult = Omit<RecvAnswer, 'data'> & { data: Buffer };

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
