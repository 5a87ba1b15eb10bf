/**
 * A listener's connections and what they cost: a full backlog (a non-blocking connect gives EAGAIN),
 * several clients at once (each stream intact), and fds passed to a receiver at its RLIMIT_NOFILE
 * (MSG_CTRUNC, the data still delivered). Step by step over two drivers, in the manner of
 * stream-lifecycle.ts, whose readers these use. Sources: connect(2), listen(2), accept(2), recvmsg(2),
 * unix(7), net/unix/af_unix.c, and the issue threads each property names.
 */
import fc from 'fast-check';
import type { RecvResult } from '../driver/driver.js';
import { errnoOf, withDrivers } from './pair.js';
import { messageBytes } from './packets.js';
import type { Property } from './property.js';
import { connectOnce, readToEnd, readUpTo, receivedText, sendAll, type Side } from './stream-lifecycle.js';
import { expectBytes, expectErrno, fail } from './verify.js';

export const connectBacklogFull: Property<{ backlog: number }> = {
  id: 'connect.backlog-full',
  level: 'MUST',
  category: 'connect-errors',
  scope: 'pairing',
  requirement:
    'While nobody accepts, a listener with backlog B takes B + 1 connections (Linux); the next non-blocking connect fails at once with EAGAIN, not EINPROGRESS and not a connection, and once one is accepted a connect succeeds again.',
  reference:
    'connect(2) EAGAIN: for nonblocking UNIX domain sockets, the connection cannot be completed immediately; listen(2) backlog; net/unix/af_unix.c unix_stream_connect (unix_recvq_full: more than the backlog queued); tokio-rs/mio#1560, curl/curl#18748, chriskohlhoff/asio#1014',
  socketTypes: ['stream', 'seqpacket'],
  addresses: ['pathname'],
  via: 'driver',
  arbitrary: fc.record({ backlog: fc.integer({ min: 0, max: 3 }) }),
  examples: [{ backlog: 1 }],
  maxRuns: 3,
  describe: (b) => b,
  async check({ backlog }, ctx) {
    return withDrivers(ctx, async (d) => {
      const type = ctx.socketType;
      const listener = await d.server.listen(d.address, { type, backlog });
      const room = backlog + 1;
      for (let i = 1; i <= room; i++) {
        const refused = await errnoOf(d.client.connect(d.address, { type, nonblock: true }));
        if (refused !== null) {
          fail(
            `non-blocking connect ${i} to a listener with backlog ${backlog} failed with ${refused}, with only ${i - 1} connections queued`,
            `${room} connections queued before EAGAIN`,
            `${refused} at connect ${i}`,
          );
        }
      }
      const full = await errnoOf(d.client.connect(d.address, { type, nonblock: true }));
      if (full === null) {
        fail(
          `non-blocking connect ${room + 1} to a listener with backlog ${backlog} and ${room} connections queued, none accepted, answered a connection (a listen that ignored its backlog, or EAGAIN taken for a connection)`,
          'EAGAIN',
          'a connection',
        );
      }
      expectErrno(full, 'EAGAIN', `non-blocking connect ${room + 1} to a listener with backlog ${backlog} and ${room} connections queued`);
      // One accepted makes room for one more.
      await d.server.accept(listener);
      const again = await errnoOf(d.client.connect(d.address, { type, nonblock: true }));
      if (again !== null) fail(`after one of the ${room} queued connections was accepted, a non-blocking connect failed with ${again}`, 'a connection', again);
      return { backlog, queued: room, refused: full };
    });
  },
};

interface ManyClients {
  clients: number;
  /** Sends in order: on connection `client` (taken modulo clients), by the client (toServer) or the server. */
  sends: Array<{ client: number; toServer: boolean; size: number }>;
}

const manyClientsArb: fc.Arbitrary<ManyClients> = fc.record({
  clients: fc.integer({ min: 2, max: 4 }),
  sends: fc.array(fc.record({ client: fc.nat({ max: 3 }), toServer: fc.boolean(), size: fc.integer({ min: 1, max: 512 }) }), { maxLength: 8 }),
});

/**
 * The generated sends, then one send each way on every connection that has none: so that every
 * stream has bytes of its own, whatever the shrinker keeps. Each send's bytes are its own (its index).
 */
