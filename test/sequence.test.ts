/**
 * The sequence property (issue 14): the kernel against itself over many generated sequences (the
 * determinism the differential oracle rests on), the equivalence's rules, the same seed giving the
 * same sequences and verdict, a replay line that reproduces the shrunk sequence, and a mutant caught
 * with a short counterexample.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { mutants } from '../fixtures/mutants/index.js';
import type { Driver } from '../suite/driver/driver.js';
import { CaseContext } from '../suite/harness/context.js';
import { liveProcessCount } from '../suite/harness/process.js';
import type { SocketType } from '../suite/driver/protocol.js';
import { allProperties } from '../suite/properties/index.js';
import { KERNEL_LABEL } from '../suite/properties/sequences.js';
import { cReference } from '../suite/registry.js';
import { runUnit } from '../suite/plan/runner.js';
import { planSuite, runSuite } from '../suite/run.js';
import { EVERY_FORM, resolve, sequenceCommands, type SequenceForms } from '../suite/sequence/commands.js';
import { WorldModel } from '../suite/sequence/model.js';
import { runSequence } from '../suite/sequence/run.js';
import { withDriverReuse } from '../suite/driver/pool.js';
import type { SequenceEvidence } from '../suite/model/types.js';
import { judge } from '../suite/sequence/transcript.js';
import { leftoversOf } from './support/leftovers.js';

const properties = allProperties();
const mutant = mutants().find((m) => m.implementation.name === 'mutant-driver-client-eagain-as-eof')!;

afterAll(() => {
  expect(liveProcessCount()).toBe(0);
  expect(leftoversOf(process.pid)).toEqual({ dirs: [], sockets: [], processes: [] });
});

/**
 * `count` generated sequences on c-reference × c-reference against the oracle's c-reference ×
 * c-reference, through runSequence (the property's own path), with the four drivers started once and
 * reused: each sequence closes what it opened and listens at a fresh path.
 */
/** How often the sequences reached each kind of step: the commands are not just generated but run. */
interface Reached {
  fdRecvs: number;
  backlogFull: number;
  /** Per listen backlog (0..2), how many sequences used it. */
  backlogs: number[];
  waitall: number;
  limits: number;
  emfile: number;
  ctrunc: number;
  kills: number;
  /** Connects refused after the server's driver was killed. */
  refused: number;
}

async function kernelAgainstItself(type: SocketType, count: number, seed: number): Promise<{ differences: string[]; steps: number } & Reached> {
  const pairing = { server: cReference, client: cReference, oracle: cReference, socketType: type, address: 'pathname' as const };
  return CaseContext.with(pairing, 50_000, async (ctx) => {
    // A driver a sequence killed (its kill command) is started again for the next one.
    const start = [() => ctx.startDriver('server'), () => ctx.startDriver('client'), () => ctx.startOracleDriver('oracle server'), () => ctx.startOracleDriver('oracle client')];
    const gone = [false, false, false, false];
    const started = async (i: number): Promise<Driver> => {
      const d = await start[i]!();
      gone[i] = false;
      void d.exited.then(() => (gone[i] = true));
      return d;
    };
    const drivers: Driver[] = await Promise.all([0, 1, 2, 3].map(started));
    const differences: string[] = [];
    let steps = 0;
    const reached: Reached = { fdRecvs: 0, backlogFull: 0, backlogs: [0, 0, 0], waitall: 0, limits: 0, emfile: 0, ctrunc: 0, kills: 0, refused: 0 };
    for (const cmds of fc.sample(sequenceCommands(), { numRuns: count, seed })) {
      for (const [i, dead] of gone.entries()) if (dead) drivers[i] = await started(i);
      const [server, client, oServer, oClient] = drivers as [Driver, Driver, Driver, Driver];
      try {
        const done = await runSequence(
          cmds,
          {
            type,
            subject: { label: 'c-reference × c-reference', server, client, address: { path: ctx.resolve(ctx.socketName()) } },
            oracle: { label: KERNEL_LABEL, server: oServer, client: oClient, address: { path: ctx.resolve(ctx.socketName()) } },
          },
          true,
        );
        steps += done.commands.length;
        reached.fdRecvs += done.oracle.steps.filter((s) => / with [1-3] fds?\b/.test(s)).length;
        reached.backlogFull += done.commands.filter((c, i) => c.startsWith('connect, non-blocking') && done.oracle.steps[i] === 'EAGAIN').length;
        reached.backlogs[cmds.backlog]! += 1;
        reached.waitall += done.commands.filter((c, i) => c.includes('MSG_WAITALL') && done.oracle.steps[i]!.startsWith('data')).length;
        reached.limits += done.commands.filter((c) => / limit: RLIMIT_NOFILE/.test(c)).length;
        reached.emfile += done.oracle.steps.filter((s) => s === 'EMFILE').length;
        reached.ctrunc += done.oracle.steps.filter((s) => s.includes('MSG_CTRUNC')).length;
        reached.kills += done.commands.filter((c) => / kill: SIGKILL/.test(c)).length;
        reached.refused += done.oracle.steps.filter((s) => s === 'ECONNREFUSED').length;
      } catch (err) {
        differences.push(`${String(cmds)}: ${(err as Error).message}`);
        if (differences.length >= 3) break;
      }
    }
    await Promise.all(drivers.map((d) => d.quit(0)));
    return { differences, steps, ...reached };
  });
}

