/**
 * The harness a property's check talks to: a private temp dir per case, servers started and waited on
 * until listening, clients run to completion, all under the case deadline. Properties never name an
 * implementation; they ask the CaseContext to start "the server" and "the client" of the pairing.
 */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { getMaxListeners, setMaxListeners } from 'node:events';
import net from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { DEFAULTS } from '../defaults.js';
import type { Driver } from '../driver/driver.js';
import type { Transport } from '../driver/protocol.js';
import { startDriver } from '../driver/start.js';
import type { AddressKind, CommandTemplate, Implementation, Pairing, ProcessSummary, Role, SocketType } from '../model/types.js';
import { OutputCapture } from './capture.js';
import { makeCaseDir, markOwned, removeCaseDir, removeSocketFile } from './casedir.js';
import { prepareCommand, takesPayload } from './command.js';
import { startInProcess } from './inprocess.js';
import { spawnProcess } from './process.js';
import { confirmInProcessListening, waitListening, type ReadyOutcome } from './readiness.js';
import { FdWatch, leakFailure } from './fd-leaks.js';
import { Unsupported } from '../model/types.js';


export type RunMode = 'auto' | 'process' | 'in-process';

/** Run-wide options for every case (e.g. `run --coverage`). */
export interface CaseOptions {
  /** Start every role that has a command as a process, even where in-process would do. */
  forceProcess?: boolean;
  /** Added to every subject process's environment (e.g. NODE_V8_COVERAGE). */
  env?: Record<string, string>;
  /** A session's quiet period (default DEFAULTS.quietMs): see properties/session.ts. */
  quietMs?: number;
  /**
   * The run's cancel signal (runSuite's `signal`, Ctrl-C in the CLI): a case in flight ends as at its
   * deadline (its processes killed, its dir removed), and no case starts once it is aborted.
   */
  cancel?: AbortSignal;
}

export interface ServerHandle {
  /** The path as the server was given it. */
  path: string;
  ready: ReadyOutcome;
  /** Resolves when the server has finished (never rejects). */
  exited: Promise<ProcessSummary>;
  /** Kills a process server's group with SIGKILL (in-process servers are aborted). */
  kill: () => void;
  /** A process server's stdout (fd-passing servers report on it); empty for in-process servers. */
  stdout: OutputCapture;
  /** A process server's pid (its process group's id too); absent for an in-process server. */
  pid?: number;
  /** An in-process server: whether it has reported accepting a connection (onAccepted). */
  acceptReported?: () => boolean;
}

export interface ClientResult {
  summary: ProcessSummary;
  stdout: OutputCapture;
}

export interface ClientHandle {
  stdout: OutputCapture;
  /** A process client's pid once known (-1 before, or if it could not start); absent in-process. */
  readonly pid?: number;
  /** Resolves when the client has finished (never rejects). */
  exited: Promise<ProcessSummary>;
  kill: () => void;
}

export interface StartServerOptions {
  /** Socket path, relative to the case dir or absolute. */
  path: string;
  /** Bytes for the server to send; undefined asks for the fixed message (a process starts with its commandWithoutPayload). */
  payload?: Uint8Array;
  mode?: RunMode;
  /** Arguments appended to a process server's command (fd-passing options). Forces process mode. */
  extraArgs?: string[];
  /**
   * Start the server process with this umask (path.mode). Forces process mode: process.umask() is
   * process-wide, so an in-process server only ever has the harness's. Set by `sh` before it execs
   * the command (same pid, same argv), so nothing of the launcher or the environment changes.
   */
  umask?: number;
}

export interface RunClientOptions {
  path: string;
  /** When given, stdout is compared incrementally against it. */
  expected?: Uint8Array;
  mode?: RunMode;
  /** Arguments appended to a process client's command (fd-passing options). Forces process mode. */
  extraArgs?: string[];
  /** Run the client process as this uid/gid (privilege drop). */
  uid?: number;
  gid?: number;
  /** Stdout bytes kept (default DEFAULTS.stdoutCap); a client printing a report needs all of it. */
  stdoutCap?: number;
  /** Capture stdout into this instead of a new OutputCapture (suite/perf.ts times its chunks). */
  capture?: OutputCapture;
}

let nameCounter = 0;

/**
 * What a case runs on, as the plan settled it: the pairing (with the oracle for a single-role
 * property), the socket type and address kind, and each driver side's transport.
 */
export interface CaseUnit extends Pairing {
  socketType?: SocketType;
  address?: AddressKind;
  transport?: Partial<Record<Role, Transport>>;
}

export interface CaseDriverOptions {
  /** Run a process driver as this uid/gid (privilege drop). */
  uid?: number;
  gid?: number;
}

