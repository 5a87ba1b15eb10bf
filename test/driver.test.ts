/**
 * The driver protocol (docs/driver-protocol.md): c-reference's driver and the python-socket driver
 * command by command, the harness's handling of drivers that lie, exit 127, die or stall, and the
 * ten fd properties played over drivers (python-socket × c-reference in both roles, and c-reference's
 * driver against itself).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DriverError, startDriver, type Driver } from '../suite/driver/process-driver.js';
import { CaseContext } from '../suite/harness/context.js';
import { PROJECT_ROOT } from '../suite/harness/paths.js';
import { liveProcessCount } from '../suite/harness/process.js';
import { fdSessionUsesDrivers } from '../suite/properties/fd/drivers.js';
import { allProperties } from '../suite/properties/index.js';
import { cReference } from '../suite/registry.js';
import { runUnits, type Unit } from '../suite/plan/runner.js';
import { loadSubject } from '../suite/subjects/manifest.js';
import { CheckFailure, Unsupported, type CommandTemplate, type Expectation, type Implementation } from '../suite/model/types.js';
import { leftoversOf } from './support/leftovers.js';

const PY_DIR = join(PROJECT_ROOT, 'fixtures', 'subjects', 'python-socket');
const manifest = JSON.parse(readFileSync(join(PY_DIR, 'manifest.json'), 'utf8')) as { expectations: Record<string, Expectation> };

/** The python-socket subject as the manifest loader would build it. */
const pythonSocket: Implementation = {
  name: 'python-socket',
  kind: 'driver',
  description: "Python's socket module (send_fds / recv_fds) through its driver",
  driver: { command: ['python3', join(PY_DIR, 'driver.py')] },
  features: ['payload', 'fd-passing', 'driver'],
  expectations: manifest.expectations,
};
/** c-reference without its fd-mode CLI: fd sessions with it go through its driver. */
const cReferenceDriverOnly: Implementation = { ...cReference, name: 'c-reference-driver', features: cReference.features.filter((f) => f !== 'fd-cli') };

const DRIVERS: Array<{ name: string; template: CommandTemplate }> = [
  { name: 'c-reference', template: cReference.driver! },
  { name: 'python-socket', template: pythonSocket.driver! },
];

afterAll(() => {
  expect(liveProcessCount()).toBe(0);
  expect(leftoversOf(process.pid)).toEqual({ dirs: [], sockets: [], processes: [] });
});

function withDriver<T>(template: CommandTemplate, fn: (d: Driver, ctx: CaseContext) => Promise<T>, deadlineMs = 15_000): Promise<T> {
  return CaseContext.with({}, deadlineMs, async (ctx) => {
    const d = await startDriver(ctx, template, { label: 'test' });
    try {
      return await fn(d, ctx);
    } finally {
      await d.stop();
    }
  });
}

