/**
 * Who may remove what sits at the socket path before bind. A server may remove a *stale* socket (a
 * connect to it gives ECONNREFUSED: nobody listens), and nothing else:
 * - a live socket is another server's address. asyncio's create_unix_server removed it and took the
 *   address over (python/cpython#121252, python/asyncio#441);
 * - a regular file, a directory or a symlink is someone's data. Docker's bind mount of a missing
 *   docker.sock leaves a directory there (moby/moby#30348), and the seed's server unlinks whatever
 *   it finds, a file full of data included.
 * Linux answers bind(2) over each of them with EADDRINUSE (unix(7); checked on this machine for a
 * socket, a regular file, a directory and a symlink, dangling or not: bind never follows one), so a
 * server that leaves them alone refuses with that error. The first listener here is the harness's
 * own, in-process, and serves every connection: a server that probes it (connects, as it should
 * before calling a socket stale) costs it nothing, so what is checked afterwards is only whether the
 * path is still its socket and answers.
 */
import { chmod, lstat, mkdir, readFile, readlink, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import type { CaseContext } from '../harness/context.js';
import { errnoText } from '../model/errno.js';
import { exitText } from '../model/format.js';
import type { ProcessSummary } from '../model/types.js';
import { bannerListener, fetchFrom } from './listeners.js';
import type { Property } from './property.js';
import { plainServe, throwIfDeclaredUnsupported, whatIsAt } from './session.js';
import { expectRefused, fail, requireWorksFirst } from './verify.js';

const PATH_REFERENCES =
  'python/cpython#121252, python/asyncio#441 (asyncio removes a live socket), moby/moby#30348 (a directory at the path); unix(7), bind(2) EADDRINUSE';

/** Starts the server under test at path (as a process) and waits until it exits, or kills it if it listens instead. */
async function startAndEnd(ctx: CaseContext, path: string): Promise<{ summary: ProcessSummary; listened: string | undefined }> {
  const server = await ctx.startServer({ path, mode: 'process', payload: plainServe(ctx.server).payload });
  const listened = server.ready.ready ? `at ${JSON.stringify(path)}` : server.ready.reason === 'wrong-path' ? server.ready.detail : undefined;
  if (server.ready.ready || server.ready.reason !== 'exited') server.kill();
  const summary = await server.exited;
  throwIfDeclaredUnsupported(summary);
  return { summary, listened };
}

// ---- path.live-not-stolen ----

const FIRST_BANNER = Buffer.from('FIRST LISTENER: still serving at this path\n');




export const pathLiveNotStolen: Property<null> = {
  id: 'path.live-not-stolen',
  level: 'SHOULD',
  category: 'path-ownership',
  scope: 'server',
  requirement: `A server that works at a valid path, started at the path of a socket another server listens on, refuses: it exits non-zero with stderr naming ${errnoText('EADDRINUSE')}, by name or text, and the first listener still owns the path and serves a client there afterwards.`,
  reference: PATH_REFERENCES,
  arbitrary: fc.constant(null),
  maxRuns: 2,
  async check(_input, ctx) {
    const worksFirst = await requireWorksFirst(ctx, 'server', { mode: 'process' });
    const path = ctx.socketName();
    const absolute = ctx.resolve(path);
    const first = await bannerListener(absolute, FIRST_BANNER);
    try {
      const firstInode = (await lstat(absolute)).ino;
      const { summary, listened } = await startAndEnd(ctx, path);
      const details = { firstListenerConnections: first.accepted() };
      // The first listener's socket must still be the one at the path, and answer there.
      const now = await lstat(absolute).catch(() => undefined);
      const fetched = await fetchFrom(absolute, ctx.signal);
      const problems: string[] = [];
      if (listened) problems.push(`the server listened ${listened}`);
      if (!now) problems.push('the first listener\'s socket is gone from the path');
      else if (now.ino !== firstInode) problems.push(`the path now holds ${(await whatIsAt(absolute)).replace(/^a /, 'another ')}, not the first listener's socket`);
      if ('error' in fetched) problems.push(`a client connecting to the path afterwards got ${fetched.error}`);
      else if (!fetched.bytes.equals(FIRST_BANNER)) problems.push(`a client connecting to the path afterwards read ${JSON.stringify(fetched.bytes.toString('latin1').slice(0, 60))}, not the first listener's banner`);
      if (problems.length > 0) {
        fail(
          `started over a live listener, ${problems.join('; ')} (server ${exitText(summary)})`,
          `the server refuses (${errnoText('EADDRINUSE')}) and the first listener still serves at the path`,
          problems.join('; '),
          { server: summary, details },
        );
      }
      const refused = expectRefused(summary, { errno: ['EADDRINUSE'], what: 'started at the path of a live listener, the server' }, { server: summary, details });
      return { ...refused, worksFirst, ...details };
    } finally {
      await first.close();
    }
  },
};

// ---- path.non-socket-kept ----

export type NonSocketKind = 'regular-file' | 'directory' | 'dangling-symlink' | 'victim-symlink';

export interface NonSocketInput {
  kind: NonSocketKind;
  /** The bytes of the regular file, or of the victim file behind the symlink. */
  bytes: Uint8Array;
  /** Their permission bits. */
  mode: number;
}

/** A file outside the case dir that a symlink at the path points to: what a server may never touch. */
export interface Victim {
  path: string;
  bytes: Uint8Array;
  mode: number;
}

/** What is at a path, in enough detail to tell whether anything was removed, replaced or changed. */
interface Snapshot {
  kind: 'nothing' | 'a regular file' | 'a directory' | 'a symlink' | 'a socket' | 'a special file';
  ino?: number;
  mode?: number;
  bytes?: Buffer;
  target?: string;
  entries?: string[];
}

async function snapshot(path: string): Promise<Snapshot> {
  const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!st) return { kind: 'nothing' };
  const base = { ino: st.ino, mode: st.mode & 0o7777 };
  if (st.isSymbolicLink()) return { kind: 'a symlink', ...base, target: await readlink(path) };
  if (st.isFile()) return { kind: 'a regular file', ...base, bytes: await readFile(path) };
  if (st.isDirectory()) return { kind: 'a directory', ...base, entries: (await readdir(path)).sort() };
  return { kind: st.isSocket() ? 'a socket' : 'a special file', ...base };
}