export class CaseContext {
  private readonly cleanups: Array<() => Promise<void> | void> = [];

  private constructor(
    readonly pairing: CaseUnit,
    /** The case's private temp dir (mode 0700), removed after the case. */
    readonly dir: string,
    /** Aborted at the case deadline; every wait in the case observes it. */
    readonly signal: AbortSignal,
    private readonly options: CaseOptions = {},
    /** What ran in the harness's process ("server ts-net", "client ts-net's driver adapter"): the fd leak check's subjects. */
    private readonly inProcessParts: string[] = [],
    /** The case's fd leak watch, armed before the first in-process part runs. */
    // Only its arm(): the public type of CaseContext names no internal class.
    private readonly fds?: { arm(): void },
  ) {}

  /** Records a part about to run in the harness's process, the fd table snapshot taken first. */
  private runsInProcess(part: string): void {
    this.fds?.arm();
    this.inProcessParts.push(part);
  }

  /**
   * Runs fn with a fresh context; the dir, processes and in-process roles are gone when it returns. A
   * case in which something ran in-process and that passed fails if it left fds open in the harness's
   * process (harness/fd-leaks.ts says when that can be told).
   */
  static async with<T>(pairing: CaseUnit, deadlineMs: number, fn: (ctx: CaseContext) => Promise<T>, options: CaseOptions = {}): Promise<T> {
    const fds = FdWatch.deferred();
    const seen: { inProcess: string[]; dir?: string; fds: FdWatch } = { inProcess: [], fds };
    let value: T;
    try {
      value = await CaseContext.run(pairing, deadlineMs, fn, options, seen);
    } catch (err) {
      await fds.finish(false);
      throw err;
    }
    const leaked = await fds.finish(seen.inProcess.length > 0, seen.dir);
    if (leaked) throw leakFailure(leaked, [...new Set(seen.inProcess)]);
    return value;
  }

  private static async run<T>(pairing: CaseUnit, deadlineMs: number, fn: (ctx: CaseContext) => Promise<T>, options: CaseOptions, seen: { inProcess: string[]; dir?: string; fds: FdWatch }): Promise<T> {
    if (options.cancel?.aborted) throw new Error('the run was cancelled before this case started');
    const dir = makeCaseDir();
    seen.dir = dir;
    const controller = new AbortController();
    const onCancel = (): void => controller.abort(new Error('the run was cancelled'));
    options.cancel?.addEventListener('abort', onCancel, { once: true });
    // A run cancelled already fires no event any more: the case starts cancelled.
    if (options.cancel?.aborted) onCancel();
    const deadline = setTimeout(
      () => controller.abort(new Error(`case deadline of ${deadlineMs} ms passed`)),
      deadlineMs,
    );
    const ctx = new CaseContext(pairing, dir, controller.signal, options, seen.inProcess, seen.fds);
    try {
      return await fn(ctx);
    } finally {
      clearTimeout(deadline);
      options.cancel?.removeEventListener('abort', onCancel);
      controller.abort(new Error('case finished'));
      for (const cleanup of ctx.cleanups.reverse()) await cleanup();
      await removeCaseDir(dir);
      if (ctx.payloadDir) await removeCaseDir(ctx.payloadDir);
    }
  }

  /** The unit's socket type: what every socket of the case is. */
  get socketType(): SocketType {
    return this.pairing.socketType ?? 'stream';
  }

  get address(): AddressKind {
    return this.pairing.address ?? 'pathname';
  }

  /**
   * Starts the driver of the pairing's server or client, by the transport the plan chose, and says
   * hello. It is stopped with the case, whatever happens.
   */
  async startDriver(role: Role, options: CaseDriverOptions = {}): Promise<Driver> {
    const impl = role === 'server' ? this.server : this.client;
    if (!impl.driver) throw new Unsupported(`${role} ${impl.name} has no driver`);
    const transport = this.pairing.transport?.[role] ?? (impl.driver.inProcess && options.uid === undefined ? 'in-process' : 'process');
    // Only a process can run as another user: a property that drops privileges says isolation: 'process'.
    if (transport === 'in-process' && (options.uid !== undefined || options.gid !== undefined)) {
      throw new Error(`${role} ${impl.name}'s driver was planned in-process, but the property runs it as another uid (it needs isolation: 'process')`);
    }
    const host = { dir: this.dir, signal: this.signal, extraEnv: this.options.env, addCleanup: (fn: () => void | Promise<void>) => void this.cleanups.push(fn) };
    if (transport === 'in-process') this.runsInProcess(`${role} ${impl.name}'s driver adapter`);
    return startDriver(host, impl.driver, { transport, label: `${role} ${impl.name}`, uid: options.uid, gid: options.gid });
  }

