/**
 * Credentials over Unix sockets: SO_PEERCRED (the peer's pid, uid and gid as of connect), SO_PASSCRED and
 * SCM_CREDENTIALS (the sender's, with every message), credentials together with fds (two control
 * messages, credentials first: receivers that read only the first one lost the fds, rhboot/pesign#69),
 * and the kernel's refusal of forged ones. The truth each side is checked against is the other driver's
 * `whoami` (uds-driver/2 answers its pid; an in-process adapter answers process.pid). Sources: unix(7)
 * "Ancillary messages" SCM_CREDENTIALS and "Socket options" SO_PASSCRED, SO_PEERCRED; credentials(7);
 * gVisor test/syscalls/linux/socket_unix_cmsg.cc and unix_domain_socket_test_util.cc; the kernel
 * selftest tools/testing/selftests/net/af_unix/scm_pidfd.c.
 */
import { chmod } from 'node:fs/promises';
import fc from 'fast-check';
import type { Address, Driver, RecvResult } from '../driver/driver.js';
import { DriverError } from '../driver/driver.js';
import type { ControlMessage, Ucred } from '../driver/protocol.js';
import type { CaseContext } from '../harness/context.js';
import { Unsupported } from '../model/types.js';
import type { Property } from './property.js';
import { messageBytes } from './packets.js';
import { addressText, errnoOf, withDrivers, type Drivers } from './pair.js';
import { expectBytes, expectErrno, fail, type EvidenceFields } from './verify.js';

const NOBODY = 65534;

const credsText = (c: Ucred): string => `pid ${c.pid}, uid ${c.uid}, gid ${c.gid}`;

/** A driver's real pid, uid and gid, as its whoami says; a driver that does not tell its pid fails. */
async function identity(driver: Driver): Promise<Ucred> {
  const who = await driver.whoami();
  if (who.pid === undefined) {
    fail(`the ${driver.label} driver's whoami gave no pid (uds-driver/2 answers one)`, 'whoami with pid, uid and gid', JSON.stringify(who));
  }
  return { pid: who.pid, uid: who.uid, gid: who.gid };
}

function expectCreds(got: Ucred, want: Ucred, what: string, evidence: EvidenceFields = {}): void {
  if (got.pid === want.pid && got.uid === want.uid && got.gid === want.gid) return;
  fail(`${what}: ${credsText(got)}, not ${credsText(want)}`, credsText(want), credsText(got), evidence);
}

const controlText = (control: ControlMessage[]): string =>
  control.length === 0
    ? 'no control message'
    : control
        .map((c) => (c.type === 'SCM_RIGHTS' ? `SCM_RIGHTS (${c.fds.length} fds)` : c.type === 'SCM_CREDENTIALS' ? `SCM_CREDENTIALS (${credsText(c)})` : `other (level ${c.level}, type ${c.cmsgType})`))
        .join(', ');

/** The single SCM_CREDENTIALS of a recv, or a failure saying what came instead. */
function onlyCredentials(r: RecvResult, what: string, evidence: EvidenceFields): Ucred {
  const creds = r.control.filter((c): c is Extract<ControlMessage, { type: 'SCM_CREDENTIALS' }> => c.type === 'SCM_CREDENTIALS');
  if (creds.length !== 1 || r.control.length !== 1) {
    fail(`${what}: ${controlText(r.control)}`, 'one SCM_CREDENTIALS control message', controlText(r.control), evidence);
  }
  return creds[0]!;
}

/** A connected pair whose client driver runs as uid/gid NOBODY, with both drivers' ids. */
interface NobodyPair extends Drivers {
  serverWho: Ucred;
  clientWho: Ucred;
  evidence: EvidenceFields;
  conn: string;
  accepted: string;
}

/**
 * Runs body over a pair whose client driver runs as uid/gid NOBODY, once both drivers' ids are known
 * and the client is connected. Root is needed to drop privileges; otherwise the unit is unsupported,
 * and says why. A client that is not really NOBODY fails the check.
 */
