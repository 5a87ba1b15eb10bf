/**
 * Running one generated sequence on two worlds at once, step by step: the pairing under test and the
 * kernel's (c-reference × c-reference, the oracle), each a server driver (the listener and the
 * accepted ends) and a client driver (the connecting ends). Each step runs on both worlds together.
 * The kernel's outcome must be exactly the model's (a difference is the harness's: the model or the
 * reference drifted, reported as an error, never as the subject's failure); the pairing's outcome
 * must be equivalent (transcript.ts) to what the model expects from that pairing's own state. At the
 * end every live end is drained (the synchronisation point). The first difference fails the case with
 * the sequence and both transcripts (`details.sequence`, SequenceEvidence).
 *
 * Over 400 lines because one world's run (WorldRun: each command's driver calls, the RLIMIT_NOFILE
 * limit and its undoing, the kill) and the two-world runner that judges them share their types and
 * helpers; split, each half would need the other's internals.
 */
import fc from 'fast-check';
import type { Address, Driver } from '../driver/driver.js';
import { DriverError } from '../driver/driver.js';
import { featuresAt, type AddressKind, type SocketFeature, type SocketType } from '../driver/protocol.js';
import { CheckFailure, type SequenceEvidence } from '../model/types.js';
import { fail } from '../properties/verify.js';
import { MAX_SEND_FDS, recvFlags, SEQUENCE_FEATURES, stepText, type GeneratedSequence, type Resolved, type Sequence, type SequenceForm, type SequenceForms, type SequenceReal } from './commands.js';
import { WorldModel, type Outcome, type Side } from './model.js';
import { equivalenceText, judge, outcomeText, sameOutcome } from './transcript.js';

/** One world: a server and a client driver, the address it listens at, and its own model. */
export interface World {
  label: string;
  server: Driver;
  client: Driver;
  address: Address;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * The bytes an end sends at `offset` of its stream: printable, and different for every connection,
 * direction and offset (a hash of the three), so a lost, repeated, reordered or crossed byte shows.
 */
export function streamBytes(conn: number, side: Side, offset: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  const salt = Math.imul(conn * 2 + (side === 'client' ? 1 : 2), 0x85ebca6b);
  for (let i = 0; i < size; i++) {
    let x = Math.imul(offset + i + 1, 0x9e3779b1) ^ salt;
    x ^= x >>> 15;
    x = Math.imul(x, 0x2c1b3c6d);
    x ^= x >>> 12;
    out[i] = ALPHABET.charCodeAt(x & 63);
  }
  return out;
}

/** One world's run of the sequence: its drivers' names, its model, its transcript. */
class WorldRun {
  readonly model: WorldModel;
  listener = '';
  readonly names: Array<Partial<Record<Side, string>>> = [];
  readonly steps: string[] = [];
  /** Per side, the fds a recv has room for: the most a send passes, where both sides pass fds (else none). */
  fdRoom: Record<Side, number> = { client: 0, server: 0 };
  /** Per limited side, the soft limit to put back and the fds that filled the gaps below it (limit). */
  private readonly limits: Partial<Record<Side, { previous: number; fillers: string[] }>> = {};

  constructor(
    readonly world: World,
    readonly type: SocketType,
    backlog: number,
  ) {
    this.model = new WorldModel(type, backlog);
  }

  /** The sequence forms (SEQUENCE_FEATURES, and setrlimit) the driver of one side has at this world's socket. */
  featuresOf(side: Side): SequenceForm[] {
    const address: AddressKind = typeof this.world.address === 'string' || 'path' in this.world.address ? 'pathname' : 'abstract';
    const capabilities = this.driverOf(side).capabilities;
    const features: SocketFeature[] = featuresAt(capabilities, this.type, address) ?? [];
    return [...SEQUENCE_FEATURES.filter((f) => features.includes(f)), ...(capabilities.commands.includes('setrlimit') ? (['setrlimit'] as const) : [])];
  }

  private driverOf(side: Side): Driver {
    return side === 'server' ? this.world.server : this.world.client;
  }

  private nameOf(conn: number, side: Side): string {
    const name = this.names[conn]?.[side];
    if (!name) throw new Error(`sequence: c${conn + 1}.${side} has no name in ${this.world.label}`);
    return name;
  }

