/**
 * Did the client really connect to the server? The harness finds out from the kernel, not from what
 * the client prints (a client can print the payload without ever connecting).
 *
 * How, and why this way. A connection to a listening unix stream socket exists, before accept(2), as an
 * "embryo": a socket the kernel makes in connect(2) and queues on the listener. /proc/net/unix lists it
 * with the listener's path, inode 0 (no file yet) and not listening; `ss -xae` (sock_diag,
 * UNIX_DIAG_ICONS) lists the connecting sockets' inodes as the listener's `peers:`. Once the server has
 * accepted, written and closed, nothing of the connection is left to see, and a seed session lasts
 * microseconds. So the harness holds the server still: it stops the server's process tree (SIGSTOP)
 * once it is listening and before the client starts, waits until a connection is queued on that
 * listener (or the client has exited), then lets the server go on (SIGCONT). While the server is
 * stopped nobody accepts, so a queued connection stays visible even if the client has already exited;
 * and nobody but the client can have made it, since only the client is told the path, in the case's
 * private dir. A stopped process does not notice (a blocked accept(2) resumes where it was).
 *
 * Asking, by the listener's inode. The kernel's sock_diag answers for exactly one socket: the addon's
 * unixListenerQueue (native/src/diag.cc, an exact unix_diag lookup with UDIAG_SHOW_RQLEN) gives the
 * listener's queue length, with no process and no table to search. Without the addon (not built, does
 * not load, or the kernel refuses the query), /proc/net/unix: an embryo carries only the path string,
 * so it is matched to this listener by that string; when another listener has the same string
 * (concurrent cases binding the same relative name in other dirs), one `ss -xae` run (iproute2, the
 * same sock_diag) gives this listener's Recv-Q. A machine with neither the addon nor ss (a slim image)
 * cannot settle that case.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { unixDiagAvailable, unixListenerQueue } from '../../native/index.js';
import { processTree } from './proctree.js';
import { readUnixTable, type UnixSocketEntry } from './readiness.js';

export { processTree };

function signalAll(pids: number[], group: number, signal: NodeJS.Signals): void {
  // The group first (a wrapper's children are in it), then each pid of the tree (one that made a group
  // of its own is still in the tree).
  for (const target of [-group, ...pids]) {
    try {
      process.kill(target, signal);
    } catch {
      // gone
    }
  }
}

const haltedStates = new Set(['T', 't', 'Z', 'X']);

/**
 * Whether every thread of pid is stopped (or pid is gone). /proc/<pid>/stat gives the leader's state
 * and the thread count (fields 3 and 20, stat(5)): a process of one thread is settled by that one read;
 * only one with more threads has each /proc/<pid>/task/<tid>/stat read.
 */
function stopped(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return true; // gone
  }
  // The fields after the command name (field 2, in parentheses, which may hold both): field 3 first.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 18);
  if (fields[17] === '1') return haltedStates.has(fields[0] ?? '');
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return true; // gone
  }
  return tids.every((tid) => {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      return haltedStates.has(text.charAt(text.lastIndexOf(')') + 2));
    } catch {
      return true;
    }
  });
}

export interface HeldTree {
  /** Lets the tree run again (idempotent). */
  release: () => void;
}

/**
 * Stops pid's process tree and waits until every thread of it is stopped (or gone): kill(2) returns
 * before a thread running, or waiting for a core on a loaded machine, has stopped, and one that has
 * not could still accept. The wait ends at the latest at the case deadline (signal).
 */
export async function holdTree(pid: number, signal: AbortSignal): Promise<HeldTree> {
  const first = processTree(pid);
  signalAll(first, pid, 'SIGSTOP');
  // A child forked just before the stop: walk again and stop the group and what is new in the tree.
  const pids = processTree(pid);
  const signalled = new Set(first);
  signalAll(pids.filter((p) => !signalled.has(p)), pid, 'SIGSTOP');
  // Each pid is looked at until it is stopped, not again after.
  let running = pids;
  for (let turn = 0; !signal.aborted && (running = running.filter((p) => !stopped(p))).length > 0; turn++) {
    // Not a delay: the next look at the threads' states, soon (no event announces a stop).
    await new Promise<void>((r) => (turn < 100 ? setImmediate(r) : setTimeout(r, 1)));
  }
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      // The tree as it is now and as it was held, each pid once.
      signalAll([...new Set([...processTree(pid), ...pids])], pid, 'SIGCONT');
    },
  };
}

