/**
 * The sequences of sequence.equivalent as the C floor runs them (c-reference/bench/seqfloor.c): each
 * generated sequence is walked through the kernel's model (suite/sequence/model.ts), as the harness's
 * oracle world walks it (suite/sequence/run.ts: the listen, c1 connected and accepted, the commands
 * that apply, then a drain of every end with something pending), and every step is written as a line
 * with the model's answer, which the floor checks against the kernel's.
 *
 * The model stands in for the kernel here because the harness requires them to agree: a case where
 * the kernel and the model differ is an error of the harness (ModelDisagreement), so on the runs the
 * bench counts, the model's answers are the kernel's, and the floor checks them again.
 *
 * `limit` (RLIMIT_NOFILE) is left out of the floor: both sides are in one process there, so one limit
 * would bind both. `kill` is run as the kernel's part of a SIGKILL: every fd of that side closed.
 */
import type { Capabilities } from '../suite/driver/protocol.js';
import { featuresAt } from '../suite/driver/protocol.js';
import { MAX_SEND_FDS, SEQUENCE_FEATURES, type GeneratedSequence, type Resolved, type SequenceForm, type SequenceForms, type SequenceReal, type SequenceState } from '../suite/sequence/commands.js';
import { WorldModel, type Outcome, type Side } from '../suite/sequence/model.js';
import { streamBytes } from '../suite/sequence/run.js';

/** The sequence forms a driver has at stream sockets at pathnames (as the runner's WorldRun.featuresOf). */
export function formsOf(caps: Capabilities): SequenceForm[] {
  const features = featuresAt(caps, 'stream', 'pathname') ?? [];
  return [...SEQUENCE_FEATURES.filter((f) => features.includes(f)), ...(caps.commands.includes('setrlimit') ? (['setrlimit'] as const) : [])];
}

/** Per side, what both worlds' drivers of that side have (the subject's and the oracle's). */
export function pairingForms(subject: Record<Side, Capabilities>, oracle: Capabilities): SequenceForms {
  const both = (side: Side): ReadonlySet<SequenceForm> => new Set(formsOf(subject[side]).filter((f) => formsOf(oracle).includes(f)));
  return { client: both('client'), server: both('server') };
}

export interface ScriptedSequence {
  /** The floor's input lines, from `S` to `E`. */
  lines: string[];
  /** Lines of the harness's transcript for this sequence (its `observed.steps`), with limit run. */
  transcriptLines: number;
  /** The `limit` commands the floor left out. */
  limitsLeftOut: number;
  /** The `kill` commands the floor ran as closes. */
  kills: number;
}

const sideLetter = (side: Side): string => (side === 'client' ? 'c' : 's');

function expectText(o: Outcome): string {
  switch (o.kind) {
    case 'ok':
      return 'ok';
    case 'sent':
      return `sent ${o.n}`;
    case 'errno':
      return `err ${o.code}`;
    case 'eof':
      return 'eof';
    case 'data': {
      if (o.bytes.length === 0) throw new Error('sequence script: a data answer without bytes');
      const trunc = `${o.flags.includes('MSG_TRUNC') ? 't' : ''}${o.flags.includes('MSG_CTRUNC') ? 'c' : ''}` || '-';
      return `data ${o.fds ?? 0} ${trunc} ${o.bytes.toString('latin1')}`;
    }
    default:
      throw new Error(`sequence script: the model answered ${o.kind}`);
  }
}

/** One world of the model alone: each step's answer is the model's, and moves it (the runner's oracle world). */
class ModelWorld implements SequenceReal {
  readonly model: WorldModel;
  readonly lines: string[] = [];
  transcriptLines = 0;
  kills = 0;

  constructor(backlog: number) {
    this.model = new WorldModel('stream', backlog);
  }

  async step(r: Resolved): Promise<void> {
    this.transcriptLines++;
    this.run(r);
  }

  /** The model's answer to the step (WorldRun.expected), written, then applied (WorldRun.apply). */
  run(r: Resolved): Outcome {
    const m = this.model;
    const data = r.op === 'send' ? streamBytes(r.conn, r.side, m.end(r.conn, r.side).sent, r.size) : undefined;
    const o = this.expected(r);
    this.lines.push(this.line(r, o, data));
    switch (r.op) {
      case 'connect':
        if (o.kind === 'ok') m.connect();
        break;
      case 'accept':
        if (o.kind === 'ok') m.accept();
        break;
      case 'send':
        m.applySend(r.conn, r.side, data!, o, r.fds);
        break;
      case 'recv':
        m.applyRecv(r.conn, r.side, r.peek, o);
        break;
      case 'shutdown':
        m.shutdown(r.conn, r.side, r.how);
        break;
      case 'limit':
        m.limit(r.side, r.headroom);
        break;
      case 'kill':
        this.kills++;
        m.kill(r.side);
        break;
      case 'close':
        m.close(r.conn, r.side);
        break;
    }
    return o;
  }

