/**
 * The harness side of the driver protocol (docs/driver-protocol.md). A driver is a long-running
 * process of the subject: the harness writes one JSON command per line on its stdin and reads one
 * JSON answer per line from its stdout, in order. `startDriver` spawns one in the case dir (through
 * spawnProcess, so its process group dies with the case on every path) and `Driver` has one typed
 * method per command.
 *
 * Every wait observes the case deadline. An {ok:false} answer becomes a DriverError carrying the
 * errno name, number and system call; a driver that answers out of protocol (garbage, a wrong id, a
 * missing field) is reported as lying (CheckFailure, with the line); a driver that exits with status
 * 127, or answers a command with ENOTSUP from syscall "driver", declares the case unsupported.
 *
 * Longer than the usual 400 lines on purpose: it is the protocol's one home on the harness side (one
 * method per command, the answer parser and the lying checks share the pending-command state), and
 * splitting it would spread that state over modules.
 */
import type { Writable } from 'node:stream';
import { OutputCapture } from '../harness/capture.js';
import { expand, expandOne, type CaseContext } from '../harness/context.js';
import { spawnProcess, type Spawned } from '../harness/process.js';
import { CheckFailure, Unsupported, type CommandTemplate, type ProcessSummary } from '../model/types.js';

export const DRIVER_PROTOCOL = 'uds-driver/1';
/** Longest answer line accepted (a 64 MiB recv is ~90 MB of base64). */
const MAX_LINE = 128 * 1024 * 1024;
/** Lines kept for evidence, each cut to LINE_KEPT characters. */
const TRANSCRIPT_LINES = 40;
const LINE_KEPT = 240;

export interface DriverErrorInfo {
  /** errno name (glibc's spelling: EAGAIN, EOPNOTSUPP), or ENOTSUP from syscall "driver". */
  code: string;
  errno: number | null;
  /** The call that failed ("sendmsg"), or "driver" for the driver's own refusal. */
  syscall: string;
  message: string;
}

/** A command the driver answered with {ok:false}: an honest failure, errno and all. */
export class DriverError extends Error {
  constructor(
    /** The command that failed ("send"). */
    readonly command: string,
    readonly info: DriverErrorInfo,
    /** Which driver ("server c-reference"). */
    readonly driver: string,
  ) {
    super(`the ${driver} driver's ${command} failed: ${info.syscall}: ${info.message} (${info.code})`);
    this.name = 'DriverError';
  }
  get code(): string {
    return this.info.code;
  }
  get errno(): number | null {
    return this.info.errno;
  }
  get syscall(): string {
    return this.info.syscall;
  }
}

export interface StartDriverOptions {
  /** Names the driver in messages and evidence, e.g. "server c-reference". */
  label?: string;
  /** Run as this uid/gid (privilege drop). */
  uid?: number;
  gid?: number;
  /** Placeholder values besides {dir} (the case dir). */
  vars?: Record<string, string>;
  /** Send `hello` first and check the protocol version (default true). */
  hello?: boolean;
}

export interface FdStat {
  kind: string;
  dev: number;
  ino: number;
  cloexec: boolean;
  accmode: string | null;
  offset: number | null;
}
export interface RecvOptions {
  dataSize: number;
  /** Control buffer of exactly CMSG_LEN(controlFds * 4) bytes; 0 (default): no control buffer. */
  controlFds?: number;
  cloexec?: boolean;
  /** read(2) instead of recvmsg(2). */
  plain?: boolean;
  flags?: string[];
}
export interface SendOptions {
  fds?: string[];
  flags?: string[];
  /** One sendmsg only; by default what it leaves is sent plainly until all is sent. */
  once?: boolean;
}
export interface MkfdOptions {
  /** file | pipe | socket | memfd | dir | file:/ABSOLUTE-PATH */
  kind: string;
  index?: number;
  dir?: string;
  skip?: number;
  cloexec?: boolean;
}

/** Splits a driver's stdout into lines while keeping the usual bounded capture for evidence. */
class LineCapture extends OutputCapture {
  private partial: Buffer[] = [];
  private partialLength = 0;

