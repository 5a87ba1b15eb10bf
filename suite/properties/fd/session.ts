/**
 * One fd-passing session, played by the pairing's two drivers (docs/driver-protocol.md), and the checks
 * the fd properties share, in the spirit of gVisor's SendSingleFD/TransferTest helpers. Which transport
 * each driver uses (a process, or an adapter in the harness's process) was settled by the plan; the
 * session cannot tell them apart.
 *
 * Server driver: mkfd each item, listen, accept, send payload [0,A) plain, [A,A+L) with every fd, the
 * rest plain, shutdown(write), read until EOF, stat each item for offsetAfter, quit.
 * Client driver: connect, recv until EOF, stat and read through each fd received, try-open, list its
 * fds, whoami, quit (closing the connection is the EOF the server waits for).
 *
 * A server whose command fails "exits 1": the driver is told `quit` with status 1 (so its connection
 * closes and the client sees EOF), and the failed call is appended to the server summary's stderr as
 * `<command>: <syscall>: <strerror> (<errno name>)`, which is what fd.scm-max reads.
 */
import fc from 'fast-check';
import { DEFAULTS } from '../../defaults.js';
import type { Driver } from '../../driver/driver.js';
import { DriverError } from '../../driver/driver.js';
import type { CaseContext } from '../../harness/context.js';
import type { ReadyOutcome } from '../../harness/readiness.js';
import { exitText } from '../../model/format.js';
import { CheckFailure, type Evidence, type ProcessSummary } from '../../model/types.js';
import { within, type SessionOutcome } from '../session.js';
import { fail, requireReady } from '../verify.js';
import { fdContent, FD_KINDS, leakedFds, passSpec, type ClientFdReport, type FdClientOptions, type FdKind, type ReadRecord, type ReceivedFd, type SentFd, type ServerFdReport } from './reports.js';

export const fdKindArb: fc.Arbitrary<FdKind> = fc.constantFrom(...FD_KINDS);
/** Kinds whose every item is a distinct object (a `dir` item is the same directory every time). */
export const distinctKindArb: fc.Arbitrary<FdKind> = fc.constantFrom<FdKind>('file', 'pipe', 'socket', 'memfd');

/** 1 to 253 fds: mostly a few of mixed kinds, sometimes many of one kind up to SCM_MAX_FD. */
export const fdListArb: fc.Arbitrary<FdKind[]> = fc.oneof(
  { arbitrary: fc.array(fdKindArb, { minLength: 1, maxLength: 10 }), weight: 4 },
  { arbitrary: fc.record({ kind: distinctKindArb, count: fc.integer({ min: 1, max: 253 }) }).map(({ kind, count }) => Array<FdKind>(count).fill(kind)), weight: 1 },
);

/** How the sending side sends: fds with bytes [fdAt, fdAt+fdLen) of the payload; each seekable fd read `skip` bytes first. */
export interface FdServerOptions {
  fdAt?: number;
  fdLen?: number;
  skip?: number;
  senderCloexec?: boolean;
}
export type { FdClientOptions };

export interface FdSessionOptions {
  payload: Uint8Array;
  /** What the server passes, in order: kinds, or `file:/abs/path`. */
  pass: string[];
  server?: FdServerOptions;
  client?: FdClientOptions;
  clientUid?: number;
  clientGid?: number;
  beforeClient?: (path: string) => Promise<void>;
}

export interface FdSessionOutcome {
  outcome: SessionOutcome;
  /** Absent when the server did not finish successfully (its exit code says why). */
  server?: ServerFdReport;
  client: ClientFdReport;
  evidence: Pick<Evidence, 'server' | 'client' | 'details'>;
}

type Side<T> = { value: T } | { failed: DriverError } | { error: unknown };

/** Runs one side's body, then quits its driver: status 0 after success, 1 after a failed command. */
async function runSide<T>(driver: Driver, body: () => Promise<T>): Promise<Side<T>> {
  let result: Side<T>;
  try {
    result = { value: await body() };
  } catch (err) {
    result = err instanceof DriverError ? { failed: err } : { error: err };
  }
  try {
    if ('error' in result) driver.kill();
    else await driver.quit('value' in result ? 0 : 1);
  } catch (err) {
    driver.kill();
    if ('value' in result) result = err instanceof DriverError ? { failed: err } : { error: err };
  }
  return result;
}

function withFailure(summary: ProcessSummary, failed: DriverError | undefined): ProcessSummary {
  if (!failed) return summary;
  const { syscall, message, code } = failed.info;
  return { ...summary, stderr: `${summary.stderr}${failed.command}: ${syscall}: ${message} (${code})\n` };
}

const seekable = (kind: FdKind): boolean => kind === 'file' || kind === 'memfd';