async function withNobodyClient<T>(ctx: CaseContext, body: (p: NobodyPair) => Promise<T>): Promise<T> {
  if (process.getuid?.() !== 0) throw new Unsupported(`needs root, to run the client driver as uid ${NOBODY}; run the suite as root`);
  // The unprivileged client must reach its cwd (the case dir) and the socket in it.
  await chmod(ctx.dir, 0o711);
  return withDrivers(
    ctx,
    async (d) => {
      const [serverWho, clientWho] = [await identity(d.server), await identity(d.client)];
      const evidence: EvidenceFields = { details: { address: addressText(d.address), serverWhoami: credsText(serverWho), clientWhoami: credsText(clientWho) } };
      if (clientWho.uid !== NOBODY || clientWho.gid !== NOBODY) fail(`the client driver runs as ${credsText(clientWho)}, not uid/gid ${NOBODY}`, `uid ${NOBODY}, gid ${NOBODY}`, credsText(clientWho), evidence);
      const { conn, accepted } = await connectPair(d.server, d.client, d.address, ctx, () => openToAll(d.address));
      return body({ ...d, serverWho, clientWho, evidence, conn, accepted });
    },
    { clientUid: NOBODY, clientGid: NOBODY },
  );
}

/** For a pathname listener an unprivileged client connects to: anyone may connect (connect(2) needs write permission). */
async function openToAll(address: Address): Promise<void> {
  if (typeof address === 'string') await chmod(address, 0o777);
  else if ('path' in address) await chmod(address.path, 0o777);
}

/** Listen, connect, accept: a connection of the unit's type, its two ends. */
async function connectPair(server: Driver, client: Driver, address: Address, ctx: CaseContext, beforeConnect?: () => Promise<void>): Promise<{ sock: string; conn: string; accepted: string }> {
  const sock = await server.listen(address, { type: ctx.socketType });
  await beforeConnect?.();
  const conn = await client.connect(address, { type: ctx.socketType });
  const accepted = await server.accept(sock);
  return { sock, conn, accepted };
}

const peercredReference =
  'unix(7) SO_PEERCRED: the credentials of the peer process connected to this socket, as of connect(2) (or socketpair); credentials(7); kernel selftest tools/testing/selftests/net/af_unix/scm_pidfd.c; gVisor test/syscalls/linux/socket_unix_stream.cc, unix_domain_socket_test_util.cc';

export const credPeercred: Property<{ askBeforeAccept: boolean }> = {
  id: 'cred.peercred',
  level: 'MUST',
  category: 'credentials',
  scope: 'pairing',
  requirement: "SO_PEERCRED on a connected socket gives the peer's pid, uid and gid (as its whoami says), on both ends of the connection.",
  reference: peercredReference,
  socketTypes: ['stream', 'seqpacket'],
  addresses: ['pathname', 'abstract'],
  via: 'driver',
  needs: { features: ['peercred'] },
  // No isolation: a driver answering its own credentials is caught in every pairing with a peer of
  // another pid (two in-process drivers share the harness's, and cannot tell).
  // The client may ask before the server accepted: its peer's credentials are the listener's, set at connect.
  arbitrary: fc.record({ askBeforeAccept: fc.boolean() }),
  examples: [{ askBeforeAccept: false }],
  maxRuns: 2,
  async check({ askBeforeAccept }, ctx) {
    return withDrivers(ctx, async ({ server, client, address }) => {
      const [serverWho, clientWho] = [await identity(server), await identity(client)];
      const evidence: EvidenceFields = { details: { address: addressText(address), serverWhoami: credsText(serverWho), clientWhoami: credsText(clientWho) } };
      const sock = await server.listen(address, { type: ctx.socketType });
      const conn = await client.connect(address, { type: ctx.socketType });
      const early = askBeforeAccept ? await client.peercred(conn) : undefined;
      const accepted = await server.accept(sock);
      const seenByServer = await server.peercred(accepted);
      const seenByClient = early ?? (await client.peercred(conn));
      expectCreds(seenByServer, clientWho, "the server's SO_PEERCRED of the accepted connection is not the client's whoami", evidence);
      expectCreds(seenByClient, serverWho, `the client's SO_PEERCRED${askBeforeAccept ? ' (asked before the accept)' : ''} is not the server's whoami`, evidence);
      return { seenByServer: credsText(seenByServer), seenByClient: credsText(seenByClient) };
    });
  },
};