  private expected(r: Resolved): Outcome {
    switch (r.op) {
      case 'connect':
        return this.model.expectedConnect();
      case 'accept':
        return this.model.expectedAccept();
      case 'send':
        return this.model.expectedSend(r.conn, r.side, r.size);
      case 'recv':
        return this.model.expectedRecv(r.conn, r.side, r.size, r.peek);
      default:
        return { kind: 'ok' };
    }
  }

  private line(r: Resolved, o: Outcome, data: Buffer | undefined): string {
    const e = expectText(o);
    switch (r.op) {
      case 'connect':
        return `C ${this.model.connections.length} ${r.nonblock ? 1 : 0} ${e}`;
      case 'accept':
        return `A ${this.model.acceptQueue[0] ?? -1} ${e}`;
      case 'send':
        return `W ${r.conn} ${sideLetter(r.side)} ${r.fds} ${data!.toString('latin1')} ${e}`;
      case 'recv': {
        const flags = `${r.dontwait ? 'd' : ''}${r.peek ? 'p' : ''}${r.waitall ? 'w' : ''}` || '-';
        return `R ${r.conn} ${sideLetter(r.side)} ${r.size} ${flags} ${e}`;
      }
      case 'shutdown':
        return `H ${r.conn} ${sideLetter(r.side)} ${r.how[0]} ${e}`;
      case 'close':
        return `X ${r.conn} ${sideLetter(r.side)} ${e}`;
      case 'kill':
        return `K ${sideLetter(r.side)} ${e}`;
      case 'limit':
        return `L ${sideLetter(r.side)} ${r.headroom}`;
    }
  }

  /** The runner's drain: every live end with something pending reads 65536, blocking, until nothing is, or EOF. */
  drain(): void {
    for (const c of this.model.connections) {
      for (const side of ['client', 'server'] as const) {
        if (!this.model.end(c.index, side).live || !this.model.pending(c.index, side)) continue;
        this.transcriptLines++;
        for (let i = 0; i < 64; i++) {
          if (!this.model.end(c.index, side).live || !this.model.pending(c.index, side)) break;
          if (this.run({ op: 'recv', conn: c.index, side, size: 65536, peek: false, dontwait: false }).kind === 'eof') break;
        }
      }
    }
  }
}

/**
 * One sequence through the model with the pairing's forms: `floor` leaves `limit` out (the floor's
 * input); without it, every command that applies runs, as in the harness (the transcript's length).
 */
async function walk(seq: GeneratedSequence, forms: SequenceForms, floor: boolean): Promise<ModelWorld & { limitsLeftOut: number }> {
  const world = Object.assign(new ModelWorld(seq.backlog), { limitsLeftOut: 0 });
  const passesFds = forms.client.has('fds') && forms.server.has('fds');
  world.lines.push(`S ${seq.backlog} ${passesFds ? MAX_SEND_FDS : 0}`);
  world.transcriptLines = 1; // the listen
  await world.step({ op: 'connect', nonblock: false });
  await world.step({ op: 'accept' });
  const state: SequenceState = { model: world.model, forms };
  // fast-check's asyncModelRun, with limit left out for the floor: a command runs when its check holds.
  for (const cmd of seq.commands) {
    if (!cmd.check(state)) continue;
    if (floor && String(cmd).startsWith('limit(')) {
      world.limitsLeftOut++;
      continue;
    }
    await cmd.run(state, world);
  }
  world.drain();
  world.lines.push('E');
  return world;
}

export async function scriptSequence(seq: GeneratedSequence, forms: SequenceForms): Promise<ScriptedSequence> {
  const asRun = await walk(seq, forms, false);
  const floor = await walk(seq, forms, true);
  if (floor.lines.some((l) => l.startsWith('L '))) throw new Error('sequence script: a limit reached the floor');
  return { lines: floor.lines, transcriptLines: asRun.transcriptLines, limitsLeftOut: floor.limitsLeftOut, kills: floor.kills };
}
