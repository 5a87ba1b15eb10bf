/**
 * The driver protocol (docs/driver-protocol.md): c-reference's driver and the python-socket driver
 * command by command; the client's handling of drivers that lie, exit 127, die, stall or answer
 * ENOTSUP for what hello claimed; the in-process transport over a small fake adapter; serveAdapter;
 * one transcript format for both transports; askCapabilities. The fd properties over real driver
 * pairings are test/fd-drivers.test.ts.
 *
 * Longer than the usual 400 lines on purpose: it is the protocol's one test file, and its parts share
 * the case host, the shell-script drivers and the fake adapter (whose transcript the in-process,
 * served and process transports must agree on); split, each file would carry its own copy of them.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DriverError, type Driver } from '../suite/driver/driver.js';
import { DRIVER_PROTOCOL, type AddressKind, type Capabilities, type DriverAdapter, type SocketType, type Transport } from '../suite/driver/protocol.js';
import { dispatchCommand } from '../suite/driver/dispatch.js';
import { leaseDriver, withDriverReuse } from '../suite/driver/pool.js';
import { serveAdapter } from '../suite/driver/serve.js';
import { askCapabilities, startDriver, type DriverHost } from '../suite/driver/start.js';
import { C_BIN, PROJECT_ROOT } from '../suite/harness/paths.js';
import { liveProcessCount } from '../suite/harness/process.js';
import { CheckFailure, Unsupported, type DriverSpec, type Implementation } from '../suite/model/types.js';
import { planUnits } from '../suite/plan/plan.js';
import type { Property } from '../suite/properties/property.js';
import { leftoversOf } from './support/leftovers.js';

const PY_DIR = join(PROJECT_ROOT, 'fixtures', 'subjects', 'python-socket');
const REFERENCE_DRIVER: DriverSpec = { command: { command: [join(C_BIN, 'reference-driver')] } };
const PYTHON_DRIVER: DriverSpec = { command: { command: ['python3', join(PY_DIR, 'driver.py')] } };

const DRIVERS: Array<{ name: string; spec: DriverSpec }> = [
  { name: 'c-reference', spec: REFERENCE_DRIVER },
  { name: 'python-socket', spec: PYTHON_DRIVER },
];

afterAll(() => {
  expect(liveProcessCount()).toBe(0);
  expect(leftoversOf(process.pid)).toEqual({ dirs: [], sockets: [], processes: [] });
});

/** What a CaseContext gives a driver: a case dir (named like one), a deadline, cleanups at the end. */
async function withHost<T>(fn: (host: DriverHost) => Promise<T>, deadlineMs = 15_000, extraEnv?: Record<string, string>): Promise<T> {
  const dir = mkdtempSync(join(os.tmpdir(), `udsc-${process.pid}-`));
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('case deadline')), deadlineMs);
  const cleanups: Array<() => void | Promise<void>> = [];
  try {
    return await fn({ dir, signal: controller.signal, extraEnv, addCleanup: (cleanup) => void cleanups.push(cleanup) });
  } finally {
    clearTimeout(timer);
    controller.abort(new Error('case finished'));
    for (const cleanup of cleanups.reverse()) await cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

function withDriver<T>(spec: DriverSpec, fn: (d: Driver, host: DriverHost) => Promise<T>, transport: Transport = 'process', deadlineMs = 15_000): Promise<T> {
  return withHost(async (host) => fn(await startDriver(host, spec, { transport, label: 'test' }), host), deadlineMs);
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
/** A process driver written as a shell script. */
const sh = (script: string): DriverSpec => ({ command: { command: ['sh', '-c', script] } });
const HELLO = '{"id":1,"ok":true,"protocol":"uds-driver/1","implementation":"fake"}';

describe.each(DRIVERS)('the $name driver', ({ spec }) => {
  it('answers every command on its happy path', async () => {
    await withDriver(spec, async (d, host) => {
      expect((await d.hello()).protocol).toBe(DRIVER_PROTOCOL);
      const sock = await d.listen('s', { backlog: 4 });
      const client = await d.connect('s');
      const server = await d.accept(sock);
      expect(new Set([sock, client, server]).size).toBe(3);

      // mkfd: every kind, with the protocol's content, skip applied to the seekable ones.
      const kinds = ['file', 'pipe', 'socket', 'memfd', 'dir'] as const;
      const made = [];
      for (const [index, kind] of kinds.entries()) made.push(await d.mkfd({ kind, index, dir: host.dir, skip: 3, cloexec: index % 2 === 0 }));
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
      expect(r.length).toBe(5);
      expect(r.control).toEqual([{ type: 'SCM_RIGHTS', fds: r.fds }]);
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
      expect(await d.recv(client, { dataSize: 10, controlFds: 0 })).toEqual({ data: text('y'), fds: [], flags: ['MSG_CTRUNC'], length: 1, control: [] });
      await d.send(server, text('z'), { fds: [made[1]!.fd] });
      expect(await d.recv(client, { dataSize: 10, controlFds: 253, plain: true })).toEqual({ data: text('z'), fds: [], flags: [], length: 1, control: [] });

      await d.shutdown(server, 'write');
      expect(await d.recv(client, { dataSize: 10, controlFds: 253 })).toEqual({ data: Buffer.alloc(0), fds: [], flags: [], length: 0, control: [] });
    });
  });

  it('answers the inspection commands', async () => {
    await withDriver(spec, async (d, host) => {
      const listing = await d.fds();
      expect(listing.map((o) => o.fd)).toEqual([...listing.map((o) => o.fd)].sort((a, b) => a - b));
      const f = await d.mkfd({ kind: 'memfd', index: 7, dir: host.dir });
      expect((await d.fds()).filter((o) => o.dev === f.dev && o.ino === f.ino)).toHaveLength(1);
      await d.close(f.fd);
      expect((await d.fds()).some((o) => o.dev === f.dev && o.ino === f.ino)).toBe(false);
      expect(await d.open(join(PY_DIR, 'manifest.json'))).toEqual({ error: null });
      expect(await d.open(join(host.dir, 'missing'))).toEqual({ error: 'ENOENT' });
      const who = await d.whoami();
      expect(who).toEqual({ uid: process.getuid!(), gid: process.getgid!(), pid: expect.any(Number) as number });
      expect(who.pid).not.toBe(process.pid); // its own process's pid, not the harness's
      const ro = await d.mkfd({ kind: `file:${join(PY_DIR, 'manifest.json')}`, index: 0, skip: 2 });
      expect(await d.stat(ro.fd)).toMatchObject({ kind: 'file', accmode: 'O_RDONLY', offset: 2, cloexec: false });
      expect((await d.read(ro.fd, 3)).data.toString()).toBe(readFileSync(join(PY_DIR, 'manifest.json'), 'utf8').slice(2, 5));
      const summary = await d.quit(3);
      expect(summary.exitCode).toBe(3);
    });
  });

  it('moves a payload larger than the socket buffers between two drivers', async () => {
    await withHost(async (host) => {
      const [a, b] = await Promise.all([startDriver(host, spec, { transport: 'process', label: 'a' }), startDriver(host, spec, { transport: 'process', label: 'b' })]);
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
    });
  });

  it('answers failures with errno name, number and call', async () => {
    await withDriver(spec, async (d, host) => {
      const sock = await d.listen('s');
      const client = await d.connect('s');
      const server = await d.accept(sock);
      const f = await d.mkfd({ kind: 'pipe', index: 0, dir: host.dir });
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
      await expectErrno(d.mkfd({ kind: 'file', index: 0, dir: host.dir, skip: 1000 }), 'EINVAL', 'read');
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
      // Neither claimed in hello: unsupported, not failed.
      const unsupported = await rejection(d.request('frobnicate', {}));
      expect(unsupported).toBeInstanceOf(Unsupported);
      expect((unsupported as Error).message).toMatch(/cannot do frobnicate/);
      // Still answering after all that.
      expect((await d.whoami()).uid).toBe(process.getuid!());
    });
  });

  it('answers pipelined commands in order', async () => {
    await withDriver(spec, async (d) => {
      const [who, sock, listing, again] = await Promise.all([d.whoami(), d.listen('p'), d.fds(), d.whoami()]);
      expect(who).toEqual(again);
      expect(typeof sock).toBe('string');
      expect(listing.length).toBeGreaterThan(0);
      const ids = d.transcript().flatMap((l) => /^< \{"id":(\d+),/.exec(l)?.[1] ?? []).map(Number);
      expect(ids).toEqual([1, 2, 3, 4, 5]);
    });
  });
});

describe("the c-reference driver's capabilities", () => {
  it('are what hello claims (or uds-driver/1 before capabilities), and an unclaimed socket type is unsupported', async () => {
    await withDriver(REFERENCE_DRIVER, async (d) => {
      const hello = await d.hello();
      expect(hello.capabilities).toEqual(d.capabilities);
      expect(d.capabilities.types).toContain('stream');
      expect(d.capabilities.commands).toEqual(expect.arrayContaining(['hello', 'listen', 'send', 'recv', 'quit']));
      if (!d.capabilities.types.includes('dgram')) {
        const err = await rejection(d.listen('dg', { type: 'dgram' }));
        expect(err).toBeInstanceOf(Unsupported);
      }
    });
  });
});

describe('a driver that breaks the protocol', () => {
  const start = (spec: DriverSpec, label = 'test', deadlineMs = 10_000): Promise<unknown> =>
    withHost((host) => rejection(startDriver(host, spec, { transport: 'process', label })), deadlineMs);

  it('is reported as lying when it prints garbage, with the line', async () => {
    const err = await start(sh('echo nonsense; cat >/dev/null'), 'server fake');
    expect(err).toBeInstanceOf(CheckFailure);
    expect((err as CheckFailure).message).toMatch(/the server fake driver lied .*not JSON/);
    expect((err as CheckFailure).evidence.actual).toContain('nonsense');
  });

  it('is reported as lying when it answers another id, or leaves out a field', async () => {
    const wrongId = await start(sh('read l; echo \'{"id":7,"ok":true}\'; cat >/dev/null'));
    expect((wrongId as CheckFailure).message).toMatch(/lied .*id 7 to command 1 \(hello\)/);
    const noField = await start(sh('read l; echo \'{"id":1,"ok":true}\'; cat >/dev/null'));
    expect((noField as CheckFailure).message).toMatch(/lied .*the hello answer does not fit .*must have required property 'protocol'/);
    const otherProtocol = await start(sh('read l; echo \'{"id":1,"ok":true,"protocol":"uds-driver/0","implementation":""}\'; cat >/dev/null'));
    expect((otherProtocol as CheckFailure).message).toMatch(/lied .*hello answered protocol "uds-driver\/0"/);
    const badError = await start(sh('read l; echo \'{"id":1,"ok":false,"error":{"code":"EIO"}}\'; cat >/dev/null'));
    expect((badError as CheckFailure).message).toMatch(/lied .*the error answer to hello does not fit/);
    // Garbage later on fails the waiting command, and every later one, with the same lie.
    await withHost(async (host) => {
      const d = await startDriver(host, sh(`read l; echo '${HELLO}'; read l; echo oops; cat >/dev/null`), { transport: 'process', label: 'test' });
      const err = await rejection(d.whoami());
      expect((err as CheckFailure).message).toMatch(/lied/);
      expect((err as CheckFailure).evidence.actual).toContain('oops');
      expect(await rejection(d.whoami())).toBe(err);
    });
  });

  it('is reported as lying when it answers an impossible value', async () => {
    const answering = (answer: string): DriverSpec => sh(`read l; echo '${HELLO}'; read l; echo '${answer}'; cat >/dev/null`);
    await withHost(async (host) => {
      const d = await startDriver(host, answering('{"id":2,"ok":true,"sent":99}'), { transport: 'process', label: 'test' });
      expect(((await rejection(d.send('C1', text('a')))) as CheckFailure).message).toMatch(/lied .*send answered sent 99 for 1 bytes/);
      const r = await startDriver(host, answering('{"id":2,"ok":true,"data":"aGVsbG8=","fds":[],"flags":[]}'), { transport: 'process', label: 'test' });
      expect(((await rejection(r.recv('C1', { dataSize: 2 }))) as CheckFailure).message).toMatch(/lied .*recv answered 5 bytes for a buffer of 2/);
      const n = await startDriver(host, answering('{"id":2,"ok":true,"data":"aGVsbG8","error":null}'), { transport: 'process', label: 'test' });
      expect(((await rejection(n.read('F1', 10))) as CheckFailure).message).toMatch(/lied .*not base64/);
    });
  });

  it('declares the case unsupported by exiting 127', async () => {
    const err = await start(sh('exit 127'));
    expect(err).toBeInstanceOf(Unsupported);
    expect((err as Error).message).toMatch(/status 127/);
  });

  it('fails the case when it dies, cannot start, or stalls past the deadline', async () => {
    const died = await start(sh('echo bye >&2; exit 3'), 'client x');
    expect(died).toBeInstanceOf(CheckFailure);
    expect((died as CheckFailure).message).toBe('the client x driver ended (exit 3) without answering `hello`');
    expect((died as CheckFailure).evidence.actual).toContain('bye');
    const missing = await start({ command: { command: ['/nonexistent/driver'] } });
    expect(missing).toBeInstanceOf(CheckFailure);
    expect((missing as CheckFailure).message).toMatch(/could not be started/);
    const started = performance.now();
    const stalled = await start(sh('cat >/dev/null'), 'test', 300);
    expect(stalled).toBeInstanceOf(CheckFailure);
    expect((stalled as CheckFailure).message).toMatch(/did not answer `hello` before the case deadline/);
    expect((stalled as CheckFailure).evidence.details?.transcript).toEqual(['> {"id":1,"cmd":"hello"}']);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('fails the case when it answers ENOTSUP for what hello claimed, and is unsupported for what it did not', async () => {
    const claims = '{"types":["stream","seqpacket"],"addresses":["pathname"],"fds":false,"credentials":false,"commands":["hello","listen","quit"]}';
    const refusing = sh(
      `read l; echo '{"id":1,"ok":true,"protocol":"uds-driver/1","implementation":"fake","capabilities":${claims}}'; ` +
        `while read l; do id=$(echo "$l" | sed 's/^{"id":\\([0-9]*\\).*/\\1/'); echo "{\\"id\\":$id,\\"ok\\":false,\\"error\\":{\\"code\\":\\"ENOTSUP\\",\\"errno\\":95,\\"syscall\\":\\"driver\\",\\"message\\":\\"no\\"}}"; done`,
    );
    await withHost(async (host) => {
      const d = await startDriver(host, refusing, { transport: 'process', label: 'server fake' });
      expect(d.capabilities.types).toEqual(['stream', 'seqpacket']);
      expect(await rejection(d.listen('s', { type: 'dgram' }))).toBeInstanceOf(Unsupported);
      expect(await rejection(d.whoami())).toBeInstanceOf(Unsupported);
      expect(await rejection(d.mkfd({ kind: 'pipe' }))).toBeInstanceOf(Unsupported);
      const claimed = await rejection(d.listen('s', { type: 'seqpacket' }));
      expect(claimed).toBeInstanceOf(CheckFailure);
      expect((claimed as CheckFailure).message).toBe('the server fake driver claims `listen` with seqpacket sockets at pathname addresses in hello but answered ENOTSUP');
      const plain = await rejection(d.listen('s'));
      expect((plain as CheckFailure).message).toBe('the server fake driver claims `listen` with stream sockets at pathname addresses in hello but answered ENOTSUP');
    });
  });

  it('gets the run’s extra environment', async () => {
    const echoing = sh('read l; printf \'{"id":1,"ok":true,"protocol":"uds-driver/1","implementation":"%s"}\\n\' "$UDSC_EXTRA"; cat >/dev/null');
    const implementation = await withHost(
      async (host) => {
        const d = await startDriver(host, echoing, { transport: 'process', label: 'test', hello: false });
        return (await d.hello()).implementation;
      },
      10_000,
      { UDSC_EXTRA: 'from the run' },
    );
    expect(implementation).toBe('from the run');
  });
});

/** A Node system error, as node:net gives it (errno negative). */
function systemError(code: string, syscall: string): Error {
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno: -(os.constants.errno as Record<string, number>)[code]!, syscall });
}

const FAKE_CAPABILITIES: Capabilities = { types: ['stream'], addresses: ['pathname'], fds: false, credentials: false, commands: ['hello', 'listen', 'accept', 'connect', 'send', 'recv', 'shutdown', 'close', 'whoami', 'quit'] };

/**
 * A loopback "library": one connection whose sends come back on recv. Its connect really connects
 * (node:net), so a missing path fails with Node's own ENOENT. It has no shutdown although hello claims
 * it, no mkfd (not claimed), and answers whoami wrongly when asked to.
 */
function fakeAdapter(options: { lieInWhoami?: boolean; crashInClose?: boolean; stallWhoami?: boolean } = {}): DriverAdapter & { quits: number[] } {
  const buffered: Buffer[] = [];
  const quits: number[] = [];
  return {
    quits,
    async hello() {
      return { implementation: 'fake loopback', capabilities: FAKE_CAPABILITIES };
    },
    async listen({ path }) {
      return { sock: `L:${path}` };
    },
    async accept() {
      return { conn: 'C1' };
    },
    async connect({ path }) {
      await new Promise<void>((resolve, reject) => {
        const s = net.connect(path!);
        s.once('connect', () => (s.destroy(), resolve()));
        s.once('error', reject);
      });
      return { conn: 'C2' };
    },
    async send({ data }) {
      buffered.push(Buffer.from(data));
      return { sent: data.length };
    },
    async recv({ dataSize }) {
      const all = Buffer.concat(buffered.splice(0));
      if (all.length > dataSize) buffered.push(all.subarray(dataSize));
      return { data: new Uint8Array(all.subarray(0, dataSize)), fds: [], flags: [] };
    },
    async close({ name }) {
      if (options.crashInClose) throw new TypeError(`cannot read properties of undefined (closing ${name})`);
      if (name === 'nothing') throw systemError('EBADF', 'close');
    },
    async whoami() {
      if (options.stallWhoami) await new Promise(() => undefined);
      return options.lieInWhoami ? ({ uid: 'root', gid: 0 } as unknown as { uid: number; gid: number }) : { uid: 1000, gid: 1000 };
    },
    async quit({ status }) {
      quits.push(status);
    },
  };
}

/** The same commands, whichever transport: for comparing transcripts. */
async function session(d: Driver): Promise<void> {
  await d.listen('s', { backlog: 2 });
  await d.accept('L:s');
  await d.send('C1', text('hello, loopback'));
  await d.recv('C1', { dataSize: 5 });
  await d.recv('C1', { dataSize: 100 });
  await d.close('nothing').catch(() => undefined);
  await d.whoami();
  await d.quit(4);
}

describe('the in-process transport', () => {
  const inProcess = (adapter: DriverAdapter): DriverSpec => ({ inProcess: () => adapter });

  it('answers through the adapter, bytes as bytes, Node errors as DriverError with a positive errno', async () => {
    const adapter = fakeAdapter();
    await withDriver(inProcess(adapter), async (d, host) => {
      expect(d.capabilities).toEqual(FAKE_CAPABILITIES);
      expect(await d.hello()).toEqual({ protocol: DRIVER_PROTOCOL, implementation: 'fake loopback', capabilities: FAKE_CAPABILITIES });
      expect(await d.listen('s')).toBe('L:s');
      expect(await d.send('C1', text('abcdef'))).toBe(6);
      expect(await d.recv('C1', { dataSize: 4 })).toEqual({ data: text('abcd'), fds: [], flags: [], length: 4, control: [] });
      expect((await d.recv('C1', { dataSize: 4 })).data).toEqual(text('ef'));
      await expectErrno(d.connect(join(host.dir, 'missing')), 'ENOENT', 'connect');
      await expectErrno(d.close('nothing'), 'EBADF', 'close');
      await expectErrno(d.request('recv', { conn: 'C1' }), 'EINVAL', 'driver'); // dataSize missing
      expect(await d.whoami()).toEqual({ uid: 1000, gid: 1000 });
      const summary = await d.quit(5);
      expect(summary).toMatchObject({ how: 'in-process', exitCode: 5, signal: null });
      expect(adapter.quits).toEqual([5]);
      // A driver that has quit answers nothing more.
      expect((await rejection(d.whoami())) as CheckFailure).toBeInstanceOf(CheckFailure);
    }, 'in-process');
  });

  it('is unsupported for a method it lacks and did not claim, and fails for one it claimed', async () => {
    await withDriver(inProcess(fakeAdapter()), async (d) => {
      const unclaimed = await rejection(d.mkfd({ kind: 'pipe' }));
      expect(unclaimed).toBeInstanceOf(Unsupported);
      expect((unclaimed as Error).message).toBe('the test driver cannot do mkfd: the adapter has no mkfd');
      const claimed = await rejection(d.shutdown('C1', 'write'));
      expect(claimed).toBeInstanceOf(CheckFailure);
      expect((claimed as CheckFailure).message).toBe('the test driver claims `shutdown` in hello but answered ENOTSUP');
    }, 'in-process');
  });

  it('reports a malformed answer from the adapter as a lie, and a throw without a code as a crash', async () => {
    await withDriver(inProcess(fakeAdapter({ lieInWhoami: true })), async (d) => {
      const lie = await rejection(d.whoami());
      expect(lie).toBeInstanceOf(CheckFailure);
      expect((lie as CheckFailure).message).toMatch(/^the test driver lied .*the whoami answer does not fit .*uid must be integer/);
      expect(JSON.parse((lie as CheckFailure).evidence.actual!)).toContain('"uid":"root"');
      expect(await rejection(d.listen('s'))).toBe(lie);
    }, 'in-process');
    const adapter = fakeAdapter({ crashInClose: true });
    await withDriver(inProcess(adapter), async (d) => {
      const crash = await rejection(d.close('C1'));
      expect(crash).toBeInstanceOf(CheckFailure);
      expect((crash as CheckFailure).message).toBe('the test driver crashed in `close`: TypeError: cannot read properties of undefined (closing C1)');
      const summary = await d.exited;
      expect(summary).toMatchObject({ how: 'in-process', exitCode: null });
      expect(summary.stderr).toContain('TypeError');
      expect(adapter.quits).toEqual([0]); // what it held is closed all the same
    }, 'in-process');
  });

  it('fails a command the adapter does not answer before the case deadline, and quits the adapter', async () => {
    const adapter = fakeAdapter({ stallWhoami: true });
    const started = performance.now();
    const err = await withDriver(inProcess(adapter), (d) => rejection(d.whoami()), 'in-process', 300);
    expect(err).toBeInstanceOf(CheckFailure);
    expect((err as CheckFailure).message).toBe('the test driver did not answer `whoami` before the case deadline');
    expect((err as CheckFailure).evidence.details?.transcript).toEqual([expect.stringMatching(/^> \{"id":1,"cmd":"hello"\}$/), expect.stringMatching(/^< /), '> {"id":2,"cmd":"whoami"}']);
    expect(adapter.quits).toEqual([0]);
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('writes the transcript a process driver would, answer for answer', async () => {
    // In process: the adapter's answers as the client records them.
    const inProcessTranscript = await withDriver(inProcess(fakeAdapter()), async (d) => {
      await session(d);
      return d.transcript();
    }, 'in-process');
    const commands = inProcessTranscript.filter((l) => l.startsWith('> ')).map((l) => l.slice(2));
    expect(commands[0]).toBe('{"id":1,"cmd":"hello"}');

    // Served over stdio, the same adapter answers the same commands with the same lines (the
    // transcript cuts lines over 240 characters: hello's here).
    const served = await serveLines(fakeAdapter(), commands);
    expect(served.status).toBe(4);
    const cut = (line: string): string => (line.length > 240 ? `${line.slice(0, 240)}… (${line.length} chars)` : line);
    expect(inProcessTranscript.filter((l) => l.startsWith('< '))).toEqual(served.answers.map((a) => cut(`< ${a}`)));
    expect(served.answers).toContain('{"id":5,"ok":true,"data":"aGVsbG8=","fds":[],"flags":[]}');
    expect(served.answers).toContain('{"id":7,"ok":false,"error":{"code":"EBADF","errno":9,"syscall":"close","message":"close EBADF"}}');

    // And a process driver that answers those lines leaves the same transcript.
    const processTranscript = await withHost(async (host) => {
      writeFileSync(join(host.dir, 'answers.jsonl'), `${served.answers.join('\n')}\n`);
      const replay = sh('exec 3<"$0"; while IFS= read -r cmd; do IFS= read -r a <&3 || exit 0; printf "%s\\n" "$a"; done');
      replay.command!.command.push('{dir}/answers.jsonl');
      const d = await startDriver(host, replay, { transport: 'process', label: 'test' });
      await session(d);
      return d.transcript();
    });
    expect(processTranscript).toEqual(inProcessTranscript);
  });
});

/** Runs serveAdapter over a pipe: the command lines in, the answer lines and the status out. */
async function serveLines(adapter: DriverAdapter, lines: string[], end = true): Promise<{ answers: string[]; status: number }> {
  const input = new PassThrough();
  const output = new PassThrough();
  const serving = serveAdapter(adapter, input, output);
  for (const line of lines) input.write(`${line}\n`);
  if (end) input.end();
  const status = await serving;
  output.end();
  const answers = (await output.toArray()).map(String).join('').split('\n');
  return { answers: answers.slice(0, -1), status };
}

/** One answer line, as the refusal tests read it. */
const parseAnswer = (line: string): { id: number; ok: boolean; error?: { code: string; syscall: string; message: string } } => JSON.parse(line);
/** id, ok, error code and syscall of each answer: the refusal tests' table. */
const outcomeRows = (parsed: Array<ReturnType<typeof parseAnswer>>): unknown[][] => parsed.map((a) => [a.id, a.ok, a.error?.code, a.error?.syscall]);

describe('serveAdapter', () => {
  it('answers each command line in order and resolves with the quit status', async () => {
    const adapter = fakeAdapter();
    const { answers, status } = await serveLines(adapter, ['{"id":1,"cmd":"hello"}', '{"id":2,"cmd":"send","conn":"C1","data":"aGk="}', '{"id":3,"cmd":"recv","conn":"C1","dataSize":9}', '{"id":4,"cmd":"quit","status":7}', '{"id":5,"cmd":"whoami"}'], false);
    expect(status).toBe(7);
    expect(adapter.quits).toEqual([7]);
    expect(answers.map((a) => JSON.parse(a) as unknown)).toEqual([
      { id: 1, ok: true, protocol: DRIVER_PROTOCOL, implementation: 'fake loopback', capabilities: FAKE_CAPABILITIES },
      { id: 2, ok: true, sent: 2 },
      { id: 3, ok: true, data: 'aGk=', fds: [], flags: [] },
      { id: 4, ok: true },
    ]);
  });

  it('refuses malformed commands with EINVAL and unknown ones with ENOTSUP, from "driver"; end of input is quit 0', async () => {
    const adapter = fakeAdapter();
    const { answers, status } = await serveLines(adapter, ['not json', '[1]', '{"cmd":"hello"}', '{"id":2}', '{"id":3,"cmd":"send","conn":"C1","data":"***"}', '{"id":4,"cmd":"listen","path":"s","type":"raw"}', '{"id":5,"cmd":"frobnicate"}', '{"id":6,"cmd":"mkfd","kind":"pipe"}']);
    expect(status).toBe(0);
    expect(adapter.quits).toEqual([0]);
    const errors = answers.map((a) => JSON.parse(a) as { id?: number; ok: boolean; error: { code: string; errno: number; syscall: string } });
    expect(errors.map((e) => [e.id, e.ok, e.error.code, e.error.errno, e.error.syscall])).toEqual([
      [undefined, false, 'EINVAL', 22, 'driver'],
      [undefined, false, 'EINVAL', 22, 'driver'],
      [undefined, false, 'EINVAL', 22, 'driver'],
      [2, false, 'EINVAL', 22, 'driver'],
      [3, false, 'EINVAL', 22, 'driver'],
      [4, false, 'EINVAL', 22, 'driver'],
      [5, false, 'ENOTSUP', 95, 'driver'],
      [6, false, 'ENOTSUP', 95, 'driver'],
    ]);
  });

  it('rejects when the adapter crashes, as a process driver would die', async () => {
    const err = await rejection(serveLines(fakeAdapter({ crashInClose: true }), ['{"id":1,"cmd":"close","name":"C1"}']));
    expect((err as Error).message).toBe('the adapter crashed in close (command 1)');
    expect((err as Error).cause).toBeInstanceOf(TypeError);
  });
});

describe('askCapabilities', () => {
  it("asks c-reference's driver, with capabilities in its hello or without", async () => {
    const hello = await askCapabilities(REFERENCE_DRIVER, 'process', { deadlineMs: 10_000, label: 'c-reference' });
    expect(hello).toMatchObject({ protocol: DRIVER_PROTOCOL, implementation: 'c-reference' });
    expect(hello.capabilities.types).toContain('stream');
    expect(hello.capabilities.addresses).toContain('pathname');
    expect(hello.capabilities.fds).toBe(true);
    expect(hello.capabilities.commands).toEqual(expect.arrayContaining(['hello', 'listen', 'accept', 'connect', 'send', 'recv', 'quit']));
  });

  it('asks an in-process adapter', async () => {
    const adapter = fakeAdapter();
    const hello = await askCapabilities({ inProcess: () => adapter }, 'in-process', { deadlineMs: 5000 });
    expect(hello.capabilities).toEqual(FAKE_CAPABILITIES);
    expect(adapter.quits).toEqual([0]);
  });

  it('rejects with which driver and why when it cannot start, dies or does not answer', async () => {
    const missing = await rejection(askCapabilities({ command: { command: ['/nonexistent/driver'] } }, 'process', { deadlineMs: 5000, label: 'ghost' }));
    expect((missing as Error).message).toMatch(/^cannot ask the ghost driver \(process\) for its capabilities: the ghost driver could not be started/);
    const died = await rejection(askCapabilities(sh('echo no luck here >&2; exit 2'), 'process', { deadlineMs: 5000, label: 'broken' }));
    expect((died as Error).message).toMatch(/the broken driver ended \(exit 2\) without answering `hello` \(exit 2; stderr: no luck here\)/);
    const stalled = await rejection(askCapabilities(sh('cat >/dev/null'), 'process', { deadlineMs: 300, label: 'slow' }));
    expect((stalled as Error).message).toMatch(/the slow driver did not answer `hello` before the case deadline/);
    const unsupported = await rejection(askCapabilities(sh('exit 127'), 'process', { deadlineMs: 5000 }));
    expect(unsupported).toBeInstanceOf(Unsupported);
  });
});

// ---- uds-driver/2: per-socket claims, the new answers, addresses ----

/** A driver that answers hello with this line, then `answer` to its second command. */
const answering2 = (helloLine: string, answer: string): DriverSpec => sh(`read l; echo '${helloLine}'; read l; echo '${answer}'; cat >/dev/null`);
const V2_CAPS: Capabilities = {
  types: ['stream', 'dgram'],
  addresses: ['pathname', 'abstract'],
  fds: true,
  credentials: true,
  commands: ['hello', 'listen', 'bind', 'accept', 'connect', 'send', 'sendto', 'recv', 'recvfrom', 'getsockname', 'getpeername', 'setsockopt', 'getsockopt', 'peercred', 'close', 'quit'],
  sockets: [
    { type: 'stream', address: 'pathname', features: ['fds', 'peercred', 'msg-trunc'] },
    { type: 'dgram', address: 'abstract', features: ['autobind', 'passcred', 'getsockname'] },
  ],
};
const V2_HELLO = JSON.stringify({ id: 1, ok: true, protocol: 'uds-driver/2', implementation: 'fake', capabilities: V2_CAPS });

describe('hello, uds-driver/1 and uds-driver/2', () => {
  it('accepts a uds-driver/1 hello with its own meaning: no sockets, even if it sends some', async () => {
    await withHost(async (host) => {
      const { sockets, ...v1caps } = V2_CAPS;
      const v1 = JSON.stringify({ id: 1, ok: true, protocol: 'uds-driver/1', implementation: 'old', capabilities: { ...v1caps, sockets } });
      const d = await startDriver(host, sh(`read l; echo '${v1}'; cat >/dev/null`), { transport: 'process', label: 'test' });
      expect(d.capabilities).toEqual(v1caps);
      const v2 = await startDriver(host, sh(`read l; echo '${V2_HELLO}'; cat >/dev/null`), { transport: 'process', label: 'test' });
      expect(v2.capabilities).toEqual(V2_CAPS);
    });
  });

  it('is a lie when its protocol is neither, or its sockets disagree with the rest of it', async () => {
    const start = (line: string): Promise<unknown> => withHost((host) => rejection(startDriver(host, sh(`read l; echo '${line}'; cat >/dev/null`), { transport: 'process', label: 'test' })));
    const hello = (caps: unknown, protocol = 'uds-driver/2'): string => JSON.stringify({ id: 1, ok: true, protocol, implementation: 'x', capabilities: caps });
    const message = async (line: string): Promise<string> => ((await start(line)) as CheckFailure).message;
    expect(await message(hello(V2_CAPS, 'uds-driver/3'))).toMatch(/lied .*hello answered protocol "uds-driver\/3", not one of "uds-driver\/1", "uds-driver\/2"/);
    expect(await message(hello({ ...V2_CAPS, types: ['stream'] }))).toMatch(/lied .*hello answered types \["stream"\], but its sockets have \["stream","dgram"\]/);
    expect(await message(hello({ ...V2_CAPS, fds: false }))).toMatch(/lied .*hello answered fds false, but a socket entry has the feature fds/);
    expect(await message(hello({ ...V2_CAPS, credentials: false }))).toMatch(/lied .*hello answered credentials false/);
    const twice = { ...V2_CAPS, sockets: [...V2_CAPS.sockets!, { type: 'dgram', address: 'abstract', features: [] }] };
    expect(await message(hello(twice))).toMatch(/lied .*hello lists dgram × abstract twice/);
    const autobindAtPath = { ...V2_CAPS, sockets: [{ type: 'stream', address: 'pathname', features: ['autobind', 'fds', 'peercred'] }, V2_CAPS.sockets![1]] };
    expect(await message(hello(autobindAtPath))).toMatch(/lied .*autobind at stream × pathname/);
    const unknownFeature = { ...V2_CAPS, sockets: [{ type: 'stream', address: 'pathname', features: ['telepathy'] }] };
    expect(await message(hello(unknownFeature))).toMatch(/lied .*the hello answer does not fit .*capabilities\.sockets\.0\.features\.0 must be equal to one of the allowed values/);
  });
});

describe('the client, on uds-driver/2 answers', () => {
  const lieOf = (spec: DriverSpec, call: (d: Driver) => Promise<unknown>): Promise<string> =>
    withHost(async (host) => {
      const d = await startDriver(host, spec, { transport: 'process', label: 'test' });
      const err = await rejection(call(d));
      expect(err).toBeInstanceOf(CheckFailure);
      return (err as CheckFailure).message;
    });
  const recvAnswer = (more: Record<string, unknown>): string => JSON.stringify({ id: 2, ok: true, data: 'aGVsbG8=', fds: [], flags: [], ...more });

  it('reports a recv length below the data, or above it without MSG_TRUNC as an input flag, as a lie', async () => {
    expect(await lieOf(answering2(V2_HELLO, recvAnswer({ length: 4, control: [] })), (d) => d.recv('C1', { dataSize: 10 }))).toMatch(/lied .*recv answered length 4 with 5 bytes of data/);
    expect(await lieOf(answering2(V2_HELLO, recvAnswer({ length: 9, control: [] })), (d) => d.recv('C1', { dataSize: 5 }))).toMatch(/lied .*recv answered length 9 with 5 bytes of data, and MSG_TRUNC was not an input flag/);
    expect(await lieOf(answering2(V2_HELLO, JSON.stringify({ id: 2, ok: true, data: 'aGVsbG8=', fds: [], flags: [], length: 3, control: [], from: null })), (d) => d.recvfrom('S1', { dataSize: 5 }))).toMatch(
      /lied .*recvfrom answered length 3 with 5 bytes/,
    );
  });

  it('takes a longer length with MSG_TRUNC as input, and fills length and control from a uds-driver/1 answer', async () => {
    await withHost(async (host) => {
      const d = await startDriver(host, answering2(V2_HELLO, recvAnswer({ length: 9, control: [], flags: ['MSG_TRUNC'] })), { transport: 'process', label: 'test' });
      expect(await d.recv('C1', { dataSize: 5, flags: ['MSG_TRUNC'] })).toEqual({ data: text('hello'), fds: [], flags: ['MSG_TRUNC'], length: 9, control: [] });
      const v1 = await startDriver(host, answering2(HELLO, recvAnswer({ fds: ['R1', 'R2'] })), { transport: 'process', label: 'test' });
      expect(await v1.recv('C1', { dataSize: 5, controlFds: 2 })).toEqual({ data: text('hello'), fds: ['R1', 'R2'], flags: [], length: 5, control: [{ type: 'SCM_RIGHTS', fds: ['R1', 'R2'] }] });
    });
  });

  it('reports control messages that disagree with fds, or are malformed, as a lie', async () => {
    const rights = (fds: string[]): Record<string, unknown> => ({ type: 'SCM_RIGHTS', fds });
    expect(await lieOf(answering2(V2_HELLO, recvAnswer({ fds: ['R1', 'R2'], length: 5, control: [rights(['R2', 'R1'])] })), (d) => d.recv('C1', { dataSize: 5, controlFds: 2 }))).toMatch(
      /lied .*recv answered fds \["R1","R2"\] but its SCM_RIGHTS control messages hold \["R2","R1"\]/,
    );
    expect(await lieOf(answering2(V2_HELLO, recvAnswer({ length: 5, control: [{ type: 'SCM_CREDENTIALS', uid: 0, gid: 0 }] })), (d) => d.recv('C1', { dataSize: 5, credentials: true }))).toMatch(
      /lied .*the recv answer does not fit .*#\/definitions\/recv/,
    );
  });

  it('reports a sendto that sent more than its data, and an address whose bytes are not length - 2, as a lie', async () => {
    expect(await lieOf(answering2(V2_HELLO, '{"id":2,"ok":true,"sent":3}'), (d) => d.sendto('S1', { abstract: text('x') }, text('ab')))).toMatch(/lied .*sendto answered sent 3 for 2 bytes/);
    expect(await lieOf(answering2(V2_HELLO, '{"id":2,"ok":true,"length":6,"bytes":"AGFi"}'), (d) => d.getsockname('S1'))).toMatch(/lied .*getsockname answered length 6 with 3 bytes/);
    expect(await lieOf(answering2(V2_HELLO, '{"id":2,"ok":true,"length":1,"bytes":""}'), (d) => d.getpeername('S1'))).toMatch(/lied .*the getpeername answer does not fit .*length must be >= 2/);
    const from = JSON.stringify({ id: 2, ok: true, data: '', fds: [], flags: [], length: 0, control: [], from: { length: 6, bytes: 'AGFi' } });
    expect(await lieOf(answering2(V2_HELLO, from), (d) => d.recvfrom('S1', { dataSize: 5 }))).toMatch(/lied .*recvfrom answered from with length 6 with 3 bytes/);
  });

  it('accepts a sendto that sent less than its data: one sendmsg, no rest loop', async () => {
    await withHost(async (host) => {
      const d = await startDriver(host, answering2(V2_HELLO, '{"id":2,"ok":true,"sent":1}'), { transport: 'process', label: 'test' });
      expect(await d.sendto('S1', '/p', text('ab'))).toBe(1);
      expect(d.transcript()[2]).toBe('> {"id":2,"cmd":"sendto","sock":"S1","path":"/p","data":"YWI=","fds":[]}');
    });
  });
});

/**
 * An adapter with the per-socket claims of V2_CAPS that makes sockets (listen, bind, connect, accept)
 * and answers addresses, and has none of the other commands: each of those answers ENOTSUP.
 */
function socketsAdapter(log: Array<Record<string, unknown>> = []): DriverAdapter {
  let n = 0;
  return {
    async hello() {
      return { implementation: 'sockets only', capabilities: V2_CAPS };
    },
    async listen(f) {
      log.push({ listen: f });
      return { sock: `L${++n}` };
    },
    async bind(f) {
      log.push({ bind: f });
      return { sock: `B${++n}` };
    },
    async connect(f) {
      log.push({ connect: f });
      return { conn: `C${++n}` };
    },
    async accept() {
      return { conn: `A${++n}` };
    },
    async getpeername({ name }) {
      if (name === 'unnamed') return { length: 2, bytes: new Uint8Array(0) };
      if (name === 'path') return { length: 2 + 7, bytes: new Uint8Array(Buffer.from('/tmp/x\0')) };
      return { length: 2 + 1 + 4, bytes: new Uint8Array(Buffer.from('\0a\0b\0')) };
    },
    async recvfrom({ dataSize }) {
      return {
        data: new Uint8Array(Buffer.from('datagram').subarray(0, dataSize)),
        fds: ['R1'],
        flags: [],
        length: Math.min(8, dataSize),
        control: [
          { type: 'SCM_CREDENTIALS', pid: 12, uid: 34, gid: 56 },
          { type: 'SCM_RIGHTS', fds: ['R1'] },
          { type: 'other', level: 1, cmsgType: 99, bytes: new Uint8Array([0, 255, 7]) },
        ],
        from: dataSize > 4 ? { length: 2 + 3, bytes: new Uint8Array([0, 0x71, 0]) } : null,
      };
    },
  };
}

describe('ENOTSUP, judged by the socket it concerns', () => {
  const inProcess = (adapter: DriverAdapter): DriverSpec => ({ inProcess: () => adapter });
  const claimed = async (p: Promise<unknown>): Promise<string> => {
    const err = await rejection(p);
    expect(err).toBeInstanceOf(CheckFailure);
    return (err as CheckFailure).message;
  };
  const unsupported = async (p: Promise<unknown>): Promise<void> => {
    expect(await rejection(p)).toBeInstanceOf(Unsupported);
  };

  it('fails for a feature claimed at that socket type × address kind, and is unsupported for one claimed only elsewhere', async () => {
    await withDriver(inProcess(socketsAdapter()), async (d) => {
      const conn = await d.connect('/p'); // stream × pathname: fds, peercred, msg-trunc
      const sock = await d.bind(undefined, { type: 'dgram' }); // autobind: dgram × abstract: autobind, passcred, getsockname
      expect(await claimed(d.peercred(conn))).toBe('the test driver claims `peercred` with the feature peercred (stream × pathname) in hello but answered ENOTSUP');
      await unsupported(d.peercred(sock));
      expect(await claimed(d.setsockopt(sock, 'SO_PASSCRED', 1))).toBe('the test driver claims `setsockopt` with the feature passcred (dgram × abstract) in hello but answered ENOTSUP');
      await unsupported(d.setsockopt(conn, 'SO_PASSCRED', 1));
      await unsupported(d.setsockopt(sock, 'SO_SNDBUF', 4096)); // sndbuf claimed nowhere
      await unsupported(d.getsockopt(sock, 'SO_RCVBUF'));
      expect(await claimed(d.getsockname(sock))).toMatch(/claims `getsockname` with the feature getsockname \(dgram × abstract\)/);
      await unsupported(d.getsockname(conn));
      // The socket accept hands out is the listener's kind.
      const accepted = await d.accept(await d.listen('/q'));
      expect(await claimed(d.send(accepted, text('a'), { fds: ['F1'] }))).toMatch(/claims `send` with the feature fds \(stream × pathname\)/);
      await unsupported(d.send(sock, text('a'), { fds: ['F1'] }));
      await unsupported(d.send(conn, text('a'), { credentials: { pid: 1, uid: 0, gid: 0 } })); // sendcred claimed nowhere
      expect(await claimed(d.recv(conn, { dataSize: 5, flags: ['MSG_TRUNC'] }))).toMatch(/claims `recv` with the feature msg-trunc \(stream × pathname\)/);
      await unsupported(d.recv(sock, { dataSize: 5, credentials: true, flags: ['MSG_TRUNC'] }));
      expect(await claimed(d.recv(sock, { dataSize: 5, credentials: true }))).toMatch(/claims `recv` with the feature passcred \(dgram × abstract\)/);
    }, 'in-process');
  });

  it('judges MSG_PEEK, MSG_DONTWAIT and shutdown of the read side by the features msg-peek, msg-dontwait and shutdown-read at that socket', async () => {
    // stream × pathname has the three features, dgram × abstract none; every call below answers ENOTSUP.
    const caps: Capabilities = {
      ...V2_CAPS,
      commands: [...V2_CAPS.commands, 'shutdown'],
      sockets: [
        { type: 'stream', address: 'pathname', features: ['fds', 'peercred', 'msg-peek', 'msg-dontwait', 'shutdown-read'] },
        { type: 'dgram', address: 'abstract', features: ['autobind', 'passcred', 'getsockname'] },
      ],
    };
    const adapter: DriverAdapter = { ...socketsAdapter(), hello: async () => ({ implementation: 'flags', capabilities: caps }) };
    delete adapter.recvfrom;
    await withDriver(inProcess(adapter), async (d) => {
      const conn = await d.connect('/p');
      const sock = await d.bind(undefined, { type: 'dgram' });
      expect(await claimed(d.recv(conn, { dataSize: 5, flags: ['MSG_PEEK'] }))).toBe('the test driver claims `recv` with the feature msg-peek (stream × pathname) in hello but answered ENOTSUP');
      expect(await claimed(d.recv(conn, { dataSize: 5, flags: ['MSG_DONTWAIT'] }))).toMatch(/claims `recv` with the feature msg-dontwait \(stream × pathname\)/);
      expect(await claimed(d.send(conn, text('a'), { flags: ['MSG_DONTWAIT'] }))).toMatch(/claims `send` with the feature msg-dontwait \(stream × pathname\)/);
      expect(await claimed(d.shutdown(conn, 'read'))).toBe('the test driver claims `shutdown` with the feature shutdown-read (stream × pathname) in hello but answered ENOTSUP');
      expect(await claimed(d.shutdown(conn, 'both'))).toMatch(/claims `shutdown` with the feature shutdown-read/);
      // shutdown of the write side needs no feature: the command's claim alone.
      expect(await claimed(d.shutdown(conn, 'write'))).toBe('the test driver claims `shutdown` in hello but answered ENOTSUP');
      // Where the features are not claimed, the same calls are unsupported, not failures.
      await unsupported(d.recvfrom(sock, { dataSize: 5, flags: ['MSG_PEEK'] }));
      await unsupported(d.recvfrom(sock, { dataSize: 5, flags: ['MSG_DONTWAIT'] }));
      await unsupported(d.sendto(sock, { abstract: text('x') }, text('a'), { flags: ['MSG_DONTWAIT'] }));
      await unsupported(d.shutdown(sock, 'read'));
      await unsupported(d.shutdown(sock, 'both'));
    }, 'in-process');
  });

  it('judges listen, bind, connect and sendto by their socket type and address kind', async () => {
    const refusing: DriverAdapter = { hello: socketsAdapter().hello };
    await withDriver(inProcess(refusing), async (d) => {
      expect(await claimed(d.listen('/p'))).toBe('the test driver claims `listen` with stream sockets at pathname addresses in hello but answered ENOTSUP');
      await unsupported(d.listen({ abstract: text('a') })); // stream × abstract: not claimed
      await unsupported(d.listen('/p', { type: 'dgram' })); // dgram × pathname: not claimed
      expect(await claimed(d.listen({ abstract: text('a') }, { type: 'dgram' }))).toMatch(/claims `listen` with dgram sockets at abstract addresses/);
      expect(await claimed(d.bind(undefined, { type: 'dgram' }))).toBe('the test driver claims `bind` with dgram sockets at abstract addresses with the feature autobind (dgram × abstract) in hello but answered ENOTSUP');
      await unsupported(d.bind(undefined)); // stream × abstract: not claimed
      await unsupported(d.connect({ abstract: text('a') }));
      expect(await claimed(d.connect('/p'))).toMatch(/claims `connect` with stream sockets at pathname addresses/);
      // sendto on a socket the client does not know: judged by the destination's address kind alone.
      expect(await claimed(d.sendto('S9', { abstract: text('a') }, text('x')))).toMatch(/claims `sendto` with sockets at abstract addresses/);
    }, 'in-process');
  });
});

describe('addresses, both ways', () => {
  const inProcess = (adapter: DriverAdapter): DriverSpec => ({ inProcess: () => adapter });

  it('sends an abstract name as base64 of the exact bytes, and an adapter gets them as bytes', async () => {
    const log: Array<Record<string, unknown>> = [];
    await withDriver(inProcess(socketsAdapter(log)), async (d) => {
      await d.listen({ abstract: Buffer.from('\0a\0\0') }, { type: 'dgram' });
      await d.bind(undefined, { type: 'dgram' });
      await d.connect({ path: '/p' }, { sock: 'B2' });
      expect(d.transcript().filter((l) => l.startsWith('> ')).slice(1, 4)).toEqual([
        '> {"id":2,"cmd":"listen","abstract":"AGEAAA==","type":"dgram"}',
        '> {"id":3,"cmd":"bind","type":"dgram"}',
        '> {"id":4,"cmd":"connect","path":"/p","sock":"B2"}',
      ]);
    }, 'in-process');
    expect(log).toEqual([{ listen: { abstract: new Uint8Array([0, 0x61, 0, 0]), type: 'dgram' } }, { bind: { type: 'dgram' } }, { connect: { path: '/p', sock: 'B2' } }]);
  });

  it('decodes what the kernel reported: unnamed, a path up to its NUL, an abstract name with its NULs', async () => {
    await withDriver(inProcess(socketsAdapter()), async (d) => {
      expect(await d.getpeername('unnamed')).toEqual({ length: 2, bytes: Buffer.alloc(0), kind: 'unnamed', name: Buffer.alloc(0) });
      expect(await d.getpeername('path')).toEqual({ length: 9, bytes: Buffer.from('/tmp/x\0'), kind: 'pathname', name: Buffer.from('/tmp/x') });
      expect(await d.getpeername('abstract')).toEqual({ length: 7, bytes: Buffer.from('\0a\0b\0'), kind: 'abstract', name: Buffer.from('a\0b\0') });
    }, 'in-process');
  });

  it('carries recvfrom’s sender and every control message, nested bytes as base64 on the wire and Buffers back', async () => {
    await withDriver(inProcess(socketsAdapter()), async (d) => {
      const r = await d.recvfrom('B1', { dataSize: 100, credentials: true, controlFds: 1 });
      expect(r).toEqual({
        data: text('datagram'),
        fds: ['R1'],
        flags: [],
        length: 8,
        control: [
          { type: 'SCM_CREDENTIALS', pid: 12, uid: 34, gid: 56 },
          { type: 'SCM_RIGHTS', fds: ['R1'] },
          { type: 'other', level: 1, cmsgType: 99, bytes: Buffer.from([0, 255, 7]) },
        ],
        from: { length: 5, bytes: Buffer.from([0, 0x71, 0]), kind: 'abstract', name: Buffer.from([0x71, 0]) },
      });
      expect(d.transcript().at(-1)).toContain('"bytes":"AP8H"');
      expect((await d.recvfrom('B1', { dataSize: 4 })).from).toBeNull();
    }, 'in-process');
  });
});

describe('dispatch of the uds-driver/2 fields', () => {
  it('refuses an address that is both or neither, a bad option and malformed credentials, with EINVAL from "driver"', async () => {
    const { answers } = await serveLines(socketsAdapter(), [
      '{"id":1,"cmd":"listen","path":"/p","abstract":"YQ=="}',
      '{"id":2,"cmd":"connect","type":"stream"}',
      '{"id":3,"cmd":"sendto","sock":"B1","data":""}',
      '{"id":4,"cmd":"bind","path":"/p","abstract":""}',
      '{"id":5,"cmd":"setsockopt","name":"B1","option":"SO_LINGER","value":1}',
      '{"id":6,"cmd":"send","conn":"C1","credentials":{"pid":1,"uid":"root","gid":0}}',
      '{"id":7,"cmd":"send","conn":"C1","credentials":[1,2,3]}',
      '{"id":8,"cmd":"listen","abstract":"a*"}',
      '{"id":9,"cmd":"bind"}',
      '{"id":10,"cmd":"bind","abstract":""}',
    ]);
    const parsed = answers.map(parseAnswer);
    expect(outcomeRows(parsed)).toEqual([
      [1, false, 'EINVAL', 'driver'],
      [2, false, 'EINVAL', 'driver'],
      [3, false, 'EINVAL', 'driver'],
      [4, false, 'EINVAL', 'driver'],
      [5, false, 'EINVAL', 'driver'],
      [6, false, 'EINVAL', 'driver'],
      [7, false, 'EINVAL', 'driver'],
      [8, false, 'EINVAL', 'driver'],
      [9, true, undefined, undefined],
      [10, true, undefined, undefined],
    ]);
    expect(parsed[0]!.error!.message).toBe('listen: fields "path" and "abstract" are both given: an address is one of them');
    expect(parsed[1]!.error!.message).toMatch(/connect: field "path" is missing/);
    expect(parsed[4]!.error!.message).toBe('setsockopt: field "option": "SO_LINGER" is not one of SO_PASSCRED, SO_SNDBUF, SO_RCVBUF');
    expect(parsed[5]!.error!.message).toBe('send: field "credentials.uid": not an integer');
  });

  it('takes a send of 12 MiB as base64 (a regex of repeated quanta overflowed the stack there), and refuses misplaced padding', async () => {
    let got = -1;
    const adapter: DriverAdapter = { ...socketsAdapter(), send: async ({ data }) => ((got = data.length), { sent: data.length }) };
    const big = Buffer.alloc(12 * 1024 * 1024, 0x61).toString('base64');
    const ok = await dispatchCommand(adapter, { id: 1, cmd: 'send', conn: 'C1', data: big });
    expect([ok, got]).toEqual([{ answer: { id: 1, ok: true, sent: 12 * 1024 * 1024 }, quit: undefined }, 12 * 1024 * 1024]);
    for (const data of ['YQ=', 'Y===', 'YQ==YQ==', 'Y*Q=']) {
      const { answer: bad } = (await dispatchCommand(adapter, { id: 2, cmd: 'send', conn: 'C1', data })) as { answer: { ok: boolean; error?: { code: string } } };
      expect([data, bad.ok, bad.error?.code]).toEqual([data, false, 'EINVAL']);
    }
  });
});

describe("the plan, on each side's per-socket claims", () => {
  const impl = (name: string): Implementation => ({ name, kind: 'driver', description: name, driver: { command: { command: ['true'] } }, expectations: {} });
  const property = (needs: Property['needs'], socketTypes: SocketType[] = ['dgram'], addresses: AddressKind[] = ['abstract']): Property =>
    ({ id: 'x.y', level: 'MUST', category: 'x', scope: 'pairing', requirement: 'r', reference: 'unix(7)', via: 'driver', socketTypes, addresses, needs, arbitrary: fc.constant(0), check: async () => undefined }) as Property;
  const reasons = (p: Property, server: Capabilities, client: Capabilities): Array<string | undefined> =>
    planUnits({ implementations: [impl('a'), impl('b')], properties: [p], servers: ['a'], clients: ['b'] }, new Map([['a', { capabilities: server }], ['b', { capabilities: client }]])).map((u) => u.unsupported);

  it('needs the unit’s socket type × address kind on both sides, and its features there', () => {
    expect(reasons(property({ features: ['autobind', 'getsockname'] }), V2_CAPS, V2_CAPS)).toEqual([undefined]);
    // dgram and abstract are each claimed, but not together.
    const apart: Capabilities = { ...V2_CAPS, sockets: [{ type: 'stream', address: 'abstract', features: [] }, { type: 'dgram', address: 'pathname', features: ['autobind'] }] };
    expect(reasons(property({}), V2_CAPS, apart)).toEqual(["client b's driver has no dgram sockets at abstract addresses (its hello answer)"]);
    expect(reasons(property({ features: ['passcred', 'peercred', 'sndbuf'] }), V2_CAPS, V2_CAPS)).toEqual([
      "server a's driver lacks sndbuf and lacks peercred on dgram sockets at abstract addresses (its hello answer); client b's driver lacks sndbuf and lacks peercred on dgram sockets at abstract addresses (its hello answer)",
    ]);
    // fds claimed only at stream × pathname: not enough for a dgram × abstract unit.
    expect(reasons(property({ fds: true }), V2_CAPS, V2_CAPS)[0]).toMatch(/^server a's driver lacks fds on dgram sockets at abstract addresses/);
    const noFds: Capabilities = { ...V2_CAPS, fds: false, sockets: V2_CAPS.sockets!.map((s) => ({ ...s, features: s.features.filter((f) => f !== 'fds') })) };
    expect(reasons(property({ fds: true }, ['stream'], ['pathname']), V2_CAPS, noFds)).toEqual(["client b's driver does not pass fds (its hello answer)"]);
  });

  it('needs the extra socket types at the unit’s address kind, and reads a v1 hello as types × addresses with fds', () => {
    expect(reasons(property({ types: ['stream'] }, ['dgram'], ['abstract']), V2_CAPS, V2_CAPS)).toEqual([
      "server a's driver has no stream sockets at abstract addresses (needed besides dgram) (its hello answer); client b's driver has no stream sockets at abstract addresses (needed besides dgram) (its hello answer)",
    ]);
    expect(reasons(property({ types: ['dgram'] }, ['stream'], ['pathname']), V2_CAPS, V2_CAPS)[0]).toMatch(/has no dgram sockets at pathname addresses \(needed besides stream\)/);
    const v1: Capabilities = { types: ['stream', 'seqpacket'], addresses: ['pathname'], fds: true, credentials: false, commands: ['hello'] };
    expect(reasons(property({ fds: true, types: ['stream'] }, ['seqpacket'], ['pathname']), v1, v1)).toEqual([undefined]);
    expect(reasons(property({ features: ['peercred'] }, ['seqpacket'], ['pathname']), v1, v1)[0]).toBe("server a's driver lacks peercred (its hello answer); client b's driver lacks peercred (its hello answer)");
    expect(reasons(property({}, ['dgram'], ['pathname']), v1, v1)[0]).toBe("server a's driver has no dgram sockets (its hello answer); client b's driver has no dgram sockets (its hello answer)");
  });

  it('asks each transport a driver has, and gives a unit the preferred one whose hello covers it', () => {
    // An adapter in the harness's process may rightly claim less than the same driver as a process
    // (ts-native: no setrlimit in-process): the unit that needs it runs the process.
    const both = (name: string): Implementation => ({ ...impl(name), driver: { command: { command: ['true'] }, inProcess: () => ({}) as never } });
    const adapter: Capabilities = { ...V2_CAPS, commands: V2_CAPS.commands.filter((c) => c !== 'setrlimit') };
    const own: Capabilities = { ...V2_CAPS, commands: [...new Set([...V2_CAPS.commands, 'setrlimit'])] };
    const answer = { capabilities: adapter, byTransport: { 'in-process': adapter, process: own } };
    const plan = (needs: Property['needs']) =>
      planUnits({ implementations: [both('a'), both('b')], properties: [property(needs, ['stream'], ['pathname'])], servers: ['a'], clients: ['b'] }, new Map([['a', answer], ['b', answer]]))[0]!;
    expect(plan({}).transport).toEqual({ server: 'in-process', client: 'in-process' });
    expect(plan({ commands: ['setrlimit'] }).transport).toEqual({ server: 'process', client: 'process' });
    const neither = { capabilities: adapter, byTransport: { 'in-process': adapter, process: adapter } };
    expect(planUnits({ implementations: [both('a'), both('b')], properties: [property({ commands: ['setrlimit'] }, ['stream'], ['pathname'])], servers: ['a'], clients: ['b'] }, new Map([['a', neither], ['b', answer]]))[0]!.unsupported).toBe(
      "server a's driver lacks setrlimit (its hello answer, in-process and as a process)",
    );
  });
});

// ---- issue 14: connect's nonblock and setrlimit (docs/driver-protocol.md, Sockets) ----

/** Resolves once the process pid sleeps in a stream read (its wchan), or once `settled` has settled; rejects after deadlineMs. */
async function untilReading(pid: number, settled: Promise<unknown>, deadlineMs = 5_000): Promise<void> {
  let done = false;
  void settled.then(
    () => (done = true),
    () => (done = true),
  );
  const end = Date.now() + deadlineMs;
  // The kernel's own word that the read blocks: the answer has no other outward sign.
  while (!done && !readFileSync(`/proc/${pid}/wchan`, 'utf8').includes('unix_stream_read')) {
    if (Date.now() > end) throw new Error(`process ${pid} never blocked in a stream read`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe.each(DRIVERS)("the $name driver's nonblock connect and setrlimit", ({ spec }) => {
  it('connects past a backlog of 0 once, then answers EAGAIN at once; a connected socket blocks again', async () => {
    await withHost(async (host) => {
      const server = await startDriver(host, spec, { transport: 'process', label: 'server' });
      const client = await startDriver(host, spec, { transport: 'process', label: 'client' });
      const sock = await server.listen('s', { backlog: 0 });
      // Linux queues backlog + 1 connections: listen(0) takes one.
      const conn = await client.connect('s', { nonblock: true });
      await expectErrno(client.connect('s', { nonblock: true }), 'EAGAIN', 'connect');
      // An existing socket (from bind) is refused the same way, and keeps its name.
      const bound = await client.bind(undefined);
      await expectErrno(client.connect('s', { sock: bound, nonblock: true }), 'EAGAIN', 'connect');
      // O_NONBLOCK was for the connect only: a recv with nothing queued waits for the data, where a
      // socket left non-blocking would answer EAGAIN before the server sent anything.
      const { pid } = await client.whoami();
      const received = client.recv(conn, { dataSize: 4 });
      await untilReading(pid!, received);
      const accepted = await server.accept(sock);
      await server.send(accepted, text('late'));
      expect((await received).data).toEqual(text('late'));
      await server.quit();
      await client.quit();
    });
  });

  it('limits its own RLIMIT_NOFILE: more fds than fit arrive cut, with MSG_CTRUNC; soft above hard is EINVAL', async () => {
    await withHost(async (host) => {
      const server = await startDriver(host, spec, { transport: 'process', label: 'server' });
      const client = await startDriver(host, spec, { transport: 'process', label: 'client' });
      expect(server.capabilities.commands).toContain('setrlimit');
      const sock = await server.listen('s');
      const conn = await client.connect('s');
      const accepted = await server.accept(sock);
      const fds: string[] = [];
      for (let i = 0; i < 8; i++) fds.push((await client.mkfd({ kind: 'pipe', index: i })).fd);
      await expectErrno(server.setrlimit('RLIMIT_NOFILE', 2 ** 40), 'EINVAL', 'setrlimit');
      // Room for exactly `free` new fds: the holes below the limit and two above the highest open fd.
      const open = (await server.fds()).map((o) => o.fd);
      const soft = Math.max(...open) + 3;
      const free = soft - open.filter((fd) => fd < soft).length;
      expect(free).toBeLessThan(8);
      expect(await server.setrlimit('RLIMIT_NOFILE', soft)).toBeGreaterThan(soft);
      await client.send(conn, text('abc'), { fds });
      const r = await server.recv(accepted, { dataSize: 10, controlFds: 8 });
      expect(r.data).toEqual(text('abc'));
      expect(r.flags).toContain('MSG_CTRUNC');
      expect(r.fds).toHaveLength(free);
      // The answer is the limit before: the one just set.
      expect(await server.setrlimit('RLIMIT_NOFILE', soft + 10)).toBe(soft);
      await server.quit();
      await client.quit();
    });
  });
});

describe("the client, on connect's nonblock and setrlimit", () => {
  const inProcess = (adapter: DriverAdapter): DriverSpec => ({ inProcess: () => adapter });
  const V2_WITH_SETRLIMIT: Capabilities = { ...V2_CAPS, commands: [...V2_CAPS.commands, 'setrlimit'] };
  const limiting = (log: Array<Record<string, unknown>>, answer: { previous?: unknown } = { previous: 1024 }): DriverAdapter => ({
    ...socketsAdapter(log),
    async hello() {
      return { implementation: 'limits', capabilities: V2_WITH_SETRLIMIT };
    },
    async setrlimit(f) {
      log.push({ setrlimit: f });
      return answer as { previous: number };
    },
  });

  it('sends nonblock only when asked, and setrlimit as resource and soft; previous is the answer', async () => {
    const log: Array<Record<string, unknown>> = [];
    await withDriver(inProcess(limiting(log)), async (d) => {
      await d.connect('/p', { nonblock: true });
      await d.connect('/p');
      expect(await d.setrlimit('RLIMIT_NOFILE', 64)).toBe(1024);
      expect(d.transcript().filter((l) => l.startsWith('> ')).slice(1)).toEqual([
        '> {"id":2,"cmd":"connect","path":"/p","nonblock":true}',
        '> {"id":3,"cmd":"connect","path":"/p"}',
        '> {"id":4,"cmd":"setrlimit","resource":"RLIMIT_NOFILE","soft":64}',
      ]);
    }, 'in-process');
    expect(log).toEqual([{ connect: { path: '/p', nonblock: true } }, { connect: { path: '/p' } }, { setrlimit: { resource: 'RLIMIT_NOFILE', soft: 64 } }]);
  });

  it('reports a setrlimit answer without an integer previous as a lie', async () => {
    for (const answer of [{}, { previous: '1024' }, { previous: 1.5 }, { previous: -2 }]) {
      await withDriver(inProcess(limiting([], answer)), async (d) => {
          const err = await rejection(d.setrlimit('RLIMIT_NOFILE', 64));
        expect(err).toBeInstanceOf(CheckFailure);
        expect((err as CheckFailure).message).toMatch(/lied.*the setrlimit answer does not fit docs\/driver-answers.schema.json#\/definitions\/setrlimit/);
      }, 'in-process');
    }
  });

  it('judges ENOTSUP for setrlimit by commands, and for nonblock by connect alone', async () => {
    const refusing = (caps: Capabilities): DriverAdapter => ({ async hello() { return { implementation: 'refuses', capabilities: caps }; } });
    await withDriver(inProcess(refusing(V2_WITH_SETRLIMIT)), async (d) => {
      const err = await rejection(d.setrlimit('RLIMIT_NOFILE', 64));
      expect(err).toBeInstanceOf(CheckFailure);
      expect((err as CheckFailure).message).toBe('the test driver claims `setrlimit` in hello but answered ENOTSUP');
      expect(await rejection(d.connect('/p', { nonblock: true }))).toBeInstanceOf(CheckFailure);
    }, 'in-process');
    await withDriver(inProcess(refusing(V2_CAPS)), async (d) => {
      expect(await rejection(d.setrlimit('RLIMIT_NOFILE', 64))).toBeInstanceOf(Unsupported);
    }, 'in-process');
  });

  it('dispatch refuses a bad resource, a missing or negative soft and a nonblock that is not a boolean, with EINVAL from "driver"', async () => {
    const { answers } = await serveLines(limiting([]), [
      '{"id":1,"cmd":"setrlimit","resource":"RLIMIT_STACK","soft":1}',
      '{"id":2,"cmd":"setrlimit","resource":"RLIMIT_NOFILE"}',
      '{"id":3,"cmd":"setrlimit","resource":"RLIMIT_NOFILE","soft":-1}',
      '{"id":4,"cmd":"connect","path":"/p","nonblock":"yes"}',
      '{"id":5,"cmd":"setrlimit","resource":"RLIMIT_NOFILE","soft":8}',
      '{"id":6,"cmd":"connect","path":"/p","nonblock":false}',
    ]);
    const parsed = answers.map(parseAnswer);
    expect(outcomeRows(parsed)).toEqual([
      [1, false, 'EINVAL', 'driver'],
      [2, false, 'EINVAL', 'driver'],
      [3, false, 'EINVAL', 'driver'],
      [4, false, 'EINVAL', 'driver'],
      [5, true, undefined, undefined],
      [6, true, undefined, undefined],
    ]);
    expect(parsed[0]!.error!.message).toBe('setrlimit: field "resource": "RLIMIT_STACK" is not one of RLIMIT_NOFILE');
    expect(parsed[3]!.error!.message).toBe('connect: field "nonblock": not a boolean');
  });
});

// ---- issue 14: the sequence features, claimed where the driver does them ----

describe.each(DRIVERS)("the $name driver's msg-peek, msg-dontwait and shutdown-read", ({ spec }) => {
  it('are claimed at every socket type × address kind, and work as claimed', async () => {
    await withDriver(spec, async (d) => {
      const caps = (await d.hello()).capabilities;
      for (const s of caps.sockets!) expect(s.features, `${s.type} × ${s.address}`).toEqual(expect.arrayContaining(['msg-peek', 'msg-dontwait', 'shutdown-read']));
      const sock = await d.listen('s');
      const client = await d.connect('s');
      const server = await d.accept(sock);
      const eagain = await rejection(d.recv(client, { dataSize: 10, flags: ['MSG_DONTWAIT'] }));
      expect(eagain).toMatchObject({ code: 'EAGAIN' });
      expect(await d.send(server, text('peek'), { flags: ['MSG_DONTWAIT'] })).toBe(4);
      expect((await d.recv(client, { dataSize: 10, flags: ['MSG_PEEK'] })).data.toString()).toBe('peek');
      expect((await d.recv(client, { dataSize: 10, flags: ['MSG_PEEK', 'MSG_DONTWAIT'] })).data.toString()).toBe('peek');
      expect((await d.recv(client, { dataSize: 10 })).data.toString()).toBe('peek');
      await d.shutdown(client, 'read');
      // The peer's send after SHUT_RD: EPIPE (the kernel sets the sender's SEND_SHUTDOWN).
      expect(await rejection(d.send(server, text('x'), { flags: ['MSG_NOSIGNAL'] }))).toMatchObject({ code: 'EPIPE' });
      await d.shutdown(server, 'both');
    });
  });
});

// ---- issue 17: reset, and the pool that reuses process drivers between cases ----

describe('reset and driver reuse (issue 17)', () => {
  const spec = REFERENCE_DRIVER;

  it("c-reference's driver lists reset; reset closes every name, puts RLIMIT_NOFILE back and moves its cwd", async () => {
    await withHost(async (host) => {
      const server = await startDriver(host, spec, { transport: 'process', label: 'server' });
      const client = await startDriver(host, spec, { transport: 'process', label: 'client' });
      expect(server.capabilities.commands).toContain('reset');
      const before = await server.fds();
      const sock = await server.listen('s');
      const conn = await client.connect('s');
      const accepted = await server.accept(sock);
      const pipe = await server.mkfd({ kind: 'pipe' });
      const start = await server.setrlimit('RLIMIT_NOFILE', Math.max(...(await server.fds()).map((o) => o.fd)) + 2);
      const elsewhere = mkdtempSync(join(os.tmpdir(), `udsc-${process.pid}-`));
      try {
        await server.reset({ dir: elsewhere });
        // Nothing of before is left: the same fd table as after hello, the names gone, the limit back.
        expect(await server.fds()).toEqual(before);
        for (const name of [sock, accepted, pipe.fd]) await expectErrno(server.close(name), 'EBADF', 'close');
        expect(await server.setrlimit('RLIMIT_NOFILE', start)).toBe(start);
        // The client's end sees the close: EOF.
        expect((await client.recv(conn, { dataSize: 4 })).data).toHaveLength(0);
        // The cwd moved: a relative listen lands in `elsewhere`; names keep counting, never reused.
        const again = await server.listen('t');
        expect([sock, accepted, pipe.fd]).not.toContain(again);
        expect(readdirSync(elsewhere)).toEqual(['t']);
        await expectErrno(server.reset({ dir: join(elsewhere, 'missing') }), 'ENOENT', 'chdir');
      } finally {
        await server.quit();
        await client.quit();
        rmSync(elsewhere, { recursive: true, force: true });
      }
    });
  });

  it('a scope reuses a passed case\'s driver for the next, never a killed or failed one, and quits them at its end', async () => {
    const fresh = (): Promise<Driver> => Promise.reject(new Error('a driver with reset is pooled, not started by the case'));
    const pids: number[] = [];
    const seen: Array<{ fds: number[]; limit: number }> = [];
    await withDriverReuse(async () => {
      for (const outcome of ['pass', 'pass', 'kill', 'pass', 'fail', 'pass'] as const) {
        await withHost(async (host) => {
          const lease = await leaseDriver(spec, 'oracle server', host, fresh);
          pids.push((await lease.driver.whoami()).pid!);
          // What a case leaves (a listener, a pipe, a limit) is gone for the next one.
          seen.push({ fds: (await lease.driver.fds()).map((o) => o.fd), limit: await lease.driver.setrlimit('RLIMIT_NOFILE', 64) });
          const sock = await lease.driver.listen(join(host.dir, 's'));
          await lease.driver.mkfd({ kind: 'pipe' });
          if (outcome === 'kill') {
            lease.driver.kill();
            await lease.driver.exited;
          }
          await lease.release(outcome !== 'fail');
          if (outcome === 'pass') await expectErrno(lease.driver.close(sock), 'EBADF', 'close');
        });
      }
    });
    // Reused after a pass; a new process after the kill and after the failure.
    expect(pids[1]).toBe(pids[0]);
    expect(pids[2]).toBe(pids[0]);
    expect(pids[3]).not.toBe(pids[2]);
    expect(pids[4]).toBe(pids[3]);
    expect(pids[5]).not.toBe(pids[4]);
    for (const s of seen) expect(s).toEqual(seen[0]);
    expect(seen[0]!.limit).toBeGreaterThan(64);
    expect(liveProcessCount()).toBe(0);
  });

  it('outside a scope, or for a driver without reset, a lease is the case\'s own start', async () => {
    await withHost(async (host) => {
      const own = await startDriver(host, spec, { transport: 'process', label: 'own' });
      const lease = await leaseDriver(spec, 'oracle server', host, async () => own);
      expect(lease.driver).toBe(own);
      await lease.release(true);
    });
    await withDriverReuse(async () => {
      await withHost(async (host) => {
        const noReset = { command: { command: ['python3', join(PY_DIR, 'driver.py')] } };
        const own = await startDriver(host, noReset, { transport: 'process', label: 'own' });
        expect(own.capabilities.commands).not.toContain('reset');
        const lease = await leaseDriver(noReset, 'oracle server', host, async () => own);
        expect(lease.driver).toBe(own);
        await lease.release(true);
      });
    });
    expect(liveProcessCount()).toBe(0);
  });
});