export type ConnectionEvidence =
  /** A connection was queued on the listener (told by sock_diag, /proc/net/unix or ss). */
  | { connected: true; how: string }
  | { connected: false; how: string };

/** Whether the addon can ask sock_diag, looked up once per process: a missing or broken addon stays so. */
let diagUsable: boolean | undefined;

/**
 * Whether a connection is queued on the listening socket `inode`, asked of the kernel's sock_diag
 * through the addon: exact, whichever other listener has the same path string. Undefined when no
 * listening socket has that inode (it is gone); null when the addon cannot ask (not built, does not
 * load, or the kernel refused this query), for /proc/net/unix and ss to settle.
 */
export function connectionQueuedByDiag(inode: number): boolean | null | undefined {
  diagUsable ??= unixDiagAvailable();
  if (!diagUsable) return null;
  try {
    const queue = unixListenerQueue(inode);
    return queue === undefined ? undefined : queue > 0;
  } catch {
    // Not remembered: a refusal may be passing (EMFILE); the next question asks again.
    return null;
  }
}

/**
 * The question waitForConnection asks: sock_diag through the addon, else /proc/net/unix, and ss when
 * the table cannot tell. Undefined when none of them can. `byDiag` is the first way (a parameter so
 * that a test can take it away on a machine that has the addon).
 */
export async function isConnectionQueued(
  inode: number,
  signal?: AbortSignal,
  byDiag: (inode: number) => boolean | null | undefined = connectionQueuedByDiag,
): Promise<boolean | undefined> {
  const exact = byDiag(inode);
  if (exact !== null) return exact;
  return connectionQueued(inode) ?? (await connectionQueuedBySs(inode, signal));
}

/**
 * Whether a connection is queued on the listening socket `inode`, from /proc/net/unix: an embryo with
 * the listener's path. Undefined when the table cannot tell (the listener is gone, or another listener
 * has the same path string), for connectionQueuedBySs to settle.
 */
export function connectionQueued(inode: number, table: UnixSocketEntry[] = readUnixTable()): boolean | undefined {
  const listener = table.find((e) => e.inode === inode && e.listening);
  if (!listener) return undefined;
  const namesakes = table.filter((e) => e.listening && e.path === listener.path);
  if (namesakes.length !== 1) return undefined;
  return table.some((e) => e.inode === 0 && !e.listening && e.type === listener.type && e.path === listener.path);
}

/**
 * The same question asked of the kernel's sock_diag through `ss -xae`, for when the addon cannot ask:
 * the listener's line has its queue length as Recv-Q and the connecting sockets' inodes after
 * `peers:`. Undefined when ss is not there or the listener is not listed.
 */
