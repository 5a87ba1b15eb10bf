/**
 * One session of the seed protocol, in the spirit of gVisor's TransferTest and SendSingleFD
 * (test/syscalls/linux/unix_domain_socket_test_util.h): run the pairing once and describe what
 * happened, so that each property only states its requirement (through verify.ts).
 */
import { lstat } from 'node:fs/promises';
import { DEFAULTS } from '../defaults.js';
import type { OutputCapture } from '../harness/capture.js';
import type { CaseContext, RunMode } from '../harness/context.js';
import type { ConnectionEvidence } from '../harness/peers.js';
import { socketInodesOf, type ReadyOutcome } from '../harness/readiness.js';
import { declaredUnsupported, exitText } from '../model/format.js';
import { FIXED_MESSAGE } from '../model/seed.js';
import { Unsupported, type Evidence, type Implementation, type ProcessSummary } from '../model/types.js';

/** How long a client may keep running after its server has closed the connection and exited (defaults.ts). */
export const EOF_GRACE_MS = DEFAULTS.eofGraceMs;
/** How long a server may keep running after its client has finished (defaults.ts). */
export const SERVER_GRACE_MS = DEFAULTS.serverGraceMs;

export interface SessionOptions {
  path: string;
  payload?: Uint8Array;
  /** What the client's stdout is compared against as it streams. */
  expected?: Uint8Array;
  mode?: RunMode;
  /** Extra arguments for a process server / client (fd-passing mode); they force process mode. */
  serverArgs?: string[];
  clientArgs?: string[];
  /** Run the client as this uid/gid (privilege drop). */
  clientUid?: number;
  clientGid?: number;
  /** Client stdout bytes kept (default: the harness's cap). */
  clientStdoutCap?: number;
  /** Runs between the server's readiness and the client's start (e.g. to open up permissions). */
  beforeClient?: (path: string) => Promise<void>;
}

export interface SessionOutcome {
  ready: ReadyOutcome;
  server: ProcessSummary;
  client?: ProcessSummary;
  stdout?: OutputCapture;
  /** What a process server printed (fd-passing servers report on stdout). */
  serverStdout?: OutputCapture;
  /** The client was still running EOF_GRACE_MS after the server exited, and was killed. */
  clientHung: boolean;
  /** The server was still running SERVER_GRACE_MS after the client exited, and was killed. */
  serverHung: boolean;
  /**
   * Whether the harness saw the client connect to this server, and how it knows (harness/peers.ts for
   * a process server; an in-process server's onAccepted). Absent: not observed (fd sessions).
   */
  connection?: ConnectionEvidence;
  /** Whether the server accepted that connection, and how the harness knows. */
  accepted?: { accepted: boolean; how: string };
  /**
   * The client had every expected byte, then nothing happened for the quiet period: both were killed.
   * `serverHoldsConnection`: the server's tree still held the accepted socket (undefined: cannot tell).
   */
  quiet?: { quietMs: number; serverHoldsConnection: boolean | undefined; clientHasAll: boolean };
}

/** Resolves to true if p settles within ms, false otherwise (the timer is a deadline, not a delay). */
export function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  return Promise.race([p.then(() => true), deadline]).finally(() => clearTimeout(timer));
}

/**
 * What the client should print, when the caller does not say: the payload for a server that takes one,
 * else the fixed message. Known bytes let the quiet period end a session whose server never closes.
 * None for fd-passing sessions (the client prints a report).
 */
function defaultExpected(ctx: CaseContext, options: SessionOptions): Uint8Array | undefined {
  if (options.expected) return options.expected;
  if (options.serverArgs || options.clientArgs) return undefined;
  return options.payload !== undefined && ctx.server.server?.payload ? options.payload : FIXED_MESSAGE;
}

/**
 * Resolves once the capture holds every expected byte and nothing more has arrived for ms; each chunk
 * restarts the wait, and a stream that goes past or departs from the expected bytes never resolves.
 */
