/**
 * The harness side of the process launcher (c-reference/launcher/launcher.c, built to
 * c-reference/bin/uds-launcher): one small helper process per harness that starts subject processes
 * with posix_spawn and relays their output and exit, so that the harness never forks itself.
 *
 * Why: Node's child_process forks the harness, and a fork copies the page tables of the process that
 * forks, on the harness's only thread. Measured here (2 cores): a spawn blocks the event loop 4 to
 * 12 ms at 53 MB resident and up to 73 ms at 250 MB, depending on the load (the harness holds a
 * 64 MiB payload at times), against about 1 ms for posix_spawn from the small launcher whatever the
 * harness's size. A case spawns two processes, and the target is a case within 1.5x of the bare C
 * cycle (README.md, Benchmark).
 *
 * It is also what contains them (docs/architecture.md, Containment): a child subreaper, with a cgroup
 * per process where the machine allows it, and every process of the harness goes through it, drivers
 * with a stdin pipe and privilege drops included, so the harness's only child is the launcher. The
 * harness watches it (a ping every PING_EVERY_MS): one that stops answering (SIGSTOPped by a subject)
 * or dies fails the processes in flight with that reason, its tree is killed, and the next spawn
 * starts a new launcher.
 *
 * Not available (not built, or UDSC_NO_LAUNCHER=1): process.ts falls back to child_process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { markOwned } from './casedir.js';
import { disableCgroups, killCgroup, moveInto, noteContainmentOnce, removeCgroup, runCgroup } from './cgroup.js';
import { C_BIN } from './paths.js';
import { processTree } from './proctree.js';

export const LAUNCHER_PATH = join(C_BIN, 'uds-launcher');

export interface LaunchRequest {
  argv: readonly string[];
  cwd: string;
  env: Record<string, string>;
  /** A file for stdin; default /dev/null. */
  stdinFile?: string;
  /** An interactive stdin, fed through LaunchedProcess.input (a driver's command channel). */
  stdinPipe?: boolean;
  /** Run as this uid/gid (privilege drop, done in the child before exec). */
  uid?: number;
  gid?: number;
}

/** What the harness can do with a launched process besides waiting for its handlers. */
export interface LaunchedProcess {
  /** Bytes for its stdin (stdinPipe only); dropped once it is closed or the process is gone. */
  input: (chunk: Uint8Array) => void;
  /** Closes its stdin once what was sent is written. */
  closeInput: () => void;
  /** Kills its tree now (its cgroup, its group, what is known of its tree); onExit follows its exit. */
  kill: () => void;
}

export interface LaunchHandlers {
  onPid: (pid: number) => void;
  /** The process could not be started; the error reads like Node's ("spawn FILE ENOENT"). */
  onSpawnError: (err: NodeJS.ErrnoException) => void;
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
  /** After the last output: exit code (null if signalled) and signal. */
  onExit: (code: number | null, signal: NodeJS.Signals | null) => void;
}