  /**
   * Runs one driver call; an {ok:false} answer is its outcome, anything else is thrown: a lie, the
   * deadline, and the driver client's verdict on an ENOTSUP (a failure for what hello claimed,
   * unsupported for what it did not; the commands use only what both sides claim: resolve).
   */
  private async outcome(call: () => Promise<Outcome>): Promise<Outcome> {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof DriverError)) throw err;
      return { kind: 'errno', code: err.code };
    }
  }

  async listen(): Promise<Outcome> {
    return this.outcome(async () => {
      this.listener = await this.world.server.listen(this.world.address, { type: this.type, backlog: this.model.backlog });
      return { kind: 'ok' };
    });
  }

  /** The step's outcome in this world (the model is not moved: see apply). */
  async exec(r: Resolved): Promise<Outcome> {
    const type = this.type;
    switch (r.op) {
      case 'connect':
        return this.outcome(async () => {
          const name = await this.world.client.connect(this.world.address, { type, ...(r.nonblock ? { nonblock: true } : {}) });
          this.names[this.model.connections.length] = { client: name };
          return { kind: 'ok' };
        });
      case 'accept':
        return this.outcome(async () => {
          const name = await this.world.server.accept(this.listener);
          const conn = this.model.acceptQueue[0]!;
          (this.names[conn] ??= {}).server = name;
          return { kind: 'ok' };
        });
      case 'send': {
        const data = streamBytes(r.conn, r.side, this.model.end(r.conn, r.side).sent, r.size);
        const driver = this.driverOf(r.side);
        // Pipe read ends, closed here once sent: the receiver's copies are what stays in flight.
        // Sent together, not one answer at a time: a driver answers in order (docs/driver-protocol.md, Framing).
        const fds = (await Promise.all(Array.from({ length: r.fds }, (_, i) => driver.mkfd({ kind: 'pipe', index: i })))).map((m) => m.fd);
        try {
          return await this.outcome(async () => ({ kind: 'sent', n: await driver.send(this.nameOf(r.conn, r.side), data, { flags: ['MSG_NOSIGNAL'], once: type === 'seqpacket', ...(fds.length ? { fds } : {}) }) }));
        } finally {
          await Promise.all(fds.map((fd) => driver.close(fd)));
        }
      }
      case 'recv': {
        if (!r.dontwait && !this.model.pending(r.conn, r.side)) return { kind: 'skipped', why: 'nothing is pending for this end in this pairing, so a blocking recv would wait forever' };
        const flags = recvFlags(r);
        const room = this.fdRoom[r.side];
        return this.outcome(async () => {
          const driver = this.driverOf(r.side);
          const got = await driver.recv(this.nameOf(r.conn, r.side), { dataSize: r.size, ...(flags.length ? { flags } : {}), ...(room ? { controlFds: room } : {}) });
          // Counted, then closed: the transcript keeps how many came with which bytes, the driver nothing.
          await Promise.all(got.fds.map((fd) => driver.close(fd)));
          if (got.data.length === 0) return got.fds.length ? { kind: 'data', bytes: got.data, flags: [...got.flags].sort(), fds: got.fds.length } : { kind: 'eof' };
          return { kind: 'data', bytes: got.data, flags: [...got.flags].sort(), ...(got.fds.length ? { fds: got.fds.length } : {}) };
        });
      }
      case 'shutdown':
        return this.outcome(async () => {
          await this.driverOf(r.side).shutdown(this.nameOf(r.conn, r.side), r.how);
          return { kind: 'ok' };
        });
      case 'limit':
        return this.outcome(async () => {
          await this.limit(r.side, r.headroom);
          return { kind: 'ok' };
        });
      case 'kill': {
        // SIGKILL, then wait until the process is reaped: by then the kernel has closed its fds.
        const driver = this.driverOf(r.side);
        driver.kill();
        await driver.exited;
        return { kind: 'ok' };
      }
      case 'close':
        return this.outcome(async () => {
          await this.driverOf(r.side).close(this.nameOf(r.conn, r.side));
          return { kind: 'ok' };
        });
    }
  }

  /**
   * Lowers the side's RLIMIT_NOFILE so that exactly `headroom` fd slots are free below it. Every fd of
   * the sequence must lie below the limit, so that its close frees a slot (the model's rule): the
   * driver's open fds (the `fds` command) are matched by dev and ino to the side's sockets (`stat`
   * of each name), the gaps below the highest of them are filled with mkfd pipes (the kernel gives
   * the lowest free number; kept until the end), and the limit is the (headroom + 1)-th free number
   * above them. An fd the driver inherited above it (the harness's, e.g. 251 here) stays open and is
   * never closed by the sequence, so it does not matter.
   */
  private async limit(side: Side, headroom: number): Promise<void> {
    const driver = this.driverOf(side);
    const names = [...(side === 'server' && this.listener ? [this.listener] : []), ...this.names.flatMap((ends, conn) => (ends?.[side] && this.model.end(conn, side).live ? [ends[side]!] : []))];
    const ids = new Set<string>();
    for (const name of names) {
      const st = await driver.stat(name);
      ids.add(`${st.dev}:${st.ino}`);
    }
    const open = await driver.fds();
    const taken = new Set(open.map((f) => f.fd));
    const highest = Math.max(-1, ...open.filter((f) => ids.has(`${f.dev}:${f.ino}`)).map((f) => f.fd));
    const fillers: string[] = [];
    for (let fd = 0; fd < highest; fd++) {
      if (taken.has(fd)) continue;
      fillers.push((await driver.mkfd({ kind: 'pipe', index: fillers.length })).fd);
      taken.add(fd);
    }
    let soft = highest + 1;
    for (let free = 0; ; soft++) {
      if (taken.has(soft)) continue;
      if (free++ === headroom) break;
    }
    const previous = await driver.setrlimit('RLIMIT_NOFILE', soft);
    this.limits[side] = { previous, fillers };
  }

  /** Puts back what limit lowered, for drivers that run another sequence. */
  private async unlimit(): Promise<void> {
    for (const side of ['client', 'server'] as const) {
      const limit = this.limits[side];
      if (!limit) continue;
      const driver = this.driverOf(side);
      await driver.setrlimit('RLIMIT_NOFILE', limit.previous);
      for (const fd of limit.fillers) await driver.close(fd);
      delete this.limits[side];
    }
  }

  /** The model's outcome for the step, from this world's state. */
  expected(r: Resolved): Outcome {
    switch (r.op) {
      case 'connect':
        return this.model.expectedConnect();
      case 'accept':
        return this.model.expectedAccept();
      case 'limit':
      case 'kill':
      case 'shutdown':
      case 'close':
        return { kind: 'ok' };
      case 'send':
        return this.model.expectedSend(r.conn, r.side, r.size);
      case 'recv':
        return this.model.expectedRecv(r.conn, r.side, r.size, r.peek);
    }
  }

  /** Moves this world's model by what it answered (nothing happened on a skip). */
  apply(r: Resolved, o: Outcome): void {
    if (o.kind === 'unsupported' || o.kind === 'skipped') return;
    const m = this.model;
    switch (r.op) {
      case 'connect':
        if (o.kind === 'ok') m.connect();
        return;
      case 'accept':
        if (o.kind === 'ok') m.accept();
        return;
      case 'send':
        m.applySend(r.conn, r.side, streamBytes(r.conn, r.side, m.end(r.conn, r.side).sent, r.size), o, r.fds);
        return;
      case 'recv':
        m.applyRecv(r.conn, r.side, r.peek, o);
        return;
      case 'shutdown':
        if (o.kind === 'ok') m.shutdown(r.conn, r.side, r.how);
        return;
      case 'limit':
        if (o.kind === 'ok') m.limit(r.side, r.headroom);
        return;
      case 'kill':
        m.kill(r.side);
        for (const ends of this.names) if (ends) delete ends[r.side];
        if (r.side === 'server') this.listener = '';
        delete this.limits[r.side];
        return;
      case 'close':
        if (o.kind === 'ok') {
          m.close(r.conn, r.side);
          delete this.names[r.conn]![r.side];
        }
        return;
    }
  }

  /** Closes what the sequence left open, so that the drivers can run another sequence. */
  async closeAll(): Promise<void> {
    for (const [conn, ends] of this.names.entries()) {
      for (const side of ['client', 'server'] as const) {
        const name = ends?.[side];
        if (name && this.model.end(conn, side).live && !this.model.dead[side]) await this.driverOf(side).close(name);
      }
    }
    if (this.listener) await this.world.server.close(this.listener);
    await this.unlimit();
  }
}

