/**
 * The fd leak check of in-process subjects: an in-process role or driver adapter runs in the harness's
 * own process, so an fd it opens during a case and does not close by the case's end stays in
 * /proc/self/fd. CaseContext.with takes a snapshot of /proc/self/fd just before the case's first
 * in-process part starts (none: no snapshot, nothing to check) and compares it with the table once
 * the case's cleanups have run (roles aborted, adapters quit, processes reaped):
 * an fd that is new (a number not open before, or open then on another file) is a leak, and a case
 * that otherwise passed fails with the fds in its evidence. Failing, not noting: an fd per session is
 * what brings a server down at RLIMIT_NOFILE, and CPython's regrtest, whose -R mode counts fds before
 * and after each test, also reports a test that leaks them as a failure (Lib/test/libregrtest).
 *
 * Attribution is to the process, not to the case, so the check runs only where it cannot blame the
 * wrong party:
 * - **alone**: a case that had the process to itself from start to end is checked for every new fd
 *   (with `--jobs 1`, every case). With `--jobs` > 1 cases overlap and the fds of one look like the
 *   other's, so an overlapped case is checked only for what is its own by the kernel's word: Unix
 *   sockets whose address (/proc/net/unix) is in its case dir, i.e. a listener left open or a
 *   connection it accepted. A leaked unbound socket, pipe or file of an overlapped case is not found.
 * - **no harness start-up inside it**: a case during which the process launcher (re)started is not
 *   checked: the launcher's pipe and socket are the harness's, kept for the run. Nor is libuv's one
 *   inotify fd per event loop (opened at the first fs.watch, kept until the loop ends) ever counted,
 *   nor the addon's sock_diag socket (opened at unixDiag's first call, kept for the env's life).
 * - **settled**: an fd still closing at the end (a socket whose peer just died, its EOF not yet read)
 *   is given a few turns of the event loop (LEAK_SETTLE_MS at most) to close; one open after that is
 *   leaked.
 * A caller that opens fds of its own while runSuite's cases run, in the same process, is counted too:
 * open them before the run or after.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { loadedBinding } from '../../native/binding.js';
import { launcherPid } from './launcher.js';
import { CheckFailure } from '../model/types.js';

/**
 * How long, and for how many turns of the event loop, fds still closing at a case's end have to close
 * before they count as leaked: a close in flight needs a turn or two (a threadpool close, a peer's
 * EOF), a leaked fd never closes, so the check ends at whichever limit comes first.
 */
export const LEAK_SETTLE_MS = 200;
const LEAK_SETTLE_TURNS = 50;

/** Fds the harness's event loop keeps for its life, whoever caused them to open (see above). */
const LOOP_FDS = new Set(['anon_inode:inotify']);

/** One leaked fd, as the evidence names it. */
export interface LeakedFd {
  fd: number;
  /** readlink(/proc/self/fd/N): "socket:[48213]", "pipe:[...]", a file's path. */
  target: string;
  /** For a Unix socket, its line of /proc/net/unix: type, state and (if bound) its path or @name. */
  unix?: { type: string; state: string; path?: string };
}

type Table = Map<number, string>;

