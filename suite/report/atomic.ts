/**
 * The --out directory: checked before any case runs, locked for the whole run, and written atomically.
 *
 * - checkOutDir refuses (OutDirError, the CLI's exit 2) a path that names a file, lies under a file, is
 *   not writable, or is in /proc or /sys, without creating anything.
 * - lockOutDir takes `.uds-conformance.lock` in the directory, holding the pid. A lock whose pid is
 *   dead (a run killed with SIGKILL) is taken over; one whose pid is alive makes this run fail at once
 *   with OutDirError (exit 2), before its first case: a run takes minutes, so waiting for the other
 *   one's end is worse than saying which pid holds the directory. Two runs into one --out therefore
 *   never both write there, and the reports in it are one run's complete set.
 * - stageFiles/commitStaged write the reports into a staging directory inside --out, then rename each
 *   into place: a reader never sees a half-written report, and a run that dies while rendering leaves
 *   the previous set whole.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, linkSync, mkdirSync, readFileSync, realpathSync, renameSync, rmdirSync, rmSync, statSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';

/** A bad --out: the CLI exits 2 with the message, which names the directory. */
export class OutDirError extends Error {}

export const LOCK_FILE = '.uds-conformance.lock';

/** statfs f_type of the kernel's pseudo file systems (linux/magic.h). */
const PSEUDO_FS = new Map<number, string>([
  [0x9fa0, '/proc'],
  [0x62656572, '/sys'],
]);

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * Checks that reports can be written to `dir` (which may not exist yet), creating nothing. The
 * nearest existing ancestor must be a directory, outside /proc and /sys, writable by this process.
 */
export function checkOutDir(dir: string, flag = '--out'): void {
  const wanted = resolve(dir);
  let existing = wanted;
  for (;;) {
    let st;
    try {
      st = statSync(existing);
    } catch (err) {
      if (code(err) !== 'ENOENT' && code(err) !== 'ENOTDIR') throw new OutDirError(`${flag} ${dir}: cannot use ${existing} (${code(err) ?? (err as Error).message})`);
      const parent = dirname(existing);
      if (parent === existing) throw new OutDirError(`${flag} ${dir}: no part of the path exists`);
      existing = parent;
      continue;
    }
    if (!st.isDirectory()) {
      throw new OutDirError(existing === wanted ? `${flag} ${dir} names a file, not a directory` : `${flag} ${dir} lies under a file (${existing}), not a directory`);
    }
    break;
  }
  const real = realpathSync(existing);
  const fsName = PSEUDO_FS.get(statfsSync(existing).type);
  const under = (root: string): boolean => real === root || real.startsWith(`${root}${sep}`);
  const pseudo = fsName ?? ['/proc', '/sys'].find(under);
  if (pseudo) throw new OutDirError(`${flag} ${dir} is in ${pseudo}, a kernel file system: reports cannot be written there`);
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new OutDirError(`${flag} ${dir} is not writable (${code(err) ?? 'access'} on ${existing})`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return code(err) === 'EPERM';
  }
}

export interface OutLock {
  readonly dir: string;
  /** Removes the lock, and the directories lockOutDir created if nothing was written into them. */
  release(): void;
}

interface Held {
  lockPath: string;
  created: string | undefined;
  count: number;
}
const held = new Map<string, Held>();
let exitHookInstalled = false;

function releaseHeld(dir: string, h: Held): void {
  held.delete(dir);
  try {
    if (readFileSync(h.lockPath, 'utf8').trim() === String(process.pid)) unlinkSync(h.lockPath);
  } catch {
    // already gone
  }
  // Leave nothing behind when no report was written: rmdir refuses a directory that is not empty.
  if (h.created) {
    for (let d = dir; ; d = dirname(d)) {
      try {
        rmdirSync(d);
      } catch {
        break;
      }
      if (d === h.created) break;
    }
  }
}

/**
 * Takes the lock of `dir` (created if missing) for this process; a second lockOutDir of the same
 * directory in this process shares it. Throws OutDirError when another live process holds it.
 */
export function lockOutDir(dir: string, flag = '--out'): OutLock {
  const abs = resolve(dir);
  const already = held.get(abs);
  if (already) {
    already.count++;
    return { dir: abs, release: () => --already.count === 0 && releaseHeld(abs, already) };
  }
  let created: string | undefined;
  try {
    created = mkdirSync(abs, { recursive: true });
  } catch (err) {
    throw new OutDirError(`${flag} ${dir}: cannot create it (${code(err) ?? (err as Error).message})`);
  }
  const lockPath = join(abs, LOCK_FILE);
  // The pid is written to a private file first and linked into place: link(2) fails with EEXIST like
  // open(O_EXCL) does, and a lock is never seen empty (between its creation and the write of the pid).
  const mine = join(abs, `${LOCK_FILE}.${process.pid}-${randomBytes(4).toString('hex')}`);
  writeFileSync(mine, `${process.pid}\n`, { flag: 'wx' });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(mine, lockPath);
        break;
      } catch (err) {
        if (code(err) !== 'EEXIST' || attempt >= 5) throw err;
      }
      let owner: number;
      let ino: number;
      try {
        ino = statSync(lockPath).ino;
        owner = Number(readFileSync(lockPath, 'utf8').trim());
      } catch (err) {
        if (code(err) === 'ENOENT') continue; // released meanwhile
        throw err;
      }
      if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
        throw new OutDirError(`${flag} ${dir} is in use by another run (pid ${owner}, ${lockPath}): wait for it to finish or choose another ${flag}`);
      }
      // Stale: its run died without removing it. Rename it away (atomic, so of two runs taking it over
      // at once only one moves it), then check that what moved is the stale lock that was read.
      const grave = join(abs, `${LOCK_FILE}.stale-${process.pid}-${randomBytes(4).toString('hex')}`);
      try {
        renameSync(lockPath, grave);
      } catch (err) {
        if (code(err) === 'ENOENT') continue;
        throw err;
      }
      if (statSync(grave).ino !== ino) {
        // Another run took the stale lock over between our read and our rename: give its lock back.
        try {
          linkSync(grave, lockPath);
        } catch {
          // a third run got there: it and the owner of the moved lock will see each other's pid
        }
      }
      unlinkSync(grave);
    }
  } catch (err) {
    rmSync(mine, { force: true });
    if (created) releaseHeld(abs, { lockPath: mine, created, count: 0 });
    throw err;
  }
  unlinkSync(mine);
  const h: Held = { lockPath, created, count: 1 };
  held.set(abs, h);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A signal ends the process through process.exit (harness/process.ts): the lock goes with it.
    process.on('exit', () => {
      for (const [d, x] of [...held]) releaseHeld(d, x);
    });
  }
  return { dir: abs, release: () => --h.count === 0 && releaseHeld(abs, h) };
}

/** A staging directory inside `dir`, for files that commitStaged then renames into `dir`. */
export function stagingDir(dir: string): string {
  const staging = join(dir, `.uds-conformance-staging-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(staging);
  return staging;
}

/** Renames every staged file into `dir` (each rename is atomic), then removes the staging directory. */
export function commitStaged(staging: string, dir: string, files: readonly string[]): string[] {
  const out = files.map((f) => {
    const target = join(dir, basename(f));
    renameSync(join(staging, basename(f)), target);
    return target;
  });
  rmSync(staging, { recursive: true, force: true });
  return out;
}