  /**
   * Starts a driver of the run's oracle peer (c-reference) beside the pairing's own, as a process
   * (an in-process adapter only when it has no command), for a property that runs the same steps on
   * the kernel's pairing in the same case (sequence.equivalent). Stopped with the case.
   */
  async startOracleDriver(label: string): Promise<Driver> {
    const impl = this.pairing.oracle;
    if (!impl?.driver) throw new Error(`this case has no oracle peer with a driver (the runner gives c-reference)`);
    const host = { dir: this.dir, signal: this.signal, extraEnv: this.options.env, addCleanup: (fn: () => void | Promise<void>) => void this.cleanups.push(fn) };
    const transport = impl.driver.command ? 'process' : 'in-process';
    // Four process drivers in one case hold more than Node's default of 10 listeners on the case's
    // deadline (each process a few, removed at its exit): not a leak, so no warning.
    setMaxListeners(Math.max(getMaxListeners(this.signal), 32), this.signal);
    if (transport === 'in-process') this.runsInProcess(`oracle ${impl.name}'s driver adapter`);
    return startDriver(host, impl.driver, { transport, label: `${label} ${impl.name}` });
  }

  /** The pairing's server, or for a client-scoped property the oracle peer. */
  get server(): Implementation {
    const impl = this.pairing.server ?? this.pairing.oracle;
    if (!impl) throw new Error('this property has no server in its pairing');
    return impl;
  }

  /** The pairing's client, or for a server-scoped property the oracle peer. */
  get client(): Implementation {
    const impl = this.pairing.client ?? this.pairing.oracle;
    if (!impl) throw new Error('this property has no client in its pairing');
    return impl;
  }

  /**
   * A short socket name, unique among live cases, relative to the case dir. It is short because the
   * seed's server binds only 14 bytes of its path (sizeof(struct sockaddr) - 2): every role runs with
   * its cwd in the case dir, so a short relative name works for every implementation.
   */
  socketName(): string {
    nameCounter = (nameCounter + 1) % 36 ** 4;
    return `s${process.pid.toString(36).slice(-4)}${nameCounter.toString(36)}`;
  }

  /**
   * A fresh abstract name (the bytes after the leading NUL), unique among live cases and runs: abstract
   * names live in the network namespace, not in the case dir, so the pid and a random part keep
   * parallel runs apart. `suffix` bytes are appended as they are (trailing NULs included).
   */
  abstractName(suffix: Uint8Array = new Uint8Array(0)): Buffer {
    nameCounter = (nameCounter + 1) % 36 ** 4;
    const random = Math.floor(Math.random() * 36 ** 4).toString(36);
    return Buffer.concat([Buffer.from(`udsc-${process.pid.toString(36)}-${nameCounter.toString(36)}-${random}`, 'latin1'), suffix]);
  }

  /** Absolute form of a case path, as the in-process roles (which share the harness's cwd) need it. */
  resolve(path: string): string {
    return isAbsolute(path) ? path : resolve(this.dir, path);
  }

  /** The case's payload dir (a sibling of the case dir, made on first use), removed with the case. */
  private payloadDir: string | undefined;
  private payloadDirMade: Promise<void> | undefined;

  /** The session's quiet period: how long nothing may happen once the client has every byte. */
  get quietMs(): number {
    return this.options.quietMs ?? DEFAULTS.quietMs;
  }

  async writePayloadFile(payload: Uint8Array): Promise<string> {
    // Payload files live outside the case dir (every role's cwd), in a private sibling that only the
    // server's argv names: a client that looks for the payload instead of connecting does not find it
    // where it runs (properties/session.ts proves the connection in any case).
    // Made once per case, under a temporary name inside the case dir (mkdtemp: 0700, ours; the case
    // dir's owner file covers it there), given its own owner file, then renamed into place: killed at
    // any moment, what is on disk is under an owner file, so the next run sweeps it (casedir.ts). (A
    // staging dir beside the case dir was, between its mkdtemp and its owner file, a dir nobody owned.)
    // A dir someone else made there first is never used: rename(2) fails on one with anything in it
    // and replaces an empty one with ours.
    const dir = `${this.dir}-p`;
    this.payloadDirMade ??= (async () => {
      const staging = await mkdtemp(join(this.dir, '.payload-'));
      try {
        markOwned(staging);
        await rename(staging, dir);
      } catch (err) {
        await rm(staging, { recursive: true, force: true });
        throw err;
      }
      this.payloadDir = dir;
    })();
    await this.payloadDirMade;
    const file = resolve(dir, `payload-${++nameCounter}.bin`);
    await writeFile(file, payload);
    return file;
  }