function fdTable(): Table {
  const table: Table = new Map();
  const own = `/proc/${process.pid}/fd`;
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${name}`);
      // readdir's own fd on the directory, closed by now or pointing at it.
      if (target === own || target === '/proc/self/fd') continue;
      table.set(Number(name), target);
    } catch {
      // Closed between readdir and readlink (readdir's own, or another's closing): not open.
    }
  }
  return table;
}

const UNIX_TYPES: Record<string, string> = { '0001': 'stream', '0002': 'dgram', '0005': 'seqpacket' };
const UNIX_STATES: Record<string, string> = { '01': 'unconnected', '02': 'connecting', '03': 'connected', '04': 'disconnecting' };

/** The /proc/net/unix lines of the given socket inodes (unix(7)): what the leaked sockets were. */
function unixSockets(inodes: Set<string>): Map<string, NonNullable<LeakedFd['unix']>> {
  const out = new Map<string, NonNullable<LeakedFd['unix']>>();
  let text = '';
  try {
    text = readFileSync('/proc/net/unix', 'latin1');
  } catch {
    return out;
  }
  for (const line of text.split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode [Path]
    const cols = line.trim().split(/\s+/);
    const inode = cols[6];
    if (!inode || !inodes.has(inode)) continue;
    const listening = (parseInt(cols[3] ?? '0', 16) & 0x10000) !== 0; // __SO_ACCEPTCON
    const entry: NonNullable<LeakedFd['unix']> = { type: UNIX_TYPES[cols[4] ?? ''] ?? `type ${cols[4]}`, state: listening ? 'listening' : (UNIX_STATES[cols[5] ?? ''] ?? `state ${cols[5]}`) };
    if (cols[7]) entry.path = cols.slice(7).join(' ');
    out.set(inode, entry);
  }
  return out;
}

function describe(leaked: Array<[number, string]>): LeakedFd[] {
  const inodes = new Set(leaked.map(([, t]) => /^socket:\[(\d+)\]$/.exec(t)?.[1]).filter((i): i is string => i !== undefined));
  const sockets = inodes.size > 0 ? unixSockets(inodes) : new Map<string, NonNullable<LeakedFd['unix']>>();
  return leaked.map(([fd, target]) => {
    const unix = sockets.get(/^socket:\[(\d+)\]$/.exec(target)?.[1] ?? '');
    return unix ? { fd, target, unix } : { fd, target };
  });
}

export function leakText(fd: LeakedFd): string {
  const what = fd.unix ? ` (unix ${fd.unix.type}, ${fd.unix.state}${fd.unix.path ? `, ${fd.unix.path}` : ''})` : '';
  return `fd ${fd.fd} -> ${fd.target}${what}`;
}

/** The cases in flight in this process: a case that ever shares it with another is not checked. */
const inFlight = new Set<FdWatch>();

/** One case's watch on the process's fd table, from its start (begin) to after its cleanups (finish). */
export class FdWatch {
  private shared = false;
  /** The fd table as it was before anything in-process ran (see arm). */
  private before: Table | undefined;
  private readonly launcher = launcherPid();

  private constructor() {}

  /** A watch whose snapshot is taken now. */
  static begin(): FdWatch {
    const watch = FdWatch.deferred();
    watch.arm();
    return watch;
  }

  /**
   * A watch whose snapshot waits for arm(): a case calls it just before the first thing it runs in the
   * harness's process, so a case that runs nothing in-process (every process pairing) never reads the
   * fd table (a readdir and a readlink per fd, 0.2 ms a case here). Only in-process parts are checked,
   * and none has run before the snapshot, so what it finds is what a snapshot at the start would.
   */
  static deferred(): FdWatch {
    const watch = new FdWatch();
    if (inFlight.size > 0) {
      watch.shared = true;
      for (const other of inFlight) other.shared = true;
    }
    inFlight.add(watch);
    return watch;
  }

  /** Takes the snapshot, if not taken yet. */
  arm(): void {
    this.before ??= fdTable();
  }

  /**
   * Ends the watch. With `check` (the case passed and an in-process role ran) resolves with what leaked,
   * or undefined when nothing did or the case could not be checked (the launcher started in it); an
   * overlapped case is checked for the sockets addressed in `caseDir` only. Always call it, so the
   * watch leaves the set of cases in flight.
   */
  async finish(check: boolean, caseDir?: string): Promise<LeakedFd[] | undefined> {
    try {
      // Never armed: nothing ran in-process, so nothing of the case can have leaked here.
      if (!check || this.before === undefined) return undefined;
      const deadline = performance.now() + LEAK_SETTLE_MS;
      const own = caseDir === undefined ? undefined : `${caseDir}/`;
      for (let turn = 0; ; turn++) {
        if (launcherPid() !== this.launcher) return undefined;
        let leaked = describe(this.newFds());
        // Shared: only the sockets the kernel names with an address in this case's dir are its own.
        if (this.shared) leaked = own === undefined ? [] : leaked.filter((f) => f.unix?.path?.startsWith(own));
        if (leaked.length === 0) return undefined;
        if (turn >= LEAK_SETTLE_TURNS || performance.now() >= deadline) return leaked;
        // One turn of the event loop: close callbacks and EOFs of peers gone at the case's end run.
        await nextTurn();
      }
    } finally {
      inFlight.delete(this);
    }
  }

  private newFds(): Array<[number, string]> {
    const before = this.before!;
    // The addon's sock_diag socket (kept open from unixDiag's first call, which may fall in any case).
    const diag = loadedBinding()?.unixDiagSocket?.() ?? -1;
    return [...fdTable()].filter(([fd, target]) => before.get(fd) !== target && !LOOP_FDS.has(target) && fd !== diag);
  }
}

/** The case's failure for leaked fds: which in-process parts ran, and every fd they left. */
export function leakFailure(leaked: LeakedFd[], inProcess: readonly string[]): CheckFailure {
  const who = inProcess.join(' and ');
  const list = leaked.map(leakText);
  return new CheckFailure({
    message: `fd leak: ${leaked.length} fd${leaked.length === 1 ? '' : 's'} opened in the harness's process during the case ${leaked.length === 1 ? 'was' : 'were'} still open after it ended, with ${who} running in-process: ${list.join('; ')}`,
    expected: 'every fd an in-process role or driver adapter opens is closed by the end of its case (the role returned, the adapter quit)',
    actual: list.join('\n'),
    details: { leakedFds: leaked, inProcess: [...inProcess] },
  });
}