/** Runs one fd session over the pairing's two drivers; a driver that fails or lies fails the check. */
export async function fdSession(ctx: CaseContext, options: FdSessionOptions): Promise<FdSessionOutcome> {
  // Absolute: an in-process driver shares the harness's cwd, a process driver runs in the case dir.
  const path = ctx.resolve(ctx.socketName());
  const payload = Buffer.from(options.payload.buffer, options.payload.byteOffset, options.payload.byteLength);
  const so = options.server ?? {};
  const co = options.client ?? {};
  const at = so.fdAt ?? 0;
  const len = so.fdLen ?? payload.length - at;
  if (payload.length < at + 1 || len < 1 || at + len > payload.length) {
    throw new Error(`fd session: payload of ${payload.length} bytes cannot carry fds at [${at}, ${at + len})`);
  }
  const started = await Promise.allSettled([ctx.startDriver('server'), ctx.startDriver('client', { uid: options.clientUid, gid: options.clientGid })]);
  if (started[0].status === 'rejected' || started[1].status === 'rejected') {
    for (const s of started) if (s.status === 'fulfilled') await s.value.stop();
    throw started[0].status === 'rejected' ? started[0].reason : (started[1] as PromiseRejectedResult).reason;
  }
  const srv = started[0].value;
  const cli = started[1].value;
  const transcripts = (): Record<string, string[]> => ({ server: srv.transcript(), client: cli.transcript() });
  const details = { socketType: ctx.socketType, pass: passSpec(options.pass), server: so, client: co };
  try {
    // ---- server: the fds first, then listen ----
    const t0 = performance.now();
    const sent: SentFd[] = [];
    const names: string[] = [];
    let sock: string | undefined;
    let ready: ReadyOutcome;
    try {
      for (const [index, item] of options.pass.entries()) {
        const made = await srv.mkfd({ kind: item, index, dir: ctx.dir, skip: so.skip ?? 0, cloexec: so.senderCloexec ?? false });
        names.push(made.fd);
        sent.push({ index, kind: (item.startsWith('file:') ? 'file' : item) as FdKind, dev: made.dev, ino: made.ino, offsetAfter: null });
      }
      sock = await srv.listen(path, { type: ctx.socketType });
      ready = { ready: true, inode: 0, waitedMs: performance.now() - t0 };
    } catch (err) {
      if (!(err instanceof DriverError)) throw err;
      await srv.quit(1).catch(() => srv.kill());
      await cli.quit(0).catch(() => cli.kill());
      const server = withFailure(await srv.exited, err);
      const outcome: SessionOutcome = { ready: { ready: false, reason: 'exited', detail: err.message, waitedMs: performance.now() - t0 }, server, client: await cli.exited, clientHung: false, serverHung: false };
      requireReady(outcome, path);
      throw err; // not reached: requireReady throws for a server that is not ready
    }
    await options.beforeClient?.(path);

    const serverRun = runSide(srv, async (): Promise<ServerFdReport> => {
      const conn = await srv.accept(sock!);
      if (at > 0) await srv.send(conn, payload.subarray(0, at));
      await srv.send(conn, payload.subarray(at, at + len), { fds: names });
      if (at + len < payload.length) await srv.send(conn, payload.subarray(at + len));
      await srv.shutdown(conn, 'write');
      // The client closes once it has read through the fds and reported.
      while ((await srv.recv(conn, { dataSize: 4096, plain: true })).data.length > 0);
      for (const [i, s] of sent.entries()) if (seekable(s.kind)) s.offsetAfter = (await srv.stat(names[i]!)).offset;
      return { sent, error: null };
    });

    const clientRun = runSide(cli, async (): Promise<ClientFdReport> => {
      const conn = await cli.connect(path, { type: ctx.socketType });
      const bytes: Buffer[] = [];
      const reads: ReadRecord[] = [];
      const got: Array<{ name: string; read: number }> = [];
      for (;;) {
        const r = await cli.recv(conn, { dataSize: co.recvBuf ?? 65536, controlFds: co.ctlFds ?? 253, cloexec: co.cloexec ?? false, plain: co.plainRead ?? false });
        for (const name of r.fds) got.push({ name, read: reads.length });
        if (r.data.length === 0) break;
        bytes.push(r.data);
        reads.push({ length: r.data.length, fds: r.fds.length, flags: r.flags });
      }
      const fds: ReceivedFd[] = [];
      for (const { name, read } of got) {
        const st = await cli.stat(name);
        const through = await cli.read(name, co.readFdBytes ?? 9);
        fds.push({ read, kind: st.kind, dev: st.dev, ino: st.ino, cloexec: st.cloexec, accmode: st.accmode ?? 'unknown', offset: st.offset, data: through.data, error: through.error });
      }
      // Opened and closed before the listing, so it never shows there.
      const tryOpen = co.tryOpen === undefined ? undefined : { path: co.tryOpen, error: (await cli.open(co.tryOpen)).error };
      const openFds = await cli.fds();
      const who = await cli.whoami();
      return { bytes: Buffer.concat(bytes), reads, fds, openFds, tryOpen, uid: who.uid, gid: who.gid };
    });

    const first = await Promise.race([serverRun.then(() => 'server' as const), clientRun.then(() => 'client' as const)]);
    let clientHung = false;
    let serverHung = false;
    if (first === 'server') {
      clientHung = !(await within(clientRun, DEFAULTS.eofGraceMs));
      if (clientHung) cli.kill();
    } else {
      serverHung = !(await within(serverRun, DEFAULTS.serverGraceMs));
      if (serverHung) srv.kill();
    }
    const [serverSide, clientSide] = [await serverRun, await clientRun];
    const serverFailed = 'failed' in serverSide ? serverSide.failed : undefined;
    const clientFailed = 'failed' in clientSide ? clientSide.failed : undefined;
    const outcome: SessionOutcome = {
      ready,
      server: withFailure(await srv.exited, serverFailed),
      client: withFailure(await cli.exited, clientFailed),
      clientHung,
      serverHung,
    };
    const evidence = { server: outcome.server, client: outcome.client, details: { ...details, transcript: transcripts() } };
    // A driver that lied, declared the case unsupported or missed the deadline: nothing else counts.
    // (A side killed for hanging is reported as hung, not by the error its killing caused.)
    for (const [side, hung] of [[clientSide, clientHung], [serverSide, serverHung]] as const) {
      if (!('error' in side) || hung) continue;
      if (side.error instanceof CheckFailure) throw new CheckFailure({ ...evidence, ...side.error.evidence, details: { ...evidence.details, ...side.error.evidence.details } });
      throw side.error;
    }
    if (clientHung || !('value' in clientSide)) {
      const what = clientHung ? 'a hang (killed)' : `a failed command: ${clientFailed!.message}`;
      fail(
        `the client driver ended the fd session with ${what}`,
        'every command answered ok, and a report',
        clientHung ? `no EOF handled within ${DEFAULTS.eofGraceMs} ms of the server finishing` : `${clientFailed!.info.code} from ${clientFailed!.info.syscall}`,
        evidence,
      );
    }
    const server = 'value' in serverSide && !serverHung ? serverSide.value : undefined;
    return { outcome, server, client: clientSide.value, evidence };
  } finally {
    // Every path leaves no driver behind: a no-op for drivers that quit.
    await Promise.all([srv.stop(), cli.stop()]);
  }
}

