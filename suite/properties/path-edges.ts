/**
 * Path edges that broke real libraries, each tried on every run (as examples), whatever the seed:
 * - a path holding a NUL byte (Node 20's net and Python 3.11's socket bind the part before it,
 *   python/cpython#99599). An argv element cannot hold a NUL, so the seed protocol's command-line
 *   roles can never be given one: the property is a driver property, whose listen and connect take a
 *   JSON string ("\u0000"), served by process drivers and in-process adapters alike;
 * - a path of exactly 108 bytes: it fills sun_path with no room for the NUL, and Linux binds and
 *   connects it anyway (unix(7) BUGS; checked on this machine: bind(2) with a 110-byte address
 *   succeeds and the file has the whole name). Python and Rust refuse it, Node binds it, Java 16+
 *   refuses even 107 (path.forms requires 107). The requirement is what no library may do: cut it;
 * - a path ending in "/": it names a directory, so the kernel refuses both bind(2) (ENOENT) and
 *   connect(2) (ENOTDIR, even when the name without the slash is a listening socket). A library that
 *   normalises paths (path.resolve, pathlib) drops the slash and reaches another file.
 * A leading "-" is a path.forms example (paths.ts): such a path must simply work.
 */
import fc from 'fast-check';
import { NUL_PATHS, TRAILING_SLASH_NAMES, type NulPath } from '../../fixtures/corpora/paths.js';
import { DriverError } from '../driver/driver.js';
import type { CaseContext } from '../harness/context.js';
import { exitText } from '../model/format.js';
import { FIXED_MESSAGE, SUN_PATH_MAX } from '../model/seed.js';
import { nulPathArb } from './arbitraries.js';
import { bannerListener, closeAll, fetchFrom } from './listeners.js';
import type { Property } from './property.js';
import { plainServe, throwIfDeclaredUnsupported, whatIsAt } from './session.js';
import { expectBytes, expectRefused, fail, requireWorksFirst } from './verify.js';

/** The connections made to the harness's own listeners, by path, with a wait for the next one. */
class Connections {
  readonly paths: string[] = [];
  private waiters: Array<() => void> = [];