const ERRNO_NAMES = new Map(Object.entries(os.constants.errno).map(([name, n]) => [n, name]));
const SIGNAL_NAMES = new Map(Object.entries(os.constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

const T_PID = 0x50; // 'P'
const T_FAIL = 0x46; // 'F'
const T_OUT = 0x4f; // 'O'
const T_ERR = 0x45; // 'E'
const T_EXIT = 0x58; // 'X'
const T_PING = 0x48; // 'H'

/**
 * The watchdog. A launcher answers a ping from its poll loop within microseconds; one that has not
 * answered for ANSWER_WITHIN_MS is stopped or wedged (a loaded 2-core machine delays it by
 * milliseconds, not seconds). Pings go only while some process is in flight.
 */
export const PING_EVERY_MS = 250;
export const ANSWER_WITHIN_MS = 2_000;

let launcherCount = 0;

/** Bytes of the one buffer every read from the launcher lands in (no garbage per chunk: see below). */
const READ_BUFFER = 1024 * 1024;

class Launcher {
  private readonly child: ChildProcess;
  private socket: net.Socket | undefined;
  private readonly queued: Buffer[] = [];
  private readonly dir: string;
  private readonly waiting = new Map<number, { handlers: LaunchHandlers; file: string; pid?: number; cgroup?: string }>();
  private nextId = 1;
  private readonly seq = ++launcherCount;
  /** The launcher's own cgroup, when the run has cgroups (cgroup.ts). */
  private readonly cgroup: string | undefined;
  private pingSentAt: number | undefined;
  /** When the launcher last sent anything: output behind a pong proves it alive too. */
  private heardAt = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private readonly header = Buffer.alloc(9);
  private headerHave = 0;
  private bodyLeft = 0;
  private type = 0;
  private id = 0;
  private body: Buffer[] = [];
  dead = false;

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * The launcher listens on a socket in a private dir and says "R" on stdout; the harness connects.
   * A connection made by net.connect can read into one reused buffer (`onread`): a subject's output
   * then streams through the harness without a new Buffer per chunk, so a 64 MiB payload does not
   * leave 64 MiB of dead chunks for the garbage collector (bench/: the peak stays flat).
   */
  constructor(path: string) {
    this.dir = mkdtempSync(join(os.tmpdir(), `udsc-${process.pid}-launcher-`));
    // Owned like a case dir: a harness killed before it removes this dir leaves it to the next run's sweep.
    markOwned(this.dir);
    const socketPath = join(this.dir, 'l');
    const run = runCgroup();
    const own = run ? join(run.dir, `l${this.seq}`) : undefined;
    // The harness's pid: the launcher checks it is still its parent after PR_SET_PDEATHSIG.
    const args = [socketPath, String(process.pid), ...(run && own ? [own, run.base] : [])];
    this.child = spawn(path, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    // The probe's last step: moving a process (this launcher) into a cgroup of its own.
    if (run && own && this.child.pid !== undefined) {
      const moved = moveInto(own, this.child.pid);
      if (moved.ok) this.cgroup = own;
      else disableCgroups(moved.reason);
    }
    noteContainmentOnce();
    this.child.on('error', (err) => this.die(`the process launcher could not start (${err.message})`));
    this.child.on('exit', (code, signal) => {
      this.die(`the process launcher died (${signal ?? `exit status ${code}`})`);
      this.removeCgroups();
    });
    this.child.stdout!.once('data', () => this.connect(socketPath));
    this.child.stdout!.resume();
    // The launcher must never keep the harness alive: only a waiting subject does (see refresh()).
    this.child.unref();
    (this.child.stdout as unknown as { unref?: () => void }).unref?.();
  }

  private connect(socketPath: string): void {
    const buffer = Buffer.allocUnsafe(READ_BUFFER);
    const socket = net.connect({
      path: socketPath,
      onread: {
        buffer,
        callback: (n: number, buf: Uint8Array): boolean => {
          this.heardAt = performance.now();
          this.parse(Buffer.from(buf.buffer, buf.byteOffset, n));
          return true;
        },
      },
    });
    socket.on('connect', () => {
      rmSync(this.dir, { recursive: true, force: true });
      // Requests wait in `queued` until now (a write before 'connect' would add a listener each).
      this.socket = socket;
      for (const frame of this.queued.splice(0)) socket.write(frame);
      this.refresh();
    });
    socket.on('error', (err) => this.die(`the connection to the process launcher failed (${err.message})`));
    socket.on('close', () => this.die('the connection to the process launcher closed'));
    this.refresh();
  }

  launch(request: LaunchRequest, handlers: LaunchHandlers): LaunchedProcess | undefined {
    const stdin = request.stdinPipe ? 'p' : request.stdinFile !== undefined ? `f${request.stdinFile}` : 'n';
    const id = this.nextId++;
    const cgroup = this.cgroup ? `${this.cgroup}-${id}` : undefined;
    const parts = [request.cwd, stdin, cgroup ?? '', request.uid?.toString() ?? '', request.gid?.toString() ?? '', String(request.argv.length), ...request.argv];
    for (const [k, v] of Object.entries(request.env)) parts.push(`${k}=${v}`);
    // A NUL cannot be passed to exec; child_process reports that as Node does.
    if (parts.some((p) => p.includes('\0')) || request.argv.length === 0 || request.stdinFile === '') return undefined;
    this.waiting.set(id, { handlers, file: request.argv[0]!, cgroup });
    this.refresh();
    this.send(0x53, id, Buffer.from(`${parts.join('\0')}\0`, 'utf8')); // 'S'
    return {
      input: (chunk) => {
        if (this.waiting.has(id) && chunk.byteLength > 0) this.send(0x49, id, chunk); // 'I'
      },
      closeInput: () => {
        if (this.waiting.has(id)) this.send(0x43, id); // 'C'
      },
      kill: () => {
        if (this.waiting.has(id)) this.send(0x4b, id); // 'K'
      },
    };
  }

  private send(type: number, id: number, body: Uint8Array = Buffer.alloc(0)): void {
    const head = Buffer.alloc(9);
    head.writeUInt32LE(body.byteLength + 5, 0);
    head[4] = type;
    head.writeUInt32LE(id, 5);
    const frame = Buffer.concat([head, body]);
    if (this.socket) this.socket.write(frame);
    else this.queued.push(frame);
  }

  /** One look of the watchdog: a ping, or the verdict on the last one. */
  private watch(): void {
    if (this.dead || !this.socket) return;
    if (this.pingSentAt === undefined || this.heardAt > this.pingSentAt) {
      this.pingSentAt = performance.now();
      this.send(T_PING, 0);
      return;
    }
    const silent = (): boolean => this.pingSentAt !== undefined && this.heardAt < this.pingSentAt && performance.now() - this.pingSentAt >= ANSWER_WITHIN_MS;
    if (!silent()) return;
    // A pong may be waiting unread (the harness's own loop was busy): let the poll phase read it first.
    setImmediate(() => {
      if (this.dead || !silent()) return;
      const stopped = stateOf(this.child.pid) === 'T' ? ' (it is stopped: SIGSTOP)' : '';
      this.die(`the process launcher stopped answering for ${ANSWER_WITHIN_MS} ms${stopped}`);
    });
  }

  /** Holds the event loop open exactly while some subject has not been reported as finished. */
  private refresh(): void {
    // Until the connection is made the launcher's stdout (waiting for "R") stands for it.
    const handle = (this.socket ?? this.child.stdout) as unknown as { ref: () => void; unref: () => void; destroyed: boolean };
    if (handle.destroyed) return;
    if (this.waiting.size > 0) handle.ref();
    else handle.unref();
    if (this.waiting.size > 0 && !this.watchdog && !this.dead) {
      this.watchdog = setInterval(() => this.watch(), PING_EVERY_MS);
      this.watchdog.unref();
    } else if (this.waiting.size === 0 && this.watchdog) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
      this.pingSentAt = undefined;
    }
  }

  private parse(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.headerHave < 9) {
        const take = Math.min(9 - this.headerHave, chunk.length - off);
        chunk.copy(this.header, this.headerHave, off, off + take);
        this.headerHave += take;
        off += take;
        if (this.headerHave < 9) return;
        this.bodyLeft = this.header.readUInt32LE(0) - 5;
        this.type = this.header[4]!;
        this.id = this.header.readUInt32LE(5);
        this.body = [];
        if (this.bodyLeft === 0) this.frameDone(Buffer.alloc(0));
        continue;
      }
      const take = Math.min(this.bodyLeft, chunk.length - off);
      const piece = chunk.subarray(off, off + take);
      off += take;
      this.bodyLeft -= take;
      const entry = this.waiting.get(this.id);
      // Output streams through as it arrives, without reassembling frames.
      if (this.type === T_OUT) entry?.handlers.onStdout(piece);
      else if (this.type === T_ERR) entry?.handlers.onStderr(piece);
      else this.body.push(piece);
      if (this.bodyLeft === 0) this.frameDone(this.body.length === 1 ? this.body[0]! : Buffer.concat(this.body));
    }
  }

  private frameDone(body: Buffer): void {
    this.headerHave = 0;
    if (this.type === T_PING) {
      this.pingSentAt = undefined;
      return;
    }
    const entry = this.waiting.get(this.id);
    if (!entry) return;
    if (this.type === T_PID) {
      entry.pid = body.readInt32LE(0);
      entry.handlers.onPid(entry.pid);
    } else if (this.type === T_FAIL) {
      this.waiting.delete(this.id);
      this.refresh();
      const errno = body.readInt32LE(0);
      const code = ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
      entry.handlers.onSpawnError(Object.assign(new Error(`spawn ${entry.file} ${code}`), { code, errno: -errno, syscall: `spawn ${entry.file}` }));
    } else if (this.type === T_EXIT) {
      this.waiting.delete(this.id);
      this.refresh();
      const code = body.readInt32LE(0);
      const signal = body.readInt32LE(4);
      entry.handlers.onExit(code < 0 ? null : code, signal ? (SIGNAL_NAMES.get(signal) ?? null) : null);
    }
  }

  /**
   * The launcher is gone or stopped answering: the processes in flight fail with that reason, and the
   * launcher's whole tree is killed (every process of its cases is in it: it is their subreaper).
   */
  private die(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.socket?.destroy();
    rmSync(this.dir, { recursive: true, force: true });
    if (current === this) current = undefined;
    for (const entry of this.waiting.values()) if (entry.cgroup) killCgroup(entry.cgroup);
    this.killTree();
    for (const entry of this.waiting.values()) {
      if (entry.pid !== undefined) {
        try {
          process.kill(-entry.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        entry.handlers.onStderr(Buffer.from(`\n[uds-conformance: ${reason}; the process was killed]\n`));
        entry.handlers.onExit(null, 'SIGKILL');
      } else {
        entry.handlers.onSpawnError(Object.assign(new Error(`spawn ${entry.file} EPIPE (${reason})`), { code: 'EPIPE' }));
      }
    }
    // The cgroups of these processes are removed once the launcher has exited (removeCgroups).
    this.orphanCgroups = [...this.waiting.values()].flatMap((e) => (e.cgroup ? [e.cgroup] : []));
    this.waiting.clear();
  }

  private orphanCgroups: string[] = [];

  /**
   * Kills the launcher's tree, the launcher last: a stopped launcher does not reap, so its dead children
   * stay (zombies) in its tree while the rest is killed, and orphans come back to it, not to init.
   * Walks again while something of the tree is alive (at most a second).
   */
  private killTree(): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    if (this.cgroup) killCgroup(this.cgroup);
    const until = performance.now() + 1_000;
    const round = (): void => {
      const alive = processTree(pid).filter((p) => p !== pid && stateOf(p) !== 'Z');
      for (const p of alive) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
      if (alive.length > 0 && performance.now() < until) setImmediate(round);
      else this.child.kill('SIGKILL');
    };
    round();
  }

  private removeCgroups(): void {
    for (const dir of this.orphanCgroups.splice(0)) void removeCgroup(dir);
    if (this.cgroup) void removeCgroup(this.cgroup);
  }

  /** At the harness's exit: every process in flight is killed at once (the launcher then sees EOF). */
  killAllNow(): void {
    for (const entry of this.waiting.values()) if (entry.cgroup) killCgroup(entry.cgroup);
  }
}

/** A process's state letter from /proc/<pid>/stat ('T' stopped, 'Z' zombie), or undefined if gone. */
function stateOf(pid: number | undefined): string | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  } catch {
    return undefined;
  }
}

let current: Launcher | undefined;
let unavailable = false;

/** The harness's launcher, started on first use; undefined when it is not built or is switched off. */
export function launcher(): { launch: (request: LaunchRequest, handlers: LaunchHandlers) => LaunchedProcess | undefined } | undefined {
  if (unavailable) return undefined;
  if (current && !current.dead) return current;
  if (process.env.UDSC_NO_LAUNCHER === '1' || !existsSync(LAUNCHER_PATH)) {
    unavailable = true;
    return undefined;
  }
  current = new Launcher(LAUNCHER_PATH);
  return current;
}

/** The current launcher's pid (tests: to stop it as a subject could), if one runs. */
export function launcherPid(): number | undefined {
  return current && !current.dead ? current.pid : undefined;
}

process.on('exit', () => current?.killAllNow());
