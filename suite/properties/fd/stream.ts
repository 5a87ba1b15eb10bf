/**
 * fd passing, where in the stream: an fd comes with the first byte of its send and never again, a
 * too-small control buffer closes the rest, read() discards, MSG_CMSG_CLOEXEC, and the data byte a
 * stream send needs. Sources: unix(7) (ancillary data on stream sockets), recvmsg(2), cmsg(3), gVisor
 * test/syscalls/linux/socket_unix_stream.cc and socket_unix_cmsg.cc, CPython test_socket.py SCMRightsTest.
 */
import fc from 'fast-check';
import type { Property } from '../property.js';
import { expectBytes, fail } from '../verify.js';
import { distinctKindArb, expectNoLeaks, expectSameObjects, fdKindArb, fdSession, requireServerReport, textPayload } from './session.js';
import type { FdKind } from './reports.js';

interface Placement {
  size: number;
  at: number;
  len: number;
  recvBuf: number;
  nfds: number;
}

/** A payload, where in it the fd-carrying send sits, and the receiver's buffer size. */
const placementArb: fc.Arbitrary<Placement> = fc
  .record({
    size: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 300_000 })),
    atFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    lenFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    recvBuf: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 200_000 })),
    nfds: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ size, atFraction, lenFraction, recvBuf, nfds }) => {
    const at = Math.min(size - 1, Math.floor(atFraction * size));
    const len = Math.max(1, Math.floor(lenFraction * (size - at)));
    // At most ~4096 reads per case: the receiver reports every read.
    return { size, at, len, recvBuf: Math.max(recvBuf, Math.ceil(size / 4096)), nfds };
  });

export const fdFirstByteOnly: Property<Placement> = {
  id: 'fd.first-byte-only',
  level: 'MUST',
  category: 'fd-passing',
  scope: 'pairing',
  requirement: 'An fd comes with the first byte of its send and never again; earlier bytes may join that read, but no read runs past the end of the fd-carrying send.',
  reference: 'unix(7): ancillary data is a barrier, reads stop at it; gVisor socket_unix_stream.cc FDPassPartialRead, FDPassCoalescedRecv; socket.cc UnixSCMRightsOnlyPassedOnce',
  via: 'driver',
  needs: { fds: true },
  arbitrary: placementArb,
  examples: [
    { size: 20, at: 5, len: 3, recvBuf: 100, nfds: 1 },
    { size: 200_000, at: 1000, len: 150_000, recvBuf: 65536, nfds: 1 },
  ],
  maxRuns: 12,
  async check(p, ctx) {
    const payload = textPayload(p.size);
    const s = await fdSession(ctx, {
      payload,
      pass: Array<string>(p.nfds).fill('pipe'),
      server: { fdAt: p.at, fdLen: p.len },
      client: { recvBuf: p.recvBuf },
    });
    expectBytes(s.client.bytes, payload, 'the bytes around the fd differ from the payload', s.evidence);
    let start = 0;
    const spans = s.client.reads.map((r) => {
      const span = { start, end: start + r.length, fds: r.fds };
      start += r.length;
      return span;
    });
    const carrying = spans.filter((r) => r.fds > 0);
    const total = s.client.fds.length;
    const fd = carrying[0];
    const problems: string[] = [];
    if (carrying.length !== 1 || total !== p.nfds) problems.push(`${total} fds arrived over ${carrying.length} reads for ${p.nfds} fds sent once`);
    else if (!(fd!.start <= p.at && p.at < fd!.end)) problems.push(`the fds came with bytes [${fd!.start}, ${fd!.end}), not with byte ${p.at}, the first of their send`);
    else if (fd!.end > p.at + p.len) problems.push(`the read with the fds ran to byte ${fd!.end}, past the end of their send at ${p.at + p.len}`);
    if (problems.length) {
      fail(problems.join('; '), `one read holding byte ${p.at} and ending at or before ${p.at + p.len}, with ${p.nfds} fds`, JSON.stringify(carrying.slice(0, 5)), s.evidence);
    }
  },
};

export const fdCtruncClosesExcess: Property<{ kinds: FdKind[]; room: number }> = {
  id: 'fd.ctrunc-closes-excess',
  level: 'MUST',
  category: 'fd-passing',
  scope: 'pairing',
  requirement: 'A control buffer too small for the fds sent sets MSG_CTRUNC; the fds that fit arrive in order, the rest are closed and none leak into the receiver.',
  reference: 'unix(7): excess fds are closed; recvmsg(2) MSG_CTRUNC; cmsg(3); gVisor socket_unix_cmsg.cc BasicThreeFDPassTruncationMsgCtrunc; CPython testCmsgTrunc*',
  socketTypes: ['stream', 'seqpacket'],
  via: 'driver',
  needs: { fds: true },
  // The receiver's fd table is checked for leaks: an in-process receiver shares it with the sender.
  isolation: 'process',
  arbitrary: fc
    .array(distinctKindArb, { minLength: 2, maxLength: 12 })
    .chain((kinds) => fc.record({ kinds: fc.constant(kinds), room: fc.integer({ min: 0, max: kinds.length - 1 }) })),
  examples: [{ kinds: ['pipe', 'file', 'socket'], room: 1 }, { kinds: ['memfd', 'pipe'], room: 0 }],
  maxRuns: 10,
  async check({ kinds, room }, ctx) {
    const s = await fdSession(ctx, { payload: textPayload(8), pass: kinds, client: { ctlFds: room } });
    const server = requireServerReport(s);
    const flagged = s.client.reads.some((r) => r.flags.includes('MSG_CTRUNC'));
    if (!flagged) fail(`room for ${room} of ${kinds.length} fds, but no read reports MSG_CTRUNC`, 'MSG_CTRUNC', JSON.stringify(s.client.reads.slice(0, 4)), s.evidence);
    expectSameObjects(s, server.sent.slice(0, room), `room for ${room} fds`);
    expectNoLeaks(s, server.sent, room);
  },
};