  /**
   * Leaves a stale socket at path: a socket inode nobody listens on, exactly what a SIGKILLed server
   * leaves behind. Made in-process (bind and listen under a temporary name, rename it over path, close:
   * libuv then unlinks only the temporary name, which no longer exists), so no extra process is needed.
   */
  async makeStaleSocket(path: string): Promise<void> {
    const target = this.resolve(path);
    if (this.socketType !== 'stream') return makeStaleSocketOfType(target, this.socketType);
    const temporary = resolve(this.dir, `_stale${++nameCounter}`);
    const server = net.createServer();
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(temporary, () => ok());
    });
    await rename(temporary, target);
    await new Promise<void>((ok) => server.close(() => ok()));
  }

  /** Starts the pairing's server and waits until its socket is listening (or it failed to get there). */
  async startServer(options: StartServerOptions, impl: Implementation = this.server): Promise<ServerHandle> {
    const spec = impl.server;
    if (!spec) throw new Unsupported(`${impl.name} has no server role`);
    const payload = spec.payload ? options.payload : undefined;
    if (this.useInProcess(spec, options)) {
      return this.startInProcessServer(impl, options.path, payload);
    }
    const template = payload === undefined ? serverTemplateWithoutPayload(impl) : spec.command!;
    const vars = this.commandVars(template, options.path);
    if (payload !== undefined) vars.payload = await this.writePayloadFile(payload);
    const command = prepareCommand(template, { dir: this.dir, vars, extraEnv: this.options.env });
    const stdout = new OutputCapture({ cap: 256 * 1024 });
    const argv = [...command.argv, ...(options.extraArgs ?? [])];
    const child = spawnProcess(options.umask === undefined ? argv : withUmask(options.umask, argv), {
      cwd: command.cwd,
      env: command.env,
      signal: this.signal,
      stdout,
      stdin: command.stdinFile !== undefined ? { file: command.stdinFile } : 'ignore',
    });
    this.cleanups.push(async () => {
      child.kill();
      await child.exited;
    });
    // A launched process's pid arrives a moment after the request: readiness needs it.
    await child.started;
    const ready = await waitListening({
      path: options.path,
      cwd: command.cwd,
      pid: child.pid,
      exited: child.exited,
      signal: this.signal,
      type: this.socketType,
    });
    if (!ready.ready && ready.boundPath !== undefined) {
      // A truncating bind can put the socket anywhere (even outside the case dir, e.g. /tmp/udsc-12):
      // remove what this server created once it is dead, so no socket file outlives the case.
      // Where readiness resolved it (the binder's cwd, which may not be the one it started in).
      const stray = ready.place?.kind === 'pathname' ? Buffer.from(ready.place.absolute, 'latin1').toString('utf8') : resolve(command.cwd, ready.boundPath);
      this.cleanups.unshift(() => removeSocketFile(stray));
    }
    return { path: options.path, ready, exited: child.exited, kill: child.kill, stdout, pid: child.pid };
  }

  /** Runs the pairing's client to completion and returns its summary and captured stdout. */
  async runClient(options: RunClientOptions, impl: Implementation = this.client): Promise<ClientResult> {
    const client = this.startClient(options, impl);
    return { stdout: client.stdout, summary: await client.exited };
  }

  /** Starts the pairing's client; the caller decides how long to wait for it. */
  startClient(options: RunClientOptions, impl: Implementation = this.client): ClientHandle {
    const spec = impl.client;
    if (!spec) throw new Unsupported(`${impl.name} has no client role`);
    const stdout = options.capture ?? new OutputCapture({ cap: options.stdoutCap ?? DEFAULTS.stdoutCap, expected: options.expected });
    if (this.useInProcess(spec, options)) {
      const path = this.resolve(options.path);
      this.runsInProcess(`client ${impl.name}`);
      const role = startInProcess(spec.inProcess!, (io) => ({ path, stdout: (chunk: Uint8Array) => stdout.push(chunk), ...io }), this.signal, () => stdout.length);
      this.cleanups.push(async () => {
        role.kill();
        await role.exited;
      });
      return { stdout, exited: role.exited, kill: role.kill };
    }
    const command = prepareCommand(spec.command!, { dir: this.dir, vars: this.commandVars(spec.command!, options.path), extraEnv: this.options.env });
    const child = spawnProcess([...command.argv, ...(options.extraArgs ?? [])], {
      cwd: command.cwd,
      stdin: command.stdinFile !== undefined ? { file: command.stdinFile } : 'ignore',
      env: command.env,
      signal: this.signal,
      stdout,
      uid: options.uid,
      gid: options.gid,
    });
    this.cleanups.push(async () => {
      child.kill();
      await child.exited;
    });
    return {
      stdout,
      exited: child.exited,
      kill: child.kill,
      get pid() {
        return child.pid;
      },
    };
  }

  /** Placeholder values; a command with a cwd of its own gets the socket path in absolute form. */
  private commandVars(template: CommandTemplate, path: string): { path: string; payload?: string } {
    return { path: template.cwd !== undefined ? this.resolve(path) : path };
  }

  private useInProcess(
    spec: { command?: CommandTemplate; inProcess?: unknown },
    options: { path: string; mode?: RunMode; extraArgs?: string[]; uid?: number; umask?: number },
  ): boolean {
    const forced = options.extraArgs || options.uid !== undefined || options.umask !== undefined || (this.options.forceProcess && spec.command);
    const mode = forced ? 'process' : (options.mode ?? 'auto');
    if (mode === 'process' || (mode === 'auto' && !spec.inProcess)) {
      if (!spec.command) throw new Unsupported('this role cannot run as a process');
      return false;
    }
    if (!spec.inProcess) throw new Unsupported('this role cannot run in-process');
    return true;
  }

  private async startInProcessServer(impl: Implementation, path: string, payload: Uint8Array | undefined): Promise<ServerHandle> {
    const started = performance.now();
    let listening!: () => void;
    const listened = new Promise<void>((r) => (listening = r));
    const absolute = this.resolve(path);
    let accepted = false;
    const onAccepted = (): void => void (accepted = true);
    this.runsInProcess(`server ${impl.name}`);
    const role = startInProcess(impl.server!.inProcess!, (io) => ({ path: absolute, payload, onListening: () => listening(), onAccepted, ...io }), this.signal);
    const exited = role.exited;
    this.cleanups.push(async () => {
      role.kill();
      await exited;
    });
    // An abort before this point (the deadline, Ctrl-C) fires no event any more: checked first.
    const aborted = new Promise<void>((r) => (this.signal.aborted ? r() : this.signal.addEventListener('abort', () => r(), { once: true })));
    const first = await Promise.race([listened.then(() => 'ready' as const), exited.then(() => 'exited' as const), aborted.then(() => 'deadline' as const)]);
    const waitedMs = performance.now() - started;
    const ready: ReadyOutcome =
      first === 'ready'
        ? confirmInProcessListening(absolute, this.socketType, waitedMs)
        : first === 'exited'
          ? { ready: false, reason: 'exited', detail: 'server finished before listening', waitedMs }
          : { ready: false, reason: 'deadline', detail: 'the case deadline passed before the server was listening', waitedMs };
    return { path, ready, exited, kill: role.kill, stdout: new OutputCapture({ cap: 0 }), acceptReported: () => accepted };
  }
}

