/**
 * The command set of the sequence properties, as fast-check model-based commands (fc.commands) over a
 * world of one listener and up to K connections. A command names a connection by a number that is
 * taken modulo the connections open so far, so that most generated commands apply; one that does not
 * (no connection yet, an end already closed) is skipped by its `check`, as fast-check does. The model
 * a command checks against is the kernel's (model.ts, kept in step with c-reference × c-reference).
 *
 * Nothing blocks unless the model knows it cannot: connect only while the listener's backlog has room
 * (past it, non-blocking: EAGAIN), accept only with a connection queued, and a recv
 * waits (no MSG_DONTWAIT) only when it asked to and data, a reset or EOF is pending for that end.
 *
 * A command uses MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL or a shutdown of the read side only where that
 * side's drivers claim it in hello (the features msg-peek, msg-dontwait, msg-waitall, shutdown-read at
 * the unit's socket, in both worlds): elsewhere its check fails and fast-check skips it, so it is
 * never run nor shown. A send passes fds only where both sides claim `fds` (else it sends its bytes
 * alone). `limit` (RLIMIT_NOFILE) runs only where both worlds' drivers of that side list setrlimit
 * in hello `commands`: an in-process adapter never does (it would limit the harness). So does `kill`
 * (SIGKILL of that side's driver, at most once): an in-process adapter is the harness itself. After
 * it every command on the dead side is skipped.
 *
 * Each sequence also draws listen(2)'s backlog (0..2): the value is a GeneratedSequence, the commands
 * with the backlog, iterable as the commands are and printed with their replayPath.
 */
import fc from 'fast-check';
import type { SocketFeature } from '../driver/protocol.js';
import { MAX_CONNECTIONS, MAX_LISTEN_BACKLOG, other, type Side, type WorldModel } from './model.js';

export type Step =
  | { op: 'connect' }
  | { op: 'accept' }
  | { op: 'send'; pick: number; side: Side; size: number; fds: number }
  | { op: 'recv'; pick: number; side: Side; size: number; peek: boolean; block: boolean; waitall: boolean }
  | { op: 'shutdown'; pick: number; side: Side; how: 'read' | 'write' | 'both' }
  | { op: 'close'; pick: number; side: Side }
  /** RLIMIT_NOFILE of the side's driver lowered so that `headroom` fd slots are free below it. */
  | { op: 'limit'; side: Side; headroom: number }
  /** SIGKILL of the side's driver process. */
  | { op: 'kill'; side: Side };

/** A step with its connection resolved against the model and its recv flags settled. */
export type Resolved =
  /** nonblock: the backlog is full, so the connect must not wait (EAGAIN). */
  | { op: 'connect'; nonblock: boolean }
  | { op: 'accept' }
  | { op: 'send'; conn: number; side: Side; size: number; fds: number }
  | { op: 'recv'; conn: number; side: Side; size: number; peek: boolean; dontwait: boolean; waitall?: boolean }
  | { op: 'shutdown'; conn: number; side: Side; how: 'read' | 'write' | 'both' }
  | { op: 'close'; conn: number; side: Side }
  | { op: 'limit'; side: Side; headroom: number }
  | { op: 'kill'; side: Side };

/** Runs one resolved step on every run of the world, and moves the kernel model (run.ts). */
export interface SequenceReal {
  step(resolved: Resolved, model: WorldModel): Promise<void>;
}

/** The features a command may rely on beyond plain calls (docs/driver-protocol.md, hello). */
export const SEQUENCE_FEATURES = ['msg-peek', 'msg-dontwait', 'msg-waitall', 'shutdown-read', 'fds'] as const satisfies readonly SocketFeature[];
/** A form a command may need: a socket feature, or the driver command setrlimit (hello `commands`). */
export type SequenceForm = SocketFeature | 'setrlimit';
/** Per side (the server's ends, the client's ends): the forms every driver of that side has at the unit's socket. */
export type SequenceForms = Record<Side, ReadonlySet<SequenceForm>>;
/** Every form on both sides: the kernel's own pairing (c-reference × c-reference). */
export const EVERY_FORM: SequenceForms = { client: new Set([...SEQUENCE_FEATURES, 'setrlimit']), server: new Set([...SEQUENCE_FEATURES, 'setrlimit']) };

