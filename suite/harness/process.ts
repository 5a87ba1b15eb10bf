/**
 * Process control: every subject process runs in its own process group, is registered while alive,
 * and is killed with its whole tree on timeout, on failure, on abort and when the harness exits
 * (Ctrl-C included). Output is streamed into bounded captures, never buffered without limit.
 * Every process goes through the launcher when there is one (launcher.ts): it contains them
 * (docs/architecture.md, Containment).
 */
import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { Writable } from 'node:stream';
import { OutputCapture } from './capture.js';
import { launcher } from './launcher.js';
import { processTree } from './proctree.js';
import type { ProcessSummary } from '../model/types.js';

/** Process groups of every live subject process, so that any exit path can kill them all. */
const liveGroups = new Set<number>();

export function killGroup(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    // Negative pid: the whole group, so grandchildren of a wrapper script die too.
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

export function killAllLive(): void {
  for (const pgid of liveGroups) killGroup(pgid);
  liveGroups.clear();
}

export function liveProcessCount(): number {
  return liveGroups.size;
}

process.on('exit', killAllLive);

let signalHandlersInstalled = false;
/**
 * For the CLI: on SIGINT/SIGTERM kill every subject group, run the given cleanup (temp dirs), and exit
 * with the conventional 128+signal status. Not installed inside test workers, whose runner owns signals.
 * `graceful` may take a signal instead (it returns true): `run` then stops starting cases and writes
 * what finished (cli.ts); it takes only the first one, so a second Ctrl-C still exits at once.
 */
export function installSignalHandlers(cleanup: () => Promise<void>, graceful?: (signal: NodeJS.Signals) => boolean): void {
  if (signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.on(sig, () => {
      if (graceful?.(sig)) return;
      killAllLive();
      void cleanup().finally(() => process.exit(code));
    });
  }
}

export interface SpawnOptions {
  cwd: string;
  env?: Record<string, string>;
  /** Aborting kills the process group. */
  signal: AbortSignal;
  /** 'pipe': an interactive stdin, written through Spawned.stdin (a driver's command channel). */
  stdin?: 'ignore' | 'pipe' | { file: string } | Uint8Array;
  stdout: OutputCapture;
  stderrCap?: number;
  /** uid/gid to run as (privilege drop for capability properties). */
  uid?: number;
  gid?: number;
}

export interface Spawned {
  /** The process id (also its process group id); -1 until known (see started) or if it never started. */
  readonly pid: number;
  /** Resolves with the pid once the process runs (-1 if it could not be started). Never rejects. */
  started: Promise<number>;
  /** Resolves when the process has exited and its output is drained. Never rejects. */
  exited: Promise<ProcessSummary>;
  kill: () => void;
  /** The process's stdin when spawned with stdin 'pipe', else null. */
  stdin: Writable | null;
  /** True once the process has exited. */
  readonly done: boolean;
}

/** Kills pid's group and every process of its tree (one that made a group or session of its own too). */
export function killTree(pid: number): void {
  killGroup(pid);
  for (const p of processTree(pid)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

let uncontainedNoted = false;

/**
 * Spawns argv[0] with argv[1..] in a new process group, streaming stdout into the capture.
 *
 * Subject processes are started with node:child_process, not execa (which the project uses for its
 * own tooling: coverage, tests). Measured on this 2-core machine (bench/, median of 200 spawns of a
 * small C binary): child_process.spawn 2.2 ms, execa 3.3 to 4.5 ms (docs/benchmark.md); under load 4.1 ms
 * against 8.8 ms for the synchronous part alone. A case spawns two processes, and the benchmark's
 * target is a case within 1.5x of the bare C cycle, so execa's wrapper cost every case too much.
 * What execa gave here is kept: an own process group (detached), the whole group killed on abort and
 * at the leader's exit, bounded captures, no rejection (a failed spawn is exit 127, spawnFailed).
 *
 * Every process goes further when the launcher is there: it is started by the launcher
 * (harness/launcher.ts), so the harness does not fork itself at all (a fork of the harness blocked its
 * event loop 4 to 12 ms per spawn at 53 MB resident, up to 73 ms at 250 MB: README.md, Benchmark), and
 * it is contained (docs/architecture.md, Containment). child_process is the fallback without one.
 */
export function spawnProcess(argv: readonly string[], options: SpawnOptions): Spawned {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('spawnProcess: empty command');
  const stdinOption = options.stdin ?? 'ignore';
  const viaLauncher = spawnLaunched(argv, options, stdinOption);
  if (viaLauncher) return viaLauncher;
  if (!uncontainedNoted && process.env.UDSC_NO_LAUNCHER !== '1' && !launcher()) {
    uncontainedNoted = true;
    process.stderr.write('uds-conformance: the process launcher (c-reference/bin/uds-launcher) is not built: subject processes are contained by process group only (docs/architecture.md, Containment)\n');
  }
  const started = performance.now();
  const stderr = new OutputCapture({ cap: options.stderrCap ?? 16 * 1024 });
  const life = new ProcessLife(options.signal);
  const summary = (exitCode: number | null, signal: string | null, spawnError?: Error): ProcessSummary =>
    summarize(argv, options, started, stderr, exitCode, signal, spawnError);

  let stdinFd: number | undefined;
  let stdio: StdioOptions;
  try {
    if (typeof stdinOption === 'object' && !(stdinOption instanceof Uint8Array)) stdinFd = openSync(stdinOption.file, 'r');
    stdio = [stdinFd ?? (stdinOption === 'ignore' ? 'ignore' : 'pipe'), 'pipe', 'pipe'];
  } catch (err) {
    life.finish(summary(null, null, err as Error));
    return { pid: -1, started: Promise.resolve(-1), exited: life.exited, kill: () => undefined, stdin: null, done: true };
  }
  const child = spawn(file, args, {
    cwd: options.cwd,
    env: options.env ?? {},
    stdio,
    // Own process group: a kill reaches everything the subject started.
    detached: true,
    uid: options.uid,
    gid: options.gid,
  });
  // The child has its own copy of the stdin file now.
  if (stdinFd !== undefined) closeSync(stdinFd);
  // Killed: its tree goes, and its outputs are no longer waited for ('close' follows the exit), so an
  // escaped grandchild that holds them cannot keep the case past its deadline.
  life.onKill = () => {
    if (child.pid !== undefined) killTree(child.pid);
    child.stdout?.destroy();
    child.stderr?.destroy();
  };
  if (child.pid !== undefined) life.started(child.pid);
  // A subject that exits without reading its stdin must not crash the harness with EPIPE.
  child.stdin?.on('error', () => undefined);
  if (stdinOption instanceof Uint8Array) child.stdin?.end(stdinOption);
  child.stdout?.on('data', (chunk: Buffer) => options.stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.on('error', (err) => {
    // Spawning failed (ENOENT, EACCES, ...): there is no process and no 'close' to wait for.
    if (child.pid === undefined) life.finish(summary(null, null, err));
  });
  child.on('exit', () => {
    // The leader is gone; anything it left in its group is killed too, so nothing outlives a case
    // (and no grandchild keeps the output pipes open).
    if (child.pid !== undefined) killGroup(child.pid);
  });
  // 'close': exited and its stdout/stderr drained.
  child.on('close', (code, signal) => life.finish(summary(code, signal)));
  return {
    pid: child.pid ?? -1,
    started: Promise.resolve(child.pid ?? -1),
    exited: life.exited,
    kill: () => life.kill(),
    stdin: stdinOption === 'pipe' ? child.stdin : null,
    get done() {
      return life.done;
    },
  };
}

/**
 * The life of one subject process group, whichever way it was started: registered while alive,
 * killed on abort (or as soon as its pid is known, if the kill came first), finished exactly once.
 */
class ProcessLife {
  pid: number | undefined;
  done = false;
  /** How this process's tree is killed besides its group (the launcher's 'K', or a /proc walk). */
  onKill: (() => void) | undefined;
  private killWanted = false;
  private resolveExited!: (summary: ProcessSummary) => void;
  readonly exited = new Promise<ProcessSummary>((r) => (this.resolveExited = r));
  private readonly onAbort = (): void => this.kill();

  constructor(private readonly signal: AbortSignal) {
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  started(pid: number): void {
    this.pid = pid;
    liveGroups.add(pid);
    if (this.killWanted || this.signal.aborted) this.kill();
  }

  kill(): void {
    if (this.done) return;
    if (this.pid === undefined) {
      this.killWanted = true;
      return;
    }
    killGroup(this.pid);
    this.onKill?.();
  }

  finish(result: ProcessSummary): void {
    if (this.done) return;
    this.done = true;
    this.signal.removeEventListener('abort', this.onAbort);
    if (this.pid !== undefined) liveGroups.delete(this.pid);
    this.resolveExited(result);
  }
}

function summarize(
  argv: readonly string[],
  options: SpawnOptions,
  started: number,
  stderr: OutputCapture,
  exitCode: number | null,
  signal: string | null,
  spawnError?: Error,
): ProcessSummary {
  return {
    how: 'process',
    command: [...argv],
    exitCode: spawnError ? 127 : exitCode,
    ...(spawnError ? { spawnFailed: true } : {}),
    signal: spawnError ? null : signal,
    timedOut: options.signal.aborted,
    stderr: spawnError ? `${spawnError.message}\n` : stderr.text(),
    stdoutLength: options.stdout.length,
    durationMs: performance.now() - started,
  };
}

/** spawnProcess through the launcher; undefined when there is none (or it cannot take this request). */
function spawnLaunched(argv: readonly string[], options: SpawnOptions, stdinOption: NonNullable<SpawnOptions['stdin']>): Spawned | undefined {
  const helper = launcher();
  if (!helper) return undefined;
  const started = performance.now();
  const stderr = new OutputCapture({ cap: options.stderrCap ?? 16 * 1024 });
  let resolveStarted!: (pid: number) => void;
  const startedPromise = new Promise<number>((r) => (resolveStarted = r));
  const life = new ProcessLife(options.signal);
  const pipe = stdinOption === 'pipe' || stdinOption instanceof Uint8Array;
  const stdinFile = typeof stdinOption === 'object' && !(stdinOption instanceof Uint8Array) ? stdinOption.file : undefined;
  const launched = helper.launch(
    { argv, cwd: options.cwd, env: options.env ?? {}, stdinFile, stdinPipe: pipe, uid: options.uid, gid: options.gid },
    {
      onPid: (p) => {
        life.started(p);
        resolveStarted(p);
      },
      onSpawnError: (err) => {
        resolveStarted(-1);
        life.finish(summarize(argv, options, started, stderr, null, null, err));
      },
      onStdout: (chunk) => options.stdout.push(chunk),
      onStderr: (chunk) => stderr.push(chunk),
      // The launcher has killed the tree at the leader's exit and relayed the last output.
      onExit: (code, signal) => life.finish(summarize(argv, options, started, stderr, code, signal)),
    },
  );
  if (!launched) {
    life.finish(summarize(argv, options, started, stderr, null, null)); // unregisters; nothing awaits it
    return undefined;
  }
  life.onKill = launched.kill;
  // A kill asked for before the launcher reported the pid reaches the launcher at once too.
  const onAbort = (): void => launched.kill();
  options.signal.addEventListener('abort', onAbort, { once: true });
  // Aborted before the spawn: no event will come, so the kill is asked for now.
  if (options.signal.aborted) onAbort();
  void life.exited.then(() => options.signal.removeEventListener('abort', onAbort));
  let stdin: Writable | null = null;
  if (pipe) {
    stdin = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        launched.input(chunk);
        callback();
      },
      final(callback) {
        launched.closeInput();
        callback();
      },
    });
    if (stdinOption instanceof Uint8Array) stdin.end(stdinOption);
  }
  return {
    get pid() {
      return life.pid ?? -1;
    },
    started: startedPromise,
    exited: life.exited,
    kill: () => {
      launched.kill();
      life.kill();
    },
    stdin: stdinOption === 'pipe' ? stdin : null,
    get done() {
      return life.done;
    },
  };
}
