/**
 * One session of the seed protocol, in the spirit of gVisor's TransferTest and SendSingleFD
 * (test/syscalls/linux/unix_domain_socket_test_util.h): run the pairing once and describe what
 * happened, so that each property only states its requirement (through verify.ts).
 */
import { lstat } from 'node:fs/promises';
import type { OutputCapture } from '../harness/capture.js';
import type { CaseContext, RunMode } from '../harness/context.js';
import type { ReadyOutcome } from '../harness/readiness.js';
import { declaredUnsupported } from '../model/format.js';
import { Unsupported, type Evidence, type ProcessSummary } from '../model/types.js';

/** How long a client may keep running after its server has closed the connection and exited. */
export const EOF_GRACE_MS = 2000;
/** How long a server may keep running after its client has finished. */
export const SERVER_GRACE_MS = 2000;

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
}

/** Resolves to true if p settles within ms, false otherwise (the timer is a deadline, not a delay). */
export function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  return Promise.race([p.then(() => true), deadline]).finally(() => clearTimeout(timer));
}

/** One session: start the server, wait until it listens, run the client, wait for both to finish. */
export async function session(ctx: CaseContext, options: SessionOptions): Promise<SessionOutcome> {
  const server = await ctx.startServer({ path: options.path, payload: options.payload, mode: options.mode, extraArgs: options.serverArgs });
  if (!server.ready.ready) {
    server.kill();
    const summary = await server.exited;
    throwIfDeclaredUnsupported(summary);
    return { ready: server.ready, server: summary, serverStdout: server.stdout, clientHung: false, serverHung: false };
  }
  await options.beforeClient?.(options.path);
  const client = ctx.startClient({
    path: options.path,
    expected: options.expected,
    mode: options.mode,
    extraArgs: options.clientArgs,
    uid: options.clientUid,
    gid: options.clientGid,
    stdoutCap: options.clientStdoutCap,
  });
  const first = await Promise.race([server.exited.then(() => 'server' as const), client.exited.then(() => 'client' as const)]);
  let clientHung = false;
  let serverHung = false;
  if (first === 'server') {
    clientHung = !(await within(client.exited, EOF_GRACE_MS));
    if (clientHung) client.kill();
  } else {
    serverHung = !(await within(server.exited, SERVER_GRACE_MS));
    if (serverHung) server.kill();
  }
  throwIfDeclaredUnsupported(await server.exited, await client.exited);
  return {
    ready: server.ready,
    server: await server.exited,
    client: await client.exited,
    stdout: client.stdout,
    serverStdout: server.stdout,
    clientHung,
    serverHung,
  };
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