/** What fast-check's commands are checked against: the kernel's model, and the forms each side may be asked. */
export interface SequenceState {
  model: WorldModel;
  forms: SequenceForms;
}
/** A generated sequence, as fc.commands gives it. */
export type Sequence = Iterable<fc.AsyncCommand<SequenceState, SequenceReal>>;
/**
 * A generated sequence with its listen(2) backlog. Iterable as its commands, and printed as
 * `backlog N: ` and the commands' own text, whose `/*replayPath="..."*\/` the runner reads for the
 * replay line (suite/plan/runner.ts).
 */
export interface GeneratedSequence extends Sequence {
  readonly backlog: number;
  readonly commands: Sequence;
  toString(): string;
}

/**
 * The step against the model, or null when it does not apply now (fast-check then skips it): no
 * connection for it, or a form (MSG_PEEK, MSG_DONTWAIT, shutdown of the read side) its side lacks.
 */
export function resolve(step: Step, model: WorldModel, forms: SequenceForms = EVERY_FORM): Resolved | null {
  if (step.op === 'connect') return model.connections.length < MAX_CONNECTIONS && !model.dead.client ? { op: 'connect', nonblock: model.backlogFull() } : null;
  // A dead side is asked nothing more (its driver is gone); kill once per side, and only where both
  // worlds' drivers of that side are processes: an in-process adapter cannot be killed (it would be
  // the harness). setrlimit in hello `commands` is that sign: an in-process adapter must not list it
  // (docs/driver-protocol.md, setrlimit).
  if (step.op !== 'accept' && model.dead[step.side]) return null;
  if (step.op === 'kill') return forms[step.side].has('setrlimit') ? step : null;
  // Once per side, and only where that side's drivers may be limited (and have fds, mkfd and stat,
  // which the limit uses: run.ts); the side's model starts counting its free slots.
  if (step.op === 'limit') return model.freeSlots[step.side] === null && forms[step.side].has('setrlimit') && forms[step.side].has('fds') ? step : null;
  if (step.op === 'accept') return model.acceptQueue.length > 0 ? step : null;
  if (model.connections.length === 0) return null;
  const conn = step.pick % model.connections.length;
  if (!model.end(conn, step.side).live) return null;
  const has = forms[step.side];
  if (step.op === 'recv') {
    const { pick: _pick, block, waitall: wantsWaitall, ...rest } = step;
    const dontwait = !(block && model.pending(conn, step.side));
    // MSG_WAITALL only on a blocking read that the model knows completes (never with MSG_PEEK, whose
    // fds rule differs); elsewhere the recv goes without it.
    const waitall = wantsWaitall && !dontwait && !step.peek && model.waitallCompletes(conn, step.side, step.size);
    if ((dontwait && !has.has('msg-dontwait')) || (step.peek && !has.has('msg-peek')) || (waitall && !has.has('msg-waitall'))) return null;
    return { ...rest, conn, dontwait, ...(waitall ? { waitall } : {}) };
  }
  if (step.op === 'shutdown' && step.how !== 'write' && !has.has('shutdown-read')) return null;
  // fds only between two sides that both pass them; elsewhere the send goes without them (rather
  // than not at all, so that a pairing without fd passing still gets its bytes).
  // A limited side's sends go without fds too: its driver makes them with mkfd, which needs slots.
  if (step.op === 'send' && step.fds > 0 && (!(has.has('fds') && forms[other(step.side)].has('fds')) || model.freeSlots[step.side] !== null)) return { op: 'send', conn, side: step.side, size: step.size, fds: 0 };
  const { pick: _pick, ...rest } = step;
  return { ...rest, conn };
}

