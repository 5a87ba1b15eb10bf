/**
 * ts-native's and ts-net's drivers (fixtures/ts-native/driver.ts, fixtures/ts-net/driver.ts) as
 * in-process adapters, called directly: a server adapter and a client adapter in this one process,
 * which only works if neither blocks the event loop. Then both served over stdio by serveAdapter
 * (suite/driver/serve.ts, with PassThrough streams), and ts-native's seed-protocol roles.
 *
 * In-process, both adapters share this process's fd table: the server's own copies of what it sent
 * show up in the client's `fds` listing, so a leak is an identity seen more often than the server's
 * one copy, not an identity seen at all.
 *
 * Longer than the usual 400 lines on purpose: it is the one home of both adapters' tests, which share
 * the pairing helpers (connected, recvAll, failure) and the interop cases between them and c-reference.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { activePolls } from '../native/index.js';
import { runClient } from '../fixtures/ts-native/client.js';
import { createTsNativeAdapter } from '../fixtures/ts-native/driver.js';
import { tsNative } from '../fixtures/ts-native/index.js';
import { runServer } from '../fixtures/ts-native/server.js';
import { createTsNetAdapter } from '../fixtures/ts-net/driver.js';
import { tsNet } from '../fixtures/ts-net/index.js';
import { dispatchCommand } from '../suite/driver/dispatch.js';
import type { DriverAdapter, RecvAnswer, RecvFields } from '../suite/driver/protocol.js';
import { serveAdapter } from '../suite/driver/serve.js';
import { startDriver } from '../suite/driver/start.js';
import { C_BIN, distPath } from '../suite/harness/paths.js';
import { waitListening } from '../suite/harness/readiness.js';
import { fdContent, FD_KINDS } from '../suite/properties/fd/reports.js';

let dir = '';
let adapters: DriverAdapter[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(os.tmpdir(), 'ts-native-'));
});
afterEach(async () => {
  for (const a of adapters) await a.quit?.({ status: 0 });
  adapters = [];
  rmSync(dir, { recursive: true, force: true });
  expect(activePolls()).toBe(0);
});

/** A fresh adapter, quit after the test. */
function fresh(make: () => DriverAdapter): Required<DriverAdapter> {
  const a = make();
  adapters.push(a);
  return a as Required<DriverAdapter>;
}
const native = (): Required<DriverAdapter> => fresh(createTsNativeAdapter);
const tsnet = (): Required<DriverAdapter> => fresh(createTsNetAdapter);

/** The rejection of a command, as {code, errno, syscall}. */
async function failure(p: Promise<unknown>): Promise<{ code: string; errno: number; syscall: string; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code: string; errno: number; syscall: string; message: string };
    return { code: e.code, errno: e.errno, syscall: e.syscall, message: e.message };
  }
  throw new Error('the command did not fail');
}

/** listen on the server adapter, then accept and connect at once: [server conn, client conn]. */
async function connected(server: Required<DriverAdapter>, client: Required<DriverAdapter>, type?: 'stream' | 'seqpacket'): Promise<[string, string]> {
  const path = join(dir, 'sock');
  const { sock } = await server.listen({ path, type });
  const [a, c] = await Promise.all([server.accept({ sock }), client.connect({ path, type })]);
  return [a.conn, c.conn];
}

/** recv until "" (EOF): every answer, and the bytes together. */
async function recvAll(a: Required<DriverAdapter>, fields: RecvFields): Promise<{ reads: RecvAnswer[]; bytes: Buffer }> {
  const reads: RecvAnswer[] = [];
  for (;;) {
    const r = await a.recv(fields);
    reads.push(r);
    if (r.data.length === 0) return { reads, bytes: Buffer.concat(reads.map((x) => x.data)) };
  }
}

const identity = (x: { dev: number | null; ino: number | null }): string => `${x.dev}:${x.ino}`;

