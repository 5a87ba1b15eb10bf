/**
 * The fd-passing session of docs/fd-passing.md played by two drivers (docs/driver-protocol.md)
 * instead of the fd-mode command lines, for pairings whose sides have a driver but not both the
 * fd-mode CLI. It produces the same FdSessionOutcome (the server's {"sent":[...]} report and the
 * client's uds-fd-report/1), built from the drivers' answers, so every fd property runs unchanged.
 *
 * Server driver: mkfd each item, listen, accept, send payload [0,A) plain, [A,A+L) with every fd,
 * the rest plain, shutdown(write), read until EOF, stat each item for offsetAfter, quit.
 * Client driver: connect, recv until EOF, stat + read through each fd received, try-open, list its
 * fds, whoami, quit (closing the connection is the EOF the server waits for).
 *
 * Like the fd-mode server, a server whose command fails "exits 1": the driver is told `quit` with
 * status 1 (so its connection closes and the client sees EOF), and the failed call is appended to
 * the server summary's stderr as `<command>: <syscall>: <strerror> (<errno name>)`.
 */
import { passSpec, type ClientFdReport, type FdKind, type ReadRecord, type ReceivedFd, type SentFd, type ServerFdReport } from './reports.js';
import { startDriver, DriverError, type Driver } from '../../driver/process-driver.js';
import type { CaseContext } from '../../harness/context.js';
import type { ReadyOutcome } from '../../harness/readiness.js';
import { CheckFailure, Unsupported, type Feature, type ProcessSummary } from '../../model/types.js';
import type { FdSessionOptions, FdSessionOutcome } from './session.js';
import { EOF_GRACE_MS, requireReady, SERVER_GRACE_MS, within, type SessionOutcome } from '../session.js';

/** Whether fdSession runs over drivers: both sides have one, and not both the fd-mode CLI. */
export function fdSessionUsesDrivers(ctx: CaseContext): boolean {
  const both = (f: Feature): boolean => ctx.server.features.includes(f) && ctx.client.features.includes(f);
  if (both('fd-cli')) return false;
  if (both('driver') && ctx.server.driver !== undefined && ctx.client.driver !== undefined) return true;
  // One side passes fds only on its command line, the other only through a driver: no common ground.
  const how = (impl: CaseContext['server']): string => (impl.driver ? 'only through a driver' : 'only on its command line (fd-cli), with no driver');
  throw new Unsupported(`server ${ctx.server.name} passes fds ${how(ctx.server)}, client ${ctx.client.name} ${how(ctx.client)}: an fd session needs the fd-mode command line on both sides or a driver on both`);
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

export async function fdDriverSession(ctx: CaseContext, options: FdSessionOptions): Promise<FdSessionOutcome> {
  const path = ctx.socketName();
  const payload = Buffer.from(options.payload.buffer, options.payload.byteOffset, options.payload.byteLength);
  const so = options.server ?? {};
  const co = options.client ?? {};
  const at = so.fdAt ?? 0;
  const len = so.fdLen ?? payload.length - at;
  if (payload.length < at + 1 || len < 1 || at + len > payload.length) {
    throw new Error(`fd session: payload of ${payload.length} bytes cannot carry fds at [${at}, ${at + len})`);
  }
  const started = await Promise.allSettled([
    startDriver(ctx, ctx.server.driver!, { label: `server ${ctx.server.name}` }),
    startDriver(ctx, ctx.client.driver!, { label: `client ${ctx.client.name}`, uid: options.clientUid, gid: options.clientGid }),
  ]);
  if (started[0].status === 'rejected' || started[1].status === 'rejected') {
    for (const s of started) if (s.status === 'fulfilled') await s.value.stop();
    throw started[0].status === 'rejected' ? started[0].reason : (started[1] as PromiseRejectedResult).reason;
  }
  const srv = started[0].value;
  const cli = started[1].value;
  const transcripts = (): Record<string, string[]> => ({ server: srv.transcript(), client: cli.transcript() });
  const details = { via: 'drivers', pass: passSpec(options.pass), server: so, client: co };
  try {
    // ---- server: the fds first (as the fd-mode server makes them before binding), then listen ----
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
      sock = await srv.listen(path);
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
      const conn = await cli.connect(path);
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
      // Opened and closed before the listing, so it never shows there (as the fd-mode client does).
      const tryOpen = co.tryOpen === undefined ? undefined : { path: co.tryOpen, error: (await cli.open(co.tryOpen)).error };
      const openFds = await cli.fds();
      const who = await cli.whoami();
      return { bytes: Buffer.concat(bytes), reads, fds, openFds, tryOpen, uid: who.uid, gid: who.gid };
    });

    const first = await Promise.race([serverRun.then(() => 'server' as const), clientRun.then(() => 'client' as const)]);
    let clientHung = false;
    let serverHung = false;
    if (first === 'server') {
      clientHung = !(await within(clientRun, EOF_GRACE_MS));
      if (clientHung) cli.kill();
    } else {
      serverHung = !(await within(serverRun, SERVER_GRACE_MS));
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
      throw new CheckFailure({
        message: `the client driver ended the fd session with ${what}`,
        expected: 'every command answered ok, and a report',
        actual: clientHung ? `no EOF handled within ${EOF_GRACE_MS} ms of the server finishing` : `${clientFailed!.info.code} from ${clientFailed!.info.syscall}`,
        ...evidence,
      });
    }
    const server = 'value' in serverSide && !serverHung ? serverSide.value : undefined;
    return { outcome, server, client: clientSide.value, evidence };
  } finally {
    // Every path leaves no driver behind: a no-op for drivers that quit.
    await Promise.all([srv.stop(), cli.stop()]);
  }
}