/** One line of the sequence as the evidence shows it, e.g. "c1.client send 12 bytes [MSG_NOSIGNAL]". */
export function stepText(r: Resolved): string {
  switch (r.op) {
    case 'connect':
      return r.nonblock ? 'connect, non-blocking (the backlog is full)' : 'connect (a new connection)';
    case 'accept':
      return 'accept (the oldest queued connection)';
    case 'send':
      return `c${r.conn + 1}.${r.side} send ${r.size} bytes${r.fds ? ` with ${r.fds} pipe fd${r.fds === 1 ? '' : 's'}` : ''} [MSG_NOSIGNAL]`;
    case 'recv':
      return `c${r.conn + 1}.${r.side} recv ${r.size} [${recvFlags(r).join(', ')}]`;
    case 'shutdown':
      return `c${r.conn + 1}.${r.side} shutdown ${r.how}`;
    case 'close':
      return `c${r.conn + 1}.${r.side} close`;
    case 'limit':
      return `${r.side} limit: RLIMIT_NOFILE lowered to leave ${r.headroom} free fd slot${r.headroom === 1 ? '' : 's'}`;
    case 'kill':
      return `${r.side} kill: SIGKILL of the ${r.side}'s driver`;
  }
}

export function recvFlags(r: { peek: boolean; dontwait: boolean; waitall?: boolean }): string[] {
  return [...(r.dontwait ? ['MSG_DONTWAIT'] : []), ...(r.peek ? ['MSG_PEEK'] : []), ...(r.waitall ? ['MSG_WAITALL'] : [])];
}

class SequenceCommand implements fc.AsyncCommand<SequenceState, SequenceReal> {
  constructor(readonly step: Step) {}
  check(state: Readonly<SequenceState>): boolean {
    return resolve(this.step, state.model, state.forms) !== null;
  }
  async run(state: SequenceState, real: SequenceReal): Promise<void> {
    const resolved = resolve(this.step, state.model, state.forms);
    if (!resolved) throw new Error(`sequence: ${this.toString()} ran without applying (fast-check checks first)`);
    await real.step(resolved, state.model);
  }
  toString(): string {
    const s = this.step;
    if (s.op === 'connect' || s.op === 'accept') return s.op;
    if (s.op === 'limit') return `limit(${s.side} ${s.headroom})`;
    if (s.op === 'kill') return `kill(${s.side})`;
    const args = s.op === 'send' ? `${s.size}${s.fds ? ` fds${s.fds}` : ''}` : s.op === 'recv' ? `${s.size}${s.peek ? ' peek' : ''}${s.block ? ' block' : ''}${s.waitall ? ' waitall' : ''}` : s.op === 'shutdown' ? s.how : '';
    return `${s.op}(#${s.pick} ${s.side}${args ? ` ${args}` : ''})`;
  }
}

/**
 * A fixed sequence, as fast-check's `examples` take it: the commands of `steps` with the backlog,
 * printed as a generated one is (without a replayPath: an example is replayed by its path alone).
 */
export function fixedSequence(backlog: number, steps: Step[]): GeneratedSequence {
  const commands = steps.map((step) => new SequenceCommand(step));
  return {
    backlog,
    commands,
    [Symbol.iterator]: () => commands[Symbol.iterator](),
    toString: () => `backlog ${backlog}: ${commands.map(String).join(',')}`,
  };
}

/**
 * The sequences every run of the property tries before generated ones, so that the rarer states are
 * reached whatever the seed: MSG_WAITALL reads of more than one chunk both ways, and the client's
 * RLIMIT_NOFILE lowered to one free slot (three fds passed: one installed, MSG_CTRUNC; then a
 * connect takes the slot and the next one is EMFILE).
 */
