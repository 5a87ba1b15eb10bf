/**
 * Process control: every subject process runs in its own process group, is registered while alive,
 * and is killed with its whole group on timeout, on failure, on abort and when the harness exits
 * (Ctrl-C included). Output is streamed into bounded captures, never buffered without limit.
 */
import type { Writable } from 'node:stream';
import { execa } from 'execa';
import { OutputCapture } from './capture.js';
import type { ProcessSummary } from './types.js';

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
 */
export function installSignalHandlers(cleanup: () => Promise<void>): void {
  if (signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.on(sig, () => {
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
  pid: number;
  /** Resolves when the process has exited and its output is drained. Never rejects. */
  exited: Promise<ProcessSummary>;
  kill: () => void;
  /** The process's stdin when spawned with stdin 'pipe', else null. */
  stdin: Writable | null;
  /** True once the process has exited. */
  readonly done: boolean;
}

/** Spawns argv[0] with argv[1..] in a new process group, streaming stdout into the capture. */
export function spawnProcess(argv: readonly string[], options: SpawnOptions): Spawned {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('spawnProcess: empty command');
  const started = performance.now();
  const stderr = new OutputCapture({ cap: options.stderrCap ?? 16 * 1024 });
  const stdin = options.stdin === undefined || options.stdin === 'ignore' ? 'ignore' : options.stdin;
  const child = execa(file, args, {
    cwd: options.cwd,
    env: options.env ?? {},
    stdin: stdin instanceof Uint8Array ? 'pipe' : stdin,
    input: stdin instanceof Uint8Array ? stdin : undefined,
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    // Own process group: a kill reaches everything the subject started.
    detached: true,
    // We kill groups ourselves (execa's cleanup only kills the direct child).
    cleanup: false,
    encoding: 'buffer',
    stripFinalNewline: false,
    uid: options.uid,
    gid: options.gid,
  });
  let done = false;
  const pid = child.pid;
  if (pid !== undefined) liveGroups.add(pid);
  const kill = (): void => {
    if (pid !== undefined && !done) killGroup(pid);
  };
  const onAbort = (): void => kill();
  options.signal.addEventListener('abort', onAbort, { once: true });
  if (options.signal.aborted) kill();
  child.stdout?.on('data', (chunk: Buffer) => options.stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));

  const exited = (async (): Promise<ProcessSummary> => {
    const result = await child;
    done = true;
    options.signal.removeEventListener('abort', onAbort);
    if (pid !== undefined) {
      // The leader is gone; anything it left in its group is killed too, so nothing outlives a case.
      killGroup(pid);
      liveGroups.delete(pid);
    }
    const spawnError = result.failed && result.exitCode === undefined && result.signal === undefined;
    return {
      how: 'process',
      command: [...argv],
      exitCode: result.exitCode ?? (spawnError ? 127 : null),
      ...(spawnError ? { spawnFailed: true } : {}),
      signal: result.signal ?? null,
      timedOut: options.signal.aborted,
      stderr: spawnError && result.cause instanceof Error ? `${result.cause.message}\n` : stderr.text(),
      stdoutLength: options.stdout.length,
      durationMs: performance.now() - started,
    };
  })();
  return {
    pid: pid ?? -1,
    exited,
    kill,
    stdin: options.stdin === 'pipe' ? child.stdin : null,
    get done() {
      return done;
    },
  };
}