describe('ts-native driver adapter', () => {
  it('hello (uds-driver/2): every type at both address kinds, every feature (peercred: connections; autobind: abstract)', async () => {
    const hello = await native().hello();
    expect(hello.implementation).toBe('ts-native');
    expect(hello.protocol).toBeUndefined(); // dispatch answers it
    const all = ['fds', 'peercred', 'passcred', 'sendcred', 'getsockname', 'sndbuf', 'msg-trunc', 'msg-peek', 'msg-dontwait', 'shutdown-read', 'msg-waitall'];
    const at = (type: string, address: string): { type: string; address: string; features: string[] } => {
      let features = type === 'dgram' ? all.filter((f) => f !== 'peercred') : all;
      const after = features.indexOf('getsockname') + 1; // SOCKET_FEATURES' order
      if (address === 'abstract') features = [...features.slice(0, after), 'autobind', ...features.slice(after)];
      return { type, address, features };
    };
    expect(hello.capabilities).toEqual({
      types: ['stream', 'seqpacket', 'dgram'],
      addresses: ['pathname', 'abstract'],
      fds: true,
      credentials: true,
      commands: ['hello', 'listen', 'accept', 'connect', 'send', 'recv', 'shutdown', 'close', 'mkfd', 'stat', 'read', 'fds', 'open', 'whoami', 'quit',
        'bind', 'sendto', 'recvfrom', 'getsockname', 'getpeername', 'setsockopt', 'getsockopt', 'peercred'],
      sockets: ['stream', 'seqpacket', 'dgram'].flatMap((type) => [at(type, 'pathname'), at(type, 'abstract')]),
    });
  });

  it('every kind of fd: identity, shared offsets, MSG_CMSG_CLOEXEC, contents, EISDIR', async () => {
    const server = native();
    const client = native();
    const made = [];
    for (const [index, kind] of FD_KINDS.entries()) made.push(await server.mkfd({ kind, index, dir, skip: 2, cloexec: false }));
    for (const m of made) expect((await server.stat({ fd: m.fd })).cloexec).toBe(false);
    const [sconn, cconn] = await connected(server, client);
    const payload = Buffer.from('hello world payload\n');
    expect(await server.send({ conn: sconn, data: payload.subarray(0, 3) })).toEqual({ sent: 3 });
    expect(await server.send({ conn: sconn, data: payload.subarray(3, 5), fds: made.map((m) => m.fd) })).toEqual({ sent: 2 });
    expect(await server.send({ conn: sconn, data: payload.subarray(5) })).toEqual({ sent: payload.length - 5 });
    await server.shutdown({ conn: sconn, how: 'write' });

    const { reads, bytes } = await recvAll(client, { conn: cconn, dataSize: 65536, controlFds: 253, cloexec: true });
    expect(bytes).toEqual(payload);
    const carrying = reads.filter((r) => r.fds.length > 0);
    expect(carrying).toHaveLength(1);
    expect(carrying[0]!.flags).toEqual([]);
    const got = carrying[0]!.fds;
    expect(got).toHaveLength(5);

    const stats = [];
    const through = [];
    for (const fd of got) {
      stats.push(await client.stat({ fd }));
      through.push(await client.read({ fd, n: 9 }));
    }
    expect(stats.map(identity)).toEqual(made.map(identity));
    expect(stats.map((s) => s.kind)).toEqual(['file', 'pipe', 'socket', 'file', 'dir']);
    expect(stats.map((s) => s.accmode)).toEqual(['O_RDWR', 'O_RDONLY', 'O_RDWR', 'O_RDWR', 'O_RDONLY']);
    expect(stats.map((s) => s.offset)).toEqual([2, null, null, 2, 0]);
    expect(stats.map((s) => s.cloexec)).toEqual([true, true, true, true, true]);
    const expected = FD_KINDS.map((k, i) => (k === 'dir' ? '' : fdContent(i, k).subarray(k === 'file' || k === 'memfd' ? 2 : 0, (k === 'file' || k === 'memfd' ? 2 : 0) + 9).toString()));
    expect(through.map((t) => Buffer.from(t.data).toString())).toEqual(expected);
    expect(through.map((t) => t.error)).toEqual([null, null, null, null, 'EISDIR']);
    // The sender's copies are still its own: the offset they share moved with the client's read.
    expect((await server.stat({ fd: made[0]!.fd })).offset).toBe(11);
    expect((await server.stat({ fd: made[3]!.fd })).offset).toBe(11);
    const { open } = await client.fds();
    for (const s of stats) expect(open.filter((o) => identity(o) === identity(s)).length).toBeGreaterThanOrEqual(2);

    // The client's close is the EOF the server waits for.
    await client.close({ name: cconn });
    const rest = await recvAll(server, { conn: sconn, dataSize: 4096, plain: true });
    expect(rest.bytes.length).toBe(0);
  });

  it('controlFds 2 of 4: MSG_CTRUNC, two delivered, the other two closed by the kernel', async () => {
    const server = native();
    const client = native();
    const made = [];
    for (let index = 0; index < 4; index++) made.push(await server.mkfd({ kind: 'memfd', index }));
    const [sconn, cconn] = await connected(server, client);
    await server.send({ conn: sconn, data: Buffer.from('Server Message\n'), fds: made.map((m) => m.fd) });
    await server.shutdown({ conn: sconn, how: 'write' });
    const { reads, bytes } = await recvAll(client, { conn: cconn, dataSize: 65536, controlFds: 2 });
    expect(bytes.toString()).toBe('Server Message\n');
    expect(reads[0]).toMatchObject({ flags: ['MSG_CTRUNC'] });
    expect(reads[0]!.fds).toHaveLength(2);
    const { open } = await client.fds();
    const copies = made.map((m) => open.filter((o) => identity(o) === identity(m)).length);
    // The server's own copy of each, plus the client's of the two delivered: none of the others.
    expect(copies).toEqual([2, 2, 1, 1]);
  });

  it('the control buffer is exactly CMSG_LEN: controlFds 1 takes 1 fd of 2, controlFds 0 none', async () => {
    const server = native();
    const client = native();
    const a = await server.mkfd({ kind: 'pipe' });
    const b = await server.mkfd({ kind: 'pipe', index: 1 });
    const [sconn, cconn] = await connected(server, client);
    await server.send({ conn: sconn, data: Buffer.from('x'), fds: [a.fd, b.fd] });
    await server.send({ conn: sconn, data: Buffer.from('y'), fds: [a.fd] });
    const one = await client.recv({ conn: cconn, dataSize: 1, controlFds: 1 });
    expect([one.fds.length, one.flags]).toEqual([1, ['MSG_CTRUNC']]);
    const none = await client.recv({ conn: cconn, dataSize: 1 });
    expect([Buffer.from(none.data).toString(), none.fds, none.flags]).toEqual(['y', [], ['MSG_CTRUNC']]);
  });

  it('plain: read(2) gets the bytes, and the kernel discards the fds', async () => {
    const server = native();
    const client = native();
    const made = [await server.mkfd({ kind: 'file', dir, cloexec: true }), await server.mkfd({ kind: 'pipe', index: 1 })];
    const [sconn, cconn] = await connected(server, client);
    await server.send({ conn: sconn, data: Buffer.from('ab'), fds: made.map((m) => m.fd) });
    await server.shutdown({ conn: sconn, how: 'write' });
    const { reads, bytes } = await recvAll(client, { conn: cconn, dataSize: 65536, controlFds: 253, plain: true });
    expect(bytes.toString()).toBe('ab');
    expect(reads.every((r) => r.fds.length === 0 && r.flags.length === 0)).toBe(true);
    const { open } = await client.fds();
    expect(made.map((m) => open.filter((o) => identity(o) === identity(m)).length)).toEqual([1, 1]);
  });

  it('cloexec: set exactly when asked on mkfd; received fds have it only with MSG_CMSG_CLOEXEC', async () => {
    const server = native();
    const client = native();
    const on = await server.mkfd({ kind: 'memfd', cloexec: true });
    const off = await server.mkfd({ kind: 'memfd', index: 1, cloexec: false });
    expect([(await server.stat({ fd: on.fd })).cloexec, (await server.stat({ fd: off.fd })).cloexec]).toEqual([true, false]);
    const [sconn, cconn] = await connected(server, client);
    await server.send({ conn: sconn, data: Buffer.from('1'), fds: [on.fd] });
    await server.send({ conn: sconn, data: Buffer.from('2'), fds: [off.fd] });
    const first = await client.recv({ conn: cconn, dataSize: 1, controlFds: 1 });
    const second = await client.recv({ conn: cconn, dataSize: 1, controlFds: 1, cloexec: true });
    expect((await client.stat({ fd: first.fds[0]! })).cloexec).toBe(false);
    expect((await client.stat({ fd: second.fds[0]! })).cloexec).toBe(true);
  });

  it('254 fds: sendmsg EINVAL and nothing arrives; 253 arrive in order', async () => {
    const server = native();
    const client = native();
    const made = [];
    for (let index = 0; index < 254; index++) made.push(await server.mkfd({ kind: 'memfd', index }));
    const [sconn, cconn] = await connected(server, client);
    expect(await failure(server.send({ conn: sconn, data: Buffer.from('x'), fds: made.map((m) => m.fd) }))).toMatchObject({ code: 'EINVAL', errno: 22, syscall: 'sendmsg', message: 'Invalid argument' });
    await server.send({ conn: sconn, data: Buffer.from('y'), fds: made.slice(1).map((m) => m.fd) });
    const r = await client.recv({ conn: cconn, dataSize: 10, controlFds: 253 });
    expect(Buffer.from(r.data).toString()).toBe('y');
    const ids = [];
    for (const fd of r.fds) ids.push(identity(await client.stat({ fd })));
    expect(ids).toEqual(made.slice(1).map(identity));
  });

  it('mkfd: file:PATH read-only, skip past the end is EINVAL from read, an unknown kind EINVAL from driver', async () => {
    const a = native();
    writeFileSync(join(dir, 'existing'), 'abcdef');
    const f = await a.mkfd({ kind: `file:${join(dir, 'existing')}`, skip: 4 });
    expect(await a.stat({ fd: f.fd })).toMatchObject({ kind: 'file', accmode: 'O_RDONLY', offset: 4, cloexec: false });
    expect(Buffer.from((await a.read({ fd: f.fd, n: 100 })).data).toString()).toBe('ef');
    expect(await failure(a.mkfd({ kind: 'memfd', skip: 100 }))).toMatchObject({ code: 'EINVAL', syscall: 'read' });
    expect(await failure(a.mkfd({ kind: 'bogus' }))).toMatchObject({ code: 'EINVAL', errno: 22, syscall: 'driver' });
    expect(await failure(a.mkfd({ kind: 'file', dir: join(dir, 'absent') }))).toMatchObject({ code: 'ENOENT', syscall: 'open' });
    // The file is unlinked at once: nothing is left in dir but what the test made.
    await a.mkfd({ kind: 'file', dir });
    const socket = await a.mkfd({ kind: 'socket', index: 7 });
    expect(Buffer.from((await a.read({ fd: socket.fd, n: 1000 })).data).toString()).toBe(fdContent(7, 'socket').toString());
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir)).toEqual(['existing']);
  });

  it('EBADF for unknown and closed names, from the call the command would make; names are never reused', async () => {
    const server = native();
    const client = native();
    const [sconn, cconn] = await connected(server, client);
    const made = await server.mkfd({ kind: 'pipe' });
    await server.close({ name: made.fd });
    const gone = made.fd;
    expect(await failure(server.send({ conn: 'nope', data: Buffer.from('x') }))).toMatchObject({ code: 'EBADF', errno: 9, syscall: 'sendmsg' });
    expect(await failure(server.send({ conn: sconn, data: Buffer.from('x'), fds: [gone] }))).toMatchObject({ code: 'EBADF', syscall: 'sendmsg' });
    expect(await failure(server.recv({ conn: gone, dataSize: 1 }))).toMatchObject({ code: 'EBADF', syscall: 'recvmsg' });
    expect(await failure(server.accept({ sock: gone }))).toMatchObject({ code: 'EBADF', syscall: 'accept' });
    expect(await failure(server.stat({ fd: gone }))).toMatchObject({ code: 'EBADF', syscall: 'fstat' });
    expect(await failure(server.read({ fd: gone, n: 1 }))).toMatchObject({ code: 'EBADF', syscall: 'read' });
    expect(await failure(server.shutdown({ conn: gone, how: 'write' }))).toMatchObject({ code: 'EBADF', syscall: 'shutdown' });
    expect(await failure(server.close({ name: gone }))).toMatchObject({ code: 'EBADF', syscall: 'close' });
    const again = await server.mkfd({ kind: 'pipe' });
    expect([again.fd, sconn, cconn]).not.toContain(gone);
  });

  it('ENAMETOOLONG for a path that does not fit sun_path, never truncated; 107 bytes work', async () => {
    const server = native();
    const client = native();
    const fit = join(dir, 'x'.repeat(107 - dir.length - 1));
    expect(Buffer.byteLength(fit)).toBe(107);
    expect(await failure(server.listen({ path: `${fit}y` }))).toMatchObject({ code: 'ENAMETOOLONG', errno: 36, syscall: 'bind' });
    expect(await failure(client.connect({ path: `${fit}y` }))).toMatchObject({ code: 'ENAMETOOLONG', syscall: 'connect' });
    expect(existsSync(fit.slice(0, -1))).toBe(false);
    const { sock } = await server.listen({ path: fit });
    await Promise.all([server.accept({ sock }), client.connect({ path: fit })]);
    expect(await failure(server.listen({ path: fit }))).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
    expect(await failure(client.connect({ path: join(dir, 'absent') }))).toMatchObject({ code: 'ENOENT', syscall: 'connect' });
  });

  it('seqpacket: message boundaries, MSG_TRUNC, fds; listen on dgram is the kernel\'s EOPNOTSUPP', async () => {
    const server = native();
    const client = native();
    const [sconn, cconn] = await connected(server, client, 'seqpacket');
    const m = await server.mkfd({ kind: 'memfd' });
    await server.send({ conn: sconn, data: Buffer.from('first message'), fds: [m.fd] });
    await server.send({ conn: sconn, data: Buffer.from('second') });
    const one = await client.recv({ conn: cconn, dataSize: 5, controlFds: 1 });
    expect([Buffer.from(one.data).toString(), one.fds.length, one.flags]).toEqual(['first', 1, ['MSG_TRUNC']]);
    expect(identity(await client.stat({ fd: one.fds[0]! }))).toBe(identity(m));
    const two = await client.recv({ conn: cconn, dataSize: 100 });
    expect([Buffer.from(two.data).toString(), two.flags]).toEqual(['second', []]);
    await server.close({ name: sconn });
    expect((await client.recv({ conn: cconn, dataSize: 100 })).data.length).toBe(0);
    expect(await failure(server.listen({ path: join(dir, 'd'), type: 'dgram' }))).toMatchObject({ code: 'EOPNOTSUPP', errno: 95, syscall: 'listen' });
    // The bind before the refused listen made the file: a dgram connect finds nobody bound there.
    expect(await failure(client.connect({ path: join(dir, 'd'), type: 'dgram' }))).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect' });
    expect(await failure(client.connect({ path: join(dir, 'd'), type: 'raw' as 'dgram' }))).toMatchObject({ code: 'ENOTSUP', syscall: 'driver' });
  });

  it('recv flags: MSG_DONTWAIT is EAGAIN when empty, MSG_PEEK leaves the bytes, MSG_WAITALL waits for all', async () => {
    const server = native();
    const client = native();
    const [sconn, cconn] = await connected(server, client);
    expect(await failure(client.recv({ conn: cconn, dataSize: 10, flags: ['MSG_DONTWAIT'] }))).toMatchObject({ code: 'EAGAIN', syscall: 'recvmsg' });
    expect(await failure(client.recv({ conn: cconn, dataSize: 10, flags: ['MSG_BOGUS'] }))).toMatchObject({ code: 'EINVAL', syscall: 'driver' });
    const all = client.recv({ conn: cconn, dataSize: 6, flags: ['MSG_WAITALL'] });
    for (const part of ['ab', 'cd', 'ef']) {
      await new Promise((r) => setTimeout(r, 20));
      await server.send({ conn: sconn, data: Buffer.from(part), flags: ['MSG_NOSIGNAL'] });
    }
    expect(Buffer.from((await all).data).toString()).toBe('abcdef');
    await server.send({ conn: sconn, data: Buffer.from('xyz'), flags: ['MSG_MORE'] });
    await server.send({ conn: sconn, data: Buffer.from('!') });
    const peek = await client.recv({ conn: cconn, dataSize: 2, flags: ['MSG_PEEK'] });
    expect(Buffer.from(peek.data).toString()).toBe('xy');
    expect(Buffer.from((await client.recv({ conn: cconn, dataSize: 4, flags: ['MSG_WAITALL'] })).data).toString()).toBe('xyz!');
  });

  it('EPIPE when the peer is gone (never SIGPIPE); a large send goes out whole while the peer reads', async () => {
    const server = native();
    const client = native();
    const [sconn, cconn] = await connected(server, client);
    const big = Buffer.alloc(4 << 20, 7);
    const sent = server.send({ conn: sconn, data: big });
    let got = 0;
    while (got < big.length) got += (await client.recv({ conn: cconn, dataSize: 65536 })).data.length;
    expect(await sent).toEqual({ sent: big.length });
    await client.close({ name: cconn });
    expect(await failure(server.send({ conn: sconn, data: Buffer.from('x') }))).toMatchObject({ code: 'EPIPE', syscall: 'sendmsg' });
  });

  it('open, whoami; quit cancels a pending accept and closes everything', async () => {
    const a = native();
    await a.open({ path: dir });
    expect(await failure(a.open({ path: join(dir, 'absent') }))).toMatchObject({ code: 'ENOENT', syscall: 'open' });
    expect(await a.whoami()).toEqual({ uid: process.getuid!(), gid: process.getgid!(), pid: process.pid });
    const { sock } = await a.listen({ path: join(dir, 's') });
    const pending = failure(a.accept({ sock }));
    await new Promise((r) => setTimeout(r, 10));
    await a.quit({ status: 0 });
    expect(await pending).toMatchObject({ code: 'ECANCELED', syscall: 'accept' });
  });
});