export const credPeercredUnprivileged: Property<null> = {
  id: 'cred.peercred-unprivileged',
  level: 'MUST',
  category: 'credentials',
  scope: 'pairing',
  requirement: `With the client driver running as uid/gid ${NOBODY}, the server's SO_PEERCRED gives uid ${NOBODY}, gid ${NOBODY} and the client's pid, and the client's gives the server's pid, uid and gid.`,
  reference: peercredReference,
  socketTypes: ['stream'],
  addresses: ['pathname'],
  via: 'driver',
  needs: { features: ['peercred'] },
  // The client driver runs as another uid: only a process can drop privileges.
  isolation: 'process',
  arbitrary: fc.constant(null),
  maxRuns: 1,
  async check(_input, ctx) {
    return withNobodyClient(ctx, async ({ server, client, serverWho, clientWho, evidence, conn, accepted }) => {
      const seenByServer = await server.peercred(accepted);
      const seenByClient = await client.peercred(conn);
      expectCreds(seenByServer, clientWho, `the server's SO_PEERCRED of the uid ${NOBODY} client is not the client's whoami`, evidence);
      expectCreds(seenByClient, serverWho, "the unprivileged client's SO_PEERCRED is not the server's whoami", evidence);
      return { seenByServer: credsText(seenByServer), seenByClient: credsText(seenByClient) };
    });
  },
};

export const credPasscred: Property<number[]> = {
  id: 'cred.passcred',
  level: 'MUST',
  category: 'credentials',
  scope: 'pairing',
  requirement: "With SO_PASSCRED on the receiving socket, every recv that returns data carries exactly one SCM_CREDENTIALS control message: the sender's pid, uid and gid (as its whoami says).",
  reference:
    'unix(7) SO_PASSCRED ("enables receiving of the credentials of the sending process in an SCM_CREDENTIALS ancillary message in each subsequently received message") and SCM_CREDENTIALS; gVisor test/syscalls/linux/socket_unix_cmsg.cc FDPassAfterSoPassCred, NoPassCred; kernel selftest tools/testing/selftests/net/af_unix/scm_pidfd.c',
  socketTypes: ['stream', 'seqpacket', 'dgram'],
  addresses: ['pathname'],
  via: 'driver',
  needs: { features: ['passcred'] },
  // Sizes of the messages the server sends; the client receives.
  arbitrary: fc.array(fc.integer({ min: 1, max: 512 }), { minLength: 1, maxLength: 4 }),
  examples: [[5, 300]],
  maxRuns: 3,
  describe: (sizes) => ({ messages: sizes }),
  async check(sizes, ctx) {
    return withDrivers(ctx, async ({ server, client, address }) => {
      const sender = await identity(server);
      const evidence: EvidenceFields = { details: { address: addressText(address), senderWhoami: credsText(sender) } };
      const type = ctx.socketType;
      // The receiver is the client: it sets SO_PASSCRED before anything is sent (credentials are attached at send time).
      let receiving: string;
      let sending: string;
      if (type === 'dgram') {
        receiving = await client.bind(address, { type });
        await client.setsockopt(receiving, 'SO_PASSCRED', 1);
        sending = await server.connect(address, { type });
      } else {
        const pair = await connectPair(server, client, address, ctx);
        receiving = pair.conn;
        sending = pair.accepted;
        await client.setsockopt(receiving, 'SO_PASSCRED', 1);
      }
      const messages = sizes.map((size, i) => messageBytes(i, size));
      for (const m of messages) await server.send(sending, m);
      const total = Buffer.concat(messages);
      const received: Buffer[] = [];
      let got = 0;
      let recvs = 0;
      // Everything was sent before the first recv, so each recv has data queued; a stream may join messages.
      while (got < total.length) {
        const r = await client.recv(receiving, { dataSize: 4096, credentials: true });
        if (r.data.length === 0) fail(`the stream ended after ${got} of ${total.length} bytes`, `${total.length} bytes`, `${got} bytes, then EOF`, evidence);
        const creds = onlyCredentials(r, `recv ${recvs + 1} (${r.data.length} bytes) with SO_PASSCRED on did not carry one SCM_CREDENTIALS`, evidence);
        expectCreds(creds, sender, `the SCM_CREDENTIALS of recv ${recvs + 1} are not the sender's whoami`, evidence);
        if (type !== 'stream') expectBytes(r.data, messages[recvs]!, `message ${recvs + 1} differs from what was sent`, evidence);
        received.push(r.data);
        got += r.data.length;
        recvs++;
      }
      expectBytes(Buffer.concat(received), total, 'the bytes received differ from those sent', evidence);
      return { recvs, credentials: credsText(sender) };
    });
  },
};

