/**
 * A connect must not cross socket types: a stream socket connecting to a seqpacket listener is refused,
 * with EPROTOTYPE at a pathname and ECONNREFUSED at an abstract name (Linux looks an abstract name up
 * among sockets of the connecting type only, so it finds no listener). One property per address kind,
 * each with its errno as data. Sources: unix(7) EPROTOTYPE, gVisor test/syscalls/linux/accept_bind.cc
 * ConnectWithWrongType.
 */
import fc from 'fast-check';
import type { AddressKind, SocketType } from '../driver/protocol.js';
import type { ErrnoName } from '../model/errno.js';
import { addressText, errnoOf, withDrivers } from './pair.js';
import type { Property } from './property.js';
import { expectErrno } from './verify.js';

/** The type the client connects with besides the listener's (the unit's) own. */
const OTHER_TYPE: SocketType = 'stream';

function typeMismatch(id: string, address: AddressKind, errno: ErrnoName, requirement: string, reference: string): Property<number> {
  return {
    id,
    level: 'MUST',
    category: 'connect-errors',
    scope: 'pairing',
    requirement,
    reference,
    socketTypes: ['seqpacket'],
    addresses: [address],
    via: 'driver',
    needs: { types: [OTHER_TYPE] },
    // How many times the pair (a connect of the listener's type, then one of the other type) is tried.
    arbitrary: fc.integer({ min: 1, max: 3 }),
    examples: [2],
    maxRuns: 3,
    describe: (attempts) => ({ attempts }),
    async check(attempts, ctx) {
      return withDrivers(ctx, async (d) => {
        const listener = await d.server.listen(d.address, { type: ctx.socketType });
        for (let i = 1; i <= attempts; i++) {
          // Works first: the client reaches this listener with its own type, in the same case.
          await d.client.connect(d.address, { type: ctx.socketType });
          await d.server.accept(listener);
          const refused = await errnoOf(d.client.connect(d.address, { type: OTHER_TYPE }));
          expectErrno(refused, errno, `connect ${i} of a ${OTHER_TYPE} socket to the ${ctx.socketType} listener at ${addressText(d.address)}`);
        }
        return { attempts, errno };
      });
    },
  };
}

export const typeMismatchPathname = typeMismatch(
  'type.mismatch-pathname',
  'pathname',
  'EPROTOTYPE',
  'Connecting a SOCK_STREAM socket to a SOCK_SEQPACKET listener at a pathname fails with EPROTOTYPE (after a SOCK_SEQPACKET connect to the same listener worked); it is never turned into a connection of another type.',
  'unix(7) EPROTOTYPE: the remote socket does not match the local socket type; gVisor test/syscalls/linux/accept_bind.cc ConnectWithWrongType',
);

export const typeMismatchAbstract = typeMismatch(
  'type.mismatch-abstract',
  'abstract',
  'ECONNREFUSED',
  'Connecting a SOCK_STREAM socket to a SOCK_SEQPACKET listener at an abstract name fails with ECONNREFUSED (after a SOCK_SEQPACKET connect to the same listener worked): no listener of that type has the name.',
  'unix(7) ECONNREFUSED; gVisor test/syscalls/linux/accept_bind.cc ConnectWithWrongType (an abstract address: ECONNREFUSED, a pathname: EPROTOTYPE)',
);
