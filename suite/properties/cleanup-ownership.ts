/**
 * Who may remove the socket file, and who may connect to it (issue 12): a server removes only the
 * socket it bound, a client never removes its server's, and the file's mode follows the server's
 * umask. Each check drives the roles itself rather than through session(): the path changes hands
 * (or is opened to another uid) between the server's readiness and its client, and the client's
 * bytes through the moved name, or the next client's, are what prove the session.
 */
import { chmod, lstat, rename } from 'node:fs/promises';
import fc from 'fast-check';
import type { CaseContext, ServerHandle } from '../harness/context.js';
import { exitText } from '../model/format.js';
import { Unsupported, type Implementation, type ProcessSummary } from '../model/types.js';
import { smallPayloadArb, smallTextPayloadArb } from './arbitraries.js';
import { describePayload } from './delivery.js';
import type { Property } from './property.js';
import { plainServe, SERVER_GRACE_MS, throwIfDeclaredUnsupported, whatIsAt, within } from './session.js';
import { expectBytes, expectExitZero, fail, firstLine, requireReady, type EvidenceFields } from './verify.js';

/** The unprivileged uid/gid a client runs as to test the socket file's mode (nobody/nogroup). */
const NOBODY = 65534;

/** What the second listener at the path serves, so its bytes can never be the subject's. */
const NEW_LISTENER_BYTES = Buffer.from('the socket bound at the path since\n');

/** A socket file's identity: what "still the same file" means. */
interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