type PassedKind = 'file' | 'pipe' | 'socket' | 'memfd';

export const credWithFds: Property<PassedKind[]> = {
  id: 'cred.with-fds',
  level: 'MUST',
  category: 'credentials',
  scope: 'pairing',
  requirement: "With SO_PASSCRED on the receiver, a message carrying fds arrives with two control messages, SCM_CREDENTIALS (the sender's) first, then SCM_RIGHTS with every fd, each the object sent (same dev/inode).",
  reference:
    'unix(7) "Ancillary messages" SCM_CREDENTIALS, SCM_RIGHTS; cmsg(3) (walk every control message with CMSG_NXTHDR); gVisor test/syscalls/linux/socket_unix_cmsg.cc CredAndFDPass, FDPassAfterSoPassCred; rhboot/pesign#69 (a receiver that read only the first control message)',
  socketTypes: ['stream', 'seqpacket'],
  addresses: ['pathname'],
  via: 'driver',
  needs: { features: ['passcred', 'fds'] },
  arbitrary: fc.array(fc.constantFrom<PassedKind>('file', 'pipe', 'socket', 'memfd'), { minLength: 1, maxLength: 3 }),
  examples: [['pipe']],
  maxRuns: 3,
  describe: (kinds) => ({ kinds }),
  async check(kinds, ctx) {
    return withDrivers(ctx, async ({ server, client, address }) => {
      const sender = await identity(server);
      const made = [];
      for (const [index, kind] of kinds.entries()) made.push(await server.mkfd({ kind, index, dir: ctx.dir }));
      const { conn, accepted } = await connectPair(server, client, address, ctx);
      await client.setsockopt(conn, 'SO_PASSCRED', 1);
      const data = Buffer.from('fds+cred');
      await server.send(accepted, data, { fds: made.map((m) => m.fd) });
      // The message was sent whole before this recv: it is queued, in one piece, with its control messages.
      const r = await client.recv(conn, { dataSize: 64, controlFds: kinds.length, credentials: true });
      const evidence: EvidenceFields = { details: { address: addressText(address), senderWhoami: credsText(sender), kinds, control: controlText(r.control), flags: r.flags } };
      const want = `SCM_CREDENTIALS (${credsText(sender)}), SCM_RIGHTS (${kinds.length} fds)`;
      const [first, second] = r.control;
      if (r.control.length !== 2 || first?.type !== 'SCM_CREDENTIALS' || second?.type !== 'SCM_RIGHTS') {
        fail(`the message with ${kinds.length} fd(s) arrived with ${controlText(r.control)}`, want, controlText(r.control), evidence);
      }
      if (r.flags.includes('MSG_CTRUNC')) fail('the control messages were truncated (MSG_CTRUNC)', 'no MSG_CTRUNC', r.flags.join(', '), evidence);
      expectCreds(first, sender, "the SCM_CREDENTIALS are not the sender's whoami", evidence);
      expectBytes(r.data, data, 'the data of the message differs', evidence);
      if (second.fds.length !== kinds.length) fail(`SCM_RIGHTS holds ${second.fds.length} fds for the ${kinds.length} sent`, String(kinds.length), String(second.fds.length), evidence);
      for (const [i, fd] of second.fds.entries()) {
        const st = await client.stat(fd);
        if (st.dev !== made[i]!.dev || st.ino !== made[i]!.ino) {
          fail(`received fd ${i} is not the ${kinds[i]} sent`, `dev ${made[i]!.dev}, inode ${made[i]!.ino}`, `${st.kind}, dev ${st.dev}, inode ${st.ino}`, evidence);
        }
      }
      return { control: controlText(r.control) };
    });
  },
};