describe('ts-net driver adapter', () => {
  it('hello: stream at pathnames and abstract names, MSG_PEEK and MSG_DONTWAIT only, the commands node:net can do', async () => {
    expect((await tsnet().hello()).capabilities).toEqual({
      types: ['stream'],
      addresses: ['pathname', 'abstract'],
      fds: false,
      credentials: false,
      commands: ['hello', 'listen', 'accept', 'connect', 'send', 'recv', 'shutdown', 'close', 'quit'],
      sockets: [
        { type: 'stream', address: 'pathname', features: ['msg-peek', 'msg-dontwait'] },
        { type: 'stream', address: 'abstract', features: ['msg-peek', 'msg-dontwait'] },
      ],
    });
  });

  it('bytes round trip both ways, half-close: EOF one way while the other still flows', async () => {
    const server = tsnet();
    const client = tsnet();
    const [sconn, cconn] = await connected(server, client);
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const sending = server.send({ conn: sconn, data: payload });
    const sizes: number[] = [];
    const chunks: Buffer[] = [];
    let got = 0;
    while (got < payload.length) {
      const r = await client.recv({ conn: cconn, dataSize: 4096, controlFds: 253, cloexec: true });
      expect(r.fds).toEqual([]);
      sizes.push(r.data.length);
      chunks.push(Buffer.from(r.data));
      got += r.data.length;
    }
    expect(await sending).toEqual({ sent: payload.length });
    expect(Buffer.concat(chunks).equals(payload)).toBe(true);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4096);
    await server.shutdown({ conn: sconn, how: 'write' });
    expect((await client.recv({ conn: cconn, dataSize: 10 })).data.length).toBe(0);
    expect((await client.recv({ conn: cconn, dataSize: 10 })).data.length).toBe(0);
    // The other direction still works after the server's shutdown(SHUT_WR).
    expect(await client.send({ conn: cconn, data: Buffer.from('back'), flags: ['MSG_NOSIGNAL'] })).toEqual({ sent: 4 });
    expect(await client.send({ conn: cconn, data: new Uint8Array(0) })).toEqual({ sent: 0 });
    await client.close({ name: cconn });
    const { bytes } = await recvAll(server, { conn: sconn, dataSize: 100 });
    expect(bytes.toString()).toBe('back');
  });

  it('ENOTSUP from the driver for fds, flags, other socket types, shutdown read, missing commands', async () => {
    const server = tsnet();
    const client = tsnet();
    const [sconn, cconn] = await connected(server, client);
    const refused = { code: 'ENOTSUP', errno: 95, syscall: 'driver' };
    expect(await failure(server.send({ conn: sconn, data: Buffer.from('x'), fds: ['F1'] }))).toMatchObject(refused);
    expect(await failure(server.send({ conn: sconn, data: Buffer.from('x'), flags: ['MSG_OOB'] }))).toMatchObject(refused);
    expect(await failure(server.send({ conn: sconn, data: Buffer.from('x'), flags: ['MSG_BOGUS'] }))).toMatchObject({ code: 'EINVAL', syscall: 'driver' });
    expect(await failure(client.recv({ conn: cconn, dataSize: 1, flags: ['MSG_WAITALL'] }))).toMatchObject(refused);
    expect(await failure(client.recv({ conn: cconn, dataSize: 1, flags: ['MSG_PEEK', 'MSG_WAITALL'] }))).toMatchObject(refused);
    expect(await failure(server.shutdown({ conn: sconn, how: 'read' }))).toMatchObject(refused);
    expect(await failure(server.listen({ path: join(dir, 'q'), type: 'seqpacket' }))).toMatchObject(refused);
    expect(await failure(client.connect({ path: join(dir, 'q'), type: 'dgram' }))).toMatchObject(refused);
    const a = createTsNetAdapter();
    adapters.push(a);
    for (const cmd of ['mkfd', 'stat', 'read', 'fds', 'open', 'whoami']) {
      const r = await dispatchCommand(a, { id: 1, cmd, kind: 'memfd', fd: 'F1', n: 1, path: dir });
      expect(r).toMatchObject({ answer: { id: 1, ok: false, error: refused } });
    }
  });

  it('errors: EBADF for unknown names, ENAMETOOLONG, ENOENT and EADDRINUSE with positive errnos', async () => {
    const server = tsnet();
    const client = tsnet();
    expect(await failure(server.send({ conn: 'C9', data: Buffer.from('x') }))).toMatchObject({ code: 'EBADF', errno: 9, syscall: 'sendmsg' });
    expect(await failure(server.recv({ conn: 'C9', dataSize: 1 }))).toMatchObject({ code: 'EBADF', syscall: 'recvmsg' });
    expect(await failure(server.accept({ sock: 'L9' }))).toMatchObject({ code: 'EBADF', syscall: 'accept' });
    expect(await failure(server.close({ name: 'L9' }))).toMatchObject({ code: 'EBADF', syscall: 'close' });
    const long = join(dir, 'x'.repeat(108 - dir.length - 1));
    expect(await failure(server.listen({ path: long }))).toMatchObject({ code: 'ENAMETOOLONG', errno: 36, syscall: 'bind' });
    expect(await failure(client.connect({ path: long }))).toMatchObject({ code: 'ENAMETOOLONG', syscall: 'connect' });
    expect(await failure(client.connect({ path: join(dir, 'absent') }))).toMatchObject({ code: 'ENOENT', errno: 2, syscall: 'connect', message: 'No such file or directory' });
    await server.listen({ path: join(dir, 'used') });
    expect(await failure(server.listen({ path: join(dir, 'used') }))).toMatchObject({ code: 'EADDRINUSE', errno: 98, syscall: 'bind' });
  });

  it('accept waits for a client; quit cancels a pending accept', async () => {
    const server = tsnet();
    const client = tsnet();
    const { sock } = await server.listen({ path: join(dir, 's') });
    const accepted = server.accept({ sock });
    await new Promise((r) => setTimeout(r, 20));
    const { conn } = await client.connect({ path: join(dir, 's') });
    expect((await accepted).conn).toMatch(/^C\d+$/);
    expect(conn).toMatch(/^C\d+$/);
    const pending = failure(server.accept({ sock }));
    await server.quit({ status: 0 });
    expect(await pending).toMatchObject({ code: 'ECANCELED', syscall: 'accept' });
  });
});

