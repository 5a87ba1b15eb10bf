/**
 * Abstract socket names (unix(7) "Abstract sockets"): the name is the exact bytes after the leading NUL,
 * its length is part of it, and it lives in the network namespace, not the filesystem. Played over every
 * pairing, because the bugs are in how one library spells the address for the kernel: Node 20's libuv
 * 1.46 binds and connects "\0name" with the full struct length, so the name is padded with NULs and no
 * other implementation reaches it (nodejs/node#50889, libuv/libuv#4266); tokio 1.39-1.40 bound "@@name"
 * as a file (tokio-rs/tokio#6837). What each side asked for is shown as addressText (the exact bytes),
 * what the kernel holds as /proc/net/unix prints it (abstractEntries). The six properties stay in one
 * file (a little over 400 lines) because they share these table and connect helpers.
 */
import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import type { Address, Driver, SockName } from '../driver/driver.js';
import { DriverError } from '../driver/driver.js';
import type { SocketType } from '../driver/protocol.js';
import { readUnixTable } from '../harness/readiness.js';
import type { Property } from './property.js';
import { abstractEntries, addressText, errnoOf, receiveBytes, withDrivers } from './pair.js';
import { expectBytes, fail, type EvidenceFields } from './verify.js';

/** The abstract name of the unit's address (withDrivers gives an abstract one for these units). */
function nameOf(address: Address): Buffer {
  if (typeof address === 'string' || !('abstract' in address)) throw new Error(`an abstract-name property was given the pathname ${addressText(address)}`);
  return Buffer.from(address.abstract);
}

/** How /proc/net/unix prints an abstract name: `@`, then the name with each NUL as `@`. */
function printed(name: Uint8Array): string {
  return `@${Buffer.from(name).toString('latin1').replace(/\0/g, '@')}`;
}

/** Listening sockets whose name is exactly this one. */
function listenersAt(name: Uint8Array): number {
  const p = printed(name);
  return readUnixTable().filter((e) => e.listening && e.path === p).length;
}

/**
 * Connections that reached a listener at exactly this name: the kernel gives a queued connection (and
 * later the accepted socket, the same sock) the listener's name, so they count whether or not the server
 * has accepted yet (node:net accepts as soon as a connection arrives).
 */
function connectionsAt(name: Uint8Array): number {
  const p = printed(name);
  return readUnixTable().filter((e) => !e.listening && e.path === p).length;
}

/** The table entries for a name, and what was asked, for a failure's details. */
function nameDetails(name: Uint8Array): Record<string, unknown> {
  return { asked: addressText({ abstract: name }), unixEntries: abstractEntries(name) };
}

/** Runs a command that must succeed; its DriverError is returned instead of thrown. */
async function attempt<T>(command: Promise<T>): Promise<{ value: T } | { error: DriverError }> {
  try {
    return { value: await command };
  } catch (err) {
    if (err instanceof DriverError) return { error: err };
    throw err;
  }
}

/** A connect that must work; refused, it fails with what the kernel holds at the name and what was asked. */
async function connectOrFail(client: Driver, address: Address, type: SocketType, when: string): Promise<string> {
  const name = nameOf(address);
  const r = await attempt(client.connect(address, { type }));
  if ('value' in r) return r.value;
  const entries = abstractEntries(name);
  const exact = listenersAt(name) > 0;
  const why = exact
    ? 'a socket listens at exactly that name, so the client asked the kernel for other bytes'
    : entries.length > 0
      ? 'the server listens at a longer name (the one asked for, then more bytes)'
      : 'no socket listens at a name starting with those bytes';
  fail(
    `the client's connect to ${addressText(address)} ${when} failed with ${r.error.code}; ${why}`,
    `a connection to the listener at ${addressText(address)}`,
    `${r.error.info.syscall}: ${r.error.code} (${r.error.info.message}); /proc/net/unix: ${entries.length ? entries.join('; ') : 'no entry for the name'}`,
    { details: { ...nameDetails(name), connect: r.error.info } },
  );
}

const reference = {
  unix7: 'unix(7) "Abstract sockets": the name is the additional bytes in sun_path covered by the address length; nulls in the name have no special significance; no connection with filesystem pathnames',
};

const printableSuffix = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789._-'), maxLength: 8 }).map((s) => Buffer.from(s, 'latin1'));

