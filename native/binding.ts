/**
 * Loads the compiled addon and declares its raw shape. The typed API is native/index.ts; nothing else
 * should import this module.
 *
 * The addon is found by node-gyp-build from the package root: build/Release/uds_native.node when it
 * was built from source (`node-gyp rebuild`, run by scripts/install.mjs in a clone or where no
 * prebuild loads), else the package's prebuild for this platform
 * (prebuilds/linux-x64/uds-conformance.glibc.node, made by prebuildify in `prepack`).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root: the nearest directory up from this file with a package.json, skipping dist/. */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('/dist')) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('uds_native: cannot find the project root (package.json)');
    dir = parent;
  }
  return dir;
}

const ROOT = findRoot();
const require = createRequire(import.meta.url);

/** node-gyp-build (CommonJS, untyped): `resolve` names the file it would load, or throws. */
const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };

/** Where a build from source puts the addon. */
export const SOURCE_BUILD_PATH = join(ROOT, 'build', 'Release', 'uds_native.node');

/** The addon node-gyp-build picks from the package root now, or null when there is none. */
export function resolveAddon(): string | null {
  try {
    return nodeGypBuild.resolve(ROOT);
  } catch {
    return null;
  }
}

/**
 * The addon file a run loads: the one node-gyp-build finds at start-up, else where a build from
 * source would put it (so a "missing" message names the file `npm rebuild` makes).
 */
export const ADDON_PATH = resolveAddon() ?? SOURCE_BUILD_PATH;

export interface RawStat {
  dev: number;
  ino: number;
  mode: number;
  kind: string;
  size: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
}

export interface RawFlags {
  raw: number;
  accmode: string;
  nonblock: boolean;
  append: boolean;
}

/** An address the kernel wrote: its socklen_t, and sun_path's first (length - 2) bytes. */
export interface RawAddress {
  length: number;
  bytes: Buffer;
}

/** One control message, in the kernel's order. uid/gid (uid_t)-1 is -1. */
export type RawControl =
  | { type: 'SCM_RIGHTS'; fds: number[] }
  | { type: 'SCM_CREDENTIALS'; pid: number; uid: number; gid: number }
  | { type: 'other'; level: number; cmsgType: number; bytes: Buffer };

export interface RawRecv {
  data: Buffer;
  length: number;
  fds: number[];
  control: RawControl[];
  /** msg_name; null when the kernel wrote none (msg_namelen 0). */
  from: RawAddress | null;
  msgFlags: number;
}

export type RawSocketOption = 'SO_PASSCRED' | 'SO_SNDBUF' | 'SO_RCVBUF';

/** sock_diag's answer for one AF_UNIX socket (unix_diag_msg and UNIX_DIAG_RQLEN), numbers as the kernel gave them. */
export interface RawUnixDiag {
  /** SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_SEQPACKET 5. */
  type: number;
  /** TCP_LISTEN 10 for a listener, TCP_ESTABLISHED 1 for a connected socket, TCP_CLOSE 7 otherwise. */
  state: number;
  /** A listener: connections queued and not yet accepted. Any other socket: bytes not yet read. */
  rqueue: number;
  /** A listener: its backlog. Any other socket: bytes sent and not yet read by the peer. */
  wqueue: number;
}

/** The addon's exports, one to one with native/src/*.cc. Numbers in, numbers out. */
export interface RawBinding {
  strerror(errno: number): string;
  errnoName(errno: number): string;

  socket(type: string): number;
  socketpair(type: string, nonblock: boolean, cloexec: boolean): [number, number];
  /** No path (undefined or null): autobind. */
  bind(fd: number, path?: string | Uint8Array | null): void;
  listen(fd: number, backlog: number): void;
  accept(fd: number): number;
  connect(fd: number, path: string | Uint8Array): void;
  shutdown(fd: number, how: number): void;
  getPeerCred(fd: number): { pid: number; uid: number; gid: number };
  getSocketError(fd: number): number;
  getsockname(fd: number): RawAddress;
  getpeername(fd: number): RawAddress;
  setsockopt(fd: number, option: RawSocketOption, value: number): void;
  getsockopt(fd: number, option: RawSocketOption): number;

  sendmsg(
    fd: number,
    data: Uint8Array,
    fds: readonly number[],
    flags: number,
    to?: string | Uint8Array | null,
    credentials?: { pid: number; uid: number; gid: number } | null,
  ): number;
  recvmsg(fd: number, dataSize: number, controlFds: number, flags: number, credentials?: boolean): RawRecv;
  MSG: Record<
    | 'MSG_OOB'
    | 'MSG_PEEK'
    | 'MSG_TRUNC'
    | 'MSG_CTRUNC'
    | 'MSG_EOR'
    | 'MSG_WAITALL'
    | 'MSG_DONTWAIT'
    | 'MSG_NOSIGNAL'
    | 'MSG_MORE'
    | 'MSG_ERRQUEUE'
    | 'MSG_CMSG_CLOEXEC',
    number
  >;

  close(fd: number): void;
  fstat(fd: number): RawStat;
  getCloexec(fd: number): boolean;
  setCloexec(fd: number, on: boolean): void;
  getFlags(fd: number): RawFlags;
  setNonblock(fd: number, on: boolean): void;
  lseek(fd: number, offset: number, whence: number): number;
  read(fd: number, length: number): Buffer;
  write(fd: number, data: Uint8Array): number;
  pipe(nonblock: boolean, cloexec: boolean): [number, number];
  memfdCreate(name: string, cloexec: boolean): number;
  open(path: string, flags: number, mode: number): number;
  listOpenFds(): number[];
  setNofileSoft(soft: number): number;

  wait(fd: number, events: number, syscall: string): { id: number; promise: Promise<void> };
  cancelWait(fd: number, id: number): boolean;
  activePolls(): number;

  /** null: no AF_UNIX socket has this inode. Throws when the kernel cannot be asked (diag.cc). */
  unixDiag(inode: number): RawUnixDiag | null;
  /** The fd of the netlink socket unixDiag keeps open in this env, -1 before its first call (diag.cc). */
  unixDiagSocket(): number;
}

let cached: RawBinding | undefined;

/**
 * The addon, loaded on first use (so importing a module that depends on it costs nothing and a
 * missing build is reported where it matters, with the command that builds it).
 */
/** The addon if something has loaded it already, else undefined: a check that must not load it. */
export function loadedBinding(): RawBinding | undefined {
  return cached;
}

export function binding(): RawBinding {
  if (cached) return cached;
  const path = resolveAddon();
  if (path === null) {
    throw new Error(`uds_native: no addon for ${process.platform}-${process.arch} (no prebuild, and ${SOURCE_BUILD_PATH} is missing); build it with \`npm rebuild uds-conformance\` (in a clone: \`npx node-gyp rebuild\`)`);
  }
  cached = require(path) as RawBinding;
  return cached;
}
