/**
 * suite/harness/peers.ts asks the kernel whether a connection is queued on a listener: sock_diag by
 * inode through the addon first, /proc/net/unix and `ss` only without it. The case these tests are
 * for: two listeners with the same relative name in two dirs, which /proc/net/unix cannot tell apart
 * (an embryo carries only the path string), on a machine without ss (node:20-slim has no iproute2),
 * where the harness once answered "could not be examined" and failed a working pairing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { bind, close, connect, fstat, listen, socket } from '../native/index.js';
import { connectionQueued, connectionQueuedByDiag, connectionQueuedBySs, isConnectionQueued, waitForConnection } from '../suite/harness/peers.js';
import { leftoversOf } from './support/leftovers.js';

afterAll(() => {
  expect(leftoversOf(process.pid)).toEqual({ dirs: [], sockets: [], processes: [] });
});

let fds: number[] = [];
let dirs: string[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  for (const fd of fds.splice(0)) close(fd);
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const tempDir = async (): Promise<string> => {
  const dir = await mkdtemp(join(os.tmpdir(), `udsc-${process.pid}-peers-`));
  dirs.push(dir);
  return dir;
};

/** A stream socket listening at the relative name `name`, bound from `dir` (as a server run there does). */
function listenerIn(dir: string, name: string): { fd: number; inode: number } {
  const fd = socket('stream');
  fds.push(fd);
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    bind(fd, name);
  } finally {
    process.chdir(cwd);
  }
  listen(fd, 4);
  return { fd, inode: fstat(fd).ino };
}

/** Two listeners named "l" in two dirs, and a connection queued on the first only (nobody accepts). */
async function namesakes(): Promise<{ queued: number; idle: number }> {
  const [a, b] = [await tempDir(), await tempDir()];
  const queued = listenerIn(a, 'l');
  const idle = listenerIn(b, 'l');
  const client = socket('stream');
  fds.push(client);
  connect(client, join(a, 'l'));
  return { queued: queued.inode, idle: idle.inode };
}

const noSs = (dir: string): void => {
  vi.stubEnv('PATH', join(dir, 'no-such-dir'));
};

describe('a connection queued on one of two listeners with the same path string', () => {
  it('is told apart by sock_diag with no ss on PATH, where /proc/net/unix and ss cannot', async () => {
    const { queued, idle } = await namesakes();
    noSs(dirs[0]!);
    // What the harness had before: the table names both listeners "l", and ss is not there.
    expect(connectionQueued(queued)).toBeUndefined();
    expect(connectionQueued(idle)).toBeUndefined();
    expect(await connectionQueuedBySs(queued)).toBeUndefined();
    expect(await isConnectionQueued(queued, undefined, () => null)).toBeUndefined();
    // The kernel, by inode.
    expect(connectionQueuedByDiag(queued)).toBe(true);
    expect(connectionQueuedByDiag(idle)).toBe(false);
    expect(await isConnectionQueued(queued)).toBe(true);
    expect(await isConnectionQueued(idle)).toBe(false);
  });

  it('waitForConnection, with the client gone and no ss on PATH: connected on the one, never on the other', async () => {
    const { queued, idle } = await namesakes();
    noSs(dirs[0]!);
    const signal = new AbortController().signal;
    const clientExited = Promise.resolve();
    expect(await waitForConnection({ inode: queued, clientExited, signal })).toEqual({ connected: true, how: `a connection was queued on the server's listening socket (inode ${queued})` });
    expect(await waitForConnection({ inode: idle, clientExited, signal })).toEqual({ connected: false, how: `no connection was ever queued on the server's listening socket (inode ${idle})` });
  });

  it('without the addon, ss settles it (the fallback kept)', async () => {
    const { queued, idle } = await namesakes();
    expect(await isConnectionQueued(queued, undefined, () => null)).toBe(true);
    expect(await isConnectionQueued(idle, undefined, () => null)).toBe(false);
  });
});

describe('a listener that is gone', () => {
  it('is undefined to every way of asking, and waitForConnection says it could not be examined', async () => {
    const dir = await tempDir();
    const { fd, inode } = listenerIn(dir, 'l');
    close(fd);
    fds = fds.filter((f) => f !== fd);
    expect(connectionQueuedByDiag(inode)).toBeUndefined();
    expect(await isConnectionQueued(inode)).toBeUndefined();
    expect(await isConnectionQueued(inode, undefined, () => null)).toBeUndefined();
    const answer = await waitForConnection({ inode, clientExited: Promise.resolve(), signal: new AbortController().signal });
    expect(answer).toEqual({ connected: false, how: `the server's listening socket (inode ${inode}) could not be examined` });
  });
});