function quietPeriod(stdout: OutputCapture, ms: number, stalled?: () => boolean): { ended: Promise<'quiet' | 'stalled'>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let done!: (why: 'quiet' | 'stalled') => void;
  const ended = new Promise<'quiet' | 'stalled'>((r) => (done = r));
  // Without every byte at the client, the period is only watched when `stalled` can tell idleness.
  const fire = (): void => {
    if (stdout.complete) return done('quiet');
    if (stalled?.()) return done('stalled');
    timer = setTimeout(fire, ms);
  };
  const arm = (): void => {
    if (timer) clearTimeout(timer);
    timer = stdout.complete || stalled ? setTimeout(fire, ms) : undefined;
  };
  const off = stdout.onPush(arm);
  arm();
  return {
    ended,
    cancel: () => {
      off();
      if (timer) clearTimeout(timer);
    },
  };
}

/**
 * One session: start the server, wait until it listens, run the client, wait for both to finish. A
 * process server is held still until the client has connected (harness/peers.ts says why), so the
 * outcome records whether it did; the session ends early when the client has everything and then
 * nothing happens for the quiet period.
 */
export async function session(ctx: CaseContext, options: SessionOptions): Promise<SessionOutcome> {
  // Imported here, not at the top: peers.ts loads the addon, which `list` (loading every property) never needs.
  const { cpuTicks, holdTree, holdsAcceptedSocket, listenerOf, waitForConnection } = await import('../harness/peers.js');
  const server = await ctx.startServer({ path: options.path, payload: options.payload, mode: options.mode, extraArgs: options.serverArgs });
  if (!server.ready.ready) {
    server.kill();
    const summary = await server.exited;
    throwIfDeclaredUnsupported(summary);
    return { ready: server.ready, server: summary, serverStdout: server.stdout, clientHung: false, serverHung: false };
  }
  await options.beforeClient?.(options.path);
  const inode = server.ready.inode;
  const processServer = server.pid !== undefined && server.pid > 0 && inode > 0;
  const listener = processServer ? listenerOf(inode) : undefined;
  const held = processServer ? await holdTree(server.pid!, ctx.signal) : undefined;
  let connection: ConnectionEvidence | undefined;
  let client: ReturnType<CaseContext['startClient']>;
  try {
    client = ctx.startClient({
      path: options.path,
      expected: defaultExpected(ctx, options),
      mode: options.mode,
      extraArgs: options.clientArgs,
      uid: options.clientUid,
      gid: options.clientGid,
      stdoutCap: options.clientStdoutCap,
    });
    if (held) connection = await waitForConnection({ inode, clientExited: client.exited, signal: ctx.signal });
  } finally {
    held?.release();
  }
  // Whether the server's tree holds its accepted socket now: seen, it proves the accept.
  let sawAccepted = false;
  const serverHoldsConnection = (): boolean | undefined => {
    if (!processServer || !listener) return undefined;
    const holds = holdsAcceptedSocket(socketInodesOf(server.pid!), listener.path, listener.type);
    sawAccepted ||= holds;
    return holds;
  };
  // A fallback sample, not a wait: a session that lasts (a server that never closes, a client that
  // holds its output until EOF) shows its accepted socket here even if the deadline ends it.
  const sampler = processServer ? setInterval(() => void serverHoldsConnection(), 250) : undefined;
  // A client may hold what it read until EOF (stdio buffering: c-original), so its stdout never shows
  // every byte. Then "nothing happens" is taken from the kernel: the server's tree still holds the
  // accepted connection and neither tree has used any CPU for the whole quiet period.
  let lastTicks: number | undefined;
  const stalled =
    processServer && client.pid !== undefined
      ? (): boolean => {
          const clientPid = client.pid!;
          if (clientPid <= 0) return false;
          const ticks = cpuTicks(server.pid!) + cpuTicks(clientPid);
          const idle = ticks === lastTicks;
          lastTicks = ticks;
          return idle && serverHoldsConnection() === true;
        }
      : undefined;
  stalled?.();
  const quiet = quietPeriod(client.stdout, ctx.quietMs, stalled);
  const first = await Promise.race([
    server.exited.then(() => 'server' as const),
    client.exited.then(() => 'client' as const),
    quiet.ended,
  ]);
  quiet.cancel();
  clearInterval(sampler);
  let clientHung = false;
  let serverHung = false;
  let quietOutcome: SessionOutcome['quiet'];
  if (first === 'quiet' || first === 'stalled') {
    quietOutcome = { quietMs: ctx.quietMs, serverHoldsConnection: serverHoldsConnection(), clientHasAll: first === 'quiet' };
    server.kill();
    client.kill();
  } else if (first === 'server') {
    clientHung = !(await within(client.exited, EOF_GRACE_MS));
    if (clientHung) client.kill();
  } else {
    serverHung = !(await within(server.exited, SERVER_GRACE_MS));
    if (serverHung) {
      serverHoldsConnection();
      server.kill();
    }
  }
  const serverSummary = await server.exited;
  const clientSummary = await client.exited;
  throwIfDeclaredUnsupported(serverSummary, clientSummary);
  if (!processServer) {
    const reported = server.acceptReported?.() ?? false;
    // Only the client is told the path, in the case's private dir: a connection the server accepted is the client's.
    connection = reported
      ? { connected: true, how: 'the in-process server reported accepting a connection' }
      : { connected: false, how: 'the in-process server never reported accepting a connection' };
  }
  return {
    ready: server.ready,
    server: serverSummary,
    client: clientSummary,
    stdout: client.stdout,
    serverStdout: server.stdout,
    clientHung,
    serverHung,
    connection,
    accepted: acceptEvidence(connection, sawAccepted, processServer, client.stdout, clientSummary),
    quiet: quietOutcome,
  };
}

