/** Connect errors: a client that cannot connect says so and fails. */
import fc from 'fast-check';
import type { Property } from './property.js';
import { throwIfDeclaredUnsupported } from './session.js';
import { expectRefused } from './verify.js';

type MissingKind = 'missing-file' | 'missing-dir';

/** strerror texts (glibc), which the seed prints through perror(3) and the reference through strerror(3). */
const ENOENT_TEXT = 'No such file or directory';
const ECONNREFUSED_TEXT = 'Connection refused';

export const connectEnoent: Property<MissingKind> = {
  id: 'connect.enoent',
  level: 'MUST',
  category: 'connect-errors',
  scope: 'client',
  requirement: `A client pointed at a missing path exits non-zero with a message on stderr naming ENOENT ("${ENOENT_TEXT}").`,
  reference: 'unix(7) ERRORS: ENOENT, the pathname given to connect(2) does not exist; seed c-reference/original/client.c perror("Connect Failed")',
  arbitrary: fc.constantFrom<MissingKind>('missing-file', 'missing-dir'),
  maxRuns: 4,
  async check(kind, ctx) {
    const path = kind === 'missing-file' ? ctx.socketName() : `nodir/${ctx.socketName()}`;
    const { summary } = await ctx.runClient({ path });
    throwIfDeclaredUnsupported(summary);
    expectRefused(summary, { errorText: ENOENT_TEXT, what: 'a client given a missing path' }, { client: summary });
  },
};

export const connectEconnrefused: Property<null> = {
  id: 'connect.econnrefused',
  level: 'MUST',
  category: 'connect-errors',
  scope: 'client',
  requirement: `A client pointed at a stale socket (nobody listening) exits non-zero with a message on stderr naming ECONNREFUSED ("${ECONNREFUSED_TEXT}").`,
  reference: 'unix(7) ERRORS: ECONNREFUSED, the address given to connect(2) is not a listening socket (a stale socket file)',
  arbitrary: fc.constant(null),
  maxRuns: 3,
  async check(_input, ctx) {
    const path = ctx.socketName();
    await ctx.makeStaleSocket(path);
    const { summary } = await ctx.runClient({ path });
    throwIfDeclaredUnsupported(summary);
    expectRefused(summary, { errorText: ECONNREFUSED_TEXT, what: 'a client given a stale socket' }, { client: summary });
  },
};