  constructor(private readonly onLine: (line: string) => void, private readonly onOverflow: () => void) {
    super({ cap: 64 * 1024 });
  }

  override push(chunk: Uint8Array): void {
    super.push(chunk);
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a)) {
      this.partial.push(buf.subarray(0, nl));
      const line = Buffer.concat(this.partial, this.partialLength + nl).toString('utf8');
      this.partial = [];
      this.partialLength = 0;
      buf = buf.subarray(nl + 1);
      this.onLine(line);
    }
    if (buf.length > 0) {
      this.partial.push(Buffer.from(buf));
      this.partialLength += buf.length;
      if (this.partialLength > MAX_LINE) {
        this.partial = [];
        this.partialLength = 0;
        this.onOverflow();
      }
    }
  }
}

interface Pending {
  id: number;
  cmd: string;
  resolve: (answer: Record<string, unknown>) => void;
  reject: (err: unknown) => void;
}

function cut(line: string): string {
  return line.length > LINE_KEPT ? `${line.slice(0, LINE_KEPT)}… (${line.length} chars)` : line;
}

function exitText(p: ProcessSummary): string {
  if (p.signal) return `killed by ${p.signal}${p.timedOut ? ' (deadline)' : ''}`;
  return `exit ${p.exitCode}`;
}

export class Driver {
  private readonly pending: Pending[] = [];
  private readonly lines: string[] = [];
  private nextId = 1;
  private failure: unknown;
  private summary: ProcessSummary | undefined;
  private readonly onAbort = (): void =>
    this.fail(
      new CheckFailure({
        message: `the ${this.label} driver did not answer ${this.waitingFor()} before the case deadline`,
        expected: 'an answer to every command before the deadline',
        actual: 'no answer',
        details: { transcript: this.transcript() },
      }),
    );

  /** Resolves when the driver process has exited (never rejects). */
  readonly exited: Promise<ProcessSummary>;

  private constructor(
    readonly label: string,
    private readonly child: Spawned,
    private readonly stdin: Writable,
    private readonly signal: AbortSignal,
  ) {
    // A write to a driver that has died fails with EPIPE; its exit is reported instead.
    stdin.on('error', () => undefined);
    signal.addEventListener('abort', this.onAbort, { once: true });
    this.exited = child.exited.then((summary) => {
      this.summary = summary;
      signal.removeEventListener('abort', this.onAbort);
      if (this.pending.length > 0) this.fail(this.exitFailure(summary));
      return summary;
    });
  }

  /** Spawns a driver (see startDriver); internal: the LineCapture must exist before the process. */
  static spawn(ctx: CaseContext, template: CommandTemplate, options: StartDriverOptions = {}): Driver {
    const label = options.label ?? 'subject';
    const vars = { dir: ctx.dir, ...options.vars };
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    for (const [k, v] of Object.entries(template.env ?? {})) env[k] = expandOne(v, vars);
    let driver: Driver | undefined;
    const early: string[] = [];
    const stdout = new LineCapture(
      (line) => (driver ? driver.onLine(line) : early.push(line)),
      () => driver?.liar(`an answer line longer than ${MAX_LINE} bytes`, ''),
    );
    const child = spawnProcess(expand(template, vars), {
      cwd: template.cwd ?? ctx.dir,
      env,
      signal: ctx.signal,
      stdin: 'pipe',
      stdout,
      uid: options.uid,
      gid: options.gid,
    });
    if (!child.stdin) throw new Error('spawnProcess gave no stdin pipe');
    driver = new Driver(label, child, child.stdin, ctx.signal);
    for (const line of early) driver.onLine(line);
    return driver;
  }

  /** The last lines exchanged, `>` to the driver and `<` from it, long lines cut. */
  transcript(): string[] {
    return [...this.lines];
  }

  /** Kills the driver's process group (idempotent). */
  kill(): void {
    this.child.kill();
  }