/** A failure of the driver layer (a lie, the deadline) inside a step, with the sequence so far. */
function withSequence(err: CheckFailure, sequence: SequenceEvidence): never {
  const { message, expected, actual, ...rest } = err.evidence;
  fail(message, expected, actual, { ...rest, details: { ...rest.details, sequence } });
}

/** The kernel's run disagreed with the model: the model or the reference is wrong, not the subject. */
export class ModelDisagreement extends Error {
  constructor(message: string, readonly evidence: SequenceEvidence) {
    super(message);
    this.name = 'ModelDisagreement';
  }
}

export interface SequenceOptions {
  type: SocketType;
  subject: World;
  oracle: World;
  /** listen(2)'s backlog (the generated sequence's; 1 when not given). */
  backlog?: number;
}

/** Runs sequences on two worlds; one instance per sequence. */
export class SequenceRunner implements SequenceReal {
  readonly commands: string[] = [];
  private readonly subject: WorldRun;
  private readonly oracle: WorldRun;

  /** Per side, the sequence features both worlds' drivers of that side claim at the unit's socket. */
  readonly forms: SequenceForms;

  constructor(private readonly options: SequenceOptions) {
    const backlog = options.backlog ?? 1;
    this.subject = new WorldRun(options.subject, options.type, backlog);
    this.oracle = new WorldRun(options.oracle, options.type, backlog);
    const both = (side: Side): ReadonlySet<SequenceForm> => {
      const oracle = this.oracle.featuresOf(side);
      return new Set(this.subject.featuresOf(side).filter((f) => oracle.includes(f)));
    };
    this.forms = { client: both('client'), server: both('server') };
    const passesFds = this.forms.client.has('fds') && this.forms.server.has('fds');
    for (const run of [this.subject, this.oracle]) run.fdRoom = passesFds ? { client: MAX_SEND_FDS, server: MAX_SEND_FDS } : { client: 0, server: 0 };
  }