/** The server's report, or a failure saying the server did not complete. */
export function requireServerReport(s: FdSessionOutcome): ServerFdReport {
  if (s.server) return s.server;
  fail(
    `the server driver ended with ${exitText(s.outcome.server)}`,
    'every command answered ok',
    `${exitText(s.outcome.server)}: ${s.outcome.server.stderr.trim().slice(0, 200)}`,
    s.evidence,
  );
}

/** Fails unless the client received exactly the sent objects (by dev/ino), in order. */
export function expectSameObjects(s: FdSessionOutcome, sent: ServerFdReport['sent'], what: string): void {
  const got = s.client.fds.map((f) => `${f.kind}@${f.dev}:${f.ino}`);
  const want = sent.map((f) => `${f.kind === 'memfd' ? 'file' : f.kind}@${f.dev}:${f.ino}`);
  if (got.length !== want.length || got.some((g, i) => g !== want[i])) {
    const i = got.findIndex((g, j) => g !== want[j]);
    fail(
      `${what}: received ${got.length} fds for ${want.length} sent${i >= 0 ? `; first mismatch at fd ${i}` : ''}`,
      want.slice(Math.max(0, i), Math.max(0, i) + 3).join(', ') || '(none)',
      got.slice(Math.max(0, i), Math.max(0, i) + 3).join(', ') || '(none)',
      s.evidence,
    );
  }
}

/** Fails if the client holds an fd to an object it was sent but not given. */
export function expectNoLeaks(s: FdSessionOutcome, sent: ServerFdReport['sent'], delivered: number): void {
  const leaks = leakedFds(s.client, sent, delivered);
  if (leaks.length > 0) {
    fail(
      `${leaks.length} fd(s) the receiver was not given are open in it: ${leaks.map((l) => `fd ${l.fd} = sent #${l.sentIndex}`).join(', ')}`,
      'undelivered fds closed by the kernel, none open in the receiver',
      `leaked: ${JSON.stringify(leaks.slice(0, 5))}`,
      s.evidence,
    );
  }
}

/** What reading up to n bytes through received fd i should give. */
export function expectedRead(index: number, kind: FdKind, skip: number, n: number): Buffer {
  const content = fdContent(index, kind);
  const from = kind === 'file' || kind === 'memfd' ? skip : 0;
  return content.subarray(from, from + n);
}

/** Payload for fd sessions: text, so a report's bytes are easy to read in evidence. */
export function textPayload(size: number): Uint8Array {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = 0x61 + (i % 26);
  return out;
}