async function identityOf(path: string): Promise<FileIdentity | undefined> {
  try {
    const st = await lstat(path, { bigint: true });
    return st.isSocket() ? { dev: st.dev, ino: st.ino } : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function sameFile(a: FileIdentity | undefined, b: FileIdentity | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}


/** The oracle peer (c-reference) of a single-role property; the pairing always has one for those. */
function oracleOf(ctx: CaseContext): Implementation {
  const oracle = ctx.pairing.oracle;
  if (!oracle) throw new Error('this property is single-role: the case needs the oracle peer');
  return oracle;
}

/** Fails (or ends the unit as unsupported) unless the server is listening: requireReady's wording. */
async function requireListening(server: ServerHandle, path: string): Promise<void> {
  if (server.ready.ready) return;
  server.kill();
  const summary = await server.exited;
  throwIfDeclaredUnsupported(summary);
  requireReady({ ready: server.ready, server: summary, clientHung: false, serverHung: false }, path);
}

/** The server's summary once it has exited; one still running SERVER_GRACE_MS later is killed and fails. */
async function requireExited(server: ServerHandle, evidence: EvidenceFields): Promise<ProcessSummary> {
  if (!(await within(server.exited, SERVER_GRACE_MS))) {
    server.kill();
    const summary = await server.exited;
    fail(`server did not exit within ${SERVER_GRACE_MS} ms after serving its client`, 'the server exits after serving', exitText(summary), { ...evidence, server: summary });
  }
  return server.exited;
}

export const cleanupOwnPathOnly: Property<Uint8Array> = {
  id: 'cleanup.own-path-only',
  level: 'SHOULD',
  category: 'cleanup',
  // The server decides what it unlinks; its client and the second listener are the oracle's.
  scope: 'server',
  requirement:
    'A server removes its socket path only while it is still the socket it bound: after its socket was moved aside and another server bound the path, it serves through the moved name and leaves the new socket, which still serves.',
  reference:
    'nodejs/node#19729 (server.close() unlinks a path another server has bound since; open), golang/go#11826 (UnixListener.Close unlinks by name), grpc/grpc#17122 (a second server hides the first); unix(7): a bound socket stays reachable under a name rename(2) gives it, and only unlink(2) removes a name',
  arbitrary: smallPayloadArb,
  maxRuns: 5,
  describe: describePayload,
  async check(payload, ctx) {
    const path = ctx.socketName();
    const moved = `${path}-moved`;
    const { payload: toServe, expected } = plainServe(ctx.server, payload);
    const server = await ctx.startServer({ path, payload: toServe });
    await requireListening(server, path);
    // The server under test waits for its client; meanwhile its path changes hands.
    await rename(ctx.resolve(path), ctx.resolve(moved));
    const oracle = oracleOf(ctx);
    const other = plainServe(oracle, NEW_LISTENER_BYTES);
    const newListener = await ctx.startServer({ path, payload: other.payload }, oracle);
    if (!newListener.ready.ready) throw new Error(`the second listener ${oracle.name} never listened at ${JSON.stringify(path)}: ${newListener.ready.detail}`);
    const bound = await identityOf(ctx.resolve(path));
    if (!bound) throw new Error(`the second listener ${oracle.name} listens, but no socket is at ${JSON.stringify(path)}`);
    const details = { movedTo: moved, newListener: oracle.name };

    const first = await ctx.runClient({ path: moved, expected });
    expectExitZero(first.summary, `through the moved name ${JSON.stringify(moved)} the client`, { client: first.summary, details });
    expectBytes(first.stdout, expected, `through the moved name ${JSON.stringify(moved)} the client's stdout differs from what the server sends`, { client: first.summary, details });
    const summary = await requireExited(server, { client: first.summary, details });
    const evidence: EvidenceFields = { server: summary, client: first.summary, details };

    const now = await identityOf(ctx.resolve(path));
    if (!sameFile(now, bound)) {
      const left = await whatIsAt(ctx.resolve(path));
      fail(
        `after the server finished, the socket another server bound at ${JSON.stringify(path)} is ${left === 'nothing' ? 'gone' : `replaced by ${left}`}: the server removed a path that was no longer its own`,
        `the new listener's socket (inode ${bound.ino}) still at the path`,
        left === 'a socket' ? `another socket (inode ${now?.ino})` : left,
        evidence,
      );
    }
    const next = await ctx.runClient({ path, expected: other.expected }, oracle);
    expectExitZero(next.summary, `the next client of the new listener at ${JSON.stringify(path)}`, { ...evidence, client: next.summary });
    expectBytes(next.stdout, other.expected, `the next client of the new listener at ${JSON.stringify(path)} got other bytes`, { ...evidence, client: next.summary });
    await within(newListener.exited, SERVER_GRACE_MS);
    return { movedTo: moved, serverExit: exitText(summary), pathKept: true };
  },
};

export const cleanupClientKeepsPath: Property<Uint8Array> = {
  id: 'cleanup.client-keeps-path',
  level: 'MUST',
  category: 'cleanup',
  // The client under test is one of several clients of a server that keeps listening.
  scope: 'client',
  requirement:
    "A client leaves its server's socket path alone: after it has read to EOF and exited, the path is still the server's socket, and the server's next client connects and gets its bytes.",
  reference:
    "netty/netty#14114 (closing one accepted channel deleted the server's socket file, and later clients got ENOENT); unix(7): the path belongs to the bound socket until unlink(2); seed c-reference/original/client.c: unlink(socketPath)",
  // Text: a client that stops at a NUL (the seed's fputs) fails delivery.payload, not this.
  arbitrary: smallTextPayloadArb,
  maxRuns: 5,
  describe: describePayload,
  async check(payload, ctx) {
    const path = ctx.socketName();
    const { payload: toServe, expected } = plainServe(ctx.server, payload);
    // The server is the oracle (c-reference), which serves N clients in turn with --clients N.
    const server = await ctx.startServer({ path, payload: toServe, extraArgs: ['--clients', '2'] });
    if (!server.ready.ready) throw new Error(`the reference server ${ctx.server.name} never listened at ${JSON.stringify(path)}: ${server.ready.detail}`);
    const bound = await identityOf(ctx.resolve(path));
    if (!bound) throw new Error(`the reference server ${ctx.server.name} listens, but no socket is at ${JSON.stringify(path)}`);

    const first = await ctx.runClient({ path, expected });
    expectExitZero(first.summary, 'the client', { client: first.summary });
    expectBytes(first.stdout, expected, "the client's stdout differs from what the server sent", { client: first.summary });
    const now = await identityOf(ctx.resolve(path));
    if (!sameFile(now, bound)) {
      const left = await whatIsAt(ctx.resolve(path));
      fail(
        `after the client read to EOF and exited, the server's socket at ${JSON.stringify(path)} is ${left === 'nothing' ? 'gone' : `replaced by ${left}`}, while the server still listens for its next client`,
        `the server's socket (inode ${bound.ino}) still at the path`,
        left === 'a socket' ? `another socket (inode ${now?.ino})` : left,
        { client: first.summary },
      );
    }
    const next = await ctx.runClient({ path, expected }, oracleOf(ctx));
    expectExitZero(next.summary, "after the client under test, the server's next client", { client: next.summary, details: { firstClient: exitText(first.summary) } });
    expectBytes(next.stdout, expected, "after the client under test, the server's next client got other bytes", { client: next.summary });
    await within(server.exited, SERVER_GRACE_MS);
    return { pathKept: true, nextClient: exitText(next.summary) };
  },
};

/** What one umask gave: the socket file's mode, and whether uid 65534 could connect. */
interface ModeObserved {
  umask: string;
  mode: string;
  otherUid: string;
}

const octal = (n: number): string => `0${n.toString(8).padStart(3, '0')}`;

/**
 * Starts the server under umask, reads its socket file's mode, and lets a client as uid 65534 try it.
 * A server that leaves its mode to the umask (bind(2) does) passes under any umask; one that makes
 * it wider than the umask allows fails. What the other uid saw is only reported.
 */
async function underUmask(ctx: CaseContext, umask: number): Promise<ModeObserved> {
  const path = ctx.socketName();
  const { payload, expected } = plainServe(ctx.server);
  const server = await ctx.startServer({ path, payload, umask });
  await requireListening(server, path);
  const st = await lstat(ctx.resolve(path));
  const mode = st.mode & 0o777;
  const details = { umask: octal(umask), mode: octal(mode) };
  const other = await ctx.runClient({ path, expected, uid: NOBODY, gid: NOBODY });
  const connected = other.summary.exitCode === 0 && other.stdout.compare().firstDifference === null;
  // A refused client never reached the server, which still waits: a client as root ends its session.
  const last = connected ? other : await ctx.runClient({ path, expected });
  const summary = await requireExited(server, { client: last.summary, details });
  if ((mode & umask) !== 0) {
    fail(
      `with umask ${octal(umask)} the server's socket file has mode ${octal(mode)}: bits ${octal(mode & umask)} are wider than its umask allows`,
      `a mode within ${octal(0o777 & ~umask)}`,
      octal(mode),
      { server: summary, client: other.summary, details },
    );
  }
  return {
    umask: octal(umask),
    mode: octal(mode),
    otherUid: connected ? `uid ${NOBODY} connected` : `uid ${NOBODY} did not connect: ${firstLine(other.summary.stderr) || exitText(other.summary)}`,
  };
}

export const pathMode: Property<null> = {
  id: 'path.mode',
  level: 'MAY',
  category: 'path',
  // The socket file is the server's; its client is the oracle, run as root and as uid 65534.
  scope: 'server',
  requirement:
    "A server's socket file has no permission its umask takes away: with umask 077 another uid cannot connect, with umask 000 it can. The mode and what uid 65534 saw are reported; only a mode wider than the umask allows fails.",
  reference:
    'unix(7): connecting to a pathname socket needs write permission on it, and bind(2) creates it with the process umask applied; nginx/unit#254 (a root-only 0600 control socket: connect() Permission denied for another user)',
  arbitrary: fc.constant(null),
  maxRuns: 1,
  async check(_input, ctx) {
    if (process.getuid?.() !== 0) throw new Unsupported('needs root, to run the client as uid 65534; run the suite as root');
    // The other uid must reach the socket: the case dir is 0700.
    await chmod(ctx.dir, 0o711);
    const observed: ModeObserved[] = [];
    for (const umask of [0o077, 0o000]) observed.push(await underUmask(ctx, umask));
    return { observed };
  },
};
