/**
 * fd passing, what arrives: the same open file description, every fd in order, every kind, the
 * SCM_MAX_FD limit, and the capability case of the seed (an unprivileged reader of a root-only file).
 * Sources: unix(7) SCM_RIGHTS, cmsg(3), gVisor test/syscalls/linux/socket_unix_cmsg.cc, CPython
 * test_socket.py SCMRightsTest.
 */
import { chmod, writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { fdContent, receivedKind, type FdKind } from './reports.js';
import { Unsupported } from '../../model/types.js';
import type { Property } from '../property.js';
import { expectBytes, expectErrno, expectRefused, fail } from '../verify.js';
import { expectedRead, expectSameObjects, fdKindArb, fdListArb, fdSession, requireServerReport, textPayload } from './session.js';

export const fdSameDescription: Property<{ kind: 'file' | 'memfd'; skip: number; readBytes: number }> = {
  id: 'fd.same-description',
  level: 'MUST',
  category: 'fd-passing',
  scope: 'pairing',
  requirement: 'A passed fd is a new descriptor in the receiver for the same open file description: same dev/inode, and one shared file offset in both directions.',
  reference: 'unix(7) SCM_RIGHTS: as though created with dup(2), sharing the open file description (offset); gVisor socket_unix_cmsg.cc BasicFDPass',
  socketTypes: ['stream', 'seqpacket'],
  via: 'driver',
  needs: { fds: true },
  arbitrary: fc.record({
    kind: fc.constantFrom<'file' | 'memfd'>('file', 'memfd'),
    skip: fc.integer({ min: 0, max: 30 }),
    readBytes: fc.integer({ min: 1, max: 36 }),
  }),
  maxRuns: 10,
  async check(input, ctx) {
    const s = await fdSession(ctx, { payload: textPayload(8), pass: [input.kind], server: { skip: input.skip }, client: { readFdBytes: input.readBytes } });
    const server = requireServerReport(s);
    expectSameObjects(s, server.sent, 'the passed fd is not the object sent');
    const got = s.client.fds[0]!;
    const want = expectedRead(0, input.kind, input.skip, input.readBytes);
    const after = server.sent[0]!.offsetAfter;
    const problems: string[] = [];
    if (got.offset !== input.skip) problems.push(`the receiver's offset is ${got.offset}, not the ${input.skip} the sender's read left (offset not shared)`);
    if (!got.data.equals(want)) problems.push(`reading through it gave ${JSON.stringify(got.data.toString())}, not ${JSON.stringify(want.toString())}`);
    if (after !== input.skip + got.data.length) problems.push(`the sender's offset afterwards is ${after}, not ${input.skip + got.data.length} (the receiver's read did not move it)`);
    if (problems.length) {
      fail(
        problems.join('; '),
        `offset ${input.skip} in the receiver, ${JSON.stringify(want.toString())} read, sender's offset ${input.skip + want.length} after`,
        `offset ${got.offset}, ${JSON.stringify(got.data.toString())}, sender's offset ${after}`,
        s.evidence,
      );
    }
  },
};

export const fdManyInOrder: Property<FdKind[]> = {
  id: 'fd.many-in-order',
  level: 'MUST',
  category: 'fd-passing',
  scope: 'pairing',
  requirement: 'Several fds in one message all arrive, in the order sent, up to SCM_MAX_FD (253).',
  reference: 'unix(7) SCM_RIGHTS; cmsg(3); gVisor socket_unix_cmsg.cc BasicTwoFDPass/BasicThreeFDPass; CPython test_socket.py testMultipleFDPass',
  socketTypes: ['stream', 'seqpacket'],
  via: 'driver',
  needs: { fds: true },
  arbitrary: fdListArb,
  examples: [[...Array<FdKind>(253).fill('pipe')], ['file', 'pipe', 'socket', 'memfd', 'dir']],
  maxRuns: 10,
  describe: (kinds) => ({ count: kinds.length, kinds: kinds.length > 12 ? `${kinds[0]} ×${kinds.length}` : kinds }),
  async check(kinds, ctx) {
    const s = await fdSession(ctx, { payload: textPayload(16), pass: kinds });
    const server = requireServerReport(s);
    if (server.sent.length !== kinds.length) {
      fail(`the server reports ${server.sent.length} fds sent for ${kinds.length} asked`, String(kinds.length), String(server.sent.length), s.evidence);
    }
    expectSameObjects(s, server.sent, 'not every fd arrived in order');
    const carrying = s.client.reads.filter((r) => r.fds > 0);
    if (carrying.length !== 1) {
      fail(`the fds of one message arrived over ${carrying.length} reads`, 'all fds with one read', JSON.stringify(s.client.reads.slice(0, 6)), s.evidence);
    }
  },
};

export const fdScmMax: Property<number> = {
  id: 'fd.scm-max',
  level: 'SHOULD',
  category: 'fd-passing',
  scope: 'pairing',
  requirement: '253 fds (SCM_MAX_FD) in one message work; 254 fail with EINVAL, reported by the sender, and nothing is delivered.',
  reference: 'unix(7) SCM_RIGHTS: more than SCM_MAX_FD (253) fails sendmsg(2) with EINVAL',
  via: 'driver',
  needs: { fds: true },
  arbitrary: fc.constantFrom(253, 254),
  examples: [253, 254],
  maxRuns: 2,
  async check(count, ctx) {
    const s = await fdSession(ctx, { payload: textPayload(4), pass: Array<string>(count).fill('pipe') });
    if (count <= 253) {
      expectSameObjects(s, requireServerReport(s).sent, `${count} fds did not all arrive`);
      return;
    }
    if (s.client.fds.length > 0) {
      fail(`sending ${count} fds: ${s.client.fds.length} fds delivered`, 'the sender fails with EINVAL ("Invalid argument") and no fd arrives', `${s.client.fds.length} fds delivered`, s.evidence);
    }
    // EINVAL as strerror(3) says it: what the sender prints (a driver's failed command included).
    expectRefused(s.outcome.server, { errorText: 'Invalid argument', what: `sending ${count} fds: the server` }, s.evidence);
  },
};

export const fdKinds: Property<FdKind[]> = {
  id: 'fd.kinds',
  level: 'MUST',
  category: 'fd-passing',
  scope: 'pairing',
  requirement: 'Each kind of fd can be passed and used: a regular file, a pipe, a socket, a memfd and a directory.',
  reference: 'unix(7) SCM_RIGHTS (any open fd); memfd_create(2); read(2) EISDIR',
  via: 'driver',
  needs: { fds: true },
  arbitrary: fc.uniqueArray(fdKindArb, { minLength: 1, maxLength: 5 }),
  examples: [['file', 'pipe', 'socket', 'memfd', 'dir']],
  maxRuns: 6,
  async check(kinds, ctx) {
    const s = await fdSession(ctx, { payload: textPayload(4), pass: kinds, client: { readFdBytes: 9 } });
    const server = requireServerReport(s);
    expectSameObjects(s, server.sent, 'not every kind arrived as itself');
    kinds.forEach((kind, i) => {
      const got = s.client.fds[i]!;
      const usable = `fd ${i} (${kind}) is not usable as a ${kind} in the receiver`;
      if (got.kind !== receivedKind(kind)) fail(`${usable}: it is a ${got.kind}`, `kind ${receivedKind(kind)}`, `kind ${got.kind}`, s.evidence);
      if (kind === 'dir') return expectErrno(got.error, 'EISDIR', `${usable}: read()`, s.evidence);
      if (got.error !== null) fail(`${usable}: read() fails with ${got.error}`, `reads ${JSON.stringify(fdContent(i, kind).subarray(0, 9).toString())}`, `read() fails with ${got.error}`, s.evidence);
      expectBytes(got.data, expectedRead(i, kind, 0, 9), `${usable}: reading through it differs from its content`, s.evidence);
    });
  },
};

const NOBODY = 65534;

export const fdCapability: Property<null> = {
  id: 'fd.capability',
  level: 'MUST',
  category: 'fd-passing',
  scope: 'pairing',
  requirement: "An unprivileged receiver reads a root-only (0600) file through the passed fd alone, while opening it by path fails with EACCES (the seed's antivirus daemon).",
  reference: 'unix(7) SCM_RIGHTS: the receiver gets the open file, not the right to open its path; open(2) EACCES',
  via: 'driver',
  needs: { fds: true },
  // The client driver runs as another uid: only a process can drop privileges.
  isolation: 'process',
  arbitrary: fc.constant(null),
  maxRuns: 1,
  async check(_input, ctx) {
    if (process.getuid?.() !== 0) throw new Unsupported('needs root, to make a root-only file and run the client as uid 65534; run the suite as root');
    const secret = ctx.resolve('secret.txt');
    const content = 'only root may open this\n';
    await writeFile(secret, content, { mode: 0o600 });
    // The unprivileged client must be able to reach its cwd (the case dir) and connect to the socket.
    await chmod(ctx.dir, 0o711);
    const s = await fdSession(ctx, {
      payload: textPayload(4),
      pass: [`file:${secret}`],
      client: { readFdBytes: 64, tryOpen: secret },
      clientUid: NOBODY,
      clientGid: NOBODY,
      beforeClient: (path) => chmod(ctx.resolve(path), 0o777),
    });
    const got = s.client.fds[0];
    const evidence = { ...s.evidence, details: { ...s.evidence.details, clientUid: s.client.uid, clientGid: s.client.gid } };
    if (s.client.uid !== NOBODY) fail(`the client ran as uid ${s.client.uid}, not the unprivileged ${NOBODY}`, `uid ${NOBODY}`, `uid ${s.client.uid}`, evidence);
    if (!got) fail(`as uid ${NOBODY}: no fd arrived`, "the file's content through the passed fd", 'no fd', evidence);
    if (got.error !== null) fail(`as uid ${NOBODY}: reading through the fd failed with ${got.error}`, "the file's content through the fd", `read() fails with ${got.error}`, evidence);
    expectBytes(got.data, Buffer.from(content), `as uid ${NOBODY}: reading through the fd differs from the file's content`, evidence);
    const openByPath = s.client.tryOpen?.error ?? null;
    expectErrno(openByPath, 'EACCES', `as uid ${NOBODY}: opening the file by path`, evidence);
    return { clientUid: s.client.uid, clientGid: s.client.gid, readThroughFd: got.data.toString(), openByPath };
  },
};