  /** Kills the driver and waits for it: for cleanup paths. */
  async stop(): Promise<ProcessSummary> {
    this.kill();
    return this.exited;
  }

  // ---- the commands ----

  async hello(): Promise<{ protocol: string; implementation: string }> {
    const a = await this.request('hello', {});
    const protocol = this.str(a, 'hello', 'protocol');
    if (protocol !== DRIVER_PROTOCOL) this.lie(`hello answered protocol ${JSON.stringify(protocol)}, not ${JSON.stringify(DRIVER_PROTOCOL)}`, JSON.stringify(a));
    return { protocol, implementation: typeof a.implementation === 'string' ? a.implementation : '' };
  }

  async listen(path: string, backlog?: number): Promise<string> {
    return this.str(await this.request('listen', { path, backlog }), 'listen', 'sock');
  }

  async accept(sock: string): Promise<string> {
    return this.str(await this.request('accept', { sock }), 'accept', 'conn');
  }

  async connect(path: string): Promise<string> {
    return this.str(await this.request('connect', { path }), 'connect', 'conn');
  }

  /** Sends data (and fds, with its first byte); the byte count sent. */
  async send(conn: string, data: Uint8Array, options: SendOptions = {}): Promise<number> {
    const a = await this.request('send', {
      conn,
      data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
      fds: options.fds ?? [],
      flags: options.flags,
      once: options.once,
    });
    const sent = this.num(a, 'send', 'sent');
    if (sent < 0 || sent > data.length || (!options.once && sent !== data.length)) {
      this.lie(`send answered sent ${sent} for ${data.length} bytes${options.once ? ' (once)' : ''}`, JSON.stringify(a));
    }
    return sent;
  }

  async recv(conn: string, options: RecvOptions): Promise<{ data: Buffer; fds: string[]; flags: string[] }> {
    const a = await this.request('recv', { conn, ...options });
    const data = this.bytes(a, 'recv', 'data');
    if (data.length > options.dataSize) this.lie(`recv answered ${data.length} bytes for a buffer of ${options.dataSize}`, cut(JSON.stringify(a)));
    return { data, fds: this.strs(a, 'recv', 'fds'), flags: this.strs(a, 'recv', 'flags') };
  }

  async shutdown(conn: string, how: 'read' | 'write' | 'both'): Promise<void> {
    await this.request('shutdown', { conn, how });
  }

  async close(name: string): Promise<void> {
    await this.request('close', { name });
  }

  async mkfd(options: MkfdOptions): Promise<{ fd: string; dev: number; ino: number }> {
    const a = await this.request('mkfd', { ...options });
    return { fd: this.str(a, 'mkfd', 'fd'), dev: this.num(a, 'mkfd', 'dev'), ino: this.num(a, 'mkfd', 'ino') };
  }

  async stat(fd: string): Promise<FdStat> {
    const a = await this.request('stat', { fd });
    const offset = a.offset === null ? null : this.num(a, 'stat', 'offset');
    const accmode = a.accmode === null ? null : this.str(a, 'stat', 'accmode');
    if (typeof a.cloexec !== 'boolean') this.lie('stat answered without a boolean cloexec', JSON.stringify(a));
    return { kind: this.str(a, 'stat', 'kind'), dev: this.num(a, 'stat', 'dev'), ino: this.num(a, 'stat', 'ino'), cloexec: a.cloexec as boolean, accmode, offset };
  }

  /** Reads up to n bytes through fd; a failed read(2) is `error` (its errno name), not a throw. */
  async read(fd: string, n: number): Promise<{ data: Buffer; error: string | null }> {
    const a = await this.request('read', { fd, n });
    const error = a.error === null ? null : this.str(a, 'read', 'error');
    const data = this.bytes(a, 'read', 'data');
    if (data.length > n) this.lie(`read answered ${data.length} bytes for n = ${n}`, cut(JSON.stringify(a)));
    return { data, error };
  }

