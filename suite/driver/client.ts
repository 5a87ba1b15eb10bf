/**
 * The one place a driver's answers are judged, for both transports: the transcript, the shape of every
 * answer (ajv, answers.ts), the values no honest driver answers, {ok:false} as DriverError, ENOTSUP
 * against what hello claimed, the case deadline and a driver that ends while a command waits. A
 * transport (process.ts, in-process.ts) only carries command lines out and answer lines back, so a
 * property cannot tell the two apart, and neither can a report.
 */
import { answerProblem } from './answers.js';
import { DriverError, type ConnectOptions, type Driver, type ListenOptions, type MkfdOptions, type RecvOptions, type RecvResult, type SendOptions } from './driver.js';
import { DRIVER_PROTOCOL, V1_CAPABILITIES, type Capabilities, type DriverErrorInfo, type FdStat, type HelloAnswer, type OpenFd, type SocketType } from './protocol.js';
import { declaredUnsupported, exitText } from '../model/format.js';
import { CheckFailure, Unsupported, type ProcessSummary } from '../model/types.js';

/** Lines kept for evidence, each cut to LINE_KEPT characters. */
const TRANSCRIPT_LINES = 40;
const LINE_KEPT = 240;

/** Where a transport delivers what comes back from the driver. */
export interface TransportSink {
  /** One answer line, exactly as the driver wrote it (without its newline). */
  answer(line: string): void;
  /** Something outside the protocol that the transport saw itself (an answer line over its limit). */
  violation(problem: string, line: string): void;
  /** The driver broke down without ending cleanly (an adapter that threw without an errno code). */
  crash(what: string, detail: string): void;
}

/**
 * Carries command lines to a driver and its answer lines back; judges nothing. Answers arrive in the
 * order the driver wrote them; a transport buffers any that come before `attach`.
 */
export interface DriverTransport {
  readonly how: ProcessSummary['how'];
  /** Called once, by the client, before the first request. */
  attach(sink: TransportSink): void;
  /** One command: as an object (what an adapter is given) and as its JSON line (what a process reads). */
  request(command: Record<string, unknown>, line: string): void;
  /** No more commands (a process driver's end of stdin). */
  end(): void;
  /** Resolves when the driver has finished (never rejects). */
  readonly exited: Promise<ProcessSummary>;
  /** Ends the driver at once; idempotent. */
  kill(): void;
}

interface Pending {
  id: number;
  cmd: string;
  fields: Record<string, unknown>;
  resolve: (answer: Record<string, unknown>) => void;
  reject: (err: unknown) => void;
}

function cut(line: string): string {
  return line.length > LINE_KEPT ? `${line.slice(0, LINE_KEPT)}… (${line.length} chars)` : line;
}

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

export interface DriverClientOptions {
  /** Names the driver in messages and evidence, e.g. "server c-reference". */
  label: string;
  /** The case deadline: aborting it fails every waiting and later command. */
  signal: AbortSignal;
}

export class DriverClient implements Driver {
  readonly label: string;
  readonly exited: Promise<ProcessSummary>;
  private readonly signal: AbortSignal;
  private readonly pending: Pending[] = [];
  private readonly lines: string[] = [];
  private nextId = 1;
  private failure: unknown;
  private summary: ProcessSummary | undefined;
  /** What hello claimed; undefined until it answered (nothing is claimed before). */
  private claimed: Capabilities | undefined;
  private readonly onAbort = (): void => this.fail(this.deadlineFailure());

  constructor(
    private readonly transport: DriverTransport,
    options: DriverClientOptions,
  ) {
    this.label = options.label;
    this.signal = options.signal;
    this.signal.addEventListener('abort', this.onAbort, { once: true });
    this.exited = transport.exited.then((summary) => {
      this.summary = summary;
      this.signal.removeEventListener('abort', this.onAbort);
      if (this.pending.length > 0) this.fail(this.exitFailure(summary));
      return summary;
    });
    transport.attach({
      answer: (line) => this.onLine(line),
      violation: (problem, line) => void this.liar(problem, line),
      crash: (what, detail) => this.fail(this.crashFailure(what, detail)),
    });
  }

  get capabilities(): Capabilities {
    return this.claimed ?? V1_CAPABILITIES;
  }

  transcript(): string[] {
    return [...this.lines];
  }

  kill(): void {
    this.transport.kill();
  }

  async stop(): Promise<ProcessSummary> {
    this.kill();
    return this.exited;
  }

  // ---- the commands: the answer's shape is checked already (onLine), so these only convert ----

  async hello(): Promise<HelloAnswer> {
    const a = await this.request('hello', {});
    const capabilities = (a.capabilities as Capabilities | undefined) ?? V1_CAPABILITIES;
    this.claimed = capabilities;
    return { protocol: a.protocol as string, implementation: typeof a.implementation === 'string' ? a.implementation : '', capabilities };
  }

