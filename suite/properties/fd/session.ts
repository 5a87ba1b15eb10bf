/**
 * One fd-passing session (docs/fd-passing.md) and the checks the fd properties share, in the spirit
 * of gVisor's SendSingleFD/TransferTest helpers. Both roles run as processes: a receiver's open fds
 * are only meaningful in a process of its own.
 */
import fc from 'fast-check';
import type { CaseContext } from '../../harness/context.js';
import { fdContent, FD_KINDS, type FdClientOptions, leakedFds, parseClientReport, parseServerReport, passSpec, type ClientFdReport, type FdKind, type ServerFdReport } from './reports.js';
import { CheckFailure, type Evidence } from '../../model/types.js';
import { exitText, requireReady, session, sides, type SessionOutcome } from '../session.js';
import { fdDriverSession, fdSessionUsesDrivers } from './drivers.js';

export const fdKindArb: fc.Arbitrary<FdKind> = fc.constantFrom(...FD_KINDS);
/** Kinds whose every item is a distinct object (a `dir` item is the same directory every time). */
export const distinctKindArb: fc.Arbitrary<FdKind> = fc.constantFrom<FdKind>('file', 'pipe', 'socket', 'memfd');

/** 1 to 253 fds: mostly a few of mixed kinds, sometimes many of one kind up to SCM_MAX_FD. */
export const fdListArb: fc.Arbitrary<FdKind[]> = fc.oneof(
  { arbitrary: fc.array(fdKindArb, { minLength: 1, maxLength: 10 }), weight: 4 },
  { arbitrary: fc.record({ kind: distinctKindArb, count: fc.integer({ min: 1, max: 253 }) }).map(({ kind, count }) => Array<FdKind>(count).fill(kind)), weight: 1 },
);

/** Largest client report kept; a larger one is reported as cut off rather than parsed. */
export const FD_REPORT_CAP = 64 * 1024 * 1024;

export interface FdServerOptions {
  fdAt?: number;
  fdLen?: number;
  skip?: number;
  senderCloexec?: boolean;
}
export type { FdClientOptions };

export interface FdSessionOptions {
  payload: Uint8Array;
  /** --pass items: kinds, or `file:/abs/path`. */
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

function serverArgs(pass: string[], o: FdServerOptions = {}): string[] {
  const args = ['--pass', passSpec(pass)];
  if (o.fdAt !== undefined) args.push('--fd-at', String(o.fdAt));
  if (o.fdLen !== undefined) args.push('--fd-len', String(o.fdLen));
  if (o.skip !== undefined) args.push('--skip', String(o.skip));
  if (o.senderCloexec) args.push('--sender-cloexec');
  return args;
}

function clientArgs(o: FdClientOptions = {}): string[] {
  const args = ['--fds'];
  if (o.recvBuf !== undefined) args.push('--recv-buf', String(o.recvBuf));
  if (o.ctlFds !== undefined) args.push('--ctl-fds', String(o.ctlFds));
  if (o.cloexec) args.push('--cloexec');
  if (o.plainRead) args.push('--plain-read');
  if (o.readFdBytes !== undefined) args.push('--read-fd-bytes', String(o.readFdBytes));
  if (o.tryOpen !== undefined) args.push('--try-open', o.tryOpen);
  return args;
}

/** Runs one fd-mode session and parses both reports; a client that fails or lies fails the check. */
export async function fdSession(ctx: CaseContext, options: FdSessionOptions): Promise<FdSessionOutcome> {
  // Without the fd-mode CLI on both sides, the same session is played by the two drivers.
  if (fdSessionUsesDrivers(ctx)) return fdDriverSession(ctx, options);
  const path = ctx.socketName();
  const outcome = await session(ctx, {
    path,
    payload: options.payload,
    serverArgs: serverArgs(options.pass, options.server),
    clientArgs: clientArgs(options.client),
    clientUid: options.clientUid,
    clientGid: options.clientGid,
    beforeClient: options.beforeClient,
    // The report is parsed whole: keep all of it (a payload of a few hundred KiB, base64, plus reads).
    clientStdoutCap: FD_REPORT_CAP,
  });
  requireReady(outcome, path);
  const evidence = { ...sides(outcome), details: { pass: passSpec(options.pass), server: options.server ?? {}, client: options.client ?? {} } };
  if (outcome.clientHung || outcome.client.exitCode !== 0) {
    throw new CheckFailure({
      message: `the fd-mode client ended with ${outcome.clientHung ? 'a hang (killed)' : exitText(outcome.client)}`,
      expected: 'exit 0 and a report',
      actual: exitText(outcome.client),
      ...evidence,
    });
  }
  if (outcome.stdout.truncated) {
    throw new CheckFailure({ message: `the client's report is larger than ${FD_REPORT_CAP} bytes`, expected: 'a report of bounded size', actual: `${outcome.stdout.length} bytes`, ...evidence });
  }
  const client = parseClientReport(outcome.stdout.head().toString('utf8'));
  const server = outcome.server.exitCode === 0 ? parseServerReport(outcome.serverStdout!.head().toString('utf8')) : undefined;
  return { outcome, server, client, evidence };
}

/** The server's report, or a failure saying the server did not complete. */
export function requireServerReport(s: FdSessionOutcome): ServerFdReport {
  if (s.server) return s.server;
  throw new CheckFailure({
    message: `the fd-mode server ended with ${exitText(s.outcome.server)}`,
    expected: 'exit 0 and a {"sent":[...]} line',
    actual: `${exitText(s.outcome.server)}: ${s.outcome.server.stderr.trim().slice(0, 200)}`,
    ...s.evidence,
  });
}

/** Fails unless the client received exactly the sent objects (by dev/ino), in order. */
export function expectSameObjects(s: FdSessionOutcome, sent: ServerFdReport['sent'], what: string): void {
  const got = s.client.fds.map((f) => `${f.kind}@${f.dev}:${f.ino}`);
  const want = sent.map((f) => `${f.kind === 'memfd' ? 'file' : f.kind}@${f.dev}:${f.ino}`);
  if (got.length !== want.length || got.some((g, i) => g !== want[i])) {
    const i = got.findIndex((g, j) => g !== want[j]);
    throw new CheckFailure({
      message: `${what}: received ${got.length} fds for ${want.length} sent${i >= 0 ? `; first mismatch at fd ${i}` : ''}`,
      expected: want.slice(Math.max(0, i), Math.max(0, i) + 3).join(', ') || '(none)',
      actual: got.slice(Math.max(0, i), Math.max(0, i) + 3).join(', ') || '(none)',
      ...s.evidence,
    });
  }
}

/** Fails if the client holds an fd to an object it was sent but not given. */
export function expectNoLeaks(s: FdSessionOutcome, sent: ServerFdReport['sent'], delivered: number): void {
  const leaks = leakedFds(s.client, sent, delivered);
  if (leaks.length > 0) {
    throw new CheckFailure({
      message: `${leaks.length} fd(s) the receiver was not given are open in it: ${leaks.map((l) => `fd ${l.fd} = sent #${l.sentIndex}`).join(', ')}`,
      expected: 'undelivered fds closed by the kernel, none open in the receiver',
      actual: `leaked: ${JSON.stringify(leaks.slice(0, 5))}`,
      ...s.evidence,
    });
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