describe('ts-native and ts-net drivers together', () => {
  it('ts-native server, ts-net client: bytes arrive, the fds sent with them are discarded (read(2))', async () => {
    const server = native();
    const client = tsnet();
    const m = await server.mkfd({ kind: 'memfd' });
    const [sconn, cconn] = await connected(server, client);
    await server.send({ conn: sconn, data: Buffer.from('hi '), fds: [m.fd] });
    await server.send({ conn: sconn, data: Buffer.from('there') });
    await server.shutdown({ conn: sconn, how: 'write' });
    const { reads, bytes } = await recvAll(client, { conn: cconn, dataSize: 100, controlFds: 253 });
    expect(bytes.toString()).toBe('hi there');
    expect(reads.every((r) => r.fds.length === 0)).toBe(true);
    const { open } = await server.fds();
    expect(open.filter((o) => identity(o) === identity(m))).toHaveLength(1);
  });

  it('ts-net server, ts-native client: bytes and EOF', async () => {
    const server = tsnet();
    const client = native();
    const [sconn, cconn] = await connected(server, client);
    await server.send({ conn: sconn, data: Buffer.from('Server Message\n') });
    await server.close({ name: sconn });
    const { bytes, reads } = await recvAll(client, { conn: cconn, dataSize: 4, controlFds: 4 });
    expect(bytes.toString()).toBe('Server Message\n');
    expect(reads.map((r) => r.data.length)).toEqual([4, 4, 4, 3, 0]);
  });
});

const C_DRIVER = join(C_BIN, 'reference-driver');

