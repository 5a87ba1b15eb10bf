/**
 * Case dirs: one private temp dir per case (mkdtemp, mode 0700), named udsc-<harness pid>-<random>, and
 * removed after the case, whatever the subject made in it.
 *
 * Each case dir (and its payload sibling, `<dir>-p`) holds an owner file, `.udsc-owner`: the harness's
 * pid, its start time (field 22 of /proc/<pid>/stat) and the boot and pid namespace it ran in. A run
 * whose process is gone (a SIGKILLed CLI) cannot remove its dirs; the next run does
 * (`sweepStaleCaseDirs`), and only dirs whose owner file names a process that is gone: a reused pid has
 * another start time, and a name alone proves nothing. A dir without a readable owner file, or whose
 * owner cannot be judged (another pid namespace, no /proc), is left alone.
 *
 * Removal is rm -rf grade and never follows a link out: fs.rm first (it unlinks symlinks, never their
 * targets); where that fails (a tree deeper than PATH_MAX gives ENAMETOOLONG, a dir of mode 000 EACCES
 * to a non-root harness), `chmod -R u+rwX` (only when not root, who needs no permission bits) and GNU
 * `rm -rf --one-file-system`, which walk by relative steps (fts over openat) and do not follow links.
 * What still cannot go (an immutable file: chattr +i) is reported once per path on stderr, never thrown:
 * a case's status is never turned into a harness error by its dir.
 */
import { execFile, spawnSync } from 'node:child_process';
import { closeSync, lstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { lstat, rm, rmdir, unlink } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';

export const CASE_DIR_PREFIX = 'udsc';
/** The owner file in every case dir and payload dir (see the file comment). */
export const OWNER_FILE = '.udsc-owner';

/** How long the rm/chmod fallback may take for one dir (a huge tree on a slow disk), then it is reported. */
const FALLBACK_DEADLINE_MS = 60_000;

/** Who owns a dir: enough to tell, later, whether that process is still the same one. */
export interface Owner {
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22); '' where /proc cannot say. */
  start: string;
  /** /proc/sys/kernel/random/boot_id: pids and start times begin again at each boot. */
  boot: string;
  /** The pid namespace (readlink /proc/self/ns/pid): a pid means nothing in another one. */
  ns: string;
}

function readOr(read: () => string, fallback = ''): string {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** State (field 3) and start time (field 22) of a process, from /proc/<pid>/stat; undefined when it is gone. */
export function processStat(pid: number): { state: string; start: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw err;
  }
  // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', start: fields[19] ?? '' };
}

let self: Owner | undefined;
let selfText: string | undefined;

/** This process as an owner (computed once). */
export function selfOwner(): Owner {
  self ??= {
    pid: process.pid,
    start: readOr(() => processStat(process.pid)?.start ?? ''),
    boot: readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()),
    ns: readOr(() => readlinkSync('/proc/self/ns/pid')),
  };
  return self;
}

/** Writes the owner file into dir: this process owns it. */
export function markOwned(dir: string, owner: Owner = selfOwner()): void {
  const text = owner === self ? (selfText ??= `${JSON.stringify(owner)}\n`) : `${JSON.stringify(owner)}\n`;
  writeFileSync(join(dir, OWNER_FILE), text, { mode: 0o600, flag: 'wx' });
}

/**
 * Whether the process an owner file names is gone: another boot, no such pid, a zombie, or a pid
 * reused by a process with another start time. False when it cannot tell (another pid namespace, no
 * start time recorded, /proc unreadable): a dir is swept only on proof.
 */
export function ownerGone(owner: Owner): boolean {
  const me = selfOwner();
  if (owner.boot && me.boot && owner.boot !== me.boot) return true;
  if (!owner.ns || owner.ns !== me.ns || !owner.start) return false;
  let stat;
  try {
    stat = processStat(owner.pid);
  } catch {
    return false;
  }
  if (!stat) return true;
  if (stat.state === 'Z' || stat.state === 'X') return true;
  return stat.start !== owner.start;
}