/**
 * Whether the server accepted the client's queued connection. An in-process server says so itself. A
 * process server's accepted socket lives too briefly to be seen reliably, so the harness also takes
 * what can only follow an accept: bytes at the client (the payload is nowhere the client can read it,
 * and a queued connection carries nothing until accepted), or the client's clean exit (a listener
 * closed with the connection still queued gives the client ECONNRESET, not EOF).
 */
function acceptEvidence(
  connection: ConnectionEvidence | undefined,
  sawAccepted: boolean,
  processServer: boolean,
  stdout: OutputCapture,
  client: ProcessSummary,
): SessionOutcome['accepted'] {
  if (!connection?.connected) return { accepted: false, how: 'no connection was made' };
  if (!processServer) return { accepted: true, how: connection.how };
  if (sawAccepted) return { accepted: true, how: "the server's tree held the accepted socket" };
  if (stdout.length > 0) return { accepted: true, how: 'the client received bytes over the connection' };
  if (client.exitCode === 0) return { accepted: true, how: 'the client read EOF on the connection and exited 0' };
  return { accepted: false, how: `the client's connection was queued, but it received nothing and ended with ${exitText(client)}` };
}

/** A subject that declares its case unsupported (model/format.ts, declaredUnsupported) ends the unit so. */
export function throwIfDeclaredUnsupported(...summaries: Array<ProcessSummary | undefined>): void {
  for (const p of summaries) {
    const reason = p && declaredUnsupported(p, p.command?.[0] ?? 'the subject');
    if (reason) throw new Unsupported(reason);
  }
}

/** The processes' summaries, for evidence. */
export function sides(outcome: SessionOutcome): Pick<Evidence, 'server' | 'client'> {
  return { server: outcome.server, client: outcome.client };
}

/** What is at path now: 'nothing' or the file type, for cleanup evidence. */
export async function whatIsAt(path: string): Promise<string> {
  try {
    const st = await lstat(path);
    if (st.isSocket()) return 'a socket';
    if (st.isFile()) return 'a regular file';
    if (st.isDirectory()) return 'a directory';
    if (st.isSymbolicLink()) return 'a symlink';
    return 'a special file';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'nothing';
    throw err;
  }
}

/** A short payload for sessions whose input is not the bytes (paths, refusals, preconditions). */
const PLAIN_PAYLOAD = Buffer.from('a valid path works first\n');

/**
 * What to ask a server to serve: `payload` (by default a short one, for properties not about the bytes)
 * if the server takes one, so a server that always needs one is tested too; else nothing, and the
 * fixed message is then what its client must print.
 */
export function plainServe(server: Implementation, payload: Uint8Array = PLAIN_PAYLOAD): { payload?: Uint8Array; expected: Uint8Array } {
  return server.server?.payload ? { payload, expected: payload } : { expected: FIXED_MESSAGE };
}