/**
 * The command a server starts with when the case gives it no payload: its declared
 * `commandWithoutPayload`, or its `command` if that takes no {payload}. A command that takes one and
 * has no such twin (or says `payloadRequired`) is an error of the plan, which makes those units
 * unsupported (plan.ts): the argv is never edited to fit.
 */
function serverTemplateWithoutPayload(impl: Implementation): CommandTemplate {
  const spec = impl.server!;
  const template = spec.commandWithoutPayload ?? spec.command!;
  if (spec.payloadRequired || takesPayload(template)) {
    throw new Error(
      `server ${impl.name} cannot start without a payload (${spec.payloadRequired ? 'payloadRequired' : 'its command takes {payload} and it declares no commandWithoutPayload'}), and this case starts it without one: the plan should have made the unit unsupported`,
    );
  }
  return template;
}

/** argv run under a umask: `sh -c 'umask 077; exec "$@"' sh ARGV...` (exec keeps the pid readiness watches). */
function withUmask(umask: number, argv: string[]): string[] {
  if (!Number.isInteger(umask) || umask < 0 || umask > 0o777) throw new Error(`umask ${umask} is not a permission mask (0 to 0o777)`);
  return ['/bin/sh', '-c', `umask ${umask.toString(8).padStart(3, '0')}; exec "$@"`, 'sh', ...argv];
}

/** A stale socket of another type than stream: bound (and listening, unless datagram), then closed. */
async function makeStaleSocketOfType(target: string, type: SocketType): Promise<void> {
  // The addon only where node:net cannot help, so stream-only runs never load it.
  const native = await import('../../native/index.js');
  const fd = native.socket(type);
  try {
    native.bind(fd, target);
    if (type !== 'dgram') native.listen(fd);
  } finally {
    native.close(fd);
  }
}
