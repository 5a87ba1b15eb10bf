/**
 * The waiting variants of the socket calls. None of them blocks the event loop or a thread: each
 * tries the non-blocking call and, when it is not ready (EAGAIN), waits for the fd with libuv
 * polling (a uv_poll_t on Node's own loop, native/src/poll.cc) and tries again.
 *
 * - One poll handle per fd, shared by all waits on it, closed when the last wait ends: an idle fd
 *   keeps nothing alive, a pending wait keeps the process alive (like a listening net.Server).
 * - A wait ends with an ECANCELED error (code 'ECANCELED', syscall of the operation) when its
 *   AbortSignal fires or when the fd is closed with close() from this module.
 * - A regular file or directory cannot be polled and counts as always ready.
 * - connect on a non-blocking AF_UNIX socket never reports EINPROGRESS; it fails with EAGAIN while
 *   the listener's backlog is full, and there is no readiness event for "backlog has room". So
 *   connectAsync retries after a short timer (1 ms, doubling up to 50 ms); EINPROGRESS (other
 *   kernels) waits for writability and reads SO_ERROR.
 */
import { constants } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { binding } from './binding.js';
import { errnoError, isNativeError } from './errors.js';
import { recvmsg, type Credentials, type RecvmsgOptions, type RecvmsgResult } from './messages.js';
import type { SocketPath } from './index.js';

/** What a wait is for: readable (1), writable (2) or either (3), as libuv's UV_READABLE/UV_WRITABLE. */
export const READABLE = 1;
export const WRITABLE = 2;

export interface AsyncOptions {
  /** Cancels the wait: the promise rejects with ECANCELED. */
  signal?: AbortSignal;
}

const ECANCELED = constants.errno.ECANCELED;

function cancelled(syscall: string): Error {
  return errnoError(syscall, ECANCELED);
}

/**
 * Resolves when fd is ready for `events` (READABLE, WRITABLE or both); a hang-up or error counts as
 * readable. `syscall` names the operation in errors. Rejects with ECANCELED on abort or close().
 */
export function waitFor(fd: number, events: number, syscall = 'poll', signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(cancelled(syscall));
  const b = binding();
  const { id, promise } = b.wait(fd, events, syscall);
  if (!signal) return promise;
  const onAbort = (): void => void b.cancelWait(fd, id);
  signal.addEventListener('abort', onAbort, { once: true });
  return promise.finally(() => signal.removeEventListener('abort', onAbort));
}

/** Resolves when fd has data, a connection to accept, or a hang-up. */
export function waitReadable(fd: number, options: AsyncOptions = {}): Promise<void> {
  return waitFor(fd, READABLE, 'poll', options.signal);
}

/** Resolves when fd can be written. */
export function waitWritable(fd: number, options: AsyncOptions = {}): Promise<void> {
  return waitFor(fd, WRITABLE, 'poll', options.signal);
}

/** Runs op until it does not throw EAGAIN, waiting for `events` in between. */
async function retry<T>(fd: number, events: number, syscall: string, signal: AbortSignal | undefined, op: () => T): Promise<T> {
  for (;;) {
    if (signal?.aborted) throw cancelled(syscall);
    try {
      return op();
    } catch (err) {
      if (!isNativeError(err, 'EAGAIN')) throw err;
    }
    await waitFor(fd, events, syscall, signal);
  }
}

/** accept, waiting for a connection. @returns the accepted socket (non-blocking, close-on-exec). */
export function acceptAsync(fd: number, options: AsyncOptions = {}): Promise<number> {
  return retry(fd, READABLE, 'accept', options.signal, () => binding().accept(fd));
}

/** connect, waiting while the listener's backlog is full (see the module comment). */
export async function connectAsync(fd: number, path: SocketPath, options: AsyncOptions = {}): Promise<void> {
  const { signal } = options;
  const b = binding();
  for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
    if (signal?.aborted) throw cancelled('connect');
    try {
      b.connect(fd, path);
      return;
    } catch (err) {
      if (isNativeError(err, 'EINPROGRESS')) {
        await waitFor(fd, WRITABLE, 'connect', signal);
        const pending = b.getSocketError(fd);
        if (pending !== 0) throw errnoError('connect', pending);
        return;
      }
      if (!isNativeError(err, 'EAGAIN')) throw err;
    }
    try {
      await delay(pause, undefined, { signal });
    } catch {
      throw cancelled('connect');
    }
  }
}

/**
 * sendmsg until every byte is sent: the fds go with the first call that sends anything, the rest of
 * a short stream send follows without them (unix(7): ancillary data is sent with the first byte of a stream send). A zero-length send is made once.
 * @returns the number of bytes sent (data.length).
 */
export async function sendmsgAsync(
  fd: number,
  data: Uint8Array,
  fds: readonly number[] = [],
  options: AsyncOptions & { flags?: number; credentials?: Credentials } = {},
): Promise<number> {
  const b = binding();
  let sent = 0;
  let first = true;
  while (first || sent < data.length) {
    const withFds = first ? fds : [];
    // The credentials, like the fds, go with the first call only.
    const credentials = first ? (options.credentials ?? null) : null;
    const n = await retry(fd, WRITABLE, 'sendmsg', options.signal, () =>
      b.sendmsg(fd, data.subarray(sent), withFds, options.flags ?? 0, null, credentials),
    );
    sent += n;
    first = false;
  }
  return sent;
}

/** recvmsg, waiting until something (data, fds, EOF or an error) is there. */
export function recvmsgAsync(fd: number, options: RecvmsgOptions & AsyncOptions = {}): Promise<RecvmsgResult> {
  return retry(fd, READABLE, 'recvmsg', options.signal, () => recvmsg(fd, options));
}

/**
 * One read(2) of at most n bytes, waiting for readability first (so it never blocks, even on a
 * blocking pipe or socket received from another process); empty at EOF.
 */
export async function readAsync(fd: number, n: number, options: AsyncOptions = {}): Promise<Buffer> {
  const b = binding();
  for (;;) {
    await waitFor(fd, READABLE, 'read', options.signal);
    try {
      return b.read(fd, n);
    } catch (err) {
      if (!isNativeError(err, 'EAGAIN')) throw err;
    }
  }
}