/** c-reference's driver as a process: send a command, get its answer (commands may be pipelined). */
function cDriver(): { send: (command: object) => Promise<Record<string, unknown>>; done: Promise<Run> } {
  const child = spawn(C_DRIVER, [], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting: Array<(line: string) => void> = [];
  let buffered = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      waiting.shift()?.(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout: Buffer.alloc(0), stderr })));
  return {
    send: (command) => {
      const answer = new Promise<string>((r) => waiting.push(r));
      child.stdin.write(`${JSON.stringify(command)}\n`);
      return answer.then((line) => JSON.parse(line) as Record<string, unknown>);
    },
    done,
  };
}

describe.skipIf(!existsSync(C_DRIVER))('ts-native adapter with c-reference\'s driver (a process)', () => {
  it('C server sends a file fd to the ts-native client: same object, shared offset', async () => {
    const c = cDriver();
    const client = native();
    const path = join(dir, 'sock');
    const made = await c.send({ id: 1, cmd: 'mkfd', kind: 'file', dir, skip: 3 });
    expect(await c.send({ id: 2, cmd: 'listen', path })).toMatchObject({ ok: true, sock: 'L2' });
    const accepted = c.send({ id: 3, cmd: 'accept', sock: 'L2' });
    const { conn } = await client.connect({ path });
    expect(await accepted).toMatchObject({ ok: true, conn: 'C3' });
    expect(await c.send({ id: 4, cmd: 'send', conn: 'C3', data: Buffer.from('hi!').toString('base64'), fds: [made.fd] })).toMatchObject({ ok: true, sent: 3 });
    const r = await client.recv({ conn, dataSize: 100, controlFds: 253, cloexec: true });
    expect([Buffer.from(r.data).toString(), r.fds.length]).toEqual(['hi!', 1]);
    expect(await client.stat({ fd: r.fds[0]! })).toMatchObject({ kind: 'file', dev: made.dev, ino: made.ino, offset: 3, cloexec: true, accmode: 'O_RDWR' });
    expect(Buffer.from((await client.read({ fd: r.fds[0]!, n: 6 })).data).toString()).toBe('0-file');
    expect(await c.send({ id: 5, cmd: 'stat', fd: made.fd })).toMatchObject({ ok: true, offset: 9 });
    await c.send({ id: 6, cmd: 'quit' });
    expect((await c.done).code).toBe(0);
    expect((await client.recv({ conn, dataSize: 100 })).data.length).toBe(0);
  });

  it('ts-native server sends a pipe and a memfd to the C client, with MSG_CTRUNC at controlFds 1', async () => {
    const c = cDriver();
    const server = native();
    const path = join(dir, 'sock');
    const pipe = await server.mkfd({ kind: 'pipe' });
    const memfd = await server.mkfd({ kind: 'memfd', index: 1 });
    const { sock } = await server.listen({ path });
    const [{ conn }, connected] = await Promise.all([server.accept({ sock }), c.send({ id: 1, cmd: 'connect', path })]);
    expect(connected).toMatchObject({ ok: true, conn: 'C1' });
    await server.send({ conn, data: Buffer.from('ab'), fds: [pipe.fd, memfd.fd] });
    const r = await c.send({ id: 2, cmd: 'recv', conn: 'C1', dataSize: 10, controlFds: 1 });
    expect(r).toMatchObject({ ok: true, data: Buffer.from('ab').toString('base64'), flags: ['MSG_CTRUNC'] });
    const fds = r.fds as string[];
    expect(fds).toHaveLength(1);
    expect(await c.send({ id: 3, cmd: 'stat', fd: fds[0] })).toMatchObject({ ok: true, kind: 'pipe', dev: pipe.dev, ino: pipe.ino, cloexec: false });
    expect(await c.send({ id: 4, cmd: 'read', fd: fds[0], n: 1000 })).toMatchObject({ data: fdContent(0, 'pipe').toString('base64'), error: null });
    await c.send({ id: 5, cmd: 'quit' });
    expect((await c.done).code).toBe(0);
    expect((await server.recv({ conn, dataSize: 10, plain: true })).data.length).toBe(0);
  });
});

/** Commands in, answers out, through serveAdapter over PassThrough streams. */
function served(adapter: DriverAdapter): { send: (command: object) => Promise<Record<string, unknown>>; status: Promise<number>; end: () => void } {
  const input = new PassThrough();
  const output = new PassThrough();
  const status = serveAdapter(adapter, input, output);
  let buffered = '';
  const waiting: Array<(line: string) => void> = [];
  const lines: string[] = [];
  output.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const w = waiting.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  const next = (): Promise<string> => (lines.length ? Promise.resolve(lines.shift()!) : new Promise((r) => waiting.push(r)));
  return {
    send: async (command) => {
      input.write(`${JSON.stringify(command)}\n`);
      return JSON.parse(await next()) as Record<string, unknown>;
    },
    status,
    end: () => input.end(),
  };
}

describe('the adapters served over stdio (serveAdapter)', () => {
  it('ts-native: hello, mkfd, stat, base64 bytes across a served and a direct adapter, quit status', async () => {
    const s = served(createTsNativeAdapter());
    const client = native();
    expect(await s.send({ id: 1, cmd: 'hello' })).toMatchObject({ id: 1, ok: true, protocol: 'uds-driver/2', implementation: 'ts-native', capabilities: { fds: true } });
    const made = await s.send({ id: 2, cmd: 'mkfd', kind: 'memfd', index: 3, skip: 1 });
    expect(made).toMatchObject({ id: 2, ok: true, fd: 'F1' });
    expect(await s.send({ id: 3, cmd: 'stat', fd: 'F1' })).toMatchObject({ ok: true, kind: 'file', offset: 1, cloexec: false, dev: made.dev, ino: made.ino });
    expect(await s.send({ id: 4, cmd: 'read', fd: 'F1', n: 4 })).toEqual({ id: 4, ok: true, data: Buffer.from('d-3-').toString('base64'), error: null });
    const path = join(dir, 'sock');
    expect(await s.send({ id: 5, cmd: 'listen', path })).toEqual({ id: 5, ok: true, sock: 'L2' });
    const [accepted, c] = await Promise.all([s.send({ id: 6, cmd: 'accept', sock: 'L2' }), client.connect({ path })]);
    expect(accepted).toEqual({ id: 6, ok: true, conn: 'C3' });
    expect(await s.send({ id: 7, cmd: 'send', conn: 'C3', data: Buffer.from('hi!').toString('base64'), fds: ['F1'] })).toEqual({ id: 7, ok: true, sent: 3 });
    const r = await client.recv({ conn: c.conn, dataSize: 10, controlFds: 1 });
    expect([Buffer.from(r.data).toString(), r.fds.length]).toEqual(['hi!', 1]);
    expect(await s.send({ id: 8, cmd: 'send', conn: 'C99', data: '' })).toEqual({ id: 8, ok: false, error: { code: 'EBADF', errno: 9, syscall: 'sendmsg', message: 'Bad file descriptor' } });
    expect(await s.send({ id: 9, cmd: 'bogus' })).toMatchObject({ id: 9, ok: false, error: { code: 'ENOTSUP', syscall: 'driver' } });
    expect(await s.send({ id: 10, cmd: 'quit', status: 3 })).toEqual({ id: 10, ok: true });
    expect(await s.status).toBe(3);
    // quit closed the served side: the client sees EOF.
    expect((await client.recv({ conn: c.conn, dataSize: 10 })).data.length).toBe(0);
  });

  it('ts-net: hello and refusals, end of input is quit 0', async () => {
    const s = served(createTsNetAdapter());
    expect(await s.send({ id: 1, cmd: 'hello' })).toMatchObject({ ok: true, implementation: 'ts-net', capabilities: { fds: false, types: ['stream'] } });
    expect(await s.send({ id: 2, cmd: 'mkfd', kind: 'memfd' })).toMatchObject({ ok: false, error: { code: 'ENOTSUP', syscall: 'driver' } });
    expect(await s.send({ id: 3, cmd: 'connect', path: join(dir, 'absent') })).toMatchObject({ ok: false, error: { code: 'ENOENT', errno: 2, syscall: 'connect' } });
    s.end();
    expect(await s.status).toBe(0);
  });
});

