/** Connect errors: a client that cannot connect says so and fails. */
import fc from 'fast-check';
import { CheckFailure, type Property } from '../model/types.js';
import { exitText, throwIfDeclaredUnsupported } from './session.js';

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
  reference: 'connect(2) ENOENT; seed client.c displayError("Connect Failed"); uds-semantics B6',
  arbitrary: fc.constantFrom<MissingKind>('missing-file', 'missing-dir'),
  maxRuns: 4,
  async check(kind, ctx) {
    const path = kind === 'missing-file' ? ctx.socketName() : `nodir/${ctx.socketName()}`;
    const { summary } = await ctx.runClient({ path });
    throwIfDeclaredUnsupported(summary);
    if (summary.exitCode === 0 || summary.exitCode === null || !summary.stderr.includes(ENOENT_TEXT)) {
      throw new CheckFailure({
        message: `a client given a missing path ended with ${exitText(summary)} and stderr ${JSON.stringify(summary.stderr.slice(0, 200))}`,
        expected: `non-zero exit, stderr containing "${ENOENT_TEXT}"`,
        actual: `${exitText(summary)}, stderr ${JSON.stringify(summary.stderr.slice(0, 200))}`,
        client: summary,
      });
    }
  },
};

export const connectEconnrefused: Property<null> = {
  id: 'connect.econnrefused',
  level: 'MUST',
  category: 'connect-errors',
  scope: 'client',
  requirement: `A client pointed at a stale socket (nobody listening) exits non-zero with a message on stderr naming ECONNREFUSED ("${ECONNREFUSED_TEXT}").`,
  reference: 'connect(2) ECONNREFUSED; unix(7); uds-semantics B7',
  arbitrary: fc.constant(null),
  maxRuns: 3,
  async check(_input, ctx) {
    const path = ctx.socketName();
    await ctx.makeStaleSocket(path);
    const { summary } = await ctx.runClient({ path });
    throwIfDeclaredUnsupported(summary);
    if (summary.exitCode === 0 || summary.exitCode === null || !summary.stderr.includes(ECONNREFUSED_TEXT)) {
      throw new CheckFailure({
        message: `a client given a stale socket ended with ${exitText(summary)} and stderr ${JSON.stringify(summary.stderr.slice(0, 200))}`,
        expected: `non-zero exit, stderr containing "${ECONNREFUSED_TEXT}"`,
        actual: `${exitText(summary)}, stderr ${JSON.stringify(summary.stderr.slice(0, 200))}`,
        client: summary,
      });
    }
  },
};