const octal = (mode: number): string => `0${mode.toString(8)}`;

/** What changed between two snapshots of the same path, in words about `what` ("the regular file at the path"). */
function changes(what: string, before: Snapshot, after: Snapshot): string[] {
  if (before.kind === 'nothing') return after.kind === 'nothing' ? [] : [`${what}, which did not exist, is now ${after.kind}`];
  if (after.kind !== before.kind) {
    // A regular file's data is what is lost: say how much.
    const removed = before.bytes ? `${what} was removed, its ${before.bytes.length === 1 ? '1 byte' : `${before.bytes.length} bytes`} lost` : `${what} was removed`;
    return [after.kind === 'nothing' ? removed : `${removed}, and ${after.kind} is there now`];
  }
  if (after.ino !== before.ino) return [`${what} was replaced by another ${before.kind.replace(/^an? /, '')}`];
  const found: string[] = [];
  if (before.bytes && after.bytes && !after.bytes.equals(before.bytes)) {
    const common = Math.min(before.bytes.length, after.bytes.length);
    let at = 0;
    while (at < common && before.bytes[at] === after.bytes[at]) at++;
    found.push(
      at === after.bytes.length
        ? `${what} was truncated to ${after.bytes.length} of its ${before.bytes.length} bytes`
        : `${what}'s bytes changed at offset ${at} (${after.bytes.length} bytes now, ${before.bytes.length} before)`,
    );
  }
  if (after.mode !== before.mode) found.push(`${what}'s mode changed from ${octal(before.mode!)} to ${octal(after.mode!)}`);
  if (after.target !== before.target) found.push(`${what} now points to ${JSON.stringify(after.target)}, not ${JSON.stringify(before.target)}`);
  if (JSON.stringify(after.entries) !== JSON.stringify(before.entries)) found.push(`${what} now holds ${JSON.stringify(after.entries)}`);
  return found;
}

/** What is wrong with the victim now (removed, replaced, other bytes, another mode), in words; empty when intact. */
export async function victimHarm(victim: Victim): Promise<string[]> {
  const now = await snapshot(victim.path);
  const expected: Snapshot = { kind: 'a regular file', ino: now.ino, mode: victim.mode, bytes: Buffer.from(victim.bytes) };
  return changes(`the victim file ${victim.path}`, expected, now);
}

/**
 * Where the symlink-to-victim case gets its victim. By default each case makes its own, in a private
 * sibling of the case dir (outside it, so only the symlink leads there), and removes it at the end;
 * test/victim.test.ts gives one victim to every case of a run and checks it once more afterwards.
 */
export type VictimSource = (ctx: CaseContext, input: NonSocketInput) => Promise<{ victim: Victim; release: () => Promise<void> }>;