/** The owner file of dir, if it is a regular file of ours that parses as one; else undefined (not ours). */
export function readOwner(dir: string): Owner | undefined {
  const file = join(dir, OWNER_FILE);
  try {
    const st = lstatSync(file);
    if (!st.isFile() || st.uid !== process.geteuid?.() || st.size > 4096) return undefined;
    const fd = openSync(file, 'r');
    const buffer = Buffer.alloc(st.size);
    try {
      readSync(fd, buffer, 0, st.size, 0);
    } finally {
      closeSync(fd);
    }
    const value = JSON.parse(buffer.toString('utf8')) as Partial<Owner>;
    if (!Number.isSafeInteger(value.pid) || (value.pid as number) <= 0) return undefined;
    if (typeof value.start !== 'string' || typeof value.boot !== 'string' || typeof value.ns !== 'string') return undefined;
    return value as Owner;
  } catch {
    return undefined;
  }
}

/**
 * A new case dir, with its owner file. Synchronous, as mkdtemp(3) takes 0.06 ms (tmp-promise's dir and
 * cleanup took 2.3 ms per case here: extra stat calls, synchronous recursive removal).
 */
export function makeCaseDir(): string {
  const dir = mkdtempSync(join(os.tmpdir(), `${CASE_DIR_PREFIX}-${process.pid}-`));
  try {
    markOwned(dir);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return dir;
}

// ---- reporting what cannot be removed ----

const reported = new Set<string>();
let sink: (line: string) => void = (line) => void process.stderr.write(line);

/** Where "could not remove" lines go (stderr by default); returns the previous sink. For tests. */
export function setUnremovableSink(next: (line: string) => void): (line: string) => void {
  const previous = sink;
  sink = next;
  return previous;
}

/** Reports path once per process: its path and why, as the removal said it. */
function reportUnremovable(path: string, reason: string): void {
  if (reported.has(path)) return;
  reported.add(path);
  sink(`uds-conformance: could not remove ${printable(path)}: ${printable(reason)}; it is left in place (an immutable file needs chattr -i before rm -rf)\n`);
}

/** One line, control bytes escaped: names a subject chose may hold newlines or escape sequences. */
function printable(text: string): string {
  const one = text.trim().replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\n' ? ' | ' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
  return one.length > 600 ? `${one.slice(0, 599)}…` : one;
}

// ---- removal ----

const isRoot = (): boolean => process.geteuid?.() === 0;

/** rm's and chmod's arguments for the fallback; the caller has checked that path is a directory, not a link. */
function fallbackCommands(path: string): Array<[string, string[]]> {
  // GNU chmod follows a symlink named on its command line, hence the lstat before; inside the tree
  // it skips symlinks. Root needs no permission bits, so it never runs chmod at all.
  const chmod: Array<[string, string[]]> = isRoot() ? [] : [['chmod', ['-R', 'u+rwX', '--', path]]];
  return [...chmod, ['rm', ['-rf', '--one-file-system', '--', path]]];
}

const FALLBACK_ENV = { ...process.env, LC_ALL: 'C' };

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Removes path and everything under it; returns why it could not (undefined when it is gone). Never throws. */
export async function removeTree(path: string): Promise<string | undefined> {
  let first: unknown;
  try {
    await rm(path, { recursive: true, force: true, maxRetries: 2, retryDelay: 20 });
    return undefined;
  } catch (err) {
    first = err;
  }
  let st;
  try {
    st = await lstat(path);
  } catch {
    return undefined;
  }
  if (!st.isDirectory()) return errorText(first);
  let said = '';
  for (const [file, args] of fallbackCommands(path)) {
    said = await new Promise<string>((done) => {
      execFile(file, args, { env: FALLBACK_ENV, timeout: FALLBACK_DEADLINE_MS, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (err, _stdout, stderr) =>
        done(err ? String(stderr).trim() || errorText(err) : ''),
      );
    });
  }
  try {
    await lstat(path);
  } catch {
    return undefined;
  }
  return said || errorText(first);
}

/** removeTree, synchronously: for exit paths, where nothing asynchronous runs any more. Never throws. */
export function removeTreeSync(path: string): string | undefined {
  let first: unknown;
  try {
    rmSync(path, { recursive: true, force: true, maxRetries: 2, retryDelay: 20 });
    return undefined;
  } catch (err) {
    first = err;
  }
  const exists = (): boolean => {
    try {
      lstatSync(path);
      return true;
    } catch {
      return false;
    }
  };
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return undefined;
  }
  if (!st.isDirectory()) return errorText(first);
  let said = '';
  for (const [file, args] of fallbackCommands(path)) {
    const r = spawnSync(file, args, { env: FALLBACK_ENV, timeout: FALLBACK_DEADLINE_MS, killSignal: 'SIGKILL', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 20 });
    said = r.status === 0 ? '' : String(r.stderr ?? '').trim() || errorText(r.error ?? `${file} exited ${r.status ?? r.signal}`);
  }
  return exists() ? said || errorText(first) : undefined;
}

/**
 * Removes a case dir (or payload dir). The usual case left its owner file and at most a few plain
 * entries (the server's socket file: the seed's server never unlinks it): those are unlinked here, the
 * owner file last, then one rmdir. Anything else (a subdirectory, an entry that will not go) takes the
 * whole-tree removal. The rmdir is in the thread pool: on this ext4 /tmp one takes 0.1 to 0.7 ms, which
 * the event loop spends on other cases meanwhile. Never throws; what cannot be removed is reported once.
 */
export async function removeCaseDir(dir: string): Promise<void> {
  try {
    if (unlinkPlainEntries(dir)) {
      try {
        await rmdir(dir);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      }
    }
    // Not empty: mark it again first, so that a harness killed during a long removal leaves a dir the
    // next run sweeps (best effort: a subject may have made the dir unwritable).
    try {
      markOwned(dir);
    } catch {
      // the removal below still runs (or it is marked still)
    }
    const failure = await removeTree(dir);
    if (failure === undefined) return;
    reportUnremovable(dir, failure);
    // The partial removal took the owner file too: what is left stays sweepable by a later run.
    try {
      markOwned(dir);
    } catch {
      // reported already
    }
  } catch (err) {
    reportUnremovable(dir, errorText(err));
  }
}

/** Entries a case dir may hold that removeCaseDir unlinks itself; more take the whole-tree removal. */
const PLAIN_ENTRIES_MAX = 8;

/**
 * Unlinks every entry of dir when all are plain (no subdirectory, at most PLAIN_ENTRIES_MAX), the owner
 * file last, so that a harness killed meanwhile leaves a dir that is still marked. Synchronous: an
 * unlink takes 10 to 20 us, where a trip through the thread pool cost 0.1 to 0.3 ms. True when only
 * the rmdir is left to do (or the dir is gone); false leaves the rest to removeTree, the owner file in
 * place where it was.
 */
function unlinkPlainEntries(dir: string): boolean {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
  if (entries.length > PLAIN_ENTRIES_MAX || entries.some((e) => e.isDirectory())) return false;
  for (const entry of entries) {
    if (entry.name === OWNER_FILE) continue;
    try {
      unlinkSync(join(dir, entry.name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false;
    }
  }
  try {
    unlinkSync(join(dir, OWNER_FILE));
  } catch {
    // a subject removed it, or the dir is gone
  }
  return true;
}

/** Top-level entries of the temp dir that may be ours: named udsc-*, real dirs (not links), of our uid. */
function candidateDirs(prefix: string): string[] {
  const tmp = os.tmpdir();
  let names: string[];
  try {
    names = readdirSync(tmp);
  } catch {
    return [];
  }
  const uid = process.geteuid?.();
  const dirs: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const full = join(tmp, name);
    try {
      const st = lstatSync(full);
      if (st.isDirectory() && st.uid === uid) dirs.push(full);
    } catch {
      // gone meanwhile
    }
  }
  return dirs;
}

/**
 * Removes every case dir of this harness process, synchronously: for exit paths (Ctrl-C) where a case's
 * own cleanup cannot run, and where a dir being created in the thread pool was not yet registered. By
 * name and uid: this process is alive, so no other live process has its pid.
 */
export function sweepCaseDirs(): void {
  for (const dir of candidateDirs(`${CASE_DIR_PREFIX}-${process.pid}-`)) {
    const failure = removeTreeSync(dir);
    if (failure !== undefined) reportUnremovable(dir, failure);
  }
}

/**
 * Removes the case dirs (and payload dirs) of runs whose process is gone, judged by each dir's owner
 * file (`ownerGone`), never by its name. Returns the dirs it removed. Never throws.
 */
export function sweepStaleCaseDirs(): string[] {
  const removed: string[] = [];
  for (const dir of candidateDirs(`${CASE_DIR_PREFIX}-`)) {
    const owner = readOwner(dir);
    if (!owner || !ownerGone(owner)) continue;
    const failure = removeTreeSync(dir);
    if (failure === undefined) removed.push(dir);
    else reportUnremovable(dir, failure);
  }
  return removed;
}

/** Removes path if it is a socket (a stray bind of a broken server), and nothing else. */
export async function removeSocketFile(path: string): Promise<void> {
  try {
    if ((await lstat(path)).isSocket()) await unlink(path);
  } catch {
    // already gone
  }
}