function schedule(m: ManyClients): Array<{ client: number; toServer: boolean; data: Buffer }> {
  const steps = m.sends.map((s) => ({ client: s.client % m.clients, toServer: s.toServer, size: s.size }));
  for (let client = 0; client < m.clients; client++) {
    for (const toServer of [true, false]) if (!steps.some((s) => s.client === client && s.toServer === toServer)) steps.push({ client, toServer, size: 8 });
  }
  return steps.map((s, i) => ({ client: s.client, toServer: s.toServer, data: messageBytes(i, s.size) }));
}

export const streamManyClients: Property<ManyClients> = {
  id: 'stream.many-clients',
  level: 'MUST',
  category: 'streams',
  scope: 'pairing',
  requirement:
    'Several clients connected to one listener at once each have a connection of their own: with sends interleaved across the connections and both directions, every connection carries exactly the bytes sent on it, in order, and nothing of another.',
  reference:
    'accept(2): each call takes the first pending connection and returns a new socket connected to that client; unix(7) SOCK_STREAM; gVisor test/syscalls/linux/socket_unix_stream.cc (pairs from one listener: FilesystemBoundUnixDomainSocketPair)',
  socketTypes: ['stream', 'seqpacket'],
  addresses: ['pathname'],
  via: 'driver',
  needs: { commands: ['shutdown'] },
  arbitrary: manyClientsArb,
  examples: [{ clients: 3, sends: [{ client: 0, toServer: false, size: 5 }, { client: 2, toServer: true, size: 7 }, { client: 1, toServer: false, size: 3 }] }],
  maxRuns: 4,
  describe: (m) => ({ clients: m.clients, sends: m.sends.map((s) => `${s.toServer ? 'c' : 's'}${(s.client % m.clients) + 1}:${s.size}`).join(' ') }),
  async check(m, ctx) {
    return withDrivers(ctx, async (d) => {
      const listener = await d.server.listen(d.address, { type: ctx.socketType });
      // Connected and accepted one at a time: connection i is client i's, on both sides.
      const pairs: Array<[Side, Side]> = [];
      for (let i = 0; i < m.clients; i++) pairs.push(await connectOnce(ctx, d, listener));
      const steps = schedule(m);
      for (const s of steps) {
        const [server, client] = pairs[s.client]!;
        await sendAll(s.toServer ? client : server, s.data, `send on connection ${s.client + 1}`);
      }
      // Every end shuts down its writing side, so each reader's EOF is pending, then each is read to it.
      for (const [server, client] of pairs) {
        await client.driver.shutdown(client.conn, 'write');
        await server.driver.shutdown(server.conn, 'write');
      }
      for (const [i, [server, client]] of pairs.entries()) {
        for (const [reader, toServer] of [[server, true], [client, false]] as const) {
          const expected = Buffer.concat(steps.filter((s) => s.client === i && s.toServer === toServer).map((s) => s.data));
          const got = await readToEnd(reader, expected.length);
          const what = `on connection ${i + 1} of ${m.clients}, what the ${reader.role} read ${toServer ? `from client ${i + 1}` : 'from the server'}`;
          expectBytes(got.data, expected, `${what} differs from what was sent on that connection`);
          if (got.end?.kind !== 'eof') fail(`${what} ended with ${got.end ? receivedText(got.end) : 'more bytes'}, not EOF`, 'EOF', got.end ? receivedText(got.end) : 'more bytes');
        }
      }
      return { clients: m.clients, sends: steps.length };
    });
  },
};

interface RlimitCtrunc {
  /** fds passed with each send. */
  nfds: number;
  /** The bytes of the send made while the receiver is at its limit. */
  size: number;
}