export const credForgedPid: Property<null> = {
  id: 'cred.forged-pid',
  level: 'MUST',
  category: 'credentials',
  scope: 'pairing',
  requirement: `A sender without privilege (the client driver as uid/gid ${NOBODY}) can send SCM_CREDENTIALS with its own pid, uid and gid, and the receiver gets them; with a pid not its own (the server's), sendmsg fails with EPERM.`,
  reference:
    'unix(7) SCM_CREDENTIALS: the sender must give its own pid unless it has CAP_SYS_ADMIN, its real, effective or saved uid and gid unless it has CAP_SETUID/CAP_SETGID; credentials(7); gVisor test/syscalls/linux/socket_unix_cmsg.cc',
  socketTypes: ['stream'],
  addresses: ['pathname'],
  via: 'driver',
  // The receiver checks the true credentials arrived, so both sides need passcred as well as sendcred.
  needs: { features: ['sendcred', 'passcred'] },
  // The client driver runs as another uid: only a process can drop privileges.
  isolation: 'process',
  arbitrary: fc.constant(null),
  maxRuns: 1,
  async check(_input, ctx) {
    return withNobodyClient(ctx, async ({ server, client, serverWho, clientWho, evidence, conn, accepted }) => {
      await server.setsockopt(accepted, 'SO_PASSCRED', 1);
      // Works first: its true credentials are accepted and arrive as given.
      const truthful = Buffer.from('true');
      try {
        await client.send(conn, truthful, { credentials: clientWho, once: true });
      } catch (err) {
        if (!(err instanceof DriverError)) throw err;
        fail(`sending its own credentials (${credsText(clientWho)}) failed with ${err.code}`, 'the send succeeds', `${err.info.syscall}: ${err.code} (${err.info.message})`, evidence);
      }
      const r = await server.recv(accepted, { dataSize: 64, credentials: true });
      expectBytes(r.data, truthful, 'the message sent with true credentials differs', evidence);
      expectCreds(onlyCredentials(r, 'the message sent with true credentials', evidence), clientWho, 'the credentials received are not the ones sent', evidence);
      // Then the refusal: another process's pid.
      const forged: Ucred = { ...clientWho, pid: serverWho.pid };
      const refused = await errnoOf(client.send(conn, Buffer.from('forged'), { credentials: forged, once: true }));
      if (refused === null) {
        // Sent, it says: show what arrived, without waiting for it (MSG_DONTWAIT).
        const arrived = await server.recv(accepted, { dataSize: 64, credentials: true, flags: ['MSG_DONTWAIT'] }).catch((err: unknown) => (err instanceof DriverError ? err.code : Promise.reject(err)));
        const seen = typeof arrived === 'string' ? `nothing queued (${arrived})` : controlText(arrived.control);
        fail(`sending credentials with the server's pid ${serverWho.pid} as uid ${NOBODY} succeeded`, 'EPERM from sendmsg', `sent; the server received ${seen}`, evidence);
      }
      expectErrno(refused, 'EPERM', `sending credentials with the server's pid (${credsText(forged)}) as uid ${NOBODY}`, evidence);
      return { truthful: credsText(clientWho), forged: credsText(forged), refusedWith: refused };
    });
  },
};
