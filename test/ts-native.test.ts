/**
 * ts-native as processes (dist/fixtures/ts-native/cli.js, built by `npx tsc -p tsconfig.build.json`):
 * the fd-passing mode of docs/fd-passing.md between its own server and client, checked through the
 * suite's report parser, and against c-reference in both directions; the plain protocol too.
 * Clients start once the server's socket is listening (/proc/net/unix, suite/readiness.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runClient } from '../fixtures/ts-native/client.js';
import { runServer } from '../fixtures/ts-native/server.js';
import { fdContent, leakedFds, parseClientReport, parseServerReport } from '../suite/properties/fd/reports.js';
import { C_BIN, distPath } from '../suite/harness/paths.js';
import { waitListening } from '../suite/harness/readiness.js';

const CLI = distPath('fixtures/ts-native/cli.js');
const TS_SERVER = [process.execPath, CLI, 'server'];
const TS_CLIENT = [process.execPath, CLI, 'client'];
const C_SERVER = [join(C_BIN, 'reference-server')];
const C_CLIENT = [join(C_BIN, 'reference-client')];
const C_FD_MODE = existsSync(C_SERVER[0]!) && existsSync(C_CLIENT[0]!) && existsSync(join(C_BIN, '..', 'reference', 'fdmode_client.c'));

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function start(command: string[], cwd: string): { pid: number; done: Promise<Run> } {
  const child = spawn(command[0]!, command.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
  });
  return { pid: child.pid!, done };
}

let dir = '';
beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc -p tsconfig.build.json\` first`);
});
beforeEach(() => {
  dir = mkdtempSync(join(os.tmpdir(), 'ts-native-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the server, starts the client once the server listens, and waits for both. */
async function pairing(server: string[], client: string[]): Promise<{ server: Run; client: Run }> {
  const path = join(dir, 'sock');
  const srv = start([...server.slice(0, 1), ...server.slice(1).map((a) => (a === '{path}' ? path : a))], dir);
  const ready = await waitListening({ path, cwd: dir, pid: srv.pid, exited: srv.done, signal: AbortSignal.timeout(20_000) });
  if (!ready.ready) throw new Error(`server not listening: ${ready.detail}; ${(await srv.done).stderr}`);
  const cli = start([...client.slice(0, 1), ...client.slice(1).map((a) => (a === '{path}' ? path : a))], dir);
  const [s, c] = await Promise.all([srv.done, cli.done]);
  expect(existsSync(path)).toBe(false);
  return { server: s, client: c };
}

const PAYLOAD = Buffer.from('hello world payload\n');
const KINDS = ['file', 'pipe', 'socket', 'memfd', 'dir'] as const;

/** Every check of one fd-mode run with --pass file,pipe,socket,memfd,dir --fd-at 3 --fd-len 2 --skip 2. */
function checkFullRun(server: Run, client: Run, cloexec: boolean): void {
  expect(server.stderr).toBe('');
  expect(client.stderr).toBe('');
  expect([server.code, client.code]).toEqual([0, 0]);
  const sent = parseServerReport(server.stdout.toString());
  const report = parseClientReport(client.stdout.toString());
  expect(sent.error).toBeNull();
  expect(sent.sent.map((s) => s.kind)).toEqual(KINDS);
  // The client read 9 bytes through each file after the server's --skip 2.
  expect(sent.sent.map((s) => s.offsetAfter)).toEqual([11, null, null, 11, null]);
  expect(report.bytes).toEqual(PAYLOAD);
  expect(report.reads.reduce((sum, r) => sum + r.length, 0)).toBe(PAYLOAD.length);
  // All 5 fds come in one recvmsg: the one holding byte 3 (the first of their send), ending by byte 5.
  const carrier = report.fds[0]!.read;
  const startOf = report.reads.slice(0, carrier).reduce((sum, r) => sum + r.length, 0);
  expect(startOf).toBeLessThanOrEqual(3);
  expect(startOf + report.reads[carrier]!.length).toBeGreaterThan(3);
  expect(startOf + report.reads[carrier]!.length).toBeLessThanOrEqual(5);
  expect(report.reads[carrier]).toMatchObject({ fds: 5, flags: [] });
  expect(report.fds.map((f) => f.read)).toEqual([carrier, carrier, carrier, carrier, carrier]);
  expect(report.fds.map((f) => [f.dev, f.ino])).toEqual(sent.sent.map((s) => [s.dev, s.ino]));
  expect(report.fds.map((f) => f.kind)).toEqual(['file', 'pipe', 'socket', 'file', 'dir']);
  expect(report.fds.map((f) => f.accmode)).toEqual(['O_RDWR', 'O_RDONLY', 'O_RDWR', 'O_RDWR', 'O_RDONLY']);
  expect(report.fds.map((f) => f.offset)).toEqual([2, null, null, 2, 0]);
  expect(report.fds.map((f) => f.cloexec)).toEqual([cloexec, cloexec, cloexec, cloexec, cloexec]);
  const expectedData = KINDS.map((k, i) => (k === 'dir' ? '' : fdContent(i, k).subarray(k === 'file' || k === 'memfd' ? 2 : 0).subarray(0, 9).toString()));
  expect(report.fds.map((f) => f.data.toString())).toEqual(expectedData);
  expect(report.fds.map((f) => f.error)).toEqual([null, null, null, null, 'EISDIR']);
  for (const f of report.fds) expect(report.openFds).toContainEqual(expect.objectContaining({ dev: f.dev, ino: f.ino }));
  expect(report.tryOpen).toBeUndefined();
  expect([report.uid, report.gid]).toEqual([process.getuid!(), process.getgid!()]);
}

