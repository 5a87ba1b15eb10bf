/**
 * uds_native: Unix domain socket calls that node:net lacks, as a typed API over the Node-API addon
 * (native/src/*.cc, built by node-gyp during `npm install`).
 *
 * - Every fd is a plain number owned by the caller: close it with {@link close} (not fs.close), so
 *   that pending waits on it are cancelled before the number can be reused.
 * - Sockets made here are SOCK_NONBLOCK | SOCK_CLOEXEC. The synchronous calls never block: when not
 *   ready they throw EAGAIN (connect: EAGAIN when the listener's backlog is full). The `*Async`
 *   variants (native/async.ts, re-exported here) wait for readiness with libuv polling and retry.
 * - Failures throw an Error with `code` (errno name, e.g. 'EBADF'), `errno` (the positive errno
 *   number, as in os.constants.errno), `syscall` and a message like `sendmsg: Bad file descriptor`.
 *   Bad argument types throw TypeError.
 */
import { constants as fsConstants } from 'node:fs';
import { binding, resolveAddon, type RawSocketOption } from './binding.js';

export { ADDON_PATH } from './binding.js';
export * from './errors.js';
export * from './messages.js';
export * from './async.js';

export type SocketType = 'stream' | 'seqpacket' | 'dgram';
/** A socket address: a path (at most 107 bytes), or an abstract name starting with a NUL byte. */
export type SocketPath = string | Uint8Array;
export type FileKind = 'file' | 'dir' | 'pipe' | 'socket' | 'chr' | 'blk' | 'link' | 'unknown';
export type ShutdownHow = 'read' | 'write' | 'both';
export type Whence = 'set' | 'cur' | 'end';

