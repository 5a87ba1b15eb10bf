/**
 * The one place a driver's answers are judged, for both transports: the transcript, the shape of every
 * answer (ajv, answers.ts), the values no honest driver answers, {ok:false} as DriverError, ENOTSUP
 * against what hello claimed, the case deadline and a driver that ends while a command waits. A
 * transport (process.ts, in-process.ts) only carries command lines out and answer lines back, so a
 * property cannot tell the two apart, and neither can a report.
 *
 * Over 400 lines on purpose: the claims a command relies on (claimsOf) and the values no honest driver
 * answers (impossibleValue) are the client's judgement of each answer, and read best beside the wire
 * code that calls them; uds-driver/2's per-socket claims and its new answers grew both.
 */
import { answerProblem } from './answers.js';
import { addressFields, decodeSockName, DriverError, type Address, type ConnectOptions, type Driver, type ListenOptions, type MkfdOptions, type RecvOptions, type RecvResult, type SendOptions, type SockName } from './driver.js';
import {
  DRIVER_PROTOCOLS,
  socketsOf,
  V1_CAPABILITIES,
  type AddressKind,
  type Capabilities,
  type ControlMessage,
  type DriverErrorInfo,
  type FdStat,
  type HelloAnswer,
  type OpenFd,
  type RlimitResource,
  type SocketFeature,
  type SocketOption,
  type SocketType,
  type Ucred,
} from './protocol.js';
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

/** An Address as wire fields: {path} or {abstract: base64}; {} for none (bind's autobind). */
function wireAddress(address: Address | undefined): { path?: string; abstract?: string } {
  const f = addressFields(address);
  return f.abstract !== undefined ? { abstract: base64(f.abstract) } : f.path !== undefined ? { path: f.path } : {};
}

/** The address kind a command's wire fields name, if they name one. */
function kindOf(fields: Record<string, unknown>): AddressKind | undefined {
  return typeof fields.abstract === 'string' ? 'abstract' : typeof fields.path === 'string' ? 'pathname' : undefined;
}

/** What the client knows of a socket it was handed: the type and address kind it was made with. */
interface SocketOrigin {
  type?: SocketType;
  address?: AddressKind;
}

/** An address answer ({length, bytes: base64}) decoded. */
const sockName = (a: { length: number; bytes: string }): SockName => decodeSockName(a.length, Buffer.from(a.bytes, 'base64'));

export interface DriverClientOptions {
  /** Names the driver in messages and evidence, e.g. "server c-reference". */
  label: string;
  /** The case deadline: aborting it fails every waiting and later command. */
  signal: AbortSignal;
}