export function connectionQueuedBySs(inode: number, signal?: AbortSignal): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    // Not execFile's `signal` option: aborting a child whose spawn failed (no ss on PATH) before its
    // 'error' event makes Node call kill(0, SIGTERM), which signals the harness's own process group
    // (its caller's shell included). Only a child that really started is killed.
    const child = execFile('ss', ['-xaeH'], { timeout: 5000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      signal?.removeEventListener('abort', onAbort);
      if (err) return resolve(undefined);
      resolve(parseSsQueue(stdout, inode));
    });
    const onAbort = (): void => {
      if (child.pid !== undefined) child.kill();
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** From `ss -xaeH` output: whether listener `inode` has a connection queued (undefined: not listed). */
export function parseSsQueue(text: string, inode: number): boolean | undefined {
  for (const line of text.split('\n')) {
    // Netid State Recv-Q Send-Q Local-Address Local-Inode Peer-Address Peer-Inode ...; the local address
    // may hold spaces, so the inode is found as the field before the peer's "* 0".
    const m = /^\S+\s+LISTEN\s+(\d+)\s+\d+\s+.*?\s(\d+)\s+\*\s+0\b/.exec(line);
    if (!m || Number(m[2]) !== inode) continue;
    return Number(m[1]) > 0;
  }
  return undefined;
}

/**
 * Whether pid's process tree holds an accepted connection of the listener at `listenerPath`: a stream
 * socket with the listener's path that is not listening and has an inode (accept(2) gave it a file).
 */
export function holdsAcceptedSocket(ownedInodes: Set<number>, listenerPath: string, type: number, table: UnixSocketEntry[] = readUnixTable()): boolean {
  return table.some((e) => e.inode !== 0 && !e.listening && e.type === type && e.path === listenerPath && ownedInodes.has(e.inode));
}

/** The listening socket's table entry (its path string as the kernel shows it, and its type). */
export function listenerOf(inode: number, table: UnixSocketEntry[] = readUnixTable()): UnixSocketEntry | undefined {
  return table.find((e) => e.inode === inode && e.listening);
}

/**
 * waitForConnection's schedule. A client's launch, exec and connect(2) take 1 to 3 ms here: the
 * question is asked on the next CONNECT_SPIN_TURNS turns of the event loop (well under a millisecond
 * on an idle loop, enough for a client that was quick), then every millisecond until CONNECT_STEADY_MS
 * have passed (once, the wait went on to 2 and 4 ms timers there and saw the connection about 3 ms a
 * case late; spinning every turn that long cost the single-threaded harness a core), then on a
 * backing-off schedule at most 10 ms apart, for a client that is slow to start.
 */
export const CONNECT_SPIN_TURNS = 50;
export const CONNECT_STEADY_MS = 20;

export interface WaitConnectionOptions {
  /** The listening socket's inode (from readiness). */
  inode: number;
  /** Resolves when the client has exited. */
  clientExited: Promise<unknown>;
  signal: AbortSignal;
}

/**
 * Waits, with the server held, until a connection is queued on the listener or the client has exited
 * (then the queue says whether it connected before it left). No event announces a connect(2), so the
 * question (isConnectionQueued, one sock_diag lookup of about 10 us) is asked again on the schedule
 * above; the client's exit and the case deadline end the wait at once.
 */
export function waitForConnection(options: WaitConnectionOptions): Promise<ConnectionEvidence> {
  return new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const steadyUntil = performance.now() + CONNECT_STEADY_MS;
    let spins = 0;
    let backoff = 1;
    const finish = (e: ConnectionEvidence): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      resolve(e);
    };
    const onAbort = (): void => finish({ connected: false, how: 'the case deadline passed before a connection was queued on the server' });
    const ask = async (final: boolean): Promise<void> => {
      const queued = await isConnectionQueued(options.inode, options.signal);
      if (settled) return;
      if (queued) finish({ connected: true, how: `a connection was queued on the server's listening socket (inode ${options.inode})` });
      else if (final) finish({ connected: false, how: queued === false ? `no connection was ever queued on the server's listening socket (inode ${options.inode})` : `the server's listening socket (inode ${options.inode}) could not be examined` });
      else schedule();
    };
    const schedule = (): void => {
      if (spins++ < CONNECT_SPIN_TURNS) {
        setImmediate(() => void (settled || ask(false)));
        return;
      }
      backoff = performance.now() < steadyUntil ? 1 : Math.min(backoff * 2, 10);
      timer = setTimeout(() => void (settled || ask(false)), backoff);
    };
    options.signal.addEventListener('abort', onAbort, { once: true });
    if (options.signal.aborted) return onAbort();
    void options.clientExited.then(() => {
      if (timer) clearTimeout(timer);
      void ask(true);
    });
    void ask(false);
  });
}

/** CPU time (clock ticks, user + system) used so far by pid's process tree: unchanged means idle. */
export function cpuTicks(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14 and 15 of stat(5), utime and stime; the slice starts at field 3.
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks;
}