describe('the kernel against itself', () => {
  for (const type of ['stream', 'seqpacket'] as const) {
    it(`c-reference × c-reference shows no difference over 1,000 ${type} sequences`, async () => {
      const started = performance.now();
      const { differences, steps, fdRecvs, backlogFull, ...reached } = await kernelAgainstItself(type, 1000, 14);
      const seconds = (performance.now() - started) / 1000;
      console.log(`${type}: 1000 sequences (${steps} steps) in ${seconds.toFixed(1)} s: ${(1000 / seconds).toFixed(0)} sequences/s with reused drivers`);
      expect(differences).toEqual([]);
      // Not vacuous: the sequences did run commands past the three every sequence starts with.
      expect(steps).toBeGreaterThan(1000 * 6);
      // ... and fds did arrive with bytes (sends with 1-3 pipe fds; the stream rules in model.ts).
      console.log(`${type}: ${fdRecvs} recvs got fds`);
      expect(fdRecvs).toBeGreaterThan(100);
      // ... and connects past the backlog got EAGAIN (listen backlog 1: the third pending connect).
      console.log(`${type}: ${backlogFull} connects found the backlog full`);
      expect(backlogFull).toBeGreaterThan(20);
      // ... and the later commands ran: listen backlogs 0, 1 and 2, MSG_WAITALL reads with data, RLIMIT_NOFILE
      // lowered, with connects and accepts refused EMFILE and fds cut with MSG_CTRUNC.
      console.log(`${type}: backlogs ${reached.backlogs.join('/')}, ${reached.waitall} MSG_WAITALL reads, ${reached.limits} limits, ${reached.emfile} EMFILE, ${reached.ctrunc} MSG_CTRUNC, ${reached.kills} kills, ${reached.refused} ECONNREFUSED`);
      expect(Math.min(...reached.backlogs)).toBeGreaterThan(200);
      expect(reached.waitall).toBeGreaterThan(15);
      expect(reached.limits).toBeGreaterThan(100);
      expect(reached.emfile).toBeGreaterThan(10);
      expect(reached.ctrunc).toBeGreaterThan(5);
      expect(reached.kills).toBeGreaterThan(100);
      expect(reached.refused).toBeGreaterThan(10);
    }, 60_000);
  }
});

