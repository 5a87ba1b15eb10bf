/**
 * Readiness: a server is ready when its socket is *listening*, not when the file exists. The file
 * appears at bind(2), before listen(2), and a client connecting in between gets ECONNREFUSED (seen
 * with the seed's server). A connect probe would use up the server's only accept(2), so the harness
 * reads the kernel's table instead: /proc/net/unix, flag __SO_ACCEPTCON (0x00010000).
 *
 * Entries are matched by path *and* by socket inode owned by the server's process tree, because
 * concurrent cases may bind the same relative name in different directories. A listening socket of the
 * server's tree at another path is reported at once (that is how a truncating bind shows up).
 */
import { readFileSync, readdirSync, readlinkSync, watch, type FSWatcher } from 'node:fs';
import type { SocketType } from '../model/types.js';
import { dirname, resolve } from 'node:path';

const SO_ACCEPTCON = 0x00010000;

export interface UnixSocketEntry {
  inode: number;
  listening: boolean;
  type: number;
  /** The bound path as raw bytes decoded latin1 (so any byte survives), '' when unbound. */
  path: string;
}

/** Parses /proc/net/unix. Paths may contain spaces, so the path is everything after the 7th field. */
export function readUnixTable(): UnixSocketEntry[] {
  const text = readFileSync('/proc/net/unix').toString('latin1');
  const entries: UnixSocketEntry[] = [];
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const m = /^\s*[0-9a-fA-F]+: [0-9a-fA-F]+ [0-9a-fA-F]+ ([0-9a-fA-F]+) ([0-9a-fA-F]+) [0-9a-fA-F]+ +(\d+)(?: (.*))?$/.exec(
      lines[i] ?? '',
    );
    if (!m) continue;
    entries.push({
      listening: (parseInt(m[1]!, 16) & SO_ACCEPTCON) !== 0,
      type: parseInt(m[2]!, 16),
      inode: Number(m[3]),
      path: m[4] ?? '',
    });
  }
  return entries;
}

/** The latin1 view of a path's UTF-8 bytes, comparable with UnixSocketEntry.path. */
export function pathKey(path: string): string {
  return Buffer.from(path, 'utf8').toString('latin1');
}