describe('registry entries', () => {
  it('ts-native and ts-net declare their seed roles and both driver transports', () => {
    expect(tsNative.driver?.command?.command).toEqual([process.execPath, distPath('fixtures/ts-native/driver-main.js')]);
    expect(tsNative.driver?.inProcess).toBe(createTsNativeAdapter);
    expect(tsNet.driver?.command?.command).toEqual([process.execPath, distPath('fixtures/ts-net/driver-main.js')]);
    expect(tsNet.driver?.inProcess).toBe(createTsNetAdapter);
    expect([tsNative.server?.payload, tsNet.server?.payload]).toEqual([true, true]);
  });
});

// ---- the seed protocol ----

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function start(command: string[], cwd: string, stdin?: string): { pid: number; done: Promise<Run> } {
  const child = spawn(command[0]!, command.slice(1), { cwd, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (stdin !== undefined) child.stdin!.end(stdin);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
  });
  return { pid: child.pid!, done };
}

const CLI = distPath('fixtures/ts-native/cli.js');
const DRIVER_MAIN = distPath('fixtures/ts-native/driver-main.js');

describe('ts-native as processes (dist/, built by `npx tsc -p tsconfig.build.json`)', () => {
  it.skipIf(!existsSync(CLI))('the seed protocol: the payload arrives whole, the path is removed', async () => {
    const payload = Buffer.alloc(300_000, 0);
    payload.write('binary\0safe');
    writeFileSync(join(dir, 'payload'), payload);
    const path = join(dir, 'sock');
    const srv = start([process.execPath, CLI, 'server', path, join(dir, 'payload')], dir);
    const ready = await waitListening({ path, cwd: dir, pid: srv.pid, exited: srv.done, signal: AbortSignal.timeout(20_000) });
    if (!ready.ready) throw new Error(`server not listening: ${ready.detail}; ${(await srv.done).stderr}`);
    const cli = start([process.execPath, CLI, 'client', path], dir);
    const [server, client] = await Promise.all([srv.done, cli.done]);
    expect([server.code, client.code, client.stderr]).toEqual([0, 0, '']);
    expect(client.stdout.equals(payload)).toBe(true);
    expect(existsSync(path)).toBe(false);
  });

  it.skipIf(!existsSync(DRIVER_MAIN))('driver-main.js speaks uds-driver/2 on stdio', async () => {
    const lines = [{ id: 1, cmd: 'hello' }, { id: 2, cmd: 'mkfd', kind: 'pipe' }, { id: 3, cmd: 'fds' }, { id: 4, cmd: 'quit', status: 5 }];
    const run = await start([process.execPath, DRIVER_MAIN], dir, lines.map((l) => `${JSON.stringify(l)}\n`).join('')).done;
    expect([run.code, run.stderr]).toEqual([5, '']);
    const answers = run.stdout.toString().trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(answers.map((a) => [a.id, a.ok])).toEqual([[1, true], [2, true], [3, true], [4, true]]);
    expect(answers[0]).toMatchObject({ protocol: 'uds-driver/2', implementation: 'ts-native', capabilities: { credentials: true } });
    const open = answers[2]!.open as Array<{ fd: number; dev: number; ino: number }>;
    expect(open).toContainEqual(expect.objectContaining({ dev: answers[1]!.dev, ino: answers[1]!.ino }));
  });

  it.skipIf(!existsSync(DRIVER_MAIN))('usage: extra arguments are refused (the fd-mode options are gone)', async () => {
    const bad = await start([process.execPath, CLI, 'client', join(dir, 's'), '--fds'], dir).done;
    expect([bad.code, bad.stderr]).toEqual([1, 'unexpected argument "--fds": Invalid argument\n']);
  });
});

describe('ts-native seed roles in-process', () => {
  it('fixed message, and a path over 107 bytes refused by both roles', async () => {
    const path = join(dir, 's');
    const stderr: string[] = [];
    const chunks: Uint8Array[] = [];
    const signal = new AbortController().signal;
    let listening!: () => void;
    const isListening = new Promise<void>((resolve) => (listening = resolve));
    const served = runServer({ path, signal, onListening: () => listening(), stderr: (t) => stderr.push(t) });
    await isListening;
    const code = await runClient({ path, signal, stdout: (c) => chunks.push(c), stderr: (t) => stderr.push(t) });
    expect([await served, code, stderr]).toEqual([0, 0, []]);
    expect(Buffer.concat(chunks).toString()).toBe('Server Message\n');
    const long = join(dir, 'x'.repeat(110));
    const refused = await runClient({ path: long, signal, stdout: () => undefined, stderr: (t) => stderr.push(t) });
    expect(refused).toBe(1);
    expect(stderr[0]).toMatch(/^socket path: File name too long/);
  });

  it('an abort ends a server that waits for a client', async () => {
    const ac = new AbortController();
    const stderr: string[] = [];
    const served = runServer({ path: join(dir, 's'), signal: ac.signal, onListening: () => ac.abort(), stderr: (t) => stderr.push(t) });
    expect(await served).toBe(1);
    expect(stderr).toEqual(['accept: Operation canceled\n']);
    expect(existsSync(join(dir, 's'))).toBe(false);
  });
});

