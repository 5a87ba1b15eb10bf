/**
 * The harness side of the process launcher (c-reference/bench/launcher.c, built to
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
 * Not available (not built, or UDSC_NO_LAUNCHER=1): process.ts falls back to child_process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { C_BIN } from './paths.js';

export const LAUNCHER_PATH = join(C_BIN, 'uds-launcher');

export interface LaunchRequest {
  argv: readonly string[];
  cwd: string;
  env: Record<string, string>;
  /** A file for stdin; default /dev/null. */
  stdinFile?: string;
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

/** Bytes of the one buffer every read from the launcher lands in (no garbage per chunk: see below). */
const READ_BUFFER = 1024 * 1024;

class Launcher {
  private readonly child: ChildProcess;
  private socket: net.Socket | undefined;
  private readonly queued: Buffer[] = [];
  private readonly dir: string;
  private readonly waiting = new Map<number, { handlers: LaunchHandlers; file: string; pid?: number }>();
  private nextId = 1;
  private readonly header = Buffer.alloc(9);
  private headerHave = 0;
  private bodyLeft = 0;
  private type = 0;
  private id = 0;
  private body: Buffer[] = [];
  dead = false;

  /**
   * The launcher listens on a socket in a private dir and says "R" on stdout; the harness connects.
   * A connection made by net.connect can read into one reused buffer (`onread`): a subject's output
   * then streams through the harness without a new Buffer per chunk, so a 64 MiB payload does not
   * leave 64 MiB of dead chunks for the garbage collector (bench/: the peak stays flat).
   */
  constructor(path: string) {
    this.dir = mkdtempSync(join(os.tmpdir(), `udsc-${process.pid}-launcher-`));
    const socketPath = join(this.dir, 'l');
    this.child = spawn(path, [socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child.on('error', () => this.die());
    this.child.on('exit', () => this.die());
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
    socket.on('error', () => this.die());
    socket.on('close', () => this.die());
    this.refresh();
  }

  launch(request: LaunchRequest, handlers: LaunchHandlers): boolean {
    const parts = [request.cwd, request.stdinFile ?? '', String(request.argv.length), ...request.argv];
    for (const [k, v] of Object.entries(request.env)) parts.push(`${k}=${v}`);
    // A NUL cannot be passed to exec; child_process reports that as Node does.
    if (parts.some((p) => p.includes('\0')) || request.argv.length === 0 || request.stdinFile === '') return false;
    const id = this.nextId++;
    const body = Buffer.from(`${parts.join('\0')}\0`, 'utf8');
    const head = Buffer.alloc(9);
    head.writeUInt32LE(body.length + 5, 0);
    head[4] = 0x53; // 'S'
    head.writeUInt32LE(id, 5);
    this.waiting.set(id, { handlers, file: request.argv[0]! });
    this.refresh();
    const frame = Buffer.concat([head, body]);
    if (this.socket) this.socket.write(frame);
    else this.queued.push(frame);
    return true;
  }

  /** Holds the event loop open exactly while some subject has not been reported as finished. */
  private refresh(): void {
    // Until the connection is made the launcher's stdout (waiting for "R") stands for it.
    const handle = (this.socket ?? this.child.stdout) as unknown as { ref: () => void; unref: () => void; destroyed: boolean };
    if (handle.destroyed) return;
    if (this.waiting.size > 0) handle.ref();
    else handle.unref();
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

  /** The launcher is gone (it should not happen): kill what it started and report them as killed. */
  private die(): void {
    if (this.dead) return;
    this.dead = true;
    this.socket?.destroy();
    rmSync(this.dir, { recursive: true, force: true });
    if (current === this) current = undefined;
    for (const entry of this.waiting.values()) {
      if (entry.pid !== undefined) {
        try {
          process.kill(-entry.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        entry.handlers.onStderr(Buffer.from('\n[uds-conformance: the process launcher died; the process was killed]\n'));
        entry.handlers.onExit(null, 'SIGKILL');
      } else {
        entry.handlers.onSpawnError(Object.assign(new Error(`spawn ${entry.file} EPIPE (the process launcher died)`), { code: 'EPIPE' }));
      }
    }
    this.waiting.clear();
  }
}

let current: Launcher | undefined;
let unavailable = false;

/** The harness's launcher, started on first use; undefined when it is not built or is switched off. */
export function launcher(): { launch: (request: LaunchRequest, handlers: LaunchHandlers) => boolean } | undefined {
  if (unavailable) return undefined;
  if (current && !current.dead) return current;
  if (process.env.UDSC_NO_LAUNCHER === '1' || !existsSync(LAUNCHER_PATH)) {
    unavailable = true;
    return undefined;
  }
  current = new Launcher(LAUNCHER_PATH);
  return current;
}