export const fdPlainReadDiscards: Property<{ kinds: FdKind[]; size: number }> = {
  id: 'fd.plain-read-discards',
  level: 'MUST',
  category: 'fd-passing',
  scope: 'pairing',
  requirement: 'Reading with plain read() discards passed fds: none arrive, none leak, and the stream goes on intact.',
  reference: 'gVisor socket_unix_cmsg.cc FDPassNoRecv, FDPassInterspersed2 (read(2) ignores the control message)',
  via: 'driver',
  needs: { fds: true },
  // The receiver's fd table is checked for leaks: an in-process receiver shares it with the sender.
  isolation: 'process',
  arbitrary: fc.record({ kinds: fc.array(distinctKindArb, { minLength: 1, maxLength: 6 }), size: fc.integer({ min: 1, max: 100_000 }) }),
  maxRuns: 8,
  async check({ kinds, size }, ctx) {
    const payload = textPayload(size);
    const s = await fdSession(ctx, { payload, pass: kinds, server: { fdAt: 0, fdLen: 1 }, client: { plainRead: true } });
    const server = requireServerReport(s);
    if (s.client.fds.length !== 0) {
      fail(`with read(): ${s.client.fds.length} fds reported, ${s.client.bytes.length} of ${size} bytes`, `no fds, all ${size} bytes`, `${s.client.fds.length} fds, ${s.client.bytes.length} bytes`, s.evidence);
    }
    expectBytes(s.client.bytes, payload, 'with read(): the stream differs from the payload', s.evidence);
    expectNoLeaks(s, server.sent, 0);
  },
};

export const fdCloexec: Property<{ receiver: boolean; sender: boolean; kinds: FdKind[] }> = {
  id: 'fd.cloexec',
  level: 'MUST',
  category: 'fd-passing',
  scope: 'pairing',
  requirement: "Received fds have FD_CLOEXEC exactly when the receiver asked with MSG_CMSG_CLOEXEC; the sender's close-on-exec flag does not travel.",
  reference: 'recvmsg(2) MSG_CMSG_CLOEXEC; gVisor socket_unix_cmsg.cc CloexecDroppedWhenFDPassed, CloexecRecvFDPass',
  via: 'driver',
  needs: { fds: true },
  arbitrary: fc.record({ receiver: fc.boolean(), sender: fc.boolean(), kinds: fc.array(fdKindArb, { minLength: 1, maxLength: 4 }) }),
  examples: [
    { receiver: true, sender: false, kinds: ['file'] },
    { receiver: false, sender: true, kinds: ['pipe'] },
  ],
  maxRuns: 6,
  async check({ receiver, sender, kinds }, ctx) {
    const s = await fdSession(ctx, { payload: textPayload(4), pass: kinds, server: { senderCloexec: sender }, client: { cloexec: receiver } });
    expectSameObjects(s, requireServerReport(s).sent, 'fds did not arrive');
    const wrong = s.client.fds.findIndex((f) => f.cloexec !== receiver);
    if (wrong >= 0) {
      fail(
        `fd ${wrong} has FD_CLOEXEC ${s.client.fds[wrong]!.cloexec} with MSG_CMSG_CLOEXEC ${receiver ? 'given' : 'not given'} (sender's flag ${sender})`,
        `cloexec ${receiver} on every fd`,
        JSON.stringify(s.client.fds.map((f) => f.cloexec)),
        s.evidence,
      );
    }
  },
};

export const fdNeedsDataByte: Property<{ size: number; nfds: number }> = {
  id: 'fd.needs-data-byte',
  level: 'MUST',
  category: 'fd-passing',
  scope: 'pairing',
  requirement: 'On a stream socket fds sent with zero data bytes are dropped, so an implementation sends at least one data byte with them, and they arrive with it.',
  reference: 'unix(7): at least one byte of real data with ancillary data; gVisor socket_unix_stream.cc ZeroLengthMessageFDDiscarded',
  via: 'driver',
  needs: { fds: true },
  arbitrary: fc.record({ size: fc.integer({ min: 1, max: 64 }), nfds: fc.integer({ min: 1, max: 4 }) }),
  maxRuns: 6,
  async check({ size, nfds }, ctx) {
    const s = await fdSession(ctx, { payload: textPayload(size), pass: Array<string>(nfds).fill('memfd'), server: { fdAt: 0, fdLen: size } });
    const carrying = s.client.reads.filter((r) => r.fds > 0);
    if (s.client.fds.length !== nfds || carrying.some((r) => r.length < 1)) {
      fail(`${s.client.fds.length} of ${nfds} fds arrived with the ${size}-byte payload`, `${nfds} fds with at least one data byte`, JSON.stringify(s.client.reads), s.evidence);
    }
    expectSameObjects(s, requireServerReport(s).sent, 'fds sent with the payload');
  },
};