  async listen(path: string, options: ListenOptions = {}): Promise<string> {
    return (await this.request('listen', { path, backlog: options.backlog, type: options.type })).sock as string;
  }

  async accept(sock: string): Promise<string> {
    return (await this.request('accept', { sock })).conn as string;
  }

  async connect(path: string, options: ConnectOptions = {}): Promise<string> {
    return (await this.request('connect', { path, type: options.type })).conn as string;
  }

  async send(conn: string, data: Uint8Array, options: SendOptions = {}): Promise<number> {
    const a = await this.request('send', { conn, data: base64(data), fds: options.fds ?? [], flags: options.flags, once: options.once });
    return a.sent as number;
  }

  async recv(conn: string, options: RecvOptions): Promise<RecvResult> {
    const a = await this.request('recv', { conn, ...options });
    return { data: Buffer.from(a.data as string, 'base64'), fds: a.fds as string[], flags: a.flags as string[] };
  }

  async shutdown(conn: string, how: 'read' | 'write' | 'both'): Promise<void> {
    await this.request('shutdown', { conn, how });
  }

  async close(name: string): Promise<void> {
    await this.request('close', { name });
  }

  async mkfd(options: MkfdOptions): Promise<{ fd: string; dev: number; ino: number }> {
    const a = await this.request('mkfd', { ...options });
    return { fd: a.fd as string, dev: a.dev as number, ino: a.ino as number };
  }

  async stat(fd: string): Promise<FdStat> {
    const a = await this.request('stat', { fd });
    return { kind: a.kind as string, dev: a.dev as number, ino: a.ino as number, cloexec: a.cloexec as boolean, accmode: a.accmode as string | null, offset: a.offset as number | null };
  }

  async read(fd: string, n: number): Promise<{ data: Buffer; error: string | null }> {
    const a = await this.request('read', { fd, n });
    return { data: Buffer.from(a.data as string, 'base64'), error: a.error as string | null };
  }

  async fds(): Promise<OpenFd[]> {
    const a = await this.request('fds', {});
    return (a.open as OpenFd[]).map((o) => ({ fd: o.fd, dev: o.dev, ino: o.ino }));
  }

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
    return { uid: a.uid as number, gid: a.gid as number };
  }

  async quit(status = 0): Promise<ProcessSummary> {
    await this.request('quit', { status });
    this.transport.end();
    return this.exited;
  }

  // ---- the wire ----

  request(cmd: string, fields: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.summary) return Promise.reject(this.exitFailure(this.summary, cmd));
    if (this.signal.aborted) {
      this.fail(this.deadlineFailure(cmd));
      return Promise.reject(this.failure);
    }
    const id = this.nextId++;
    const command = { id, cmd, ...fields };
    const line = JSON.stringify(command);
    this.record(`> ${line}`);
    return new Promise((resolve, reject) => {
      this.pending.push({ id, cmd, fields, resolve, reject });
      this.transport.request(command, line);
    });
  }

  private onLine(line: string): void {
    if (this.failure !== undefined) return;
    this.record(`< ${line}`);
    let answer: unknown;
    try {
      answer = JSON.parse(line);
    } catch {
      return void this.liar('an answer line that is not JSON', line);
    }
    if (typeof answer !== 'object' || answer === null || Array.isArray(answer) || typeof (answer as { ok?: unknown }).ok !== 'boolean') {
      return void this.liar('an answer line that is not an answer (a JSON object with a boolean "ok")', line);
    }
    const a = answer as Record<string, unknown>;
    const p = this.pending[0];
    if (!p) return void this.liar('an answer to no command', line);
    if (a.id !== p.id) return void this.liar(`an answer with id ${JSON.stringify(a.id)} to command ${p.id} (${p.cmd})`, line);
    const problem = answerProblem(p.cmd, a) ?? (a.ok ? impossibleValue(p, a) : undefined);
    if (problem !== undefined) return void this.liar(problem, line);
    this.pending.shift();
    if (a.ok) return p.resolve(a);
    const info = a.error as DriverErrorInfo;
    if (info.code === 'ENOTSUP' && info.syscall === 'driver') return p.reject(this.notSupported(p, info));
    p.reject(new DriverError(p.cmd, { code: info.code, errno: info.errno, syscall: info.syscall, message: info.message }, this.label));
  }

  /**
   * The driver's "cannot do that": unsupported when it concerns something hello did not claim (or
   * before hello claimed anything); a failure when hello claimed all of it, because the plan chose
   * this case on that claim.
   */
  private notSupported(p: Pending, info: DriverErrorInfo): Error {
    const claimed = this.claimed;
    const involved = claimsOf(p);
    if (!claimed || involved.some((c) => !c.within(claimed))) {
      return new Unsupported(`the ${this.label} driver cannot do ${p.cmd}: ${info.message}`);
    }
    const what = involved.map((c) => c.what).join(' with ');
    return new CheckFailure({
      message: `the ${this.label} driver claims ${what} in hello but answered ENOTSUP`,
      expected: `${what} works, as hello claimed`,
      actual: `ENOTSUP from "driver": ${info.message}`,
      details: { capabilities: claimed, transcript: this.transcript() },
    });
  }

  private record(line: string): void {
    this.lines.push(cut(line));
    if (this.lines.length > TRANSCRIPT_LINES) this.lines.shift();
  }

  private waitingFor(cmd?: string): string {
    const c = cmd ?? this.pending[0]?.cmd;
    return c ? `\`${c}\`` : 'its command';
  }

  /** Reports the driver as lying about the protocol; every waiting and later command fails with it. */
  private liar(problem: string, line: string): CheckFailure {
    const p = this.pending[0];
    const failure = new CheckFailure({
      message: `the ${this.label} driver lied (docs/driver-protocol.md): ${problem}`,
      expected: `one JSON answer line per command${p ? `, for ${p.cmd} (id ${p.id})` : ''}`,
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

  private deadlineFailure(cmd?: string): CheckFailure {
    return new CheckFailure({
      message: `the ${this.label} driver did not answer ${this.waitingFor(cmd)} before the case deadline`,
      expected: 'an answer to every command before the deadline',
      actual: 'no answer',
      details: { transcript: this.transcript() },
    });
  }

  private crashFailure(what: string, detail: string): CheckFailure {
    return new CheckFailure({
      message: `the ${this.label} driver crashed in ${what}: ${detail.split('\n')[0]}`,
      expected: 'an answer to every command: ok, or an error with an errno code',
      actual: detail.slice(0, 600),
      details: { transcript: this.transcript() },
    });
  }

  private exitFailure(summary: ProcessSummary, cmd?: string): Error {
    const declared = declaredUnsupported(summary, `the ${this.label} driver`);
    if (declared) return new Unsupported(declared);
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
      details: { transcript: this.transcript(), ...(summary.command ? { command: summary.command } : {}) },
    });
  }
}