  add(path: string): void {
    this.paths.push(path);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves at the next connection; rejects at the case deadline. */
  next(signal: AbortSignal): Promise<void> {
    return new Promise((ok, bad) => {
      const onAbort = (): void => bad(signal.reason);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(() => (signal.removeEventListener('abort', onAbort), ok()));
    });
  }
}




const DECOY_BANNER = Buffer.from('DECOY: connected to another path\n');

/** Runs op; its DriverError (an honest refusal) is returned, success is null, anything else is thrown. */
async function refusal(op: () => Promise<unknown>): Promise<DriverError | null> {
  try {
    await op();
    return null;
  } catch (err) {
    if (err instanceof DriverError) return err;
    throw err;
  }
}

const shownNul = (p: NulPath): string => JSON.stringify(`${p.prefix}\0${p.suffix}`);

export const pathEmbeddedNul: Property<NulPath> = {
  id: 'path.embedded-nul',
  level: 'MUST',
  category: 'paths',
  scope: 'pairing',
  via: 'driver',
  requirement:
    'A socket path holding a NUL byte is refused by listen and by connect (an error answer), never cut at the NUL: nothing is bound at the part before it, and a socket listening there is not connected to. (Drivers only: an argv element cannot hold a NUL, so the seed protocol cannot pass one.)',
  reference: 'unix(7): sun_path holds a NUL-terminated pathname; python/cpython#99599 (Python 3.11 and Node 20 bind the part before the NUL); docs/driver-protocol.md (errors)',
  arbitrary: nulPathArb,
  examples: [...NUL_PATHS],
  maxRuns: 5,
  describe: (p) => ({ path: shownNul(p) }),
  async check(input, ctx) {
    const prefix = `${ctx.dir}/${input.prefix}`;
    const path = `${prefix}\0${input.suffix}`;
    const details = { path: shownNul(input) };
    // listen: refused, and nothing at the prefix. Precondition: the same driver listens at a valid path.
    const server = await ctx.startDriver('server');
    await server.close(await server.listen(`${ctx.dir}/valid`));
    const listenRefused = await refusal(() => server.listen(path));
    const atPrefix = await whatIsAt(prefix);
    if (!listenRefused || atPrefix !== 'nothing') {
      fail(
        `listen at ${details.path} ${listenRefused ? `answered ${listenRefused.code}` : 'succeeded'}, and ${atPrefix} is at the part before the NUL`,
        'an error answer, and nothing at the part before the NUL',
        `${listenRefused ? listenRefused.code : 'ok'}; ${atPrefix} at ${JSON.stringify(prefix)}`,
        { details: { ...details, transcript: server.transcript() } },
      );
    }
    // connect: refused, and the socket listening at the prefix never reached. Precondition: it is reachable.
    const hits = new Connections();
    const decoy = await bannerListener(prefix, DECOY_BANNER, () => hits.add(prefix));
    try {
      const client = await ctx.startDriver('client');
      const reached = hits.next(ctx.signal);
      await client.close(await client.connect(prefix));
      await reached;
      const connectRefused = await refusal(() => client.connect(path));
      if (!connectRefused) {
        fail(`connect to ${details.path} succeeded: it reached the socket at the part before the NUL`, 'an error answer', 'connected', {
          details: { ...details, transcript: client.transcript() },
        });
      }
      return { listen: listenRefused.code, connect: connectRefused.code };
    } finally {
      await closeAll([decoy]);
    }
  },
};

/** An absolute ASCII path of exactly `length` bytes inside the case dir. */
function pathOf(ctx: CaseContext, length: number): string {
  const prefix = `${ctx.dir}/`;
  return prefix + 'F'.repeat(length - prefix.length);
}

const FULL = SUN_PATH_MAX + 1;

export const pathFullSunPathServer: Property<null> = {
  id: 'path.full-sun-path-server',
  level: 'MUST',
  category: 'paths',
  scope: 'server',
  requirement: `A server that works at a valid path, given a path of exactly ${FULL} bytes (sun_path full, no room for the NUL) either listens at that whole path or refuses it with a non-zero exit and an error; it never listens at a shorter prefix.`,
  reference: 'unix(7): sun_path[108], and BUGS: Linux accepts a 108-byte name without a NUL; python/cpython#99599 (libraries differ: Python refuses it, Node binds it)',
  arbitrary: fc.constant(null),
  maxRuns: 1,
  async check(_input, ctx) {
    const worksFirst = await requireWorksFirst(ctx, 'server', { mode: 'process' });
    const path = pathOf(ctx, FULL);
    const serve = plainServe(ctx.server);
    const server = await ctx.startServer({ path, mode: 'process', payload: serve.payload });
    if (server.ready.ready) {
      // It listens at the whole path: a client of the whole path gets what it was asked to serve.
      const fetched = await fetchFrom(path, ctx.signal);
      if ('error' in fetched) throw new Error(`the server listens at the whole ${FULL}-byte path, but the harness could not read from it: ${fetched.error}`);
      const got = fetched.bytes;
      const summary = await server.exited;
      throwIfDeclaredUnsupported(summary);
      expectBytes(got, serve.expected, `listening at the whole ${FULL}-byte path, the server sent a client something else than it was given:`, { server: summary });
      return { outcome: 'listened at the whole path' };
    }
    server.kill();
    const summary = await server.exited;
    throwIfDeclaredUnsupported(summary);
    if (server.ready.reason === 'wrong-path') {
      const bound = server.ready.boundPath ?? '';
      fail(`given a ${FULL}-byte path the server listened at the ${Buffer.byteLength(bound)}-byte ${JSON.stringify(bound)}`, `the whole ${FULL}-byte path, or a refusal`, `listening at ${JSON.stringify(bound)}`, { server: summary });
    }
    return { outcome: 'refused', ...expectRefused(summary, { what: `given a ${FULL}-byte path the server` }, { server: summary }), worksFirst };
  },
};


export const pathFullSunPathClient: Property<null> = {
  id: 'path.full-sun-path-client',
  level: 'MUST',
  category: 'paths',
  scope: 'client',
  requirement: `A client that works at a valid path, given a path of exactly ${FULL} bytes (sun_path full, no room for the NUL) either connects to that whole path or refuses it with a non-zero exit and an error; it never connects to its ${SUN_PATH_MAX}-byte prefix.`,
  reference: 'unix(7): sun_path[108], and BUGS: Linux accepts a 108-byte name without a NUL; seed c-reference/original/client.c strncpy(..., sizeof sun_path - 1) cuts it',
  arbitrary: fc.constant(null),
  maxRuns: 1,
  async check(_input, ctx) {
    const worksFirst = await requireWorksFirst(ctx, 'client');
    const path = pathOf(ctx, FULL);
    const hits = new Connections();
    // The whole path serves the fixed message; the prefix a cutting client reaches serves a decoy.
    const listeners = [await bannerListener(path, FIXED_MESSAGE, () => hits.add(path)), await bannerListener(path.slice(0, SUN_PATH_MAX), DECOY_BANNER, () => hits.add(path.slice(0, SUN_PATH_MAX)))];
    try {
      const { summary, stdout } = await ctx.runClient({ path, expected: FIXED_MESSAGE });
      throwIfDeclaredUnsupported(summary);
      const prefixHits = hits.paths.filter((h) => h !== path);
      if (prefixHits.length > 0) {
        fail(`given a ${FULL}-byte path the client connected to its ${SUN_PATH_MAX}-byte prefix, ${exitText(summary)}`, `the whole ${FULL}-byte path, or a refusal`, `a connection to the ${SUN_PATH_MAX}-byte prefix`, { client: summary });
      }
      if (hits.paths.length > 0 && summary.exitCode === 0) {
        expectBytes(stdout, FIXED_MESSAGE, `connected to the whole ${FULL}-byte path, the client's stdout differs from "Server Message\\n"`, { client: summary });
        return { outcome: 'connected to the whole path' };
      }
      return { outcome: 'refused', ...expectRefused(summary, { what: `given a ${FULL}-byte path the client` }, { client: summary }), worksFirst };
    } finally {
      await closeAll(listeners);
    }
  },
};

export const pathTrailingSlashServer: Property<string> = {
  id: 'path.trailing-slash-server',
  level: 'MUST',
  category: 'paths',
  scope: 'server',
  requirement: 'A server that works at a valid path, given a path ending in "/" (a directory\'s name, which bind(2) refuses with ENOENT) refuses it with a non-zero exit and an error, and never listens at the name without the slash.',
  reference: 'path_resolution(7): a trailing slash resolves only to a directory; unix(7): bind creates the socket file; POSIX.1-2017 4.13 Pathname Resolution',
  arbitrary: fc.constantFrom(...TRAILING_SLASH_NAMES),
  examples: [...TRAILING_SLASH_NAMES],
  maxRuns: 1,
  async check(name, ctx) {
    // Relative (the server runs in the case dir), so that the path is short enough for every server:
    // the slash is the only thing under test.
    const worksFirst = await requireWorksFirst(ctx, 'server', { mode: 'process' });
    const bare = ctx.resolve(name);
    const server = await ctx.startServer({ path: `${name}/`, mode: 'process', payload: plainServe(ctx.server).payload });
    // Readiness compares resolved paths, so "NAME/" and NAME match: being ready means listening at NAME.
    const where = server.ready.ready ? name : server.ready.reason === 'wrong-path' ? server.ready.boundPath ?? '?' : null;
    if (server.ready.ready || server.ready.reason !== 'exited') server.kill();
    const summary = await server.exited;
    throwIfDeclaredUnsupported(summary);
    const left = await whatIsAt(bare);
    if (where !== null) {
      fail(`given ${JSON.stringify(`${name}/`)} the server listened at ${JSON.stringify(where)}`, 'non-zero exit with an error; nothing bound', `${exitText(summary)}; listening at ${JSON.stringify(where)}`, { server: summary });
    }
    if (left !== 'nothing') {
      fail(`given ${JSON.stringify(`${name}/`)} the server left ${left} at ${JSON.stringify(name)}, the name without the slash`, 'non-zero exit with an error; nothing bound', `${exitText(summary)}; ${left} at ${JSON.stringify(name)}`, { server: summary });
    }
    // Any error counts: libuv (Node) reports this bind's ENOENT as EACCES.
    return { ...expectRefused(summary, { what: `given ${JSON.stringify(`${name}/`)} the server` }, { server: summary }), worksFirst };
  },
};

export const pathTrailingSlashClient: Property<string> = {
  id: 'path.trailing-slash-client',
  level: 'MUST',
  category: 'paths',
  scope: 'client',
  requirement: 'A client that works at a valid path, given NAME + "/" where NAME is a listening socket refuses it with a non-zero exit and an error (connect(2) fails with ENOTDIR), and never connects to NAME.',
  reference: 'path_resolution(7): a trailing slash resolves only to a directory; connect(2) ENOTDIR; POSIX.1-2017 4.13 Pathname Resolution',
  arbitrary: fc.constantFrom(...TRAILING_SLASH_NAMES),
  examples: [...TRAILING_SLASH_NAMES],
  maxRuns: 1,
  async check(name, ctx) {
    const worksFirst = await requireWorksFirst(ctx, 'client', { mode: 'process' });
    const hits = new Connections();
    const decoy = await bannerListener(ctx.resolve(name), DECOY_BANNER, () => hits.add(ctx.resolve(name)));
    try {
      // Relative, as for the server: a client that runs in-process cannot take it, so it runs as a process.
      const { summary } = await ctx.runClient({ path: `${name}/`, mode: 'process' });
      throwIfDeclaredUnsupported(summary);
      if (hits.paths.length > 0) {
        fail(`given ${JSON.stringify(`${name}/`)} the client connected to ${JSON.stringify(name)}, the name without the slash, ${exitText(summary)}`, 'non-zero exit with an error; no connection', `a connection to ${JSON.stringify(name)}`, { client: summary });
      }
      return { ...expectRefused(summary, { what: `given ${JSON.stringify(`${name}/`)} the client` }, { client: summary }), worksFirst };
    } finally {
      await closeAll([decoy]);
    }
  },
};