export const abstractConnect: Property<{ suffix: Buffer; request: Uint8Array; reply: Uint8Array }> = {
  id: 'abstract.connect',
  level: 'MUST',
  category: 'abstract-names',
  scope: 'pairing',
  requirement: 'A client connects to a listener at an abstract name given as the same name bytes, whichever implementation each side is, and data flows both ways.',
  reference: `${reference.unix7}; kernel selftest tools/testing/selftests/net/af_unix/unix_connect.c; gVisor test/syscalls/linux/socket_unix_abstract_nonblock.cc; nodejs/node#50889, libuv/libuv#4266 (the name padded with NULs), tokio-rs/tokio#6837`,
  socketTypes: ['stream', 'seqpacket'],
  addresses: ['abstract'],
  via: 'driver',
  arbitrary: fc.record({
    suffix: printableSuffix,
    request: fc.uint8Array({ minLength: 1, maxLength: 64 }),
    reply: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
  examples: [{ suffix: Buffer.alloc(0), request: Buffer.from('ping'), reply: Buffer.from('pong') }],
  maxRuns: 4,
  describe: (i) => ({ suffix: i.suffix.toString('latin1'), request: i.request.length, reply: i.reply.length }),
  async check(input, ctx) {
    return withDrivers(
      ctx,
      async ({ server, client, address }) => {
        const name = nameOf(address);
        const sock = await server.listen(address, { type: ctx.socketType });
        const listening = abstractEntries(name);
        const conn = await connectOrFail(client, address, ctx.socketType, 'while the server listens there');
        // Two sides that pad the name alike still meet, so the kernel's table is the oracle: the
        // connection must have reached a listener at exactly the name's bytes.
        if (listenersAt(name) === 0) {
          fail(
            `the client connected, but no socket listens at exactly ${addressText(address)}: the server listens at other bytes`,
            `a listener at ${JSON.stringify(printed(name))} in /proc/net/unix`,
            `/proc/net/unix: ${listening.join('; ') || 'no entry for the name'}`,
            { details: nameDetails(name) },
          );
        }
        const accepted = await server.accept(sock);
        await client.send(conn, input.request);
        const evidence: EvidenceFields = { details: nameDetails(name) };
        expectBytes(await receiveBytes(server, accepted, input.request.length), input.request, 'what the server received differs from what the client sent', evidence);
        await server.send(accepted, input.reply);
        expectBytes(await receiveBytes(client, conn, input.reply.length), input.reply, 'what the client received differs from what the server sent', evidence);
        return { name: addressText(address), unixEntries: listening };
      },
      { abstractSuffix: input.suffix },
    );
  },
};

export const abstractExactLength: Property<number> = {
  id: 'abstract.exact-length',
  level: 'MUST',
  category: 'abstract-names',
  scope: 'pairing',
  requirement: 'The address length is part of an abstract name: a name and the same name with trailing NULs are distinct, both can be bound at once, and a client reaches each at its own listener.',
  reference: `${reference.unix7}; gVisor test/syscalls/linux/socket_unix_unbound_abstract.cc AddressAfterNull, ShortAddressNotExtended; nodejs/node#50889, libuv/libuv#4266`,
  socketTypes: ['stream'],
  addresses: ['abstract'],
  via: 'driver',
  // Trailing NULs on the second name.
  arbitrary: fc.integer({ min: 1, max: 3 }),
  examples: [1],
  maxRuns: 3,
  describe: (nuls) => ({ trailingNuls: nuls }),
  async check(nuls, ctx) {
    return withDrivers(ctx, async ({ server, client, address }) => {
      const short = nameOf(address);
      const long = Buffer.concat([short, Buffer.alloc(nuls)]);
      const details = (): Record<string, unknown> => ({ names: [addressText({ abstract: short }), addressText({ abstract: long })], unixEntries: abstractEntries(short) });
      const first = await server.listen({ abstract: short });
      const second = await attempt(server.listen({ abstract: long }));
      if ('error' in second) {
        fail(
          `listening at the name with ${nuls} trailing NUL(s) failed with ${second.error.code} while the name without them was bound: the two names are not distinct`,
          `both listen: ${addressText({ abstract: short })} and ${addressText({ abstract: long })}`,
          `${second.error.info.syscall}: ${second.error.code}; /proc/net/unix: ${abstractEntries(short).join('; ') || 'no entry'}`,
          { details: details() },
        );
      }
      const counts = (): string => `${listenersAt(short)} at the short name, ${listenersAt(long)} at the long one`;
      if (listenersAt(short) !== 1 || listenersAt(long) !== 1) {
        fail('the two listeners are not at the two exact names', 'one listener at each name', counts(), { details: details() });
      }
      for (const [name, listener, marker] of [[short, first, 'S'], [long, second.value, 'L']] as const) {
        const before = [connectionsAt(short), connectionsAt(long)];
        const conn = await connectOrFail(client, { abstract: name }, 'stream', 'while the server listens at both names');
        const after = [connectionsAt(short), connectionsAt(long)];
        const want = name === short ? [before[0]! + 1, before[1]!] : [before[0]!, before[1]! + 1];
        if (after[0] !== want[0] || after[1] !== want[1]) {
          fail(
            `the connect to ${addressText({ abstract: name })} reached the wrong listener`,
            `connections: ${want[0]} at the short name, ${want[1]} at the long one`,
            `${after[0]} at the short name, ${after[1]} at the long one`,
            { details: details() },
          );
        }
        // The connection is queued on this listener (counted above), so the accept does not wait.
        const accepted = await server.accept(listener);
        await client.send(conn, Buffer.from(marker));
        expectBytes(await receiveBytes(server, accepted, 1), Buffer.from(marker), `the listener at ${addressText({ abstract: name })} got another connection's byte`, { details: details() });
      }
      return { unixEntries: abstractEntries(short) };
    });
  },
};

/** Names in dir; a dir that cannot be read is an empty list (it gained nothing we could see). */
function entriesOf(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export const abstractNoFile: Property<Buffer> = {
  id: 'abstract.no-file',
  level: 'MUST',
  category: 'abstract-names',
  scope: 'pairing',
  requirement: 'Listening at an abstract name creates no file (neither the case dir, where a process driver runs, nor the harness cwd, where an in-process one does, gains an entry), and /proc/net/unix lists the socket as "@" and exactly the name.',
  reference: `${reference.unix7}: "has no connection with filesystem pathnames"; proc(5) /proc/net/unix (abstract names shown with a leading @); tokio-rs/tokio#6837 ("@@name" bound as a file)`,
  socketTypes: ['stream'],
  addresses: ['abstract'],
  via: 'driver',
  arbitrary: printableSuffix,
  examples: [Buffer.alloc(0)],
  maxRuns: 3,
  describe: (suffix) => ({ suffix: suffix.toString('latin1') }),
  async check(suffix, ctx) {
    return withDrivers(
      ctx,
      async ({ server, client, address }) => {
        const serverName = nameOf(address);
        const clientName = ctx.abstractName(suffix);
        const cwd = process.cwd();
        const before = { caseDir: entriesOf(ctx.dir), cwd: entriesOf(cwd) };
        await server.listen(address);
        await client.listen({ abstract: clientName });
        const gained = (was: string[], now: string[]): string[] => now.filter((e) => !was.includes(e));
        const inCaseDir = gained(before.caseDir, entriesOf(ctx.dir));
        // The harness cwd is shared with the rest of the run: only entries spelling a name count there.
        const names = [serverName, clientName].map((n) => n.toString('latin1').replace(/\0/g, ''));
        const inCwd = gained(before.cwd, entriesOf(cwd)).filter((e) => names.some((n) => e.includes(n)));
        const details = { names: [addressText({ abstract: serverName }), addressText({ abstract: clientName })], caseDir: ctx.dir, cwd };
        if (inCaseDir.length || inCwd.length) {
          fail(
            `listening at an abstract name created a file: ${[...inCaseDir.map((e) => `${ctx.dir}/${e}`), ...inCwd.map((e) => `${cwd}/${e}`)].join(', ')}`,
            'no new entry in the case dir or the cwd',
            `new: ${JSON.stringify({ caseDir: inCaseDir, cwd: inCwd })}; /proc/net/unix: ${[...abstractEntries(serverName), ...abstractEntries(clientName)].join('; ') || 'no abstract entry for the names'}`,
            { details },
          );
        }
        for (const [who, name] of [['server', serverName], ['client', clientName]] as const) {
          if (listenersAt(name) !== 1) {
            const others = readUnixTable()
              .filter((e) => e.path.includes(name.toString('latin1')))
              .map((e) => JSON.stringify(e.path));
            fail(
              `the ${who}'s listener is not in /proc/net/unix as ${JSON.stringify(printed(name))}`,
              `one listening entry ${JSON.stringify(printed(name))}`,
              others.length ? `entries naming it: ${others.join(', ')}` : 'no entry naming it',
              { details },
            );
          }
        }
        return { unixEntries: [...abstractEntries(serverName), ...abstractEntries(clientName)] };
      },
      { abstractSuffix: suffix },
    );
  },
};

export const abstractReleased: Property<null> = {
  id: 'abstract.released',
  level: 'MUST',
  category: 'abstract-names',
  // One implementation's own listener and connects: whether a name is freed is the server's doing, and
  // a peer that spells names differently (abstract.connect) must not decide it.
  scope: 'server',
  requirement: 'Once the listener at an abstract name is closed, a connect to the name is refused (ECONNREFUSED) and the name can be listened at again, even while a connection it accepted is open.',
  reference: `${reference.unix7}: the name is removed when the socket is closed (no unlink needed); connect(2) ECONNREFUSED; gVisor test/syscalls/linux/socket_unix_unbound_abstract.cc`,
  socketTypes: ['stream', 'seqpacket'],
  addresses: ['abstract'],
  via: 'driver',
  arbitrary: fc.constant(null),
  maxRuns: 1,
  async check(_input, ctx) {
    return withDrivers(ctx, async ({ server, address }) => {
      const client = server;
      const name = nameOf(address);
      const type = ctx.socketType;
      // Works first: a connection through which a byte arrives.
      const sock = await server.listen(address, { type });
      const conn = await connectOrFail(client, address, type, 'while the server listens there');
      const accepted = await server.accept(sock);
      await client.send(conn, Buffer.from('x'));
      expectBytes(await receiveBytes(server, accepted, 1), Buffer.from('x'), 'the first connection did not carry its byte', { details: nameDetails(name) });
      await server.close(sock);
      const refused = await errnoOf(client.connect(address, { type }));
      if (refused !== 'ECONNREFUSED') {
        fail(
          `after the server closed its listener, a connect to ${addressText(address)} gave ${refused ?? 'success'}`,
          'ECONNREFUSED (the name is free)',
          `${refused ?? 'a connection'}; /proc/net/unix: ${abstractEntries(name).join('; ') || 'no entry'}`,
          { details: nameDetails(name) },
        );
      }
      const again = await attempt(server.listen(address, { type }));
      if ('error' in again) {
        fail(
          `listening at ${addressText(address)} again, after its listener closed, failed with ${again.error.code}`,
          'the name can be bound again',
          `${again.error.info.syscall}: ${again.error.code}; /proc/net/unix: ${abstractEntries(name).join('; ') || 'no entry'}`,
          { details: nameDetails(name) },
        );
      }
      const conn2 = await connectOrFail(client, address, type, 'after the server listened there again');
      const accepted2 = await server.accept(again.value);
      await client.send(conn2, Buffer.from('y'));
      expectBytes(await receiveBytes(server, accepted2, 1), Buffer.from('y'), 'the connection to the new listener did not carry its byte', { details: nameDetails(name) });
      return { refusedWith: refused, unixEntries: abstractEntries(name) };
    }, { roles: ['server'] });
  },
};

/** Fails unless an address the kernel reported is exactly NUL + name, with length 2 + 1 + name length. */
function expectExactName(got: SockName, name: Buffer, what: string, evidence: EvidenceFields): void {
  const want = Buffer.concat([Buffer.alloc(1), name]);
  if (got.length !== 2 + want.length) {
    fail(
      `${what}: the length is ${got.length}, not ${2 + want.length} (2 + 1 + ${name.length})`,
      `length ${2 + want.length}, bytes ${JSON.stringify(want.toString('latin1'))}`,
      `length ${got.length}, bytes ${JSON.stringify(got.bytes.toString('latin1'))}`,
      evidence,
    );
  }
  expectBytes(got.bytes, want, `${what}: the bytes differ from NUL + the name`, evidence);
}

export const abstractGetsockname: Property<Buffer> = {
  id: 'abstract.getsockname',
  level: 'MUST',
  category: 'abstract-names',
  scope: 'pairing',
  requirement: "getsockname of a socket bound to an abstract name, and the peer's getpeername, return the exact name: length 2 + 1 + the name's length, bytes NUL then the name.",
  reference: `${reference.unix7}: getsockname returns addrlen; gVisor test/syscalls/linux/socket_unix_unbound_abstract.cc GetSockNameFullLength, GetSockNamePartialLength`,
  socketTypes: ['stream', 'seqpacket', 'dgram'],
  addresses: ['abstract'],
  via: 'driver',
  needs: { features: ['getsockname'] },
  arbitrary: printableSuffix,
  examples: [Buffer.alloc(0)],
  maxRuns: 3,
  describe: (suffix) => ({ suffix: suffix.toString('latin1') }),
  async check(suffix, ctx) {
    return withDrivers(
      ctx,
      async ({ server, client, address }) => {
        const name = nameOf(address);
        const type = ctx.socketType;
        const evidence: EvidenceFields = { details: nameDetails(name) };
        // A datagram socket is bound, not listening; a client can still connect to it.
        const sock = type === 'dgram' ? await server.bind(address, { type }) : await server.listen(address, { type });
        const own = await server.getsockname(sock);
        expectExactName(own, name, "the server's getsockname", evidence);
        const conn = await connectOrFail(client, address, type, 'while the server is bound there');
        const peer = await client.getpeername(conn);
        expectExactName(peer, name, "the client's getpeername", evidence);
        return { getsockname: own.length, getpeername: peer.length };
      },
      { abstractSuffix: suffix },
    );
  },
};

export const abstractAutobind: Property<number> = {
  id: 'abstract.autobind',
  level: 'MAY',
  category: 'abstract-names',
  scope: 'pairing',
  requirement: 'bind with only the address family autobinds: the socket gets an abstract name of 5 lowercase hex digits (length 8), a different one for every socket.',
  reference: 'unix(7) "Autobind feature": a null byte followed by 5 bytes in the character set [0-9a-f]; gVisor test/syscalls/linux/socket_unix_unbound_abstract.cc BindNothing',
  socketTypes: ['stream', 'seqpacket', 'dgram'],
  addresses: ['abstract'],
  via: 'driver',
  needs: { features: ['autobind', 'getsockname'] },
  // Sockets the server autobinds (the client autobinds one).
  arbitrary: fc.integer({ min: 2, max: 3 }),
  examples: [2],
  maxRuns: 2,
  describe: (count) => ({ serverSockets: count }),
  async check(count, ctx) {
    return withDrivers(ctx, async ({ server, client }) => {
      const type = ctx.socketType;
      const got: Array<{ who: string; name: SockName }> = [];
      const shown = (): string[] => got.map((g) => `${g.who}: length ${g.name.length}, ${JSON.stringify(g.name.bytes.toString('latin1'))}`);
      const sockets: Array<[string, Driver]> = [...Array.from({ length: count }, (_, i): [string, Driver] => [`server socket ${i + 1}`, server]), ['client socket', client]];
      for (const [who, driver] of sockets) {
        const bound = await attempt(driver.bind(undefined, { type }));
        if ('error' in bound) {
          fail(`autobinding the ${who} failed with ${bound.error.code}`, 'a fresh autobound name', `${bound.error.info.syscall}: ${bound.error.code}; before it: ${shown().join('; ') || 'nothing bound'}`, { details: { names: shown() } });
        }
        const name = await driver.getsockname(bound.value);
        got.push({ who, name });
        const hex = name.bytes.subarray(1).toString('latin1');
        if (name.length !== 8 || name.bytes[0] !== 0 || !/^[0-9a-f]{5}$/.test(hex)) {
          fail(`the ${who} autobound to something other than NUL + 5 hex digits`, 'length 8, bytes "\\0" + 5 of [0-9a-f]', shown().at(-1), { details: { names: shown() } });
        }
      }
      const distinct = new Set(got.map((g) => g.name.bytes.toString('hex')));
      if (distinct.size !== got.length) fail(`${got.length} autobound sockets got only ${distinct.size} different names`, `${got.length} different names`, shown().join('; '), { details: { names: shown() } });
      return { names: shown() };
    });
  },
};