let victimCounter = 0;

const privateVictim: VictimSource = async (ctx, input) => {
  // Named like the case dir (udsc-<pid>-...), so the harness's sweep and the leftover checks know it.
  const dir = `${ctx.dir}-v${++victimCounter}`;
  await mkdir(dir, { mode: 0o700 });
  const victim = { path: `${dir}/victim.txt`, bytes: input.bytes, mode: input.mode };
  await writeFile(victim.path, input.bytes);
  await chmod(victim.path, input.mode);
  return { victim, release: () => rm(dir, { recursive: true, force: true }) };
};

const KIND_WORDS: Record<NonSocketKind, string> = {
  'regular-file': 'a regular file',
  directory: 'an empty directory',
  'dangling-symlink': 'a dangling symlink',
  'victim-symlink': 'a symlink to a file outside the case dir',
};

const nonSocketArb: fc.Arbitrary<NonSocketInput> = fc.record({
  kind: fc.constantFrom<NonSocketKind>('regular-file', 'directory', 'dangling-symlink', 'victim-symlink'),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  mode: fc.constantFrom(0o600, 0o640, 0o444),
});

const PRECIOUS = Buffer.from('precious data: this file is not a socket\n');

/** path.non-socket-kept, with the victims of its symlink case taken from `victims`. */
export function nonSocketKept(victims: VictimSource = privateVictim): Property<NonSocketInput> {
  return {
    id: 'path.non-socket-kept',
    level: 'MUST',
    category: 'path-ownership',
    scope: 'server',
    requirement: `A server that works at a valid path, started at a path where a regular file, a directory or a symlink (dangling, or to a file elsewhere) sits, refuses: it exits non-zero with an error on stderr (bind(2) says ${errnoText('EADDRINUSE')} for each; a library that looks first may say EEXIST, ENOTSOCK or EISDIR), and removes, truncates and follows none of them (the file's bytes and mode, the directory, the symlink and its target are as they were).`,
    reference: PATH_REFERENCES,
    arbitrary: nonSocketArb,
    examples: (['regular-file', 'directory', 'dangling-symlink', 'victim-symlink'] as const).map((kind) => ({ kind, bytes: PRECIOUS, mode: 0o640 })),
    maxRuns: 4,
    describe: (input) => ({ kind: input.kind, bytes: input.bytes.length, mode: octal(input.mode) }),
    async check(input, ctx) {
      const worksFirst = await requireWorksFirst(ctx, 'server', { mode: 'process' });
      const path = ctx.socketName();
      const absolute = ctx.resolve(path);
      const danglingTarget = `${absolute}-nowhere`;
      let victim: Victim | undefined;
      let release: (() => Promise<void>) | undefined;
      try {
        if (input.kind === 'regular-file') {
          await writeFile(absolute, input.bytes);
          await chmod(absolute, input.mode);
        } else if (input.kind === 'directory') await mkdir(absolute, { mode: 0o750 });
        else if (input.kind === 'dangling-symlink') await symlink(danglingTarget, absolute);
        else {
          ({ victim, release } = await victims(ctx, input));
          await symlink(victim.path, absolute);
        }
        const before = await snapshot(absolute);
        const targetBefore = input.kind === 'dangling-symlink' ? await snapshot(danglingTarget) : undefined;
        const { summary, listened } = await startAndEnd(ctx, path);
        const problems = changes(`${KIND_WORDS[input.kind]} at the path`, before, await snapshot(absolute));
        if (targetBefore) problems.push(...changes("the dangling symlink's target", targetBefore, await snapshot(danglingTarget)));
        if (victim) problems.push(...(await victimHarm(victim)));
        if (listened) problems.unshift(`the server listened ${listened}`);
        const details = { kind: input.kind, ...(victim ? { victim: victim.path } : {}) };
        if (problems.length > 0) {
          fail(
            `started where ${KIND_WORDS[input.kind]} sits, ${problems.join('; ')} (server ${exitText(summary)})`,
            `a refusal, with ${KIND_WORDS[input.kind]} left as it was`,
            problems.join('; '),
            { server: summary, details },
          );
        }
        const refused = expectRefused(summary, { what: `started where ${KIND_WORDS[input.kind]} sits, the server` }, { server: summary, details });
        return { ...refused, worksFirst, kind: input.kind };
      } finally {
        await release?.();
      }
    },
  };
}

export const pathNonSocketKept: Property<NonSocketInput> = nonSocketKept();