  /** The kernel model: the oracle world's (kept equal to the kernel's answers, or the run stops). */
  get model(): WorldModel {
    return this.oracle.model;
  }

  evidence(firstDifference: number | null): SequenceEvidence {
    const pad = (steps: string[]): string[] => this.commands.map((_, i) => steps[i] ?? 'not run');
    return {
      commands: [...this.commands],
      subject: { label: this.options.subject.label, steps: pad(this.subject.steps) },
      oracle: { label: this.options.oracle.label, steps: pad(this.oracle.steps) },
      firstDifference,
      equivalence: equivalenceText(this.options.type),
    };
  }

  /** Both worlds' outcomes of one line, then the verdict. */
  private async line(text: string, subjectCall: () => Promise<Outcome>, oracleCall: () => Promise<Outcome>, judgeBoth: (s: Outcome, o: Outcome) => void): Promise<void> {
    const index = this.commands.push(text) - 1;
    const [s, o] = await Promise.allSettled([subjectCall(), oracleCall()]);
    if (o.status === 'rejected') {
      this.oracle.steps[index] = `no answer: ${String((o.reason as Error)?.message ?? o.reason)}`;
      throw o.reason;
    }
    this.oracle.steps[index] = outcomeText(o.value);
    if (s.status === 'rejected') {
      const err = s.reason as unknown;
      this.subject.steps[index] = `no answer: ${err instanceof Error ? err.message : String(err)}`;
      if (err instanceof CheckFailure) withSequence(err, this.evidence(index));
      throw err;
    }
    this.subject.steps[index] = outcomeText(s.value);
    judgeBoth(s.value, o.value);
  }

  private verdict(index: number, r: Resolved | undefined, expectedSubject: Outcome, s: Outcome, expectedOracle: Outcome, o: Outcome, what: string): void {
    if (!sameOutcome(expectedOracle, o)) {
      throw new ModelDisagreement(
        `the model and the kernel (${this.options.oracle.label}) disagree at step ${index + 1}, ${what}: the model expects ${outcomeText(expectedOracle)}, the kernel gave ${outcomeText(o)}`,
        this.evidence(index),
      );
    }
    const recv = r?.op === 'recv' ? { type: this.options.type, dontwait: r.dontwait, waitall: r.waitall ?? false } : undefined;
    const why = judge(expectedSubject, s, recv);
    if (why === null) return;
    fail(
      `the sequence differs from the kernel's at step ${index + 1} (${what}): ${this.options.subject.label} gave ${outcomeText(s)}, ${why}`,
      outcomeText(expectedSubject),
      outcomeText(s),
      { details: { sequence: this.evidence(index) } },
    );
  }

  /**
   * The listener of both worlds and a first connection (c1), connected and accepted: the steps every
   * sequence starts with, so that the generated commands have something to act on from the first.
   */
  async begin(): Promise<void> {
    const text = `server listen at the unit's address (${this.options.type}, backlog ${this.model.backlog})`;
    await this.line(text, () => this.subject.listen(), () => this.oracle.listen(), (s, o) => this.verdict(this.commands.length - 1, undefined, { kind: 'ok' }, s, { kind: 'ok' }, o, text));
    await this.step({ op: 'connect', nonblock: false }, this.model);
    await this.step({ op: 'accept' }, this.model);
  }