// uds-driver/2 through dispatchCommand, as a process driver's JSON lines would run it: base64 on the
// wire both ways, addresses as {path} | {abstract}, the kernel's exact answers.
describe('ts-native uds-driver/2 commands (dispatchCommand)', () => {
  const b64 = (x: string | Uint8Array): string => Buffer.from(x).toString('base64');
  const unique = (): string => `tsn-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;
  let nextId = 1;
  /** One command through dispatch: the answer line's object (a crash is thrown). */
  async function run(a: DriverAdapter, command: Record<string, unknown>): Promise<Record<string, unknown>> {
    const d = await dispatchCommand(a, { id: nextId++, ...command });
    if ('crash' in d) throw d.crash;
    return d.answer;
  }
  /** An ok answer's fields without id and ok; a failed one throws its error. */
  async function ok(a: DriverAdapter, command: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { id: _id, ok: good, ...rest } = await run(a, command);
    if (good !== true) throw Object.assign(new Error(JSON.stringify(rest.error)), rest.error as object);
    return rest;
  }
  const error = async (a: DriverAdapter, command: Record<string, unknown>): Promise<unknown> => (await run(a, command)).error;

  it('abstract names: listen, connect, accept; getsockname/getpeername give NUL + name, length 3 + n; no file appears', async () => {
    for (const type of ['stream', 'seqpacket'] as const) {
      const server = native();
      const client = native();
      const name = Buffer.from(unique());
      const { sock } = await ok(server, { cmd: 'listen', abstract: b64(name), type });
      const [accepted, connected] = await Promise.all([ok(server, { cmd: 'accept', sock }), ok(client, { cmd: 'connect', abstract: b64(name), type })]);
      const exact = { length: 2 + 1 + name.length, bytes: b64(Buffer.concat([Buffer.of(0), name])) };
      expect(await ok(server, { cmd: 'getsockname', name: sock })).toEqual(exact);
      expect(await ok(client, { cmd: 'getpeername', name: connected.conn })).toEqual(exact);
      expect(await ok(server, { cmd: 'getsockname', name: accepted.conn })).toEqual(exact); // accept inherits the listener's name
      expect(await ok(client, { cmd: 'getsockname', name: connected.conn })).toEqual({ length: 2, bytes: '' }); // unnamed
      await ok(server, { cmd: 'send', conn: accepted.conn, data: b64('ping') });
      expect(await ok(client, { cmd: 'recv', conn: connected.conn, dataSize: 10 })).toEqual({ data: b64('ping'), fds: [], flags: [], length: 4, control: [] });
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('the length is part of the name: a trailing NUL makes another name; close frees it; 108 bytes is ENAMETOOLONG from bind', async () => {
    const server = native();
    const name = Buffer.from(unique());
    const { sock } = await ok(server, { cmd: 'listen', abstract: b64(name) });
    const padded = await ok(server, { cmd: 'listen', abstract: b64(Buffer.concat([name, Buffer.of(0)])) });
    expect(await ok(server, { cmd: 'getsockname', name: padded.sock })).toMatchObject({ length: 2 + 1 + name.length + 1 });
    expect(await error(server, { cmd: 'listen', abstract: b64(name) })).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
    await ok(server, { cmd: 'close', name: sock });
    await ok(server, { cmd: 'listen', abstract: b64(name) });
    expect(await error(server, { cmd: 'bind', abstract: b64('a'.repeat(108)) })).toMatchObject({ code: 'ENAMETOOLONG', syscall: 'bind' });
    expect(await ok(server, { cmd: 'bind', abstract: b64('a'.repeat(107)), type: 'dgram' })).toMatchObject({ sock: expect.any(String) });
    expect(await error(server, { cmd: 'connect', path: join(dir, 'x'), abstract: b64('x') })).toMatchObject({ code: 'EINVAL', syscall: 'driver' });
    // The adapter checks as much when called directly (an in-process driver gets no dispatch).
    expect(await failure(server.bind({ path: join(dir, 'x'), abstract: Buffer.from('x') }))).toMatchObject({ code: 'EINVAL', syscall: 'driver' });
    expect(await failure(server.connect({}))).toMatchObject({ code: 'EINVAL', syscall: 'driver' });
  });

  it('bind without an address autobinds every type: NUL + 5 lowercase hex digits, length 8', async () => {
    const a = native();
    const seen = new Set<string>();
    for (const type of ['stream', 'seqpacket', 'dgram'] as const) {
      const { sock } = await ok(a, { cmd: 'bind', type });
      const got = await ok(a, { cmd: 'getsockname', name: sock });
      const bytes = Buffer.from(got.bytes as string, 'base64');
      expect([got.length, bytes[0], bytes.subarray(1).toString()]).toEqual([8, 0, expect.stringMatching(/^[0-9a-f]{5}$/)]);
      seen.add(bytes.toString('hex'));
    }
    expect(seen.size).toBe(3);
  });

  it('dgram: sendto and recvfrom give the sender\'s exact address; connect with sock connects that socket; a waiting recvfrom does not block the loop', async () => {
    const receiver = native();
    const sender = native();
    const rname = Buffer.from(unique());
    const { sock: r } = await ok(receiver, { cmd: 'bind', abstract: b64(rname), type: 'dgram' });
    const { sock: s } = await ok(sender, { cmd: 'bind', path: join(dir, 'sender'), type: 'dgram' });
    expect(await error(receiver, { cmd: 'recvfrom', conn: r, dataSize: 10, flags: ['MSG_DONTWAIT'] })).toMatchObject({ code: 'EAGAIN', syscall: 'recvmsg' });
    const waiting = ok(receiver, { cmd: 'recvfrom', conn: r, dataSize: 10 });
    expect(await ok(sender, { cmd: 'sendto', sock: s, abstract: b64(rname), data: b64('one') })).toEqual({ sent: 3 });
    const from = { length: 2 + join(dir, 'sender').length + 1, bytes: b64(`${join(dir, 'sender')}\0`) };
    expect(await waiting).toEqual({ data: b64('one'), fds: [], flags: [], length: 3, control: [], from });
    // An empty datagram is a datagram.
    expect(await ok(sender, { cmd: 'sendto', sock: s, abstract: b64(rname) })).toEqual({ sent: 0 });
    expect(await ok(receiver, { cmd: 'recvfrom', conn: r, dataSize: 10 })).toMatchObject({ data: '', length: 0, from });
    expect(await ok(sender, { cmd: 'connect', sock: s, abstract: b64(rname) })).toEqual({ conn: s });
    await ok(sender, { cmd: 'send', conn: s, data: b64('two') });
    expect(await ok(receiver, { cmd: 'recv', conn: r, dataSize: 10 })).toEqual({ data: b64('two'), fds: [], flags: [], length: 3, control: [] });
    // A connected dgram socket may still name another destination (Linux): nobody is bound there.
    expect(await error(sender, { cmd: 'sendto', sock: s, abstract: b64(unique()), data: b64('x') })).toMatchObject({ code: 'ECONNREFUSED', syscall: 'sendmsg' });
    expect(await error(sender, { cmd: 'sendto', sock: s, data: b64('x') })).toMatchObject({ code: 'EINVAL', syscall: 'driver' });
    // From an unnamed sender the kernel gives no address.
    const { sock: anon } = await ok(sender, { cmd: 'bind', type: 'dgram', path: join(dir, 'unused') });
    await ok(sender, { cmd: 'close', name: anon });
    const lone = await ok(sender, { cmd: 'connect', abstract: b64(rname), type: 'dgram' });
    await ok(sender, { cmd: 'send', conn: lone.conn, data: b64('3') });
    expect(await ok(receiver, { cmd: 'recvfrom', conn: r, dataSize: 10 })).toMatchObject({ data: b64('3'), from: null });
  });

  it('SO_PASSCRED, credentials and an fd: [SCM_CREDENTIALS, SCM_RIGHTS] in that order; peercred and whoami agree', async () => {
    for (const type of ['stream', 'seqpacket'] as const) {
      const server = native();
      const client = native();
      const path = join(dir, `s-${type}`);
      const { sock } = await ok(server, { cmd: 'listen', path, type });
      const [{ conn: sconn }, { conn: cconn }] = await Promise.all([ok(server, { cmd: 'accept', sock }), ok(client, { cmd: 'connect', path, type })]);
      const me = await ok(client, { cmd: 'whoami' });
      expect(me).toEqual({ uid: process.getuid!(), gid: process.getgid!(), pid: process.pid });
      expect(await ok(server, { cmd: 'peercred', name: sconn })).toEqual(me);
      expect(await ok(client, { cmd: 'peercred', name: cconn })).toEqual(me);
      expect(await ok(server, { cmd: 'getsockopt', name: sconn, option: 'SO_PASSCRED' })).toEqual({ value: 0 });
      await ok(server, { cmd: 'setsockopt', name: sconn, option: 'SO_PASSCRED', value: 1 });
      expect(await ok(server, { cmd: 'getsockopt', name: sconn, option: 'SO_PASSCRED' })).toEqual({ value: 1 });
      const m = await ok(client, { cmd: 'mkfd', kind: 'memfd' });
      await ok(client, { cmd: 'send', conn: cconn, data: b64('x'), fds: [m.fd], credentials: me });
      const got = await ok(server, { cmd: 'recv', conn: sconn, dataSize: 10, controlFds: 1, credentials: true });
      const fds = got.fds as string[];
      expect(got).toEqual({ data: b64('x'), fds, flags: [], length: 1, control: [{ type: 'SCM_CREDENTIALS', ...me }, { type: 'SCM_RIGHTS', fds }] });
      expect(identity((await ok(server, { cmd: 'stat', fd: fds[0] })) as { dev: number; ino: number })).toBe(identity(m as { dev: number; ino: number }));
      // Without room for the credentials, the kernel cuts them to the fds' 4 bytes and closes the fd.
      await ok(client, { cmd: 'send', conn: cconn, data: b64('y'), fds: [m.fd] });
      const cut = await ok(server, { cmd: 'recv', conn: sconn, dataSize: 10, controlFds: 1 });
      const pid = Buffer.alloc(4);
      pid.writeInt32LE(process.pid);
      expect(cut).toMatchObject({ fds: [], flags: ['MSG_CTRUNC'], control: [{ type: 'other', level: 1, cmsgType: 2, bytes: b64(pid) }] });
    }
  });

  it('MSG_TRUNC as an input flag answers the full length; SO_SNDBUF 4096 reads 8192 and a 16 KiB message is EMSGSIZE', async () => {
    for (const type of ['seqpacket', 'dgram'] as const) {
      const server = native();
      const client = native();
      const name = b64(unique());
      const { sock } = await ok(server, type === 'dgram' ? { cmd: 'bind', abstract: name, type } : { cmd: 'listen', abstract: name, type });
      const conns = type === 'dgram'
        ? [sock, (await ok(client, { cmd: 'connect', abstract: name, type })).conn]
        : await Promise.all([ok(server, { cmd: 'accept', sock }), ok(client, { cmd: 'connect', abstract: name, type })]).then((x) => x.map((c) => c.conn));
      const [sconn, cconn] = conns as [string, string];
      await ok(client, { cmd: 'send', conn: cconn, data: b64('0123456789') });
      await ok(client, { cmd: 'send', conn: cconn, data: b64('abcdefghij') });
      expect(await ok(server, { cmd: 'recv', conn: sconn, dataSize: 3, flags: ['MSG_TRUNC'] })).toMatchObject({ data: b64('012'), length: 10, flags: ['MSG_TRUNC'] });
      expect(await ok(server, { cmd: 'recv', conn: sconn, dataSize: 3 })).toMatchObject({ data: b64('abc'), length: 3, flags: ['MSG_TRUNC'] });
      await ok(client, { cmd: 'setsockopt', name: cconn, option: 'SO_SNDBUF', value: 4096 });
      expect(await ok(client, { cmd: 'getsockopt', name: cconn, option: 'SO_SNDBUF' })).toEqual({ value: 8192 });
      expect(await error(client, { cmd: 'send', conn: cconn, data: b64(Buffer.alloc(16384)) })).toMatchObject({ code: 'EMSGSIZE', syscall: 'sendmsg' });
      expect(await error(client, { cmd: 'setsockopt', name: cconn, option: 'SO_BOGUS', value: 1 })).toMatchObject({ code: 'EINVAL', syscall: 'driver' });
      expect(await error(client, { cmd: 'getsockname', name: 'C999' })).toMatchObject({ code: 'EBADF', syscall: 'getsockname' });
    }
  });
});

const SETPRIV = '/usr/bin/setpriv';
describe.skipIf(process.getuid?.() !== 0 || !existsSync(SETPRIV) || !existsSync(DRIVER_MAIN))('ts-native as an unprivileged process driver (uid 65534)', () => {
  it('a forged pid in SCM_CREDENTIALS is the kernel\'s EPERM from sendmsg, not a driver refusal', async () => {
    chmodSync(dir, 0o777); // the dropped driver binds in it
    const to = join(dir, 'r');
    const lines = [
      { id: 1, cmd: 'bind', type: 'dgram', path: to },
      { id: 2, cmd: 'bind', type: 'dgram' },
      { id: 3, cmd: 'sendto', sock: 'B2', path: to, data: 'eA==', credentials: { pid: 1, uid: 65534, gid: 65534 } },
      { id: 4, cmd: 'whoami' },
      { id: 5, cmd: 'quit' },
    ];
    const argv = [SETPRIV, '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, DRIVER_MAIN];
    const run = await start(argv, dir, lines.map((l) => `${JSON.stringify(l)}\n`).join('')).done;
    expect([run.code, run.stderr]).toEqual([0, '']);
    const answers = run.stdout.toString().trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(answers[2]).toEqual({ id: 3, ok: false, error: { code: 'EPERM', errno: 1, syscall: 'sendmsg', message: 'Operation not permitted' } });
    expect(answers[3]).toMatchObject({ ok: true, uid: 65534, gid: 65534, pid: expect.any(Number) });
  });
});

describe("ts-native: connect's nonblock and setrlimit (issue 14)", () => {
  it('in-process: a nonblock connect past a backlog of 0 is EAGAIN at once; without nonblock connect waits for room', async () => {
    const server = native();
    const client = native();
    const path = join(dir, 'sock');
    const { sock } = await server.listen({ path, backlog: 0 });
    // Linux queues backlog + 1 connections: listen(0) takes one.
    await client.connect({ path, nonblock: true });
    let settled = false;
    const waiting = client.connect({ path });
    void waiting.then(
      () => (settled = true),
      () => (settled = true),
    );
    // Still full (this refusal comes after the waiting connect started), so it cannot have connected.
    expect(await failure(client.connect({ path, nonblock: true }))).toMatchObject({ code: 'EAGAIN', syscall: 'connect' });
    expect(settled).toBe(false);
    await server.accept({ sock });
    expect(await waiting).toMatchObject({ conn: expect.any(String) });
    await server.accept({ sock });
  });

  it('in-process it has no setrlimit (it would limit the harness); only the adapter with a process of its own has', async () => {
    const inHarness = native();
    expect((await inHarness.hello()).capabilities.commands).not.toContain('setrlimit');
    expect((inHarness as DriverAdapter).setrlimit).toBeUndefined();
    const own = fresh(() => createTsNativeAdapter({ ownProcess: true }));
    // Never called here: it would limit this test process.
    expect(typeof own.setrlimit).toBe('function');
    expect((await own.hello()).capabilities.commands).toContain('setrlimit');
  });

  it.skipIf(!existsSync(DRIVER_MAIN))('as a process: setrlimit NOFILE, then more fds than fit arrive cut with MSG_CTRUNC', async () => {
    const cleanups: Array<() => Promise<unknown> | void> = [];
    const signal = AbortSignal.timeout(20_000);
    try {
      const server = await startDriver({ dir, signal, addCleanup: (fn) => void cleanups.push(fn) }, tsNative.driver!, { transport: 'process', label: 'server ts-native' });
      expect(server.capabilities.commands).toContain('setrlimit');
      const client = native();
      const path = join(dir, 'sock');
      const sock = await server.listen(path);
      const { conn } = await client.connect({ path });
      const accepted = await server.accept(sock);
      const fds: string[] = [];
      for (let i = 0; i < 8; i++) fds.push((await client.mkfd({ kind: 'pipe', index: i })).fd);
      const open = (await server.fds()).map((o) => o.fd);
      const soft = Math.max(...open) + 3;
      const free = soft - open.filter((fd) => fd < soft).length;
      expect(free).toBeLessThan(8);
      expect(await server.setrlimit('RLIMIT_NOFILE', soft)).toBeGreaterThan(soft);
      await client.send({ conn, data: new Uint8Array(Buffer.from('abc')), fds });
      const r = await server.recv(accepted, { dataSize: 10, controlFds: 8 });
      expect([r.data.toString(), r.flags, r.fds.length]).toEqual(['abc', ['MSG_CTRUNC'], free]);
      await server.quit();
    } finally {
      for (const fn of cleanups.reverse()) await fn();
    }
  });
});