export const SEQUENCE_EXAMPLES: readonly GeneratedSequence[] = [
  fixedSequence(1, [
    { op: 'send', pick: 0, side: 'server', size: 40, fds: 0 },
    { op: 'recv', pick: 0, side: 'client', size: 40, peek: false, block: true, waitall: true },
    { op: 'send', pick: 0, side: 'client', size: 40, fds: 0 },
    { op: 'recv', pick: 0, side: 'server', size: 40, peek: false, block: true, waitall: true },
  ]),
  fixedSequence(1, [
    { op: 'limit', side: 'client', headroom: 1 },
    { op: 'send', pick: 0, side: 'server', size: 8, fds: 3 },
    { op: 'recv', pick: 0, side: 'client', size: 16, peek: false, block: true, waitall: false },
    { op: 'connect' },
    { op: 'connect' },
  ]),
];

/** Most commands a generated sequence has (the issue: about 12). */
export const MAX_COMMANDS = 12;

const pick = fc.nat(MAX_CONNECTIONS - 1);
const side = fc.constantFrom<Side>('client', 'server');
/** Mostly small, so several sends share a recv; now and then a few KiB (still far below SO_SNDBUF). */
const sendSize = fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 17, max: 4096 }));
/** Most fds a send passes; every recv has room for them (so MSG_CTRUNC needs a lowered RLIMIT_NOFILE). */
export const MAX_SEND_FDS = 3;
/** Mostly none; else 1–3 pipe fds with the bytes (SCM_RIGHTS). */
const sendFds = fc.oneof({ arbitrary: fc.constant(0), weight: 2 }, { arbitrary: fc.integer({ min: 1, max: MAX_SEND_FDS }), weight: 1 });
const recvSize = fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 17, max: 8192 }));

const command = (step: fc.Arbitrary<Step>): fc.Arbitrary<fc.AsyncCommand<SequenceState, SequenceReal>> => step.map((s) => new SequenceCommand(s));

/**
 * The commands arbitrary. fc.commands keeps its shrink state in the arbitrary itself, so every unit
 * (and every test) builds its own; `replayPath` is the one a counterexample printed, so that seed,
 * path and replayPath replay the exact shrunk sequence (fast-check's documentation of fc.commands).
 * It generates every form; which ones run is settled against the drivers' features (resolve), known
 * only once they have started (the arbitrary is built before).
 */
export function sequenceCommands(replayPath?: string): fc.Arbitrary<GeneratedSequence> {
  const connect = command(fc.constant<Step>({ op: 'connect' }));
  const accept = command(fc.constant<Step>({ op: 'accept' }));
  const send = command(fc.record({ op: fc.constant('send' as const), pick, side, size: sendSize, fds: sendFds }));
  const recv = command(fc.record({ op: fc.constant('recv' as const), pick, side, size: recvSize, peek: fc.boolean(), block: fc.boolean(), waitall: fc.boolean() }));
  const shutdown = command(fc.record({ op: fc.constant('shutdown' as const), pick, side, how: fc.constantFrom('read' as const, 'write' as const, 'both' as const) }));
  const close = command(fc.record({ op: fc.constant('close' as const), pick, side }));
  const limit = command(fc.record({ op: fc.constant('limit' as const), side, headroom: fc.integer({ min: 0, max: 2 }) }));
  const kill = command(fc.record({ op: fc.constant('kill' as const), side }));
  // fc.commands picks uniformly among its arbitraries: the data commands are listed more than once.
  const commands = fc.commands([connect, connect, accept, accept, send, send, send, send, recv, recv, recv, recv, recv, recv, shutdown, close, limit, kill], {
    maxCommands: MAX_COMMANDS,
    // Up to MAX_COMMANDS whatever the run's size: a short sequence reaches few states.
    size: 'max',
    ...(replayPath !== undefined ? { replayPath } : {}),
  });
  // map keeps fc.commands' clone and shrink (fast-check maps a cloneable value per run).
  return fc.tuple(fc.integer({ min: 0, max: MAX_LISTEN_BACKLOG }), commands).map(([backlog, cmds]): GeneratedSequence => ({
    backlog,
    commands: cmds,
    [Symbol.iterator]: () => cmds[Symbol.iterator](),
    toString: () => `backlog ${backlog}: ${String(cmds)}`,
  }));
}
