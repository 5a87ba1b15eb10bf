/**
 * Loads the compiled addon (build/Release/uds_native.node, built by `node-gyp rebuild` during
 * `npm install`) and declares its raw shape. The typed API is native/index.ts; nothing else should
 * import this module.
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

export const ADDON_PATH = join(findRoot(), 'build', 'Release', 'uds_native.node');

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

export interface RawRecv {
  data: Buffer;
  length: number;
  fds: number[];
  msgFlags: number;
}

/** The addon's exports, one to one with native/src/*.cc. Numbers in, numbers out. */
export interface RawBinding {
  strerror(errno: number): string;
  errnoName(errno: number): string;

  socket(type: string): number;
  socketpair(type: string, nonblock: boolean, cloexec: boolean): [number, number];
  bind(fd: number, path: string | Uint8Array): void;
  listen(fd: number, backlog: number): void;
  accept(fd: number): number;
  connect(fd: number, path: string | Uint8Array): void;
  shutdown(fd: number, how: number): void;
  getPeerCred(fd: number): { pid: number; uid: number; gid: number };
  getSocketError(fd: number): number;

  sendmsg(fd: number, data: Uint8Array, fds: readonly number[], flags: number): number;
  recvmsg(fd: number, dataSize: number, controlFds: number, flags: number): RawRecv;
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

  wait(fd: number, events: number, syscall: string): { id: number; promise: Promise<void> };
  cancelWait(fd: number, id: number): boolean;
  activePolls(): number;
}

let cached: RawBinding | undefined;

/**
 * The addon, loaded on first use (so importing a module that depends on it costs nothing and a
 * missing build is reported where it matters, with the command that builds it).
 */
export function binding(): RawBinding {
  if (cached) return cached;
  if (!existsSync(ADDON_PATH)) {
    throw new Error(`uds_native: ${ADDON_PATH} is missing; build it with \`npm install\` (or \`npx node-gyp rebuild\`)`);
  }
  const require = createRequire(import.meta.url);
  cached = require(ADDON_PATH) as RawBinding;
  return cached;
}