  /** The driver process's open fds (without the one that listed them), sorted. */
  async fds(): Promise<Array<{ fd: number; dev: number | null; ino: number | null }>> {
    const a = await this.request('fds', {});
    if (!Array.isArray(a.open)) this.lie('fds answered without an "open" array', cut(JSON.stringify(a)));
    return (a.open as unknown[]).map((o) => {
      const e = o as Record<string, unknown>;
      const ok = (v: unknown): v is number | null => v === null || (typeof v === 'number' && Number.isInteger(v));
      if (typeof e?.fd !== 'number' || !ok(e.dev) || !ok(e.ino)) this.lie('fds answered an entry that is not {fd, dev, ino}', cut(JSON.stringify(o)));
      return { fd: e.fd as number, dev: e.dev as number | null, ino: e.ino as number | null };
    });
  }

  /** Tries open(path, O_RDONLY): null when it opened, else the errno name. */
  async open(path: string): Promise<{ error: string | null }> {
    try {
      await this.request('open', { path });
      return { error: null };
    } catch (err) {
      if (err instanceof DriverError) return { error: err.code };
      throw err;
    }
  }

  async whoami(): Promise<{ uid: number; gid: number }> {
    const a = await this.request('whoami', {});
    return { uid: this.num(a, 'whoami', 'uid'), gid: this.num(a, 'whoami', 'gid') };
  }

  /** Asks the driver to close everything and exit with status; resolves with its summary. */
  async quit(status = 0): Promise<ProcessSummary> {
    await this.request('quit', { status });
    this.stdin.end();
    const summary = await this.exited;
    return summary;
  }

  // ---- the wire ----

