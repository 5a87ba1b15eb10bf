/**
 * Readiness: a server is ready when its socket is *listening*, not when the file exists. The file
 * appears at bind(2), before listen(2), and a client connecting in between gets ECONNREFUSED (seen
 * with the seed's server). A connect probe would use up the server's only accept(2), so the harness
 * reads the kernel's tables instead: /proc/net/unix, flag __SO_ACCEPTCON (0x00010000).
 *
 * What counts is a socket the server's process tree owns (its inode is among the tree's fds, read from
 * /proc/<pid>/fd of the server and its descendants) bound at the expected *absolute* path: concurrent
 * cases bind the same relative name in different directories, and a server that chdirs elsewhere and
 * binds the same relative name is listening somewhere else. The kernel lists a bound name as bind(2)
 * was given it, so a relative name is resolved against the cwd of a process that holds the socket.
 *
 * Anything else the tree listens on is reported at once, naming where: another pathname (a truncating
 * bind), an abstract name, a TCP port (Node's server.listen("1") takes a digit-only path for one) or a
 * UDP port, from /proc/net/{unix,tcp,tcp6,udp,udp6}. So no case waits for its deadline on a server
 * that has shown where it listens, or has exited.
 *
 * (Over 400 lines because the kernel tables' parsers, the process tree's sockets and the wait that
 * reads them are one question, "where does this server listen", asked of /proc; peers.ts reuses the
 * table reader.)
 */
import { lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync, watch, type FSWatcher } from 'node:fs';
import os from 'node:os';
import type { SocketType } from '../model/types.js';
import { processTree } from './proctree.js';
import { basename, dirname, isAbsolute, resolve } from 'node:path';

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

export interface InetSocketEntry {
  protocol: 'tcp' | 'udp';
  family: 4 | 6;
  address: string;
  port: number;
  /** The tcp_states number (0x0A LISTEN; 0x07 CLOSE, which is an unconnected UDP socket). */
  state: number;
  inode: number;
}

const TCP_LISTEN = 0x0a;
const TCP_CLOSE = 0x07;

/**
 * Decodes /proc/net/{tcp,udp}{,6}'s hex address: 32-bit words in host byte order (the kernel prints
 * each __be32 word with %08X), so on a little-endian host each word's bytes are reversed.
 */
function decodeAddress(hex: string, family: 4 | 6): string {
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = [0, 2, 4, 6].map((i) => parseInt(hex.slice(w + i, w + i + 2), 16));
    bytes.push(...(os.endianness() === 'LE' ? word.reverse() : word));
  }
  if (family === 4) return bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: the longest run of two or more zero groups becomes "::".
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j + 1;
  }
  const hexes = groups.map((g) => g.toString(16));
  if (best.at < 0) return hexes.join(':');
  return `${hexes.slice(0, best.at).join(':')}::${hexes.slice(best.at + best.length).join(':')}`;
}

/** Parses /proc/net/{tcp,tcp6,udp,udp6}; a table that cannot be read (no IPv6) is empty. */
export function readInetTables(): InetSocketEntry[] {
  const entries: InetSocketEntry[] = [];
  for (const [protocol, family, file] of [
    ['tcp', 4, 'tcp'],
    ['tcp', 6, 'tcp6'],
    ['udp', 4, 'udp'],
    ['udp', 6, 'udp6'],
  ] as const) {
    let text: string;
    try {
      text = readFileSync(`/proc/net/${file}`, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const [address, port] = f[1]!.split(':');
      entries.push({ protocol, family, address: decodeAddress(address!, family), port: parseInt(port!, 16), state: parseInt(f[3]!, 16), inode: Number(f[9]) });
    }
  }
  return entries;
}

/** The latin1 view of a path's UTF-8 bytes, comparable with UnixSocketEntry.path. */
export function pathKey(path: string): string {
  return Buffer.from(path, 'utf8').toString('latin1');
}

/** Socket inodes held open by pid and its descendants, each with the pids that hold it. */
export function socketOwners(pid: number): Map<number, number[]> {
  const owners = new Map<number, number[]>();
  for (const p of processTree(pid)) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${p}/fd`);
    } catch {
      continue; // process gone
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${p}/fd/${fd}`));
        if (m) {
          const inode = Number(m[1]);
          owners.set(inode, [...(owners.get(inode) ?? []), p]);
        }
      } catch {
        // fd closed while we looked
      }
    }
  }
  return owners;
}

/** Socket inodes held open by pid and its descendants. */
export function socketInodesOf(pid: number): Set<number> {
  return new Set(socketOwners(pid).keys());
}