  async step(r: Resolved, _model: WorldModel): Promise<void> {
    const text = stepText(r);
    const expectedSubject = this.subject.expected(r);
    const expectedOracle = this.oracle.expected(r);
    await this.line(text, () => this.subject.exec(r), () => this.oracle.exec(r), (s, o) => {
      this.verdict(this.commands.length - 1, r, expectedSubject, s, expectedOracle, o, text);
      this.oracle.apply(r, o);
      this.subject.apply(r, s);
    });
  }

  /**
   * The synchronisation point: every live end of both worlds reads, blocking, until its model has
   * nothing left for it, and then its EOF (and a pending ECONNRESET before it) when one is due. One
   * line per end; a stream may take several recvs in one world and one in the other.
   */
  async drain(): Promise<void> {
    for (const c of this.model.connections) {
      for (const side of ['client', 'server'] as const) {
        const live = (run: WorldRun): boolean => run.model.end(c.index, side).live && run.model.pending(c.index, side);
        if (!live(this.oracle) && !live(this.subject)) continue;
        const text = `c${c.index + 1}.${side} drains: recv 65536 until nothing is pending${this.model.end(c.index, side).rcvShut ? ', then EOF' : ''} (end of the sequence)`;
        const index = this.commands.push(text) - 1;
        const [s, o] = await Promise.allSettled([this.drainEnd(this.subject, c.index, side), this.drainEnd(this.oracle, c.index, side)]);
        this.oracle.steps[index] = o.status === 'fulfilled' ? o.value.outcomes.join(', ') || 'nothing pending' : `no answer: ${(o.reason as Error).message}`;
        this.subject.steps[index] = s.status === 'fulfilled' ? s.value.outcomes.join(', ') || 'nothing pending' : `no answer: ${(s.reason as Error)?.message ?? String(s.reason)}`;
        if (o.status === 'rejected') throw o.reason;
        if (o.value.problem) throw new ModelDisagreement(`the model and the kernel (${this.options.oracle.label}) disagree at ${text}: ${o.value.problem}`, this.evidence(index));
        if (s.status === 'rejected') {
          const err = s.reason as unknown;
          if (err instanceof CheckFailure) withSequence(err, this.evidence(index));
          throw err;
        }
        if (s.value.problem) {
          fail(`the sequence differs from the kernel's at step ${index + 1} (${text}): ${s.value.problem}`, this.oracle.steps[index], this.subject.steps[index], { details: { sequence: this.evidence(index) } });
        }
      }
    }
  }

  private async drainEnd(run: WorldRun, conn: number, side: Side): Promise<{ outcomes: string[]; problem?: string }> {
    const outcomes: string[] = [];
    // A bound, not a wait: 64 reads of 64 KiB are far more than any sequence sends (12 × 4 KiB).
    for (let i = 0; i < 64; i++) {
      const end = run.model.end(conn, side);
      if (!end.live || !run.model.pending(conn, side)) return { outcomes };
      const r: Resolved = { op: 'recv', conn, side, size: 65536, peek: false, dontwait: false };
      const expected = run.expected(r);
      const got = await run.exec(r);
      outcomes.push(outcomeText(got));
      const why = run === this.oracle ? (sameOutcome(expected, got) ? null : `expected ${outcomeText(expected)}`) : judge(expected, got, { type: this.options.type, dontwait: false });
      if (why !== null) return { outcomes, problem: `a drain recv gave ${outcomeText(got)}: ${why}` };
      run.apply(r, got);
      if (got.kind === 'eof') return { outcomes };
    }
    return { outcomes, problem: 'still not drained after 64 reads' };
  }

  /** Closes what both worlds hold, for drivers that run another sequence. */
  async end(): Promise<void> {
    await Promise.all([this.subject.closeAll(), this.oracle.closeAll()]);
  }
}

/**
 * Runs one generated sequence on both worlds: the listener, the commands (fast-check's asyncModelRun,
 * which skips a command whose check fails), the drain. Resolves with the evidence of a sequence
 * without differences (for tests); throws a CheckFailure at the first difference, or a
 * ModelDisagreement when the kernel and the model disagree. With `reuse`, closes what it opened.
 */
export async function runSequence(cmds: GeneratedSequence | Sequence, options: SequenceOptions, reuse = false): Promise<SequenceEvidence> {
  const runner = new SequenceRunner('backlog' in cmds ? { backlog: cmds.backlog, ...options } : options);
  await runner.begin();
  await fc.asyncModelRun(() => ({ model: { model: runner.model, forms: runner.forms }, real: runner }), cmds);
  await runner.drain();
  if (reuse) await runner.end();
  return runner.evidence(null);
}