describe('the equivalence', () => {
  const data = (s: string) => ({ kind: 'data' as const, bytes: Buffer.from(s), flags: [] });
  const stream = { type: 'stream' as const, dontwait: false };
  it('lets a stream recv return fewer of the next bytes, and MSG_DONTWAIT find nothing yet', () => {
    expect(judge(data('abcdef'), data('abc'), stream)).toBeNull();
    expect(judge(data('abcdef'), { kind: 'errno', code: 'EAGAIN' }, { ...stream, dontwait: true })).toBeNull();
  });
  it('refuses other bytes, more bytes, EOF before the data, and EAGAIN from a blocking recv', () => {
    expect(judge(data('abcdef'), data('abd'), stream)).toMatch(/not the next bytes/);
    expect(judge(data('abc'), data('abcd'), stream)).toMatch(/more bytes/);
    expect(judge(data('abc'), { kind: 'eof' }, { ...stream, dontwait: true })).toMatch(/expected data/);
    expect(judge(data('abc'), { kind: 'errno', code: 'EAGAIN' }, stream)).toMatch(/expected data/);
    expect(judge({ kind: 'errno', code: 'EAGAIN' }, { kind: 'eof' }, { ...stream, dontwait: true })).toMatch(/expected EAGAIN/);
  });
  it('passes fds with the first byte of their send: a stream recv stops after that send, a peek gets them early, fewer bytes owe them only past that byte', () => {
    const m = new WorldModel('stream');
    m.connect();
    m.accept();
    m.applySend(0, 'client', Buffer.from('abc'), { kind: 'sent', n: 3 });
    m.applySend(0, 'client', Buffer.from('def'), { kind: 'sent', n: 3 }, 2);
    m.applySend(0, 'client', Buffer.from('ghi'), { kind: 'sent', n: 3 });
    const whole = m.expectedRecv(0, 'server', 100, false);
    expect(whole).toMatchObject({ kind: 'data', bytes: Buffer.from('abcdef'), fds: 2, fdsAt: 3 });
    // A 2-byte recv reads no fds; a 2-byte peek is given them (this kernel, 6.18).
    expect(m.expectedRecv(0, 'server', 2, false)).not.toHaveProperty('fds');
    expect(m.expectedRecv(0, 'server', 2, true)).toMatchObject({ fds: 2 });
    // A subject's shorter read: no fds before byte 3, the fds once it has byte 3; never fds lost or invented.
    expect(judge(whole, data('ab'), stream)).toBeNull();
    expect(judge(whole, { ...data('abcd'), fds: 2 }, stream)).toBeNull();
    expect(judge(whole, data('abcd'), stream)).toMatch(/0 fds came/);
    expect(judge(whole, { ...data('ab'), fds: 2 }, stream)).toMatch(/2 fds came/);
    m.applyRecv(0, 'server', false, { kind: 'data', bytes: Buffer.from('abcd'), flags: [], fds: 2 });
    expect(m.expectedRecv(0, 'server', 100, false)).toEqual({ kind: 'data', bytes: Buffer.from('efghi'), flags: [] });
  });
  it('refuses a short stream read under MSG_WAITALL, which the model asks for only where the kernel completes it', () => {
    const waitall = { ...stream, waitall: true };
    expect(judge(data('abcdef'), data('abcdef'), waitall)).toBeNull();
    expect(judge(data('abcdef'), data('abc'), waitall)).toMatch(/short read under MSG_WAITALL/);
    const m = new WorldModel('stream');
    m.connect();
    m.accept();
    m.applySend(0, 'client', Buffer.from('abc'), { kind: 'sent', n: 3 });
    // 3 bytes queued: a WAITALL recv of 3 completes, one of 4 would wait (the recv goes without the flag).
    expect(m.waitallCompletes(0, 'server', 3)).toBe(true);
    expect(m.waitallCompletes(0, 'server', 4)).toBe(false);
    const recv = (size: number) => ({ op: 'recv' as const, pick: 0, side: 'server' as const, size, peek: false, block: true, waitall: true });
    expect(resolve(recv(3), m, EVERY_FORM)).toMatchObject({ waitall: true, dontwait: false });
    expect(resolve(recv(4), m, EVERY_FORM)).not.toHaveProperty('waitall');
    // Ended by a send with fds, or by EOF: completes whatever the size.
    m.applySend(0, 'client', Buffer.from('d'), { kind: 'sent', n: 1 }, 1);
    expect(m.waitallCompletes(0, 'server', 100)).toBe(true);
    // A reset with fewer bytes queued is left out (the kernel returns them and swallows the ECONNRESET).
    const r = new WorldModel('stream');
    r.connect();
    r.accept();
    r.applySend(0, 'client', Buffer.from('ab'), { kind: 'sent', n: 2 });
    r.applySend(0, 'server', Buffer.from('q'), { kind: 'sent', n: 1 });
    r.close(0, 'client');
    expect(r.waitallCompletes(0, 'server', 10)).toBe(false);
    expect(r.waitallCompletes(0, 'server', 2)).toBe(true);
  });
  it('models a lowered RLIMIT_NOFILE: EMFILE for connect and accept at 0 free slots, close frees one, passed fds cut to the free slots with MSG_CTRUNC', () => {
    const m = new WorldModel('stream', 2);
    m.connect();
    m.accept();
    m.limit('server', 1);
    m.limit('client', 1);
    m.applySend(0, 'client', Buffer.from('abc'), { kind: 'sent', n: 3 }, 3);
    expect(m.expectedRecv(0, 'server', 10, false)).toMatchObject({ kind: 'data', flags: ['MSG_CTRUNC'], fds: 1 });
    expect(judge(m.expectedRecv(0, 'server', 10, false), { ...data('abc'), fds: 1 }, stream)).toMatch(/flags \[\] with these bytes/);
    expect(m.expectedConnect()).toEqual({ kind: 'ok' });
    m.connect();
    expect(m.expectedConnect()).toEqual({ kind: 'errno', code: 'EMFILE' });
    expect(m.expectedAccept()).toEqual({ kind: 'ok' });
    m.accept();
    expect(m.expectedAccept()).toEqual({ kind: 'errno', code: 'EMFILE' });
    m.applySend(0, 'client', Buffer.from('d'), { kind: 'sent', n: 1 }, 2);
    m.applyRecv(0, 'server', false, { kind: 'data', bytes: Buffer.from('abc'), flags: ['MSG_CTRUNC'] });
    // No slot left: the fds are all cut, the bytes still come.
    expect(m.expectedRecv(0, 'server', 10, false)).toEqual({ kind: 'data', bytes: Buffer.from('d'), flags: ['MSG_CTRUNC'], fdsAt: 0 });
    m.close(1, 'server');
    expect(m.expectedAccept()).toEqual({ kind: 'ok' });
    expect(m.expectedRecv(0, 'server', 10, false)).toMatchObject({ flags: ['MSG_CTRUNC'], fds: 1 });
    // A limited side sends without fds (mkfd would take slots).
    expect(resolve({ op: 'send', pick: 0, side: 'server', size: 4, fds: 2 }, m, EVERY_FORM)).toMatchObject({ fds: 0 });
    expect(resolve({ op: 'limit', side: 'server', headroom: 0 }, m, EVERY_FORM)).toBeNull();
  });
  it('models a killed driver: its ends close as close() does, a dead listener resets its queued connections and refuses later connects, and the dead side is asked nothing more', () => {
    const m = new WorldModel('stream', 2);
    m.connect();
    m.accept();
    m.connect(); // c2: queued, never accepted
    m.applySend(0, 'client', Buffer.from('unread'), { kind: 'sent', n: 6 });
    m.kill('server');
    // c1's server end had unread data: the client gets ECONNRESET, then EOF; c2 was in the accept queue: ECONNRESET.
    expect(m.expectedRecv(0, 'client', 10, false)).toEqual({ kind: 'errno', code: 'ECONNRESET' });
    expect(m.expectedRecv(1, 'client', 10, false)).toEqual({ kind: 'errno', code: 'ECONNRESET' });
    expect(m.expectedSend(1, 'client', 3)).toEqual({ kind: 'errno', code: 'EPIPE' });
    expect(m.expectedConnect()).toEqual({ kind: 'errno', code: 'ECONNREFUSED' });
    expect(resolve({ op: 'accept' }, m, EVERY_FORM)).toBeNull();
    expect(resolve({ op: 'send', pick: 0, side: 'server', size: 1, fds: 0 }, m, EVERY_FORM)).toBeNull();
    expect(resolve({ op: 'kill', side: 'server' }, m, EVERY_FORM)).toBeNull();
    expect(resolve({ op: 'kill', side: 'client' }, m, EVERY_FORM)).toEqual({ op: 'kill', side: 'client' });
    // Only where the side's drivers are processes (setrlimit listed in hello): never an in-process adapter.
    expect(resolve({ op: 'kill', side: 'client' }, m, { client: new Set(['fds']), server: new Set() })).toBeNull();
  });
  it('compares seqpacket message by message: a part of a message is a difference', () => {
    expect(judge(data('abcdef'), data('abc'), { ...stream, type: 'seqpacket' })).toMatch(/expected data/);
  });
  it('models the reset: queued bytes, then ECONNRESET once, then EOF (stream); ECONNRESET first on seqpacket', () => {
    for (const type of ['stream', 'seqpacket'] as const) {
      const m = new WorldModel(type);
      m.connect();
      m.accept();
      m.applySend(0, 'client', Buffer.from('xy'), { kind: 'sent', n: 2 });
      m.applySend(0, 'server', Buffer.from('q'), { kind: 'sent', n: 1 });
      m.close(0, 'client');
      const first = m.expectedRecv(0, 'server', 100, false);
      expect(first.kind === 'errno' ? first.code : first.kind).toBe(type === 'stream' ? 'data' : 'ECONNRESET');
    }
  });
});

