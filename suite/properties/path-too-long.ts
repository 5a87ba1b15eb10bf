/**
 * A path too long for sun_path must be refused, never truncated. Silent truncation is made visible:
 * decoy listeners wait at the prefixes a truncating client would reach (107 and 108 bytes), and a
 * truncating server shows up listening at a prefix (readiness sees its socket at another path).
 * The refusal names ENAMETOOLONG or EINVAL (the kernel's answer to an oversized address; Go's too),
 * and counts only from a role that works at a valid path in the same case (requireWorksFirst).
 */
import fc from 'fast-check';
import type { CaseContext } from '../harness/context.js';
import type { ErrnoName } from '../model/errno.js';
import { exitText } from '../model/format.js';
import { SUN_PATH_MAX } from '../model/seed.js';
import { bannerListener, closeAll, type BannerListener } from './listeners.js';
import type { Property } from './property.js';
import { plainServe, throwIfDeclaredUnsupported } from './session.js';
import { expectRefused, fail, requireWorksFirst } from './verify.js';

/** An absolute ASCII path of `length` bytes inside the case dir (longer than sun_path's 107). */
function longPath(ctx: CaseContext, length: number): string {
  const prefix = `${ctx.dir}/`;
  return prefix + 'L'.repeat(length - prefix.length);
}

// 108 bytes exactly fit without the NUL (Linux accepts that, unix(7) BUGS): refusal is required beyond it.
const lengthArb = fc.integer({ min: SUN_PATH_MAX + 2, max: 300 });
const DECOY_BANNER = 'DECOY: connected to a truncated path\n';
/** What a refusal of a too-long path names (model/errno.ts also takes CPython's, Rust's and socat's wordings). */
const TOO_LONG: readonly ErrnoName[] = ['ENAMETOOLONG', 'EINVAL'];


export const pathTooLongClient: Property<number> = {
  id: 'path.too-long-client',
  level: 'MUST',
  category: 'paths',
  scope: 'client',
  requirement:
    "A client that works at a valid path, given a path longer than 108 bytes (sun_path's size), refuses it with a non-zero exit and stderr naming ENAMETOOLONG or EINVAL, and never connects to a truncated prefix.",
  reference: 'unix(7): sun_path[108]; seed c-reference/original/client.c strncpy(..., sizeof sun_path - 1) truncates',
  arbitrary: lengthArb,
  examples: [109, 110, 200],
  maxRuns: 5,
  async check(length, ctx) {
    const worksFirst = await requireWorksFirst(ctx, 'client');
    const path = longPath(ctx, length);
    const hits: string[] = [];
    const at = (prefix: string): Promise<BannerListener> => bannerListener(prefix, DECOY_BANNER, () => hits.push(prefix));
    const decoys = [await at(path.slice(0, SUN_PATH_MAX)), await at(path.slice(0, SUN_PATH_MAX + 1))];
    try {
      const { summary, stdout } = await ctx.runClient({ path });
      throwIfDeclaredUnsupported(summary);
      if (hits.length > 0) {
        fail(
          `given a ${length}-byte path the client connected to its ${Buffer.byteLength(hits[0]!)}-byte prefix (silent truncation), ${exitText(summary)}`,
          'non-zero exit with an error on stderr; no connection',
          `${exitText(summary)}; connections to ${hits.map((h) => `${Buffer.byteLength(h)}-byte prefix`).join(', ')}; stdout ${JSON.stringify(stdout.head().toString().slice(0, 60))}`,
          { client: summary, details: { length } },
        );
      }
      const refused = expectRefused(
        summary,
        { errno: TOO_LONG, what: `given a ${length}-byte path the client` },
        { client: summary, details: { length, stdout: stdout.head().toString().slice(0, 60) } },
      );
      return { ...refused, worksFirst };
    } finally {
      await closeAll(decoys);
    }
  },
};

export const pathTooLongServer: Property<number> = {
  id: 'path.too-long-server',
  level: 'MUST',
  category: 'paths',
  scope: 'server',
  requirement:
    "A server that works at a valid path, given a path longer than 108 bytes (sun_path's size), refuses it with a non-zero exit and stderr naming ENAMETOOLONG or EINVAL, and never listens at a truncated prefix.",
  reference: 'unix(7): sun_path[108]; seed c-reference/original/server.c binds sizeof(struct sockaddr), truncating',
  arbitrary: lengthArb,
  examples: [109, 110, 200],
  maxRuns: 5,
  async check(length, ctx) {
    const worksFirst = await requireWorksFirst(ctx, 'server', { mode: 'process' });
    const path = longPath(ctx, length);
    const server = await ctx.startServer({ path, mode: 'process', payload: plainServe(ctx.server).payload });
    if (server.ready.ready || server.ready.reason !== 'exited') server.kill();
    const summary = await server.exited;
    throwIfDeclaredUnsupported(summary);
    if (server.ready.ready || server.ready.reason === 'wrong-path') {
      const where = server.ready.ready ? 'at the full path (impossible: it cannot fit)' : `at the ${Buffer.byteLength(server.ready.boundPath ?? '')}-byte prefix ${JSON.stringify(server.ready.boundPath)}`;
      fail(`given a ${length}-byte path the server listened ${where}`, 'non-zero exit with an error on stderr; no listening socket', `${exitText(summary)}; listening ${where}`, { server: summary, details: { length } });
    }
    const refused = expectRefused(summary, { errno: TOO_LONG, what: `given a ${length}-byte path the server` }, { server: summary, details: { length } });
    return { ...refused, worksFirst };
  },
};