/** One thing a command relies on that hello may claim: the command itself, a socket type, fd passing. */
interface Claim {
  what: string;
  within: (c: Capabilities) => boolean;
}

function claimsOf(p: Pending): Claim[] {
  const claims: Claim[] = [{ what: `\`${p.cmd}\``, within: (c) => c.commands.includes(p.cmd) }];
  if (p.cmd === 'listen' || p.cmd === 'connect') {
    const type = (p.fields.type as SocketType | undefined) ?? 'stream';
    claims.push({ what: `socket type ${type}`, within: (c) => c.types.includes(type) });
  }
  const passesFds = (p.cmd === 'send' && Array.isArray(p.fields.fds) && p.fields.fds.length > 0) || (p.cmd === 'recv' && typeof p.fields.controlFds === 'number' && p.fields.controlFds > 0);
  if (passesFds || ['mkfd', 'stat', 'read', 'fds'].includes(p.cmd)) claims.push({ what: 'fd passing', within: (c) => c.fds });
  return claims;
}

/** A value no honest driver answers to this command (the schema has said the types are right). */
function impossibleValue(p: Pending, a: Record<string, unknown>): string | undefined {
  switch (p.cmd) {
    case 'hello':
      return a.protocol === DRIVER_PROTOCOL ? undefined : `hello answered protocol ${JSON.stringify(a.protocol)}, not ${JSON.stringify(DRIVER_PROTOCOL)}`;
    case 'send': {
      const length = Buffer.byteLength(String(p.fields.data ?? ''), 'base64');
      const sent = a.sent as number;
      const once = p.fields.once === true;
      return sent < 0 || sent > length || (!once && sent !== length) ? `send answered sent ${sent} for ${length} bytes${once ? ' (once)' : ''}` : undefined;
    }
    case 'recv':
    case 'read':
      if ((a.data as string).length % 4 !== 0) return `${p.cmd} answered data that is not base64 (its length is not a multiple of 4)`;
      return p.cmd === 'recv' ? tooLong(a, 'dataSize', p.fields.dataSize) : tooLong(a, 'n', p.fields.n);
    default:
      return undefined;
  }
}

/** More bytes than the command asked for. */
function tooLong(a: Record<string, unknown>, field: string, limit: unknown): string | undefined {
  const length = Buffer.byteLength(a.data as string, 'base64');
  if (typeof limit !== 'number' || length <= limit) return undefined;
  return field === 'n' ? `read answered ${length} bytes for n = ${limit}` : `recv answered ${length} bytes for a buffer of ${limit}`;
}