const FULL = ['--pass', 'file,pipe,socket,memfd,dir', '--fd-at', '3', '--fd-len', '2', '--skip', '2'];

describe('ts-native fd-passing mode (processes)', () => {
  it('server and client: every kind, identity, shared offsets, MSG_CMSG_CLOEXEC', async () => {
    writeFileSync(join(dir, 'payload'), PAYLOAD);
    const { server, client } = await pairing([...TS_SERVER, '{path}', join(dir, 'payload'), ...FULL], [...TS_CLIENT, '{path}', '--fds', '--cloexec']);
    checkFullRun(server, client, true);
  });

  it('--ctl-fds 2 of 4: MSG_CTRUNC, two delivered, none of the others open in the client', async () => {
    const { server, client } = await pairing([...TS_SERVER, '{path}', '--pass', 'memfd*4'], [...TS_CLIENT, '{path}', '--fds', '--ctl-fds', '2']);
    expect([server.code, client.code]).toEqual([0, 0]);
    const sent = parseServerReport(server.stdout.toString()).sent;
    const report = parseClientReport(client.stdout.toString());
    expect(report.fds).toHaveLength(2);
    expect(report.reads[0]).toMatchObject({ fds: 2, flags: ['MSG_CTRUNC'] });
    expect(report.bytes.toString()).toBe('Server Message\n');
    expect(leakedFds(report, sent, 2)).toEqual([]);
  });

  it('--plain-read: the kernel discards the fds; --try-open reports the errno name', async () => {
    const { server, client } = await pairing(
      [...TS_SERVER, '{path}', '--pass', 'file*3,pipe', '--sender-cloexec'],
      [...TS_CLIENT, '{path}', '--fds', '--plain-read', '--try-open', join(dir, 'absent')],
    );
    expect([server.code, client.code]).toEqual([0, 0]);
    const report = parseClientReport(client.stdout.toString());
    expect(report.fds).toEqual([]);
    expect(report.reads.every((r) => r.fds === 0 && r.flags.length === 0)).toBe(true);
    expect(report.tryOpen).toEqual({ path: join(dir, 'absent'), error: 'ENOENT' });
    expect(leakedFds(report, parseServerReport(server.stdout.toString()).sent, 0)).toEqual([]);
  });

  it('254 fds: the server reports sendmsg EINVAL and exits 1; the client gets no fd', async () => {
    const { server, client } = await pairing([...TS_SERVER, '{path}', '--pass', 'memfd*254'], [...TS_CLIENT, '{path}', '--fds']);
    expect([server.code, server.stderr, server.stdout.length]).toEqual([1, 'sendmsg: Invalid argument\n', 0]);
    expect(client.code).toBe(0);
    expect(parseClientReport(client.stdout.toString()).fds).toEqual([]);
  });

  it('usage errors are "<what>: <strerror>" with exit 1', async () => {
    const bad = await start([...TS_SERVER, join(dir, 's'), '--pass', 'file,bogus'], dir).done;
    expect([bad.code, bad.stderr]).toEqual([1, '--pass: unknown kind "bogus": Invalid argument\n']);
    const noFds = await start([...TS_CLIENT, join(dir, 's'), '--cloexec'], dir).done;
    expect([noFds.code, noFds.stderr]).toEqual([1, 'fd-passing mode needs --fds: Invalid argument\n']);
  });
});

describe.skipIf(!C_FD_MODE)('interoperation with c-reference in fd mode', () => {
  it('C server → TS client', async () => {
    writeFileSync(join(dir, 'payload'), PAYLOAD);
    const { server, client } = await pairing([...C_SERVER, '{path}', join(dir, 'payload'), ...FULL], [...TS_CLIENT, '{path}', '--fds']);
    checkFullRun(server, client, false);
  });

  it('TS server → C client', async () => {
    writeFileSync(join(dir, 'payload'), PAYLOAD);
    const { server, client } = await pairing([...TS_SERVER, '{path}', join(dir, 'payload'), ...FULL], [...C_CLIENT, '{path}', '--fds', '--cloexec']);
    checkFullRun(server, client, true);
  });
});

describe('ts-native plain protocol', () => {
  it('as processes: the payload arrives whole, the path is removed', async () => {
    const payload = Buffer.alloc(300_000, 0);
    payload.write('binary\0safe');
    writeFileSync(join(dir, 'payload'), payload);
    const { server, client } = await pairing([...TS_SERVER, '{path}', join(dir, 'payload')], [...TS_CLIENT, '{path}']);
    expect([server.code, client.code, client.stderr]).toEqual([0, 0, '']);
    expect(client.stdout.equals(payload)).toBe(true);
  });

  it('in-process: fixed message, and a path over 107 bytes refused by both roles', async () => {
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

  it('in-process: an abort ends a server that waits for a client', async () => {
    const ac = new AbortController();
    const stderr: string[] = [];
    const served = runServer({ path: join(dir, 's'), signal: ac.signal, onListening: () => ac.abort(), stderr: (t) => stderr.push(t) });
    expect(await served).toBe(1);
    expect(stderr).toEqual(['accept: Operation canceled\n']);
    expect(existsSync(join(dir, 's'))).toBe(false);
  });
});