export class DriverClient implements Driver {
  readonly label: string;
  readonly exited: Promise<ProcessSummary>;
  private signal: AbortSignal;
  private readonly pending: Pending[] = [];
  private readonly lines: string[] = [];
  private nextId = 1;
  private failure: unknown;
  private summary: ProcessSummary | undefined;
  /** What hello claimed; undefined until it answered (nothing is claimed before). */
  private claimed: Capabilities | undefined;
  /** The socket type and address kind of each socket name handed out, for judging ENOTSUP by its socket. */
  private readonly origins = new Map<string, SocketOrigin>();
  private readonly onAbort = (): void => this.fail(this.deadlineFailure());
  /** kill() was called: the driver's end is the harness's doing. */
  private killed = false;

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
    this.killed = true;
    this.transport.kill();
  }

  async stop(): Promise<ProcessSummary> {
    this.kill();
    return this.exited;
  }

  // ---- the commands: the answer's shape is checked already (onLine), so these only convert ----

  async hello(): Promise<HelloAnswer> {
    const a = await this.request('hello', {});
    const answered = a.capabilities as Capabilities | undefined;
    // uds-driver/1 had no `sockets`: its answer keeps its own meaning (socketsOf derives the entries).
    const capabilities = !answered ? V1_CAPABILITIES : a.protocol === 'uds-driver/1' ? withoutSockets(answered) : answered;
    this.claimed = capabilities;
    return { protocol: a.protocol as string, implementation: typeof a.implementation === 'string' ? a.implementation : '', capabilities };
  }

  async listen(address: Address, options: ListenOptions = {}): Promise<string> {
    return (await this.request('listen', { ...wireAddress(address), backlog: options.backlog, type: options.type })).sock as string;
  }

  async bind(address: Address | undefined, options: { type?: SocketType } = {}): Promise<string> {
    return (await this.request('bind', { ...wireAddress(address), type: options.type })).sock as string;
  }

  async accept(sock: string): Promise<string> {
    return (await this.request('accept', { sock })).conn as string;
  }

  async connect(address: Address, options: ConnectOptions = {}): Promise<string> {
    return (await this.request('connect', { ...wireAddress(address), type: options.type, sock: options.sock, nonblock: options.nonblock })).conn as string;
  }

  async send(conn: string, data: Uint8Array, options: SendOptions = {}): Promise<number> {
    const a = await this.request('send', { conn, data: base64(data), fds: options.fds ?? [], flags: options.flags, once: options.once, credentials: options.credentials });
    return a.sent as number;
  }

  async sendto(sock: string, to: Address, data: Uint8Array, options: Omit<SendOptions, 'once'> = {}): Promise<number> {
    const a = await this.request('sendto', { sock, ...wireAddress(to), data: base64(data), fds: options.fds ?? [], flags: options.flags, credentials: options.credentials });
    return a.sent as number;
  }

  async recv(conn: string, options: RecvOptions): Promise<RecvResult> {
    return recvResult(await this.request('recv', { conn, ...options }));
  }

  async recvfrom(sock: string, options: RecvOptions): Promise<RecvResult & { from: SockName | null }> {
    const a = await this.request('recvfrom', { conn: sock, ...options });
    const from = a.from as { length: number; bytes: string } | null;
    return { ...recvResult(a), from: from === null ? null : sockName(from) };
  }

  async getsockname(name: string): Promise<SockName> {
    return sockName((await this.request('getsockname', { name })) as unknown as { length: number; bytes: string });
  }

  async getpeername(name: string): Promise<SockName> {
    return sockName((await this.request('getpeername', { name })) as unknown as { length: number; bytes: string });
  }

  async setsockopt(name: string, option: SocketOption, value: number): Promise<void> {
    await this.request('setsockopt', { name, option, value });
  }

  async getsockopt(name: string, option: SocketOption): Promise<number> {
    return (await this.request('getsockopt', { name, option })).value as number;
  }

  async peercred(name: string): Promise<Ucred> {
    const a = await this.request('peercred', { name });
    return { pid: a.pid as number, uid: a.uid as number, gid: a.gid as number };
  }

  async setrlimit(resource: RlimitResource, soft: number): Promise<number> {
    return (await this.request('setrlimit', { resource, soft })).previous as number;
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

  async whoami(): Promise<{ uid: number; gid: number; pid?: number }> {
    const a = await this.request('whoami', {});
    return { uid: a.uid as number, gid: a.gid as number, ...(typeof a.pid === 'number' ? { pid: a.pid } : {}) };
  }

  async reset(options: { dir?: string } = {}): Promise<void> {
    await this.request('reset', { dir: options.dir });
    this.origins.clear();
    this.lines.length = 0;
  }

  useDeadline(signal: AbortSignal): void {
    this.signal.removeEventListener('abort', this.onAbort);
    this.signal = signal;
    if (signal.aborted) return this.onAbort();
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  async quit(status = 0): Promise<ProcessSummary> {
    // Killed by the harness (a sequence's kill command, suite/sequence/): it has ended already, on
    // purpose, so there is nothing to ask and nothing to report.
    if (this.killed) return this.exited;
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
    if (a.ok) {
      this.remember(p, a);
      return p.resolve(a);
    }
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
    const involved = claimsOf(p, (name) => this.origins.get(name) ?? {});
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

  /** Notes the type and address kind of a socket an answer handed out (listen, bind, connect, accept). */
  private remember(p: Pending, a: Record<string, unknown>): void {
    const f = p.fields;
    const type = typeof f.type === 'string' ? (f.type as SocketType) : undefined;
    switch (p.cmd) {
      case 'listen':
        this.origins.set(a.sock as string, { type: type ?? 'stream', address: kindOf(f) });
        break;
      case 'bind':
        // No address: autobind, which gives an abstract name.
        this.origins.set(a.sock as string, { type: type ?? 'stream', address: kindOf(f) ?? 'abstract' });
        break;
      case 'connect': {
        const existing = typeof f.sock === 'string' ? this.origins.get(f.sock) : undefined;
        this.origins.set(a.conn as string, existing ? { ...existing } : { type: type ?? 'stream', address: kindOf(f) });
        break;
      }
      case 'accept':
        this.origins.set(a.conn as string, { ...(this.origins.get(p.fields.sock as string) ?? {}) });
        break;
    }
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

/** uds-driver/1's capabilities have no `sockets`: a v1 hello that sends one anyway keeps v1's meaning. */
function withoutSockets(c: Capabilities): Capabilities {
  const { sockets: _ignored, ...v1 } = c;
  return v1;
}

/** recv's (or recvfrom's) answer with `length` and `control` always filled (a v1 answer has neither). */
function recvResult(a: Record<string, unknown>): RecvResult {
  const data = Buffer.from(a.data as string, 'base64');
  const fds = a.fds as string[];
  const control = Array.isArray(a.control)
    ? (a.control as Array<Record<string, unknown>>).map(controlMessage)
    : fds.length > 0
      ? [{ type: 'SCM_RIGHTS' as const, fds: [...fds] }]
      : [];
  return { data, fds, flags: a.flags as string[], length: typeof a.length === 'number' ? a.length : data.length, control };
}

function controlMessage(m: Record<string, unknown>): ControlMessage {
  switch (m.type) {
    case 'SCM_RIGHTS':
      return { type: 'SCM_RIGHTS', fds: [...(m.fds as string[])] };
    case 'SCM_CREDENTIALS':
      return { type: 'SCM_CREDENTIALS', pid: m.pid as number, uid: m.uid as number, gid: m.gid as number };
    default:
      return { type: 'other', level: m.level as number, cmsgType: m.cmsgType as number, bytes: Buffer.from(m.bytes as string, 'base64') };
  }
}

/** One thing a command relies on that hello may claim: the command itself, a socket, a feature there. */
interface Claim {
  what: string;
  within: (c: Capabilities) => boolean;
}

/** Where a command acts, as far as it is known: its socket's type and address kind. */
type Where = SocketOrigin;

function whereText(w: Where): string {
  if (w.type && w.address) return `${w.type} × ${w.address}`;
  if (w.type) return `${w.type} sockets`;
  if (w.address) return `${w.address} addresses`;
  return 'any socket';
}

/** The socket entries of c a command at w may be judged by: the one entry when both are known, else every entry that fits. */
const entriesAt = (c: Capabilities, w: Where) => socketsOf(c).filter((s) => (!w.type || s.type === w.type) && (!w.address || s.address === w.address));

function socketClaim(w: Where): Claim {
  return { what: `${w.type ? `${w.type} sockets` : 'sockets'}${w.address ? ` at ${w.address} addresses` : ''}`, within: (c) => entriesAt(c, w).length > 0 };
}

function featureClaim(feature: SocketFeature, w: Where): Claim {
  return { what: `the feature ${feature} (${whereText(w)})`, within: (c) => entriesAt(c, w).some((s) => s.features.includes(feature)) };
}

/**
 * What a command relies on, each judged at its socket where the client knows it (the type and address
 * kind the command names, or those of the socket it acts on), else against any socket entry.
 */
function claimsOf(p: Pending, originOf: (name: string) => SocketOrigin): Claim[] {
  const f = p.fields;
  const claims: Claim[] = [{ what: `\`${p.cmd}\``, within: (c) => c.commands.includes(p.cmd) }];
  const named = (key: string): SocketOrigin => (typeof f[key] === 'string' ? originOf(f[key] as string) : {});
  const type = typeof f.type === 'string' ? (f.type as SocketType) : undefined;
  let where: Where = {};
  switch (p.cmd) {
    case 'listen':
      where = { type: type ?? 'stream', address: kindOf(f) };
      claims.push(socketClaim(where));
      break;
    case 'bind':
      where = { type: type ?? 'stream', address: kindOf(f) ?? 'abstract' };
      claims.push(socketClaim(where));
      if (kindOf(f) === undefined) claims.push(featureClaim('autobind', where));
      break;
    case 'connect':
      where = typeof f.sock === 'string' ? { ...named('sock'), address: kindOf(f) } : { type: type ?? 'stream', address: kindOf(f) };
      claims.push(socketClaim(where));
      break;
    case 'sendto':
      where = { type: named('sock').type, address: kindOf(f) ?? named('sock').address };
      claims.push(socketClaim(where));
      break;
    case 'send':
    case 'recv':
    case 'recvfrom':
    case 'shutdown':
      where = named('conn');
      break;
    case 'accept':
      where = named('sock');
      break;
    case 'getsockname':
    case 'getpeername':
    case 'setsockopt':
    case 'getsockopt':
    case 'peercred':
      where = named('name');
      break;
    // setrlimit limits the driver's process, no socket: judged by `commands` alone. So is connect's
    // `nonblock`, an option no capability covers (docs/driver-protocol.md, Errors).
  }
  const features = new Set<SocketFeature>();
  const list = (key: string): unknown[] => (Array.isArray(f[key]) ? (f[key] as unknown[]) : []);
  if ((p.cmd === 'send' || p.cmd === 'sendto') && list('fds').length > 0) features.add('fds');
  if ((p.cmd === 'recv' || p.cmd === 'recvfrom') && typeof f.controlFds === 'number' && f.controlFds > 0) features.add('fds');
  if (['mkfd', 'stat', 'read', 'fds'].includes(p.cmd)) features.add('fds');
  if ((p.cmd === 'send' || p.cmd === 'sendto') && f.credentials !== undefined && f.credentials !== null) features.add('sendcred');
  if ((p.cmd === 'recv' || p.cmd === 'recvfrom') && f.credentials === true) features.add('passcred');
  if ((p.cmd === 'recv' || p.cmd === 'recvfrom') && list('flags').includes('MSG_TRUNC')) features.add('msg-trunc');
  if ((p.cmd === 'recv' || p.cmd === 'recvfrom') && list('flags').includes('MSG_PEEK')) features.add('msg-peek');
  if (p.cmd === 'recv' && list('flags').includes('MSG_WAITALL')) features.add('msg-waitall');
  if (['recv', 'recvfrom', 'send', 'sendto'].includes(p.cmd) && list('flags').includes('MSG_DONTWAIT')) features.add('msg-dontwait');
  if (p.cmd === 'shutdown' && (f.how === 'read' || f.how === 'both')) features.add('shutdown-read');
  if (p.cmd === 'setsockopt' || p.cmd === 'getsockopt') features.add(f.option === 'SO_PASSCRED' ? 'passcred' : 'sndbuf');
  if (p.cmd === 'peercred') features.add('peercred');
  if (p.cmd === 'getsockname' || p.cmd === 'getpeername') features.add('getsockname');
  for (const feature of features) claims.push(feature === 'fds' && !where.type && !where.address ? { what: 'fd passing', within: (c) => entriesAt(c, {}).some((s) => s.features.includes('fds')) } : featureClaim(feature, where));
  return claims;
}

/** A value no honest driver answers to this command (the schema has said the types are right). */
function impossibleValue(p: Pending, a: Record<string, unknown>): string | undefined {
  switch (p.cmd) {
    case 'hello':
      if (!DRIVER_PROTOCOLS.includes(a.protocol as string)) return `hello answered protocol ${JSON.stringify(a.protocol)}, not one of ${DRIVER_PROTOCOLS.map((v) => JSON.stringify(v)).join(', ')}`;
      return a.protocol === 'uds-driver/1' || !a.capabilities ? undefined : inconsistentSockets(a.capabilities as Capabilities);
    case 'send': {
      const length = Buffer.byteLength(String(p.fields.data ?? ''), 'base64');
      const sent = a.sent as number;
      const once = p.fields.once === true;
      return sent < 0 || sent > length || (!once && sent !== length) ? `send answered sent ${sent} for ${length} bytes${once ? ' (once)' : ''}` : undefined;
    }
    case 'sendto': {
      const length = Buffer.byteLength(String(p.fields.data ?? ''), 'base64');
      const sent = a.sent as number;
      return sent > length ? `sendto answered sent ${sent} for ${length} bytes` : undefined;
    }
    case 'recv':
    case 'recvfrom':
    case 'read': {
      if ((a.data as string).length % 4 !== 0) return `${p.cmd} answered data that is not base64 (its length is not a multiple of 4)`;
      if (p.cmd === 'read') return tooLong(a, 'n', p.fields.n, p.cmd);
      return tooLong(a, 'dataSize', p.fields.dataSize, p.cmd) ?? impossibleRecv(p, a);
    }
    case 'getsockname':
    case 'getpeername':
      return impossibleAddress(p.cmd, a as { length: number; bytes: string });
    default:
      return undefined;
  }
}

/** recv's `length` against its data, and `control`'s fds against `fds`. */
function impossibleRecv(p: Pending, a: Record<string, unknown>): string | undefined {
  const dataLength = Buffer.byteLength(a.data as string, 'base64');
  if (typeof a.length === 'number') {
    const truncInput = Array.isArray(p.fields.flags) && p.fields.flags.includes('MSG_TRUNC');
    if (a.length < dataLength) return `${p.cmd} answered length ${a.length} with ${dataLength} bytes of data`;
    if (a.length > dataLength && !truncInput) return `${p.cmd} answered length ${a.length} with ${dataLength} bytes of data, and MSG_TRUNC was not an input flag`;
  }
  if (Array.isArray(a.control)) {
    const inControl = (a.control as Array<{ type: string; fds?: string[] }>).flatMap((m) => (m.type === 'SCM_RIGHTS' ? (m.fds ?? []) : []));
    const fds = a.fds as string[];
    if (inControl.length !== fds.length || inControl.some((name, i) => name !== fds[i])) {
      return `${p.cmd} answered fds ${JSON.stringify(fds)} but its SCM_RIGHTS control messages hold ${JSON.stringify(inControl)}`;
    }
  }
  if (p.cmd === 'recvfrom' && a.from !== null && a.from !== undefined) return impossibleAddress('recvfrom', a.from as { length: number; bytes: string }, 'from');
  return undefined;
}

/** An address answer whose bytes are not sun_path's first (length - 2) bytes. */
function impossibleAddress(cmd: string, a: { length: number; bytes: string }, field?: string): string | undefined {
  const n = Buffer.byteLength(a.bytes, 'base64');
  if (a.bytes.length % 4 !== 0) return `${cmd} answered ${field ? `${field}.` : ''}bytes that are not base64 (its length is not a multiple of 4)`;
  return n === a.length - 2 ? undefined : `${cmd} answered ${field ? `${field} with ` : ''}length ${a.length} with ${n} bytes (sun_path's first length - 2 = ${a.length - 2} bytes)`;
}

/** A v2 hello whose `sockets` disagree with its own summary fields (docs/driver-protocol.md, hello). */
function inconsistentSockets(c: Capabilities): string | undefined {
  if (!c.sockets) return undefined;
  const seen = new Set<string>();
  for (const s of c.sockets) {
    const key = `${s.type} × ${s.address}`;
    if (seen.has(key)) return `hello lists ${key} twice in sockets`;
    seen.add(key);
    if (s.features.includes('autobind') && s.address !== 'abstract') return `hello claims autobind at ${key}: autobind gives an abstract name`;
  }
  const sameSet = (a: readonly string[], b: readonly string[]): boolean => new Set(a).size === new Set(b).size && a.every((x) => b.includes(x));
  const types = [...new Set(c.sockets.map((s) => s.type))];
  const addresses = [...new Set(c.sockets.map((s) => s.address))];
  if (!sameSet(types, c.types)) return `hello answered types ${JSON.stringify(c.types)}, but its sockets have ${JSON.stringify(types)}`;
  if (!sameSet(addresses, c.addresses)) return `hello answered addresses ${JSON.stringify(c.addresses)}, but its sockets have ${JSON.stringify(addresses)}`;
  const fds = c.sockets.some((s) => s.features.includes('fds'));
  if (fds !== c.fds) return `hello answered fds ${c.fds}, but ${fds ? 'a socket entry has' : 'no socket entry has'} the feature fds`;
  const credentials = c.sockets.some((s) => s.features.some((f) => f === 'peercred' || f === 'passcred' || f === 'sendcred'));
  if (credentials !== c.credentials) return `hello answered credentials ${c.credentials}, but ${credentials ? 'a socket entry has' : 'no socket entry has'} peercred, passcred or sendcred`;
  return undefined;
}

/** More bytes than the command asked for. */
function tooLong(a: Record<string, unknown>, field: string, limit: unknown, cmd: string): string | undefined {
  const length = Buffer.byteLength(a.data as string, 'base64');
  if (typeof limit !== 'number' || length <= limit) return undefined;
  return field === 'n' ? `read answered ${length} bytes for n = ${limit}` : `${cmd} answered ${length} bytes for a buffer of ${limit}`;
}