/** Options for fds created here; both default to true. */
export interface CreateOptions {
  nonblock?: boolean;
  cloexec?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Sockets

/** socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC). */
export function socket(type: SocketType = 'stream'): number {
  return binding().socket(type);
}

/** socketpair(AF_UNIX, type): [fd0, fd1], non-blocking and close-on-exec unless told otherwise. */
export function socketpair(type: SocketType = 'stream', options: CreateOptions = {}): [number, number] {
  return binding().socketpair(type, options.nonblock ?? true, options.cloexec ?? true);
}

/**
 * bind(2) with the exact address length (offsetof(sun_path) + len + 1). A path longer than 107
 * bytes throws ENAMETOOLONG: it is never truncated. A name starting with "\0" is abstract, its
 * length offsetof(sun_path) + len (the length is part of the name). Without a path: autobind
 * (addrlen = sizeof(sa_family_t); unix(7) gives the socket a 5-hex-digit abstract name).
 */
export function bind(fd: number, path?: SocketPath): void {
  binding().bind(fd, path);
}

export function listen(fd: number, backlog = 16): void {
  binding().listen(fd, backlog);
}

/** accept4(fd, SOCK_NONBLOCK | SOCK_CLOEXEC); throws EAGAIN when no connection is pending. */
export function accept(fd: number): number {
  return binding().accept(fd);
}

/** connect(2) with the exact address length; EAGAIN when the listener's backlog is full. */
export function connect(fd: number, path: SocketPath): void {
  binding().connect(fd, path);
}

const SHUT: Record<ShutdownHow, number> = { read: 0, write: 1, both: 2 };

export function shutdown(fd: number, how: ShutdownHow): void {
  const value = SHUT[how];
  if (value === undefined) throw new TypeError("how must be 'read', 'write' or 'both'");
  binding().shutdown(fd, value);
}

export interface PeerCred {
  pid: number;
  /** -1 when the kernel has no credentials to give (a socket that is neither connected nor listening). */
  uid: number;
  gid: number;
}

/** SO_PEERCRED: the peer's pid, uid and gid (for a listener, its own). */
export function getPeerCred(fd: number): PeerCred {
  return binding().getPeerCred(fd);
}

/** SO_ERROR: the socket's pending error number (0: none); reading it clears it. */
export function getSocketError(fd: number): number {
  return binding().getSocketError(fd);
}

/** An address the kernel reported (getsockname, getpeername, recvmsg's sender). */
export interface SockAddr {
  /** The socklen_t the kernel returned: 2 for an unnamed socket. */
  length: number;
  /** sun_path's first (length - 2) bytes, exactly (a leading NUL: abstract). */
  bytes: Buffer;
}

/** getsockname(2): the socket's own address, bytes and length exactly as the kernel gave them. */
export function getsockname(fd: number): SockAddr {
  return binding().getsockname(fd);
}

/** getpeername(2): the peer's address (ENOTCONN when not connected). */
export function getpeername(fd: number): SockAddr {
  return binding().getpeername(fd);
}

/** The int socket options at SOL_SOCKET this module sets and reads. */
export type SocketOption = RawSocketOption;

/** setsockopt(fd, SOL_SOCKET, option, &value, sizeof(int)). */
export function setsockopt(fd: number, option: SocketOption, value: number): void {
  binding().setsockopt(fd, option, value);
}

/** getsockopt(fd, SOL_SOCKET, option): the int the kernel holds (SO_SNDBUF: doubled, clamped). */
export function getsockopt(fd: number, option: SocketOption): number {
  return binding().getsockopt(fd, option);
}

// ---------------------------------------------------------------------------------------------
// Files and fds

export function close(fd: number): void {
  binding().close(fd);
}

export interface FileStat {
  dev: number;
  ino: number;
  mode: number;
  kind: FileKind;
  size: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
}

/** fstat(2), with `kind` named from st_mode (a memfd is a 'file'). */
export function fstat(fd: number): FileStat {
  return binding().fstat(fd) as FileStat;
}

/** FD_CLOEXEC from fcntl(F_GETFD). */
export function getCloexec(fd: number): boolean {
  return binding().getCloexec(fd);
}

export function setCloexec(fd: number, on = true): void {
  binding().setCloexec(fd, on);
}

export interface FdFlags {
  accmode: 'O_RDONLY' | 'O_WRONLY' | 'O_RDWR' | 'O_PATH';
  nonblock: boolean;
  append: boolean;
  /** F_GETFL as returned. */
  raw: number;
}

/** fcntl(F_GETFL): the access mode and status flags of the open file description. */
export function getFlags(fd: number): FdFlags {
  return binding().getFlags(fd) as FdFlags;
}

/** Sets or clears O_NONBLOCK (on the open file description: every dup and passed copy sees it). */
export function setNonblock(fd: number, on = true): void {
  binding().setNonblock(fd, on);
}

const WHENCE: Record<Whence, number> = { set: 0, cur: 1, end: 2 };

/** lseek(2); ESPIPE for pipes and sockets. @returns the new offset. */
export function lseek(fd: number, offset: number, whence: Whence | number = 'set'): number {
  return binding().lseek(fd, offset, typeof whence === 'number' ? whence : WHENCE[whence]);
}

/** One read(2) of at most n bytes; empty at EOF. EAGAIN on an empty non-blocking pipe or socket. */
export function read(fd: number, n: number): Buffer {
  return binding().read(fd, n);
}

/** One write(2); may be short. @returns the count written. */
export function write(fd: number, data: Uint8Array): number {
  return binding().write(fd, data);
}

/** pipe2(2): [readFd, writeFd], non-blocking and close-on-exec unless told otherwise. */
export function pipe(options: CreateOptions = {}): [number, number] {
  return binding().pipe(options.nonblock ?? true, options.cloexec ?? true);
}

/** memfd_create(2), with MFD_CLOEXEC unless cloexec is false. */
export function memfdCreate(name: string, options: { cloexec?: boolean } = {}): number {
  return binding().memfdCreate(name, options.cloexec ?? true);
}

export interface OpenOptions {
  /** Creation mode (default 0o600). */
  mode?: number;
  /** Adds O_CLOEXEC (default true). */
  cloexec?: boolean;
}

/** open(2) with fs.constants flags (default O_RDONLY). */
export function open(path: string, flags: number = fsConstants.O_RDONLY, options: OpenOptions = {}): number {
  const cloexec = options.cloexec ?? true;
  return binding().open(path, flags | (cloexec ? O_CLOEXEC : 0), options.mode ?? 0o600);
}

/** open(path, O_RDONLY | O_DIRECTORY), close-on-exec unless told otherwise. */
export function openDir(path: string, options: { cloexec?: boolean } = {}): number {
  return open(path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY, options);
}

/** O_CLOEXEC on Linux (fs.constants does not export it). */
export const O_CLOEXEC = 0o2000000;

/** Every open fd of this process (/proc/self/fd), sorted, without the one used to list it. */
export function listOpenFds(): number[] {
  return binding().listOpenFds();
}

/**
 * setrlimit(RLIMIT_NOFILE) of this whole process: the soft limit to soft, the hard one kept (above
 * it: EINVAL). The soft limit before (RLIM_INFINITY as -1). Only for a process of its own (a served
 * driver), never the harness's.
 */
export function setNofileSoft(soft: number): number {
  return binding().setNofileSoft(soft);
}

/** How many fds have a libuv poll handle right now (0 when nothing is waiting). */
export function activePolls(): number {
  return binding().activePolls();
}

// ---------------------------------------------------------------------------------------------
// sock_diag

/** sock_diag's state of a listening socket (unix_diag uses the TCP state numbers: TCP_LISTEN). */
const TCP_LISTEN = 10;

/**
 * How many connections are queued on the listening AF_UNIX socket with this inode (made by
 * connect(2), not yet accepted), asked of the kernel by sock_diag: one exact lookup by inode with
 * UDIAG_SHOW_RQLEN, whose udiag_rqueue is a listener's queue length (sock_diag(7)). No process, no
 * table to search: the inode names one socket, where /proc/net/unix names an embryo only by its path.
 * Undefined when no AF_UNIX socket has that inode (in this network namespace) or it is not listening.
 * Throws (code the errno name, syscall 'sock_diag') when the kernel cannot be asked: no unix_diag,
 * netlink refused; and the addon's error when it does not load.
 */
export function unixListenerQueue(inode: number): number | undefined {
  const answer = binding().unixDiag(inode);
  return answer !== null && answer.state === TCP_LISTEN ? answer.rqueue : undefined;
}

/**
 * Whether {@link unixListenerQueue} can be called here: an addon is found, loads, and has it (a build
 * older than native/src/diag.cc does not). Never throws; the kernel's side is known only by asking.
 */
export function unixDiagAvailable(): boolean {
  if (resolveAddon() === null) return false;
  try {
    return typeof (binding() as Partial<ReturnType<typeof binding>>).unixDiag === 'function';
  } catch {
    return false;
  }
}
