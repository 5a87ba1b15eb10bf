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
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { DriverError, type Driver } from '../suite/driver/driver.js';
import type { Capabilities, DriverAdapter, Transport } from '../suite/driver/protocol.js';
import { serveAdapter } from '../suite/driver/serve.js';
import { askCapabilities, startDriver, type DriverHost } from '../suite/driver/start.js';
import { C_BIN, PROJECT_ROOT } from '../suite/harness/paths.js';
import { liveProcessCount } from '../suite/harness/process.js';
import { CheckFailure, Unsupported, type DriverSpec } from '../suite/model/types.js';
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
      expect((await d.hello()).protocol).toBe('uds-driver/1');
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
    await withDriver(spec, async (d, host) => {
      const listing = await d.fds();
      expect(listing.map((o) => o.fd)).toEqual([...listing.map((o) => o.fd)].sort((a, b) => a - b));
      const f = await d.mkfd({ kind: 'memfd', index: 7, dir: host.dir });
      expect((await d.fds()).filter((o) => o.dev === f.dev && o.ino === f.ino)).toHaveLength(1);
      await d.close(f.fd);
      expect((await d.fds()).some((o) => o.dev === f.dev && o.ino === f.ino)).toBe(false);
      expect(await d.open(join(PY_DIR, 'manifest.json'))).toEqual({ error: null });
      expect(await d.open(join(host.dir, 'missing'))).toEqual({ error: 'ENOENT' });
      expect(await d.whoami()).toEqual({ uid: process.getuid!(), gid: process.getgid!() });
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
      expect((claimed as CheckFailure).message).toBe('the server fake driver claims `listen` with socket type seqpacket in hello but answered ENOTSUP');
      const plain = await rejection(d.listen('s'));
      expect((plain as CheckFailure).message).toBe('the server fake driver claims `listen` with socket type stream in hello but answered ENOTSUP');
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
        const s = net.connect(path);
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
      expect(await d.hello()).toEqual({ protocol: 'uds-driver/1', implementation: 'fake loopback', capabilities: FAKE_CAPABILITIES });
      expect(await d.listen('s')).toBe('L:s');
      expect(await d.send('C1', text('abcdef'))).toBe(6);
      expect(await d.recv('C1', { dataSize: 4 })).toEqual({ data: text('abcd'), fds: [], flags: [] });
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

describe('serveAdapter', () => {
  it('answers each command line in order and resolves with the quit status', async () => {
    const adapter = fakeAdapter();
    const { answers, status } = await serveLines(adapter, ['{"id":1,"cmd":"hello"}', '{"id":2,"cmd":"send","conn":"C1","data":"aGk="}', '{"id":3,"cmd":"recv","conn":"C1","dataSize":9}', '{"id":4,"cmd":"quit","status":7}', '{"id":5,"cmd":"whoami"}'], false);
    expect(status).toBe(7);
    expect(adapter.quits).toEqual([7]);
    expect(answers.map((a) => JSON.parse(a) as unknown)).toEqual([
      { id: 1, ok: true, protocol: 'uds-driver/1', implementation: 'fake loopback', capabilities: FAKE_CAPABILITIES },
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
    expect(hello).toMatchObject({ protocol: 'uds-driver/1', implementation: 'c-reference' });
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