  /** Sends one command and waits for its answer; {ok:false} rejects with DriverError. */
  request(cmd: string, fields: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.summary) return Promise.reject(this.exitFailure(this.summary, cmd));
    const id = this.nextId++;
    const line = JSON.stringify({ id, cmd, ...fields });
    this.record(`> ${line}`);
    return new Promise((resolve, reject) => {
      this.pending.push({ id, cmd, resolve, reject });
      this.stdin.write(`${line}\n`);
    });
  }

  private onLine(line: string): void {
    if (this.failure !== undefined) return;
    this.record(`< ${line}`);
    let answer: unknown;
    try {
      answer = JSON.parse(line);
    } catch {
      return void this.liar('a line on stdout that is not JSON', line);
    }
    if (typeof answer !== 'object' || answer === null || Array.isArray(answer) || typeof (answer as { ok?: unknown }).ok !== 'boolean') {
      return void this.liar('a line on stdout that is not an answer (a JSON object with a boolean "ok")', line);
    }
    const a = answer as Record<string, unknown>;
    const p = this.pending.shift();
    if (!p) return void this.liar('an answer to no command', line);
    if (a.id !== p.id) {
      this.pending.unshift(p);
      return void this.liar(`an answer with id ${JSON.stringify(a.id)} to command ${p.id} (${p.cmd})`, line);
    }
    if (a.ok) return p.resolve(a);
    const e = a.error as Record<string, unknown> | null | undefined;
    const errnoOk = e?.errno === null || (typeof e?.errno === 'number' && Number.isInteger(e.errno));
    if (typeof e !== 'object' || e === null || typeof e.code !== 'string' || typeof e.syscall !== 'string' || typeof e.message !== 'string' || !errnoOk) {
      this.pending.unshift(p);
      return void this.liar('a failure without an error {code, errno, syscall, message}', line);
    }
    const info: DriverErrorInfo = { code: e.code, errno: e.errno as number | null, syscall: e.syscall, message: e.message };
    if (info.code === 'ENOTSUP' && info.syscall === 'driver') {
      return p.reject(new Unsupported(`the ${this.label} driver cannot do ${p.cmd}: ${info.message}`));
    }
    p.reject(new DriverError(p.cmd, info, this.label));
  }

  private record(line: string): void {
    this.lines.push(cut(line));
    if (this.lines.length > TRANSCRIPT_LINES) this.lines.shift();
  }

  private waitingFor(cmd?: string): string {
    const c = cmd ?? this.pending[0]?.cmd;
    return c ? `\`${c}\`` : 'its command';
  }

  /** Throws the driver's lie (see liar). */
  private lie(problem: string, line: string): never {
    throw this.liar(problem, line);
  }

  /** Reports the driver as lying about the protocol; every waiting and later command fails with it. */
  private liar(problem: string, line: string): CheckFailure {
    const failure = new CheckFailure({
      message: `the ${this.label} driver lied (docs/driver-protocol.md): ${problem}`,
      expected: `one JSON answer line per command${this.pending[0] ? `, for ${this.pending[0].cmd} (id ${this.pending[0].id})` : ''}`,
      actual: JSON.stringify(cut(line)),
      details: { transcript: this.transcript() },
    });
    this.fail(failure);
    return failure;
  }

  private fail(failure: unknown): void {
    if (this.failure === undefined) this.failure = failure;
    for (const p of this.pending.splice(0)) p.reject(this.failure);
    this.kill();
  }

  private exitFailure(summary: ProcessSummary, cmd?: string): Error {
    if (summary.exitCode === 127 && !summary.spawnFailed) {
      return new Unsupported(`the ${this.label} driver exited with status 127: it declares this case unsupported`);
    }
    if (summary.spawnFailed && /EACCES/.test(summary.stderr)) {
      // Only a privilege drop makes an installed executable unreachable (e.g. python3 under /root/.pyenv).
      return new Unsupported(`the ${this.label} driver cannot be started as this user (${summary.stderr.trim()}): install it where an unprivileged user can run it`);
    }
    const stderr = summary.stderr.trim().slice(0, 300);
    const what = summary.spawnFailed
      ? `could not be started (${stderr})`
      : summary.timedOut
        ? `did not answer ${this.waitingFor(cmd)} before the case deadline`
        : `ended (${exitText(summary)}) without answering ${this.waitingFor(cmd)}`;
    return new CheckFailure({
      message: `the ${this.label} driver ${what}`,
      expected: 'an answer to every command',
      actual: `${exitText(summary)}${stderr ? `; stderr: ${stderr}` : ''}`,
      details: { transcript: this.transcript(), command: summary.command },
    });
  }

  // ---- answer fields (a wrong type is a lie) ----

  private str(a: Record<string, unknown>, cmd: string, key: string): string {
    const v = a[key];
    if (typeof v !== 'string') this.lie(`${cmd} answered ${key} = ${JSON.stringify(v) ?? 'nothing'}, not a string`, cut(JSON.stringify(a)));
    return v as string;
  }

  private num(a: Record<string, unknown>, cmd: string, key: string): number {
    const v = a[key];
    if (typeof v !== 'number' || !Number.isInteger(v)) this.lie(`${cmd} answered ${key} = ${JSON.stringify(v) ?? 'nothing'}, not an integer`, cut(JSON.stringify(a)));
    return v as number;
  }

  private strs(a: Record<string, unknown>, cmd: string, key: string): string[] {
    const v = a[key];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) this.lie(`${cmd} answered ${key} = ${cut(JSON.stringify(v) ?? 'nothing')}, not an array of strings`, cut(JSON.stringify(a)));
    return v as string[];
  }

  private bytes(a: Record<string, unknown>, cmd: string, key: string): Buffer {
    const v = this.str(a, cmd, key);
    if (v.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) this.lie(`${cmd} answered ${key} that is not base64`, cut(JSON.stringify(a)));
    return Buffer.from(v, 'base64');
  }
}

/**
 * Starts a driver for the case: cwd the template's or the case dir, placeholders {dir} (and any
 * given), the harness's environment plus the template's. With hello (default) it waits for the
 * driver's greeting, so a driver that cannot start, lies or exits 127 is known at once.
 */
export async function startDriver(ctx: CaseContext, template: CommandTemplate, options: StartDriverOptions = {}): Promise<Driver> {
  const driver = Driver.spawn(ctx, template, options);
  if (options.hello !== false) {
    try {
      await driver.hello();
    } catch (err) {
      await driver.stop();
      throw err;
    }
  }
  return driver;
}