describe('the forms a command uses: only what both sides claim in hello', () => {
  it('skips MSG_PEEK, MSG_DONTWAIT and a shutdown of the read side on a side whose drivers lack the feature, and runs them where they have it', () => {
    const m = new WorldModel('stream');
    m.connect();
    m.accept();
    // The client's drivers (as ts-net's) have msg-peek and msg-dontwait; the server's have nothing.
    const forms: SequenceForms = { client: new Set(['msg-peek', 'msg-dontwait']), server: new Set() };
    const recv = (side: 'client' | 'server', peek: boolean, block: boolean) => ({ op: 'recv' as const, pick: 0, side, size: 4, peek, block, waitall: false });
    const shutdown = (side: 'client' | 'server', how: 'read' | 'write' | 'both') => ({ op: 'shutdown' as const, pick: 0, side, how });
    // Nothing pending: a recv is non-blocking whatever it asked.
    expect(resolve(recv('client', true, true), m, forms)).toMatchObject({ peek: true, dontwait: true });
    expect(resolve(recv('server', false, true), m, forms)).toBeNull();
    expect(resolve(recv('server', false, true), m, EVERY_FORM)).toMatchObject({ dontwait: true });
    m.applySend(0, 'client', Buffer.from('abc'), { kind: 'sent', n: 3 });
    // Data pending for the server: a blocking plain recv needs no feature, a peek does.
    expect(resolve(recv('server', false, true), m, forms)).toMatchObject({ peek: false, dontwait: false });
    expect(resolve(recv('server', true, true), m, forms)).toBeNull();
    expect(resolve(recv('server', false, false), m, forms)).toBeNull();
    for (const side of ['client', 'server'] as const) {
      expect(resolve(shutdown(side, 'write'), m, forms)).toMatchObject({ how: 'write' });
      expect(resolve(shutdown(side, 'read'), m, forms)).toBeNull();
      expect(resolve(shutdown(side, 'both'), m, forms)).toBeNull();
      expect(resolve(shutdown(side, 'both'), m, EVERY_FORM)).toMatchObject({ how: 'both' });
    }
  });
});