/** Socket inodes held open by pid and its descendants. */
export function socketInodesOf(pid: number): Set<number> {
  const inodes = new Set<number>();
  const stack = [pid];
  const seen = new Set<number>();
  while (stack.length > 0) {
    const p = stack.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    try {
      for (const fd of readdirSync(`/proc/${p}/fd`)) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${p}/fd/${fd}`));
          if (m) inodes.add(Number(m[1]));
        } catch {
          // fd closed while we looked
        }
      }
      for (const child of readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').split(' ')) {
        if (child.trim()) stack.push(Number(child));
      }
    } catch {
      // process gone
    }
  }
  return inodes;
}

export type ReadyOutcome =
  | { ready: true; inode: number; waitedMs: number }
  | { ready: false; reason: 'exited' | 'deadline' | 'wrong-path'; detail: string; waitedMs: number; boundPath?: string };

export interface WaitListeningOptions {
  /** The path exactly as the server was given it (relative paths stay relative). */
  path: string;
  /** The server's cwd, to watch the right directory for a relative path. */
  cwd: string;
  /** The server's pid: its tree must own the listening socket. */
  pid: number;
  /** Resolves when the server has exited. */
  exited: Promise<unknown>;
  signal: AbortSignal;
  /** The socket type the server was asked for (default stream). */
  type?: SocketType;
}

/** /proc/net/unix's Type column: SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_SEQPACKET 5. */
const TYPE_NUMBER: Record<SocketType, number> = { stream: 1, dgram: 2, seqpacket: 5 };

/**
 * When a server of this type is ready for a client: a connection-oriented socket once it listens
 * (between bind(2) and listen(2) a connect gets ECONNREFUSED); a datagram socket once it is bound.
 */
export function readyPredicate(type: SocketType = 'stream'): (e: UnixSocketEntry) => boolean {
  const number = TYPE_NUMBER[type];
  return type === 'dgram' ? (e) => e.type === number && e.path !== '' : (e) => e.listening && e.type === number;
}

/**
 * Waits for the server's socket to be listening. Driven by events: an inotify watch on the socket's
 * directory (bind creates the node), the server's exit and the case deadline. Between bind and listen
 * there is no event, so after a directory event the table is re-read on the next turns of the event
 * loop (microseconds apart). A bind outside the watched directory (a truncated path can land anywhere)
 * produces no event there, so the table is also re-read on a backing-off schedule, at most 25 ms apart.
 */
export function waitListening(options: WaitListeningOptions): Promise<ReadyOutcome> {
  const started = performance.now();
  const key = pathKey(options.path);
  const cwdKey = pathKey(options.cwd);
  const isReady = readyPredicate(options.type);
  return new Promise<ReadyOutcome>((resolvePromise) => {
    let settled = false;
    let watcher: FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    let immediate: NodeJS.Immediate | undefined;
    let spins = 0;
    let backoff = 1;
    const finish = (outcome: ReadyOutcome): void => {
      if (settled) return;
      settled = true;
      watcher?.close();
      if (timer) clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
      options.signal.removeEventListener('abort', onAbort);
      resolvePromise(outcome);
    };
    const waited = (): number => performance.now() - started;

    // Compare as the server sees paths: relative to its cwd ("./7" and "7" name the same file).
    const sameFile = (entryPath: string): boolean =>
      entryPath === key || (entryPath !== '' && resolve(cwdKey, entryPath) === resolve(cwdKey, key));
    const check = (): boolean => {
      const table = readUnixTable();
      const candidates = table.filter((e) => isReady(e) && sameFile(e.path));
      if (candidates.length === 0 && !table.some((e) => isReady(e) && e.path !== '')) return false;
      const owned = socketInodesOf(options.pid);
      const mine = candidates.find((e) => owned.has(e.inode));
      if (mine) {
        finish({ ready: true, inode: mine.inode, waitedMs: waited() });
        return true;
      }
      const elsewhere = table.find((e) => isReady(e) && owned.has(e.inode) && !sameFile(e.path));
      if (elsewhere) {
        const bound = Buffer.from(elsewhere.path, 'latin1').toString('utf8');
        finish({
          ready: false,
          reason: 'wrong-path',
          detail: `server is listening at ${JSON.stringify(bound)} instead of ${JSON.stringify(options.path)}`,
          waitedMs: waited(),
          boundPath: bound,
        });
        return true;
      }
      return false;
    };

    const spin = (): void => {
      immediate = undefined;
      if (settled || check()) return;
      if (++spins < 200) immediate = setImmediate(spin);
    };
    // Not a delay: a fallback re-read for what no event announces (a truncated bind outside the
    // watched directory, a listen(2) long after bind(2)). The directory event, the server's exit and
    // the case deadline end the wait as soon as they happen; this only bounds how late a silent
    // listen is noticed (at most 25 ms).
    const tick = (): void => {
      if (settled || check()) return;
      backoff = Math.min(backoff * 2, 25);
      timer = setTimeout(tick, backoff);
    };
    const onAbort = (): void =>
      finish({ ready: false, reason: 'deadline', detail: 'the case deadline passed before the socket was listening', waitedMs: waited() });

    options.signal.addEventListener('abort', onAbort, { once: true });
    if (options.signal.aborted) return onAbort();
    void options.exited.then(() => {
      if (settled || check()) return;
      finish({ ready: false, reason: 'exited', detail: 'server exited before its socket was listening', waitedMs: waited() });
    });
    try {
      watcher = watch(dirname(resolve(options.cwd, options.path)), () => {
        spins = 0;
        if (!immediate && !settled) immediate = setImmediate(spin);
      });
      watcher.on('error', () => undefined);
    } catch {
      // The directory may not exist (a bad path): the exit or the deadline will tell.
    }
    if (!check()) timer = setTimeout(tick, backoff);
  });
}