/** The rejection of p (failing the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (err: unknown) => err,
  );
}

async function expectErrno(p: Promise<unknown>, code: string, syscall: string): Promise<void> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(DriverError);
  const e = err as DriverError;
  expect({ code: e.code, syscall: e.syscall }).toEqual({ code, syscall });
  expect(e.errno).toBe((os.constants.errno as Record<string, number>)[code]);
}

const text = (s: string): Buffer => Buffer.from(s);

describe.each(DRIVERS)('the $name driver', ({ template }) => {
  it('answers every command on its happy path', async () => {
    await withDriver(template, async (d, ctx) => {
      expect((await d.hello()).protocol).toBe('uds-driver/1');
      const sock = await d.listen('s', 4);
      const client = await d.connect('s');
      const server = await d.accept(sock);
      expect(new Set([sock, client, server]).size).toBe(3);

      // mkfd: every kind, with docs/fd-passing.md's content, skip applied to the seekable ones.
      const kinds = ['file', 'pipe', 'socket', 'memfd', 'dir'] as const;
      const made = [];
      for (const [index, kind] of kinds.entries()) made.push(await d.mkfd({ kind, index, dir: ctx.dir, skip: 3, cloexec: index % 2 === 0 }));
      for (const [i, kind] of kinds.entries()) {
        const st = await d.stat(made[i]!.fd);
        expect(st).toMatchObject({ kind: kind === 'memfd' ? 'file' : kind, dev: made[i]!.dev, ino: made[i]!.ino, cloexec: i % 2 === 0 });
        expect(st.offset).toBe(kind === 'file' || kind === 'memfd' ? 3 : kind === 'dir' ? 0 : null);
        expect(st.accmode).toBe(kind === 'pipe' || kind === 'dir' ? 'O_RDONLY' : 'O_RDWR');
      }

      // send with fds, recv: the same objects arrive, sharing the file offset.
      expect(await d.send(server, text('hello'), { fds: made.map((m) => m.fd) })).toBe(5);
      const r = await d.recv(client, { dataSize: 100, controlFds: 253 });
      expect(r.data.toString()).toBe('hello');
      expect(r.flags).toEqual([]);
      expect(r.fds).toHaveLength(5);
      for (const [i, fd] of r.fds.entries()) expect(await d.stat(fd)).toMatchObject({ dev: made[i]!.dev, ino: made[i]!.ino });
      expect(await d.read(r.fds[0]!, 9)).toEqual({ data: text('fd-0-file\n'.repeat(4).slice(3, 12)), error: null });
      expect(await d.read(r.fds[1]!, 100)).toEqual({ data: text('fd-1-pipe\n'.repeat(4)), error: null });
      expect(await d.read(r.fds[2]!, 9)).toEqual({ data: text('fd-2-socket\n'.slice(0, 9)), error: null });
      expect(await d.read(r.fds[4]!, 9)).toEqual({ data: Buffer.alloc(0), error: 'EISDIR' });
      expect((await d.stat(made[0]!.fd)).offset).toBe(12); // the receiver's read moved the sender's offset

      // A control buffer for 1 fd of 3 sent: MSG_CTRUNC; none at all; read(2) discards.
      await d.send(server, text('x'), { fds: [made[1]!.fd, made[2]!.fd, made[3]!.fd] });
      const truncated = await d.recv(client, { dataSize: 10, controlFds: 1 });
      expect(truncated).toMatchObject({ data: text('x'), flags: ['MSG_CTRUNC'] });
      expect(truncated.fds).toHaveLength(1);
      await d.send(server, text('y'), { fds: [made[1]!.fd] });
      expect(await d.recv(client, { dataSize: 10, controlFds: 0 })).toEqual({ data: text('y'), fds: [], flags: ['MSG_CTRUNC'] });
      await d.send(server, text('z'), { fds: [made[1]!.fd] });
      expect(await d.recv(client, { dataSize: 10, controlFds: 253, plain: true })).toEqual({ data: text('z'), fds: [], flags: [] });

      await d.shutdown(server, 'write');
      expect(await d.recv(client, { dataSize: 10, controlFds: 253 })).toEqual({ data: Buffer.alloc(0), fds: [], flags: [] });
    });
  });

  it('answers the inspection commands', async () => {
    await withDriver(template, async (d, ctx) => {
      const listing = await d.fds();
      expect(listing.map((o) => o.fd)).toEqual([...listing.map((o) => o.fd)].sort((a, b) => a - b));
      const f = await d.mkfd({ kind: 'memfd', index: 7, dir: ctx.dir });
      expect((await d.fds()).filter((o) => o.dev === f.dev && o.ino === f.ino)).toHaveLength(1);
      await d.close(f.fd);
      expect((await d.fds()).some((o) => o.dev === f.dev && o.ino === f.ino)).toBe(false);
      expect(await d.open(join(PY_DIR, 'manifest.json'))).toEqual({ error: null });
      expect(await d.open(ctx.resolve('missing'))).toEqual({ error: 'ENOENT' });
      expect(await d.whoami()).toEqual({ uid: process.getuid!(), gid: process.getgid!() });
      const ro = await d.mkfd({ kind: `file:${join(PY_DIR, 'manifest.json')}`, index: 0, skip: 2 });
      expect(await d.stat(ro.fd)).toMatchObject({ kind: 'file', accmode: 'O_RDONLY', offset: 2, cloexec: false });
      expect((await d.read(ro.fd, 3)).data.toString()).toBe(readFileSync(join(PY_DIR, 'manifest.json'), 'utf8').slice(2, 5));
      const summary = await d.quit(3);
      expect(summary.exitCode).toBe(3);
    });
  });

  it('moves a payload larger than the socket buffers between two drivers', async () => {
    await CaseContext.with({}, 15_000, async (ctx) => {
      const [a, b] = await Promise.all([startDriver(ctx, template, { label: 'a' }), startDriver(ctx, template, { label: 'b' })]);
      try {
        const sock = await a.listen('big');
        const conn = await b.connect('big');
        const peer = await a.accept(sock);
        const big = Buffer.alloc(1_000_000);
        for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 8)) & 0xff;
        const sending = a.send(peer, big);
        const chunks: Buffer[] = [];
        let total = 0;
        while (total < big.length) {
          const r = await b.recv(conn, { dataSize: 65536 });
          chunks.push(r.data);
          total += r.data.length;
        }
        expect(await sending).toBe(big.length);
        expect(Buffer.concat(chunks).equals(big)).toBe(true);
        await a.shutdown(peer, 'write');
        expect((await b.recv(conn, { dataSize: 10 })).data.length).toBe(0);
        expect((await a.quit()).exitCode).toBe(0);
        expect((await b.quit()).exitCode).toBe(0);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });
  });

  it('answers failures with errno name, number and call', async () => {
    await withDriver(template, async (d, ctx) => {
      const sock = await d.listen('s');
      const client = await d.connect('s');
      const server = await d.accept(sock);
      const f = await d.mkfd({ kind: 'pipe', index: 0, dir: ctx.dir });
      await d.close(f.fd);
      await expectErrno(d.send(server, text('a'), { fds: [f.fd] }), 'EBADF', 'sendmsg');
      await expectErrno(d.close(f.fd), 'EBADF', 'close');
      await expectErrno(d.stat(f.fd), 'EBADF', 'fstat');
      await expectErrno(d.read('no-such-name', 1), 'EBADF', 'read');
      await expectErrno(d.send('no-such-name', text('a')), 'EBADF', 'sendmsg');
      await expectErrno(d.recv('no-such-name', { dataSize: 1 }), 'EBADF', 'recvmsg');
      await expectErrno(d.accept('no-such-name'), 'EBADF', 'accept');
      await expectErrno(d.connect('missing'), 'ENOENT', 'connect');
      await expectErrno(d.listen('s'), 'EADDRINUSE', 'bind');
      await expectErrno(d.listen('x'.repeat(120)), 'ENAMETOOLONG', 'bind');
      await expectErrno(d.connect('x'.repeat(120)), 'ENAMETOOLONG', 'connect');
      await expectErrno(d.mkfd({ kind: 'file:/nonexistent/secret', index: 0 }), 'ENOENT', 'open');
      await expectErrno(d.mkfd({ kind: 'bogus', index: 0 }), 'EINVAL', 'driver');
      await expectErrno(d.mkfd({ kind: 'file', index: 0, dir: ctx.dir, skip: 1000 }), 'EINVAL', 'read');
      await expectErrno(d.shutdown(server, 'sideways' as 'read'), 'EINVAL', 'driver');
      await expectErrno(d.request('recv', { conn: client }), 'EINVAL', 'driver'); // dataSize missing
      // 254 fds in one message: the kernel's SCM_MAX_FD is 253.
      const pipes = [];
      for (let i = 0; i < 254; i++) pipes.push((await d.mkfd({ kind: 'pipe', index: i })).fd);
      await expectErrno(d.send(server, text('a'), { fds: pipes }), 'EINVAL', 'sendmsg');
      expect(await d.send(server, text('a'), { fds: pipes.slice(0, 253) })).toBe(1);
      await d.close(client);
      await d.close(sock);
      await d.shutdown(server, 'both');
      await expectErrno(d.send(server, text('a')), 'EPIPE', 'sendmsg');
      const unsupported = await rejection(d.request('frobnicate', {}));
      expect(unsupported).toBeInstanceOf(Unsupported);
      expect((unsupported as Error).message).toMatch(/cannot do frobnicate/);
      // Still answering after all that.
      expect((await d.whoami()).uid).toBe(process.getuid!());
    });
  });
});

describe('a driver that breaks the protocol', () => {
  const sh = (script: string): CommandTemplate => ({ command: ['sh', '-c', script] });
  const ctxOf = <T>(fn: (ctx: CaseContext) => Promise<T>, deadlineMs = 10_000): Promise<T> => CaseContext.with({}, deadlineMs, fn);

  it('is reported as lying when it prints garbage, with the line', async () => {
    const err = await ctxOf((ctx) => rejection(startDriver(ctx, sh('echo nonsense; cat >/dev/null'), { label: 'server fake' })));
    expect(err).toBeInstanceOf(CheckFailure);
    expect((err as CheckFailure).message).toMatch(/the server fake driver lied .*not JSON/);
    expect((err as CheckFailure).evidence.actual).toContain('nonsense');
  });

  it('is reported as lying when it answers another id, or leaves out a field', async () => {
    const wrongId = await ctxOf((ctx) => rejection(startDriver(ctx, sh('read l; echo \'{"id":7,"ok":true}\'; cat >/dev/null'))));
    expect((wrongId as CheckFailure).message).toMatch(/lied .*id 7 to command 1 \(hello\)/);
    const noField = await ctxOf((ctx) => rejection(startDriver(ctx, sh('read l; echo \'{"id":1,"ok":true}\'; cat >/dev/null'))));
    expect((noField as CheckFailure).message).toMatch(/lied .*hello answered protocol = nothing, not a string/);
    // Garbage later on fails the waiting command, and every later one, with the same lie.
    await ctxOf(async (ctx) => {
      const d = await startDriver(ctx, sh('read l; echo \'{"id":1,"ok":true,"protocol":"uds-driver/1"}\'; read l; echo oops; cat >/dev/null'));
      const err = await rejection(d.whoami());
      expect((err as CheckFailure).message).toMatch(/lied/);
      expect((err as CheckFailure).evidence.actual).toContain('oops');
      expect(await rejection(d.whoami())).toBe(err);
      await d.stop();
    });
  });

  it('declares the case unsupported by exiting 127', async () => {
    const err = await ctxOf((ctx) => rejection(startDriver(ctx, sh('exit 127'))));
    expect(err).toBeInstanceOf(Unsupported);
    expect((err as Error).message).toMatch(/status 127/);
  });

  it('fails the case when it dies, cannot start, or stalls past the deadline', async () => {
    const died = await ctxOf((ctx) => rejection(startDriver(ctx, sh('echo bye >&2; exit 3'), { label: 'client x' })));
    expect(died).toBeInstanceOf(CheckFailure);
    expect((died as CheckFailure).message).toBe('the client x driver ended (exit 3) without answering `hello`');
    expect((died as CheckFailure).evidence.actual).toContain('bye');
    const missing = await ctxOf((ctx) => rejection(startDriver(ctx, { command: ['/nonexistent/driver'] })));
    expect(missing).toBeInstanceOf(CheckFailure);
    expect((missing as CheckFailure).message).toMatch(/could not be started/);
    const started = performance.now();
    const stalled = await ctxOf((ctx) => rejection(startDriver(ctx, sh('cat >/dev/null'))), 300);
    expect(stalled).toBeInstanceOf(CheckFailure);
    expect((stalled as CheckFailure).message).toMatch(/did not answer `hello` before the case deadline/);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('the fd properties over drivers', () => {
  const fdProperties = allProperties().filter((p) => p.id.startsWith('fd.'));

  it('loads python-socket from its manifest as the driver subject built here', () => {
    const loaded = loadSubject(join(PY_DIR, 'manifest.json'), allProperties().map((p) => p.id)).implementation;
    expect(loaded).toMatchObject({ name: 'python-socket', kind: 'driver', expectations: pythonSocket.expectations });
    expect(loaded.features).toEqual(expect.arrayContaining(['driver', 'fd-passing']));
    expect(loaded.driver!.command.slice(1)).toEqual([join(PY_DIR, 'driver.py')]);
  });

  it('takes the driver branch only without the fd-mode CLI on both sides', async () => {
    const uses = (server: Implementation, client: Implementation): Promise<boolean> => CaseContext.with({ server, client }, 5000, async (ctx) => fdSessionUsesDrivers(ctx));
    expect(await uses(cReference, cReference)).toBe(false);
    expect(await uses(pythonSocket, cReference)).toBe(true);
    expect(await uses(cReference, pythonSocket)).toBe(true);
    expect(await uses(cReferenceDriverOnly, cReferenceDriverOnly)).toBe(true);
  });

  async function run(pairs: Array<[Implementation, Implementation]>): Promise<Array<{ cell: string; status: string; message?: string }>> {
    const units: Unit[] = pairs.flatMap(([server, client]) => fdProperties.map((property) => ({ property, server, client })));
    const results = await runUnits(units, {
      implementations: [...new Set(pairs.flat())],
      properties: fdProperties,
      runs: 6,
      seed: 20_240_601,
      concurrency: Math.min(4, os.availableParallelism()),
    });
    return results.map((r) => ({ cell: `${r.property} ${r.server} × ${r.client}`, status: r.status, ...(r.status === 'pass' ? {} : { message: r.message }) }));
  }

  it('all ten hold for python-socket × c-reference in both roles, but for recv_fds dropping MSG_CMSG_CLOEXEC', async () => {
    expect(fdProperties).toHaveLength(10);
    const results = await run([
      [pythonSocket, cReference],
      [cReference, pythonSocket],
    ]);
    // Python's socket.recv_fds() ignores its flags (CPython gh-107898): as the receiver, asked for
    // MSG_CMSG_CLOEXEC, its fds come without FD_CLOEXEC. The manifest expects exactly that.
    const cloexec = results.find((r) => r.cell === 'fd.cloexec c-reference × python-socket')!;
    expect(cloexec.status).toBe('expected-fail');
    expect(cloexec.message).toMatch(/FD_CLOEXEC false with MSG_CMSG_CLOEXEC given/);
    expect(results.filter((r) => r !== cloexec)).toEqual(results.filter((r) => r !== cloexec).map((r) => ({ cell: r.cell, status: 'pass' })));
  }, 240_000);

  it("all ten hold for c-reference's driver against itself", async () => {
    const results = await run([[cReferenceDriverOnly, cReferenceDriverOnly]]);
    expect(results).toEqual(results.map((r) => ({ cell: r.cell, status: 'pass' })));
  }, 240_000);
});
