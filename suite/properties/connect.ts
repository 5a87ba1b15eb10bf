/**
 * Connect errors: a client that cannot connect says so and fails. A refusal counts only from a client
 * that works at a valid path in the same case (requireWorksFirst): one that always fails, with the
 * right words, has not told a missing path from a good one.
 */
import fc from 'fast-check';
import { errnoText } from '../model/errno.js';
import type { Property } from './property.js';
import { throwIfDeclaredUnsupported } from './session.js';
import { expectRefused, requireWorksFirst } from './verify.js';

type MissingKind = 'missing-file' | 'missing-dir';

export const connectEnoent: Property<MissingKind> = {
  id: 'connect.enoent',
  level: 'MUST',
  category: 'connect-errors',
  scope: 'client',
  requirement: `A client that works at a valid path, pointed at a missing path, exits non-zero with a message on stderr naming ${errnoText('ENOENT')}, by name or text.`,
  reference: 'unix(7) ERRORS: ENOENT, the pathname given to connect(2) does not exist; seed c-reference/original/client.c perror("Connect Failed")',
  arbitrary: fc.constantFrom<MissingKind>('missing-file', 'missing-dir'),
  maxRuns: 4,
  async check(kind, ctx) {
    const worksFirst = await requireWorksFirst(ctx, 'client');
    const path = kind === 'missing-file' ? ctx.socketName() : `nodir/${ctx.socketName()}`;
    const { summary } = await ctx.runClient({ path });
    throwIfDeclaredUnsupported(summary);
    const refused = expectRefused(summary, { errno: ['ENOENT'], what: 'a client given a missing path' }, { client: summary });
    return { ...refused, worksFirst };
  },
};

export const connectEconnrefused: Property<null> = {
  id: 'connect.econnrefused',
  level: 'MUST',
  category: 'connect-errors',
  scope: 'client',
  requirement: `A client that works at a valid path, pointed at a stale socket (nobody listening), exits non-zero with a message on stderr naming ${errnoText('ECONNREFUSED')}, by name or text.`,
  reference: 'unix(7) ERRORS: ECONNREFUSED, the address given to connect(2) is not a listening socket (a stale socket file)',
  arbitrary: fc.constant(null),
  maxRuns: 3,
  async check(_input, ctx) {
    const worksFirst = await requireWorksFirst(ctx, 'client');
    const path = ctx.socketName();
    await ctx.makeStaleSocket(path);
    const { summary } = await ctx.runClient({ path });
    throwIfDeclaredUnsupported(summary);
    const refused = expectRefused(summary, { errno: ['ECONNREFUSED'], what: 'a client given a stale socket' }, { client: summary });
    return { ...refused, worksFirst };
  },
};