describe('sequence.equivalent on a mutant', () => {
  const options = (seed: number) => ({
    implementations: [mutant.implementation, cReference],
    properties,
    propertyPatterns: ['sequence.equivalent'],
    servers: [cReference.name],
    clients: [mutant.implementation.name],
    seed,
    jobs: 2,
    caseDeadlineMs: 10_000,
  });

  it('is caught with a shrunk sequence of at most 6 commands, its evidence the two transcripts side by side, and the same seed gives the same verdict', async () => {
    const first = await runSuite(options(3));
    const again = await runSuite(options(3));
    expect(first.results.map((r) => r.status)).toEqual(['fail', 'fail']);
    for (const [i, r] of first.results.entries()) {
      const generated = String(r.counterexample!.input).replace(/ \/\*replayPath=.*$/, '').split(',');
      expect(generated.length).toBeLessThanOrEqual(6);
      const sequence = r.evidence!.details!.sequence as SequenceEvidence;
      expect(sequence.subject.steps).toHaveLength(sequence.commands.length);
      expect(sequence.oracle.steps).toHaveLength(sequence.commands.length);
      expect(sequence.oracle.label).toBe(KERNEL_LABEL);
      const at = sequence.firstDifference!;
      expect(sequence.commands[at]).toMatch(/client recv/);
      expect([sequence.subject.steps[at], sequence.oracle.steps[at]]).toEqual(['EOF (0 bytes)', 'EAGAIN']);
      // Same seed: the same sequence, path and verdict.
      const twin = again.results[i]!;
      expect([twin.status, twin.counterexample, (twin.evidence!.details!.sequence as SequenceEvidence).commands]).toEqual([r.status, r.counterexample, sequence.commands]);
      expect(r.replay).toContain('~');
    }
  }, 120_000);

  it('gives the same verdict, counterexample and evidence with process drivers reused between cases (issue 17), and leaves none', async () => {
    const plain = await runSuite(options(3));
    const reused = await withDriverReuse(() => runSuite(options(3)));
    expect(liveProcessCount()).toBe(0);
    expect(reused.results.map((r) => r.status)).toEqual(['fail', 'fail']);
    for (const [i, r] of reused.results.entries()) {
      const twin = plain.results[i]!;
      expect([r.counterexample, r.runs, r.evidence!.details!.sequence]).toEqual([twin.counterexample, twin.runs, twin.evidence!.details!.sequence]);
    }
  }, 120_000);

  it('replays the exact shrunk sequence from the replay line (seed, path and replayPath)', async () => {
    const { results } = await runSuite(options(11));
    const r = results[0]!;
    expect(r.status).toBe('fail');
    const { units } = await planSuite(options(11));
    const unit = units.find((u) => u.socketType === r.socketType)!;
    const replayed = await runUnit(unit, { runs: 100, seed: r.counterexample!.seed, oracle: cReference, caseDeadlineMs: 10_000, replayPath: r.counterexample!.path });
    expect(replayed.status).toBe('fail');
    expect(replayed.counterexample!.input).toEqual(r.counterexample!.input);
    // The generated backlog is part of what replays (the tuple's path), not only the commands.
    expect(String(r.counterexample!.input)).toMatch(/^backlog [0-2]: /);
    expect((replayed.evidence!.details!.sequence as SequenceEvidence).commands).toEqual((r.evidence!.details!.sequence as SequenceEvidence).commands);
  }, 120_000);
});