export const fdRlimitCtrunc: Property<RlimitCtrunc> = {
  id: 'fd.rlimit-ctrunc',
  level: 'MUST',
  category: 'fd-passing',
  scope: 'pairing',
  requirement:
    'A receiver that can open no more fds (RLIMIT_NOFILE) still gets the bytes of a send that carried fds, with MSG_CTRUNC set and no fd installed, even with a control buffer big enough for all of them; with its limit raised again, fds pass as before.',
  reference:
    'unix(7) SCM_RIGHTS: fds past the receiver\'s RLIMIT_NOFILE are closed, and MSG_CTRUNC is set; recvmsg(2) MSG_CTRUNC; getrlimit(2) RLIMIT_NOFILE; net/core/scm.c scm_detach_fds; systemd/systemd#34688',
  socketTypes: ['stream', 'seqpacket'],
  addresses: ['pathname'],
  via: 'driver',
  needs: { fds: true, commands: ['setrlimit', 'fds', 'mkfd'] },
  // setrlimit limits the driver's whole process: never the harness's.
  isolation: 'process',
  arbitrary: fc.record({ nfds: fc.integer({ min: 1, max: 3 }), size: fc.integer({ min: 1, max: 1024 }) }),
  examples: [{ nfds: 2, size: 16 }],
  maxRuns: 3,
  describe: (r) => r,
  async check(r, ctx) {
    return withDrivers(ctx, async (d) => {
      const listener = await d.server.listen(d.address, { type: ctx.socketType });
      const [server, client] = await connectOnce(ctx, d, listener);
      for (const [sender, receiver] of [[server, client], [client, server]] as const) {
        const fds: string[] = [];
        for (let i = 0; i < r.nfds; i++) fds.push((await sender.driver.mkfd({ kind: 'pipe' })).fd);
        // The valid step first: with room in its table the receiver gets every fd.
        await passOnce(sender, receiver, fds, messageBytes(0, 8), r.nfds, 'before the limit');
        // The lowest free fd number as the soft limit: the kernel installs an fd at the lowest free
        // number, and refuses one at or past the limit (EMFILE), so none fits.
        const open = new Set((await receiver.driver.fds()).map((o) => o.fd));
        let lowest = 0;
        while (open.has(lowest)) lowest++;
        const message = messageBytes(1, r.size);
        const sent = await sender.driver.send(sender.conn, message, { fds });
        if (sent !== message.length) fail(`the ${sender.role}'s send of ${message.length} bytes with ${r.nfds} fds answered sent ${sent}`, `sent ${message.length}`, `sent ${sent}`);
        const previous = await receiver.driver.setrlimit('RLIMIT_NOFILE', lowest);
        let first: RecvResult;
        try {
          first = await receiver.driver.recv(receiver.conn, { dataSize: message.length, controlFds: r.nfds });
        } finally {
          await receiver.driver.setrlimit('RLIMIT_NOFILE', previous);
        }
        const at = `with its RLIMIT_NOFILE at ${lowest} (its lowest free fd) and room for all ${r.nfds} fds`;
        if (first.data.length === 0) fail(`${at}, the ${receiver.role}'s recv returned no bytes: the data of a send whose fds did not fit was dropped`, `${message.length} bytes, MSG_CTRUNC`, `0 bytes, flags ${JSON.stringify(first.flags)}`);
        if (!first.flags.includes('MSG_CTRUNC')) fail(`${at}, the ${receiver.role}'s recv did not report MSG_CTRUNC`, 'MSG_CTRUNC', `flags ${JSON.stringify(first.flags)}, ${first.fds.length} fds`);
        if (first.fds.length > 0) fail(`${at}, the ${receiver.role}'s recv reported ${first.fds.length} fds`, 'no fds', `${first.fds.length} fds`);
        const rest = await readUpTo(receiver, message.length - first.data.length);
        expectBytes(Buffer.concat([first.data, rest.data]), message, `${at}, the bytes the ${receiver.role} read differ from the send`);
        await passOnce(sender, receiver, fds, messageBytes(2, 8), r.nfds, 'with the limit raised again');
      }
      return { ...r };
    });
  },
};

/** One send of data with fds, read by one recv with room for them: every fd must come. */
async function passOnce(sender: Side, receiver: Side, fds: string[], data: Buffer, room: number, when: string): Promise<void> {
  await sender.driver.send(sender.conn, data, { fds });
  const got = await receiver.driver.recv(receiver.conn, { dataSize: data.length, controlFds: room });
  expectBytes(got.data, data, `${when}, the bytes that carried ${fds.length} fds differ`);
  if (got.fds.length !== fds.length) fail(`${when}, the ${receiver.role} received ${got.fds.length} of the ${fds.length} fds passed`, `${fds.length} fds`, `${got.fds.length} fds, flags ${JSON.stringify(got.flags)}`);
  for (const fd of got.fds) await receiver.driver.close(fd);
}