/** Where a server's socket is, when it is not where it was asked to be. */
export type ListeningPlace =
  | { kind: 'pathname'; /** as bound (relative stays relative) */ path: string; /** resolved against the binder's cwd */ absolute: string }
  | { kind: 'abstract'; /** as /proc/net/unix shows it: '@' then the name */ name: string }
  | { kind: 'tcp' | 'udp'; family: 4 | 6; address: string; port: number };

export type ReadyOutcome =
  | { ready: true; inode: number; waitedMs: number }
  | {
      ready: false;
      reason: 'exited' | 'deadline' | 'wrong-path';
      detail: string;
      waitedMs: number;
      /** wrong-path at a pathname: the path as the server bound it (relative stays relative). */
      boundPath?: string;
      /** wrong-path: where the server's tree listens (or, for UDP, is bound). */
      place?: ListeningPlace;
    };

export interface WaitListeningOptions {
  /** The path exactly as the server was given it (relative paths stay relative). */
  path: string;
  /** The server's cwd: a relative path is expected there, and its directory is watched. */
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

const utf8 = (latin1: string): string => Buffer.from(latin1, 'latin1').toString('utf8');

/**
 * A latin1 path key with its directory's symlinks resolved (the socket node itself is not followed),
 * so that "/tmp/x/s" and a cwd read back from /proc as its real path compare equal; as given when the
 * directory does not exist.
 */
function canonical(key: string): string {
  try {
    // realpath(3) in one call (realpathSync's own walk lstats every component from JavaScript).
    const dir = realpathSync.native(Buffer.from(dirname(key), 'latin1'), { encoding: 'buffer' }).toString('latin1');
    return resolve(dir, basename(key));
  } catch {
    return key;
  }
}

function cwdOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`, { encoding: 'buffer' }).toString('latin1');
  } catch {
    return undefined;
  }
}

function isSocketFile(key: string): boolean {
  try {
    return lstatSync(Buffer.from(key, 'latin1')).isSocket();
  } catch {
    return false;
  }
}

/**
 * Where an entry of the tree's is bound. A relative name is resolved against the cwd of each process
 * holding the socket (whichever bound it had that cwd, unless it chdir'd since); only when none can be
 * read (they exited meanwhile) the server's starting cwd. /proc/net/unix shows an abstract name as '@' and the name, which a relative
 * pathname may also start with: it is a pathname only if a socket file is there.
 */
function placeOf(entry: UnixSocketEntry, holders: number[], fallbackCwd: string): ListeningPlace[] {
  const known = holders.map(cwdOf).filter((c): c is string => c !== undefined);
  const cwds = known.length > 0 ? [...new Set(known)] : [fallbackCwd];
  const absolutes = isAbsolute(entry.path) ? [canonical(entry.path)] : cwds.map((cwd) => canonical(resolve(cwd, entry.path)));
  if (entry.path.startsWith('@')) {
    const files = absolutes.filter(isSocketFile);
    if (files.length === 0) return [{ kind: 'abstract', name: entry.path }];
    return files.map((absolute) => ({ kind: 'pathname', path: entry.path, absolute }));
  }
  return absolutes.map((absolute) => ({ kind: 'pathname', path: entry.path, absolute }));
}

/** "on TCP port 1 (127.0.0.1)", "at the abstract name "@x"", "at "sub/s"": where, for a message. */
export function describePlace(place: ListeningPlace): string {
  switch (place.kind) {
    case 'pathname':
      return `at ${JSON.stringify(utf8(place.path))}`;
    case 'abstract':
      return `on the abstract name ${JSON.stringify(utf8(place.name))}`;
    case 'tcp':
      return `on TCP port ${place.port} (${place.address})`;
    case 'udp':
      return `on UDP port ${place.port} (${place.address})`;
  }
}

/**
 * The wording of a wrong place. Another pathname keeps the form "server is listening at X instead of Y"
 * (as given, or both absolute when it is the same name in another directory); the rest say where and
 * what was expected, e.g. `server is listening on TCP port 1 (127.0.0.1), not on the unix path "1"`.
 */
function wrongPlaceDetail(place: ListeningPlace, path: string, expectedAbsolute: string): string {
  if (place.kind === 'udp') return `server is bound to UDP port ${place.port} (${place.address}), not to the unix path ${JSON.stringify(path)}`;
  const verb = 'listening';
  if (place.kind !== 'pathname') return `server is ${verb} ${describePlace(place)}, not on the unix path ${JSON.stringify(path)}`;
  if (place.path !== pathKey(path)) return `server is ${verb} at ${JSON.stringify(utf8(place.path))} instead of ${JSON.stringify(path)}`;
  return `server is ${verb} at ${JSON.stringify(utf8(place.absolute))} instead of ${JSON.stringify(utf8(expectedAbsolute))} (the same name in another directory)`;
}

/**
 * Waits for the server's socket to be listening. Driven by events: an inotify watch on the socket's
 * directory (bind creates the node), the server's exit and the case deadline. Between bind and listen
 * there is no event, so after a directory event the tables are re-read on the next turns of the event
 * loop (microseconds apart). A bind outside the watched directory (a truncated path can land anywhere,
 * a TCP port has no file) produces no event there, so the tables are also re-read on a backing-off
 * schedule, at most 25 ms apart.
 */
export function waitListening(options: WaitListeningOptions): Promise<ReadyOutcome> {
  const started = performance.now();
  // The expected place, absolute: where the server, started in options.cwd, would bind the path.
  const expected = canonical(resolve(pathKey(options.cwd), pathKey(options.path)));
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
    const wrong = (place: ListeningPlace): true => {
      finish({
        ready: false,
        reason: 'wrong-path',
        detail: wrongPlaceDetail(place, options.path, expected),
        waitedMs: waited(),
        place,
        ...(place.kind === 'pathname' ? { boundPath: utf8(place.path) } : {}),
      });
      return true;
    };

    const check = (): boolean => {
      // The tree's sockets first: until it owns one, nothing it did can be listening (and the kernel's
      // tables, which list every socket of the host, need not be read).
      const owners = socketOwners(options.pid);
      if (owners.size === 0) return false;
      const unix = readUnixTable();
      const owned = unix.filter((e) => owners.has(e.inode) && isReady(e));
      const elsewhere: ListeningPlace[] = [];
      for (const entry of owned) {
        const places = placeOf(entry, owners.get(entry.inode)!, pathKey(options.cwd));
        if (places.some((p) => p.kind === 'pathname' && p.absolute === expected)) {
          finish({ ready: true, inode: entry.inode, waitedMs: waited() });
          return true;
        }
        elsewhere.push(places[0]!);
      }
      if (elsewhere.length > 0) return wrong(elsewhere[0]!);
      // A socket of the tree that is not a unix one may be an inet listener (or a bound UDP socket).
      const unixInodes = new Set(unix.map((e) => e.inode));
      if ([...owners.keys()].every((inode) => unixInodes.has(inode))) return false;
      const inet = readInetTables().find(
        (e) => owners.has(e.inode) && (e.protocol === 'tcp' ? e.state === TCP_LISTEN : e.state === TCP_CLOSE && e.port !== 0),
      );
      // A listening TCP socket, or a bound unconnected UDP one (state CLOSE, a port): where a client
      // would have to go instead, whatever the socket type asked for. A connected UDP socket (a DNS
      // lookup) or a TCP connection out is not a place to listen, and is ignored.
      if (inet) return wrong({ kind: inet.protocol, family: inet.family, address: inet.address, port: inet.port });
      return false;
    };

    const spin = (): void => {
      immediate = undefined;
      if (settled || check()) return;
      if (++spins < 200) immediate = setImmediate(spin);
    };
    // Not a delay: a fallback re-read for what no event announces (a truncated bind outside the
    // watched directory, a TCP port, a listen(2) long after bind(2)). The directory event, the server's
    // exit and the case deadline end the wait as soon as they happen; this only bounds how late a
    // silent listen is noticed (at most 25 ms).
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

/**
 * Readiness of an in-process server, once it has said it listens. Its process is the harness itself,
 * whose fds also hold every other in-process role of concurrent cases, so where *else* it listens
 * cannot be attributed honestly: a TCP listener or another path in this process might be another
 * case's. What can be checked is the claim itself: a socket of the asked type is listening (bound, for
 * datagram) at the expected absolute path, and its inode is one of this process's fds. A server that
 * says it listens when no such socket exists fails here, naming the path only.
 */
export function confirmInProcessListening(absolutePath: string, type: SocketType = 'stream', waitedMs = 0): ReadyOutcome {
  const expected = canonical(pathKey(absolutePath));
  const isReady = readyPredicate(type);
  const candidates = readUnixTable().filter((e) => isReady(e) && isAbsolute(e.path) && canonical(e.path) === expected);
  if (candidates.length > 0) {
    const mine = socketInodesOf(process.pid);
    const entry = candidates.find((e) => mine.has(e.inode));
    if (entry) return { ready: true, inode: entry.inode, waitedMs };
  }
  const what = type === 'dgram' ? 'bound' : 'listening';
  return {
    ready: false,
    reason: 'wrong-path',
    detail: `server said it was listening, but no socket of the harness's process is ${what} at ${JSON.stringify(absolutePath)}`,
    waitedMs,
  };
}
